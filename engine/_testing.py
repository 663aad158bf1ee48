"""Policy tests written as YAML cases.

A test file ``<version>.tests.yaml`` sits next to the policy it tests. Each
case gives facts, the moment of evaluation and what the decision must
contain. Lists match as subsets: every expected item must be found, other
items may be present too; an expected recommendation is compared only on the
keys it gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ._compiler import Caution, Recommend
from ._errors import (
    FactsError,
    PolicyError,
    PolicyNotFound,
    Problem,
    did_you_mean,
    show_value,
)
from ._facts import FACTS, as_datetime, normalize_facts, parse_moment
from ._policy import Policy, load_policy
from ._schema import schema_problems
from ._yaml import Positions, escape_pointer, load_yaml

__all__ = [
    "CaseFile",
    "CaseResult",
    "Mismatch",
    "PolicyCase",
    "check_tests_file",
    "expectation_problems",
    "load_tests",
    "policy_for_tests",
    "run_case",
    "run_tests",
    "tests_path_for",
]


@dataclass(frozen=True)
class PolicyCase:
    """One case of a test file.

    Attributes:
        file: the test file, for problems located in it.
        positions: where each node of the test file is (for file:line:column).
        problems: mistakes in the case found when the file was read (they
            fail the case without running it).
    """

    name: str
    index: int
    facts: Mapping[str, Any]
    as_of: str | None
    expect: Mapping[str, Any]
    line: int | None
    file: str | None = None
    positions: Positions | None = field(default=None, compare=False, repr=False)
    problems: tuple[Problem, ...] = ()

    @property
    def pointer(self) -> str:
        return f"/cases/{self.index}"

    def at(self, pointer: str, *, key: bool = False) -> tuple[int, int] | None:
        """(line, column) of a pointer of the test file, or None when unknown."""
        return self.positions.of(pointer, key=key) if self.positions else None


@dataclass(frozen=True)
class CaseFile:
    path: Path
    policy_ref: str | None
    cases: tuple[PolicyCase, ...]
    positions: Positions | None = field(default=None, compare=False, repr=False)

    def policy_target(self) -> str:
        """What to load: the file's ``policy`` (NAME@VERSION or relative path) or the sibling policy."""
        if self.policy_ref:
            candidate = self.path.parent / self.policy_ref
            if self.policy_ref.endswith((".yaml", ".yml")):
                return str(candidate)
            return self.policy_ref
        stem = self.sibling_stem()
        if stem is None:  # not named after a policy: no file is next to it by that name
            stem = self.path.name
        return str(self.path.parent / f"{stem}.yaml")

    def sibling_stem(self) -> str | None:
        """The version a test file is named after (``1.0.0`` for ``1.0.0.tests.yaml``,
        and for the misnamed ``1.0.0.tests.yml``), or None for another name."""
        for ending in _TEST_ENDINGS:
            if self.path.name.endswith(ending):
                return self.path.name[: -len(ending)]
        return None


#: how a test file may end: as it should, and as it sometimes is (run when named)
_TEST_ENDINGS = (".tests.yaml", ".tests.yml", ".test.yaml", ".test.yml")


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
        PolicyError: the file is unreadable, empty, does not follow
            tests.schema.json, or names a case twice.
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
    if doc.data is None:
        raise PolicyError(
            [
                Problem(
                    "empty",
                    "the test file is empty",
                    "",
                    str(p),
                    1,
                    1,
                    "start it with 'cases:' and a list of cases, each with name, as_of, facts "
                    "and expect (`followup schema tests` gives the form)",
                )
            ]
        )
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
            file=str(p),
            positions=positions,
            problems=tuple(_as_of_problems(c, i, str(p), positions)),
        )
        for i, c in enumerate(doc.data["cases"])
    )
    first: dict[str, int] = {}
    dupes: list[Problem] = []
    for c in cases:
        if c.name in first:
            ptr = f"/cases/{c.index}/name"
            dupes.append(
                Problem.at(
                    positions.of(ptr),
                    "duplicate-case",
                    f"the case name '{c.name}' is already used by case {first[c.name] + 1}",
                    ptr,
                    str(p),
                    "give every case its own name",
                    c.name,
                )
            )
        first.setdefault(c.name, c.index)
    if dupes:
        raise PolicyError(dupes)
    return CaseFile(p, doc.data.get("policy"), cases, positions)


def _as_of_problems(
    case: Mapping[str, Any], index: int, file: str, positions: Positions
) -> list[Problem]:
    """A case's own as_of must be a real moment, given once: as ``as_of`` or
    inside its facts, not both; and given at all, or the case would test the
    moment it happens to be run."""
    problems: list[Problem] = []
    own, inner = case.get("as_of"), case["facts"].get("as_of")
    if own is None and inner is None and "as_of" not in case["facts"]:
        ptr = f"/cases/{index}"
        return [
            Problem.at(
                positions.of(f"{ptr}/name"),
                "missing-as-of",
                "the case gives no as_of, so it would test whatever moment it is run at, "
                "and could pass today but fail later",
                ptr,
                file,
                "add 'as_of: 2026-03-05' (the moment to evaluate at) next to the case's name",
            )
        ]
    if own is not None:
        try:
            parse_moment(own)
        except (TypeError, ValueError, OverflowError):
            ptr = f"/cases/{index}/as_of"
            problems.append(
                Problem.at(
                    positions.of(ptr),
                    "invalid-as-of",
                    f"as_of is {show_value(own)}, which is not a day of the calendar",
                    ptr,
                    file,
                    "write a real date, e.g. 2026-03-02 or 2026-03-02T10:00",
                    own,
                )
            )
    if own is None or inner is None or own == inner:
        return problems
    try:
        if as_datetime(parse_moment(own)) == as_datetime(parse_moment(inner)):
            return problems
    except (TypeError, ValueError, OverflowError):
        pass  # not the same moment (an invalid one is reported as such)
    ptr = f"/cases/{index}/facts/as_of"
    problems.append(
        Problem.at(
            positions.of(ptr, key=True),
            "as-of-twice",
            f"as_of is given twice: as_of: {own} for the case and as_of: {_plain(inner)} in "
            "its facts; it is not clear which moment to test",
            ptr,
            file,
            f"give as_of once: keep 'as_of: {own}' next to the case's name and remove as_of "
            "from its facts, or the other way round",
            inner,
        )
    )
    return problems


def _plain(value: Any) -> str:
    """A value as written after 'key: ' in YAML: text as it is, anything else as YAML shows it."""
    return value if isinstance(value, str) else show_value(value)


def policy_for_tests(tests: CaseFile, policies_dir: Iterable[str | Path] = ()) -> Policy:
    """The policy a test file tests (its ``policy:`` or the policy file next to it).

    Raises:
        PolicyError: the policy cannot be found (located at the test file's
            ``policy:``) or has problems (located in the policy file).
    """
    try:
        return load_policy(tests.policy_target(), policies_dir=policies_dir)
    except PolicyNotFound as exc:
        file = str(tests.path)
        if tests.policy_ref:
            pos = tests.positions.of("/policy") if tests.positions else None
            raise PolicyError(
                [
                    Problem.at(
                        pos,
                        "policy-not-found",
                        f"the policy this file tests cannot be found: {exc}",
                        "/policy",
                        file,
                        "write NAME@VERSION of an existing policy, or a path relative "
                        "to this file; or remove 'policy:' to test the policy file next to it",
                        tests.policy_ref,
                    )
                ]
            ) from exc
        if tests.sibling_stem() is None:
            raise PolicyError(
                [
                    Problem(
                        "policy-not-found",
                        "this test file does not say which policy it tests: it has no "
                        "'policy:' and is not named after a policy file next to it",
                        "",
                        file,
                        1,
                        1,
                        "add 'policy: NAME@VERSION' at its top (e.g. policy: "
                        "interview-follow-up@1.0.0), or name it <version>.tests.yaml next to "
                        "<version>.yaml",
                    )
                ]
            ) from exc
        raise PolicyError(
            [
                Problem(
                    "policy-not-found",
                    f"there is no policy file {Path(tests.policy_target()).name} next to this "
                    "test file",
                    "",
                    file,
                    1,
                    1,
                    "name the test file after its policy (1.0.0.yaml is tested by "
                    "1.0.0.tests.yaml), or say which policy it tests with 'policy: NAME@VERSION'",
                )
            ]
        ) from exc


def check_tests_file(path: str | Path, policies_dir: Iterable[str | Path] = ()) -> list[Problem]:
    """Every problem in a test file, without running its cases ([] when it is valid).

    Checks the file's form, that the policy it tests loads, each case's facts,
    and that every rule, caution, action, template and derived fact its
    expectations name exists in that policy.
    """
    try:
        tests = load_tests(path)
        policy = policy_for_tests(tests, policies_dir)
    except PolicyError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for case in tests.cases:
        found = list(case.problems) + expectation_problems(policy, case)[0]
        found += _facts_problems(case)
        # no case heading above them here: say which case each is in
        problems += [
            dataclasses.replace(p, message=f"in case '{case.name}': {p.message}") for p in found
        ]
    return sorted(problems, key=Problem.sort_key)


def run_case(policy: Policy, case: PolicyCase) -> CaseResult:
    """Evaluate one case and compare it with its expectations.

    Mistakes in the case itself (bad facts, as_of given twice, an expectation
    naming a rule, caution, action, template or derived fact the policy does
    not have) fail the case as ``problems``, located in the test file.
    """
    result = CaseResult(case)
    result.problems, skip = expectation_problems(policy, case)
    if case.problems:  # it cannot be run: say everything else that is wrong with it
        result.problems = sorted(
            [*case.problems, *result.problems, *_facts_problems(case)], key=Problem.sort_key
        )
        return result
    try:
        decision = policy.evaluate(
            case.facts,
            as_of=case.as_of,
            trace="full",
            file=case.file,
            locate=_facts_locator(case),
        ).to_dict()
    except FactsError as exc:
        result.problems += _in_case(case, exc.problems)
        return result
    result.decision = decision
    result.mismatches = compare(case.expect, decision, skip)
    return result


def run_tests(policy: Policy, tests: CaseFile) -> list[CaseResult]:
    """Run every case of a test file against a policy, in file order."""
    return [run_case(policy, case) for case in tests.cases]


def _facts_problems(case: PolicyCase) -> list[Problem]:
    """What is wrong with a case's facts, without evaluating them."""
    try:
        normalize_facts(case.facts, default_as_of="2000-01-01")
    except FactsError as exc:
        return _in_case(case, exc.problems)
    return []


def _facts_locator(case: PolicyCase) -> Callable[[str], tuple[int, int] | None] | None:
    if case.positions is None:
        return None
    base = f"{case.pointer}/facts"
    return lambda pointer: case.at(base + pointer)


def _in_case(case: PolicyCase, problems: Iterable[Problem]) -> list[Problem]:
    """Problems with a case's facts, re-pointed into the test file (/cases/N/facts/NAME)."""
    out = []
    for p in problems:
        if p.code == "invalid-as-of" and p.pointer == "/as_of" and p.line is None:
            pointer = f"{case.pointer}/as_of"  # the case's own as_of, not one in the facts
        else:
            pointer = f"{case.pointer}/facts{p.pointer}"
        pos = case.at(pointer, key=p.code == "unknown-fact")
        line, column = pos if pos else (p.line, p.column)
        out.append(
            dataclasses.replace(p, pointer=pointer, file=case.file, line=line, column=column)
        )
    return out


@dataclass(frozen=True)
class _Names:
    """What a policy has that an expectation may name."""

    label: str
    rules: tuple[str, ...]
    cautions: tuple[str, ...]
    actions: tuple[str, ...]
    templates: tuple[str, ...]
    derived: Mapping[str, Mapping[str, Any]]

    @classmethod
    def of(cls, policy: Policy) -> _Names:
        acts = [a for r in policy.compiled.rules for a in r.actions]
        return cls(
            f"{policy.name} {policy.version}",
            policy.rule_ids,
            tuple(dict.fromkeys(a.id for a in acts if isinstance(a, Caution))),
            tuple(dict.fromkeys(a.action for a in acts if isinstance(a, Recommend))),
            tuple(
                dict.fromkeys(a.template for a in acts if isinstance(a, Recommend) and a.template)
            ),
            policy.compiled.derived,
        )


# (what the name is, the policy's names of that kind) per expectation list
_KINDS: Mapping[str, tuple[str, str]] = {
    "fired": ("rule", "rules"),
    "not_fired": ("rule", "rules"),
    "shadowed": ("rule", "rules"),
    "cautions": ("caution", "cautions"),
    "not_cautions": ("caution", "cautions"),
    "not_actions": ("action", "actions"),
}

_NEVER = {
    "rule": "{label} has no rule '{value}'",
    "caution": "no rule of {label} gives the caution '{value}'",
    "action": "no rule of {label} recommends {value}",
    "template": "no rule of {label} uses the template '{value}'",
    "derived fact": "{label} has no derived fact '{value}'",
}


_THEIRS = {
    "rule": "its rules",
    "caution": "its cautions",
    "action": "the actions it recommends",
    "template": "the templates it uses",
    "derived fact": "its derived facts",
}


def expectation_problems(policy: Policy, case: PolicyCase) -> tuple[list[Problem], set[str]]:
    """Every name in a case's expectations that the policy does not have.

    Such an expectation tests nothing: one under ``not_fired`` or
    ``not_cautions`` would always pass, one under ``fired`` always fail.

    Returns:
        (problems located in the test file, the pointers of the expectations
        concerned, which :func:`compare` then skips).
    """
    names = _Names.of(policy)
    problems: list[Problem] = []
    skip: set[str] = set()
    expect = case.expect
    base = f"{case.pointer}/expect"

    def unknown(kind: str, field_name: str, value: Any, pointer: str, key: bool = False) -> None:
        known: Sequence[str] = {
            "rule": names.rules,
            "caution": names.cautions,
            "action": names.actions,
            "template": names.templates,
            "derived fact": tuple(names.derived),
        }[kind]
        outcome = "always pass" if field_name.startswith("not_") else "always fail"
        what = _NEVER[kind].format(label=names.label, value=value)
        hint = did_you_mean(str(value), known)
        if hint is None and kind == "derived fact" and value in FACTS:
            hint = f"'{value}' is an input fact, given under facts:, not a derived one"
        if hint is None:
            hint = (
                f"{_THEIRS[kind]}: {', '.join(known)}"
                if known
                else f"it has no {kind}s; remove this check"
            )
        problems.append(
            Problem.at(
                case.at(pointer, key=key),
                f"unknown-{kind.replace(' ', '-')}",
                f"{field_name}: {what}, so this check would {outcome}",
                pointer,
                case.file,
                hint,
                value,
            )
        )
        skip.add(pointer)

    for field_name, (kind, attr) in _KINDS.items():
        known_names = getattr(names, attr)
        for j, value in enumerate(expect.get(field_name, ())):
            if value not in known_names:
                unknown(kind, field_name, value, f"{base}/{field_name}/{j}")
    for j, want in enumerate(expect.get("actions", ())):
        ptr = f"{base}/actions/{j}"
        if want["action"] not in names.actions:
            unknown("action", "actions", want["action"], f"{ptr}/action")
        if "rule" in want and want["rule"] not in names.rules:
            unknown("rule", "actions", want["rule"], f"{ptr}/rule")
        if want.get("template") is not None and want["template"] not in names.templates:
            unknown("template", "actions", want["template"], f"{ptr}/template")
        for key in ("earliest", "latest"):
            written = want.get(key)
            fix = _moment_fix(written) if isinstance(written, str) else None
            if fix is not None:
                problems.append(
                    Problem.at(
                        case.at(f"{ptr}/{key}"),
                        "bad-moment",
                        f"actions: {key} is {show_value(written)}, {fix[0]}",
                        f"{ptr}/{key}",
                        case.file,
                        fix[1],
                        written,
                    )
                )
                skip.add(f"{ptr}/{key}")
        if any(p.startswith(f"{ptr}/") for p in skip):
            skip.add(ptr)
    for name, value in expect.get("derived", {}).items():
        ptr = f"{base}/derived/{escape_pointer(name)}"
        if name not in names.derived:
            unknown("derived fact", "derived", name, ptr, key=True)
            continue
        declared = names.derived[name].get("type")
        wrong = None if value is None else _derived_value_problem(declared, value)
        if wrong is not None:
            problems.append(
                Problem.at(
                    case.at(ptr),
                    "type-mismatch",
                    f"derived: {name} is declared as type: {declared}, and {show_value(value)} "
                    f"{wrong[0]}, so this check would always fail",
                    ptr,
                    case.file,
                    wrong[1],
                    value,
                )
            )
            skip.add(ptr)
            continue
        choices = names.derived[name].get("choices")
        if choices and value is not None and value not in choices:
            problems.append(
                Problem.at(
                    case.at(ptr),
                    "unknown-value",
                    f"derived: {name} can only be {', '.join(map(str, choices))}, "
                    f"never {show_value(value)}, so this check would always fail",
                    ptr,
                    case.file,
                    did_you_mean(str(value), [str(c) for c in choices])
                    or f"use one of {', '.join(map(str, choices))}",
                    value,
                )
            )
            skip.add(ptr)
    return sorted(problems, key=Problem.sort_key), skip


def _moment_fix(written: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a date or date-time an expectation writes in a
    form a decision never does (it writes 2026-03-02 and 2026-03-02T10:00:00),
    or None when it is written as decisions write it."""
    try:
        moment = parse_moment(written)
    except (TypeError, ValueError, OverflowError):
        return (
            "which is not an ISO date or date-time",
            "write a date such as 2026-03-02 or a date-time such as 2026-03-02T10:00:00",
        )
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return (
            "with a time zone, but decisions give times in the applicant's own time "
            "zone, without one",
            f"write it as {moment.replace(tzinfo=None).isoformat()}, the time in the "
            "applicant's time zone",
        )
    canonical = moment.isoformat()
    if canonical != written:
        return (
            f"but a decision writes that moment as {canonical}, so it would never match",
            f"write {canonical}",
        )
    return None


def _derived_value_problem(declared: Any, value: Any) -> tuple[str, str] | None:
    """(what is wrong, the fix) when an expected derived value can never be one
    of the declared type, or None."""
    if declared == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else ("is not a number", "write a number, without quotes")
    if declared == "bool":
        ok = isinstance(value, bool)
        return None if ok else ("is not true or false", "write true or false, without quotes")
    if declared == "text":
        return None if isinstance(value, str) else ("is not text", "put the value in quotes")
    if declared == "date":
        if not isinstance(value, str):
            return ("is not a date", "write a date such as '2026-03-02', in quotes")
        fix = _moment_fix(value)
        return None if fix is None else (fix[0].removeprefix("which ").removeprefix("but "), fix[1])
    return None


def compare(
    expect: Mapping[str, Any], decision: Mapping[str, Any], skip: Iterable[str] = ()
) -> list[Mismatch]:
    """Every expectation the decision does not meet (subset matching for lists).

    ``skip`` holds pointers (``/cases/N/expect/FIELD/J``, ``.../derived/NAME``)
    of expectations already reported as naming something the policy lacks;
    only their last two parts are compared.
    """
    skipped = {"/".join(p.split("/")[-2:]) for p in skip}
    out: list[Mismatch] = []
    recs: Sequence[Mapping[str, Any]] = decision["recommendations"]
    fired = [e["rule"] for e in decision["trace"]["fired"]]
    shadowed = [e["rule"] for e in decision["trace"]["not_fired"] if e["reason"] == "shadowed"]
    cautions = [c["id"] for c in decision["cautions"]]

    def listed(name: str) -> Iterable[Any]:
        return (v for j, v in enumerate(expect.get(name, ())) if f"{name}/{j}" not in skipped)

    for i, want in enumerate(expect.get("actions", ())):
        if f"actions/{i}" in skipped:
            continue
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
    for action in listed("not_actions"):
        if any(r["action"] == action for r in recs):
            out.append(
                Mismatch(
                    "not_actions", action, [r["action"] for r in recs], f"{action} is recommended"
                )
            )
    for rule in listed("fired"):
        if rule not in fired:
            reason = next((e for e in decision["trace"]["not_fired"] if e["rule"] == rule), None)
            why = (
                "no such rule"
                if reason is None
                else reason["reason"]
                + (f": {reason['failed_condition']}" if reason["failed_condition"] else "")
            )
            out.append(Mismatch("fired", rule, why, f"rule {rule} did not fire ({why})"))
    for rule in listed("not_fired"):
        if rule in fired:
            out.append(Mismatch("not_fired", rule, "fired", f"rule {rule} fired"))
    for rule in listed("shadowed"):
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
        if f"derived/{escape_pointer(name)}" in skipped:
            continue
        actual = derived.get(name, {}).get("value") if name in derived else None
        if name not in derived or actual != value:
            out.append(
                Mismatch(
                    f"derived.{name}",
                    value,
                    actual if name in derived else "(not set)",
                    f"derived fact {name} is {show_value(actual)}, expected {show_value(value)}"
                    if name in derived
                    else f"derived fact {name} is not set, expected {show_value(value)}",
                )
            )
    for cid in listed("cautions"):
        if cid not in cautions:
            out.append(Mismatch("cautions", cid, cautions, f"caution {cid} is missing"))
    for cid in listed("not_cautions"):
        if cid in cautions:
            out.append(Mismatch("not_cautions", cid, cautions, f"caution {cid} is present"))
    return out
