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
import os
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import IO, Any

from .._errors import FollowupError

__all__ = [
    "INPUT_FORMATS",
    "InputSpec",
    "RawChunk",
    "UnreadableInput",
    "detect_format",
    "read_chunks",
]

INPUT_FORMATS = ("csv", "jsonl", "parquet")

_EXTENSIONS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# csv.field_size_limit defaults to 128 KiB; a fact never needs more, but a
# clearer error than the csv module's beats a silent raise of the limit.
_CSV_FIELD_LIMIT = 1 << 20


class UnreadableInput(FollowupError):
    """The input as a whole cannot be read (missing file, wrong format, no header)."""


@dataclass(frozen=True)
class InputSpec:
    """Where the cohort comes from.

    Attributes:
        path: a file path, or "-" for ``stream``.
        format: "csv", "jsonl" or "parquet".
        stream: a binary stream to read when ``path`` is "-" (e.g. stdin).
    """

    path: str
    format: str
    stream: IO[bytes] | None = field(default=None, compare=False)

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
    """

    kind: str
    first_row: int
    lines: list[int]
    items: list[Any]
    header: tuple[str, ...] | None = None
    position: int = 0


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
            yield from _csv_chunks(stream, chunk_size, skip)
        else:
            yield from _jsonl_chunks(stream, chunk_size, skip)
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


def _jsonl_chunks(stream: IO[bytes], chunk_size: int, skip: int) -> Iterator[RawChunk]:
    # Lines are read and sorted a block at a time by C loops (readlines, map,
    # accumulate): one Python step per line cost the main process about 4 µs a row.
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


def _csv_chunks(stream: IO[bytes], chunk_size: int, skip: int) -> Iterator[RawChunk]:
    # surrogateescape keeps undecodable bytes so the worker can report the
    # one bad row instead of the whole file failing.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(text, strict=False)
    try:
        try:
            header = tuple(cell.strip() for cell in next(reader))
        except StopIteration:
            return
        if not any(header):
            raise UnreadableInput(
                "the CSV file's first line must name the facts, e.g. applicant_id,interview_at"
            )
        row = 0
        lines: list[int] = []
        items: list[Any] = []
        line_no = reader.line_num + 1
        for cells in reader:
            start, line_no = line_no, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            row += 1
            if row <= skip:
                continue
            lines.append(start)
            items.append(cells)
            if len(items) >= chunk_size:
                yield RawChunk("csv", row - len(items) + 1, lines, items, header, _tell(stream))
                lines, items = [], []
        if items:
            yield RawChunk("csv", row - len(items) + 1, lines, items, header, _tell(stream))
    except csv.Error as exc:
        raise UnreadableInput(
            f"the CSV input cannot be read at line {reader.line_num}: {exc}"
        ) from exc
    finally:
        text.detach()


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
