"""The agenda: forward chaining over a compiled policy.

Rules are matched in the compiled schedule (dependency order, then salience,
then id), each at most once (refraction). A rule that matches fires its
actions in order; derived facts it sets are visible to every later rule. A
rule that matches but would set a derived fact already set by a
higher-salience writer is *shadowed* and does not fire. One pass over the
schedule reaches the fixpoint, because no rule is matched before every rule
that can change what it reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ._compiler import Caution, CompiledPolicy, CompiledRule, Recommend, SetFact
from ._conditions import compare_moments, jsonable, trace

__all__ = ["TRACE_MODES", "Listener", "recommendation", "run"]

TRACE_MODES = ("none", "fired", "full")


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, tuple) and not v)


def _status(rec: Recommend, facts: Mapping[str, Any], earliest: Any, latest: Any) -> str:
    if rec.done_when is not None and _present(facts.get(rec.done_when)):
        return "done"
    now = facts["as_of"]
    if earliest is not None and compare_moments(now, earliest) < 0:
        return "upcoming"
    if latest is not None and compare_moments(now, latest) > 0:
        return "overdue"
    return "due"


#: called with (rule, outcome, facts known when it was matched); outcome is
#: "fired", "failed" or "shadowed"
Listener = Callable[[CompiledRule, str, Mapping[str, Any]], None]


def recommendation(
    action: Recommend, rule: CompiledRule, known: Mapping[str, Any]
) -> dict[str, Any]:
    """The decision's entry for a recommend action fired by ``rule`` (both backends use it)."""
    earliest = action.earliest.fn(known) if action.earliest is not None else None
    latest = action.latest.fn(known) if action.latest is not None else None
    return {
        "action": action.action,
        "status": _status(action, known, earliest, latest),
        "earliest": jsonable(earliest),
        "latest": jsonable(latest),
        "channel": action.channel(known) if action.channel is not None else None,
        "template": action.template,
        "rule": rule.id,
        "cite": _cite_list(rule.cite),
        "message": action.message,
    }


# Trace entries that depend only on the rule (and the text of its failing
# condition) are built once and shared between decisions. Decisions hand out
# copies (``Decision.to_dict``), so nothing can change a shared entry.
@functools.lru_cache(maxsize=4096)
def _constant_entry(rule: str, reason: str, failed: str | None) -> dict[str, Any]:
    return {"rule": rule, "reason": reason, "failed_condition": failed, "conditions": []}


@functools.lru_cache(maxsize=4096)
def _constant_fired(rule: str) -> dict[str, Any]:
    return {"rule": rule, "conditions": []}


@functools.lru_cache(maxsize=4096)
def _cite_list(cite: tuple[str, ...]) -> list[str]:
    return list(cite)


def run(
    policy: CompiledPolicy,
    facts: Mapping[str, Any],
    mode: str = "full",
    listener: Listener | None = None,
) -> dict[str, Any]:
    """Evaluate normalised facts; returns the decision's rule-dependent parts.

    Args:
        policy: the compiled policy.
        facts: normalised facts (see ``normalize_facts``), ``as_of`` included.
        mode: "none", "fired" or "full": how much of the trace to fill in.
        listener: told about every rule as it is matched, with a copy of the
            facts known at that moment (explanations are built from these
            events); None for ordinary evaluation.

    Returns:
        A dict with ``recommendations``, ``cautions``, ``derived`` and ``trace``.
    """
    known: dict[str, Any] = dict(facts)
    set_by: dict[str, str] = {}
    derived: dict[str, Any] = {}
    recommendations: list[dict[str, Any]] = []
    cautions: list[dict[str, Any]] = []
    fired: list[dict[str, Any]] = []
    not_fired: list[dict[str, Any]] = []
    detail = mode != "none"
    full = mode == "full"
    for rule in policy.rules:
        when = rule.when
        failed = None if when is None else when.check(known)
        shadowed = (
            failed is None and bool(rule.writes) and not set_by.keys().isdisjoint(rule.writes)
        )
        if listener is not None:
            listener(
                rule,
                "shadowed" if shadowed else "fired" if failed is None else "failed",
                dict(known),
            )
        if shadowed or failed is not None:
            reason = "shadowed" if shadowed else "failed"
            shown = failed if detail else None
            if not full or when is None:
                not_fired.append(_constant_entry(rule.id, reason, shown))
                continue
            conditions: list[dict[str, Any]] = []
            trace(when, known, conditions)
            not_fired.append(
                {
                    "rule": rule.id,
                    "reason": reason,
                    "failed_condition": shown,
                    "conditions": conditions,
                }
            )
            continue
        if detail and when is not None:
            conditions = []
            trace(when, known, conditions)
            fired.append({"rule": rule.id, "conditions": conditions})
        else:
            fired.append(_constant_fired(rule.id))
        for action in rule.actions:
            if isinstance(action, SetFact):
                value = action.fn(known)
                known[action.fact] = value
                set_by[action.fact] = rule.id
                derived[action.fact] = {
                    "value": jsonable(value),
                    "rule": rule.id,
                    "inputs": {name: jsonable(known.get(name)) for name in action.inputs},
                }
            elif isinstance(action, Recommend):
                recommendations.append(recommendation(action, rule, known))
            elif isinstance(action, Caution):
                cautions.append({"id": action.id, "rule": rule.id, "message": action.message})
    return {
        "recommendations": recommendations,
        "cautions": cautions,
        "derived": derived,
        "trace": {"fired": fired, "not_fired": not_fired},
    }
