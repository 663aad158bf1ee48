"""Date arithmetic: business days, holidays, slowdown windows and expressions."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.engine import _calendar as cal
from followup.engine._expr import CalendarDef, Env, ExprError, compile_node, parse

days = st.dates(date(2024, 1, 1), date(2028, 12, 31))
countries = st.sampled_from([None, "GB", "US", "DE"])


@settings(max_examples=300, deadline=None)
@given(days, st.integers(-30, 30), countries)
def test_adding_business_days_is_counted_back_exactly(
    day: date, n: int, country: str | None
) -> None:
    moved = cal.add_business_days(day, n, country)
    assert cal.is_business_day(moved, country) or n == 0
    assert cal.business_days_between(day, moved, country) == n


@settings(max_examples=300, deadline=None)
@given(days, countries)
def test_next_business_day_is_the_first_one_not_before(day: date, country: str | None) -> None:
    nxt = cal.next_business_day(day, country)
    assert nxt >= day
    assert cal.is_business_day(nxt, country)
    assert cal.next_business_day(nxt, country) == nxt
    d = day
    while d < nxt:
        assert not cal.is_business_day(d, country)
        d += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(days, st.integers(0, 60), st.integers(0, 60))
def test_holidays_between_is_additive(day: date, a: int, b: int) -> None:
    mid, end = day + timedelta(days=a), day + timedelta(days=a + b)
    total = cal.holidays_between(day, end, "US")
    assert total == cal.holidays_between(day, mid, "US") + cal.holidays_between(mid, end, "US")


def test_known_holidays() -> None:
    assert not cal.is_business_day(date(2026, 12, 25), "GB")
    assert not cal.is_business_day(date(2026, 12, 28), "GB")  # Boxing Day observed
    assert cal.is_business_day(date(2026, 12, 28), "US")
    assert cal.next_business_day(date(2026, 12, 24) + timedelta(days=1), "GB") == date(2026, 12, 29)
    assert cal.holidays_between(date(2026, 12, 14), date(2027, 1, 4), "GB") == 3
    assert cal.holidays_between(date(2026, 12, 14), date(2027, 1, 4), None) == 0


WINDOWS = (
    cal.SlowdownWindow("year-end", (12, 20), (1, 3), 5, None),
    cal.SlowdownWindow("retail", (11, 15), (1, 5), 7, frozenset({"retail"})),
)


@pytest.mark.parametrize(
    ("start", "end", "match", "expected"),
    [
        (date(2026, 11, 1), date(2026, 11, 10), "retail", 0),
        (date(2026, 11, 10), date(2026, 11, 15), "retail", 7),
        (date(2026, 11, 10), date(2026, 11, 15), "finance", 0),
        (date(2026, 12, 30), date(2027, 1, 2), "finance", 5),
        (date(2027, 1, 4), date(2027, 1, 10), "retail", 7),
        (date(2027, 1, 4), date(2027, 1, 10), "finance", 0),
        (date(2026, 12, 1), date(2027, 2, 1), "retail", 12),
    ],
)
def test_slowdown_windows_cross_new_year(start: date, end: date, match: str, expected: int) -> None:
    assert cal.slowdown_days(WINDOWS, start, end, match) == expected


ENV = Env(
    {
        "interview_at": "moment",
        "as_of": "moment",
        "response_days": "number",
        "industry": "text",
        "country": "text",
    },
    {"grace": 1, "wait": 7},
    {"seasonal": CalendarDef("seasonal", "industry", WINDOWS)},
)


def ev(text: str, **facts: object) -> object:
    return compile_node(parse(text), ENV, text).fn(facts)


def test_expressions() -> None:
    at = datetime(2026, 3, 2, 10, 0)
    assert ev("interview_at + 48 hours", interview_at=at) == datetime(2026, 3, 4, 10, 0)
    assert ev("interview_at + 2 days", interview_at=date(2026, 3, 2)) == date(2026, 3, 4)
    assert ev("interview_at + 12 hours", interview_at=date(2026, 3, 2)) == datetime(
        2026, 3, 2, 12, 0
    )
    assert ev("interview_at + 1 week - 1 day", interview_at=date(2026, 3, 2)) == date(2026, 3, 8)
    assert ev("interview_at + 3 business days", interview_at=date(2026, 3, 6)) == date(2026, 3, 11)
    assert ev(
        "interview_at + params.grace business day", interview_at=date(2026, 12, 24), country="GB"
    ) == date(2026, 12, 29)
    assert ev(
        "interview_at + response_days days", interview_at=date(2026, 3, 2), response_days=21
    ) == date(2026, 3, 23)
    assert ev(
        "later(interview_at, as_of)", interview_at=date(2026, 3, 2), as_of=date(2026, 3, 5)
    ) == date(2026, 3, 5)
    assert ev("earlier(interview_at, as_of)", interview_at=date(2026, 3, 2)) == date(2026, 3, 2)
    assert ev("next_business_day(2026-03-07)") == date(2026, 3, 9)
    assert ev("date(interview_at)", interview_at=at) == date(2026, 3, 2)
    assert ev("max(params.wait, response_days)", response_days=21) == 21
    assert (
        ev(
            "slowdown_days(seasonal, interview_at, as_of)",
            interview_at=date(2026, 12, 1),
            as_of=date(2026, 12, 21),
            industry="retail",
        )
        == 12
    )
    assert ev("interview_at + 2 days") is None  # a missing fact propagates


@settings(max_examples=200, deadline=None)
@given(days, st.integers(0, 100), st.integers(0, 100))
def test_adding_days_is_associative(day: date, a: int, b: int) -> None:
    assert ev(f"interview_at + {a} days + {b} days", interview_at=day) == ev(
        f"interview_at + ({a} + {b}) days", interview_at=day
    )


@pytest.mark.parametrize(
    ("text", "code", "offset"),
    [
        ("interview_at + + 2 days", "bad-expression", 15),
        ("interview_at + 2", "type-mismatch", 13),
        ("interview_at + as_of", "type-mismatch", 13),
        ("interviewed_at + 2 days", "unknown-fact", 0),
        ("params.graze + 1", "unknown-parameter", 0),
        ("soon(interview_at)", "unknown-function", 0),
        ("slowdown_days(winter, interview_at, as_of)", "unknown-calendar", 14),
        ("later(interview_at)", "bad-expression", 0),
        ("interview_at + 1.5 business days", "type-mismatch", 19),
        ("2026-02-30", "bad-expression", 0),
        ("__import__('os')", "bad-expression", 11),
        ("", "bad-expression", 0),
        ("days", "bad-expression", 0),
    ],
)
def test_bad_expressions(text: str, code: str, offset: int) -> None:
    with pytest.raises(ExprError) as info:
        compile_node(parse(text), ENV, text)
    assert (info.value.code, info.value.offset) == (code, offset)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.()+-, 0123456789", max_size=40))
def test_the_parser_never_fails_with_anything_but_an_expression_error(text: str) -> None:
    with contextlib.suppress(ExprError):
        compile_node(parse(text), ENV, text)
