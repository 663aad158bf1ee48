"""The agenda's memos: switched off when their look-ups mostly miss, and never a
change to what a decision says."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from followup.engine import load_policy
from followup.engine._agenda import MEMO_REVIEW, _plans_for

AS_OF = "2026-01-12"


def _facts(i: int) -> dict[str, Any]:
    """Row ``i``: a new interview time on every row, an industry from a short list,
    and a stated decision date (a new one each time) on every fourth row only."""
    at = datetime(2025, 3, 3, 9) + timedelta(minutes=37 * i)
    facts: dict[str, Any] = {
        "applicant_id": f"M{i:06d}",
        "interview_at": at.isoformat(),
        "industry": ("technology", "finance", "healthcare")[i % 3],
        "country": "US",
    }
    if i % 4 == 0:
        facts["stated_decision_by"] = (at + timedelta(days=10)).date().isoformat()
    return facts


def _memos(policy: Any, rule_id: str) -> Any:
    for plan in _plans_for(policy.compiled).plans:
        if plan.rule.id == rule_id:
            return plan
    raise AssertionError(rule_id)


def test_a_memo_is_judged_by_its_own_look_ups_not_by_the_rows() -> None:
    policy = load_policy("interview-follow-up")
    # inquiry-window-stated-date fires on a quarter of the rows, and its action
    # reads the stated date and the last contact, new on every row: every look-up
    # misses, though it misses on only a quarter of the rows
    rows = 4 * 2 * MEMO_REVIEW + 400
    fired = 0
    for i in range(rows):
        decision = policy.evaluate(_facts(i), as_of=AS_OF, trace="fired")
        fired += "inquiry-window-stated-date" in decision.fired
    assert fired == rows // 4
    stated = _memos(policy, "inquiry-window-stated-date")
    assert not stated.effects.active
    assert stated.effects.table == {} and stated.effects.old == {}  # its entries let go
    # response-window's action reads the industry only: three values, every
    # look-up after the first three hits
    window = _memos(policy, "response-window")
    assert window.effects.active
    assert window.effects.lookups >= rows - 10
    assert len(window.effects.table) == 3


def test_a_memo_is_not_judged_on_its_first_look_ups() -> None:
    """A memo starts empty: the first review (its first MEMO_REVIEW misses) does
    not switch it off, however few of its look-ups hit so far."""
    policy = load_policy("interview-follow-up")
    for i in range(4 * MEMO_REVIEW + 40):  # one review of the stated date's memo
        policy.evaluate(_facts(i), as_of=AS_OF, trace="fired")
    stated = _memos(policy, "inquiry-window-stated-date")
    assert stated.effects.since > 0  # reviewed once
    assert stated.effects.active


def test_memos_on_or_off_decide_the_same() -> None:
    """The same rows decided by a policy whose memos have been reviewed (some
    switched off, the others full) and by fresh policies, row by row."""
    warm = load_policy("interview-follow-up")
    for i in range(4 * 2 * MEMO_REVIEW + 400):
        warm.evaluate(_facts(i), as_of=AS_OF, trace="fired")
    assert not _memos(warm, "inquiry-window-stated-date").effects.active
    for trace in ("none", "fired", "full"):
        cold = load_policy("interview-follow-up")
        for i in range(0, 4 * 2 * MEMO_REVIEW + 400, 97):
            facts = _facts(i)
            assert (
                warm.evaluate(facts, as_of=AS_OF, trace=trace).to_bytes()
                == cold.evaluate(facts, as_of=AS_OF, trace=trace).to_bytes()
            ), (trace, i)
