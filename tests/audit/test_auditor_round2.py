"""The auditor's second round: a batch's decision line that cannot be read keeps
its place in the pairing, a file that is not a log is refused in one line, a
decisions file that ends early is counted as such, and the parser's words of a
line that is not JSON are said in plain words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from followup.engine import load_policy
from followup.engine._log import append_decision

from .conftest import Run

#: rows 3 and 7 are invalid (banking is no industry of the demo policy)
FAILED = (3, 7)


def _cohort(path: Path, n: int = 20) -> Path:
    lines = ["applicant_id,interview_at,industry,status_inquiries_sent"]
    for i in range(1, n + 1):
        industry = "banking" if i in FAILED else ("finance", "retail")[i % 2]
        lines.append(f"A{i},2026-03-{2 + i % 5:02d}T10:00,{industry},0")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture
def small(run: Run, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 20-row CSV (rows 3 and 7 invalid) batched with demo 1.0.0: (input,
    decisions, errors)."""
    cohort = _cohort(tmp_path / "small.csv")
    out, errors = tmp_path / "sd.jsonl", tmp_path / "se.jsonl"
    run("batch", str(cohort), "-o", str(out), "--errors", str(errors), "--as-of", "2026-01-12",
        "--policy", "demo", "--policy-version", "1.0.0", "--workers", "1", "--quiet",
        code=1)  # fmt: skip
    assert len(out.read_bytes().splitlines()) == 18
    return cohort, out, errors


def _cut(out: Path, index: int, dest: Path, keep: int = 200) -> Path:
    lines = out.read_bytes().splitlines()
    lines[index] = lines[index][:keep]
    dest.write_bytes(b"".join(line + b"\n" for line in lines))
    return dest


def _replay_json(run: Run, *args: str, code: int = 1) -> dict[str, object]:
    return json.loads(run("replay", *args, "--format", "json", code=code).stdout)  # type: ignore[no-any-return]


# -------------------------------------------- 1. an unreadable line keeps its place


@pytest.mark.parametrize("with_errors", [True, False])
def test_an_unreadable_line_just_after_a_failed_row_keeps_its_place(
    run: Run, small: tuple[Path, Path, Path], tmp_path: Path, with_errors: bool
) -> None:
    cohort, out, errors = small
    cut = _cut(out, 2, tmp_path / "t3.jsonl")  # line 3: row 4's (row 3 failed in the batch)
    extra = ("--errors", str(errors)) if with_errors else ()
    data = _replay_json(run, str(cut), "--input", str(cohort), *extra)
    results = data["results"]
    assert isinstance(results, list)
    third = next(r for r in results if r["line"] == 3)
    assert (third["row"], third["status"]) == (4, "not-replayed")
    assert third["error"].startswith("line 3 is not JSON: at column ")
    assert [r["row"] for r in results if r["status"] == "no-decision"] == list(FAILED)
    assert (data["replayed"], data["same"], data["different"]) == (18, 17, 1)
    text = run("replay", str(cut), "--input", str(cohort), *extra, code=1).stdout
    assert "do not line up" not in text
    assert text.endswith(
        "17 same, 1 different (1 of them could not be replayed); 2 rows of the input "
        "failed in the batch, as they fail now (no decision to compare)\n"
    )


def test_an_unreadable_line_of_a_row_decided_takes_its_place(
    run: Run, small: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cohort, out, errors = small
    cut = _cut(out, 1, tmp_path / "t2.jsonl")  # line 2: row 2's
    data = _replay_json(run, str(cut), "--input", str(cohort), "--errors", str(errors))
    second = next(r for r in data["results"] if r["line"] == 2)  # type: ignore[attr-defined]
    assert (second["row"], second["status"]) == (2, "not-replayed")
    assert (data["same"], data["different"]) == (17, 1)


# ---------------------------------------------------- 2. a file that is not a log


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            "applicant_id,interview_at,industry\n" + "A1,2026-03-02T10:00,finance\n" * 2000,
            "its first line is CSV (a header such as applicant_id,interview_at,...); to "
            "replay a batch give its decisions and --input {}",
        ),
        (
            "applicant_id: A-7\ninterview_at: 2026-03-02T10:00\n",
            "its first line is YAML (applicant_id: A-7); facts are explained with "
            "followup explain {}",
        ),
        ("hello\nworld\n", "its first line is text, not JSON (hello)"),
        (
            '{"applicant_id": "A1", "industry": "finance"}\n' * 3,
            'its first line is a JSON object of facts (applicant "A1"); to replay a batch '
            "give its decisions and --input {}",
        ),
        ("[1, 2]\n", "its first line is a JSON list, not an object"),
    ],
)
def test_a_file_that_is_not_a_log_is_refused_in_one_line(
    run: Run, tmp_path: Path, content: str, said: str
) -> None:
    path = tmp_path / "not-a-log.txt"
    path.write_text(content, "utf-8")
    result = run("replay", str(path), code=2)
    assert result.stdout == ""
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: {path} is not a decision log: {said.format(path)}")
    assert len(result.stderr.splitlines()) <= 4  # usage, hint, blank, the error


def _log(policies: Path, log: Path, n: int) -> list[bytes]:
    policy = load_policy("demo", "1.0.0", policies_dir=[policies])
    for i in range(n):
        facts = {"applicant_id": f"A-{i}", "interview_at": "2026-03-02T10:00", "industry": "finance",
                 "status_inquiries_sent": 0, "as_of": f"2026-03-{8 + i:02d}"}  # fmt: skip
        append_decision(log, facts, policy, policy.evaluate(facts))
    return log.read_bytes().splitlines()


def test_a_log_damaged_at_its_start_or_later_keeps_the_per_line_reports(
    run: Run, policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 4)
    for index in (0, 2):
        damaged = list(lines)
        damaged[index] = damaged[index][:150]
        log.write_bytes(b"".join(line + b"\n" for line in damaged))
        text = run("replay", str(log), code=1).stdout
        assert f"  line {index + 1}: cannot be replayed: line {index + 1} is not JSON" in text
        assert text.endswith("3 same, 1 different (1 of them could not be replayed)\n")


# ------------------------------------------------------ 3. counts of a batch replay


def test_a_decisions_file_that_ends_early_is_counted_as_such(
    run: Run, small: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cohort, out, errors = small
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(line + b"\n" for line in out.read_bytes().splitlines()[:15]))
    for extra in ((), ("--errors", str(errors))):
        text = run("replay", str(cut), "--input", str(cohort), *extra, code=1).stdout
        assert text.startswith(f"Replayed 15 decisions from {cut}, rows from {cohort}\n")
        assert text.endswith(
            "15 same, 0 different; 3 rows of the input have no decision line after line 15: "
            "the decisions file ends early (or rows were added to the input); 2 rows of the "
            "input failed in the batch, as they fail now (no decision to compare)\n"
        )
    data = _replay_json(run, str(cut), "--input", str(cohort))
    assert (data["replayed"], data["same"], data["different"], data["no_line"]) == (15, 15, 0, 3)
    assert data["no_decision"] == 2


def test_without_errors_a_row_that_failed_in_the_batch_is_named(
    run: Run, small: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cohort, out, errors = small
    fixed = tmp_path / "fixed.csv"  # row 3 corrected since the batch ran
    fixed.write_text(re.sub(r"(?m)^(A3,.*),banking,", r"\1,finance,", cohort.read_text()))
    text = run("replay", str(out), "--input", str(fixed), code=1).stdout
    assert (
        f"line 3 is the decision of applicant A4, but row 3 of {fixed} is applicant A3: the "
        "rows do not line up (a line removed or added, or not the batch's input); A4 is the "
        "next row's applicant, so row 3 may have failed in the batch: give --errors ERRORS"
    ) in text
    given = run("replay", str(out), "--input", str(fixed), "--errors", str(errors), code=1)
    assert "do not line up" not in given.stdout and "--errors ERRORS" not in given.stdout


# ----------------------------------------------------------- 4. the parser's words


_PYTHON = re.compile(r"\(char \d+\)|line 1 column|Unterminated|Invalid control|Expecting")


def test_a_line_that_is_not_json_is_said_in_plain_words(
    run: Run, policies: Path, tmp_path: Path, small: tuple[Path, Path, Path]
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 4)
    cut = tmp_path / "trunc.jsonl"
    cut.write_bytes(b"".join(x + b"\n" for x in [*lines[:2], lines[2][:300], lines[3]]))
    control = tmp_path / "ctrl.jsonl"
    opened = lines[2].index(b'"', 290)  # a control character inside text
    bad = lines[2][: opened + 3] + b"\x01" + lines[2][opened + 3 :]
    control.write_bytes(b"".join(x + b"\n" for x in [*lines[:2], bad, lines[3]]))
    replayed = run("replay", str(cut), code=1).stdout
    assert re.search(
        r"line 3 is not JSON: at column \d+, a quote opens text that is never closed; "
        r"it looks cut short\n",
        replayed,
    )
    explained = run("explain", str(cut), "--line", "3", code=2).stderr
    assert re.search(r"line 3 is not JSON: at column \d+, a quote opens text", explained)
    held = run("replay", str(control), code=1).stdout
    assert f"line 3 is not JSON: at column {opened + 4}, text holds a control character" in held
    cohort, out, _ = small
    batch = _cut(out, 1, tmp_path / "t2.jsonl")
    batched = run("replay", str(batch), "--input", str(cohort), code=1).stdout
    assert "line 2 is not JSON: at column " in batched
    for said in (replayed, explained, held, batched):
        assert not _PYTHON.search(said), said


def test_brackets_nested_too_deeply_are_said_not_shown_as_a_traceback(
    run: Run, tmp_path: Path
) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n", "utf-8")
    assert "is not a decision log" in run("replay", str(deep), code=2).stderr
    cut = tmp_path / "cut.jsonl"
    cut.write_text('{"decision_id":' + "[" * 100_000 + "\n", "utf-8")
    said = run("replay", str(cut), code=1).stdout
    assert "line 1 is not JSON that can be read: its brackets nest too deeply" in said
