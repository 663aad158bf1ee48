"""The auditor's side: findings of a user-experience audit, each with its fix.

Batch decisions replayed against the batch's input, every field of a log
record checked and a chain of hashes (keyed or not) over the lines, drafts
named as such, a logged decision explained, a replay's JSON that lists what
it checked, an empty log that fails, and `diff --cohort` reporting bad rows
by file and line.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import load_policy
from followup.engine._log import append_decision, replay

from .conftest import Run

BROKEN = "the chain is broken: a line before it was removed or changed"

COHORT_CSV = """\
applicant_id,interview_at,industry,status_inquiries_sent,as_of
A1,2026-03-02T10:00,finance,0,
A2,2026-03-02T10:00,banking,0,
A3,2026-03-03T10:00,retail,1,2026-03-20
A4,2026-03-04T10:00,finance,0,
"""


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "applicant_id": f"A-{i}",
            "interview_at": f"2026-03-{2 + i % 5:02d}T10:00",
            "industry": ("finance", "retail")[i % 2],
            "status_inquiries_sent": 0,
            "as_of": f"2026-03-{8 + i % 9:02d}",
        }
        for i in range(n)
    ]


def _log(policies: Path, log: Path, n: int, key: bytes | None = None) -> list[bytes]:
    """``n`` decisions of demo 1.0.0 appended to ``log``; its lines (without newlines)."""
    policy = load_policy("demo", "1.0.0", policies_dir=[policies])
    for row in _rows(n):
        sealed = (key,) if key is not None else ()
        append_decision(log, row, policy, policy.evaluate(row), *sealed)
    return log.read_bytes().splitlines()


def _write(log: Path, lines: list[bytes]) -> None:
    log.write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def batch(run: Run, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CSV cohort of 4 rows (row 2 invalid) and what `followup batch` made of it
    with demo 1.0.0: (input, decisions, errors)."""
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(COHORT_CSV, "utf-8")
    out, errors = tmp_path / "decisions.jsonl", tmp_path / "errors.jsonl"
    args = ["--policy", "demo", "--policy-version", "1.0.0", "--as-of", "2026-03-12"]
    done = run(
        "batch", str(cohort), "-o", str(out), "--errors", str(errors), "--workers", "1",
        "--quiet", *args, code=1,
    )  # fmt: skip
    assert "read 4 = decided 3 + errors 1" in done.stderr
    return cohort, out, errors


# ------------------------------------------------ 1. batch decisions replayed


def test_batch_output_without_input_gets_one_message(
    run: Run, batch: tuple[Path, Path, Path]
) -> None:
    _, out, _ = batch
    result = run("replay", str(out), code=2)
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {out} is batch output, not a decision log: replay it with --input COHORT "
        "(the batch's input file)"
    )
    assert "different" not in result.output


def test_batch_decisions_replay_against_their_input(
    run: Run, batch: tuple[Path, Path, Path]
) -> None:
    cohort, out, errors = batch
    for extra in ((), ("--errors", str(errors))):
        text = run("replay", str(out), "--input", str(cohort), *extra).stdout
        assert text == (
            f"Replayed 3 decisions from {out}, rows from {cohort}\n"
            "3 same, 0 different; 1 row of the input failed in the batch, as it fails now "
            "(no decision to compare)\n"
        )
    data = json.loads(run("replay", str(out), "--input", str(cohort), "--format", "json").stdout)
    assert [(r["line"], r["row"], r["input_line"], r["status"]) for r in data["results"]] == [
        (1, 1, 2, "same"),
        (None, 2, 3, "no-decision"),
        (2, 3, 4, "same"),
        (3, 4, 5, "same"),
    ]
    assert data["results"][1]["no_decision"].startswith(f"{cohort}:3: invalid-fact: industry")
    assert (data["replayed"], data["same"], data["no_decision"], data["input"]) == (
        3,
        3,
        1,
        str(cohort),
    )


@pytest.mark.parametrize("trace", ["none", "fired", "full"])
def test_batch_decisions_of_every_trace_replay_byte_for_byte(
    run: Run, tmp_path: Path, trace: str
) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in _rows(6)), "utf-8")
    out = tmp_path / "d.jsonl"
    run("batch", str(cohort), "-o", str(out), "--policy", "demo", "--trace", trace,
        "--workers", "1", "--quiet")  # fmt: skip
    text = run("replay", str(out), "--input", str(cohort)).stdout
    assert text.endswith("\n6 same, 0 different\n")


def test_a_changed_batch_line_is_different(run: Run, batch: tuple[Path, Path, Path]) -> None:
    cohort, out, _ = batch
    lines = out.read_bytes().splitlines()
    assert b'"status":"overdue"' in lines[0]
    lines[0] = lines[0].replace(b'"status":"overdue"', b'"status":"due"', 1)
    lines[2] = lines[2].replace(b'"applicant_id":"A4",', b'"applicant_id": "A4",', 1)
    _write(out, lines)
    text = run("replay", str(out), "--input", str(cohort), code=1).stdout
    assert (
        f"  line 1, row 1, {cohort} line 2 (A1), made with demo@1.0.0:\n"
        "    send_thank_you status due -> overdue (rule thank-you)\n"
    ) in text
    assert (
        f"  line 3, row 4, {cohort} line 5 (A4), made with demo@1.0.0:\n"
        "    the line's bytes differ from the decision made now, though every value is the "
        "same: its spacing, key order or escapes were changed\n"
    ) in text
    assert text.endswith("1 same, 2 different; 1 row of the input failed in the batch, as it "
                         "fails now (no decision to compare)\n")  # fmt: skip


def test_a_removed_batch_line_stops_the_rows_lining_up(
    run: Run, batch: tuple[Path, Path, Path]
) -> None:
    cohort, out, _ = batch
    lines = out.read_bytes().splitlines()
    _write(out, [lines[0], lines[2]])  # A3's decision removed
    text = run("replay", str(out), "--input", str(cohort), code=1).stdout
    assert (
        f"    cannot be replayed: line 2 is the decision of applicant A4, but row 3 of {cohort} "
        "is applicant A3: the rows do not line up (a line removed or added, or not the "
        "batch's input); A4 is the next row's applicant, so row 3 may have failed in the "
        "batch: give --errors ERRORS (the batch's errors file, which names the rows that "
        "failed)\n"
    ) in text
    _write(out, [lines[1], lines[0], lines[2]])  # two lines swapped
    data = json.loads(
        run("replay", str(out), "--input", str(cohort), "--format", "json", code=1).stdout
    )
    assert [(r["line"], r["status"]) for r in data["results"]] == [
        (1, "not-replayed"),
        (2, "not-replayed"),
        (3, "not-replayed"),
    ]
    assert data["results"][2]["error"] == "the rows stopped lining up at line 1"


def test_the_errors_file_lines_rows_up(
    run: Run, batch: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cohort, out, _ = batch
    wrong = tmp_path / "wrong-errors.jsonl"
    wrong.write_text('{"row": 1, "errors": []}\n{"row": 2, "errors": []}\n', "utf-8")
    data = json.loads(
        run(
            "replay", str(out), "--input", str(cohort), "--errors", str(wrong),
            "--format", "json", code=1,
        ).stdout
    )  # fmt: skip
    first = data["results"][0]
    assert (first["row"], first["line"], first["status"]) == (1, None, "different")
    assert first["changes"][0]["kind"] == "record"
    text = run("replay", str(out), "--input", str(cohort), "--errors", str(wrong), code=1).stdout
    assert "the row failed in the batch (its errors file lists it), but is decided now" in text
    bad = tmp_path / "not-errors.jsonl"
    bad.write_text("hello\n", "utf-8")
    out2 = run("replay", str(out), "--input", str(cohort), "--errors", str(bad), code=2)
    assert f"{bad}:1: this line is not an error record of followup batch" in out2.stderr


def test_replay_refuses_csv_output_and_a_log_given_an_input(
    run: Run, batch: tuple[Path, Path, Path], policies: Path, tmp_path: Path
) -> None:
    cohort, _, _ = batch
    csv_out = tmp_path / "d.csv"
    run("batch", str(cohort), "-o", str(csv_out), "--output-format", "csv", "--policy", "demo",
        "--workers", "1", "--quiet", code=1)  # fmt: skip
    assert "does not record the policy version" in run("replay", str(csv_out), code=2).stderr
    log = tmp_path / "audit.jsonl"
    _log(policies, log, 1)
    said = run("replay", str(log), "--input", str(cohort), code=2).stderr
    assert (
        "is a decision log, which holds the facts of each decision: replay it without --input"
        in said
    )


def test_batch_replay_reads_parquet_with_the_batchs_reader(run: Run, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = _rows(5)
    source = tmp_path / "cohort.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    out = tmp_path / "d.jsonl"
    run("batch", str(source), "-o", str(out), "--policy", "demo", "--workers", "1", "--quiet")
    assert run("replay", str(out), "--input", str(source)).stdout.endswith("5 same, 0 different\n")


# ------------------------------------------------- 2. every field, the chain


def test_a_changed_top_level_as_of_is_reported(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 3)
    record = json.loads(lines[2])
    assert record["facts"]["as_of"]  # the facts' own as_of decides, not the record's
    lines[2] = lines[2].replace(
        f'"as_of":"{record["as_of"]}"'.encode(), b'"as_of":"2026-04-30T00:00:00"', 1
    )
    _write(log, lines)
    text = run("replay", str(log), code=1).stdout
    assert (
        "    the log record says as_of 2026-04-30T00:00:00, but the decision was made as of "
        f"{record['as_of']}\n"
    ) in text
    assert text.endswith("2 same, 1 different\n")


def test_every_record_field_is_checked(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 2)
    record = json.loads(lines[1])
    record["engine"]["version"] = "0.0.1"
    record["logged_at"] = "yesterday"
    record["released"] = True  # demo 1.0.0 is a draft in this folder
    lines[1] = json.dumps(record, separators=(",", ":")).encode()
    _write(log, lines)
    data = json.loads(run("replay", str(log), "--format", "json", code=1).stdout)
    found = {c["action"]: (c["old"], c["new"]) for c in data["results"][1]["changes"]}
    assert found == {
        "/engine/version": ("0.0.1", record["decision"]["engine"]["version"]),
        "/logged_at": ("yesterday", None),
        "/released": (True, False),
    }


def test_the_engine_block_is_still_not_compared_when_the_record_agrees(
    run: Run, policies: Path, tmp_path: Path
) -> None:
    """A decision made by another engine version or backend replays the same."""
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 1)
    record = json.loads(lines[0])
    record["decision"]["engine"] = {"version": "0.0.1", "backend": "durable"}
    record["engine"] = {"version": "0.0.1"}
    _write(log, [json.dumps(record, separators=(",", ":")).encode()])
    assert run("replay", str(log)).stdout.endswith("\n1 same, 0 different\n")


def test_each_line_links_to_the_one_before(policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 3)
    from followup.engine._log import GENESIS

    prevs = [json.loads(line)["prev"] for line in lines]
    assert prevs == [GENESIS, *(hashlib.sha256(line).hexdigest() for line in lines[:2])]
    assert hashlib.sha256(b"").hexdigest() == GENESIS


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        ("removed", [4]),
        ("inserted", [4, 5]),
        ("reordered", [3, 4, 5]),
        ("edited", [5]),
    ],
)
def test_a_changed_log_breaks_the_chain(
    run: Run, policies: Path, tmp_path: Path, change: str, broken: list[int]
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 6)
    if change == "removed":
        del lines[3]
    elif change == "inserted":
        lines.insert(3, lines[1])
    elif change == "reordered":
        lines[2], lines[3] = lines[3], lines[2]
    else:  # a byte that changes nothing the replay compares
        lines[3] = (
            lines[3]
            .replace(b'"logged_at":"', b'"logged_at":"2', 1)
            .replace(b'"logged_at":"22', b'"logged_at":"1', 1)
        )
    _write(log, lines)
    text = run("replay", str(log), code=1).stdout
    for line in broken:
        assert f"\n  line {line}: {BROKEN}\n" in text
    lines_word = "lines" if len(broken) > 1 else "line"
    assert f"\nChain: BROKEN at {lines_word} {', '.join(map(str, broken))} (see above)\n" in text
    assert text.endswith(f"{len(lines)} same, 0 different\n")


def test_a_removed_first_line_is_named(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 2)
    _write(log, lines[1:])
    text = run("replay", str(log), code=1).stdout
    assert (
        "  line 1: the chain is broken: it is the first line, but it links to a line before "
        "it, which was removed\n"
    ) in text


def test_an_old_log_without_a_chain_still_replays(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "old.jsonl"
    lines = _log(policies, log, 3)
    old = []
    for line in lines:
        record = json.loads(line)
        del record["prev"], record["released"]
        old.append(json.dumps(record, separators=(",", ":")).encode())
    _write(log, old)
    text = run("replay", str(log)).stdout
    assert text == (
        f"Replayed 3 decisions from {log}\n"
        "Chain: none: the lines carry no link (prev), as logs written before followup kept "
        "one, so a removed or changed line cannot be detected\n"
        "3 same, 0 different\n"
    )
    # appending with this followup goes on from the old lines
    _log(policies, log, 1)
    text = run("replay", str(log)).stdout
    assert "Chain: whole over 1 line (3 earlier ones, written before followup kept a chain" in text


def test_a_key_seals_each_line(
    run: Run, policies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 3, key=b"s3cret")
    assert all(json.loads(line)["mac"] for line in lines)
    monkeypatch.setenv("FOLLOWUP_LOG_KEY", "s3cret")
    assert "each sealed with FOLLOWUP_LOG_KEY (HMAC-SHA256)" in run("replay", str(log)).stdout
    # the last line changed: no line after it to break, but its seal does not match
    lines[2] = lines[2].replace(b'"logged_at":"2', b'"logged_at":"1', 1)
    _write(log, lines)
    text = run("replay", str(log), code=1).stdout
    assert (
        "  line 3: its seal (mac) does not match: the line was changed after it was written" in text
    )
    monkeypatch.setenv("FOLLOWUP_LOG_KEY", "wrong")
    assert "Chain: BROKEN at lines 1, 2, 3" in run("replay", str(log), code=1).stdout
    monkeypatch.delenv("FOLLOWUP_LOG_KEY")
    text = run("replay", str(log)).stdout
    assert "3 lines carry a seal that was not checked: set FOLLOWUP_LOG_KEY" in text


def test_the_cli_seals_with_the_key_in_the_environment(
    run: Run, facts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOLLOWUP_LOG_KEY", "s3cret")
    log = tmp_path / "audit.jsonl"
    run("evaluate", str(facts), "--policy", "demo", "--as-of", "2026-03-05", "--log", str(log))
    run("evaluate", str(facts), "--policy", "demo", "--as-of", "2026-03-06", "--log", str(log))
    chains = {key: replay(log, key=key).chain for key in (None, b"s3cret", b"other")}
    assert all(chain is not None for chain in chains.values())
    assert [(c.sealed, c.keyed, c.broken) for c in chains.values() if c is not None] == [
        (2, False, []),
        (2, True, []),
        (2, True, [1, 2]),
    ]


def test_writers_at_the_same_time_keep_the_chain_whole(policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    policy = load_policy("demo", "1.0.0", policies_dir=[policies])
    rows = _rows(8)
    made = [(row, policy.evaluate(row)) for row in rows]

    def write() -> None:
        for row, decision in made:
            append_decision(log, row, policy, decision)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcome = replay(log, policies_dir=[policies])
    assert len(outcome.results) == 32
    assert outcome.chain is not None and outcome.chain.broken == [] and outcome.ok


# ------------------------------------------------------------- 3. drafts


def test_a_drafts_decision_is_logged_as_such(
    run: Run, facts: Path, tmp_path: Path, policies: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    said = run("evaluate", str(facts), "--policy", "demo", "--log", str(log))
    assert said.stderr == (
        "note: demo 1.0.0 is a draft (not released); the logged decision replays only while "
        "the draft stays unchanged: release it with "
        f"`followup --policies-dir {policies} release demo 1.0.0` before logging\n"
    )
    assert json.loads(log.read_bytes().splitlines()[0])["released"] is False
    run("release", "demo", "1.0.0")
    said = run("evaluate", str(facts), "--policy", "demo", "--log", str(log))
    assert said.stderr == ""
    assert json.loads(log.read_bytes().splitlines()[1])["released"] is True


def test_replay_says_a_changed_draft_was_a_draft(
    run: Run, facts: Path, policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    run("evaluate", str(facts), "--policy", "demo", "--as-of", "2026-03-05", "--log", str(log))
    draft = policies / "demo" / "1.0.0.yaml"
    draft.write_text(draft.read_text("utf-8").replace("    value: 7\n", "    value: 10\n"), "utf-8")
    text = run("replay", str(log), code=1).stdout
    assert (
        "The decision was made with a draft of demo@1.0.0 (not released), and a draft changes "
        "while it is edited: only the draft's file as it was then can replay it"
    ) in text


# ------------------------------------------------- 4. explaining a logged decision


def test_explain_a_logged_line_as_explain_facts_would(
    run: Run, facts: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    for day in ("05", "09"):
        run("evaluate", str(facts), "--policy", "demo", "--as-of", f"2026-03-{day}",
            "--log", str(log))  # fmt: skip
    direct = run("explain", str(facts), "--policy", "demo", "--as-of", "2026-03-09",
                 "--mode", "full").stdout  # fmt: skip
    record = json.loads(log.read_bytes().splitlines()[1])
    header = (
        f"Logged decision {record['decision_id']} (line 2 of {log}, logged {record['logged_at']})\n"
    )
    assert run("explain", str(log), "--line", "2", "--mode", "full").stdout == header + direct
    by_id = run("explain", str(log), "--id", record["decision_id"], "--mode", "full").stdout
    assert by_id == header + direct
    as_json = run("explain", str(log), "--line", "2", "--format", "json").stdout
    assert (
        as_json
        == run(
            "explain", str(facts), "--policy", "demo", "--as-of", "2026-03-09", "--format", "json"
        ).stdout
    )
    why = run("why-not", "status-inquiry", str(log), "--line", "2").stdout
    assert (
        why
        == run(
            "why-not", "status-inquiry", str(facts), "--policy", "demo", "--as-of", "2026-03-09"
        ).stdout
    )


def test_explain_a_log_without_line_says_how(run: Run, facts: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    for day in ("05", "09"):
        run("evaluate", str(facts), "--policy", "demo", "--as-of", f"2026-03-{day}",
            "--log", str(log))  # fmt: skip
    said = run("explain", str(log), code=2).stderr
    assert said.strip().splitlines()[-1] == (
        f"Error: {log} is a decision log, not a facts file: name one of its decisions with "
        f"--line N or --id DECISION_ID, e.g. followup explain {log} --line 1"
    )
    assert "YAML" not in said and "unknown-fact" not in said
    said = run("why-not", "status-inquiry", str(log), code=2).stderr
    assert f"e.g. followup why-not status-inquiry {log} --line 1" in said
    assert (
        "has no decision at line 9; its decisions are on lines 1 to 2"
        in run("explain", str(log), "--line", "9", code=2).stderr
    )
    assert (
        "cannot be given with --line"
        in run("explain", str(log), "--line", "1", "--as-of", "2026-03-01", code=2).stderr
    )
    assert "is not one" in run("explain", str(facts), "--line", "1", code=2).stderr


def test_explain_a_logged_line_refuses_a_changed_policy(
    run: Run, facts: Path, policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    run("evaluate", str(facts), "--policy", "demo", "--as-of", "2026-03-05", "--log", str(log))
    lines = log.read_bytes().splitlines()
    shutil.copy(policies / "demo" / "1.0.0.yaml", tmp_path / "saved.yaml")
    draft = policies / "demo" / "1.0.0.yaml"
    draft.write_text(draft.read_text("utf-8") + "# edited\n", "utf-8")
    said = run("explain", str(log), "--line", "1", code=1).stderr
    assert said.startswith(
        f"Error: cannot explain the decision at line 1 of {log}: policy demo@1.0.0"
    )
    assert "has sha256" in said and "a draft changes" in said
    # the policy restored, but the logged decision edited: it is not explained
    shutil.copy(tmp_path / "saved.yaml", draft)
    _write(log, [lines[0].replace(b'"status":"overdue"', b'"status":"due"', 1)])
    said = run("explain", str(log), "--line", "1", code=1).stderr
    assert "does not come out as it was logged (send_thank_you status due -> overdue" in said


# ------------------------------------------------------ 5. the replay's record


def test_replay_json_lists_every_decision_checked(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = _log(policies, log, 3)
    ids = [json.loads(line)["decision_id"] for line in lines]
    data = json.loads(run("replay", str(log), "--format", "json").stdout)
    assert [(r["decision_id"], r["line"], r["status"]) for r in data["results"]] == [
        (ids[0], 1, "same"),
        (ids[1], 2, "same"),
        (ids[2], 3, "same"),
    ]
    assert data["chain"] == {
        "linked": 3,
        "unlinked": 0,
        "sealed": 0,
        "seals_checked": False,
        "broken": [],
    }


# ----------------------------------------------------------- 6. an empty log


@pytest.mark.parametrize(
    ("content", "why"), [(b"", "(it is empty)"), (b"\n  \n\n", "(only blank lines)")]
)
def test_a_log_without_decisions_fails(run: Run, tmp_path: Path, content: bytes, why: str) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_bytes(content)
    out = run("replay", str(log), code=1)
    assert out.stdout == (
        f"{log} holds no decisions {why}: nothing was replayed, so nothing is proven\n"
    )
    data = json.loads(run("replay", str(log), "--format", "json", code=1).stdout)
    assert (data["replayed"], data["problem"]) == (0, f"{log} holds no decisions {why}")


# ------------------------------------------------------ 7. diff --cohort


@pytest.fixture
def two_versions(run: Run, policies: Path) -> None:
    run("release", "demo", "1.0.0")
    run("new-version", "demo")
    new = policies / "demo" / "1.1.0.yaml"
    new.write_text(new.read_text("utf-8").replace("    value: 7\n", "    value: 10\n", 1), "utf-8")


def _impact(run: Run, cohort: Path, code: int) -> tuple[str, dict[str, Any]]:
    args = ("diff", "demo@1.0.0", "demo@1.1.0", "--cohort", str(cohort), "--as-of", "2026-03-12")
    text = run(*args, code=code).stdout
    return text, json.loads(run(*args, "--format", "json", code=code).stdout)["impact"]


def test_diff_cohort_reports_a_bad_jsonl_line_and_goes_on(
    run: Run, two_versions: None, tmp_path: Path
) -> None:
    cohort = tmp_path / "bad2.jsonl"
    good = [json.dumps(r) for r in _rows(3)]
    cohort.write_text(
        f'{good[0]}\n{{"applicant_id": "B", industry: "finance"}}\n\n{good[1]}\n[1, 2]\n{good[2]}\n',
        "utf-8",
    )
    text, impact = _impact(run, cohort, 1)
    assert "Error" not in text and "Expecting" not in text and "char 21" not in text
    assert "\nImpact on the cohort (5 applicants, as of 2026-03-12" in text
    assert f"\n    {cohort}:2: invalid-json: this line is not valid JSON: " in text
    assert (
        f"\n    {cohort}:5: not-an-object: this line is a JSON list, not an object of facts" in text
    )
    assert [(e["row"], e["line"]) for e in impact["errors"]] == [(2, 2), (4, 5)]
    assert impact["total"] == 5


def test_diff_cohort_reports_a_bad_csv_row_and_invalid_facts_by_line(
    run: Run, two_versions: None, tmp_path: Path
) -> None:
    cohort = tmp_path / "bad.csv"
    cohort.write_text(
        "applicant_id,interview_at,industry\n"
        "B1,2026-03-02T10:00,finance\n"
        "B2,2026-03-02T10:00\n"
        "\n"
        "B3,2026-03-02T10:00,banking\n"
        "B4,2026-03-03T10:00,retail\n",
        "utf-8",
    )
    text, impact = _impact(run, cohort, 1)
    assert (
        "  could not be evaluated:\n"
        f"    {cohort}:3: csv-cell-count: this row has 2 cells but the header names 3 columns;"
    ) in text
    assert (
        f"\n    {cohort}:5: invalid-fact: industry is 'banking'; expected one of tech_startup,"
    ) in text
    assert text.rstrip("\n").split("\n    ")[-1].endswith("[B3]") or "other [B3]" in text
    assert "BAD" not in text and "<input>" not in text
    assert [(e["applicant"], e["row"], e["line"]) for e in impact["errors"]] == [
        ("row 2", 2, 3),
        ("B3", 3, 5),
    ]
    assert impact["total"] == 4


def test_diff_cohort_that_cannot_be_read_is_a_usage_error(
    run: Run, two_versions: None, tmp_path: Path
) -> None:
    args = ("diff", "demo@1.0.0", "demo@1.1.0", "--cohort")
    assert "cannot read" in run(*args, str(tmp_path / "missing.csv"), code=2).stderr
    listed = tmp_path / "list.json"
    listed.write_text('[{"applicant_id": "C1", "interview_at": "2026-03-02T10:00"}, 3]', "utf-8")
    text = run(*args, str(listed), code=1).stdout
    assert f"    {listed}: row 2: not-an-object: item 2 is a number" in text
    broken = tmp_path / "broken.json"
    broken.write_text('[{"applicant_id": "C1",}]', "utf-8")
    said = run(*args, str(broken), code=2).stderr
    assert (
        f"{broken}:1:24: json-syntax: the JSON cannot be read: a name is not in double quotes"
        in said
    )


def test_help_of_the_auditors_commands_has_examples() -> None:
    for name in ("explain", "why-not", "diff", "replay"):
        text = CliRunner().invoke(main, [name, "--help"]).output
        assert "Examples:" in text, name
        assert f"\n    followup {name} " in text, name
