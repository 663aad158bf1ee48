"""What a user-experience audit of `followup batch` found programme operators meet.

1. Excel's CSV: `;` (or tabs) between cells, header names in another case or
   with spaces: told once, before any row, not once a row.
2. JSON that is not JSONL (one array), CSV read as JSONL, and the per-row
   `invalid-json` message in plain words.
3. A run without --resume never throws away an interrupted run's work; --restart.
4. --policy NAME@VERSION with another --policy-version.
5. A refused resume shows what differs, with its values.
6. `batch --help`: exit status 130 and examples.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from followup.engine.batch import (
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    CheckpointMismatch,
    InputSpec,
    PolicyRef,
    Progress,
    UnreadableInput,
    detect_format,
    run_batch,
)
from followup.engine.batch._worker import RowError, decode_row
from tests.batch.batch_helpers import AS_OF, cohort, gen_cohort, write_broken_cohort
from tests.batch.test_resume import _start_and_stop

ROWS = 120


def run(*args: str, input: bytes | None = None) -> Any:
    return CliRunner().invoke(batch_command, ["--as-of", AS_OF, "--quiet", *args], input=input)


@pytest.fixture(scope="module")
def comma_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    gen_cohort.write(iter(cohort(ROWS, seed=11)), str(path))
    return path


@pytest.fixture(scope="module")
def reference(comma_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The decisions for the comma-separated cohort."""
    out = tmp_path_factory.mktemp("reference") / "out.jsonl"
    result = run(str(comma_csv), "-o", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def _resaved(source: Path, target: Path, delimiter: str, header: list[str] | None = None) -> Path:
    """``source`` (CSV) written again with ``delimiter`` between cells (as Excel
    writes it: cells holding the delimiter quoted), its header replaced by ``header``."""
    rows = list(csv.reader(io.StringIO(source.read_text("utf-8"), newline="")))
    if header is not None:
        rows[0] = header
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return target


def _header(source: Path) -> list[str]:
    return source.read_text("utf-8").splitlines()[0].split(",")


def _only(message: str) -> str:
    """The one error line of a usage error (exit 2)."""
    lines = [line for line in message.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, message
    return lines[0][len("Error: ") :]


# --- 1. Excel's CSV ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "delimiter", "option"),
    [
        ("excel.csv", ";", ()),  # European Excel
        ("tabs.csv", "\t", ()),
        ("tabs.tsv", "\t", ()),
        ("pipes.csv", "|", ()),
        ("excel2.csv", ";", ("--csv-delimiter", ";")),
        ("tabs2.txt", "\t", ("--input-format", "csv", "--csv-delimiter", "tab")),
        ("pipes2.csv", "|", ("--csv-delimiter", "|")),
    ],
)
def test_a_csv_with_another_delimiter_gives_the_same_decisions(
    name: str,
    delimiter: str,
    option: tuple[str, ...],
    comma_csv: Path,
    reference: bytes,
    tmp_path: Path,
) -> None:
    source = _resaved(comma_csv, tmp_path / name, delimiter)
    assert b'"references;' in source.read_bytes() or delimiter != ";"  # lists are quoted
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = run(str(source), *option, "-o", str(out), "--errors", str(errors), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == reference
    assert errors.read_bytes() == b""


def test_a_tsv_file_is_tab_separated_csv() -> None:
    assert detect_format("cohort.tsv", None) == "csv"
    assert detect_format("COHORT.TSV", None) == "csv"


def test_a_semicolon_csv_read_with_commas_is_one_message_not_one_error_a_row(
    comma_csv: Path, tmp_path: Path
) -> None:
    source = _resaved(comma_csv, tmp_path / "excel.csv", ";")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = run(str(source), "--csv-delimiter", ",", "-o", str(out), "--errors", str(errors))
    assert result.exit_code == 2
    message = _only(result.stderr)
    assert message.startswith(
        "the CSV header (line 1) names a column that is not a fact: column 1 'applicant_id;"
    )
    assert message.endswith(
        "the header looks semicolon-separated (it was read with --csv-delimiter ','): "
        "add --csv-delimiter ';'"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["excel.csv"]  # nothing written


def test_header_names_in_another_case_or_with_spaces_are_told_once_with_what_they_mean(
    comma_csv: Path, tmp_path: Path
) -> None:
    header = _header(comma_csv)
    header[0] = "APPLICANT_ID"
    header[header.index("interview_at")] = "Interview At"
    header[header.index("industry")] = "industy"
    header[header.index("company")] = "notes"
    source = _resaved(comma_csv, tmp_path / "in.csv", ",", header)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(out), "--errors", str(errors))
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        "the CSV header (line 1) names 4 columns that are not facts: "
        "column 1 'APPLICANT_ID' (did you mean 'applicant_id'? fact names are lowercase); "
        "column 3 'notes'; "
        "column 6 'Interview At' (did you mean 'interview_at'? fact names are lowercase, "
        "with _ between words); "
        "column 9 'industy' (did you mean 'industry'?); "
        "rename each to the fact it holds (`followup schema facts` lists them), or remove them"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_header_without_a_column_every_row_needs_is_told_once(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("applicant_id,stage\nA1,final\nA2,first\n")
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        "the CSV header (line 1) has no interview_at column; every row needs it: add the column"
    )


def test_a_parquet_column_that_is_not_a_fact_is_told_once(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"Applicant ID": ["A1", "A2"], "interview_at": ["2026-01-05", "2026-01-06"]}),
        source,
    )
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert _only(result.stderr).startswith(
        f"the Parquet file {source} names a column that is not a fact: column 1 "
        "'Applicant ID' (did you mean 'applicant_id'? fact names are lowercase, "
        "with _ between words)"
    )


def test_per_row_csv_problems_stay_per_row_and_name_the_delimiter(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "applicant_id;interview_at;industry\n"
        "A1;2026-01-05;banking\n"  # a value: that row's error
        "A2;2026-01-05;retail;x\n"  # a cell too many: that row's error
        "A3;2026-01-05;retail\n"
    )
    errors = tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"), "--errors", str(errors))
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["row"], r["errors"][0]["code"]) for r in records] == [
        (1, "invalid-fact"),
        (2, "csv-cell-count"),
    ]
    assert records[1]["errors"][0]["message"] == (
        "this row has 4 cells but the header names 3 columns; check for a missing or extra "
        "semicolon, or quote cells that contain semicolons"
    )


def test_the_delimiter_option_is_for_csv_only(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(cohort(1)[0]) + "\n")
    result = run(str(source), "--csv-delimiter", ";")
    assert result.exit_code == 2
    assert "--csv-delimiter is for CSV input" in _only(result.stderr)


# --- 2. JSON that is not JSONL ------------------------------------------------------------


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_array_is_one_message_with_how_to_convert_it(
    indent: int | None, tmp_path: Path
) -> None:
    source = tmp_path / "cohort.json"
    source.write_text("\n" + json.dumps(cohort(3), indent=indent) + "\n")
    errors = tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"), "--errors", str(errors))
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        f"{source} holds one JSON array ([{{...}}, {{...}}], from line 2), but followup batch "
        "reads JSONL: one JSON object {...} per line; convert it, e.g. with: "
        f"jq -c '.[]' {source} > {tmp_path / 'cohort.jsonl'}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.json"]


def test_pretty_printed_objects_are_one_message(tmp_path: Path) -> None:
    source = tmp_path / "cohort.jsonl"
    source.write_text("".join(json.dumps(r, indent=2) + "\n" for r in cohort(2)))
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        f"{source} holds JSON written over several lines (line 1 is only '{{'), but followup "
        "batch reads JSONL: one JSON object {...} per line; convert it, e.g. with: "
        f"jq -c '.' {source} > {tmp_path / 'cohort.lines.jsonl'}"
    )


def test_a_first_line_that_is_a_list_but_not_a_cohort_is_that_rows_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("[1, 2]\n" + json.dumps(cohort(1)[0]) + "\n")
    errors = tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"), "--errors", str(errors))
    assert result.exit_code == 1
    (record,) = [json.loads(x) for x in errors.read_text().splitlines()]
    assert (record["row"], record["errors"][0]["code"]) == (1, "not-an-object")


def test_csv_on_standard_input_without_the_format_says_to_add_it(comma_csv: Path) -> None:
    result = run("-", input=comma_csv.read_bytes())
    assert result.exit_code == 2
    message = _only(result.stderr)
    assert message.startswith(
        "the input on standard input is not JSONL: its first line (line 1), "
        "'applicant_id,candidate_name,"
    )
    assert message.endswith(
        "looks like a CSV header, not a JSON object; standard input is read as JSONL unless "
        "--input-format says otherwise: add --input-format csv"
    )
    assert result.stdout == ""


def test_csv_on_standard_input_with_the_format_is_read(comma_csv: Path, reference: bytes) -> None:
    result = run("-", "--input-format", "csv", "--workers", "1", input=comma_csv.read_bytes())
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == reference


@pytest.mark.parametrize(
    ("line", "message", "suggestion"),
    [
        (
            b'{"applicant_id": "A1", "interview_at": "2026-01-05",}',
            "at column 53, a comma comes after the last item, right before the closing }",
            "remove the comma after the last item",
        ),
        (
            b"{'applicant_id': 'A1'}",
            "at column 2, text is in single quotes ('...'); JSON puts names and text in "
            'double quotes ("...")',
            "write \"...\" instead of '...'",
        ),
        (
            b'{"interview_at": "2026-01-05", "phone_ok": True}',
            "at column 44, True is written as in Python; JSON writes true",
            "write true, false and null in lowercase",
        ),
        (
            b'{"interview_at": "2026-01-05", "stage": None}',
            "at column 41, None is written as in Python; JSON writes null",
            "write true, false and null in lowercase",
        ),
        (
            b'{"interview_at": "2026-01-05" "stage": "final"}',
            "at column 31, a comma is missing between two items (or a bracket opened before "
            "is not closed)",
            "add a comma between the items, or close the brackets that are open",
        ),
        (
            b'{"interview_at": "2026-01-05"} {"stage": "final"}',
            "at column 32, there is more after the object's closing }",
            "one JSON object per line: remove what follows the object, or put it on a line "
            "of its own",
        ),
        (
            b'{"interview_at": "2026-01-05", "stage": "final',
            "at column 41, a quote opens text that is never closed",
            'close the text with a double quote ("), or write a quote inside it as \\"',
        ),
    ],
)
def test_invalid_json_is_said_in_plain_words_with_its_column(
    line: bytes, message: str, suggestion: str
) -> None:
    with pytest.raises(RowError) as info:
        decode_row("jsonl", line + b"\n", None)
    (problem,) = info.value.problems
    assert problem.code == "invalid-json"
    assert problem.message == f"this line is not valid JSON: {message}"
    assert problem.suggestion == suggestion


def test_invalid_json_rows_in_a_batch_have_the_plain_words(tmp_path: Path) -> None:
    rows = cohort(3)
    source = tmp_path / "in.jsonl"
    good = [json.dumps(r) for r in rows]
    source.write_text("\n".join([good[0], good[1][:-1] + ",}", good[2]]) + "\n")
    errors = tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(tmp_path / "out.jsonl"), "--errors", str(errors))
    assert result.exit_code == 1
    (record,) = [json.loads(x) for x in errors.read_text().splitlines()]
    assert record["row"] == 2 and record["applicant_id"] == rows[1]["applicant_id"]
    assert record["errors"][0]["message"].startswith(
        "this line is not valid JSON: at column "
    ) and record["errors"][0]["message"].endswith(
        ", a comma comes after the last item, right before the closing }"
    )


# --- 3. an interrupted run is never thrown away unasked ------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort tests/batch/test_resume.py kills runs of (its _start_and_stop)."""
    return write_broken_cohort(tmp_path_factory.mktemp("resume") / "cohort.jsonl", 3000, 3, 997)


def _args(source: Path, out: Path, *extra: str) -> list[str]:
    """test_resume's command (the one _start_and_stop runs), with ``extra``."""
    return [str(source), "-o", str(out), "--errors", f"{out}.errors", "--as-of", AS_OF,
            "--quiet", "--chunk-size", "25", "--workers", "2", "--trace", "fired", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    out = tmp_path_factory.mktemp("whole") / "out.jsonl"
    result = CliRunner().invoke(batch_command, _args(source, out))
    assert result.exit_code == 1, result.output
    return out.read_bytes(), Path(f"{out}.errors").read_bytes()


def _state(out: Path) -> dict[str, tuple[bytes, int]]:
    """Each file the interrupted run kept: its bytes and modification time."""
    kept = {}
    for name in (f"{out.name}.checkpoint", f"{out.name}.part", f"{out.name}.ids",
                 f"{out.name}.errors.part"):  # fmt: skip
        path = out.parent / name
        kept[name] = (path.read_bytes(), path.stat().st_mtime_ns)
    return kept


def test_a_killed_run_is_not_started_over_without_resume_or_restart(
    source: Path, uninterrupted: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    _start_and_stop(source, out, signal.SIGKILL)
    done = json.loads(Path(f"{out}.checkpoint").read_text())["rows"]
    assert 300 <= done < 3000
    kept = _state(out)

    result = CliRunner().invoke(batch_command, _args(source, out))
    assert result.exit_code == 2
    message = _only(result.stderr)
    assert message.startswith(f"{out} has an interrupted run ({done:,} rows done, started 20")
    assert message.endswith(
        f"): add --resume to go on from row {done + 1:,}, or --restart to start over"
    )
    assert _state(out) == kept  # untouched
    assert not out.exists()

    result = CliRunner().invoke(batch_command, _args(source, out, "--resume", "--restart"))
    assert result.exit_code == 2
    assert _only(result.stderr).startswith("--resume and --restart cannot go together")
    assert _state(out) == kept

    result = CliRunner().invoke(batch_command, _args(source, out, "--restart"))
    assert result.exit_code == 1, result.output
    assert "read 3000 = decided 2997 + errors 3" in result.stderr
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == uninterrupted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.errors"]


class _InterruptAfter:
    def __init__(self, rows: int) -> None:
        self.rows = rows

    def __call__(self, progress: Progress) -> None:
        if progress.rows >= self.rows:
            raise KeyboardInterrupt


def _interrupted(folder: Path, errors: str | None = "errors", stop_at: int = 60) -> BatchJob:
    folder.mkdir(exist_ok=True)
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cohort(200, seed=4)))
    job = BatchJob(PolicyRef(), "none", AS_OF, "jsonl")
    with pytest.raises(BatchInterrupted):
        run_batch(
            InputSpec(str(folder / "in.jsonl"), "jsonl"), job, output=str(folder / "out"),
            errors=str(folder / errors) if errors else None, progress=_InterruptAfter(stop_at),
            options=BatchOptions(chunk_size=20, checkpoint_seconds=0),
        )  # fmt: skip
    return job


def test_an_interrupted_run_is_refused_in_the_api_too_and_restart_discards_all_it_kept(
    tmp_path: Path,
) -> None:
    job = _interrupted(tmp_path)
    spec = InputSpec(str(tmp_path / "in.jsonl"), "jsonl")
    with pytest.raises(CheckpointMismatch, match="has an interrupted run \\(60 rows done"):
        run_batch(spec, job, output=str(tmp_path / "out"), errors=str(tmp_path / "errors"))
    # a restart without the errors file the interrupted run wrote removes that one's .part too
    result = run_batch(spec, job, output=str(tmp_path / "out"), options=BatchOptions(restart=True))
    assert result.read == 200 and result.resumed_at == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_a_restart_with_another_errors_file_discards_the_interrupted_runs(
    tmp_path: Path,
) -> None:
    job = _interrupted(tmp_path)
    assert (tmp_path / "errors.part").exists()
    spec = InputSpec(str(tmp_path / "in.jsonl"), "jsonl")
    run_batch(
        spec, job, output=str(tmp_path / "out"), errors=str(tmp_path / "other-errors"),
        options=BatchOptions(restart=True),
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "other-errors", "out"]


def test_a_damaged_checkpoint_is_not_thrown_away_unasked(tmp_path: Path) -> None:
    job = _interrupted(tmp_path)
    checkpoint = tmp_path / "out.checkpoint"
    checkpoint.write_text("{")
    with pytest.raises(CheckpointMismatch) as info:
        run_batch(InputSpec(str(tmp_path / "in.jsonl"), "jsonl"), job, output=str(tmp_path / "out"))
    assert str(info.value) == (
        f"{tmp_path / 'out'} has an interrupted run, but its checkpoint {checkpoint} cannot be "
        "read (it is damaged, or was written by another version of followup): add --restart "
        "to discard it and start over"
    )
    assert checkpoint.read_text() == "{"


def test_a_checkpoint_from_before_the_start_was_recorded_says_when_it_was_saved(
    tmp_path: Path,
) -> None:
    from followup.engine.batch import _checkpoint

    job = _interrupted(tmp_path)
    checkpoint = tmp_path / "out.checkpoint"
    state = json.loads(checkpoint.read_text())
    del state["started"], state["seal"]
    state["seal"] = _checkpoint._seal(state)
    checkpoint.write_text(json.dumps(state))
    with pytest.raises(CheckpointMismatch, match="\\(60 rows done, last saved 20"):
        run_batch(InputSpec(str(tmp_path / "in.jsonl"), "jsonl"), job, output=str(tmp_path / "out"))
    resumed = run_batch(
        InputSpec(str(tmp_path / "in.jsonl"), "jsonl"), job, output=str(tmp_path / "out"),
        errors=str(tmp_path / "errors"), options=BatchOptions(resume=True),
    )  # fmt: skip
    assert resumed.resumed_at == 60 and resumed.read == 200


def test_unreadable_input_leaves_an_interrupted_run_as_it_was_even_with_restart(
    tmp_path: Path,
) -> None:
    job = _interrupted(tmp_path)
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    (tmp_path / "other.csv").write_text("APPLICANT_ID,interview_at\nA1,2026-01-05\n")
    with pytest.raises(UnreadableInput, match="APPLICANT_ID"):
        run_batch(
            InputSpec(str(tmp_path / "other.csv"), "csv"), job, output=str(tmp_path / "out"),
            options=BatchOptions(restart=True),
        )  # fmt: skip
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "other.csv"} == kept


# --- 4. two versions of the policy ---------------------------------------------------------


def test_two_versions_of_the_policy_are_a_usage_error(comma_csv: Path, tmp_path: Path) -> None:
    result = run(
        str(comma_csv), "--policy", "interview-follow-up@1.0.0", "--policy-version", "1.1.0"
    )
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        "two versions of the policy: --policy interview-follow-up@1.0.0 names version 1.0.0, "
        "--policy-version 1.1.0; give one (--policy interview-follow-up@1.1.0, or --policy "
        "interview-follow-up --policy-version 1.1.0)"
    )
    out = tmp_path / "out.jsonl"
    result = run(
        str(comma_csv), "-o", str(out), "--workers", "1",
        "--policy", "interview-follow-up@1.0.0", "--policy-version", "1.0.0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_version_of_a_policy_file_is_a_usage_error(comma_csv: Path) -> None:
    path = os.path.join("policies", "interview-follow-up", "1.0.0.yaml")
    result = run(str(comma_csv), "--policy", path, "--policy-version", "1.0.0")
    assert result.exit_code == 2
    assert "--policy-version is for a policy found by its name" in _only(result.stderr)


# --- 5. a refused resume shows what differs ------------------------------------------------


def _resume_cli(folder: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        batch_command,
        [str(folder / "in.jsonl"), "-o", str(folder / "out"), "--errors", str(folder / "errors"),
         "--quiet", "--chunk-size", "20", "--trace", "none", "--resume", *extra],
    )  # fmt: skip


def test_a_refused_resume_shows_the_as_of_of_both_runs(tmp_path: Path) -> None:
    _interrupted(tmp_path)
    result = _resume_cli(tmp_path, "--as-of", "2026-01-13")
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        f"cannot resume: the interrupted run used --as-of {AS_OF}, this one --as-of "
        "2026-01-13; to resume, give the same --as-of; or run it with --restart instead of "
        "--resume to start over"
    )
    result = _resume_cli(tmp_path)  # without --as-of: the interrupted run's
    assert result.exit_code == 0, result.output


def test_a_refused_resume_shows_every_option_that_differs(tmp_path: Path) -> None:
    _interrupted(tmp_path)
    result = _resume_cli(tmp_path, "--trace", "full", "--output-format", "csv", "--as-of", AS_OF)
    assert result.exit_code == 2
    assert _only(result.stderr) == (
        "cannot resume: the interrupted run used --trace none and --output-format jsonl, "
        "this one --trace full and --output-format csv; to resume, give the same --trace "
        "and --output-format; or run it with --restart instead of --resume to start over"
    )


def test_a_refused_resume_of_a_run_without_as_of_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cohort(100)))
    with pytest.raises(BatchInterrupted):
        run_batch(
            InputSpec(str(folder / "in.jsonl"), "jsonl"), BatchJob(PolicyRef(), "none", ""),
            output=str(folder / "out"), progress=_InterruptAfter(40),
            options=BatchOptions(chunk_size=20, checkpoint_seconds=0),
        )  # fmt: skip
    as_of = json.loads((folder / "out.checkpoint").read_text())["as_of"]
    with pytest.raises(CheckpointMismatch) as info:
        run_batch(
            InputSpec(str(folder / "in.jsonl"), "jsonl"), BatchJob(PolicyRef(), "none", AS_OF),
            output=str(folder / "out"), options=BatchOptions(resume=True, chunk_size=20),
        )  # fmt: skip
    assert str(info.value) == (
        f"cannot resume: the interrupted run used no --as-of (so the moment it started, "
        f"{as_of}), this one --as-of {AS_OF}; to resume, leave out --as-of; or run it with "
        "--restart instead of --resume to start over"
    )


# --- 6. --help -------------------------------------------------------------------------------


def test_help_lists_every_exit_status_and_examples() -> None:
    result = CliRunner().invoke(batch_command, ["--help"])
    assert result.exit_code == 0
    for line in ("0    every row decided", "1    some rows failed", "2    bad usage",
                 "130  interrupted"):  # fmt: skip
        assert line in result.output
    assert "Examples:" in result.output
    assert "--csv-delimiter ';'" in result.output and "--restart" in result.output
    assert "newest released version" in result.output
