"""Rendering decisions as output rows: JSONL lines or spreadsheet-safe CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from .._facts import ACTIONS
from .._rows import next_recommendation
from ._job import Decision

__all__ = ["CSV_COLUMNS", "csv_header", "csv_row", "neutralise", "next_recommendation"]

_NEXT = ("action", "status", "earliest", "latest", "channel", "rule")

#: Columns of ``--output-format csv``: the next action, then one status column per action.
CSV_COLUMNS: tuple[str, ...] = (
    "applicant_id",
    "as_of",
    *(f"next_{key}" for key in _NEXT),
    *ACTIONS,
    "cautions",
)

# A spreadsheet runs a cell starting with one of these as a formula
# (CSV injection); a leading apostrophe makes it plain text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Return ``cell`` made safe to open in a spreadsheet."""
    if cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _RowWriter:
    """Writes single CSV rows to text, reusing one buffer."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def render(self, cells: Sequence[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow([neutralise(cell) for cell in cells])
        return self._buffer.getvalue()


_ROW_WRITER = _RowWriter()


def csv_header() -> str:
    """The CSV output's header line."""
    return _ROW_WRITER.render(CSV_COLUMNS)


def csv_row(decision: Decision) -> str:
    """One decision as a CSV line (with its line ending), cells neutralised.

    The next_* cells hold the first recommendation not yet done, and are empty
    when every one is done (or there is none); ``cautions`` holds the cautions' ids.
    """
    view = decision.view()  # read only: nothing here changes it
    recs = view["recommendations"]
    nxt: Mapping[str, Any] = {}
    for rec in recs:
        if rec.get("status") != "done":
            nxt = rec
            break
    by_action: dict[str, str] = {}
    for rec in recs:
        by_action.setdefault(str(rec.get("action")), _text(rec.get("status")))
    codes = []
    for caution in view["cautions"]:
        codes.append(_text(caution.get("id") if isinstance(caution, Mapping) else caution))
    cells = [
        _text(decision.applicant_id),
        _text(decision.as_of),
        *(_text(nxt.get(key)) for key in _NEXT),
        *(by_action.get(action, "") for action in ACTIONS),
        ";".join(codes),
    ]
    return _ROW_WRITER.render(cells)
