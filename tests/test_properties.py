"""Properties of evaluation: deterministic, independent of rule order, always schema-valid."""

from __future__ import annotations

import random
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from followup.engine import Decision, load_policy, load_policy_text, load_schema
from followup.engine._policy import bundled_policies_dir

from .strategies import facts

POLICY = load_policy("interview-follow-up")
SOURCE = (bundled_policies_dir() / "interview-follow-up" / "1.0.0.yaml").read_text("utf-8")
DECISION = Draft202012Validator(load_schema("decision"))


def _shuffled_policy(seed: int) -> Any:
    doc = yaml.safe_load(SOURCE)
    random.Random(seed).shuffle(doc["rules"])
    return load_policy_text(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "shuffled.yaml"
    )


SHUFFLED = [_shuffled_policy(seed) for seed in (1, 2, 3)]


def _without_hash(decision: dict[str, Any]) -> dict[str, Any]:
    out = dict(decision)
    out["policy"] = {k: v for k, v in decision["policy"].items() if k != "sha256"}
    return out


def test_shuffling_really_changes_the_file_order() -> None:
    orders = {tuple(r["id"] for r in p.document["rules"]) for p in SHUFFLED}
    assert len(orders) == 3
    assert {p.rule_ids for p in SHUFFLED} == {POLICY.rule_ids}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts(), st.sampled_from(["none", "fired", "full"]))
def test_decisions_do_not_depend_on_rule_order(f: dict[str, Any], mode: str) -> None:
    expected = _without_hash(POLICY.evaluate(f, trace=mode).to_dict())
    for policy in SHUFFLED:
        assert _without_hash(policy.evaluate(f, trace=mode).to_dict()) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts())
def test_evaluation_is_deterministic_and_schema_valid(f: dict[str, Any]) -> None:
    first = POLICY.evaluate(f, trace="full")
    assert (
        first.to_json() == POLICY.evaluate(dict(reversed(list(f.items()))), trace="full").to_json()
    )
    data = first.to_dict()
    errors = sorted(DECISION.iter_errors(data), key=str)
    assert not errors, errors[0].message
    every_rule = [e["rule"] for e in data["trace"]["fired"]] + [
        e["rule"] for e in data["trace"]["not_fired"]
    ]
    assert sorted(every_rule) == sorted(POLICY.rule_ids)
    # the JSON Lines form is the canonical bytes and one newline, nothing else
    assert first.to_line() == first.to_bytes() + b"\n"
    assert first.to_json().encode("utf-8") == first.to_bytes()


@settings(max_examples=100, deadline=None)
@given(facts())
def test_trace_levels_agree(f: dict[str, Any]) -> None:
    decisions = {mode: POLICY.evaluate(f, trace=mode) for mode in ("full", "fired", "none")}
    full, fired, none = (decisions[mode].to_dict() for mode in ("full", "fired", "none"))
    # which rules fired, as the decision tells it (with trace none and fired the
    # entries are held as JSON bytes, so it is not read from them)
    for decision in decisions.values():
        assert decision.fired == [e["rule"] for e in full["trace"]["fired"]]
        assert decision.fired_ids() == tuple(decision.fired)
        # a decision rebuilt from its content reads them from the trace entries
        assert Decision(decision.to_dict()).fired_ids() == tuple(decision.fired)
    for other in (fired, none):
        assert {k: v for k, v in other.items() if k != "trace"} == {
            k: v for k, v in full.items() if k != "trace"
        }
        assert [e["rule"] for e in other["trace"]["fired"]] == [
            e["rule"] for e in full["trace"]["fired"]
        ]
    assert fired["trace"]["fired"] == full["trace"]["fired"]
    assert [
        (e["rule"], e["reason"], e["failed_condition"]) for e in fired["trace"]["not_fired"]
    ] == [(e["rule"], e["reason"], e["failed_condition"]) for e in full["trace"]["not_fired"]]


@settings(max_examples=100, deadline=None)
@given(facts())
def test_failed_rules_have_a_false_condition(f: dict[str, Any]) -> None:
    data = POLICY.evaluate(f, trace="full").to_dict()
    for entry in data["trace"]["not_fired"]:
        if entry["reason"] == "failed":
            assert any(c["result"] is False for c in entry["conditions"])
            assert entry["failed_condition"]
