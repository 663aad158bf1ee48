"""Edges of the CSV reader: the applicant_id of a row with a cell over the limit,
a header whose quote runs on to later lines, standard input that does not start
at the beginning of its file (or cannot be read again), and text that looks like
the reader's own end-of-input marker."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from followup.engine.batch import InputSpec, UnreadableInput, _readers, read_chunks
from tests.batch.batch_helpers import AS_OF

HEADER = "applicant_id,interview_at,company\n"
BIG = "x" * (2 << 20)  # over the 1 MiB cell limit


def rows_of(
    data: bytes | IO[bytes], chunk_size: int = 1000, skip: int = 0
) -> list[tuple[int, int, Any]]:
    """(row, line, cells) of each row read, a bad row as ("error", code, applicant_id)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    out: list[tuple[int, int, Any]] = []
    for chunk in read_chunks(InputSpec("-", "csv", stream), chunk_size, skip):
        assert len(chunk.items) <= chunk_size
        for i, item in enumerate(chunk.items):
            if isinstance(item, _readers.BadCsvRow):
                item = ("error", item.problem.code, item.applicant_id)
            out.append((chunk.first_row + i, chunk.lines[i], item))
    return out


def problems_of(data: bytes) -> list[_readers.BadCsvRow]:
    return [
        item
        for chunk in read_chunks(InputSpec("-", "csv", io.BytesIO(data)), 1000)
        for item in chunk.items
        if isinstance(item, _readers.BadCsvRow)
    ]


class Unseekable(io.BytesIO):
    """A pipe: it cannot seek."""

    def seekable(self) -> bool:
        return False


def run(*args: str, input: bytes | None = None) -> Any:
    result = CliRunner().invoke(batch_command, ["--as-of", AS_OF, "--quiet", *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def cli_process(args: list[str], stdin: Any) -> subprocess.CompletedProcess[bytes]:
    """The command in a process of its own, with ``stdin`` as its standard input."""
    return subprocess.run(
        [sys.executable, "-c", "from followup.cli.batch import batch_command; batch_command()",
         *args, "--as-of", AS_OF, "--quiet", "--workers", "1"],
        stdin=stdin, capture_output=True, timeout=120,
    )  # fmt: skip


# --- 1. the applicant_id of a row with a cell over the limit ------------------------------


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("applicant_id,interview_at,company", f"R5,2026-01-05,{BIG}", "R5"),
        ("applicant_id,interview_at,company", f'" R5 ",2026-01-05,"{BIG}"', "R5"),
        ("company,applicant_id,interview_at", f'"{BIG}",R5,2026-01-05', "R5"),
        ("interview_at,company,applicant_id", f"2026-01-05,{BIG},R5", "R5"),
        ("interview_at,company,applicant_id", f'2026-01-05,"{BIG}",R5', "R5"),
        # the quote opened before the limit is never closed on its line: the cells
        # after it are not the row's, but those before it are
        ("applicant_id,interview_at,company", f'R5,2026-01-05,"{BIG}', "R5"),
        ("interview_at,company,applicant_id", f'2026-01-05,"{BIG},R5', None),
        # the applicant_id is the cell over the limit: no id
        ("applicant_id,interview_at,company", f"{BIG},2026-01-05,Acme", None),
        ("applicant_id,interview_at,company", f"{BIG}", None),
        # no applicant_id column at all
        ("interview_at,company", f"2026-01-05,{BIG}", None),
    ],
)
@pytest.mark.parametrize("seekable", [True, False])
def test_a_cell_over_the_limit_keeps_the_rows_applicant_id(
    header: str, row: str, expected: str | None, seekable: bool
) -> None:
    names = header.split(",")
    good = [",".join({"applicant_id": f"R{i}", "interview_at": "2026-01-05"}.get(n, "Acme")
                     for n in names) for i in (4, 6)]  # fmt: skip
    data = f"{header}\n{good[0]}\n{row}\n{good[1]}\n".encode()
    stream = io.BytesIO(data) if seekable else Unseekable(data)
    found = rows_of(stream)
    assert [(r, line) for r, line, _ in found] == [(1, 2), (2, 3), (3, 4)]
    assert found[0][2] == good[0].split(",")
    assert found[2][2] == good[1].split(",")
    # standard input that cannot be read again loses the row's text with the cell
    assert found[1][2] == ("error", "csv-cell-too-long", expected if seekable else None)


def test_an_unclosed_quote_past_the_limit_keeps_the_rows_applicant_id() -> None:
    rows = [f"R{i},2026-01-05,Acme {'y' * 300}\n" for i in range(1, 5001)]
    rows[99] = 'R100,2026-01-05,"Acme Corp\n'
    found = rows_of((HEADER + "".join(rows)).encode())
    assert [row for row, _, _ in found] == list(range(1, 5001))
    assert [line for _, line, _ in found] == list(range(2, 5002))
    assert found[99][2] == ("error", "csv-cell-too-long", "R100")
    assert all(cells[0] == f"R{row}" for row, _, cells in found if row != 100)


def test_many_cells_over_the_limit_each_keep_their_applicant_id() -> None:
    rows = [
        f"R{i},2026-01-05,{BIG if i % 3 == 0 else 'Acme'}\n"
        if i % 5
        else f'R{i},2026-01-05,"Acme {"y" * (1 << 20)}\n'  # a quote never closed
        for i in range(1, 16)
    ]
    found = rows_of((HEADER + "".join(rows)).encode(), chunk_size=4)
    bad = {row: item[2] for row, _, item in found if isinstance(item, tuple)}
    assert bad == {i: f"R{i}" for i in (3, 5, 6, 9, 10, 12, 15)}
    assert [(row, line) for row, line, _ in found] == [(i, i + 1) for i in range(1, 16)]


@pytest.mark.parametrize("seekable", [True, False])
def test_a_row_over_lines_with_a_cell_over_the_limit_is_one_row(seekable: bool) -> None:
    # a quoted cell over three lines, closed, then a cell over the limit on the third
    data = (
        HEADER + f'R1,2026-01-05,a\nR2,"2026-01-05\nSuite 5\nFloor 2",{BIG}\nR3,2026-01-05,c\n'
    ).encode()
    found = rows_of(io.BytesIO(data) if seekable else Unseekable(data))
    assert [(row, line) for row, line, _ in found] == [(1, 2), (2, 3), (3, 6)]
    assert found[2][2] == ["R3", "2026-01-05", "c"]
    if seekable:
        [bad] = problems_of(data)
        assert bad.applicant_id == "R2"
        assert bad.problem.message.startswith(
            "this row, on lines 3-5, has a cell longer than 1,048,576 characters"
        )
    else:  # its lines cannot be read again: they are named as taken in
        assert found[1][2] == ("error", "csv-cell-too-long", None)


def test_a_quote_closed_where_the_cell_passes_the_limit_loses_no_rows() -> None:
    # the quote opened in row 3 is closed, by mistake, in row 7, where the cell
    # it makes passes the limit: rows 4-7 are read again as rows
    rows = [f"R{i},2026-01-05,Acme\n" for i in range(1, 10)]
    rows[2] = 'R3,2026-01-05,"Acme\n'
    rows[6] = f'R7,2026-01-05,Acme" {BIG}\n'
    found = rows_of((HEADER + "".join(rows)).encode())
    assert [(row, line) for row, line, _ in found] == [(i, i + 1) for i in range(1, 10)]
    bad = {row: item for row, _, item in found if isinstance(item, tuple)}
    assert bad == {
        3: ("error", "csv-cell-too-long", "R3"),
        7: ("error", "csv-cell-too-long", "R7"),
    }


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 1000])
def test_rows_after_cells_over_the_limit_are_the_same_in_any_chunk_and_on_resume(
    chunk_size: int,
) -> None:
    rows = [f"R{i},2026-01-05,{BIG if i in (2, 3, 7) else 'Acme'}\n" for i in range(1, 10)]
    rows[4] = f'R5,2026-01-05,"Acme {"y" * 300}\n'  # a quote never closed, taking in...
    rows[5:5] = [f"R5.{i},2026-01-05,Acme {'y' * 300}\n" for i in range(1, 5001)]
    data = (HEADER + "".join(rows)).encode()
    whole = rows_of(data)
    assert [(row, line) for row, line, _ in whole] == [(i, i + 1) for i in range(1, 5010)]
    bad = {row: item[2] for row, _, item in whole if isinstance(item, tuple)}
    assert bad == {2: "R2", 3: "R3", 5: "R5", 5007: "R7"}
    for skip in (0, 1, 2, 3, 4, 5, 6, 5006, 5007, 5008):
        assert rows_of(data, chunk_size, skip) == whole[skip:]


class Counting(io.BytesIO):
    """A stream that counts the bytes read from it."""

    done = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.done += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        data = super().read1(size)
        self.done += len(data)
        return data


def test_rows_read_again_cost_at_most_one_more_reading_of_the_input() -> None:
    rows = [f"R{i},2026-01-05,{BIG if i % 4 == 0 else 'Acme'}\n" for i in range(1, 81)]
    data = (HEADER + "".join(rows)).encode()
    stream = Counting(data)
    found = rows_of(stream)
    assert [row for row, _, _ in found] == list(range(1, 81))
    assert [item[2] for row, _, item in found if row % 4 == 0] == [f"R{i}" for i in range(4, 81, 4)]
    # each row read again from where the last one was (not from the start): 40 MiB
    # read twice, not 20 times over on average
    assert stream.done < 2.2 * len(data)


def test_the_error_record_of_a_cell_over_the_limit_names_the_applicant(tmp_path: Path) -> None:
    rows = [f"R{i},2026-01-05,Acme\n" for i in range(1, 11)]
    rows[4] = f'R5,2026-01-05,"{BIG}"\n'
    source, out, errors = tmp_path / "c.csv", tmp_path / "o.jsonl", tmp_path / "e.jsonl"
    source.write_text(HEADER + "".join(rows))
    result = run(str(source), "-o", str(out), "--errors", str(errors))
    assert result.exit_code == 1, result.output
    [record] = [json.loads(line) for line in errors.read_text().splitlines()]
    assert (record["row"], record["line"], record["applicant_id"]) == (5, 6, "R5")
    assert record["errors"][0]["code"] == "csv-cell-too-long"


# --- 2. a header whose quote is closed only on a later line ---------------------------------


@pytest.mark.parametrize(
    ("data", "column", "closed"),
    [
        ('applicant_id,"interview_at\nR1,2026-01-05,a\nR2,2026",company\nR3,x,y\n', 2, 3),
        ('applicant_id,interview_at,"company\nR1,2026-01-05,a"\nR2,x,y\n', 3, 2),
        # what follows the closing quote repeats a name, or leaves a column unnamed
        ('applicant_id,"interview_at\nR1",company,company\nR2,x,y,z\n', 2, 2),
        ('applicant_id,"interview_at\nR1",,company\nR2,x,y,z\n', 2, 2),
        # a quoted name that is fine, then one whose quote runs on
        ('"applicant_id","interview_at\n\n",company\nR1,x,y\n', 2, 3),
    ],
)
def test_a_header_quote_closed_on_a_later_line_is_named(
    data: str, column: int, closed: int
) -> None:
    with pytest.raises(UnreadableInput) as raised:
        rows_of(("\n" + data).encode())
    message = str(raised.value)
    assert message.startswith("the CSV header (line 2) has a quote that is not closed on its line")
    assert f"the quote that opens column {column} is closed only at line {closed + 1}" in message
    assert "close the quote where the name ends, or remove it" in message
    assert "same fact" not in message and "no name" not in message


def test_the_command_refuses_a_header_quote_closed_on_a_later_line(tmp_path: Path) -> None:
    source, out = tmp_path / "c.csv", tmp_path / "o.jsonl"
    source.write_text('applicant_id,"interview_at\nR1",company,company\nR2,x,y,z\n')
    result = run(str(source), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "the CSV header (line 1) has a quote that is not closed on its line" in result.stderr
    assert not out.exists()


def test_a_header_quote_never_closed_keeps_its_message() -> None:
    with pytest.raises(UnreadableInput, match=r"\(line 1\) has a quote that is never closed"):
        rows_of(b'applicant_id,"interview_at\nR1,2026-01-05\n')


# --- 3. standard input that does not start at the beginning of its file -------------------


def _unclosed_past_the_limit() -> bytes:
    rows = [f"R{i},2026-01-05,Acme {'y' * 300}\n" for i in range(1, 5001)]
    rows[99] = 'R100,2026-01-05,"Acme Corp\n'
    rows[4199] = f"R4200,2026-01-05,{BIG}\n"
    return (HEADER + "".join(rows)).encode()


def test_rows_are_read_again_from_where_the_input_began() -> None:
    data = _unclosed_past_the_limit()
    alone = rows_of(data)
    assert [row for row, _, _ in alone] == list(range(1, 5001))
    for prefix in (b"x" * 10, b"skipped,lines\n" * 3, b'\xef\xbb\xbfA0,2026-01-05,"Acme\n'):
        stream = io.BytesIO(prefix + data)
        stream.seek(len(prefix))
        assert rows_of(stream) == alone


def test_a_file_on_standard_input_past_its_start_is_read_from_where_it_stands(
    tmp_path: Path,
) -> None:
    prefix = b"junk before the cohort\n" * 5
    source = tmp_path / "c.csv"
    source.write_bytes(prefix + _unclosed_past_the_limit())
    out, errors = tmp_path / "o.jsonl", tmp_path / "e.jsonl"
    fd = os.open(source, os.O_RDONLY)
    try:
        os.lseek(fd, len(prefix), os.SEEK_SET)
        done = cli_process(
            ["-", "--input-format", "csv", "-o", str(out), "--errors", str(errors)], fd
        )
    finally:
        os.close(fd)
    assert done.returncode == 1, done.stderr
    assert b"read 5000 = decided 4998 + errors 2" in done.stderr
    ids = [json.loads(line)["applicant_id"] for line in out.read_text().splitlines()]
    assert ids == [f"R{i}" for i in range(1, 5001) if i not in (100, 4200)]
    records = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["row"], r["line"], r["applicant_id"]) for r in records] == [
        (100, 101, "R100"),
        (4200, 4201, "R4200"),
    ]


def test_a_pipe_on_standard_input_names_the_lines_it_cannot_read_again(tmp_path: Path) -> None:
    out, errors = tmp_path / "o.jsonl", tmp_path / "e.jsonl"
    args = ["-", "--input-format", "csv", "-o", str(out), "--errors", str(errors)]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from followup.cli.batch import batch_command; batch_command()",
         *args, "--as-of", AS_OF, "--quiet", "--workers", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = proc.communicate(_unclosed_past_the_limit(), timeout=120)
    assert proc.returncode == 1, stderr
    records = [json.loads(line) for line in errors.read_text().splitlines()]
    first, second = records
    assert (first["row"], first["line"]) == (100, 101)
    message = first["errors"][0]["message"]
    assert "standard input cannot be read again" in message
    last = int(message.split("lines 102-")[1].split(" ")[0])
    ids = [json.loads(line)["applicant_id"] for line in out.read_text().splitlines()]
    # every row after the lines the quote took in is read, and none is read twice
    assert ids == [f"R{i}" for i in range(1, 5001) if i < 100 or (i >= last and i != 4200)]
    assert second["line"] == 4201 and second["errors"][0]["code"] == "csv-cell-too-long"
    assert f"read {len(ids) + 2} = decided {len(ids)} + errors 2".encode() in stderr


# --- 4. text that looks like the end-of-input marker ------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 1000])
def test_a_cell_ending_like_the_end_marker_is_text(chunk_size: int) -> None:
    rows = [f"R{i},2026-01-05,Acme{i}\n" for i in range(1, 11)]
    rows[2] = "R3,2026-01-05,Acme" + _readers._END + "\n"
    found = rows_of((HEADER + "".join(rows)).encode(), chunk_size)
    assert [(row, line) for row, line, _ in found] == [(i, i + 1) for i in range(1, 11)]
    assert [cells for _, _, cells in found] == [row.rstrip("\n").split(",") for row in rows]


def test_a_header_ending_like_the_end_marker_is_no_unclosed_quote() -> None:
    data = ("applicant_id,interview_at,company" + _readers._END + "\nR1,2026-01-05,Acme\n").encode()
    assert rows_of(data) == [(1, 2, ["R1", "2026-01-05", "Acme"])]


def test_a_line_of_one_quoted_empty_cell_is_a_row_not_a_blank_line() -> None:
    """``""`` is a cell someone wrote (as ``,,`` is): a row, which the worker
    reports (too few cells); a line of spaces stays a blank line."""
    data = (HEADER + 'A1,2026-03-02,Acme\n""\n   \n"  "\nA2,2026-03-03,Globex\n').encode()
    assert rows_of(data) == [
        (1, 2, ["A1", "2026-03-02", "Acme"]),
        (2, 3, [""]),
        (3, 6, ["A2", "2026-03-03", "Globex"]),
    ]


def test_the_row_of_one_quoted_empty_cell_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_text(HEADER + 'A1,2026-03-02,Acme\n""\nA2,2026-03-03,Globex\n', "utf-8")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = run(str(source), "-o", str(out), "--errors", str(errors))
    assert result.exit_code == 1
    assert "read 3 = decided 2 + errors 1" in result.stderr
    (record,) = [json.loads(line) for line in errors.read_text("utf-8").splitlines()]
    assert (record["row"], record["line"], record["errors"][0]["message"]) == (
        2,
        3,
        "this row has 1 cell but the header names 3 columns; check for a missing or "
        "extra comma, or quote cells that contain commas",
    )
