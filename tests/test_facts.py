"""Facts: every invalid value is reported with its field, value and what is allowed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from followup.engine import FACTS, FactsError, load_schema, normalize_facts

BASE = {"interview_at": "2026-03-02T10:00"}


def problems(facts: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(FactsError) as info:
        normalize_facts(facts, default_as_of="2026-03-05")
    return [(p.code, p.pointer, p.message) for p in info.value.problems]


def test_unknown_key_suggests_the_closest_fact() -> None:
    with pytest.raises(FactsError) as info:
        normalize_facts({**BASE, "industy": "finance"}, default_as_of="2026-03-05")
    (p,) = info.value.problems
    assert (p.code, p.pointer, p.suggestion) == (
        "unknown-fact",
        "/industy",
        "did you mean 'industry'?",
    )


def test_every_bad_field_is_reported_together() -> None:
    found = problems(
        {
            "interview_at": "next tuesday",
            "industry": "fintech",
            "stage": "last",
            "phone_ok": "yes",
            "status_inquiries_sent": -1,
            "promised_materials": "portfolio",
            "stated_decision_by": "2026-03-10T12:00",
            "country": "XX",
            "timezone": "Mars/Olympus",
        }
    )
    assert [f[1] for f in found] == sorted(
        [
            "/interview_at",
            "/industry",
            "/stage",
            "/phone_ok",
            "/status_inquiries_sent",
            "/promised_materials",
            "/stated_decision_by",
            "/country",
            "/timezone",
        ]
    )
    messages = {pointer: message for _, pointer, message in found}
    assert messages["/industry"] == (
        "industry is 'fintech'; expected one of tech_startup, technology, retail, hospitality, "
        "finance, healthcare, government, education, construction, other"
    )
    assert messages["/phone_ok"] == "phone_ok is 'yes'; expected true or false"
    assert (
        messages["/status_inquiries_sent"]
        == "status_inquiries_sent is -1; expected a whole number of at least 0 and at most 100"
    )
    assert messages["/stated_decision_by"] == (
        "stated_decision_by is '2026-03-10T12:00'; expected an ISO date such as 2026-03-02, in the years 1900 to 2999"
    )


def test_interview_at_is_required() -> None:
    assert problems({"industry": "retail"}) == [
        ("missing-fact", "", "the required fact 'interview_at' is missing")
    ]


def test_not_a_mapping() -> None:
    assert problems(["interview_at"])[0][0] == "facts-not-mapping"  # type: ignore[arg-type]


def test_normalised_values() -> None:
    out = normalize_facts(
        {
            "interview_at": "2026-03-02T23:30:00Z",
            "timezone": "Asia/Tokyo",
            "country": "gb",
            "applicant_id": 17,
            "promised_materials": ["cv"],
            "stated_decision_by": "2026-03-10",
            "as_of": "2026-03-04",
        }
    )
    assert out["interview_at"] == datetime(2026, 3, 3, 8, 30)
    assert out["last_contact_at"] == out["interview_at"]
    assert out["country"] == "GB"
    assert out["applicant_id"] == "17"
    assert out["promised_materials"] == ("cv",)
    assert out["stated_decision_by"] == date(2026, 3, 10)
    assert out["as_of"] == date(2026, 3, 4)


def test_facts_as_of_wins_over_the_callers() -> None:
    assert normalize_facts({**BASE, "as_of": "2026-04-01"}, default_as_of="2026-03-05")[
        "as_of"
    ] == date(2026, 4, 1)
    assert normalize_facts(BASE, default_as_of="2026-03-05")["as_of"] == date(2026, 3, 5)


def test_null_means_unknown() -> None:
    assert "industry" not in normalize_facts({**BASE, "industry": None}, default_as_of="2026-03-05")


def test_without_any_as_of_now_is_used() -> None:
    out = normalize_facts(BASE)
    assert isinstance(out["as_of"], datetime)
    assert out["as_of"].year >= 2026


# ---------------------------------------------------------- schema twin

VALIDATOR = Draft202012Validator(load_schema("facts"))

_values: dict[str, st.SearchStrategy[Any]] = {}
for _name, _spec in FACTS.items():
    good: st.SearchStrategy[Any]
    if _spec.kind == "enum":
        good = st.sampled_from(_spec.choices)
    elif _spec.kind == "bool":
        good = st.booleans()
    elif _spec.kind == "int":
        good = st.integers(min_value=(_spec.minimum or 0), max_value=400)
    elif _spec.kind == "list":
        good = st.lists(st.sampled_from(["cv", "portfolio", "references"]), max_size=3)
    elif _spec.kind == "date":
        good = st.dates(date(2020, 1, 1), date(2030, 12, 31)).map(date.isoformat)
    elif _spec.kind == "datetime":
        good = st.one_of(
            st.dates(date(2020, 1, 1), date(2030, 12, 31)).map(date.isoformat),
            st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)).map(
                lambda d: d.replace(microsecond=0).isoformat()
            ),
        )
    elif _spec.kind == "timezone":
        good = st.sampled_from(["Europe/London", "America/New_York", "Asia/Tokyo", "UTC"])
    elif _spec.kind == "country":
        good = st.sampled_from(["GB", "US", "DE", "FR", "JP"])
    else:
        good = st.text(min_size=1, max_size=8).filter(str.strip)
    bad = st.one_of(
        st.integers(min_value=-5, max_value=5),
        st.text(max_size=6),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.sampled_from(["2026-02-30", "2026-13-01", "Mars/Olympus", "2026-03-02T25:00"]),
    )
    _values[_name] = st.one_of(good, good, bad, st.none())

facts_strategy = st.fixed_dictionaries(
    {"interview_at": _values["interview_at"]},
    optional={k: v for k, v in _values.items() if k != "interview_at"},
)


# What a pattern cannot know: whether a date exists, whether a zone is in the IANA database.
_CHECKED_BEYOND_SCHEMA = {
    name for name, spec in FACTS.items() if spec.kind in ("date", "datetime", "timezone")
}


@settings(max_examples=500, deadline=None)
@given(facts_strategy)
def test_schema_and_normaliser_agree(facts: dict[str, Any]) -> None:
    """facts.schema.json is the contract: the normaliser accepts exactly what it accepts,
    except that it also rejects calendar dates and time zones that do not exist."""
    schema_ok = VALIDATOR.is_valid(facts)
    try:
        normalize_facts(facts, default_as_of="2026-03-05")
        engine_problems: list[str] = []
    except FactsError as exc:
        engine_problems = [p.pointer.lstrip("/") for p in exc.problems]
    if not engine_problems:
        assert schema_ok, facts
    elif schema_ok:
        assert set(engine_problems) <= _CHECKED_BEYOND_SCHEMA, (facts, engine_problems)


def test_schema_checks_the_form_of_dates() -> None:
    assert not VALIDATOR.is_valid({"interview_at": "02/03/2026"})
    assert VALIDATOR.is_valid({"interview_at": "2026-03-02T10:00"})


def test_dates_and_counts_are_bounded_so_arithmetic_stays_in_the_calendar() -> None:
    found = problems(
        {"interview_at": "0001-01-01", "stated_timeline_days": 10**30, "status_inquiries_sent": 101}
    )
    messages = {pointer: message for _, pointer, message in found}
    assert messages == {
        "/interview_at": "interview_at is '0001-01-01'; expected an ISO date (2026-03-02) or "
        "date-time (2026-03-02T14:30), in the years 1900 to 2999",
        "/stated_timeline_days": f"stated_timeline_days is {10**30}; expected a whole number of at least 1 and at most 3650",
        "/status_inquiries_sent": "status_inquiries_sent is 101; expected a whole number of at least 0 and at most 100",
    }
    with pytest.raises(FactsError) as info:
        normalize_facts(BASE, default_as_of="9999-12-31")
    assert info.value.problems[0].code == "invalid-as-of"


def test_the_latest_dates_allowed_still_evaluate() -> None:
    from followup.engine import load_policy

    decision = load_policy().evaluate(
        {
            "interview_at": "2999-12-30T10:00",
            "stated_decision_by": "2999-12-31",
            "stated_timeline_days": 3650,
            "competing_offer_deadline": "2999-12-31",
        },
        as_of="2999-12-31",
    )
    assert decision.recommendations
