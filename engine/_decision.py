"""The decision: what to do and when, and why, for one interview."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

__all__ = ["Decision"]


class Decision:
    """The outcome of evaluating one interview's facts against a policy.

    The decision's content is the dict returned by :meth:`to_dict`, whose
    shape is ``decision.schema.json``.
    """

    __slots__ = ("_data", "_fired")

    def __init__(self, data: dict[str, Any], fired: list[str] | None = None) -> None:
        """``data`` is the content; ``fired`` the ids of the rules that fired, when
        its ``trace.fired`` entries are JSON bytes (None: read them from the entries)."""
        self._data = data
        self._fired = fired

    @property
    def applicant_id(self) -> str | None:
        value = self._data["applicant_id"]
        return value if isinstance(value, str) else None

    @property
    def as_of(self) -> str:
        return str(self._data["as_of"])

    @property
    def recommendations(self) -> list[dict[str, Any]]:
        return [{**r, "cite": list(r["cite"])} for r in self._data["recommendations"]]

    @property
    def cautions(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self._data["cautions"]]

    @property
    def derived(self) -> dict[str, Any]:
        return {k: {**v, "inputs": dict(v["inputs"])} for k, v in self._data["derived"].items()}

    @property
    def fired(self) -> list[str]:
        """Ids of the rules that fired, in firing order."""
        if self._fired is not None:
            return list(self._fired)
        return [entry["rule"] for entry in self._data["trace"]["fired"]]

    def fired_ids(self) -> tuple[str, ...]:
        """:attr:`fired` as a tuple: for the engine's own decisions made straight
        from the ids it kept, without a list copied first (the batch reads it
        for every row)."""
        return tuple(self._fired if self._fired is not None else self.fired)

    def view(self) -> Mapping[str, Any]:
        """The decision's content without copying it: read only (for counters in hot loops).

        The trace's entries may be held as their JSON bytes (``orjson.Fragment``,
        with trace "none" or "fired"): read them through :meth:`to_dict`, and
        which rules fired through :attr:`fired`.
        """
        return MappingProxyType(self._data)

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain JSON-ready data (the caller may keep and change it)."""
        data: dict[str, Any] = orjson.loads(self.to_bytes())
        return data

    def to_bytes(self) -> bytes:
        """Canonical compact JSON as UTF-8 bytes: fixed key order, no spaces.

        Byte-identical for equal decisions, whichever process or backend made them.
        """
        return orjson.dumps(self._data)

    def to_line(self) -> bytes:
        """:meth:`to_bytes` and a newline: one line of JSON Lines, made in one go."""
        return orjson.dumps(self._data, option=orjson.OPT_APPEND_NEWLINE)

    def to_json(self, *, indent: int | None = None) -> str:
        """Canonical compact JSON text (see :meth:`to_bytes`), or indented for people."""
        if indent is None:
            return self.to_bytes().decode("utf-8")
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        actions = ", ".join(f"{r['action']}:{r['status']}" for r in self._data["recommendations"])
        return f"Decision(applicant_id={self._data['applicant_id']!r}, as_of={self.as_of!r}, [{actions}])"
