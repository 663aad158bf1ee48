"""Hypothesis strategies for valid facts about one interview."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from followup.engine import CHANNELS, INDUSTRIES, STAGES

_DAY0 = date(2025, 11, 1)


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Any]:
    """Valid facts, dates spread over a year with both holiday seasons, plus an as_of."""
    day = _DAY0 + timedelta(days=draw(st.integers(0, 420)))
    at = datetime(
        day.year, day.month, day.day, draw(st.integers(7, 19)), draw(st.sampled_from([0, 30]))
    )

    def moment(base: datetime, lo: int, hi: int) -> str:
        shifted = base + timedelta(days=draw(st.integers(lo, hi)), hours=draw(st.integers(0, 8)))
        return shifted.date().isoformat() if draw(st.booleans()) else shifted.isoformat()

    out: dict[str, Any] = {
        "applicant_id": f"a{draw(st.integers(0, 10**6))}",
        "interview_at": at.isoformat(),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "industry": st.sampled_from(INDUSTRIES),
        "stage": st.sampled_from(STAGES),
        "country": st.sampled_from(["GB", "US", "DE", "FR"]),
        "timezone": st.sampled_from(["Europe/London", "America/New_York"]),
        "more_rounds_expected": st.booleans(),
        "preferred_channel": st.sampled_from(CHANNELS),
        "phone_ok": st.booleans(),
        "linkedin_connected": st.booleans(),
        "response_received": st.booleans(),
        "promised_materials": st.lists(
            st.sampled_from(["cv", "portfolio", "references"]), max_size=2
        ),
        "stated_timeline_days": st.integers(1, 40),
        "status_inquiries_sent": st.integers(0, 3),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            out[key] = draw(strategy)
    for key, lo, hi in (
        ("thank_you_sent_at", 0, 3),
        ("materials_sent_at", 0, 4),
        ("last_contact_at", 0, 20),
        ("last_status_inquiry_at", 5, 30),
    ):
        if draw(st.integers(0, 3)) == 0:
            out[key] = moment(at, lo, hi)
    for key, lo, hi in (("stated_decision_by", 1, 30), ("competing_offer_deadline", 1, 30)):
        if draw(st.integers(0, 3)) == 0:
            out[key] = (at.date() + timedelta(days=draw(st.integers(lo, hi)))).isoformat()
    out["as_of"] = moment(at, -2, 60)
    return out
