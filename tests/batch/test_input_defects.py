"""Inputs that are wrong in ways a spreadsheet or a careless export makes them:
every bad row is reported, none is lost, and nothing crashes the batch."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from followup.engine.batch import InputSpec, UnreadableInput, _readers, read_chunks
from tests.batch.batch_helpers import AS_OF, cohort

HEADER = "applicant_id,interview_at,company\n"


def run(*args: str, input: bytes | None = None) -> Any:
    result = CliRunner().invoke(batch_command, ["--as-of", AS_OF, "--quiet", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def batch(
    tmp_path: Path, name: str, data: bytes, *args: str
) -> tuple[Any, list[str], list[dict[str, Any]]]:
    """Run the batch on ``data``: the result, the decided ids and the error records,
    each read as strict JSON from UTF-8 (no NaN, no lone surrogate)."""
    source = tmp_path / name
    source.write_bytes(data)
    out, errors = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    result = run(str(source), "-o", str(out), "--errors", str(errors), *args)
    ids = []
    if out.exists():
        ids = [json.loads(line)["applicant_id"] for line in out.read_text("utf-8").splitlines()]
    records = []
    if errors.exists():
        records = [strict_json(line) for line in errors.read_bytes().splitlines()]
    return result, ids, records


def _refuse(constant: str) -> Any:
    raise ValueError(f"not strict JSON: {constant}")


def strict_json(line: bytes) -> Any:
    text = line.decode("utf-8")  # strict: fails on anything that is not UTF-8
    text.encode("utf-8")
    return json.loads(text, parse_constant=_refuse)


def csv_rows(n: int) -> list[str]:
    return [f"R{i},2026-01-05,Acme{i}\n" for i in range(1, n + 1)]


def rows_of(data: bytes, chunk_size: int = 7, skip: int = 0) -> list[tuple[int, int, Any]]:
    stream = io.BytesIO(data)
    out = []
    for chunk in read_chunks(InputSpec("-", "csv", stream), chunk_size, skip):
        assert len(chunk.items) <= chunk_size
        for i, item in enumerate(chunk.items):
            out.append((chunk.first_row + i, chunk.lines[i], item))
    return out


# --- 1. a quote that is never closed ---------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unclosed_quote_costs_its_row_only(tmp_path: Path, workers: str) -> None:
    rows = csv_rows(1000)
    rows[499] = 'R500,2026-01-05,"Acme Corp\n'
    result, ids, records = batch(
        tmp_path, "c.csv", (HEADER + "".join(rows)).encode(), "--workers", workers,
        "--chunk-size", "100",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "read 1000 = decided 999 + errors 1" in result.stderr
    assert ids == [f"R{i}" for i in range(1, 1001) if i != 500]
    [record] = records
    assert (record["row"], record["line"], record["applicant_id"]) == (500, 501, "R500")
    [error] = record["errors"]
    assert error["code"] == "csv-unclosed-quote"
    assert "the quote opened at line 501 is never closed" in error["message"]
    assert "lines 502-1001 (500 lines)" in error["message"]


@pytest.mark.parametrize("at", [7, 8, 14, 20])
def test_rows_after_an_unclosed_quote_are_the_same_in_any_chunk_and_on_resume(at: int) -> None:
    rows = csv_rows(20)
    rows[at - 1] = f'R{at},2026-01-05,"Acme ""Corp"", with ""quotes""\n'
    data = (HEADER + "".join(rows)).encode()
    whole = rows_of(data, chunk_size=1000)
    assert [(row, line) for row, line, _ in whole] == [(i, i + 1) for i in range(1, 21)]
    for row, _, cells in whole:
        assert isinstance(cells, _readers.BadCsvRow) == (row == at)
        if row != at:  # read again exactly, quotes and all
            assert cells == rows[row - 1].rstrip("\n").split(",")
    for chunk_size in (1, 3, 7):
        assert [(r, n) for r, n, _ in rows_of(data, chunk_size)] == [(r, n) for r, n, _ in whole]
        for skip in (0, at - 1, at, at + 1):
            again = rows_of(data, chunk_size, skip)
            assert [(r, n) for r, n, _ in again] == [(r, n) for r, n, _ in whole[skip:]]


def test_a_quote_closed_many_lines_later_is_reported(tmp_path: Path) -> None:
    rows = csv_rows(100)
    rows[9] = 'R10,2026-01-05,"Acme Corp\n'
    rows[19] = 'R20,2026-01-05,"Acme, Inc"\n'
    result, ids, records = batch(tmp_path, "c.csv", (HEADER + "".join(rows)).encode())
    assert result.exit_code == 1
    assert ids == [f"R{i}" for i in range(1, 101) if not 10 <= i <= 20]
    [record] = records
    assert (record["line"], record["applicant_id"]) == (11, "R10")
    [error] = record["errors"]
    assert error["code"] == "csv-unclosed-quote"
    assert "closed only at line 21" in error["message"]
    assert "lines 12-21" in error["message"]


def test_a_quoted_cell_over_lines_that_are_no_rows_is_still_a_value(tmp_path: Path) -> None:
    data = HEADER + 'R1,2026-01-05,"Acme\nCorp"\nR2,2026-01-05,Globex\n'
    result, ids, records = batch(tmp_path, "c.csv", data.encode())
    assert result.exit_code == 0, records
    assert ids == ["R1", "R2"]


# --- 2. a cell over the limit --------------------------------------------------------


def test_an_oversized_cell_fails_its_row_only(tmp_path: Path) -> None:
    rows = csv_rows(10)
    rows[4] = 'R5,2026-01-05,"' + "x" * (2 << 20) + '"\n'
    result, ids, records = batch(tmp_path, "c.csv", (HEADER + "".join(rows)).encode())
    assert result.exit_code == 1, result.output
    assert "read 10 = decided 9 + errors 1" in result.stderr
    assert ids == [f"R{i}" for i in range(1, 11) if i != 5]
    [record] = records
    assert (record["row"], record["line"]) == (5, 6)
    assert record["errors"][0]["code"] == "csv-cell-too-long"
    assert "longer than 1,048,576 characters" in record["errors"][0]["message"]


def test_an_unclosed_quote_past_the_cell_limit_loses_no_rows_of_a_file(tmp_path: Path) -> None:
    rows = [f"R{i},2026-01-05,Acme {'y' * 300}\n" for i in range(1, 5001)]
    rows[99] = 'R100,2026-01-05,"Acme Corp\n'
    result, ids, records = batch(tmp_path, "c.csv", (HEADER + "".join(rows)).encode())
    assert result.exit_code == 1
    assert "read 5000 = decided 4999 + errors 1" in result.stderr
    assert ids == [f"R{i}" for i in range(1, 5001) if i != 100]
    [record] = records
    assert (record["row"], record["line"]) == (100, 101)
    assert "were read again as rows of their own" in record["errors"][0]["message"]


def test_on_a_stream_the_lines_an_unclosed_quote_took_in_are_named() -> None:
    class Stream(io.BytesIO):
        def seekable(self) -> bool:
            return False

    rows = [f"R{i},2026-01-05,Acme {'y' * 300}\n" for i in range(1, 5001)]
    rows[99] = 'R100,2026-01-05,"Acme Corp\n'
    stream = Stream((HEADER + "".join(rows)).encode())
    found = [
        (chunk.first_row + i, chunk.lines[i], item)
        for chunk in read_chunks(InputSpec("-", "csv", stream), 1000)
        for i, item in enumerate(chunk.items)
    ]
    bad = [(row, line, item) for row, line, item in found if isinstance(item, _readers.BadCsvRow)]
    [(row, line, item)] = bad
    assert (row, line) == (100, 101)
    assert item.problem.code == "csv-cell-too-long"
    last = found[row][1] - 1  # the line before the next row read
    assert f"lines 102-{last} were taken in by it" in item.problem.message
    assert found[-1][1] == 5001  # and the rest is read


def test_a_huge_jsonl_line_is_read(tmp_path: Path) -> None:
    rows = [{"applicant_id": f"J{i}", "interview_at": "2026-01-05"} for i in range(3)]
    rows[1]["company"] = "x" * (3 << 20)
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    result, ids, _ = batch(tmp_path, "c.jsonl", data)
    assert result.exit_code == 0
    assert ids == ["J0", "J1", "J2"]


# --- 3. text that is not UTF-8 --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"applicant_id,interview_at,soci\xe9t\xe9\nA1,2026-01-05,Acme\n",
            "its header (line 1) names column 3 'soci\\xe9t\\xe9'",
        ),
        (HEADER.encode("utf-16"), "starts with a UTF-16 byte order mark"),
        (HEADER.encode("utf-16-le"), "holds NUL characters"),
    ],
)
def test_a_header_that_is_not_utf8_makes_the_input_unreadable(
    tmp_path: Path, data: bytes, message: str
) -> None:
    result, ids, records = batch(tmp_path, "c.csv", data + b"A1,2026-01-05,Acme\n")
    assert result.exit_code == 2
    assert not ids and not records
    assert "the CSV input is not UTF-8 text" in result.stderr
    assert message in result.stderr


def test_a_utf16_jsonl_input_is_unreadable(tmp_path: Path) -> None:
    data = '{"applicant_id":"J1","interview_at":"2026-01-05"}\n'.encode("utf-16")
    result, ids, records = batch(tmp_path, "c.jsonl", data)
    assert result.exit_code == 2
    assert "the JSONL input is not UTF-8 text: it starts with a UTF-16 byte order mark" in (
        result.stderr
    )
    assert not ids and not records


def test_csv_cells_that_are_not_utf8_are_their_rows_errors(tmp_path: Path) -> None:
    data = (
        HEADER.encode() + b"A1,2026-01-05,soci\xe9t\xe9\n\xe9A2,2026-01-05,Acme\nA3,2026-01-05,X\n"
    )
    result, ids, records = batch(tmp_path, "c.csv", data, "--workers", "2")
    assert result.exit_code == 1
    assert ids == ["A3"]
    first, second = records
    assert first["applicant_id"] == "A1"
    assert first["errors"][0]["code"] == "invalid-utf8"
    assert first["errors"][0]["pointer"] == "/company"
    assert first["errors"][0]["value"] == "soci\\xe9t\\xe9"
    assert second["applicant_id"] == "\\xe9A2"
    assert second["errors"][0]["pointer"] == "/applicant_id"


@pytest.mark.parametrize(
    ("line", "pointer", "value"),
    [
        (b'{"applicant_id":"J1","interview_at":"2026-01-05","industry":"\\ud800"}', "/industry", "\\ud800"),
        (b'{"applicant_id":"J1","interview_at":"2026-01-05","company":"a\\udce9"}', "/company", "a\\udce9"),
        (b'{"applicant_id":"J1","interview_at":"2026-01-05","candidate_name":"\\udfff"}', "/candidate_name", "\\udfff"),
        (b'{"applicant_id":"\\udce9","interview_at":"2026-01-05"}', "/applicant_id", "\\udce9"),
        (b'{"applicant_id":"J1","interview_at":"2026-01-05","promised_materials":["\\ud800"]}', "/promised_materials/0", "\\ud800"),
    ],
)  # fmt: skip
def test_jsonl_text_with_a_lone_surrogate_is_its_rows_error(
    tmp_path: Path, line: bytes, pointer: str, value: str
) -> None:
    good = b'{"applicant_id":"J2","interview_at":"2026-01-05"}\n'
    result, ids, records = batch(tmp_path, "c.jsonl", line + b"\n" + good, "--workers", "2")
    assert result.exit_code == 1, result.output
    assert ids == ["J2"]
    [record] = records
    [error] = record["errors"]
    assert (error["code"], error["pointer"], error["value"]) == ("invalid-utf8", pointer, value)
    assert "lone surrogate" in error["message"]


# --- 4. numbers that are not finite --------------------------------------------------


def test_error_lines_are_strict_json_for_nan_and_infinity(tmp_path: Path) -> None:
    lines = [
        b'{"applicant_id":"J1","interview_at":"2026-01-05","stated_timeline_days":NaN}',
        b'{"applicant_id":"J2","interview_at":"2026-01-05","stated_timeline_days":Infinity}',
        b'{"applicant_id":"J3","interview_at":"2026-01-05","stated_timeline_days":-1e400}',
    ]
    result, ids, records = batch(tmp_path, "c.jsonl", b"\n".join(lines) + b"\n")
    assert result.exit_code == 1
    assert ids == []
    assert [r["errors"][0]["value"] for r in records] == ["NaN", "Infinity", "-Infinity"]
    assert [r["errors"][0]["code"] for r in records] == ["invalid-fact"] * 3


# --- 5. a column named twice -----------------------------------------------------------


def test_a_repeated_column_makes_the_csv_unreadable(tmp_path: Path) -> None:
    data = b"applicant_id,industry,interview_at,industry\nA1,retail,2026-01-05,finance\n"
    result, ids, records = batch(tmp_path, "c.csv", data)
    assert result.exit_code == 2
    assert "names the same fact more than once: industry (columns 2 and 4)" in result.stderr
    assert not ids and not records


def test_unnamed_trailing_columns_are_no_repeats(tmp_path: Path) -> None:
    data = b"applicant_id,interview_at,,\nA1,2026-01-05,,\n"
    result, ids, _ = batch(tmp_path, "c.csv", data)
    assert result.exit_code == 0
    assert ids == ["A1"]


def test_a_repeated_parquet_column_makes_it_unreadable(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        [pa.array(["A"]), pa.array(["2026-01-05"]), pa.array(["retail"]), pa.array(["finance"])],
        names=["applicant_id", "interview_at", "industry", "industry"],
    )
    pq.write_table(table, tmp_path / "c.parquet")
    result = run(str(tmp_path / "c.parquet"), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert "industry (columns 3 and 4)" in result.stderr


# --- 6. nothing but blank lines --------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n  \n\n", b"\xef\xbb\xbf\n"])
def test_a_csv_without_any_line_is_an_empty_cohort(tmp_path: Path, data: bytes) -> None:
    result, ids, records = batch(tmp_path, "c.csv", data)
    assert result.exit_code == 0, result.output
    assert "read 0 = decided 0 + errors 0" in result.stderr
    assert ids == [] and records == []


def test_blank_lines_before_the_header_are_skipped_and_counted(tmp_path: Path) -> None:
    data = b"\n\n" + HEADER.encode() + b"A1,2026-01-05,Acme\nA2,2026-01-05,\xff\n"
    result, ids, records = batch(tmp_path, "c.csv", data)
    assert result.exit_code == 1
    assert ids == ["A1"]
    assert [(r["row"], r["line"]) for r in records] == [(2, 5)]


def test_a_header_of_empty_names_is_still_refused(tmp_path: Path) -> None:
    result, _, _ = batch(tmp_path, "c.csv", b",,\nA1,2026-01-05,Acme\n")
    assert result.exit_code == 2
    assert "must name the facts" in result.stderr


# --- 7. whole numbers stored as floats or decimals in Parquet ------------------------


def test_parquet_whole_numbers_in_float_and_decimal_columns_are_ints(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from decimal import Decimal

    table = pa.table(
        {
            "applicant_id": ["P1", "P2", "P3", "P4"],
            "interview_at": ["2026-01-05"] * 4,
            "stated_timeline_days": pa.array([7.0, None, 7.5, 10.0], pa.float64()),
            "status_inquiries_sent": pa.array(
                [Decimal("1"), Decimal("0.00"), None, Decimal("1.50")], pa.decimal128(5, 2)
            ),
        }
    )
    pq.write_table(table, tmp_path / "c.parquet")
    out, errors = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run(str(tmp_path / "c.parquet"), "-o", str(out), "--errors", str(errors))
    assert result.exit_code == 1
    assert [json.loads(x)["applicant_id"] for x in out.read_text().splitlines()] == ["P1", "P2"]
    messages = [e["message"] for r in map(strict_json, errors.read_bytes().splitlines())
                for e in r["errors"]]  # fmt: skip
    assert messages == [
        "stated_timeline_days is 7.5; expected a whole number of at least 1 and at most 3650",
        "status_inquiries_sent is 1.5; expected a whole number of at least 0 and at most 100",
    ]


def test_jsonl_and_csv_keep_whole_number_facts_strict(tmp_path: Path) -> None:
    line = b'{"applicant_id":"J1","interview_at":"2026-01-05","stated_timeline_days":7.0}\n'
    assert batch(tmp_path, "c.jsonl", line)[0].exit_code == 1
    data = b"applicant_id,interview_at,stated_timeline_days\nA1,2026-01-05,7.0\n"
    assert batch(tmp_path, "c.csv", data)[0].exit_code == 1


# --- 8. the CSV output -----------------------------------------------------------------


def test_csv_output_has_caution_ids_and_no_next_action_when_all_is_done(
    tmp_path: Path, policy: Any
) -> None:
    rows = cohort(240)
    decisions = [policy.evaluate(r, as_of=AS_OF, trace="none") for r in rows]
    all_done = [
        i
        for i, d in enumerate(decisions)
        if d.recommendations and all(r["status"] == "done" for r in d.recommendations)
    ]
    renamed = [i for i, d in enumerate(decisions) if any(c["id"] != c["rule"] for c in d.cautions)]
    assert all_done and renamed
    source = tmp_path / "c.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out, summary = tmp_path / "out.csv", tmp_path / "summary.json"
    result = run(str(source), "-o", str(out), "--output-format", "csv", "--summary", str(summary))
    assert result.exit_code == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    for line, decision in zip(table, decisions, strict=True):
        assert line["cautions"] == ";".join(c["id"] for c in decision.cautions)
    for i in all_done:
        assert [table[i][f"next_{k}"] for k in ("action", "status", "rule")] == ["", "", ""]
        assert table[i][decisions[i].recommendations[0]["action"]] == "done"
    # the summary counts an all-done row's next action as its first one, "done":
    # exactly the rows whose next_* cells are empty (besides those without any)
    report = json.loads(summary.read_text())
    done = sum(s.get("done", 0) for s in report["next_actions"].values())
    empty = sum(1 for line in table if not line["next_action"])
    assert done == len(all_done)
    assert empty == done + report["without_recommendations"]


def test_no_bad_input_reaches_a_traceback() -> None:
    with pytest.raises(UnreadableInput):
        list(read_chunks(InputSpec("-", "csv", io.BytesIO(b"a,a,b\n1,2,3\n")), 10))


def test_an_unnamed_column_between_named_ones_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "gap.csv"
    source.write_text("applicant_id,,interview_at\nA1,x,2026-01-05\n", "utf-8")
    result = run(str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2, result.output
    assert "the CSV header (line 1) has no name for column 2; name the fact" in result.stderr


def test_a_cell_under_a_trailing_unnamed_column_is_that_row_error(tmp_path: Path) -> None:
    source = tmp_path / "trail.csv"
    source.write_text("applicant_id,interview_at,\nA1,2026-01-05,junk\nA2,2026-01-05,\n", "utf-8")
    errors = tmp_path / "e.jsonl"
    result = run(str(source), "-o", str(tmp_path / "o.jsonl"), "--errors", str(errors))
    assert result.exit_code == 1, result.output
    (line,) = [json.loads(x) for x in errors.read_text("utf-8").splitlines()]
    assert (line["row"], line["applicant_id"]) == (1, "A1")
    assert line["errors"] == [
        {
            "code": "csv-unnamed-cell",
            "pointer": "",
            "message": "this row has 'junk' in column 3, which the header does not name; "
            "name the fact in the header, or remove the cell",
            "value": "junk",
        }
    ]
    assert len((tmp_path / "o.jsonl").read_text("utf-8").splitlines()) == 1
