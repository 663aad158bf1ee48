"""The dates in "would fire if ..." hints are exact: a day on the stated side of
the bound satisfies the condition, the next day past it does not.

Checked against the engine's own counting (``elapsed``) for every unit whose
count is a whole number of days: days, weeks and business days (with each
country's public holidays)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from followup.engine._conditions import elapsed
from followup.engine._explain import _since_threshold, _since_wait, why_not
from followup.engine._policy import load_policy

DAY = timedelta(days=1)
OPS = {
    "at_least": lambda v, n: v >= n,
    "more_than": lambda v, n: v > n,
    "at_most": lambda v, n: v <= n,
    "less_than": lambda v, n: v < n,
}

units = st.sampled_from(["days", "weeks", "business_days"])
countries = st.sampled_from([None, "US", "DE", "GB", "JP"])
days = st.dates(date(2024, 1, 1), date(2027, 12, 31))
counts = st.one_of(st.integers(0, 40), st.sampled_from([0.5, 1.5, 2.25, 7.9, 10.0]))


def holds(op: str, start: date, now: date, unit: str, n: float, country: str | None) -> bool:
    return OPS[op](elapsed(start, now, unit, country), n)


@given(op=st.sampled_from(sorted(OPS)), unit=units, n=counts, now=days, country=countries)
def test_the_bound_on_the_start_is_exact(
    op: str, unit: str, n: float, now: date, country: str | None
) -> None:
    if unit == "business_days" and isinstance(n, float):
        n = float(int(n))  # a policy's business-day parameters are whole numbers
    bound = _since_threshold(op, n, now, unit, country)
    if bound is None:
        # only when no start day could change the outcome: the count can be any
        # whole number of days from 0 up, so the condition must hold always or never
        outcomes = {holds(op, now - k * DAY, now, unit, n, country) for k in range(0, 400)}
        assert len(outcomes) == 1
        return
    which, day = bound
    assert holds(op, day, now, unit, n, country)
    if which == "on or before":
        assert not holds(op, day + DAY, now, unit, n, country)
    else:
        assert which == "on or after"
        assert not holds(op, day - DAY, now, unit, n, country)


@given(op=st.sampled_from(["at_least", "more_than"]), unit=units, n=counts, start=days)
def test_the_day_to_wait_for_is_the_first_that_holds(
    op: str, unit: str, n: float, start: date
) -> None:
    country = "US"
    if unit == "business_days" and isinstance(n, float):
        n = float(int(n))
    wait = _since_wait(op, n, start, unit, country)
    if n == 0 and op == "at_least":
        assert wait is None or holds(op, start, wait, unit, n, country)
        return
    assert wait is not None
    assert holds(op, start, wait, unit, n, country)
    assert not holds(op, start, wait - DAY, unit, n, country)


def test_why_not_gives_dates_for_business_days_and_weeks(tmp_path: Path) -> None:
    """The hint of a real policy, for the units that used to get only "were ..." hints."""
    demo = Path(__file__).parent / "audit" / "policies" / "demo" / "1.0.0.yaml"
    text = demo.read_text("utf-8")
    for unit, expected in (
        # 2026-03-05 is a Thursday: 7 business days back, counting it, is
        # Wednesday 2026-02-25 (the 24th is the day before it); from Monday
        # 2026-03-02 on, the 7th business day is Wednesday 2026-03-11
        ("business_days", ("2026-02-24", "2026-03-11")),
        # 7 weeks are 49 days
        ("weeks", ("2026-01-15", "2026-04-20")),
    ):
        changed = re.sub(r"(status_min_days:\n(?:    .*\n)*?    unit: )days", rf"\g<1>{unit}", text)
        changed = changed.replace("params.status_min_days days", f"params.status_min_days {unit}")
        changed = changed.replace(
            "{since: last_contact_at, at_least: params.status_min_days}",
            f"{{since: last_contact_at, unit: {unit}, at_least: params.status_min_days}}",
        )
        assert changed != text
        path = tmp_path / unit / "demo" / "1.0.0.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(changed, "utf-8")
        result = why_not(
            load_policy(str(path)),
            "status-inquiry",
            {
                "applicant_id": "A-7",
                "interview_at": "2026-03-02T10:00",
                "industry": "finance",
                "country": "US",
                "status_inquiries_sent": 0,
            },
            as_of="2026-03-05",
        )
        before, wait = expected
        assert result.hints == (
            f"would fire if last_contact_at were on or before {before}, "
            f"or with last_contact_at unchanged from {wait} on",
        )
