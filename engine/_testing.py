"""Policy tests written as YAML cases.

A test file ``<version>.tests.yaml`` sits next to the policy it tests. Each
case gives facts, the moment of evaluation and what the decision must
contain. Lists match as subsets: every expected item must be found, other
items may be present too; an expected recommendation is compared only on the
keys it gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import FactsError, PolicyError, Problem
from ._policy import Policy
from ._schema import schema_problems
from ._yaml import Positions, load_yaml

__all__ = [
    "CaseFile",
    "CaseResult",
    "Mismatch",
    "PolicyCase",
    "load_tests",
    "run_case",
    "run_tests",
    "tests_path_for",
]


@dataclass(frozen=True)
class PolicyCase:
    name: str
    index: int
    facts: Mapping[str, Any]
    as_of: str | None
    expect: Mapping[str, Any]
    line: int | None


@dataclass(frozen=True)
class CaseFile:
    path: Path
    policy_ref: str | None
    cases: tuple[PolicyCase, ...]

    def policy_target(self) -> str:
        """What to load: the file's ``policy`` (NAME@VERSION or relative path) or the sibling policy."""
        if self.policy_ref:
            candidate = self.path.parent / self.policy_ref
            if self.policy_ref.endswith((".yaml", ".yml")):
                return str(candidate)
            return self.policy_ref
        stem = self.path.name.removesuffix(".tests.yaml")
        return str(self.path.parent / f"{stem}.yaml")


@dataclass(frozen=True)
class Mismatch:
    """One expectation not met: where, what was expected, what was found."""

    where: str
    expected: Any
    actual: Any
    message: str


@dataclass
class CaseResult:
    case: PolicyCase
    mismatches: list[Mismatch] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.problems


def tests_path_for(policy_path: Path) -> Path:
    """``policies/x/1.0.0.yaml`` -> ``policies/x/1.0.0.tests.yaml``."""
    return policy_path.with_name(policy_path.stem + ".tests.yaml")


def load_tests(path: str | Path) -> CaseFile:
    """Read and validate a test file.

    Raises:
        PolicyError: the file is unreadable or does not follow tests.schema.json.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PolicyError(
            [Problem("unreadable", f"cannot read the file: {exc.strerror or exc}", "", str(p))]
        ) from exc
    doc = load_yaml(raw, str(p))
    if doc.problems:
        raise PolicyError(doc.problems)
    problems = schema_problems("tests", doc.data, str(p), doc.positions)
    if problems:
        raise PolicyError(problems)
    positions: Positions = doc.positions
    cases = tuple(
        PolicyCase(
            name=c["name"],
            index=i,
            facts=c["facts"],
            as_of=c.get("as_of"),
            expect=c["expect"],
            line=(positions.of(f"/cases/{i}") or (None, None))[0],
        )
        for i, c in enumerate(doc.data["cases"])
    )
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PolicyError(
            [
                Problem(
                    "duplicate-case",
                    f"the case name '{d}' is used more than once",
                    "/cases",
                    str(p),
                    suggestion="give every case its own name",
                )
                for d in dupes
            ]
        )
    return CaseFile(p, doc.data.get("policy"), cases)


def run_case(policy: Policy, case: PolicyCase) -> CaseResult:
    """Evaluate one case and compare it with its expectations."""
    result = CaseResult(case)
    try:
        decision = policy.evaluate(case.facts, as_of=case.as_of, trace="full").to_dict()
    except FactsError as exc:
        result.problems = list(exc.problems)
        return result
    result.decision = decision
    result.mismatches = compare(case.expect, decision)
    return result


def run_tests(policy: Policy, tests: CaseFile) -> list[CaseResult]:
    """Run every case of a test file against a policy, in file order."""
    return [run_case(policy, case) for case in tests.cases]


def compare(expect: Mapping[str, Any], decision: Mapping[str, Any]) -> list[Mismatch]:
    """Every expectation the decision does not meet (subset matching for lists)."""
    out: list[Mismatch] = []
    recs: Sequence[Mapping[str, Any]] = decision["recommendations"]
    fired = [e["rule"] for e in decision["trace"]["fired"]]
    shadowed = [e["rule"] for e in decision["trace"]["not_fired"] if e["reason"] == "shadowed"]
    cautions = [c["id"] for c in decision["cautions"]]
    for i, want in enumerate(expect.get("actions", ())):
        if not any(all(r.get(k) == v for k, v in want.items()) for r in recs):
            same_action = [
                {k: r.get(k) for k in want} for r in recs if r["action"] == want["action"]
            ]
            out.append(
                Mismatch(
                    f"actions[{i}]",
                    dict(want),
                    same_action or [r["action"] for r in recs],
                    f"no recommendation matches {want['action']}"
                    + ("" if same_action else " (the action is not recommended)"),
                )
            )
    for action in expect.get("not_actions", ()):
        if any(r["action"] == action for r in recs):
            out.append(
                Mismatch(
                    "not_actions", action, [r["action"] for r in recs], f"{action} is recommended"
                )
            )
    for rule in expect.get("fired", ()):
        if rule not in fired:
            reason = next((e for e in decision["trace"]["not_fired"] if e["rule"] == rule), None)
            why = (
                "no such rule"
                if reason is None
                else reason["reason"]
                + (f": {reason['failed_condition']}" if reason["failed_condition"] else "")
            )
            out.append(Mismatch("fired", rule, why, f"rule {rule} did not fire ({why})"))
    for rule in expect.get("not_fired", ()):
        if rule in fired:
            out.append(Mismatch("not_fired", rule, "fired", f"rule {rule} fired"))
    for rule in expect.get("shadowed", ()):
        if rule not in shadowed:
            out.append(
                Mismatch(
                    "shadowed",
                    rule,
                    "fired" if rule in fired else "failed",
                    f"rule {rule} was not shadowed",
                )
            )
    derived = decision["derived"]
    for name, value in expect.get("derived", {}).items():
        actual = derived.get(name, {}).get("value") if name in derived else None
        if name not in derived or actual != value:
            out.append(
                Mismatch(
                    f"derived.{name}",
                    value,
                    actual if name in derived else "(not set)",
                    f"derived fact {name} is {actual!r}, expected {value!r}",
                )
            )
    for cid in expect.get("cautions", ()):
        if cid not in cautions:
            out.append(Mismatch("cautions", cid, cautions, f"caution {cid} is missing"))
    for cid in expect.get("not_cautions", ()):
        if cid in cautions:
            out.append(Mismatch("not_cautions", cid, cautions, f"caution {cid} is present"))
    return out
