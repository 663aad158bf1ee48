"""Native and durable backends must produce the same decision, byte for byte
except ``engine.backend``: on every test case of the bundled policies, a
generated cohort, hypothesis facts, and a policy using every operator."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from followup.engine import Policy, _durable, load_policy
from followup.engine._policy import bundled_policies_dir
from followup.engine._testing import PolicyCase, load_tests

from ..strategies import facts as fact_strategy
from .helpers import COHORT_AS_OF, OPERATORS, cohort, need_durable

need_durable()

TEST_FILES = sorted(bundled_policies_dir().glob("*/*.tests.yaml"))
MODES = ("full", "fired", "none")


@functools.cache
def _policy(target: str) -> Policy:
    return load_policy(target)


def _both(policy: Policy, facts: Any, as_of: str | None, mode: str = "full") -> tuple[str, str]:
    native = policy.evaluate(facts, as_of=as_of, trace=mode).to_json()
    durable = _durable.evaluate(policy, facts, as_of=as_of, trace=mode).to_json()
    native = native.replace('"backend":"native"', '"backend":"durable"', 1)
    return native, durable


def _cases() -> list[tuple[str, PolicyCase]]:
    return [
        (load_tests(path).policy_target(), case)
        for path in TEST_FILES
        for case in load_tests(path).cases
    ]


@pytest.mark.parametrize(
    ("target", "case"),
    _cases(),
    ids=lambda v: v.name if isinstance(v, PolicyCase) else Path(v).parent.name,
)
def test_policy_cases_agree(target: str, case: PolicyCase) -> None:
    policy = _policy(target)
    for mode in MODES:
        native, durable = _both(policy, case.facts, case.as_of, mode)
        assert durable == native, mode


@pytest.mark.parametrize("target", ["interview-follow-up", str(OPERATORS)])
def test_cohort_agrees(target: str) -> None:
    policy = _policy(target)
    n = 5000 if target == "interview-follow-up" else 1000
    differ = []
    for row in cohort(n):
        native, durable = _both(policy, row, COHORT_AS_OF)
        if durable != native:
            differ.append(row["applicant_id"])
    assert not differ, f"{len(differ)} of {n} decisions differ, first: {differ[:5]}"


def test_operator_policy_exercises_every_outcome() -> None:
    """The operators fixture is only useful if each rule both fires and does not."""
    policy = _policy(str(OPERATORS))
    seen: dict[str, set[str]] = {rid: set() for rid in policy.rule_ids}
    for row in cohort(400):
        trace = _durable.evaluate(policy, row, COHORT_AS_OF).to_dict()["trace"]
        for entry in trace["fired"]:
            seen[entry["rule"]].add("fired")
        for entry in trace["not_fired"]:
            seen[entry["rule"]].add(entry["reason"])
    lacking = {rid: outcomes for rid, outcomes in seen.items() if len(outcomes) < 2}
    assert set(lacking) == {"timeline-late"}  # always shadowed: every row has a stage
    assert seen["timeline-late"] == {"shadowed"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fact_strategy())
def test_hypothesis_facts_agree(facts: dict[str, Any]) -> None:
    for target in ("interview-follow-up", str(OPERATORS)):
        native, durable = _both(_policy(target), facts, None)
        assert durable == native


def test_the_decision_says_which_backend() -> None:
    decision = _durable.evaluate(load_policy(), {"interview_at": "2026-03-02"}, as_of="2026-03-03")
    assert decision.to_dict()["engine"]["backend"] == "durable"


def test_policy_evaluate_backend_hook() -> None:
    """``Policy.evaluate(backend="durable")`` and ``load_policy(backend=...)`` reach this backend."""
    from followup.engine._policy import BACKENDS

    assert "durable" in BACKENDS
    facts = {"interview_at": "2026-03-02T10:00", "industry": "finance"}
    policy = load_policy("interview-follow-up", backend="durable")
    hooked = policy.evaluate(facts, as_of="2026-03-05")
    direct = _durable.evaluate(policy, facts, as_of="2026-03-05")
    assert hooked.to_json() == direct.to_json()
    native = load_policy().evaluate(facts, as_of="2026-03-05", backend="native")
    assert native.to_dict()["engine"]["backend"] == "native"


def test_batch_with_the_durable_backend_writes_the_same_decisions(tmp_path: Path) -> None:
    """``followup batch --backend durable``: one host per worker process, same bytes but the backend."""
    from click.testing import CliRunner

    from followup.cli import main

    source = tmp_path / "cohort.jsonl"
    source.write_text("".join(json.dumps(f) + "\n" for f in cohort(300, seed=5)), "utf-8")
    outputs = {}
    for backend in ("native", "durable"):
        out = tmp_path / f"{backend}.jsonl"
        result = CliRunner().invoke(
            main,
            [
                "batch",
                str(source),
                "-o",
                str(out),
                "--as-of",
                "2026-01-12",
                "--workers",
                "2",
                "-q",
                "--backend",
                backend,
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[backend] = out.read_text("utf-8")
    assert outputs["durable"].count('"backend":"durable"') == 300
    assert (
        outputs["durable"].replace('"backend":"durable"', '"backend":"native"') == outputs["native"]
    )
