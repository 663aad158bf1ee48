"""Reading users' files for the CLI: facts documents, dates on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from followup.engine import FactsError, Problem
from followup.engine._facts import parse_moment
from followup.engine._yaml import load_yaml


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
        try:
            return json.loads(text), name, None
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
    doc = load_yaml(text, name)
    if doc.problems:
        raise FactsError(doc.problems)
    return doc.data, name, doc.positions


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
