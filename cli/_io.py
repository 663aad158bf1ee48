"""Reading users' files for the CLI: facts documents, dates on the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from followup.engine import FactsError, Problem
from followup.engine._errors import json_fix, other_date, show_value
from followup.engine._facts import parse_moment
from followup.engine._yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    TOO_DEEP,
    Positions,
    escape_pointer,
    load_yaml,
)


def read_facts(path: str) -> tuple[Any, str, Any]:
    """(data, display name, positions) of a YAML or JSON facts file; ``-`` is stdin."""
    if path == "-":
        text = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        name = path
    if name.endswith((".jsonl", ".ndjson")) or _several_objects(text):
        _cohort_given(path)
    positions: Positions
    if name.endswith(".json"):
        data, positions = _read_json(text, name)
    else:
        doc = load_yaml(text, name)
        if doc.problems:
            raise FactsError(doc.problems)
        data, positions = doc.data, doc.positions
    if not isinstance(data, dict):
        raise FactsError([_not_facts(data, name, positions, json_file=name.endswith(".json"))])
    return data, name, positions


def _several_objects(text: bytes) -> bool:
    """Whether ``text`` holds several JSON objects, one a line (a cohort)."""
    lines = [line.strip() for line in text[: 1 << 16].splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.startswith(b"{") for line in lines[:2]):
        return False
    try:
        return all(isinstance(json.loads(line), dict) for line in lines[:2])
    except ValueError:
        return False


def _cohort_given(path: str) -> None:
    """Stop: a cohort (one JSON object a line) was given for one interview's facts."""
    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx is not None and ctx.info_name else "this command"
    batch = f"followup batch {path}" + (
        "" if path.endswith((".jsonl", ".ndjson", ".json")) else " --input-format jsonl"
    )
    raise click.UsageError(
        f"{path} holds a cohort (one JSON object a line); {command} takes the facts of one "
        f"interview: for a cohort of one JSON object per line use `{batch}`"
    )


def _not_facts(data: Any, name: str, positions: Positions, *, json_file: bool) -> Problem:
    """The whole file is empty, or is a list or a single value instead of facts."""
    example = (
        '{"interview_at": "2026-03-02", "stage": "final"}'
        if json_file
        else "'interview_at: 2026-03-02', one fact a line"
    )
    if data is None:
        what, fix = "is empty", "add the facts you know; interview_at is required"
    elif isinstance(data, list):
        what = "holds a list"
        fix = (
            f"for one interview, {'remove the [ ] around it' if json_file else 'remove the - in front'}; "
            "for several, write one object a line in a .jsonl file for `followup batch`"
        )
    else:
        kind = {str: "only text", bool: "only true or false"}.get(type(data), "only a number")
        what, fix = f"holds {kind}", "write each fact as its name and its value"
    return Problem.at(
        positions.of("") or (1, 1),
        "facts-not-mapping",
        f"the file {what}; a facts file names the facts about one interview with their "
        f"values, such as {example}",
        "",
        name,
        fix,
    )


def _read_json(data: bytes, name: str) -> tuple[Any, Positions]:
    """A JSON facts document, within the same size and nesting limits as YAML, and
    without repeated keys (JSON readers silently keep the last, YAML refuses them)."""
    if len(data) > MAX_BYTES:
        raise FactsError(
            [
                Problem(
                    "too-large",
                    f"the file is {len(data)} bytes; at most {MAX_BYTES} are read",
                    "",
                    name,
                    1,
                    1,
                )
            ]
        )
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        mapping = dict(items)
        repeated = repeated or len(mapping) != len(items)
        return mapping

    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass")  # as json.loads does
        if not text.strip():
            return None, Positions()
        _check_json_depth(text, name)
        value = json.loads(text, object_pairs_hook=pairs)
    except UnicodeDecodeError as exc:
        raise FactsError([_not_utf8_json(data, exc, name)]) from exc
    except json.JSONDecodeError as exc:
        problem = Problem(
            "json-syntax",
            f"the JSON cannot be read: {exc.msg}",
            "",
            name,
            exc.lineno,
            exc.colno,
            json_fix(exc.msg),
        )
        raise FactsError([problem]) from exc
    except ValueError as exc:  # a number of thousands of digits, which Python will not read
        raise FactsError([_too_long_number(text, name)]) from exc
    positions = _JsonPositions(text)
    if repeated:
        raise FactsError(
            [
                Problem.at(
                    second,
                    "duplicate-key",
                    f"the key '{key}' appears twice in this object, at line {first[0]} "
                    f"column {first[1]} and at line {second[0]} column {second[1]}; "
                    "JSON readers would silently keep only the last",
                    pointer,
                    name,
                    "remove or rename one of them",
                    key,
                )
                for key, pointer, first, second in positions.repeated()
            ]
        )
    return value, positions


def _too_long_number(text: str, name: str) -> Problem:
    """The first number of a JSON document too long to be read, at its place."""
    longest = sys.get_int_max_str_digits() or 4300
    found = next(
        (
            m
            for m in re.finditer(r'"(?:[^"\\]|\\.)*"|-?\d{' + str(longest + 1) + ",}", text)
            if not m.group().startswith('"')  # digits inside text are read as text
        ),
        None,
    )
    at = found.start() if found else 0
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    digits = len(found.group().lstrip("-")) if found else 0
    return Problem(
        "too-long-number",
        f"the number at line {line} column {column} has {digits} digits, too many to be read",
        "",
        name,
        line,
        column,
        "write a smaller number; a facts file needs no number longer than a few digits",
    )


def _not_utf8_json(data: bytes, exc: UnicodeDecodeError, name: str) -> Problem:
    """The first byte of a JSON file that is not UTF-8, at its line and column."""
    problem = load_yaml(data, name).problems[0]  # the same words as for YAML files
    if problem.code == "not-utf8":
        return problem
    return Problem("not-utf8", f"the file is not UTF-8 text ({exc.reason})", "", name, 1, 1)


#: one JSON string, or the first character of anything else (in a valid document)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s]')


class _JsonPositions(Positions):
    """Positions of the values and keys of a valid JSON document, found on first use."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text: str | None = text
        self._repeated: list[tuple[str, str, tuple[int, int], tuple[int, int]]] = []

    def of(self, pointer: str, *, key: bool = False) -> tuple[int, int] | None:
        self._scan()
        return super().of(pointer, key=key)

    def repeated(self) -> list[tuple[str, str, tuple[int, int], tuple[int, int]]]:
        """(key, pointer, first position, second position) of every repeated key."""
        self._scan()
        return self._repeated

    def _scan(self) -> None:
        """One pass over the tokens, keeping where each value and each key starts."""
        text, self._text = self._text, None
        if text is None:
            return
        stack: list[_Open] = []  # the lists and objects open around the token
        line, line_start, seen = 1, 0, 0
        for match in _JSON_TOKEN.finditer(text):
            at, token = match.start(), match.group()
            newlines = text.count("\n", seen, at)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", seen, at) + 1
            seen = at
            position = (line, at - line_start + 1)
            top = stack[-1] if stack else None
            if token == ":":
                continue
            if token == ",":
                if top is not None and top.keys is not None:
                    top.key = None  # a key comes next
                continue
            if token in "]}":
                stack.pop()
                continue
            if top is not None and top.keys is not None and top.key is None:
                top.key = json.loads(token)
                child = f"{top.pointer}/{escape_pointer(top.key)}"
                if top.key in top.keys:
                    self._repeated.append((top.key, child, top.keys[top.key], position))
                else:
                    top.keys[top.key] = position
                    self.put(child, position, key=True)
                continue
            if top is None:
                pointer = ""
            elif top.keys is not None:
                pointer = f"{top.pointer}/{escape_pointer(top.key or '')}"
            else:
                pointer = f"{top.pointer}/{top.index}"
                top.index += 1
            self.put(pointer, position)
            if token in "[{":
                stack.append(_Open(pointer, {} if token == "{" else None))


class _Open:
    """A list or object open while scanning JSON: its pointer, the next item's
    index (lists) or the key being read (objects; None until it is read), and the
    keys seen so far with their positions (objects only)."""

    __slots__ = ("index", "key", "keys", "pointer")

    def __init__(self, pointer: str, keys: dict[str, tuple[int, int]] | None) -> None:
        self.pointer = pointer
        self.keys = keys
        self.key: str | None = None
        self.index = 0


#: the characters that open or close a list, a mapping or a string, or escape
_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')


def _check_json_depth(text: str, name: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before ``json.loads`` recurses into it.

    One pass over the structural characters; brackets inside strings do not count.
    """
    depth = 0
    in_string = False
    escaped_until = -1  # the character after a backslash is part of the string
    for match in _JSON_STRUCTURE.finditer(text):
        at, char = match.start(), match.group()
        if at <= escaped_until:
            continue
        if in_string:
            if char == "\\":
                escaped_until = at + 1
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise FactsError([_too_deep(text, at, name)])
        elif char in "]}":
            depth -= 1


def _too_deep(text: str, at: int, name: str) -> Problem:
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    return Problem(
        "too-deep",
        TOO_DEEP,
        "",
        name,
        line,
        column,
        "flatten the structure; a facts file needs only a few levels",
    )


def parse_as_of(value: str | None) -> Any:
    """--as-of: an ISO date or date-time; None stays None (the engine then uses now)."""
    if value is None:
        return None
    try:
        return parse_moment(value)
    except (ValueError, OverflowError) as exc:
        other = other_date(value.strip())
        raise click.BadParameter(
            f"{show_value(value)} is not an ISO date (2026-03-02) or date-time (2026-03-02T14:30)"
            + (f"; {other[1]}" if other else ""),
            param_hint="--as-of",
        ) from exc
