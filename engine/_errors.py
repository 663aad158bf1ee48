"""Errors and problems.

Every mistake in a user's file becomes a :class:`Problem` carrying the file, a
1-based line:column, a JSON pointer into the document, a short code and, where
it helps, a suggestion. Problems are collected and raised together inside one
error of the stage that found them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FactsError",
    "FollowupError",
    "PolicyError",
    "PolicyNotFound",
    "Problem",
    "did_you_mean",
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
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


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
