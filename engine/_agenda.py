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
from typing import Any, Final

import orjson

from ._compiler import Caution, CompiledPolicy, CompiledRule, Recommend, SetFact
from ._conditions import compare_moments, jsonable, trace
from ._facts import read_fact

__all__ = ["TRACE_MODES", "Listener", "recommendation", "run"]

TRACE_MODES = ("none", "fired", "full")


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, tuple) and not v)


def _status(rec: Recommend, facts: Mapping[str, Any], earliest: Any, latest: Any) -> str:
    if rec.done_when is not None and _present(read_fact(facts, rec.done_when)):
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
    action: Recommend,
    rule: CompiledRule,
    known: Mapping[str, Any],
    blank: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The decision's entry for a recommend action fired by ``rule`` (both backends use it).

    ``blank``: ``_blank_recommendation(action, rule)``, which is copied and
    filled in (cheaper than building the dict) when the caller keeps one.
    """
    earliest = action.earliest.fn(known) if action.earliest is not None else None
    latest = action.latest.fn(known) if action.latest is not None else None
    entry = dict(blank) if blank is not None else _blank_recommendation(action, rule)
    entry["status"] = _status(action, known, earliest, latest)
    entry["earliest"] = jsonable(earliest)
    entry["latest"] = jsonable(latest)
    entry["channel"] = action.channel(known) if action.channel is not None else None
    return entry


def _blank_recommendation(action: Recommend, rule: CompiledRule) -> dict[str, Any]:
    """A recommendation's entry with what depends on the facts left None (its keys
    in the decision's order)."""
    return {
        "action": action.action,
        "status": None,
        "earliest": None,
        "latest": None,
        "channel": None,
        "template": action.template,
        "rule": rule.id,
        "cite": _cite_list(rule.cite),
        "message": action.message,
    }


# Trace entries that depend only on the rule (and the text of its failing
# condition) are built once per rule and trace mode (``_Constants``) and shared
# between decisions. Decisions hand out copies (``Decision.to_dict``), so
# nothing can change a shared entry.
def _constant_entry(rule: str, reason: str, failed: str | None) -> dict[str, Any]:
    return {"rule": rule, "reason": reason, "failed_condition": failed, "conditions": []}


# The entries of rules that did not fire, with trace none or fired, are kept as
# their JSON bytes: a decision carries about two dozen of them, and serialising
# them again for every applicant took about 5% of a decision's instructions.
# Only the decision's bytes show them (``Decision.to_bytes`` and what is made
# from it).
def _constant_json(rule: str, reason: str, failed: str | None) -> orjson.Fragment:
    return _fragment(_constant_entry(rule, reason, failed))


def _fragment(value: Any) -> orjson.Fragment:
    """``value``'s JSON bytes, to keep: copied to their own size, because the
    bytes orjson returns keep its whole buffer (4 KiB or more: 100,000 entries
    of 100 bytes held 390 MB), which memo entries would hold for good."""
    return orjson.Fragment(bytes(memoryview(orjson.dumps(value))))


def _constant_fired(rule: str) -> dict[str, Any]:
    return {"rule": rule, "conditions": []}


class _Constants:
    """What of one rule's outcome depends on nothing but the rule (and the text
    of its failing condition), for one trace mode: made once, then looked up
    without building a key."""

    __slots__ = ("blanks", "failed", "fired", "shadowed")

    def __init__(
        self, rule: CompiledRule, mode: str, blanks: tuple[dict[str, Any] | None, ...]
    ) -> None:
        #: per action, its blank recommendation (see ``recommendation``), or None
        self.blanks = blanks
        #: failing condition's text -> the entry (JSON bytes unless trace full)
        self.failed: dict[str, Any] = {}
        # trace full keeps entries as dicts; the other modes as JSON bytes (see run)
        if mode == "full":
            self.fired: Any = _constant_fired(rule.id)
            self.shadowed: Any = _constant_entry(rule.id, "shadowed", None)
        else:
            self.fired = _fragment(_constant_fired(rule.id))
            self.shadowed = _constant_json(rule.id, "shadowed", None)


@functools.lru_cache(maxsize=4096)
def _cite_list(cite: tuple[str, ...]) -> list[str]:
    return list(cite)


class _Memo:
    """Results of a pure function of some facts, keyed by the values of those facts.

    Every piece of a rule's outcome is a pure function of the facts it reads
    (the compiler lists them), so equal values give equal results and a
    cohort, where many applicants share an industry, a channel or a stage,
    need not evaluate the same thing twice. The memo is bounded (two
    generations of ``MEMO_LIMIT`` entries), and switched off for good when
    most of its look-ups miss (keys made of timestamps), so it never costs
    much. It changes how fast a decision is made, never what it says; entries are
    shared and never changed (decisions hand out copies). Threads may share
    a policy: a race can only compute a value twice, never store a wrong one.
    """

    __slots__ = ("active", "lookups", "misses", "names", "old", "since", "table")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        # two generations: when ``table`` is full it becomes ``old``, and what is
        # still used moves back, so the values in use survive a turnover
        self.table: dict[Any, Any] = {}
        self.old: dict[Any, Any] = {}
        self.lookups = 0  # every key made is looked up once
        self.misses = 0
        self.since = 0  # look-ups at the last review
        self.active = True

    def key_of(self, known: dict[str, Any]) -> Any:
        """The key of a row's facts: the value of the one fact read, or a tuple of
        the values (None for an unknown fact)."""
        self.lookups += 1
        names = self.names
        n = len(names)
        if n == 1:
            return known.get(names[0])
        if n == 2:
            return (known.get(names[0]), known.get(names[1]))
        if n == 3:
            return (known.get(names[0]), known.get(names[1]), known.get(names[2]))
        if n == 4:
            return (
                known.get(names[0]),
                known.get(names[1]),
                known.get(names[2]),
                known.get(names[3]),
            )
        return tuple([known.get(name) for name in names])

    def recall(self, key: Any) -> Any:
        """The value from the older generation (moved to the newer), or None."""
        value = self.old.get(key)
        if value is not None:
            self._put(key, value)
        return value

    def learn(self, key: Any, value: Any, plans: _Plans) -> Any:
        """Remember a value that had to be worked out, and return it."""
        self._put(key, value)
        self._missed(plans)
        return value

    def _put(self, key: Any, value: Any) -> None:
        table = self.table
        if len(table) >= MEMO_LIMIT:
            self.old = table
            table = self.table = {}
        table[key] = value

    def _missed(self, plans: _Plans) -> None:
        """Count a miss; switch off a memo that mostly misses."""
        self.misses += 1
        if self.misses >= MEMO_REVIEW:
            # (not at the first review: a memo starts empty, so its first look-ups all miss)
            if self.since and self.misses > MEMO_MAX_MISS_RATE * (self.lookups - self.since):
                self.active = False
                self.table, self.old = {}, {}
                plans.steps.clear()  # rebuilt without this memo
            self.misses = 0
            self.since = self.lookups


#: entries a memo's newer generation holds before it becomes the older one
MEMO_LIMIT: Final = 2048
#: misses after which a memo's hit rate is reviewed
MEMO_REVIEW: Final = 2048
#: a memo missing on more than this share of its look-ups since its last review is switched off
MEMO_MAX_MISS_RATE: Final = 0.75

# a rule's verdict: (failing text or None, entry when it fails or fires, entry when shadowed)
_Verdict = tuple[str | None, Any, Any]
# a fired rule's effects: (fact, value, derived entry) per set, recommendations, cautions
_Effects = tuple[
    tuple[tuple[str, Any, dict[str, Any]], ...],
    tuple[dict[str, Any], ...],
    tuple[dict[str, Any], ...],
]


class _Plan:
    """How one rule is evaluated: its memos and the facts that key them."""

    __slots__ = ("constants", "copy_facts", "effects", "rule", "verdicts")

    def __init__(self, rule: CompiledRule) -> None:
        self.rule = rule
        blanks = tuple(
            _blank_recommendation(a, rule) if isinstance(a, Recommend) else None
            for a in rule.actions
        )
        self.constants = {mode: _Constants(rule, mode, blanks) for mode in TRACE_MODES}
        when_reads = tuple(sorted(rule.when.reads)) if rule.when is not None else ()
        self.verdicts = {mode: _Memo(when_reads) for mode in TRACE_MODES}
        action_reads = frozenset().union(*(a.reads for a in rule.actions))
        self.effects = _Memo(tuple(sorted(action_reads)))
        # a fact set by one action and read by a later one needs a scratch copy of the facts
        sets = [i for i, a in enumerate(rule.actions) if isinstance(a, SetFact)]
        self.copy_facts = bool(sets) and sets[0] < len(rule.actions) - 1


# one step of the agenda: rule, verdict memo (None when off), writes, effects memo,
# copy_facts, the rule's constant entries for the mode
_Step = tuple[CompiledRule, "_Memo | None", tuple[str, ...], "_Memo | None", bool, _Constants]


class _Plans:
    """A compiled policy's plans, and the agenda's steps for each trace mode."""

    __slots__ = ("blank", "plans", "steps")

    def __init__(self, policy: CompiledPolicy) -> None:
        self.plans = tuple(_Plan(rule) for rule in policy.rules)
        names: set[str] = set()
        for plan in self.plans:
            names.update(plan.verdicts["none"].names, plan.effects.names)
        #: every fact a memo key reads, unknown: a row's facts start from it when
        #: a listener is told about them
        self.blank: dict[str, Any] = dict.fromkeys(sorted(names))
        self.steps: dict[str, tuple[_Step, ...]] = {}

    def for_mode(self, mode: str) -> tuple[_Step, ...]:
        steps = self.steps.get(mode)
        if steps is None:
            steps = self.steps[mode] = tuple(
                (
                    p.rule,
                    p.verdicts[mode] if p.verdicts[mode].active else None,
                    tuple(sorted(p.rule.writes)),
                    p.effects if p.effects.active and p.rule.actions else None,
                    p.copy_facts,
                    p.constants[mode],
                )
                for p in self.plans
            )
        return steps


def _plans_for(policy: CompiledPolicy) -> _Plans:
    plans = policy.cache.get("plans")
    if plans is None:
        plans = policy.cache["plans"] = _Plans(policy)
    return plans


def _verdict(
    rule: CompiledRule, known: Mapping[str, Any], mode: str, constants: _Constants, shared: bool
) -> _Verdict:
    """A rule's verdict; ``shared``: it goes into a memo, to be used again."""
    when = rule.when
    failed = None if when is None else when.check(known)
    detail = mode != "none"
    full = mode == "full"
    conditions: list[dict[str, Any]] = []
    if failed is not None:
        if not full or when is None:  # (when is None never here: that rule cannot fail)
            entry = constants.failed.get(failed)
            if entry is None:
                entry = constants.failed[failed] = _constant_json(
                    rule.id, "failed", failed if detail else None
                )
            return failed, entry, None
        trace(when, known, conditions)
        entry = {
            "rule": rule.id,
            "reason": "failed",
            "failed_condition": failed,
            "conditions": conditions,
        }
        return failed, entry, None
    if not detail or when is None:
        return None, constants.fired, constants.shadowed
    trace(when, known, conditions)
    fired = {"rule": rule.id, "conditions": conditions}
    if not full:
        # a memo's entry is kept as JSON bytes, so that the decisions that share
        # it need not serialise it again each time (see Decision.view)
        return None, _fragment(fired) if shared else fired, constants.shadowed
    shadowed = {
        "rule": rule.id,
        "reason": "shadowed",
        "failed_condition": None,
        "conditions": conditions,
    }
    return None, fired, shadowed


def _effects(
    rule: CompiledRule,
    known: dict[str, Any],
    copy_facts: bool,
    blanks: tuple[dict[str, Any] | None, ...],
) -> _Effects:
    facts = dict(known) if copy_facts else known
    sets: list[tuple[str, Any, dict[str, Any]]] = []
    recommendations: list[dict[str, Any]] = []
    cautions: list[dict[str, Any]] = []
    for i, action in enumerate(rule.actions):
        if isinstance(action, SetFact):
            value = action.fn(facts)
            if copy_facts:
                facts[action.fact] = value
            entry = {
                "value": jsonable(value),
                "rule": rule.id,
                "inputs": {name: jsonable(facts.get(name)) for name in action.inputs},
            }
            sets.append((action.fact, value, entry))
        elif isinstance(action, Recommend):
            recommendations.append(recommendation(action, rule, facts, blanks[i]))
        elif isinstance(action, Caution):
            cautions.append({"id": action.id, "rule": rule.id, "message": action.message})
    return tuple(sets), tuple(recommendations), tuple(cautions)


def run(
    policy: CompiledPolicy,
    facts: Mapping[str, Any],
    mode: str = "full",
    listener: Listener | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Evaluate normalised facts; returns the decision's rule-dependent parts.

    Args:
        policy: the compiled policy.
        facts: normalised facts (see ``normalize_facts``), ``as_of`` included.
        mode: "none", "fired" or "full": how much of the trace to fill in.
        listener: told about every rule as it is matched, with a copy of the
            facts known at that moment (explanations are built from these
            events); None for ordinary evaluation.

    Returns:
        A dict with ``recommendations``, ``cautions``, ``derived`` and
        ``trace``, and the ids of the rules that fired, in firing order. With
        trace "none" or "fired", the trace's entries are JSON bytes
        (``orjson.Fragment``), some shared between decisions; with "full",
        dicts.
    """
    plans = _plans_for(policy)
    steps = plans.for_mode(mode)
    known: dict[str, Any]
    if listener is None:
        known = dict(facts)  # memo keys read an unknown fact as None
    else:  # every fact a memo key reads, then the facts: the order of the listener's copies
        known = dict(plans.blank)
        known.update(facts)
    set_by: dict[str, str] = {}
    derived: dict[str, Any] = {}
    recommendations: list[dict[str, Any]] = []
    cautions: list[dict[str, Any]] = []
    fired: list[Any] = []  # entries, or their JSON bytes
    fired_rules: list[str] = []
    not_fired: list[Any] = []  # entries, or their JSON bytes (see _constant_json)
    verdict: _Verdict
    effects: _Effects
    for rule, verdicts, writes, effects_memo, copy_facts, constants in steps:
        if verdicts is not None:
            key = verdicts.key_of(known)
            found = verdicts.table.get(key)
            if found is None:
                found = verdicts.recall(key)
            if found is None:
                verdict = verdicts.learn(key, _verdict(rule, known, mode, constants, True), plans)
            else:
                verdict = found  # typed, so the compiled build unpacks it without iterating
        else:
            verdict = _verdict(rule, known, mode, constants, False)
        failed, entry, shadow_entry = verdict
        shadowed = False
        if failed is None:
            for fact in writes:
                if fact in set_by:
                    shadowed = True
                    break
        if listener is not None:
            listener(
                rule,
                "shadowed" if shadowed else "fired" if failed is None else "failed",
                {k: v for k, v in known.items() if v is not None or k in facts or k in set_by},
            )
        if failed is not None:
            not_fired.append(entry)
            continue
        if shadowed:
            not_fired.append(shadow_entry)
            continue
        fired.append(entry)
        fired_rules.append(rule.id)
        if effects_memo is not None:
            key = effects_memo.key_of(known)
            found = effects_memo.table.get(key)
            if found is None:
                found = effects_memo.recall(key)
            if found is None:
                effects = effects_memo.learn(
                    key, _effects(rule, known, copy_facts, constants.blanks), plans
                )
            else:
                effects = found
        elif rule.actions:
            effects = _effects(rule, known, copy_facts, constants.blanks)
        else:
            continue
        sets, recs, warns = effects
        for fact, value, derived_entry in sets:
            known[fact] = value
            set_by[fact] = rule.id
            derived[fact] = derived_entry
        if recs:
            recommendations.extend(recs)
        if warns:
            cautions.extend(warns)
    body = {
        "recommendations": recommendations,
        "cautions": cautions,
        "derived": derived,
        "trace": {"fired": fired, "not_fired": not_fired},
    }
    return body, fired_rules
