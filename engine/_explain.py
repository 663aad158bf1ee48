"""Explanations: why a policy recommended what it did, and why a rule did not fire.

The agenda reports every rule as it is matched, with the facts known at that
moment (:data:`followup.engine._agenda.Listener`); an explanation is built
from those events and the compiled policy, and the modes are filters over it:

* ``fired``: each recommendation with its dates and the chain behind it,
  cautions, and derived facts with the rule that set them;
* ``fails``: each rule that did not fire with its first failing condition;
* ``full``: everything, conditions skipped by short-circuiting marked.

:func:`why_not` looks at one rule, checks every condition, and says what would
have to change for it to fire when one comparison is enough.

Every condition is put in words with the actual values ("14 days since
last_contact_at (2026-03-02) is at least params.status_min_days (7): yes").
A policy's ``explain:`` template on a condition or rule replaces the words;
its placeholders are ``{left}``, ``{right}`` (a condition's values),
``{result}`` (yes/no), any fact name and ``{params.NAME}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from . import _calendar as cal
from ._agenda import run
from ._compiler import CompiledRule, Recommend, SetFact
from ._conditions import Condition, Group, Leaf, jsonable
from ._errors import PolicyNotFound, did_you_mean
from ._facts import as_datetime, normalize_facts
from ._policy import ENGINE_VERSION, Policy

__all__ = [
    "EXPLAIN_MODES",
    "ConditionLine",
    "DerivedLine",
    "Explanation",
    "RuleExplanation",
    "WhyNot",
    "explain",
    "format_value",
    "why_not",
]

EXPLAIN_MODES = ("fired", "fails", "full")

Facts = Mapping[str, Any]


def format_value(value: Any) -> str:
    """A value as a coach reads it: dates without seconds, unknown for missing."""
    if value is None or (isinstance(value, tuple | list) and not value):
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0")
    if isinstance(value, tuple | list):
        return ", ".join(format_value(v) for v in value)
    return str(value)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _fill(template: str, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Replace ``{name}`` placeholders; unknown ones are left as written."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("params.") and name[7:] in params:
            return format_value(params[name[7:]])
        if name in values:
            v = values[name]
            return (
                v if isinstance(v, str) and name in ("left", "right", "result") else format_value(v)
            )
        return m.group(0)

    return _PLACEHOLDER.sub(one, template)


def _yes(result: bool | None) -> str:
    return "not checked" if result is None else "yes" if result else "no"


# ------------------------------------------------------------ conditions


@dataclass(frozen=True)
class ConditionLine:
    """One condition of a rule, evaluated.

    Attributes:
        pointer: where it is in the policy (JSON pointer).
        depth: nesting under all/any/not groups (0 at the top).
        kind: "test" or "all", "any", "not" for groups.
        text: the condition in words, without values.
        sentence: the condition in words with the actual values (or the
            policy's ``explain:`` template filled in).
        left, right: the values compared (JSON-ready), None for groups.
        result: True or False, None when not checked (short-circuited).
        hint: what would make it hold, when that alone makes the rule fire.
    """

    pointer: str
    depth: int
    kind: str
    text: str
    sentence: str
    left: Any
    right: Any
    result: bool | None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pointer": self.pointer,
            "depth": self.depth,
            "kind": self.kind,
            "text": self.text,
            "sentence": self.sentence,
            "left": self.left,
            "right": self.right,
            "result": self.result,
            "hint": self.hint,
        }


_NEGATED_WORDS = {
    "is": "is not",
    "is not": "is",
    "is one of": "is not one of",
    "is none of": "is one of",
    "is present": "is missing",
    "is missing": "is present",
}


def _op_words(leaf: Leaf, negated: bool) -> str:
    if leaf.operator.operand == "flag":
        words = "is present" if (leaf.operator.name == "present") == leaf.flag else "is missing"
    else:
        words = leaf.operator.words
    if not negated:
        return words
    return _NEGATED_WORDS.get(words, words.replace("is ", "is not ", 1))


class _Walk:
    """Evaluates one rule's condition tree into lines."""

    def __init__(self, known: Facts, params: Mapping[str, Any], short_circuit: bool) -> None:
        self.known = known
        self.params = params
        self.short_circuit = short_circuit
        self.lines: list[ConditionLine] = []
        self.units: list[tuple[Condition, Leaf, bool, int]] = []  # (unit, leaf, negated, line)

    def walk(self, cond: Condition, depth: int, active: bool) -> bool | None:
        if isinstance(cond, Leaf):
            return self._leaf(cond, cond, depth, active, negated=False)
        if cond.kind == "not" and isinstance(cond.children[0], Leaf):
            return self._leaf(cond, cond.children[0], depth, active, negated=True)
        at = len(self.lines)
        self.lines.append(
            ConditionLine(cond.pointer, depth, cond.kind, cond.text, "", None, None, None)
        )
        result: bool | None
        if cond.kind == "not":
            inner = self.walk(cond.children[0], depth + 1, active)
            result = None if inner is None else not inner
        else:
            all_ = cond.kind == "all"
            result = None if not active else all_
            for child in cond.children:
                decided = result is not None and result != all_
                going = active and (not decided or not self.short_circuit)
                r = self.walk(child, depth + 1, going)
                if going and r is not None and r != all_ and result is not None:
                    result = r
        words = {"all": "all of these", "any": "any of these", "not": "not the following"}[
            cond.kind
        ]
        sentence = (
            _fill(cond.explain, {**self.known, "result": _yes(result)}, self.params)
            if cond.explain
            else words
        )
        self.lines[at] = ConditionLine(
            cond.pointer,
            depth,
            cond.kind,
            cond.text,
            sentence
            if cond.explain and "{result}" in cond.explain
            else f"{sentence}: {_yes(result)}",
            None,
            None,
            result,
        )
        return result

    def _leaf(
        self, unit: Condition, leaf: Leaf, depth: int, active: bool, negated: bool
    ) -> bool | None:
        text = f"not ({leaf.text})" if negated else leaf.text
        if not active:
            sentence = f"{_leaf_words(leaf, self.known, negated, values=False)}: not checked"
            self.lines.append(
                ConditionLine(unit.pointer, depth, "test", text, sentence, None, None, None)
            )
            return None
        left, right = leaf.values(self.known)
        result = leaf.test(self.known) != negated
        if leaf.explain:
            raw_left = leaf.left(self.known)
            raw_right = None if leaf.operator.operand == "flag" else leaf.right(self.known)
            words = _fill(
                leaf.explain,
                {
                    **self.known,
                    "left": format_value(raw_left),
                    "right": format_value(raw_right),
                    "result": _yes(result),
                },
                self.params,
            )
        else:
            words = _leaf_words(leaf, self.known, negated, values=True)
        self.units.append((unit, leaf, negated, len(self.lines)))
        self.lines.append(
            ConditionLine(
                unit.pointer,
                depth,
                "test",
                text,
                words
                if leaf.explain and "{result}" in leaf.explain
                else f"{words}: {_yes(result)}",
                left,
                right,
                result,
            )
        )
        return result


def _leaf_words(leaf: Leaf, known: Facts, negated: bool, *, values: bool) -> str:
    """The test in words: subject with its value, operator, operand with its value."""

    def shown(label: str, fn: Any) -> str:
        if not values:
            return label
        value = format_value(fn(known))
        return label if value == label else f"{label} ({value})"

    if leaf.subject in ("since", "elapsed"):
        unit = leaf.unit.replace("_", " ")
        if leaf.subject == "since":
            tail = f"{unit} since {shown(*leaf.parts[0])}" if leaf.parts else leaf.subject_label
        else:
            a, b = leaf.parts
            tail = f"{unit} from {shown(*a)} to {shown(*b)}"
        amount = leaf.left(known) if values else None
        subject = tail if amount is None else f"{format_value(amount)} {tail}"
    else:
        subject = shown(leaf.subject_label, leaf.left)
    words = _op_words(leaf, negated)
    op = leaf.operator
    if op.operand == "flag":
        return f"{subject} {words}"
    if op.operand == "range" and values:
        lo, hi = leaf.right(known)
        lo_text, _, hi_text = leaf.right_text.partition(" and ")
        return f"{subject} {words} {_with_value(lo_text, lo)} and {_with_value(hi_text, hi)}"
    operand = leaf.right_text or leaf.text.rsplit(f"{op.words} ", 1)[-1]
    if not values:
        return f"{subject} {words} {operand}"
    if operand.startswith("$"):
        operand = operand[1:]
    return f"{subject} {words} {_with_value(operand, leaf.right(known))}"


def _with_value(text: str, value: Any) -> str:
    shown = format_value(value)
    return text if shown == text or isinstance(value, frozenset) else f"{text} ({shown})"


def _first_failure(lines: list[ConditionLine]) -> list[ConditionLine]:
    """The failing condition that decided the outcome, with its sub-conditions.

    Descends through ``all`` groups to their first failing member; an ``any``
    or ``not`` group is reported whole.
    """
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.result is False:
            if line.kind == "all" and i + 1 < len(lines) and lines[i + 1].depth > line.depth:
                i += 1
                continue
            block = [line]
            j = i + 1
            while j < len(lines) and lines[j].depth > line.depth:
                block.append(lines[j])
                j += 1
            return block
        if line.kind in ("all", "any", "not"):
            # a group that held: skip its members
            j = i + 1
            while j < len(lines) and lines[j].depth > line.depth:
                j += 1
            i = j
            continue
        i += 1
    return []


# ------------------------------------------------------------------ rules


@dataclass(frozen=True)
class RuleExplanation:
    """One rule of the policy as matched for this interview.

    Attributes:
        outcome: "fired", "failed" or "shadowed".
        sentence: the rule's ``explain:`` template filled in, or None.
        conditions: every condition (short-circuited ones with result None).
        failed: the condition that decided a failure, with its members.
        shadowed_by: for a shadowed rule, the rules that had set its facts.
    """

    rule: str
    title: str
    cite: tuple[str, ...]
    salience: int
    outcome: str
    sentence: str | None
    conditions: tuple[ConditionLine, ...]
    failed: tuple[ConditionLine, ...]
    shadowed_by: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "cite": list(self.cite),
            "salience": self.salience,
            "outcome": self.outcome,
            "explain": self.sentence,
            "conditions": [c.to_dict() for c in self.conditions],
            "failed": [c.to_dict() for c in self.failed],
            "shadowed_by": dict(self.shadowed_by),
        }


@dataclass(frozen=True)
class DerivedLine:
    """A derived fact, the rule that set it, and how."""

    fact: str
    value: Any
    rule: str
    title: str
    source: str
    inputs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "value": self.value,
            "rule": self.rule,
            "title": self.title,
            "source": self.source,
            "inputs": dict(self.inputs),
        }


@dataclass(frozen=True)
class Explanation:
    """A decision with the reasons behind it; ``mode`` says which rules are kept.

    Attributes:
        decision: the decision, as :meth:`Decision.to_dict` gives it.
        rules: the rules the mode keeps, in match order (fired: fired rules;
            fails: rules that did not fire; full: all).
        every_rule: all rules, in match order, whatever the mode.
        derived: derived facts in the order they were set.
        depends_on: rule id -> derived facts it used, directly or through
            other derived facts, in the order they were set.
        dates: rule id -> [(which, expression, value)] for its recommendations.
    """

    mode: str
    decision: Mapping[str, Any]
    rules: tuple[RuleExplanation, ...]
    every_rule: tuple[RuleExplanation, ...]
    derived: tuple[DerivedLine, ...]
    depends_on: Mapping[str, tuple[str, ...]]
    dates: Mapping[str, tuple[tuple[str, str, Any], ...]] = field(default_factory=dict)

    def rule(self, rule_id: str) -> RuleExplanation:
        return next(r for r in self.every_rule if r.rule == rule_id)

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        outcomes = [r.outcome for r in self.every_rule]
        return {
            "mode": self.mode,
            "applicant_id": d["applicant_id"],
            "as_of": d["as_of"],
            "policy": d["policy"],
            "engine": d["engine"],
            "summary": {
                "fired": outcomes.count("fired"),
                "failed": outcomes.count("failed"),
                "shadowed": outcomes.count("shadowed"),
            },
            "recommendations": [
                {
                    **rec,
                    "dates": [
                        {"which": w, "expression": e, "value": v}
                        for w, e, v in self.dates.get(rec["rule"], ())
                        if _matches(w, rec)
                    ],
                    "depends_on": list(self.depends_on.get(rec["rule"], ())),
                }
                for rec in (d["recommendations"] if self.mode != "fails" else [])
            ],
            "cautions": [
                {**c, "depends_on": list(self.depends_on.get(c["rule"], ()))}
                for c in (d["cautions"] if self.mode != "fails" else [])
            ],
            "derived": [x.to_dict() for x in self.derived] if self.mode != "fails" else [],
            "rules": [r.to_dict() for r in self.rules],
        }


def _matches(which: str, rec: Mapping[str, Any]) -> bool:
    return rec.get(which.split(":")[0]) is not None


def _collect(
    policy: Policy, facts: Mapping[str, Any], as_of: Any
) -> tuple[dict[str, Any], list[tuple[CompiledRule, str, dict[str, Any]]], dict[str, Any]]:
    events: list[tuple[CompiledRule, str, dict[str, Any]]] = []

    def listen(rule: CompiledRule, outcome: str, known: Mapping[str, Any]) -> None:
        events.append((rule, outcome, dict(known)))

    normal = normalize_facts(facts, default_as_of=as_of)
    body, _ = run(policy.compiled, normal, "full", listen)
    decision: dict[str, Any] = {
        "applicant_id": normal.get("applicant_id"),
        "as_of": jsonable(normal["as_of"]),
        "policy": {"name": policy.name, "version": policy.version, "sha256": policy.sha256},
        "engine": {"version": ENGINE_VERSION, "backend": "native"},
    }
    decision.update(body)
    final: dict[str, Any] = dict(events[-1][2]) if events else dict(normal)
    if events and events[-1][1] == "fired":
        for action in events[-1][0].actions:
            if isinstance(action, SetFact):
                final[action.fact] = action.fn(final)
    return decision, events, final


def _explain_rule(
    policy: Policy,
    rule: CompiledRule,
    outcome: str,
    known: Facts,
    decision: Mapping[str, Any],
    short_circuit: bool,
) -> tuple[RuleExplanation, _Walk]:
    params = policy.compiled.parameters
    w = _Walk(known, params, short_circuit)
    if rule.when is not None:
        when = rule.when
        if isinstance(when, Group) and when.kind == "all" and not when.explain:
            # the usual top-level 'all': list its members without a group line
            result: bool | None = True
            for child in when.children:
                going = result is True or not short_circuit
                r = w.walk(child, 0, going)
                if going and r is False:
                    result = False
        else:
            w.walk(when, 0, True)
    shadowed_by: dict[str, str] = {}
    if outcome == "shadowed":
        for fact in sorted(rule.writes):
            setter = decision["derived"].get(fact, {}).get("rule")
            if setter:
                shadowed_by[fact] = setter
    sentence = _fill(rule.explain, known, params) if rule.explain else None
    failed = tuple(_first_failure(w.lines)) if outcome == "failed" else ()
    return (
        RuleExplanation(
            rule.id,
            rule.title,
            rule.cite,
            rule.salience,
            outcome,
            sentence,
            tuple(w.lines),
            failed,
            shadowed_by,
        ),
        w,
    )


def explain(
    policy: Policy,
    facts: Mapping[str, Any],
    as_of: date | datetime | str | None = None,
    mode: str = "fired",
) -> Explanation:
    """Evaluate facts and explain the decision.

    Args:
        policy: the policy.
        facts: one interview's facts.
        as_of: the moment of evaluation when the facts carry none (None: now).
        mode: "fired", "fails" or "full" (see the module docstring).

    Raises:
        FactsError: the facts are invalid.
        ValueError: an unknown mode.
    """
    if mode not in EXPLAIN_MODES:
        raise ValueError(f"mode must be one of {', '.join(EXPLAIN_MODES)}, not {mode!r}")
    decision, events, _final = _collect(policy, facts, as_of)
    every = tuple(
        _explain_rule(policy, rule, outcome, known, decision, short_circuit=True)[0]
        for rule, outcome, known in events
    )
    if mode == "fired":
        kept = tuple(r for r in every if r.outcome == "fired")
    elif mode == "fails":
        kept = tuple(r for r in every if r.outcome != "fired")
    else:
        kept = every
    by_id = {r.id: r for r in policy.compiled.rules}
    derived_lines = []
    for name, d in decision["derived"].items():
        rule = by_id[d["rule"]]
        source = next(
            (a.source for a in rule.actions if isinstance(a, SetFact) and a.fact == name), ""
        )
        derived_lines.append(
            DerivedLine(name, d["value"], d["rule"], rule.title, source, d["inputs"])
        )
    depends: dict[str, tuple[str, ...]] = {}
    order = list(decision["derived"])
    for rule, outcome, _known in events:
        if outcome != "fired":
            continue
        seen: set[str] = set()
        todo = [f for f in rule.reads if f in decision["derived"] and f not in rule.writes]
        while todo:
            f = todo.pop()
            if f in seen:
                continue
            seen.add(f)
            setter = by_id[decision["derived"][f]["rule"]]
            todo += [g for g in setter.reads if g in decision["derived"] and g != f]
        depends[rule.id] = tuple(f for f in order if f in seen)
    dates: dict[str, tuple[tuple[str, str, Any], ...]] = {}
    for rule, outcome, known in events:
        if outcome != "fired":
            continue
        found: list[tuple[str, str, Any]] = []
        for action in rule.actions:
            if isinstance(action, Recommend):
                for which in ("earliest", "latest"):
                    c = getattr(action, which)
                    if c is not None:
                        found.append((which, c.text, jsonable(c.fn(known))))
        if found:
            dates[rule.id] = tuple(found)
    return Explanation(mode, decision, kept, every, tuple(derived_lines), depends, dates)


# ---------------------------------------------------------------- why-not


@dataclass(frozen=True)
class WhyNot:
    """One rule, every condition checked, and what would make it fire.

    Attributes:
        rule: the rule's explanation (every condition evaluated, none skipped).
        hints: "would fire if ..." sentences, one per condition that alone
            stands in the way; empty when it fired, was shadowed, or needs
            more than one change.
        blocking: how many conditions failed.
    """

    decision: Mapping[str, Any]
    rule: RuleExplanation
    hints: tuple[str, ...]
    blocking: int
    setters: Mapping[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        d = self.decision
        return {
            "applicant_id": d["applicant_id"],
            "as_of": d["as_of"],
            "policy": d["policy"],
            **self.rule.to_dict(),
            "blocking": self.blocking,
            "would_fire_if": list(self.hints),
        }


def why_not(
    policy: Policy,
    rule_id: str,
    facts: Mapping[str, Any],
    as_of: date | datetime | str | None = None,
) -> WhyNot:
    """Explain one rule for one interview: every condition, and what would change the outcome.

    Raises:
        PolicyNotFound: the policy has no rule ``rule_id`` (with a suggestion).
        FactsError: the facts are invalid.
    """
    by_id = {r.id: r for r in policy.compiled.rules}
    if rule_id not in by_id:
        hint = did_you_mean(rule_id, by_id)
        raise PolicyNotFound(
            f"policy {policy.name} {policy.version} has no rule '{rule_id}'"
            + (f"; {hint}" if hint else "")
        )
    decision, events, _final = _collect(policy, facts, as_of)
    rule, outcome, known = next(e for e in events if e[0].id == rule_id)
    explained, walk = _explain_rule(policy, rule, outcome, known, decision, short_circuit=False)
    failing = [u for u in walk.units if walk.lines[u[3]].result is False]
    hints: list[str] = []
    lines = list(explained.conditions)
    if outcome == "failed" and rule.when is not None:
        for unit, leaf, negated, at in failing:
            if _holds_if(rule.when, unit, known):
                hint = _hint(leaf, negated, known, policy, decision)
                hints.append(hint)
                lines[at] = ConditionLine(**{**lines[at].__dict__, "hint": hint})
    explained = RuleExplanation(**{**explained.__dict__, "conditions": tuple(lines)})
    setters = {
        fact: tuple(policy.compiled.writers.get(fact, ()))
        for fact in sorted(rule.reads)
        if fact in policy.compiled.derived
    }
    return WhyNot(decision, explained, tuple(hints), len(failing), setters)


def _holds_if(cond: Condition, forced: Condition, known: Facts) -> bool:
    """Would ``cond`` hold if the unit ``forced`` held (everything else as it is)?"""
    if cond is forced:
        return True
    if isinstance(cond, Leaf):
        return cond.test(known)
    if cond.kind == "not":
        return not _holds_if(cond.children[0], forced, known)
    results = (_holds_if(c, forced, known) for c in cond.children)
    return all(results) if cond.kind == "all" else any(results)


_INVERSE = {
    "equals": "not_equals",
    "not_equals": "equals",
    "in": "not_in",
    "not_in": "in",
    "less_than": "at_least",
    "at_least": "less_than",
    "at_most": "more_than",
    "more_than": "at_most",
    "before": "on_or_after",
    "on_or_after": "before",
    "after": "on_or_before",
    "on_or_before": "after",
    "present": "missing",
    "missing": "present",
}
_WERE = {
    "equals": "",
    "not_equals": "not ",
    "in": "one of ",
    "not_in": "none of ",
    "less_than": "less than ",
    "at_least": "at least ",
    "at_most": "at most ",
    "more_than": "more than ",
    "before": "before ",
    "on_or_after": "on or after ",
    "after": "after ",
    "on_or_before": "on or before ",
    "between": "between ",
}


def _effective(leaf: Leaf, negated: bool) -> str:
    name = leaf.operator.name
    if leaf.operator.operand == "flag" and not leaf.flag:
        name = _INVERSE[name]
    if negated:
        name = _INVERSE.get(name, "not_" + name)
    return name


def _hint(
    leaf: Leaf, negated: bool, known: Facts, policy: Policy, decision: Mapping[str, Any]
) -> str:
    op = _effective(leaf, negated)
    label = leaf.subject_label
    derived = policy.compiled.derived
    if op in ("present", "missing"):
        if op == "missing":
            return f"would fire if {label} were not known"
        if leaf.subject == "fact" and label in derived:
            writers = policy.compiled.writers.get(label, ())
            return f"would fire if {label} were set (by rule {' or '.join(writers)})"
        return f"would fire if {label} were known"
    left = leaf.left(known)
    right = leaf.right(known)
    if leaf.subject == "since" and leaf.parts and op in _WERE and right is not None:
        start_label, start_fn = leaf.parts[0]
        start = start_fn(known)
        now = known.get("as_of")
        if start is None:
            return f"would fire if {start_label} were known"
        country = known.get("country")
        threshold = _since_threshold(op, right, now, leaf.unit, country)
        if threshold is not None:
            which, moment = threshold
            text = f"would fire if {start_label} were {which} {format_value(moment)}"
            if which in ("on or before", "before") and isinstance(now, date):
                wait = _since_wait(op, right, start, leaf.unit, country)
                if wait is not None:
                    text += f", or with {start_label} unchanged from {format_value(wait)} on"
            return text
    if op == "between" and right is not None:
        lo, hi = right
        return f"would fire if {label} were between {format_value(lo)} and {format_value(hi)} (it is {format_value(left)})"
    if op.startswith("not_") and op not in _WERE:
        return f"would fire if {label} were not {leaf.operator.words.removeprefix('is ')} {format_value(right)}"
    value = (
        ", ".join(sorted(format_value(v) for v in right))
        if isinstance(right, frozenset)
        else format_value(right)
    )
    if left is None:
        return f"would fire if {label} were {_WERE.get(op, op + ' ')}{value} (it is unknown)"
    return (
        f"would fire if {label} were {_WERE.get(op, op + ' ')}{value} (it is {format_value(left)})"
    )


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _since_threshold(op: str, n: Any, now: Any, unit: str, country: Any) -> tuple[str, Any] | None:
    """For ``since START op n``: the bound on START that makes it hold, or None."""
    if not isinstance(n, int | float) or isinstance(n, bool) or now is None:
        return None
    if unit == "weeks":  # counted as days / 7
        return _since_threshold(op, 7 * n, now, "days", country)
    if unit == "days":
        today = _day(now)
        if op == "at_least":
            return "on or before", today - timedelta(days=math.ceil(n))
        if op == "more_than":
            return "on or before", today - timedelta(days=math.floor(n) + 1)
        if op == "at_most":
            return "on or after", today - timedelta(days=math.floor(n))
        if op == "less_than":
            return "on or after", today - timedelta(days=math.ceil(n) - 1)
        return None
    if unit == "business_days":
        # the count is of business days in (START, now]: at least k of them
        # when START is before the k-th business day back from now (counting
        # now itself), at most k when START is on or after the (k+1)-th
        bound = _whole_count(op, n)
        if bound is None:
            return None
        kind, k = bound
        if kind == "at_least":
            day = _business_day_back(_day(now), k, country)
            return None if day is None else ("on or before", day - timedelta(days=1))
        day = _business_day_back(_day(now), k + 1, country)
        return None if day is None else ("on or after", day)
    if unit == "hours" and isinstance(now, datetime):
        bound_at = now - timedelta(hours=n)
        return {
            "at_least": ("on or before", bound_at),
            "more_than": ("before", bound_at),
            "at_most": ("on or after", bound_at),
            "less_than": ("after", bound_at),
        }.get(op)
    return None


def _whole_count(op: str, n: float) -> tuple[str, int] | None:
    """``count op n`` for a whole-number count, as at least k or at most k (None: any count)."""
    if op == "at_least":
        k = math.ceil(n)
    elif op == "more_than":
        k = math.floor(n) + 1
    elif op == "at_most":
        k = math.floor(n)
    elif op == "less_than":
        k = math.ceil(n) - 1
    else:
        return None
    if op in ("at_least", "more_than"):
        return None if k <= 0 else ("at_least", k)
    return None if k < 0 else ("at_most", k)


#: how far back ``_business_day_back`` looks before giving up (about 40 years)
_BUSINESS_DAYS_SEARCHED = 15_000


def _business_day_back(day: date, k: int, country: Any) -> date | None:
    """The k-th business day counting back from ``day`` (``day`` itself first when it is one)."""
    if k > _BUSINESS_DAYS_SEARCHED:
        return None
    country = country if isinstance(country, str) else None
    found = 0
    for _ in range(k * 2 + 400):  # weekends and holidays: never more than this many days
        if cal.is_business_day(day, country):
            found += 1
            if found == k:
                return day
        day -= timedelta(days=1)
    return None  # pragma: no cover - a calendar without business days


def _since_wait(op: str, n: Any, start: Any, unit: str, country: Any) -> Any:
    """The first day (or moment) on which ``since START op n`` holds, waiting with START unchanged."""
    if not isinstance(n, int | float) or isinstance(n, bool):
        return None
    if unit == "weeks":
        return _since_wait(op, 7 * n, start, "days", country)
    if unit == "hours":
        return as_datetime(start) + timedelta(hours=n) if op == "at_least" else None
    if unit == "business_days":
        bound = _whole_count(op, n)
        if bound is None or bound[0] != "at_least":
            return None
        return cal.add_business_days(
            _day(start), bound[1], country if isinstance(country, str) else None
        )
    if unit != "days":
        return None
    day = _day(start)
    if op == "at_least":
        return day + timedelta(days=math.ceil(n))
    if op == "more_than":
        return day + timedelta(days=math.floor(n) + 1)
    return None
