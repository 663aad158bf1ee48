"""The durable backend: a compiled policy evaluated by durable_rules' Rete network.

Two independent implementations that must agree on every decision check the
engine's semantics. This one hands matching, conflict resolution, shadowing
and the order of chaining to durable_rules (installed with the ``durable``
extra); the compiled policy's expressions compute the values it compares.

How a policy becomes a ruleset (docs/durable-backend.md has the long form):

* Rules are split into *stages*. A rule's stage is one more than the highest
  stage of every rule it must follow: the writers of what it reads and the
  higher-salience writers of what it writes. Rules of one stage never depend
  on each other, so their values can be computed together.
* An *opener* rule starts each stage. Its action asserts one *operand fact*
  per rule of the stage: the typed values the rule's tests compare (numbers,
  text, 0/1 for true/false, dates as day numbers or microseconds since 1970),
  computed from the facts known at that point. The rule's condition compares
  them in durable_rules (``$lt``, ``$gte``, ``$or``, ``$nex``, ...).
* A rule that sets a derived fact asserts ``{"set": name}``; every
  lower-salience writer of that fact has a ``$not`` on it, so durable_rules
  itself shadows them, and a *detector* rule reports the shadowing.
* ``pri``: 0 for the first opener, 1..n for the rules in schedule order, then
  the later openers, so a stage opens only after every rule of the one before
  has fired.

The decision is assembled from what durable_rules fired; explanations
(condition values) come from the compiled policy's conditions, and a rule
whose recomputed result disagrees with durable_rules raises
:class:`BackendMismatch`.

durable_rules has traps that this module steers around (each has a regression
test in tests/durable/test_traps.py, docs/durable-backend.md lists them): it
starts background threads (we use a synchronous host), holds at most 1024
live sessions (one at a time here, deleted in ``finally``), segfaults deleting
a session in a process where no action ever fired (a warm-up rule fires at
registration), swallows exceptions raised in actions (kept, the loop stopped,
re-raised), raises for facts that match nothing (caught), dies of SIGFPE on
integer ``$div`` by zero (never emitted), fails with error 303 when more than
64 tests match one fact and 113 beyond 31 groups per fact (both checked when
the policy is loaded), compares mixed types as text and loops forever on
``null`` (only typed, non-null values are asserted), does not retract a
pending activation when a ``$not`` fact appears (stages make that moot), fires
a rule once per true ``$or`` alternative (actions are idempotent) and registers
a ruleset name only once per host (names carry the policy's hash; freed when
unused).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ._agenda import TRACE_MODES, recommendation
from ._compiler import Caution, CompiledPolicy, CompiledRule, Recommend, SetFact
from ._conditions import first_failure, jsonable, trace
from ._decision import Decision
from ._errors import FollowupError, PolicyError, Problem
from ._rete import (
    MAX_SEQUENCE,
    MAX_TESTS_PER_FACT,
    SUPPORTED_OPERATORS,
    BackendError,
    Fill,
    Json,
    all_of,
    has_div,
    leaves,
    plan_leaf,
    sequence_length,
    stack_depth,
    translate,
)

if TYPE_CHECKING:
    from ._policy import Policy

__all__ = [
    "INSTALL_HINT",
    "MAX_TESTS_PER_FACT",
    "BackendError",
    "BackendMismatch",
    "BackendUnavailable",
    "DurableProgram",
    "available",
    "compile_program",
    "evaluate",
    "program_for",
    "ruleset_name",
]

BACKEND = "durable"
INSTALL_HINT = (
    "the durable backend needs durable-rules: pip install 'followup[durable]' "
    "(it builds from source with a C compiler and does not import on Python 3.13 or later)"
)
#: durable_rules stores ``pri`` in 16 bits and at most 4096 rules per ruleset.
_MAX_PRI = 65535
_MAX_RULES = 4096
#: properties one fact may have (durable_rules' limit is 255, with sid and id)
_MAX_FIELDS = 250


class BackendMismatch(BackendError):
    """durable_rules and the compiled policy disagree about a rule."""


class BackendUnavailable(FollowupError):
    """durable-rules is not installed (or cannot be imported on this Python)."""


def available() -> bool:
    """True when durable_rules can be imported."""
    try:
        _durable()
    except BackendUnavailable:
        return False
    return True


def _durable() -> Any:
    try:
        import durable.engine as engine
    except ImportError as exc:
        raise BackendUnavailable(INSTALL_HINT) from exc
    return engine


# ----------------------------------------------------------------- program


@dataclass
class _Run:
    """One evaluation in progress: what durable_rules fired, and the values it set."""

    known: dict[str, Any]
    fired: set[int] = field(default_factory=set)
    shadowed: set[int] = field(default_factory=set)
    outputs: dict[int, tuple[list[Any], list[Any], list[Any]]] = field(default_factory=dict)
    asserted: set[str] = field(default_factory=set)
    actions: int = 0
    error: BaseException | None = None


_RUNS: dict[str, _Run] = {}


@dataclass(frozen=True)
class _RulePlan:
    rule: CompiledRule
    index: int
    stage: int
    condition: Json  # the test on the rule's operand fact, ``{"r": index}`` included
    fills: tuple[Fill, ...]


class DurableProgram:
    """A compiled policy registered as a durable_rules ruleset, ready to evaluate.

    Build with :func:`compile_program` (or :func:`program_for`); one program per
    policy and process. The ruleset is deleted from durable_rules when the
    program is closed or garbage-collected.
    """

    def __init__(self, policy: CompiledPolicy, name: str, file: str | None = None) -> None:
        self.policy = policy
        self.name = name
        self.rules: tuple[_RulePlan, ...]
        self.stages: tuple[tuple[int, ...], ...]
        self.ruleset: dict[str, Json]
        self._plan(file)
        self._host = _host()
        self._lock = _HOST_LOCK
        self._handle: Any = None
        self._register()

    # -- building

    def _plan(self, file: str | None) -> None:
        policy = self.policy
        rules = policy.rules
        problems: list[Problem] = []

        def refuse(rule: CompiledRule, what: str, fix: str) -> None:
            problems.append(
                Problem(
                    "durable-unsupported",
                    f"rule '{rule.id}' cannot run on the durable backend: {what}",
                    rule.pointer,
                    file,
                    suggestion=fix,
                )
            )

        if len(rules) + 2 > min(_MAX_RULES // 2, _MAX_PRI // 2):
            problems.append(
                Problem(
                    "durable-unsupported",
                    f"the policy has {len(rules)} rules; the durable backend takes at most "
                    f"{min(_MAX_RULES // 2, _MAX_PRI // 2) - 2}",
                    "/rules",
                    file,
                    suggestion="use the native backend",
                )
            )
            raise PolicyError(problems)

        stage_of = _stages(rules)
        plans: list[_RulePlan] = []
        for index, rule in enumerate(rules):
            tests = list(leaves(rule.when)) if rule.when is not None else []
            bad = sorted({lf.operator.name for lf in tests} - SUPPORTED_OPERATORS)
            if bad:
                refuse(
                    rule,
                    f"the operator {', '.join(repr(b) for b in bad)} has no durable_rules translation",
                    "use the native backend, or give the operator a translation in engine/_rete.py",
                )
                continue
            leaf_plans = {id(lf): plan_leaf(lf, i) for i, lf in enumerate(tests)}
            parts: list[Json] = [{"r": index}]
            if rule.when is not None:
                parts.append(translate(rule.when, leaf_plans, negate=False))
            condition = all_of(parts)
            depth = stack_depth(condition) * (1 + len(rule.writes))
            if depth > MAX_TESTS_PER_FACT:
                refuse(
                    rule,
                    f"its condition needs up to {depth} tests on one fact and durable_rules "
                    f"stops at {MAX_TESTS_PER_FACT} (error 303)",
                    "split the rule, or use fewer alternatives under 'any' and 'not'",
                )
                continue
            length = sequence_length(condition)
            if length > MAX_SEQUENCE:
                refuse(
                    rule,
                    f"its condition needs {length} entries of groups and comparisons between "
                    f"values, and durable_rules takes at most {MAX_SEQUENCE} (error 113)",
                    "split the rule, or nest fewer 'any', 'all' and 'not' groups",
                )
                continue
            fields = sum(leaf_plans[id(lf)].fields for lf in tests)
            if fields > _MAX_FIELDS:
                refuse(
                    rule,
                    f"its tests compare {fields} values and one durable_rules fact holds "
                    f"at most {_MAX_FIELDS}",
                    "split the rule",
                )
                continue
            fills = tuple(leaf_plans[id(lf)].fill for lf in tests)
            plans.append(_RulePlan(rule, index, stage_of[index], condition, fills))
        if problems:
            raise PolicyError(problems)
        self.rules = tuple(plans)
        n_stages = max(stage_of, default=0) + 1
        self.stages = tuple(tuple(p.index for p in plans if p.stage == s) for s in range(n_stages))
        self.ruleset = self._ruleset_json()
        if len(self.ruleset) > _MAX_RULES:
            raise PolicyError(
                [
                    Problem(
                        "durable-unsupported",
                        f"the policy needs {len(self.ruleset)} durable_rules rules and a ruleset "
                        f"holds at most {_MAX_RULES}",
                        "/rules",
                        file,
                        suggestion="use the native backend",
                    )
                ]
            )
        if has_div(self.ruleset):  # pragma: no cover - nothing emits $div
            raise BackendError(
                "refusing a ruleset with $div: integer division by zero kills the process"
            )

    def _ruleset_json(self) -> dict[str, Json]:
        n = len(self.rules)
        out: dict[str, Json] = {
            "warm": {"pri": 0, "all": [{"m": {"warm": 1}}]},
        }
        for stage in range(len(self.stages)):
            out[f"open{stage}"] = {
                "pri": 0 if stage == 0 else n + stage,
                "all": [{"m": {"stage": stage}}],
            }
        for p in self.rules:
            writes = sorted(p.rule.writes)
            out[f"r{p.index}"] = {
                "pri": 1 + p.index,
                "all": [{"m": p.condition}]
                + [{f"w{j}$not": {"set": w}} for j, w in enumerate(writes)],
            }
            for j, w in enumerate(writes):
                out[f"r{p.index}shadow{j}"] = {
                    "pri": 1 + p.index,
                    "all": [{"m": p.condition}, {"w": {"set": w}}],
                }
        return out

    def _register(self) -> None:
        # a rule is activated once per true alternative of its condition (at most
        # MAX_TESTS_PER_FACT); more actions than that is a runaway loop
        limit = len(self.ruleset) * MAX_TESTS_PER_FACT
        actions: dict[str, Callable[[Any], None]] = {"warm": _no_action}
        for stage in range(len(self.stages)):
            actions[f"open{stage}"] = _action(self._opener(stage), limit)
        for p in self.rules:
            actions[f"r{p.index}"] = _action(self._firer(p), limit)
            for j in range(len(p.rule.writes)):
                actions[f"r{p.index}shadow{j}"] = _action(_shadower(p.index), limit)
        definition = {key: {**rule, "run": actions[key]} for key, rule in self.ruleset.items()}
        with self._lock:
            host = self._host
            if self.name in host.directory():
                raise BackendError(f"a ruleset named {self.name} is already registered")
            host.set_rulesets({self.name: definition})
            self._handle = host.get_ruleset(self.name)
            # delete_state in a process where no action ever fired segfaults
            sid = _next_sid()
            try:
                host.assert_fact(self.name, {"sid": sid, "warm": 1})
            finally:
                host.delete_state(self.name, sid)
        weakref.finalize(self, _free, host, self.name, self._handle)

    def _opener(self, stage: int) -> Callable[[_Run, Any], None]:
        members = [p for p in self.rules if p.stage == stage]
        last = stage == len(self.stages) - 1
        engine = _durable()

        def open_stage(run: _Run, c: Any) -> None:
            known = run.known
            sid = c.s["sid"]
            facts: list[Json] = []
            for p in members:
                fact: Json = {"sid": sid, "r": p.index}
                for fill in p.fills:
                    fill(known, fact)
                facts.append(fact)
            if not last:
                facts.append({"sid": sid, "stage": stage + 1})
            # One call for the stage (the closure has no batch call of its own).
            # durable_rules handles every fact of a batch and then raises when
            # one matched nothing: a rule whose condition is false.
            with contextlib.suppress(engine.MessageNotHandledException):
                c._ruleset.assert_facts(facts)

        return open_stage

    def _firer(self, p: _RulePlan) -> Callable[[_Run, Any], None]:
        rule, index = p.rule, p.index
        engine = _durable()

        def fire(run: _Run, c: Any) -> None:
            if index in run.fired:
                return  # a second true alternative of an ``any`` activates the rule again
            known = run.known
            run.fired.add(index)
            recs: list[Any] = []
            cautions: list[Any] = []
            derived: list[Any] = []
            for action in rule.actions:
                if isinstance(action, SetFact):
                    value = action.fn(known)
                    known[action.fact] = value
                    derived.append(
                        (
                            action.fact,
                            {
                                "value": jsonable(value),
                                "rule": rule.id,
                                "inputs": {
                                    name: jsonable(known.get(name)) for name in sorted(action.reads)
                                },
                            },
                        )
                    )
                    if action.fact not in run.asserted:
                        run.asserted.add(action.fact)
                        # raises when no lower-salience writer waits on it
                        with contextlib.suppress(engine.MessageNotHandledException):
                            c.assert_fact({"set": action.fact})
                elif isinstance(action, Recommend):
                    recs.append(recommendation(action, rule, known))
                elif isinstance(action, Caution):
                    cautions.append({"id": action.id, "rule": rule.id, "message": action.message})
            run.outputs[index] = (recs, cautions, derived)

        return fire

    # -- evaluating

    def run(self, facts: Mapping[str, Any], mode: str = "full") -> dict[str, Any]:
        """Evaluate normalised facts; same contract as the native ``_agenda.run``.

        Returns:
            A dict with ``recommendations``, ``cautions``, ``derived`` and ``trace``.

        Raises:
            BackendError: durable_rules failed, or disagreed with the compiled policy.
        """
        if mode not in TRACE_MODES:
            raise ValueError(f"trace must be one of {', '.join(TRACE_MODES)}, not {mode!r}")
        run = _Run(dict(facts))
        with self._lock:
            if self._handle is None:
                raise BackendError(f"the ruleset {self.name} has been closed")
            sid = _next_sid()
            _RUNS[sid] = run
            state: Any = None
            try:
                state = self._host.assert_fact(self.name, {"sid": sid, "stage": 0})
            except Exception as exc:
                if run.error is None:
                    raise BackendError(f"durable_rules failed: {exc}") from exc
            finally:
                del _RUNS[sid]
                self._host.delete_state(self.name, sid)
        if run.error is not None:
            raise run.error
        if not isinstance(state, dict) or "exception" in state:
            raise BackendError(f"durable_rules reported: {state and state.get('exception')}")
        return self._decision(run, mode)

    def _decision(self, run: _Run, mode: str) -> dict[str, Any]:
        known = run.known
        detail = mode != "none"
        full = mode == "full"
        recommendations: list[Any] = []
        cautions: list[Any] = []
        derived: dict[str, Any] = {}
        fired: list[dict[str, Any]] = []
        not_fired: list[dict[str, Any]] = []
        for rule_index, rule in enumerate(self.policy.rules):
            when = rule.when
            conditions: list[dict[str, Any]] = []
            if rule_index in run.fired:
                if detail and when is not None:
                    _agree(trace(when, known, conditions), True, rule, "fired")
                fired.append({"rule": rule.id, "conditions": conditions})
                recs, cauts, sets = run.outputs[rule_index]
                recommendations.extend(recs)
                cautions.extend(cauts)
                derived.update(sets)
                continue
            if rule_index in run.shadowed:
                if full and when is not None:
                    _agree(trace(when, known, conditions), True, rule, "was shadowed")
                not_fired.append(
                    {
                        "rule": rule.id,
                        "reason": "shadowed",
                        "failed_condition": None,
                        "conditions": conditions,
                    }
                )
                continue
            if when is None:
                raise BackendMismatch(
                    f"rule '{rule.id}' has no condition but durable_rules did not fire it"
                )
            if full:
                _agree(trace(when, known, conditions), False, rule, "did not fire")
            not_fired.append(
                {
                    "rule": rule.id,
                    "reason": "failed",
                    "failed_condition": first_failure(when, known) if detail else None,
                    "conditions": conditions,
                }
            )
        return {
            "recommendations": recommendations,
            "cautions": cautions,
            "derived": derived,
            "trace": {"fired": fired, "not_fired": not_fired},
        }

    def close(self) -> None:
        """Delete the ruleset from durable_rules (the program cannot evaluate afterwards)."""
        with self._lock:
            if self._handle is not None:
                _free(self._host, self.name, self._handle)
                self._handle = None

    def __repr__(self) -> str:
        return f"DurableProgram({self.name}, {len(self.rules)} rules, {len(self.stages)} stages)"


def _agree(result: bool | None, want: bool, rule: CompiledRule, what: str) -> None:
    if result is not want:
        raise BackendMismatch(
            f"durable_rules says rule '{rule.id}' {what}, but its condition is "
            f"{'true' if result else 'false'} for these facts"
        )


def _stages(rules: tuple[CompiledRule, ...]) -> list[int]:
    """Each rule's stage: one more than the highest stage of the rules it must follow."""
    pos = {r.id: i for i, r in enumerate(rules)}
    writers: dict[str, list[CompiledRule]] = {}
    for r in rules:
        for f in r.writes:
            writers.setdefault(f, []).append(r)
    before: dict[int, set[int]] = {i: set() for i in range(len(rules))}
    for ws in writers.values():
        ordered = sorted(ws, key=lambda r: (-r.salience, r.id))
        for a, b in itertools.pairwise(ordered):
            before[pos[b.id]].add(pos[a.id])
    for i, r in enumerate(rules):
        for f in r.reads:
            for w in writers.get(f, ()):
                if w.id != r.id:
                    before[i].add(pos[w.id])
    stage = [0] * len(rules)
    for i in range(len(rules)):  # rules are in schedule (topological) order
        if any(j >= i for j in before[i]):  # pragma: no cover - the compiler orders them
            raise BackendError(f"rule '{rules[i].id}' is scheduled before a rule it depends on")
        stage[i] = 1 + max((stage[j] for j in before[i]), default=-1)
    return stage


# -------------------------------------------------------------------- host

_HOST_LOCK = threading.RLock()
_HOST: Any = None
_HOST_PID = 0
_SIDS = itertools.count(1)


def _next_sid() -> str:
    return str(next(_SIDS))


def _host() -> Any:
    """The process's synchronous durable_rules host (a new one after a fork)."""
    global _HOST, _HOST_PID
    engine = _durable()
    with _HOST_LOCK:
        if _HOST is None or os.getpid() != _HOST_PID:

            class SyncHost(engine.Host):  # type: ignore[misc, name-defined]
                """No background dispatch threads: every call runs to completion."""

                def _run(self) -> None:
                    pass

                def directory(self) -> dict[str, Any]:
                    return self._ruleset_directory  # type: ignore[no-any-return]

            _HOST = SyncHost()
            _HOST_PID = os.getpid()
        return _HOST


def _free(host: Any, name: str, handle: Any) -> None:
    """Forget a ruleset in the host and delete it in durable_rules."""
    native = _durable().durable_rules_engine
    with _HOST_LOCK:
        directory = host._ruleset_directory
        if directory.get(name) is not handle:
            return
        del directory[name]
        host._ruleset_list.remove(handle)
        native.delete_ruleset(handle._handle)


def _no_action(c: Any) -> None:
    pass


def _abort(c: Any) -> None:
    """Stop durable_rules' action loop after this action.

    An exception raised in an action is swallowed and the loop goes on; a
    state that cannot be saved as JSON ends the loop and makes the host's
    call raise.
    """
    c.s._d["abort"] = {"not JSON"}


def _action(body: Callable[[_Run, Any], None], limit: int) -> Callable[[Any], None]:
    """Wrap an action: keep its exception for the caller and stop the run on it."""

    def action(c: Any) -> None:
        run = _RUNS[c.s["sid"]]
        run.actions += 1
        if run.actions > limit:
            run.error = run.error or BackendError(
                f"durable_rules ran more than {limit} actions for one evaluation; stopped"
            )
            _abort(c)
            return
        try:
            body(run, c)
        except Exception as exc:
            if run.error is None:
                run.error = exc
                if isinstance(exc, _durable().durable_rules_engine.error):
                    run.error = BackendError(f"durable_rules failed: {exc}")
                    run.error.__cause__ = exc
            _abort(c)

    return action


def _shadower(index: int) -> Callable[[_Run, Any], None]:
    def shadowed(run: _Run, c: Any) -> None:
        run.shadowed.add(index)

    return shadowed


# --------------------------------------------------------------- public API

_BY_NAME: weakref.WeakValueDictionary[str, DurableProgram] = weakref.WeakValueDictionary()
_BY_POLICY: weakref.WeakKeyDictionary[Policy, DurableProgram] = weakref.WeakKeyDictionary()


def ruleset_name(policy: Policy) -> str:
    """The ruleset's name: policy name, version and hash (a name registers once per host)."""
    return f"{policy.name}@{policy.version}#{policy.sha256[:16]}"


def compile_program(policy: Policy) -> DurableProgram:
    """Translate a loaded policy into a durable_rules ruleset (one per policy hash).

    Raises:
        BackendUnavailable: durable-rules is not installed.
        PolicyError: a rule uses something the backend cannot express (named).
    """
    _durable()
    name = ruleset_name(policy)
    with _HOST_LOCK:
        program = _BY_NAME.get(name)
        if program is None or program._handle is None or program._host is not _host():
            file = str(policy.path) if policy.path is not None else None
            program = DurableProgram(policy.compiled, name, file)
            _BY_NAME[name] = program
        return program


def program_for(policy: Policy) -> DurableProgram:
    """The policy's program, built on first use and kept while the policy lives."""
    with _HOST_LOCK:
        program = _BY_POLICY.get(policy)
        if program is None or program._handle is None or program._host is not _host():
            program = compile_program(policy)
            _BY_POLICY[policy] = program
        return program


def evaluate(
    policy: Policy,
    facts: Mapping[str, Any],
    as_of: date | datetime | str | None = None,
    *,
    trace: str = "full",
    file: str | None = None,
    locate: Callable[[str], tuple[int, int] | None] | None = None,
) -> Decision:
    """Evaluate one interview's facts on durable_rules; arguments as ``Policy.evaluate``.

    Returns:
        The same decision as the native backend, with ``engine.backend: durable``.

    Raises:
        FactsError: the facts are invalid.
        BackendUnavailable: durable-rules is not installed.
        BackendError: durable_rules failed or disagreed with the compiled policy.
    """
    return policy.evaluate(facts, as_of, trace=trace, file=file, locate=locate, backend=BACKEND)
