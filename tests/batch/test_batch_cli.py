"""`followup batch` end to end: formats, errors, order, exit codes, summary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from tests.batch.batch_helpers import AS_OF, cohort, read_jsonl


def run(*args: str, input: bytes | None = None) -> Any:
    return CliRunner().invoke(batch_command, ["--as-of", AS_OF, "--quiet", *args], input=input)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return cohort(240)


def test_csv_jsonl_and_parquet_inputs_give_the_same_decisions(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path
) -> None:
    names = ["in.jsonl", "in.csv"]
    try:
        import pyarrow  # noqa: F401

        names.append("in.parquet")
    except ImportError:
        pass
    outputs = []
    for name in names:
        source = write_cohort(rows, name)
        out = tmp_path / f"{name}.out.jsonl"
        result = run(str(source), "-o", str(out), "--workers", "1")
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert len(outputs[0].splitlines()) == len(rows)
    assert all(o == outputs[0] for o in outputs)
    ids = [d["applicant_id"] for d in read_jsonl(tmp_path / "in.jsonl.out.jsonl")]
    assert ids == [r["applicant_id"] for r in rows]


def test_decisions_equal_evaluating_each_row_alone(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path, policy: Any
) -> None:
    source = write_cohort(rows[:40], "in.jsonl")
    out = tmp_path / "out.jsonl"
    assert run(str(source), "-o", str(out), "--trace", "full").exit_code == 0
    expected = [policy.evaluate(r, as_of=AS_OF, trace="full").to_json() for r in rows[:40]]
    assert out.read_text(encoding="utf-8").splitlines() == expected


def test_output_is_byte_identical_for_1_2_and_3_workers(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_cohort(rows, "in.csv")
    outputs = {}
    for workers in (1, 2, 3):
        for fmt in ("jsonl", "csv"):
            out = tmp_path / f"out{workers}.{fmt}"
            result = run(
                str(source),
                "-o",
                str(out),
                "--workers",
                str(workers),
                "--chunk-size",
                "17",
                "--output-format",
                fmt,
            )
            assert result.exit_code == 0, result.output
            outputs[workers, fmt] = out.read_bytes()
    for fmt in ("jsonl", "csv"):
        assert outputs[1, fmt] == outputs[2, fmt] == outputs[3, fmt]


def _bad_cohort() -> tuple[bytes, dict[int, tuple[int, str | None, set[str]]]]:
    """1,000 rows of which 17 are bad in different ways, plus two blank lines.

    Returns the JSONL bytes and, per bad row number, (line, applicant_id, codes).
    """
    good = cohort(1000, seed=11)
    bad: dict[int, Any] = {
        3: b"{this is not json",
        50: b"[1, 2, 3]",
        51: b'"just text"',
        120: {"applicant_id": "B120"},
        200: {"industry": "banking"},
        201: {"stage": "last"},
        333: {"interview_at": "yesterday"},
        400: {"timezone": "Mars/Olympus_Mons"},
        401: {"country": "XX"},
        555: {"stated_timeline_days": 0},
        600: {"status_inquiries_sent": -1},
        601: {"phone_ok": "maybe"},
        700: {"promised_materials": "references"},
        777: {"industy": "finance", "stage": "last"},
        800: {"stated_decision_by": "2026-01-05T10:00"},
        901: {"applicant_id": ""},
        999: b'{"applicant_id": "B999", "company": "\xff\xfe"}',
    }
    codes = {
        3: {"invalid-json"}, 50: {"not-an-object"}, 51: {"not-an-object"}, 999: {"invalid-utf8"},
        120: {"missing-fact"}, 777: {"unknown-fact", "invalid-fact"},
    }  # fmt: skip
    lines: list[bytes] = []
    expected: dict[int, tuple[int, str | None, set[str]]] = {}
    for row, facts in enumerate(good, 1):
        if row in (10, 500):
            lines.append(b"")  # blank lines are not rows but do count as lines
        value = bad.get(row, facts)
        if isinstance(value, dict) and row in bad:
            value = {**facts, **value}
            if row == 120:
                del value["interview_at"]
        text = value if isinstance(value, bytes) else json.dumps(value).encode()
        lines.append(text)
        if row in bad:
            aid = value.get("applicant_id") if isinstance(value, dict) else None
            if row == 999:
                aid = "B999"
            expected[row] = (len(lines), aid or None, codes.get(row, {"invalid-fact"}))
    return b"\n".join(lines) + b"\n", expected


def test_bad_rows_never_stop_the_batch_and_are_never_dropped(tmp_path: Path) -> None:
    data, expected = _bad_cohort()
    assert len(expected) == 17
    source = tmp_path / "cohort.jsonl"
    source.write_bytes(data)
    out, errors, summary = (
        tmp_path / "out.jsonl",
        tmp_path / "errors.jsonl",
        tmp_path / "summary.json",
    )
    result = run(
        str(source),
        "-o",
        str(out),
        "--errors",
        str(errors),
        "--summary",
        str(summary),
        "--workers",
        "2",
        "--trace",
        "none",
        "--chunk-size",
        "64",
    )
    assert result.exit_code == 1, result.output
    assert "read 1000 = decided 983 + errors 17" in result.stderr
    assert len(out.read_text().splitlines()) == 983
    records = read_jsonl(errors)
    assert [r["row"] for r in records] == sorted(expected)
    for record in records:
        line, aid, codes = expected[record["row"]]
        assert (record["line"], record["applicant_id"]) == (line, aid), record
        assert {e["code"] for e in record["errors"]} == codes, record
        assert all(e["message"] for e in record["errors"])
    report = json.loads(summary.read_text())
    assert (report["read"], report["decided"], report["errors"]) == (1000, 983, 17)
    assert sum(report["error_codes"].values()) == 18  # row 777 has two problems
    decided = (
        sum(sum(s.values()) for s in report["next_actions"].values())
        + report["without_recommendations"]
    )
    assert decided == 983
    assert report["rules_fired"] and report["timing"]["seconds"] >= 0


def test_without_an_errors_file_failed_rows_are_shown_on_stderr(tmp_path: Path) -> None:
    source = tmp_path / "c.jsonl"
    source.write_text(
        '{"applicant_id": "X1", "interview_at": "2026-01-05", "industry": "banking"}\n'
    )
    result = CliRunner().invoke(batch_command, [str(source), "--as-of", AS_OF])
    assert result.exit_code == 1
    assert "row 1 (line 1), applicant X1: invalid-fact: /industry:" in result.stderr
    assert result.stdout == ""


def test_max_errors_stops_early_and_says_so(tmp_path: Path) -> None:
    data, _ = _bad_cohort()
    source = tmp_path / "cohort.jsonl"
    source.write_bytes(data)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = run(
        str(source),
        "-o",
        str(out),
        "--errors",
        str(errors),
        "--max-errors",
        "3",
        "--workers",
        "2",
        "--chunk-size",
        "40",
        "--trace",
        "none",
    )
    assert result.exit_code == 1
    assert "read 51 = decided 48 + errors 3" in result.stderr
    assert "stopped after 3 errors (--max-errors) at row 51" in result.stderr
    assert len(read_jsonl(errors)) == 3 and len(out.read_text().splitlines()) == 48


def test_duplicate_applicant_ids_are_reported(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path
) -> None:
    dup = [*rows[:20], {**rows[4]}, {**rows[7]}, {**rows[4]}]
    source = write_cohort(dup, "dup.jsonl")
    summary = tmp_path / "s.json"
    result = run(
        str(source), "-o", str(tmp_path / "o.jsonl"), "--summary", str(summary), "--workers", "1"
    )
    assert result.exit_code == 0
    assert (
        f"duplicate applicant_ids: 2 (e.g. {rows[4]['applicant_id']} at rows 5, 21, 23)"
        in result.stderr
    )
    report = json.loads(summary.read_text())["duplicates"]
    assert report["applicant_ids"] == 2 and report["rows"] == 5


def test_csv_output_has_the_next_action_and_a_column_per_action(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path, policy: Any
) -> None:
    source = write_cohort(rows[:30], "in.jsonl")
    out = tmp_path / "out.csv"
    assert run(str(source), "-o", str(out), "--output-format", "csv").exit_code == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(table) == 30
    assert list(table[0])[:8] == [
        "applicant_id",
        "as_of",
        "next_action",
        "next_status",
        "next_earliest",
        "next_latest",
        "next_channel",
        "next_rule",
    ]
    for facts, line in zip(rows, table, strict=False):
        decision = policy.evaluate(facts, as_of=AS_OF, trace="none")
        recs = decision.recommendations
        nxt = next((r for r in recs if r["status"] != "done"), None)
        assert line["applicant_id"] == facts["applicant_id"]
        if nxt:
            assert (line["next_action"], line["next_status"], line["next_rule"]) == (
                nxt["action"],
                nxt["status"],
                nxt["rule"],
            )
        else:  # nothing left to do (or nothing recommended)
            assert (line["next_action"], line["next_status"], line["next_rule"]) == ("", "", "")
        cautions = [c["id"] for c in decision.to_dict()["cautions"]]
        assert line["cautions"] == ";".join(cautions)
        first: dict[str, str] = {}
        for rec in recs:
            first.setdefault(rec["action"], rec["status"])
        assert {a: s for a, s in line.items() if a in first} == first


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_injection_cells_are_neutralised(
    evil: str, rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_cohort([{**rows[0], "applicant_id": evil}], "evil.jsonl")
    out = tmp_path / "out.csv"
    assert run(str(source), "-o", str(out), "--output-format", "csv").exit_code == 0
    line = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))[1]
    assert line[0] == "'" + evil


def test_stdin_to_stdout(rows: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r) + "\n" for r in rows[:5]).encode()
    result = run("-", "--trace", "none", input=data)
    assert result.exit_code == 0
    assert [json.loads(x)["applicant_id"] for x in result.stdout.splitlines()] == [
        r["applicant_id"] for r in rows[:5]
    ]
    assert "read 5 = decided 5 + errors 0" in result.stderr


def test_a_row_as_of_wins_over_the_option(rows: list[dict[str, Any]]) -> None:
    data = (
        json.dumps({**rows[0], "as_of": "2026-02-01"})
        + "\n"
        + json.dumps({k: v for k, v in rows[1].items() if k != "as_of"})
    )
    result = run("-", "--trace", "none", input=data.encode())
    assert [json.loads(x)["as_of"][:10] for x in result.stdout.splitlines()] == [
        "2026-02-01",
        AS_OF,
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "cannot read"),
        (["cohort.txt"], "--input-format"),
        (["-", "--resume"], "--resume needs"),
        (["-", "--as-of", "soon"], "not an ISO date"),
        (["cohort.jsonl", "-o", "no/such/dir/out.jsonl"], "cannot write"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cohort.txt").write_text("{}\n")
    (tmp_path / "cohort.jsonl").write_text("{}\n")
    result = CliRunner().invoke(batch_command, ["-o", "out.jsonl", *args], input=b"")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_no_progress_bar_when_piped(
    rows: list[dict[str, Any]], write_cohort: Callable[..., Path], tmp_path: Path
) -> None:
    source = write_cohort(rows[:10], "in.jsonl")
    result = CliRunner().invoke(
        batch_command, [str(source), "-o", str(tmp_path / "o.jsonl"), "--as-of", AS_OF]
    )
    assert result.exit_code == 0
    assert result.stderr == "read 10 = decided 10 + errors 0\n"


def test_checkpoint_every_reaches_the_run(
    rows: list[dict[str, Any]],
    write_cohort: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import followup.cli.batch as cli_batch

    seen: list[float] = []
    real = cli_batch.run_batch

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["options"].checkpoint_seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_batch, "run_batch", recording)
    source = write_cohort(rows[:5], "in.jsonl")
    out = str(tmp_path / "o.jsonl")
    result = CliRunner().invoke(
        batch_command, [str(source), "-o", out, "--as-of", AS_OF, "--checkpoint-every", "0.25"]
    )
    assert result.exit_code == 0, result.output
    assert seen == [0.25]


def test_the_progress_bar_is_cleared_before_an_error_message(
    rows: list[dict[str, Any]],
    write_cohort: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import followup.cli.batch as cli_batch
    from followup.engine import FollowupError
    from followup.engine.batch import Progress

    def failing(*args: Any, progress: Any, **kwargs: Any) -> Any:
        progress(Progress(5, 0, 10, 20, 1.0, 0))
        raise FollowupError("worker process 1 died")

    monkeypatch.setattr(cli_batch, "_on_terminal", lambda stream: True)
    monkeypatch.setattr(cli_batch, "run_batch", failing)
    source = write_cohort(rows[:5], "in.jsonl")
    result = CliRunner().invoke(batch_command, [str(source), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    bar, cleared, message = result.stderr.split("\r")[1:]
    assert bar.split()[:4] == ["5", "rows", "5", "rows/s"]
    assert cleared == " " * 79
    assert message == "Error: worker process 1 died\n"
