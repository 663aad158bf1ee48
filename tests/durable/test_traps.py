"""durable_rules' known crashes and traps: each confirmed on the raw library, then
shown harmless through the backend. Probes that kill or hang the interpreter
run in a subprocess."""

from __future__ import annotations

import gc
import signal
import threading
from typing import Any

import pytest

from followup.engine import PolicyError, _durable, _rete, load_policy, load_policy_text

from .helpers import OPERATORS, need_durable, run_python

engine = need_durable()

SYNC_HOST = """
import durable.engine as de

class SyncHost(de.Host):
    def _run(self):
        pass
"""

FACTS = {"interview_at": "2026-03-02T10:00", "industry": "finance", "phone_ok": True}


def _policy_text(name: str, rules: str, version: str = "1.0.0") -> str:
    return f"""
policy:
  name: {name}
  version: "{version}"
  title: t
  description: d
  source: {{title: test}}
  changelog:
    - {{version: "{version}", changes: [first]}}
rules:
{rules}
"""


# ------------------------------------------------------------ background threads


def test_raw_host_starts_dispatch_threads() -> None:
    before = threading.active_count()
    host = engine.Host()
    assert threading.active_count() >= before + 2
    host._d_timer.cancel()
    host._t_timer.cancel()


def test_backend_host_is_synchronous() -> None:
    before = set(threading.enumerate())
    _durable.evaluate(load_policy(), FACTS, as_of="2026-03-04")
    assert set(threading.enumerate()) - before == set()


# -------------------------------------------------------------- live sessions


def test_raw_host_holds_at_most_1024_live_sessions() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
h.set_rulesets({"s": {"r": {"all": [{"m": {"k": 1}}], "run": lambda c: None}}})
for i in range(1100):
    try:
        h.assert_fact("s", {"sid": str(i), "k": 1})
    except MemoryError:
        print("full at", i)
        break
"""
    )
    assert probe.stdout.strip() == "full at 1024", probe.stderr


def test_backend_leaves_no_live_session() -> None:
    program = _durable.program_for(load_policy())
    _durable.evaluate(load_policy(), FACTS, as_of="2026-03-04")
    last = str(next(_durable._SIDS) - 1)
    assert not _durable._RUNS
    with pytest.raises(Exception, match="309"):  # ERR_SID_NOT_FOUND: it was deleted
        program._host.get_state(program.name, last)


# ------------------------------------------------ delete_state before any action


def test_raw_delete_state_segfaults_before_any_action() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
h.set_rulesets({"d": {"r": {"all": [{"m": {"k": 1}}], "run": lambda c: None}}})
try:
    h.assert_fact("d", {"sid": "1", "k": 2})
except de.MessageNotHandledException:
    pass
h.delete_state("d", "1")
print("survived")
"""
    )
    assert probe.returncode == -signal.SIGSEGV


def test_backend_warms_up_so_delete_state_is_safe() -> None:
    probe = run_python(
        """
import durable.engine as de
from followup.engine import load_policy, _durable
program = _durable.program_for(load_policy())
host = program._host
try:
    host.assert_fact(program.name, {"sid": "fresh", "nothing": 1})
except de.MessageNotHandledException:
    pass
host.delete_state(program.name, "fresh")
print("survived")
"""
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "survived"


# --------------------------------------------------- exceptions inside actions


def test_raw_action_exceptions_are_swallowed() -> None:
    probe = run_python(
        SYNC_HOST
        + """
def boom(c):
    raise ValueError("kaboom")
h = SyncHost()
h.set_rulesets({"e": {"r": {"all": [{"m": {"k": 1}}], "run": boom}}})
state = h.assert_fact("e", {"sid": "1", "k": 1})
print("kaboom" in state["exception"])
"""
    )
    assert probe.stdout.strip() == "True", probe.stderr


def test_backend_raises_what_an_action_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_policy()
    _durable.program_for(policy)
    calls: list[int] = []

    def broken(*args: Any) -> str:
        calls.append(1)
        raise ZeroDivisionError("in an action")

    monkeypatch.setattr(_durable, "recommendation", broken)
    with pytest.raises(ZeroDivisionError, match="in an action"):
        _durable.evaluate(policy, FACTS, as_of="2026-03-04")
    assert calls == [1]  # the run stopped at the first failure
    assert not _durable._RUNS
    monkeypatch.undo()
    assert _durable.evaluate(policy, FACTS, as_of="2026-03-04") == _same(policy)


def _same(policy: Any) -> Any:
    from followup.engine import Decision

    data = policy.evaluate(FACTS, as_of="2026-03-04").to_dict()
    data["engine"]["backend"] = "durable"
    return Decision(data)


def test_backend_stops_a_runaway_loop() -> None:
    run = _durable._Run({})
    _durable._RUNS["runaway"] = run
    try:
        action = _durable._action(lambda run, c: None, limit=3)
        closure: Any = type("C", (), {"s": engine.Content({"sid": "runaway"})})()
        for _ in range(4):
            action(closure)
    finally:
        del _durable._RUNS["runaway"]
    assert isinstance(run.error, _durable.BackendError)
    assert "more than 3 actions" in str(run.error)
    assert "abort" in closure.s._d  # a state that cannot be saved ends durable's loop


# ------------------------------------------------------------ unmatched facts


def test_raw_unmatched_fact_raises() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
h.set_rulesets({"u": {"r": {"all": [{"m": {"k": 1}}], "run": lambda c: None}}})
h.assert_fact("u", {"sid": "w", "k": 1})
try:
    h.assert_fact("u", {"sid": "1", "other": 3})
except de.MessageNotHandledException:
    print("not handled")
"""
    )
    assert probe.stdout.strip() == "not handled", probe.stderr


def test_backend_evaluates_facts_where_every_test_fails() -> None:
    facts = {"interview_at": "2026-03-02", "response_received": True}
    decision = _durable.evaluate(load_policy(), facts, as_of="2026-03-02")
    assert decision.fired == load_policy().evaluate(facts, as_of="2026-03-02").fired


# ------------------------------------------------------------- division by zero


def test_raw_integer_division_by_zero_kills_the_process() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
rule = {"$gt": {"a": {"$div": {"$l": {"$m": "b"}, "$r": 0}}}}
h.set_rulesets({"z": {"r": {"all": [{"m": rule}], "run": lambda c: None}}})
h.assert_fact("z", {"sid": "1", "a": 5, "b": 10})
print("survived")
"""
    )
    assert probe.returncode == -signal.SIGFPE


@pytest.mark.parametrize("path", ["interview-follow-up", str(OPERATORS)])
def test_backend_never_emits_division(path: str) -> None:
    program = _durable.program_for(load_policy(path))
    assert not _rete.has_div(program.ruleset)
    assert _rete.has_div({"x": [{"$div": {"$l": 1, "$r": 0}}]})


# ------------------------------------------------------- error 303: the stack


def _any_of_tests(n: int) -> str:
    tests = "\n".join(
        f"        - {{fact: status_inquiries_sent, more_than: {-i - 1}}}" for i in range(n)
    )
    return f"""
  - id: many-tests
    title: t
    cite: [G1]
    when:
      any:
{tests}
    then: [{{caution: {{id: many, message: m}}}}]
"""


def test_raw_more_than_64_matching_tests_fail_with_303(monkeypatch: pytest.MonkeyPatch) -> None:
    # our load-time check is exact: lift it and durable_rules itself fails
    policy = load_policy_text(_policy_text("stack65", _any_of_tests(65)))
    monkeypatch.setattr(_durable, "MAX_TESTS_PER_FACT", 10_000)
    with pytest.raises(_durable.BackendError, match="303"):
        _durable.evaluate(policy, {"interview_at": "2026-03-02", "status_inquiries_sent": 1})


def test_backend_refuses_rules_beyond_the_stack_at_load() -> None:
    at_limit = load_policy_text(_policy_text("stack64", _any_of_tests(64)))
    decision = _durable.evaluate(
        at_limit, {"interview_at": "2026-03-02", "status_inquiries_sent": 1}
    )
    assert decision.fired == ["many-tests"]
    over = load_policy_text(_policy_text("stack65b", _any_of_tests(65)))
    with pytest.raises(PolicyError) as info:
        _durable.compile_program(over)
    (problem,) = info.value.problems
    assert problem.code == "durable-unsupported"
    assert problem.pointer == "/rules/0"
    assert "rule 'many-tests'" in problem.message
    assert "65 tests on one fact" in problem.message
    assert "error 303" in problem.message


def test_stack_model_counts_branches_of_alternatives() -> None:
    two_ors = {
        "$and": [
            {"r": 1},
            {"$or": [{"$gt": {"a": i}} for i in range(31)]},
            {"$or": [{"$lt": {"b": i}} for i in range(31)]},
        ]
    }
    assert _rete.stack_depth(two_ors) == 61
    assert _rete.stack_depth({"$or": [{"a": i} for i in range(65)]}) == 65


def _negated_tests(n: int) -> str:
    tests = "\n".join(
        f"        - {{not: {{fact: status_inquiries_sent, equals: {i + 10}}}}}" for i in range(n)
    )
    return f"""
  - id: many-groups
    title: t
    cite: [G1]
    when:
      all:
{tests}
    then: [{{caution: {{id: many, message: m}}}}]
"""


def test_raw_too_many_groups_fail_with_113(monkeypatch: pytest.MonkeyPatch) -> None:
    # every negated test is an $or (two entries) inside the rule's $and (two more)
    policy = load_policy_text(_policy_text("groups15", _negated_tests(15)))
    monkeypatch.setattr(_durable, "MAX_SEQUENCE", 10_000)
    with pytest.raises(Exception, match="113"):
        _durable.compile_program(policy)


def test_backend_refuses_too_many_groups_at_load() -> None:
    at_limit = load_policy_text(_policy_text("groups14", _negated_tests(14)))
    facts = {"interview_at": "2026-03-02", "status_inquiries_sent": 1}
    assert _durable.evaluate(at_limit, facts).fired == ["many-groups"]
    with pytest.raises(PolicyError) as info:
        _durable.compile_program(load_policy_text(_policy_text("groups15b", _negated_tests(15))))
    (problem,) = info.value.problems
    assert "rule 'many-groups'" in problem.message
    assert "needs 32 entries" in problem.message
    assert "error 113" in problem.message


# -------------------------------------------------------------- mixed types


def test_raw_mixed_types_compare_as_text() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
fired = []
h.set_rulesets({"m": {"r": {"all": [{"m": {"$gt": {"v": 10}}}], "run": lambda c: fired.append(1)}}})
h.assert_fact("m", {"sid": "1", "v": "9"})
print(fired)
"""
    )
    assert probe.stdout.strip() == "[1]", probe.stderr  # "9" > 10


def test_backend_asserts_typed_values_only() -> None:
    with pytest.raises(_rete.BackendError, match="expected a number"):
        _rete.number("9")
    with pytest.raises(_rete.BackendError, match="expected a number"):
        _rete.number(True)
    with pytest.raises(_rete.BackendError, match="cannot compare"):
        _rete.number(float("nan"))
    with pytest.raises(_rete.BackendError, match="too large"):
        _rete.number(2**60)
    assert _rete.scalar(True) == 1
    assert _rete.scalar("9") == "9"


def test_backend_asserts_no_null(monkeypatch: pytest.MonkeyPatch) -> None:
    """``null`` next to a ``$nex`` test makes durable_rules fire forever."""
    asserted: list[dict[str, Any]] = []
    original = engine.Closure.assert_fact

    def spy(self: Any, ruleset_name: Any, fact: Any = None) -> Any:
        asserted.append(dict(fact if fact is not None else ruleset_name))
        return original(self, ruleset_name, fact)

    monkeypatch.setattr(engine.Closure, "assert_fact", spy)
    policy = load_policy(str(OPERATORS))
    _durable.evaluate(policy, {"interview_at": "2026-03-02", "stage": "final"}, as_of="2026-03-20")
    assert asserted
    assert all(v is not None for fact in asserted for v in fact.values())


def test_raw_null_with_nex_loops_forever() -> None:
    probe = run_python(
        SYNC_HOST
        + """
import os
calls = []
def act(c):
    calls.append(1)
    if len(calls) > 50:
        os._exit(3)  # an exception would be swallowed: leave at once
h = SyncHost()
h.set_rulesets({"n": {"eq": {"all": [{"m": {"v": None}}], "run": act},
                      "nex": {"all": [{"m": {"$nex": {"v": 1}}}], "run": act}}})
h.assert_fact("n", {"sid": "1", "v": None})
print("returned")
"""
    )
    assert probe.returncode == 3


# ---------------------------------------------- $not and pending activations


def test_raw_not_does_not_retract_a_pending_activation() -> None:
    """Why rules run in stages: a ``$not`` fact asserted by an earlier action
    does not stop a rule that was already activated."""
    probe = run_python(
        SYNC_HOST
        + """
log = []
def writer(c):
    log.append("writer")
    c.assert_fact({"set": "channel"})
h = SyncHost()
h.set_rulesets({"w": {
    "writer": {"pri": 1, "all": [{"m": {"r": 1}}], "run": writer},
    "lower": {"pri": 2, "all": [{"m": {"r": 2}}, {"s$not": {"set": "channel"}}],
              "run": lambda c: log.append("lower")},
}})
h.assert_facts("w", [{"sid": "1", "r": 1}, {"sid": "1", "r": 2}])
print(log)
"""
    )
    assert probe.stdout.strip() == "['writer', 'lower']", probe.stderr


def test_raw_rule_fires_once_per_true_alternative() -> None:
    probe = run_python(
        SYNC_HOST
        + """
log = []
h = SyncHost()
rule = {"$and": [{"r": 1}, {"$or": [{"$ex": {"a": 1}}, {"$ex": {"b": 1}}]}]}
h.set_rulesets({"o": {"r": {"all": [{"m": rule}], "run": lambda c: log.append(1)}}})
h.assert_fact("o", {"sid": "1", "r": 1, "a": 1, "b": 1})
print(len(log))
"""
    )
    assert probe.stdout.strip() == "2", probe.stderr


def test_backend_fires_a_rule_once_whatever_its_true_alternatives() -> None:
    facts = {"interview_at": "2026-03-02", "thank_you_sent_at": "2026-03-02"}
    decision = _durable.evaluate(load_policy(), facts, as_of="2026-03-03")
    # thank-you: any of [sent present, at most 7 days since]: both true
    assert decision.fired.count("thank-you") == 1
    assert [r["action"] for r in decision.recommendations].count("send_thank_you") == 1


def test_raw_reference_to_missing_property_compares_true() -> None:
    probe = run_python(
        SYNC_HOST
        + """
log = []
h = SyncHost()
rule = {"$and": [{"r": 1}, {"$lt": {"a": {"$m": "missing"}}}]}
h.set_rulesets({"x": {"r": {"all": [{"m": rule}], "run": lambda c: log.append(1)}}})
h.assert_fact("x", {"sid": "1", "r": 1, "a": 3})
print(log)
"""
    )
    assert probe.stdout.strip() == "[1]", probe.stderr


def test_raw_priority_wraps_outside_16_bits() -> None:
    probe = run_python(
        SYNC_HOST
        + """
log = []
h = SyncHost()
def record(name):
    return lambda c: log.append(name)  # an action with two parameters is asynchronous
rules = {f"p{p}": {"pri": p, "all": [{"m": {"k": 1}}], "run": record(f"p{p}")} for p in (65536, 1, -1, 0)}
h.set_rulesets({"w": rules})
h.assert_fact("w", {"sid": "1", "k": 1})
print(log)
"""
    )
    # 65536 acts as 0 and -1 as 65535
    assert probe.stdout.strip() == "['p65536', 'p0', 'p1', 'p-1']", probe.stderr


@pytest.mark.parametrize("path", ["interview-follow-up", str(OPERATORS)])
def test_backend_priorities_stay_in_16_bits(path: str) -> None:
    program = _durable.program_for(load_policy(path))
    priorities = [rule["pri"] for rule in program.ruleset.values()]
    assert min(priorities) >= 0 and max(priorities) <= 65535
    rules = [key for key in program.ruleset if key.startswith("r") and "shadow" not in key]
    assert [program.ruleset[key]["pri"] for key in rules] == sorted(
        program.ruleset[key]["pri"] for key in rules
    )


# ---------------------------------------------------------------- ruleset names


def test_raw_ruleset_name_registers_once_per_host() -> None:
    probe = run_python(
        SYNC_HOST
        + """
h = SyncHost()
h.set_rulesets({"n": {"r": {"all": [{"m": {"k": 1}}], "run": lambda c: None}}})
try:
    h.set_rulesets({"n": {"r": {"all": [{"m": {"k": 1}}], "run": lambda c: None}}})
except Exception as e:
    print(e)
"""
    )
    assert probe.stdout.strip() == "Ruleset with name n already registered", probe.stderr


def test_backend_names_rulesets_by_policy_and_frees_them() -> None:
    text = _policy_text(
        "reloaded", "  - {id: r, title: t, cite: [G1], then: [{caution: {id: c, message: m}}]}"
    )
    first, again = load_policy_text(text), load_policy_text(text)
    program = _durable.program_for(first)
    assert _durable.program_for(again) is program  # same hash, same ruleset
    assert program.name == f"reloaded@1.0.0#{first.sha256[:16]}"
    other = load_policy_text(text.replace('"1.0.0"', '"1.0.1"'))
    assert _durable.program_for(other).name != program.name
    host = program._host
    name = program.name
    assert name in host._ruleset_directory
    del first, again, program
    gc.collect()
    assert name not in host._ruleset_directory  # freed with delete_ruleset
    reloaded = load_policy_text(text)
    assert _durable.evaluate(reloaded, {"interview_at": "2026-03-02"}).fired == ["r"]


def test_closed_program_refuses_to_evaluate() -> None:
    text = _policy_text(
        "closing", "  - {id: r, title: t, cite: [G1], then: [{caution: {id: c, message: m}}]}"
    )
    policy = load_policy_text(text)
    program = _durable.compile_program(policy)
    program.close()
    assert program.name not in program._host._ruleset_directory
    with pytest.raises(_durable.BackendError, match="closed"):
        program.run({"interview_at": "2026-03-02", "as_of": "2026-03-02"})
    assert _durable.program_for(policy).run is not None  # rebuilt on demand


# --------------------------------------------------- what cannot be expressed


def test_unsupported_operator_names_rule_and_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_durable, "SUPPORTED_OPERATORS", _durable.SUPPORTED_OPERATORS - {"between"})
    policy = load_policy(str(OPERATORS))
    with pytest.raises(PolicyError) as info:
        _durable.DurableProgram(policy.compiled, "operators-without-between", str(OPERATORS))
    messages = {p.message for p in info.value.problems}
    assert messages == {
        "rule 'number-compare' cannot run on the durable backend: "
        "the operator 'between' has no durable_rules translation",
        "rule 'not-between' cannot run on the durable backend: "
        "the operator 'between' has no durable_rules translation",
        "rule 'moment-range' cannot run on the durable backend: "
        "the operator 'between' has no durable_rules translation",
    }
    assert all(p.file == str(OPERATORS) for p in info.value.problems)


# ------------------------------------------------------------ one host per process


def _evaluate_in_worker(row: dict[str, Any]) -> tuple[int, str]:
    import os

    decision = _durable.evaluate(load_policy(), row, as_of="2026-03-20")
    return os.getpid(), decision.to_json()


def test_forked_workers_get_their_own_host() -> None:
    import multiprocessing
    import os

    rows = [dict(FACTS, applicant_id=f"A{i}", status_inquiries_sent=i % 3) for i in range(6)]
    parent = [_evaluate_in_worker(row)[1] for row in rows]  # the parent has a host already
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_evaluate_in_worker, rows)
    assert {pid for pid, _ in results} - {os.getpid()}
    assert [decision for _, decision in results] == parent
