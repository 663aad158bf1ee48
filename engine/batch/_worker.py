"""Decode and evaluate one chunk of rows; runs in worker processes.

A chunk's result is already rendered text, so the main process only writes
bytes. Every row yields either an output line or an error record: a row is
never dropped and never stops the chunk.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .._errors import FactsError, Problem, json_error_words, json_kind, show_value
from .._facts import FACT_KINDS
from .._rows import encode_id, evaluate_items, has_surrogate, loads, loads_facts, repeated_keys
from .._yaml import escape_pointer
from ._job import BatchJob, load_evaluator
from ._readers import _DELIMITER_WORDS, BadCsvRow, InputSpec, RawChunk, read_chunks, shown
from ._writers import csv_row

__all__ = ["ChunkResult", "coerce_cells", "decode_row", "evaluate_chunk", "evaluate_lines"]

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_ID_IN_TEXT = re.compile(rb'"applicant_id"\s*:\s*"?([^",}]*)')


def decode_id(line: bytes) -> str | None:
    """The applicant_id of one ids-file line (without its newline)."""
    if not line:
        return None
    text = line.decode("utf-8", "surrogateescape")
    if text[0] == '"':
        value: str = json.loads(text)
        return value
    return text


@dataclass
class ChunkResult:
    """The rendered outcome of one chunk, in row order.

    Everything per row is packed (bytes, or counts per chunk), so sending a
    result from a worker and taking it in costs little besides its output bytes.

    Attributes:
        first_row: 1-based row number of the first row.
        data: the output lines of the chunk, UTF-8 (nothing for a row that failed).
        ends: per row, the offset in ``data`` where its line ends.
        errors: (index in chunk, JSON error line, problem codes) per failed row.
        id_lines: per row, its applicant_id as one line of the ids file
            (``encode_id``: an empty line when there is none), UTF-8.
        counters: the summary counters the decided rows add to ("a|action|status",
            "n|action|status" for the next action or "n|" for none, "r|rule"),
            in ``len(errors) + 1`` segments: segment k counts the decided rows
            before failed row k (and after failed row k-1), the last one those
            after the last failed row. A run stopped by ``--max-errors`` right
            after failed row k thus adds exactly segments 0..k.
        held: when a worker writes the output itself (``data`` is then empty),
            the length of the chunk's output, which the worker holds.
        placed_at: the offset in the output file where the worker writes it.
    """

    first_row: int
    data: bytes | bytearray = b""
    ends: list[int] = field(default_factory=list)
    errors: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    id_lines: bytes = b""
    counters: list[dict[str, int]] = field(default_factory=list)
    held: int = 0
    placed_at: int | None = None

    @property
    def count(self) -> int:
        return len(self.ends)

    @property
    def ids(self) -> list[str | None]:
        """Each row's applicant_id, or None when there is none or it is unreadable."""
        return [decode_id(line) for line in self.id_lines.split(b"\n")[: self.count]]

    def prefix(self, count: int) -> memoryview:
        """The output of the first ``count`` rows (not copied)."""
        return memoryview(self.data)[: self.size(count)]

    def size(self, count: int) -> int:
        """The length of the first ``count`` rows' output."""
        return self.ends[count - 1] if count else 0

    def line(self, index: int) -> str:
        """Row ``index``'s output line ("" for a failed row)."""
        start = self.ends[index - 1] if index else 0
        return bytes(self.data[start : self.ends[index]]).decode("utf-8")


class RowError(Exception):
    """A row that cannot even be read as facts."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def _list_cell(cell: str) -> Any:
    return [item.strip() for item in cell.split(";") if item.strip()]


def _bool_cell(cell: str) -> Any:
    low = cell.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else cell


def _int_cell(cell: str) -> Any:
    try:
        return int(cell.strip())
    except ValueError:
        return cell


def _stripped_cell(cell: str) -> Any:
    return cell.strip()


_CELL_KINDS = {"list": _list_cell, "bool": _bool_cell, "int": _int_cell}


_LAST_HEADER: tuple[Any, tuple[tuple[str, Any], ...]] = (None, ())


def _converters(header: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Per column, its fact name and how its text becomes a value (None: kept as text).

    Every row of a chunk shares one header object: looked up by identity first
    (one tuple, swapped whole, so threads never see a header with another's
    converters), else by value.
    """
    global _LAST_HEADER
    last = _LAST_HEADER
    if last[0] is header:
        return last[1]
    converters = _converters_of(header)
    _LAST_HEADER = (header, converters)
    return converters


@functools.lru_cache(maxsize=64)
def _converters_of(header: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    out: list[tuple[str, Any]] = []
    for number, name in enumerate(header, 1):
        kind = FACT_KINDS.get(name)
        if not name:  # an unnamed column (trailing commas): only an empty cell fits
            out.append((name, functools.partial(_unnamed_cell, number)))
        elif kind is None or kind == "string":
            out.append((name, None))
        else:
            out.append((name, _CELL_KINDS.get(kind, _stripped_cell)))
    return tuple(out)


def _unnamed_cell(number: int, cell: str) -> Any:
    raise RowError(
        Problem(
            "csv-unnamed-cell",
            f"this row has {show_value(cell)} in column {number}, which the header does "
            "not name; name the fact in the header, or remove the cell",
            "",
            value=cell,
        )
    )


def coerce_cells(header: tuple[str, ...], cells: list[str], sep: str = ",") -> dict[str, Any]:
    """Turn CSV text cells into facts: empty is missing, kinds from FACT_KINDS.

    A cell that does not fit its kind is passed on as text so the policy's
    validation reports it in its own words. ``sep`` is the delimiter the cells
    were cut at (for messages).
    """
    if len(cells) != len(header):
        if isinstance(cells, BadCsvRow):  # the reader could not cut it into cells
            raise RowError(cells.problem)
        one, several = _DELIMITER_WORDS.get(sep, (repr(sep), f"{sep!r} characters"))
        raise RowError(
            Problem(
                "csv-cell-count",
                f"this row has {len(cells)} cell{'' if len(cells) == 1 else 's'} but the "
                f"header names {len(header)} columns; "
                f"check for a missing or extra {one}, or quote cells that contain {several}",
                "",
            )
        )
    facts: dict[str, Any] = {}
    for (name, convert), cell in zip(_converters(header), cells, strict=True):
        if not cell or cell.isspace():
            continue
        facts[name] = cell if convert is None else convert(cell)
    return facts


def _check_text(cells: list[str], header: tuple[str, ...]) -> None:
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowError(*_not_utf8_cells(cells, header)) from exc


def _not_utf8_cells(cells: list[str], header: tuple[str, ...]) -> list[Problem]:
    """A problem for each cell holding bytes that are not UTF-8 (kept by the reader
    as lone surrogates), its value shown with those bytes as \\xNN."""
    problems = []
    for number, cell in enumerate(cells):
        if cell.isascii() or not has_surrogate(cell):
            continue
        name = header[number] if number < len(header) else f"cell {number + 1}"
        problems.append(
            Problem(
                "invalid-utf8",
                f"{name} has bytes that are not UTF-8 text: '{shown(cell)}' "
                "(each such byte shown as \\xNN)",
                f"/{name}" if number < len(header) else "",
                suggestion="save the file as UTF-8 (in Excel: CSV UTF-8)",
                value=shown(cell),
            )
        )
    return problems


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + escape_pointer(str(part)) for part in path)


def _lone_surrogates(value: Any, path: tuple[Any, ...] = ()) -> Iterator[Problem]:
    """A problem for each string (or key) of a parsed line that holds a lone
    surrogate: a JSON escape such as "\\ud800" that stands for no character."""
    if isinstance(value, dict):
        for key, item in value.items():
            if has_surrogate(key):
                name = shown(key, from_bytes=False)
                yield Problem(
                    "invalid-utf8",
                    f"the key '{name}' holds a lone surrogate escape (\\ud800 to \\udfff "
                    "on its own), which stands for no character and cannot be written as UTF-8",
                    _pointer((*path, name)),
                    suggestion="write the text itself, or a pair of escapes for one character",
                    value=name,
                )
            else:
                yield from _lone_surrogates(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _lone_surrogates(item, (*path, index))
    elif isinstance(value, str) and has_surrogate(value):
        name = "/".join(map(str, path)) or "the line"
        text = shown(value, from_bytes=False)
        yield Problem(
            "invalid-utf8",
            f"{name} is '{text}', with a lone surrogate escape (\\ud800 to \\udfff on "
            "its own), which stands for no character and cannot be written as UTF-8",
            _pointer(path),
            suggestion="write the text itself, or a pair of escapes for one character",
            value=text,
        )


def _record(raw: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if (
            isinstance(value, datetime)
            and value.tzinfo is None
            and value.time() == datetime.min.time()
        ):
            value = value.date()
        if isinstance(value, date):
            value = value.isoformat()
        facts[key] = value
    return facts


def decode_row(
    kind: str, item: Any, header: tuple[str, ...] | None, sep: str = ","
) -> dict[str, Any]:
    """Turn one raw row of ``kind`` into a facts mapping (``sep``: the CSV delimiter).

    Raises:
        RowError: the row is not readable as facts at all.
    """
    if kind == "jsonl":
        try:
            value = loads_facts(item)
            if value is None:  # text that UTF-8 cannot hold, or a key named twice
                twice = repeated_keys(item)
                if twice:
                    raise RowError(*(_named_twice(key) for key in twice))
                value = loads(item)
                if isinstance(value, dict):
                    raise RowError(*_lone_surrogates(value))
        except UnicodeDecodeError as exc:
            raise RowError(
                Problem(
                    "invalid-utf8",
                    f"this line has bytes that are not UTF-8 text (byte {exc.start + 1} is "
                    f"0x{item[exc.start]:02X}); save the file as UTF-8",
                    "",
                )
            ) from exc
        except ValueError as exc:
            what, fix = json_error_words(exc)
            raise RowError(
                Problem("invalid-json", f"this line is not valid JSON: {what}", "", suggestion=fix)
            ) from exc
        if not isinstance(value, dict):
            raise RowError(
                Problem(
                    "not-an-object",
                    f"this line is {json_kind(value)}, not an object of facts",
                    "",
                    suggestion='write {"applicant_id": ..., "interview_at": ...}',
                )
            )
        return value
    if kind == "csv":
        columns = header or ()
        _check_text(item, columns)
        return coerce_cells(columns, item, sep)
    return _record(item)


def _named_twice(key: str) -> Problem:
    return Problem(
        "duplicate-key",
        f"the key {show_value(key)} appears twice in this row; JSON readers would silently "
        "keep only the last",
        "/" + escape_pointer(key),
        suggestion="remove or rename one of them",
        value=key,
    )


def _row_id(
    kind: str, item: Any, header: tuple[str, ...] | None, facts: Mapping[str, Any] | None
) -> str | None:
    if facts is not None:
        value = facts.get("applicant_id")
    elif kind == "jsonl" and isinstance(item, bytes):
        found = _ID_IN_TEXT.search(item)
        # undecodable bytes as \xNN, so that two different ids never read the same
        value = found.group(1).decode("utf-8", "backslashreplace").strip() if found else None
    elif isinstance(item, BadCsvRow):
        value = item.applicant_id
    elif kind == "csv" and header is not None and "applicant_id" in header:
        index = header.index("applicant_id")
        value = item[index] if index < len(item) else None
    else:
        value = item.get("applicant_id") if isinstance(item, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value) or None


def _problem_dict(problem: Problem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": problem.code,
        "pointer": problem.pointer,
        "message": problem.message,
    }
    if problem.suggestion:
        out["suggestion"] = problem.suggestion
    if problem.value is not None:
        out["value"] = problem.value
    return out


def _error_line(
    row: int, line: int | None, applicant_id: str | None, problems: tuple[Problem, ...]
) -> str:
    """One line of the errors file: strict JSON, UTF-8 (see ``_strict``)."""
    record = {
        "row": row,
        "line": line,
        "applicant_id": applicant_id,
        "errors": [_problem_dict(p) for p in problems],
    }
    try:
        text = json.dumps(
            record, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False
        )
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):  # NaN, Infinity, or text UTF-8 cannot hold
        text = json.dumps(_strict(record), ensure_ascii=False, separators=(",", ":"))
    return text + "\n"


def _strict(value: Any) -> Any:
    """``value`` as strict JSON can hold it: a number that is not finite as the text
    JSON's readers know it by ("NaN", "Infinity", "-Infinity"), text with a lone
    surrogate with it escaped (``shown``), anything else not JSON as its ``str``."""
    if isinstance(value, dict):
        return {_strict(str(key)): _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if value is None or isinstance(value, bool | int | float):
        return value
    return _strict(str(value))


def _items(chunk: RawChunk) -> list[Any]:
    if chunk.kind == "arrow":
        return [row for batch in chunk.items for row in _arrow_rows(batch)]
    return chunk.items


#: Arrow types of a column that cannot hold whole numbers with gaps as integers
#: (pandas writes an int column with gaps as double) or holds them as decimals
_NUMBER_TYPES = ("double", "float", "halffloat", "decimal")


def _arrow_rows(batch: Any) -> list[dict[str, Any]]:
    """A RecordBatch's rows as dicts; a whole number in a float or decimal column
    of a whole-number fact as an int (7.0 is 7), a decimal that is not as a float."""
    rows: list[dict[str, Any]] = batch.to_pylist()
    numbers = [
        column.name
        for column in batch.schema
        if FACT_KINDS.get(column.name) == "int" and str(column.type).startswith(_NUMBER_TYPES)
    ]
    for name in numbers:
        for row in rows:
            value = row[name]
            if value is not None:
                row[name] = _whole(value)
    return rows


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def evaluate_chunk(job: BatchJob, chunk: RawChunk) -> ChunkResult:
    """Decode, evaluate and render every row of ``chunk``."""
    result, lines = evaluate_lines(job, chunk)
    result.data = b"".join(lines)
    return result


def evaluate_lines(job: BatchJob, chunk: RawChunk) -> tuple[ChunkResult, list[bytes]]:
    """``evaluate_chunk``, with the output as its lines (``data`` left empty).

    A worker that writes the output itself hands the lines to ``os.pwritev``
    instead of joining them first.
    """
    result = ChunkResult(chunk.first_row)
    kind, header = chunk.kind, chunk.header
    items = _items(chunk)

    def failed(index: int, facts: dict[str, Any] | None, exc: Exception) -> str:
        problems: tuple[Problem, ...]
        if isinstance(exc, RowError):
            problems = exc.problems
        elif isinstance(exc, FactsError):
            problems = tuple(exc.problems)
        elif facts is not None and has_surrogate(facts):  # text the output cannot hold
            problems = tuple(_lone_surrogates(facts))
        else:  # a bug must cost one row, not the batch
            problems = (
                Problem("evaluation-failed", f"the engine failed on this row: {exc!r}", ""),
            )
        applicant_id = _row_id(kind, items[index], header, facts)
        if applicant_id is not None and not applicant_id.isascii():
            try:  # the ids file holds it as UTF-8, its undecodable bytes as they were
                applicant_id.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                applicant_id = shown(applicant_id, from_bytes=False)
        line = chunk.lines[index] if chunk.lines else None
        result.errors.append(
            (
                index,
                _error_line(chunk.first_row + index, line, applicant_id, problems),
                tuple(p.code for p in problems),
            )
        )
        return encode_id(applicant_id)

    decode: Any = (
        decode_row
        if chunk.delimiter == ","
        else functools.partial(decode_row, sep=chunk.delimiter)  # (for its messages)
    )
    lines, result.id_lines = evaluate_items(
        load_evaluator(job.policy).evaluate,
        kind,
        items,
        header,
        job.as_of,
        job.trace,
        decode,
        csv_row if job.output_format == "csv" else None,
        failed,
        result.ends,
        result.counters,
    )
    return result, lines


def iter_facts(spec: InputSpec, chunk_size: int = 1000) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, facts) for every row of a CSV, JSONL or Parquet input, in order.

    Raises:
        RowError: a row cannot be read as facts (its problems name why).
        UnreadableInput: the input itself cannot be read.
    """
    for chunk in read_chunks(spec, chunk_size):
        for index, item in enumerate(_items(chunk)):
            yield chunk.first_row + index, decode_row(chunk.kind, item, chunk.header)
