"""Readers and CSV coercion: rows, line numbers, kinds, unreadable input."""

from __future__ import annotations

import io
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.engine.batch import (
    InputSpec,
    UnreadableInput,
    _readers,
    coerce_cells,
    decode_row,
    detect_format,
    read_chunks,
)
from followup.engine.batch._worker import RowError


def rows_of(
    spec: InputSpec, chunk_size: int = 2, skip: int = 0
) -> list[tuple[int, int | None, object]]:
    out = []
    for chunk in read_chunks(spec, chunk_size, skip):
        items = chunk.items if chunk.kind != "arrow" else chunk.items[0].to_pylist()
        for i, item in enumerate(items):
            out.append((chunk.first_row + i, chunk.lines[i] if chunk.lines else None, item))
    return out


def test_csv_cells_become_typed_facts() -> None:
    header = (
        "applicant_id",
        "phone_ok",
        "stated_timeline_days",
        "promised_materials",
        "industry",
        "company",
    )
    facts = coerce_cells(header, ["7", "TRUE", " 10 ", "references; portfolio ;", " finance ", ""])
    assert facts == {
        "applicant_id": "7",
        "phone_ok": True,
        "stated_timeline_days": 10,
        "promised_materials": ["references", "portfolio"],
        "industry": "finance",
    }


def test_csv_cells_that_do_not_fit_pass_through_for_validation() -> None:
    facts = coerce_cells(("phone_ok", "status_inquiries_sent"), ["maybe", "two"])
    assert facts == {"phone_ok": "maybe", "status_inquiries_sent": "two"}


def test_csv_row_with_wrong_cell_count_is_a_row_error() -> None:
    with pytest.raises(RowError) as info:
        coerce_cells(("a", "b"), ["1", "2", "3"])
    assert info.value.problems[0].code == "csv-cell-count"


def test_csv_rows_and_lines_count_quoted_newlines_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        b'\xef\xbb\xbfapplicant_id,company,interview_at\r\nA1,"Acme\r\nLtd",2026-01-05\r\n\r\n'
        b"A2,Globex,2026-01-05\r\nA3,Initech,2026-01-05\r\n"
    )
    rows = rows_of(InputSpec(str(path), "csv"))
    assert rows == [
        (1, 2, ["A1", "Acme\r\nLtd", "2026-01-05"]),
        (2, 5, ["A2", "Globex", "2026-01-05"]),
        (3, 6, ["A3", "Initech", "2026-01-05"]),
    ]
    assert rows_of(InputSpec(str(path), "csv"), skip=2) == [(3, 6, ["A3", "Initech", "2026-01-05"])]


def test_jsonl_rows_skip_blank_lines_and_keep_line_numbers() -> None:
    data = b'{"a":1}\n\n  \n{"a":2}\n{"a":3}'
    rows = rows_of(InputSpec("-", "jsonl", io.BytesIO(data)))
    assert [(r, line) for r, line, _ in rows] == [(1, 1), (2, 4), (3, 5)]


def _jsonl_reference(
    data: bytes, chunk_size: int, skip: int
) -> list[tuple[int, list[int], list[bytes], int]]:
    """JSONL chunks worked out from the whole text: (first row, lines, items, position)."""
    text = data.removeprefix(b"\xef\xbb\xbf")
    raw = io.BytesIO(text).readlines()
    ends = [len(data) - len(text) + sum(map(len, raw[: n + 1])) for n in range(len(raw))]
    rows = [(n + 1, line, ends[n]) for n, line in enumerate(raw) if line.strip()]
    chunks = []
    for start in range(skip, len(rows), chunk_size):
        part = rows[start : start + chunk_size]
        # a full chunk goes as soon as its last line is read, the rest at the end
        position = part[-1][2] if len(part) == chunk_size else len(data)
        chunks.append((start + 1, [n for n, _, _ in part], [line for _, line, _ in part], position))
    return chunks


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b'{"a":1}', b"", b"  ", b"\r", b"\t", b'{"b":[2, 3]}', b"x" * 40]),
        max_size=40,
    ),
    st.booleans(),
    st.booleans(),
    st.integers(1, 7),
    st.integers(0, 12),
    st.integers(1, 64),
)
def test_jsonl_chunks_are_those_of_a_line_by_line_reading(
    texts: list[bytes],
    bom: bool,
    final_newline: bool,
    chunk_size: int,
    skip: int,
    block: int,
) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(texts) + (b"\n" if final_newline else b"")
    with mock.patch.object(_readers, "_JSONL_BLOCK", block):  # blocks end anywhere in the data
        got = [
            (c.first_row, list(c.lines), list(c.items), c.position)
            for c in read_chunks(InputSpec("-", "jsonl", io.BytesIO(data)), chunk_size, skip)
        ]
    assert got == _jsonl_reference(data, chunk_size, skip)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", "invalid-json"),
        (b"[1, 2]", "not-an-object"),
        (b'{"a": "\xff"}', "invalid-utf8"),
    ],
)
def test_jsonl_lines_that_are_not_facts_are_row_errors(line: bytes, code: str) -> None:
    with pytest.raises(RowError) as info:
        decode_row("jsonl", line, None)
    assert info.value.problems[0].code == code


def test_parquet_rows_come_in_chunks_and_skip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "c.parquet"
    pq.write_table(
        pa.table(
            {
                "applicant_id": ["A1", "A2", "A3"],
                "phone_ok": [True, None, False],
                "interview_at": [None, None, "2026-01-05"],
            }
        ),
        path,
    )
    rows = rows_of(InputSpec(str(path), "parquet"), skip=1)
    assert rows == [
        (2, None, {"applicant_id": "A2", "phone_ok": None, "interview_at": None}),
        (3, None, {"applicant_id": "A3", "phone_ok": False, "interview_at": "2026-01-05"}),
    ]
    assert decode_row("records", rows[0][2], None) == {"applicant_id": "A2"}


def test_format_comes_from_the_extension_or_the_option() -> None:
    assert detect_format("x.CSV", None) == "csv"
    assert detect_format("x.ndjson", None) == "jsonl"
    assert detect_format("x.pq", None) == "parquet"
    assert detect_format("x.txt", "csv") == "csv"
    assert detect_format("-", None) == "jsonl"
    with pytest.raises(UnreadableInput, match="--input-format"):
        detect_format("x.txt", None)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match="cannot read"):
        list(read_chunks(InputSpec(str(tmp_path / "nope.jsonl"), "jsonl"), 10))


def test_parquet_that_is_not_parquet_is_unreadable(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.parquet"
    path.write_text("hello")
    with pytest.raises(UnreadableInput, match="Parquet"):
        list(read_chunks(InputSpec(str(path), "parquet"), 10))
