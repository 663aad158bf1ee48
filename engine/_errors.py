"""Errors and problems.

Every mistake in a user's file becomes a :class:`Problem` carrying the file, a
1-based line:column, a JSON pointer into the document, a short code and, where
it helps, a suggestion. Problems are collected and raised together inside one
error of the stage that found them.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date as _date
from typing import Any

__all__ = [
    "FactsError",
    "FollowupError",
    "PolicyError",
    "PolicyNotFound",
    "Problem",
    "did_you_mean",
    "json_error_words",
    "json_fix",
    "json_kind",
    "other_date",
    "show_value",
    "yaml_number",
]


@dataclass(frozen=True)
class Problem:
    """One precise, actionable finding about a policy or facts file.

    Attributes:
        code: short kebab-case identifier, stable across versions.
        message: what is wrong, written for a career coach.
        pointer: JSON pointer into the document ("" for the whole document).
        file: the file's path as given, or None for in-memory data.
        line: 1-based line, or None when unknown.
        column: 1-based column, or None when unknown.
        suggestion: how to fix it, or None.
        value: the offending value, when there is one.
    """

    code: str
    message: str
    pointer: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None
    value: Any = field(default=None, compare=False)

    @classmethod
    def at(
        cls,
        position: tuple[int, int] | None,
        code: str,
        message: str,
        pointer: str = "",
        file: str | None = None,
        suggestion: str | None = None,
        value: Any = None,
    ) -> Problem:
        """A problem at a (line, column) position, or without one when it is None."""
        line, column = position if position else (None, None)
        return cls(code, message, pointer, file, line, column, suggestion, value)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file or "", self.line or 0, self.column or 0, self.pointer, self.code)

    def render(self) -> str:
        """Render as ``file:line:col: code: pointer: message (fix: ...)``."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.code}: {self.pointer or '/'}: {self.message}"
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "pointer": self.pointer,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "suggestion": self.suggestion,
            "value": _jsonable(self.value),
        }


def _jsonable(value: Any) -> Any:
    """A problem's value as strict JSON can hold it (``--format json`` must parse
    anywhere): NaN and infinities as YAML writes them (.nan, .inf, -.inf, as the
    messages do), dates as ISO text, anything else unusual as text."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return _json_value(value, 0)
    return value


def _json_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else yaml_number(value)
    if depth >= _MAX_SHOWN_DEPTH:
        return show_value(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v, depth + 1) for v in value]
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def yaml_number(number: float) -> str:
    """How YAML writes a number JSON has no words for: .nan, .inf or -.inf."""
    if math.isnan(number):
        return ".nan"
    return ".inf" if number > 0 else "-.inf"


#: text YAML reads back as the same text without quotes (in a list or mapping
#: written on one line): words, and expressions such as ``interview_at + 2 days``
_PLAIN = re.compile(r"[A-Za-z_$][\w$.@/+*()'-]*(?: [\w$.@/+*()'-]+)*")
#: plain words YAML (1.1, as most editors read it) would not take as text
_NOT_TEXT = {"true", "false", "yes", "no", "on", "off", "null"}
#: lists and mappings shown inside one another before "…" stands for the rest
_MAX_SHOWN_DEPTH = 4


class _Full(Exception):
    """The text of a value being shown reached its length limit."""


def show_value(value: Any, limit: int = 80, *, quote: bool = True) -> str:
    """A value as a message quotes it: the way it is written in YAML (or JSON).

    ``true`` not True, ``null``, ``.nan``, text in single quotes (double quotes
    with escapes when it holds a tab or line break), lists as ``[a, b]`` and
    mappings as ``{key: value}``; cut with "…" after about ``limit`` characters.
    With ``quote=False``, text YAML would read back unchanged is not quoted
    (as inside a list or mapping).
    """
    shown = _Shown(limit)
    try:
        shown.walk(value, 0, quote)
    except _Full:
        return "".join(shown.out)[:limit].rstrip() + "…"
    return "".join(shown.out)


class _Shown:
    """The text of a value being shown (a class, not nested functions: those
    would make a reference cycle on every call, which only the cyclic
    collector frees, and batch runs let that collector run rarely)."""

    __slots__ = ("budget", "out")

    def __init__(self, limit: int) -> None:
        self.out: list[str] = []
        self.budget = limit

    def put(self, text: str) -> None:
        self.out.append(text)
        self.budget -= len(text)
        if self.budget < 0:
            raise _Full

    def walk(self, item: Any, depth: int, quoted: bool) -> None:
        if isinstance(item, dict | list | tuple) and depth >= _MAX_SHOWN_DEPTH:
            self.put("{…}" if isinstance(item, dict) else "[…]")
        elif isinstance(item, dict):
            self.put("{")
            for i, (key, sub) in enumerate(item.items()):
                self.put(", " if i else "")
                self.walk(key, depth + 1, False)
                self.put(": ")
                self.walk(sub, depth + 1, False)
            self.put("}")
        elif isinstance(item, list | tuple):
            self.put("[")
            for i, sub in enumerate(item):
                self.put(", " if i else "")
                self.walk(sub, depth + 1, False)
            self.put("]")
        else:
            self.put(_scalar(item, quoted))


def _scalar(value: Any, quote: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 100:
            return f"a number of about {value.bit_length() * 3 // 10} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else yaml_number(value)
    text: str
    if isinstance(value, str):
        text = value
    else:
        isoformat = getattr(value, "isoformat", None)
        text = str(isoformat() if callable(isoformat) else value)
    if not quote and _PLAIN.fullmatch(text) and text.lower() not in _NOT_TEXT:
        return text
    if any(c < " " or c == "\x7f" for c in text):
        return _escaped(json.dumps(text, ensure_ascii=False))  # YAML reads JSON's escapes
    if any(_invisible(c) for c in text):
        return _escaped(json.dumps(text, ensure_ascii=False))
    return "'" + text.replace("'", "''") + "'"


def _invisible(char: str) -> bool:
    """A character that shows as nothing or as a plain space: a byte order mark or a
    zero-width space pasted in with text, a no-break space (a message would look
    as if the text were right)."""
    return char != " " and unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp", "Co", "Cn")


def _escaped(quoted: str) -> str:
    """Double-quoted text with its invisible characters written as YAML escapes."""
    return "".join(
        (f"\\u{ord(c):04X}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08X}") if _invisible(c) else c
        for c in quoted
    )


class FollowupError(Exception):
    """Root of every error this package raises on purpose."""


class _ProblemsError(FollowupError):
    stage = "input"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(problems, key=Problem.sort_key)
        super().__init__(self._summary())

    def _summary(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the {self.stage}"
        return head + ":\n" + "\n".join(p.render() for p in self.problems)


class PolicyError(_ProblemsError):
    """A policy could not be loaded or compiled; ``problems`` lists every reason."""

    stage = "policy"


class FactsError(_ProblemsError):
    """Facts about an interview are invalid; ``problems`` lists every field error."""

    stage = "facts"


class PolicyNotFound(FollowupError):
    """No policy of that name, version or path exists."""


def did_you_mean(word: str, choices: Sequence[str] | Iterable[str]) -> str | None:
    """Return "did you mean 'x'?" for the closest choice, or None."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def json_fix(msg: str) -> str | None:
    """A fix for the JSON syntax errors people make when they edit by hand, from
    the json module's message ``msg`` (a facts file's, a cohort line's)."""
    if msg.startswith("Expecting property name"):
        return "remove the comma after the last item, or put the key in double quotes"
    if msg.startswith("Expecting ',' delimiter"):
        return "add a comma between the items, or close the brackets that are open"
    if msg.startswith("Expecting value"):
        return "write a value here: text in double quotes, a number, true, false or null"
    if msg.startswith("Invalid control character"):
        return "write line breaks and tabs inside text as \\n and \\t"
    if msg.startswith("Extra data"):
        return "a facts file holds one object { ... }; remove what follows it"
    return None


#: a date written the way people write it, not year-month-day with two digits
#: each (12/01/2026, 12.01.26, 2026/1/12; 2026-3-1 or 1-3-2026, which an
#: expression would read as subtractions): the day and month, then the year,
#: or the year first
_OTHER_DATE = re.compile(
    r"(\d{1,4})([/.])(\d{1,2})\2(\d{2,4})"
    r"|(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])"
    r"|(\d{1,2})-(\d{1,2})-(\d{4})(?![\d-])"
)


def other_date(text: str, start: int = 0) -> tuple[str, str] | None:
    """A date written otherwise than year-month-day with two digits each, at
    ``start`` of ``text``: (the date as written, how to write it), or None."""
    found = _OTHER_DATE.match(text, start)
    if found is None:
        return None
    groups = [g for g in found.groups() if g is not None]
    first, second, third = (groups[0], groups[2], groups[3]) if len(groups) == 4 else groups
    written = found.group(0)
    if written[4:5] == "-" and all(len(p) == 2 for p in (second, third)):
        return None  # 2026-03-01 is how dates are written
    clock = _CLOCK.match(text, found.end())
    time = f"T{int(clock.group(1)):02d}:{clock.group(2)}{clock.group(3) or ''}" if clock else ""
    return written + (clock.group(0) if clock else ""), _date_fix(
        written, first, second, third, time
    )


#: the time of day after a date (T14:30, 9:05:00)
_CLOCK = re.compile(r"[T ](\d{1,2}):(\d{2})(:\d{2})?(?![\d:])")


def _date_fix(written: str, first: str, second: str, third: str, time: str = "") -> str:
    """How to write the date of three numbers (and the time of day after them):
    year first when the first has four digits, else month/day or day/month and
    the year."""
    if len(first) == 4:  # 2026/01/12, 2026-1-12: year first already
        candidates = [(first, second, third)]
    else:
        year = third if len(third) == 4 else f"20{third}"
        candidates = [(year, first, second), (year, second, first)]  # month/day, day/month
    ways: list[str] = []
    for year, month, day in candidates:
        try:
            ways.append(_date(int(year), int(month), int(day)).isoformat() + time)
        except ValueError:
            continue
    if len(set(ways)) == 1:
        return f"write {ways[0]}"
    if len(ways) == 2:
        return f"write {ways[0]} if {written} is month/day, or {ways[1]} if it is day/month"
    return "write the date as year-month-day, e.g. 2026-03-31"


#: what a line that is JSON but not an object holds, in JSON's words
_JSON_KINDS: dict[type, str] = {
    list: "a JSON list",
    str: "a JSON text (string)",
    int: "a JSON number",
    float: "a JSON number",
    bool: "true or false",
    type(None): "null",
}


def json_kind(value: Any) -> str:
    """What a JSON value that is not an object is, in JSON's words ("a JSON list")."""
    return _JSON_KINDS.get(
        type(value), "a JSON object" if isinstance(value, dict) else "a JSON value"
    )


#: Python's words for a value, where JSON has its own
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_WORD = re.compile(r"[A-Za-z_]\w*")


def json_error_words(exc: ValueError) -> tuple[str, str]:
    """What is wrong with a line (or file) that is not JSON, in plain words with its column,
    and how to fix it; only ever called for a line that failed.

    The common mistakes of JSON written by hand or by a script that is not a
    JSON writer: a comma after the last item, single quotes, Python's True,
    False and None, a missing comma, more after the object. The rest keeps
    the json module's words, with the fix ``followup evaluate`` gives for them.
    """
    if not isinstance(exc, json.JSONDecodeError):
        if "Exceeds the limit" in str(exc):  # Python reads at most 4,300 digits
            return (
                "a number has too many digits to be read",
                "write a smaller number; no fact needs more than a few digits",
            )
        return str(exc), "one JSON object per line"
    msg, doc, pos = exc.msg, exc.doc, exc.pos
    if not doc[pos:].strip():  # (the line's own newline is not a line of its own)
        at = "at the end of the line"
    elif exc.lineno == 1:
        at = f"at column {exc.colno}"
    else:
        at = f"at line {exc.lineno} column {exc.colno}"
    here = doc[pos : pos + 1]
    before = doc[:pos].rstrip()[-1:]
    expecting_value = msg.startswith("Expecting value")
    if msg.startswith("Expecting property name") or expecting_value:
        if here == "'":
            return (
                f"{at}, text is in single quotes ('...'); JSON puts names and text "
                'in double quotes ("...")',
                "write \"...\" instead of '...'",
            )
        if before == "," and here in ("}", "]"):
            return (
                f"{at}, a comma comes after the last item, right before the closing {here}",
                "remove the comma after the last item",
            )
    word = _WORD.match(doc, pos)
    if expecting_value and word is not None and word.group() in _PYTHON_WORDS:
        python = word.group()
        return (
            f"{at}, {python} is written as in Python; JSON writes {_PYTHON_WORDS[python]}",
            "write true, false and null in lowercase",
        )
    if msg.startswith("Expecting property name") and word is not None:
        return (
            f"{at}, the name {word.group()} is not in double quotes",
            f'write it "{word.group()}"',
        )
    if msg.startswith("Expecting ',' delimiter"):
        return (
            f"{at}, a comma is missing between two items (or a bracket opened before is "
            "not closed)",
            json_fix(msg) or "one JSON object per line",
        )
    if msg.startswith("Expecting ':' delimiter"):
        return f"{at}, a name is not followed by ':'", 'write "name": value'
    if msg.startswith("Extra data"):
        end = "the object's closing }" if before == "}" else "the end of the JSON value"
        return (
            f"{at}, there is more after {end}",
            "one JSON object per line: remove what follows the object, or put it on a line "
            "of its own",
        )
    if msg.startswith("Invalid control character") and here in ("\n", "\r"):
        # the line ends inside text: say where the text began
        msg, pos = "Unterminated string", doc.rfind('"', 0, pos)
        at = f"at column {pos - doc.rfind(chr(10), 0, pos)}"
    if msg.startswith("Unterminated string"):
        return (
            f"{at}, a quote opens text that is never closed",
            'close the text with a double quote ("), or write a quote inside it as \\"',
        )
    if msg.startswith("Invalid control character"):
        return (
            f"{at}, text holds a control character ({here!r}), which JSON writes as an escape",
            json_fix(msg) or "one JSON object per line",
        )
    if expecting_value:
        what = (
            f"{word.group()} is not a JSON value"
            if word is not None
            else f"a value is missing before {here!r}"
            if here.strip()
            else "a value is missing"
        )
        return f"{at}, {what}", json_fix(msg) or "one JSON object per line"
    return f"{at}: {msg}", json_fix(msg) or "one JSON object per line"
