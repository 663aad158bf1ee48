"""Streaming readers: CSV, JSONL and Parquet cut into bounded chunks.

Readers do as little as possible in the main process: JSONL lines stay
bytes and CSV rows stay lists of text cells until a worker decodes them, so
parsing runs in parallel with evaluation. Only ``chunk_size`` rows are ever
held per chunk, whatever the size of the cohort.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
import shlex
import sys
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, islice
from typing import IO, Any

from .._errors import FollowupError, Problem, did_you_mean
from .._facts import FACTS

__all__ = [
    "CSV_DELIMITERS",
    "INPUT_FORMATS",
    "BadCsvRow",
    "InputSpec",
    "RawChunk",
    "UnreadableInput",
    "detect_format",
    "read_chunks",
    "shown",
]

INPUT_FORMATS = ("csv", "jsonl", "parquet")

#: ``--csv-delimiter``: each name and the character it stands for ("auto": see
#: ``_auto_delimiter``)
CSV_DELIMITERS = {",": ",", ";": ";", "tab": "\t", "|": "|"}
#: how messages name a delimiter: one, several
_DELIMITER_WORDS = {
    ",": ("comma", "commas"),
    ";": ("semicolon", "semicolons"),
    "\t": ("tab", "tabs"),
    "|": ("'|'", "'|' characters"),
}
#: what ``--csv-delimiter`` takes for each delimiter
_DELIMITER_OPTION = {char: name for name, char in CSV_DELIMITERS.items()}
#: extensions of CSV files whose cells are separated by tabs
_TAB_EXTENSIONS = (".tsv",)

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# csv.field_size_limit defaults to 128 KiB; a fact never needs more. A longer
# cell (or a quote never closed, swallowing the lines after it) is reported as
# its row's error, and the rows after it are read on.
_CSV_FIELD_LIMIT = 1 << 20

#: fed to the csv module after the input's last line. It is blank to the csv
#: module (whitespace: no delimiter, quote or line break), so it is skipped like
#: any blank line; but a quoted cell still open at the end of the input takes it
#: in, which is how a quote that is never closed is told from one that is.
_END = "\x1f\x1e\x1f"

#: the cell limit while the first line of a row with a cell over _CSV_FIELD_LIMIT
#: is read again for its applicant_id (a C long on every platform)
_NO_LIMIT = (1 << 31) - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped_byte(found: re.Match[str]) -> str:
    code = ord(found.group())
    # U+DC80..U+DCFF: a byte that is not UTF-8, kept by the surrogateescape decoding
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _escaped(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def shown(text: str, *, from_bytes: bool = True) -> str:
    """``text`` as it can be shown and written as UTF-8: each lone surrogate
    (no character; UTF-8 cannot hold it) as ``\\uNNNN``, or, ``from_bytes``, those
    that stand for a byte that was not UTF-8 (surrogateescape) as ``\\xNN``."""
    return _SURROGATE.sub(_escaped_byte if from_bytes else _escaped, text)


class UnreadableInput(FollowupError):
    """The input as a whole cannot be read (missing file, wrong format, no header)."""


class BadCsvRow(list[str]):
    """A CSV row the reader could not cut into cells, in place of its cells.

    It has no cells (so it never matches the header: the worker's cell-count
    check, the only one it meets, raises ``problem`` for it instead), and keeps
    the row's applicant_id when that could be read.
    """

    def __init__(self, problem: Problem, applicant_id: str | None = None) -> None:
        super().__init__()
        self.problem = problem
        self.applicant_id = applicant_id


@dataclass(frozen=True)
class InputSpec:
    """Where the cohort comes from.

    Attributes:
        path: a file path, or "-" for ``stream``.
        format: "csv", "jsonl" or "parquet".
        stream: a binary stream to read when ``path`` is "-" (e.g. stdin).
        delimiter: the character between CSV cells, or None to tell it from
            the input (see ``_auto_delimiter``).
    """

    path: str
    format: str
    stream: IO[bytes] | None = field(default=None, compare=False)
    delimiter: str | None = None

    @property
    def is_file(self) -> bool:
        return self.path != "-"

    def size(self) -> int | None:
        """Size in bytes, or None for a stream."""
        if not self.is_file:
            return None
        try:
            return os.path.getsize(self.path)
        except OSError:
            return None


@dataclass
class RawChunk:
    """Up to ``chunk_size`` undecoded rows.

    Attributes:
        kind: "jsonl" (``items`` are bytes lines), "csv" (lists of cells),
            "arrow" (one pyarrow RecordBatch) or "records" (ready mappings).
        first_row: 1-based row number of ``items[0]``.
        lines: the 1-based input line of each item (empty for Parquet).
        items: the rows.
        header: CSV column names.
        position: bytes consumed after this chunk, for progress (0 if unknown).
        delimiter: the character between CSV cells.
    """

    kind: str
    first_row: int
    lines: list[int]
    items: list[Any]
    header: tuple[str, ...] | None = None
    position: int = 0
    delimiter: str = ","


def detect_format(path: str, given: str | None) -> str:
    """The input format: ``given`` if set, else from the file extension.

    Raises:
        UnreadableInput: the extension is unknown and no format was given.
    """
    if given:
        if given not in INPUT_FORMATS:
            raise UnreadableInput(
                f"unknown input format {given!r}; use one of {', '.join(INPUT_FORMATS)}"
            )
        return given
    if path == "-":
        return "jsonl"
    ext = os.path.splitext(path)[1].lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    raise UnreadableInput(
        f"cannot tell the format of {path!r} from its extension; "
        f"add --input-format {'|'.join(INPUT_FORMATS)}"
    )


def read_chunks(spec: InputSpec, chunk_size: int, skip: int = 0) -> Generator[RawChunk, None, None]:
    """Yield the input's rows in chunks, after skipping the first ``skip`` rows.

    Raises:
        UnreadableInput: the file is missing or not of its format at all
            (raised on the first ``next()``).
    """
    if spec.format == "parquet":
        yield from _parquet_chunks(spec, chunk_size, skip)
        return
    stream, close = _open_binary(spec)
    try:
        if spec.format == "csv":
            yield from _csv_chunks(stream, chunk_size, skip, spec)
        else:
            yield from _jsonl_chunks(stream, chunk_size, skip, spec)
    finally:
        if close:
            stream.close()


def _open_binary(spec: InputSpec) -> tuple[IO[bytes], bool]:
    if not spec.is_file:
        return (spec.stream if spec.stream is not None else sys.stdin.buffer), False
    try:
        return open(spec.path, "rb"), True
    except OSError as exc:
        raise UnreadableInput(f"cannot read {spec.path}: {exc.strerror or exc}") from exc


#: bytes of whole lines read at a time from JSONL input
_JSONL_BLOCK = 1 << 20


def _jsonl_chunks(
    stream: IO[bytes], chunk_size: int, skip: int, spec: InputSpec
) -> Iterator[RawChunk]:
    # Lines are read and sorted a block at a time by C loops (readlines, map,
    # accumulate): one Python step per line cost the main process about 4 µs a row.
    first_seen = False  # the first line that is not blank was looked at (_check_jsonl)
    row = skip  # the row number of the last line kept
    line_no = 0
    consumed = 0
    lines: list[int] = []
    items: list[Any] = []
    ends: list[int] = []  # bytes consumed once each kept line is read, for progress
    to_skip = skip
    while True:
        block = stream.readlines(_JSONL_BLOCK)
        if not block:
            break
        offsets = list(accumulate(map(len, block), initial=consumed))
        consumed = offsets[-1]
        if line_no == 0 and block[0].startswith(b"\xef\xbb\xbf"):
            block[0] = block[0][3:]
        elif line_no == 0 and block[0].startswith((b"\xff\xfe", b"\xfe\xff")):
            raise UnreadableInput(
                "the JSONL input is not UTF-8 text: it starts with a UTF-16 byte order mark; "
                "save it as UTF-8"
            )
        numbers: Sequence[int]
        if all(map(bytes.strip, block)):
            kept, numbers, kept_ends = (
                block,
                range(line_no + 1, line_no + 1 + len(block)),
                offsets[1:],
            )
        else:  # blank lines are not rows
            rows = [i for i, text in enumerate(map(bytes.strip, block)) if text]
            kept = [block[i] for i in rows]
            numbers = [line_no + 1 + i for i in rows]
            kept_ends = [offsets[i + 1] for i in rows]
        if not first_seen and kept:
            first_seen = True
            _check_jsonl(kept[0], numbers[0], spec)
        line_no += len(block)
        if to_skip:
            dropped = min(to_skip, len(kept))
            to_skip -= dropped
            kept, numbers, kept_ends = kept[dropped:], numbers[dropped:], kept_ends[dropped:]
        row += len(kept)
        items += kept
        lines += numbers
        ends += kept_ends
        while len(items) >= chunk_size:
            first = row - len(items) + 1
            yield RawChunk(
                "jsonl", first, lines[:chunk_size], items[:chunk_size], None, ends[chunk_size - 1]
            )
            del lines[:chunk_size], items[:chunk_size], ends[:chunk_size]
    if items:
        yield RawChunk("jsonl", row - len(items) + 1, lines, items, None, consumed)


def _check_jsonl(first: bytes, line: int, spec: InputSpec) -> None:
    """Refuse JSONL input whose first line (``line``, the first that is not blank)
    shows the input is something else: one JSON array of objects, JSON objects
    written over several lines, or CSV.

    Raises:
        UnreadableInput: saying what the input looks like and how to read it.
    """
    text = first.strip()
    if text == b"{":  # an object written over lines (pretty-printed): no line is a row
        raise UnreadableInput(
            f"{_named(spec)} holds JSON written over several lines (line {line} is only "
            "'{'), but followup batch reads JSONL: one JSON object {...} per line; "
            f"convert it, e.g. with: {_jq_command(spec, '.')}"
        )
    if text[:1] == b"{":
        return
    if text[:1] == b"[":
        try:
            value = json.loads(text)
        except ValueError:  # the array goes on over the next lines
            value = None
        # a line holding an array that is not a cohort of objects ([1, 2]) is one row's error
        if value is None or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            raise UnreadableInput(
                f"{_named(spec)} holds one JSON array ([{{...}}, {{...}}], from line {line}), "
                "but followup batch reads JSONL: one JSON object {...} per line; convert it, "
                f"e.g. with: {_jq_command(spec)}"
            )
        return
    if b"{" in text or b"}" in text or not any(sep in text for sep in (b",", b";", b"\t")):
        return
    try:  # a line that is JSON after all ("a,b": text) is one row's error
        json.loads(text)
    except ValueError:
        header = text.decode("utf-8", "replace")
        shown_header = header if len(header) <= 60 else header[:57] + "..."
        why = (
            "standard input is read as JSONL unless --input-format says otherwise"
            if not spec.is_file
            else f"{spec.path} is read as JSONL (from its extension)"
            if os.path.splitext(spec.path)[1].lower() in _EXTENSIONS
            else f"{spec.path} is read as JSONL"
        )
        raise UnreadableInput(
            f"{_named(spec)} is not JSONL: its first line (line {line}), '{shown_header}', "
            f"looks like a CSV header, not a JSON object; {why}: add --input-format csv"
        ) from None


def _named(spec: InputSpec) -> str:
    return "the input on standard input" if not spec.is_file else spec.path


def _jq_command(spec: InputSpec, each: str = ".[]") -> str:
    """A jq command that writes each value ``each`` picks from the JSON ``spec``
    holds on a line of its own (JSONL)."""
    if not spec.is_file:
        return f"jq -c '{each}' < cohort.json > cohort.jsonl"
    stem, ext = os.path.splitext(spec.path)
    target = stem + (".jsonl" if ext.lower() != ".jsonl" else ".lines.jsonl")
    return f"jq -c '{each}' {shlex.quote(spec.path)} > {shlex.quote(target)}"


def _csv_chunks(
    stream: IO[bytes], chunk_size: int, skip: int, spec: InputSpec
) -> Iterator[RawChunk]:
    again = _Again(stream)  # before the text wrapper reads anything
    text = _text(stream)
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    before: list[str] = []  # lines read to tell the delimiter, read again by the csv module
    sep = spec.delimiter
    try:
        if sep is None:
            before, sep = _auto_delimiter(text, spec)
        reader, end = _csv_reader(text, sep, before)
        found = _csv_header(reader, end, sep, spec.delimiter is None)
        if found is None:  # nothing but blank lines: no rows
            return
        header, id_column = found
        row = 0
        lines: list[int] = []
        items: list[Any] = []
        # the input line of the reader's line 1: rows read again after a bad
        # one are read by a reader of their own, from the line after it
        base = 1
        line_no = reader.line_num + 1
        while True:
            if len(items) >= chunk_size:  # full after a bad row
                _check_spans(lines, items, line_no, header, id_column, sep)
                yield RawChunk(
                    "csv", row - len(items) + 1, lines, items, header, _tell(stream), sep
                )
                lines, items = [], []
            cells: list[str] = []
            try:
                for cells in reader:
                    start, line_no = line_no, reader.line_num + base
                    # a blank line: none, or spaces (a lone "" is a cell, as ",," is)
                    if not cells or (len(cells) == 1 and cells[0] and not cells[0].strip()):
                        continue
                    row += 1
                    if row <= skip:
                        continue
                    lines.append(start)
                    items.append(cells)
                    if len(items) >= chunk_size:
                        if end.taken and cells[-1].endswith(_END):  # a quote never closed
                            break
                        _check_spans(lines, items, line_no, header, id_column, sep)
                        yield RawChunk(
                            "csv", row - len(items) + 1, lines, items, header, _tell(stream), sep
                        )
                        lines, items = [], []
            except csv.Error as exc:  # a cell over the limit: that row's error
                last = reader.line_num + base - 1
                row += 1
                aid, whole = None, False
                if again.start is not None:
                    # the csv module dropped the row's cells: read its lines again
                    text_again, base, aid, whole = _read_again(
                        again, line_no, last, len(header), id_column, sep
                    )
                    text.detach()
                    text = text_again
                    reader, end = _csv_reader(text, sep)
                if row > skip:
                    lines.append(line_no)
                    seekable = again.start is not None
                    items.append(_long_cell(exc, line_no, last, seekable, whole, aid))
                line_no = reader.line_num + base
                continue
            if not cells or not cells[-1].endswith(_END):
                break  # the end of the input
            # A quoted cell ran to the end of the input, taking in every line
            # after its quote: the row is an error, and those lines are read
            # again as rows. The csv module took them in as they are, except
            # that it kept one " for each "": doubling the quotes gives them back.
            taken = cells[-1][: -len(_END)].replace('"', '""')
            taken_lines = io.StringIO(taken, newline="").readlines()
            last = reader.line_num + base - 2  # the input's last line (before _END)
            opened = last - len(taken_lines) + 1 if taken_lines else last
            if row > skip and not (len(cells) == 1 and not cells[0].strip()):
                aid = cells[id_column].strip() if id_column < len(cells) - 1 else ""
                items[-1] = _unclosed_quote(lines[-1], opened, last, aid or None, sep)
            if len(taken_lines) <= 1:
                break
            reader, end = _csv_reader(taken_lines[1:], sep)
            base = line_no = opened + 1
        if items:
            _check_spans(lines, items, line_no, header, id_column, sep)
            yield RawChunk("csv", row - len(items) + 1, lines, items, header, _tell(stream), sep)
    except csv.Error as exc:  # the header's
        raise UnreadableInput(
            f"the CSV input cannot be read at line {reader.line_num}: {exc}"
        ) from exc
    finally:
        text.detach()


def _csv_header(
    reader: Any, end: _End, sep: str = ",", auto: bool = False
) -> tuple[tuple[str, ...], int] | None:
    """The header (the first line that is not blank), and the applicant_id
    column (its length when there is none); None when there is no such line.

    ``sep`` is the delimiter the header was read with, told from the input
    when ``auto``.

    Raises:
        UnreadableInput: the header does not name the facts: no names, names
            repeated, names that are not facts, no column for a fact every
            row needs, text that is not UTF-8, or a quote never closed, or
            closed only on a later line.
    """
    while True:
        line = reader.line_num + 1
        cells = next(reader, None)
        if cells is None:
            return None
        if cells and not (len(cells) == 1 and not cells[0].strip()):
            break
    if end.taken and cells[-1].endswith(_END):
        raise UnreadableInput(
            f"the CSV header (line {line}) has a quote that is never closed; "
            "the first line must name the facts, e.g. applicant_id,interview_at"
        )
    header = tuple(cell.strip() for cell in cells)
    _check_header_encoding(header, line)
    if reader.line_num > line:  # a quoted name took in the lines after the header's
        _header_over_lines(cells, line, reader.line_num)
    if not any(header):
        raise UnreadableInput(
            f"the CSV header (line {line}) names no facts: the first line that is not "
            "blank must name the facts, e.g. applicant_id,interview_at"
        )
    _check_header_text(header, line)
    _check_header_names(header, "the CSV header", "column")
    named = [i for i, name in enumerate(header) if name]
    gaps = [i + 1 for i in range(named[-1]) if not header[i]]
    if gaps:  # (unnamed columns after the last name are trailing commas: allowed)
        raise UnreadableInput(
            f"the CSV header (line {line}) has no name for column "
            f"{', '.join(map(str, gaps))}; name the fact each column holds, or remove the column"
        )
    _check_header_facts(header, f"the CSV header (line {line})", sep, auto)
    return header, header.index("applicant_id") if "applicant_id" in header else len(header)


def _header_over_lines(cells: list[str], line: int, last: int) -> None:
    """Refuse a header whose quote is closed only on a later line (``last``, the
    header's last line): the lines up to it were taken in as part of a name."""
    closed = line
    for number, cell in enumerate(cells, 1):
        closed += cell.count("\n") + cell.count("\r") - cell.count("\r\n")
        if closed > line:
            taken = f"line {line + 1}" if last == line + 1 else f"lines {line + 1}-{last}"
            raise UnreadableInput(
                f"the CSV header (line {line}) has a quote that is not closed on its line: "
                f"the quote that opens column {number} is closed only at line {closed}, so "
                f"the header took in {taken}; close the quote where the name ends, or remove "
                "it: the first line must name the facts, e.g. applicant_id,interview_at"
            )


def _check_header_encoding(header: tuple[str, ...], line: int) -> None:
    """Refuse a header that shows the input is UTF-16 (a byte order mark, NULs)."""
    joined = "".join(header)
    if joined.isascii() and "\x00" not in joined:
        return
    if joined[:2] in ("\udcff\udcfe", "\udcfe\udcff"):  # bytes FF FE or FE FF
        raise UnreadableInput(
            "the CSV input is not UTF-8 text: it starts with a UTF-16 byte order mark; "
            "save it as UTF-8 (in Excel: CSV UTF-8)"
        )
    if "\x00" in joined:
        raise UnreadableInput(
            f"the CSV input is not UTF-8 text: its header (line {line}) holds NUL "
            "characters, as UTF-16 text does; save it as UTF-8 (in Excel: CSV UTF-8)"
        )


def _check_header_text(header: tuple[str, ...], line: int) -> None:
    """Refuse a header name with bytes that are not UTF-8."""
    if "".join(header).isascii():
        return
    for number, name in enumerate(header, 1):
        if _SURROGATE.search(name):
            raise UnreadableInput(
                f"the CSV input is not UTF-8 text: its header (line {line}) names column "
                f"{number} '{shown(name)}', with bytes that are not UTF-8 (shown as \\xNN); "
                "save the file as UTF-8 (in Excel: CSV UTF-8)"
            )


def _check_header_names(names: Sequence[str], what: str, kind: str) -> None:
    """Refuse a header that names a fact twice: which of its columns would win?"""
    if len(set(names)) == len(names):
        return
    where: dict[str, list[int]] = {}
    for number, name in enumerate(names, 1):
        if name:  # unnamed columns (trailing commas) carry no fact
            where.setdefault(name, []).append(number)
    repeated = [
        f"{name} ({kind}s {', '.join(map(str, found[:-1]))} and {found[-1]})"
        for name, found in where.items()
        if len(found) > 1
    ]
    if repeated:
        raise UnreadableInput(
            f"{what} names the same fact more than once: {'; '.join(repeated)}; "
            f"give each fact one {kind}"
        )


#: the facts every row needs (a header without them fails every row)
_REQUIRED_FACTS = tuple(name for name, spec in FACTS.items() if spec.required)
#: what may stand between words in a column name meant as a fact's (which has _)
_BETWEEN_WORDS = re.compile(r"[\s\-.]+")


def _check_header_facts(
    names: Sequence[str], what: str, sep: str | None = None, auto: bool = False
) -> None:
    """Refuse a header with a column that is not a fact, or without a column for a
    fact every row needs: each row would fail for it, so it is said once, here,
    instead of once a row.

    Args:
        names: the column names (empty for an unnamed column, which holds no fact).
        what: the header, in words ("the CSV header (line 1)").
        sep: the CSV delimiter it was read with (None: not CSV).
        auto: whether ``sep`` was told from the input (not given).

    Raises:
        UnreadableInput: naming each such column, what it may have meant, and the fix.
    """
    unknown = [(number, name) for number, name in enumerate(names, 1) if name and name not in FACTS]
    if unknown:
        said = [f"column {number} {_shown_name(name)}{_meant(name)}" for number, name in unknown]
        count = (
            f"{len(unknown)} columns that are not facts"
            if len(unknown) > 1
            else "a column that is not a fact"
        )
        hint = _delimiter_hint(names, sep, auto) if sep is not None else None
        fix = (
            hint
            if hint is not None
            else f"rename {'each' if len(unknown) > 1 else 'it'} to the fact it holds "
            "(`followup schema facts` lists them), or remove "
            f"{'them' if len(unknown) > 1 else 'it'}"
        )
        raise UnreadableInput(f"{what} names {count}: {'; '.join(said)}; {fix}")
    missing = [name for name in _REQUIRED_FACTS if name not in names]
    if missing:
        raise UnreadableInput(
            f"{what} has no {' or '.join(missing)} column; every row needs "
            f"{'it' if len(missing) == 1 else 'them'}: add the column"
        )


def _shown_name(name: str) -> str:
    text = shown(name)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _meant(name: str) -> str:
    """ " (did you mean 'x'? ...)" for a column name that is not a fact, or ""."""
    canonical = _BETWEEN_WORDS.sub("_", name.strip().lower())
    if canonical in FACTS:
        how = []
        if name != name.lower():
            how.append("lowercase")
        if canonical != name.lower():
            how.append("with _ between words")
        return f" (did you mean '{canonical}'? fact names are {', '.join(how)})"
    close = did_you_mean(canonical, FACTS)
    return f" ({close})" if close else ""


def _delimiter_hint(names: Sequence[str], sep: str, auto: bool) -> str | None:
    """How to read a header whose names are separated by another delimiter than
    ``sep`` (a ;-separated file read as comma-separated), or None."""
    line = sep.join(names)
    known_now = sum(name in FACTS for name in names)
    for char, option in _DELIMITER_OPTION.items():
        if char == sep or char not in line:
            continue
        known = sum(part.strip().strip('"') in FACTS for part in line.split(char))
        if sep in line:  # both between the names: one file, one delimiter
            both = re.split(f"[{re.escape(sep + char)}]", line)
            if sum(part.strip().strip('"') in FACTS for part in both) > max(known, known_now):
                return (
                    f"the header has both {_DELIMITER_WORDS[sep][1]} and "
                    f"{_DELIMITER_WORDS[char][1]} between its names: use one of them "
                    "throughout the file"
                )
        if known >= 2 and known > known_now:
            how = (
                "the file's name ends in .tsv, which is read as tab-separated"
                if auto and sep == "\t" and len(names) == 1
                else f"it has {_DELIMITER_WORDS[sep][1]} too, and those are taken first"
                if auto
                else f"it was read with --csv-delimiter {_option_text(_DELIMITER_OPTION[sep])}"
            )
            return (
                f"the header looks {_DELIMITER_WORDS[char][0]}-separated ({how}): "
                f"add --csv-delimiter {_option_text(option)}"
            )
    return None


def _option_text(option: str) -> str:
    """A ``--csv-delimiter`` value as it is typed in a shell."""
    return option if option == "tab" else f"'{option}'"


def _auto_delimiter(text: io.TextIOWrapper, spec: InputSpec) -> tuple[list[str], str]:
    """The delimiter of CSV input when none is given, and the lines read to tell it
    (for the csv module to read again).

    A ``.tsv`` file is tab-separated. Otherwise the header line (the first that
    is not blank) decides: with a comma, or with none of tab, ``;`` and ``|``,
    it is comma-separated; else the one of those three it holds most of (a tie
    goes to tab, then ``;``). A fact's name holds none of these characters, so
    the header of a file with one column reads the same either way.
    """
    if spec.is_file and spec.path.lower().endswith(_TAB_EXTENSIONS):
        return [], "\t"
    read: list[str] = []
    for line in iter(text.readline, ""):
        read.append(line)
        if line.strip():
            break
    header = read[-1] if read else ""
    if "," in header:
        return read, ","
    counts = {char: header.count(char) for char in ("\t", ";", "|")}
    best = max(counts, key=lambda char: counts[char])  # (the first of equals)
    return read, best if counts[best] else ","


def _check_spans(
    lines: list[int],
    items: list[Any],
    end: int,
    header: tuple[str, ...],
    id_column: int,
    sep: str = ",",
) -> None:
    """Put an error in place of each row with a quoted cell that took in lines
    which look like rows of their own (as many delimiters as the header has): a
    quote that is never closed where it should be, closed by a later one.

    Nothing to do for a chunk whose rows span as many lines as there are rows
    (no row over several lines). ``end`` is the line after the chunk's last row.
    """
    if end - lines[0] == len(lines):
        return
    width = len(header)
    if width < 3:  # a line with a delimiter or two is no sign of a row
        return
    for index, line in enumerate(lines):
        after = lines[index + 1] if index + 1 < len(lines) else end
        cells = items[index]
        if after - line <= 1 or isinstance(cells, BadCsvRow):
            continue
        for number, cell in enumerate(cells):
            if "\n" not in cell and "\r" not in cell:
                continue
            parts = io.StringIO(cell, newline="").readlines()
            if _look_like_rows(parts[1:], width, sep):
                closed = line + len(parts) - 1
                name = header[number] if number < width else f"cell {number + 1}"
                aid = cells[id_column].strip() if id_column < len(cells) else ""
                items[index] = BadCsvRow(
                    Problem(
                        "csv-unclosed-quote",
                        f"the quote that opens the {name} cell at line {line} is closed only "
                        f"at line {closed}, so the cell took in lines {line + 1}-{closed}, "
                        f"which look like rows of their own (they have as many "
                        f"{_DELIMITER_WORDS[sep][1]} as the header); they were not read as rows",
                        "",
                        suggestion="close the quote where the cell ends, or remove it",
                    ),
                    aid if number != id_column and aid else None,
                )
                break
            line += len(parts) - 1


def _look_like_rows(lines: list[str], width: int, sep: str = ",") -> bool:
    """Whether any of ``lines``, taken in by a quoted cell, looks like a row of its
    own: as many delimiters as a header of ``width`` columns has."""
    return any(line.count(sep) >= width - 1 for line in lines)


def _unclosed_quote(
    line: int, opened: int, last: int, applicant_id: str | None, sep: str = ","
) -> BadCsvRow:
    if opened + 1 == last:
        taken = f"; it would have taken in line {last}, which was read as a row of its own"
    elif opened < last:
        taken = (
            f"; it would have taken in lines {opened + 1}-{last} ({last - opened} lines), "
            "which were read as rows of their own"
        )
    else:
        taken = ""
    where = f"line {opened}" if opened == line else f"line {opened} (in the row from line {line})"
    return BadCsvRow(
        Problem(
            "csv-unclosed-quote",
            f"the quote opened at {where} is never closed, so its cell would run "
            f"to the end of the input{taken}",
            "",
            suggestion="close the quote, or remove it: a cell needs quotes only when it "
            f'holds a {_DELIMITER_WORDS[sep][0]}, a line break or a quote (written "")',
        ),
        applicant_id,
    )


def _long_cell(
    exc: csv.Error, line: int, last: int, seekable: bool, whole: bool, applicant_id: str | None
) -> BadCsvRow:
    """The error of a row that the csv module gave up on at line ``last`` (``whole``:
    the row ends there; else its quote most likely is never closed)."""
    if "field larger than field limit" not in str(exc):  # pragma: no cover - csv's other errors
        return BadCsvRow(
            Problem("csv-unreadable", f"this row cannot be read as CSV: {exc}", ""), applicant_id
        )
    limit = f"{_CSV_FIELD_LIMIT:,} characters (1 MiB)"
    if last == line or whole:
        where = "" if last == line else f", on lines {line}-{last},"
        message = f"this row{where} has a cell longer than {limit}, far more than any fact needs"
        suggestion = "shorten the cell, or leave it empty"
    else:
        again = (
            f"lines {line + 1}-{last} were read again as rows of their own"
            if seekable
            else f"lines {line + 1}-{last} were taken in by it (standard input cannot be "
            "read again: give the file's path to have them read as rows)"
        )
        message = (
            f"this row has a quoted cell that runs to line {last} and past {limit} "
            f"without its closing quote, most likely a quote that is never closed; {again}"
        )
        suggestion = "close the quote, or remove it"
    return BadCsvRow(Problem("csv-cell-too-long", message, "", suggestion=suggestion), applicant_id)


def _read_again(
    again: _Again, line: int, last: int, width: int, id_column: int, sep: str = ","
) -> tuple[io.TextIOWrapper, int, str | None, bool]:
    """Read input lines ``line`` to ``last`` again: a row the csv module gave up
    on at line ``last``, for a cell over the limit.

    Returns a text wrapper reading on, the input line it reads first, the row's
    applicant_id (None when it is not a whole cell, or is the cell over the limit),
    and whether the row ends with line ``last``: its quotes are closed there and
    did not take in lines that look like rows. Otherwise the row is most likely a
    quote never closed: the wrapper reads on from line ``line + 1``, so that the
    lines the quote took in are read as rows.
    """
    text = again.at(line)
    try:
        first = text.readline()
        after_first = text.tell()
        cells, closed = _cells([first, *islice(iter(text.readline, ""), last - line)], sep)
        if closed and (
            last == line
            or width < 3
            or not any(
                _look_like_rows(io.StringIO(cell, newline="").readlines()[1:], width, sep)
                for cell in cells
                if "\n" in cell or "\r" in cell
            )
        ):
            again.remember(text.tell(), last + 1)
            whole, found = True, cells
        else:
            if last > line:
                text.seek(after_first)
                cells, closed = _cells([first], sep)
            again.remember(after_first, line + 1)
            # a quote still open at the line's end: its cell (the last) runs on
            whole, found = last == line, cells if closed else cells[:-1]
    except BaseException:
        text.detach()  # (so that the stream is not closed with it)
        raise
    aid = found[id_column].strip() if id_column < len(found) else ""
    return text, again.line, aid if aid and len(aid) <= _CSV_FIELD_LIMIT else None, whole


def _cells(lines: list[str], sep: str = ",") -> tuple[list[str], bool]:
    """The cells of the row that starts ``lines``, read without the cell limit, and
    whether it ends with them (every quote closed by the end of the last line)."""
    limit = csv.field_size_limit(_NO_LIMIT)
    try:
        reader, end = _csv_reader(lines, sep)
        cells: list[str] = next(reader, [])
    except csv.Error:  # pragma: no cover - a cell over 2 GiB
        return [], False
    finally:
        csv.field_size_limit(limit)
    return cells, not end.taken and reader.line_num == len(lines)


def _text(stream: IO[bytes]) -> io.TextIOWrapper:
    # surrogateescape keeps undecodable bytes so the worker can report the
    # one bad row instead of the whole file failing.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")


class _End:
    """The _END line after the input's lines, noting when the csv module asks for
    it: a quote still open at the end of the input takes it in, which a cell that
    merely ends in the same text does not (nothing is asked for after the cell's
    line until its row is used)."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken = False

    def __iter__(self) -> Iterator[str]:
        self.taken = True
        yield _END


def _csv_reader(
    lines: Iterable[str], sep: str = ",", before: Iterable[str] = ()
) -> tuple[Any, _End]:
    """A csv reader of ``before``, ``lines`` then _END, cells separated by ``sep``,
    and the _END it reads."""
    end = _End()
    return csv.reader(chain(before, lines, end), strict=False, delimiter=sep), end


class _Again:
    """Reads lines of a seekable input again (nothing per row until it is asked).

    ``start`` is where the input began (None when it cannot be read again):
    standard input may stand past the start of its file. After each time, it is
    told where to start from the next time (the line the rows go on from), so
    that, however many rows need it, the input is read at most once more.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.start: int | None = None
        try:
            if stream.seekable():
                self.start = stream.tell()
        except (OSError, ValueError):
            self.start = None
        self.line = 1  # the input line that ``position`` is the start of
        self.position: int | None = None  # as the text wrapper's tell() gives it

    def at(self, line: int) -> io.TextIOWrapper:
        """A text wrapper whose next line is input line ``line`` (read it with
        readline, not by iterating, so that its tell() gives positions)."""
        assert self.start is not None
        self.stream.seek(self.start)
        text = _text(self.stream)
        try:
            done = 1
            if self.position is not None and self.line <= line:
                text.seek(self.position)
                done = self.line
            deque(islice(iter(text.readline, ""), line - done), maxlen=0)
        except BaseException:
            text.detach()  # (so that the stream is not closed with it)
            raise
        return text

    def remember(self, position: int, line: int) -> None:
        """Start from ``position`` (a text wrapper's tell()), where input line
        ``line`` begins, the next time."""
        self.position, self.line = position, line


def _tell(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


def _parquet_chunks(spec: InputSpec, chunk_size: int, skip: int) -> Iterator[RawChunk]:
    try:
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise UnreadableInput(
            "reading Parquet needs pyarrow: pip install 'followup[parquet]'"
        ) from exc
    source: Any = (
        spec.path if spec.is_file else io.BytesIO((spec.stream or sys.stdin.buffer).read())
    )
    try:
        parquet = pq.ParquetFile(source)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise UnreadableInput(f"cannot read {spec.path} as Parquet: {exc}") from exc
    _check_header_names(parquet.schema_arrow.names, "the Parquet file", "column")
    _check_header_facts(
        parquet.schema_arrow.names,
        f"the Parquet file {spec.path}" if spec.is_file else "the Parquet input",
    )
    total = parquet.metadata.num_rows or 1
    size = spec.size() or 0
    row = 0
    for batch in parquet.iter_batches(batch_size=chunk_size):
        if row + batch.num_rows <= skip:
            row += batch.num_rows
            continue
        if row < skip:
            batch = batch.slice(skip - row)
            row = skip
        first = row + 1
        row += batch.num_rows
        # The batch travels to the worker as Arrow buffers and becomes dicts there.
        yield RawChunk("arrow", first, [], [batch], None, size * row // total)
