"""Reading users' files for the CLI: facts documents, dates on the command line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from followup.engine import FactsError, Problem
from followup.engine._facts import parse_moment
from followup.engine._yaml import MAX_BYTES, MAX_DEPTH, load_yaml


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
    if name.endswith(".json"):
        return _read_json(text, name), name, None
    doc = load_yaml(text, name)
    if doc.problems:
        raise FactsError(doc.problems)
    return doc.data, name, doc.positions


def _read_json(data: bytes, name: str) -> Any:
    """A JSON facts document, within the same size and nesting limits as YAML."""
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
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass")  # as json.loads does
        _check_json_depth(text, name)
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problem = Problem(
            "json-syntax",
            f"the JSON cannot be read: {getattr(exc, 'msg', exc)}",
            "",
            name,
            getattr(exc, "lineno", None),
            getattr(exc, "colno", None),
        )
        raise FactsError([problem]) from exc


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
        f"lists and mappings are nested more than {MAX_DEPTH} levels deep here",
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
        raise click.BadParameter(
            f"{value!r} is not an ISO date (2026-03-02) or date-time (2026-03-02T14:30)",
            param_hint="--as-of",
        ) from exc
