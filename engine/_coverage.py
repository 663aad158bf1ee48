"""Rule coverage of a policy's test cases.

A rule is covered when the cases show both sides of it: it fired in at least
one case and, when it has conditions, it did not fire in at least one other.
A rule without conditions is covered once it fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._policy import Policy

__all__ = ["Coverage", "rule_coverage"]


@dataclass(frozen=True)
class Coverage:
    """Which rules the cases exercised.

    Attributes:
        rules: every rule id, in match order.
        never_fired: rules that fired in no case.
        never_failed: rules with conditions that fired in every case.
        percent: covered rules / all rules * 100, rounded down to one decimal.
    """

    policy: str
    rules: tuple[str, ...]
    never_fired: tuple[str, ...]
    never_failed: tuple[str, ...]

    @property
    def covered(self) -> int:
        return len(self.rules) - len(set(self.never_fired) | set(self.never_failed))

    @property
    def percent(self) -> float:
        if not self.rules:
            return 100.0
        return int(self.covered * 1000 / len(self.rules)) / 10

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rules": len(self.rules),
            "covered": self.covered,
            "percent": self.percent,
            "never_fired": list(self.never_fired),
            "never_failed": list(self.never_failed),
        }


def rule_coverage(policy: Policy, decisions: Iterable[Mapping[str, Any]]) -> Coverage:
    """Coverage of ``policy``'s rules by decisions (each with a trace of fired rules)."""
    fired: set[str] = set()
    not_fired: set[str] = set()
    for d in decisions:
        fired.update(e["rule"] for e in d["trace"]["fired"])
        not_fired.update(e["rule"] for e in d["trace"]["not_fired"])
    rules = policy.compiled.rules
    return Coverage(
        f"{policy.name}@{policy.version}",
        tuple(r.id for r in rules),
        tuple(r.id for r in rules if r.id not in fired),
        tuple(
            r.id for r in rules if r.when is not None and r.id in fired and r.id not in not_fired
        ),
    )
