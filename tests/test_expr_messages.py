"""Expression mistakes coaches make, each with a fix: dates written day/month or
month/day, units misspelt or not supported."""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.engine import PolicyError, load_policy_text
from followup.engine._expr import ExprError, parse


def _error(text: str) -> ExprError:
    with pytest.raises(ExprError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "written", "at", "suggestion"),
    [
        (
            "12/01/2026",
            "12/01/2026",
            1,
            "write 2026-12-01 if 12/01/2026 is month/day, or 2026-01-12 if it is day/month",
        ),
        ("13/01/2026", "13/01/2026", 1, "write 2026-01-13"),  # 13 can only be a day
        ("31.12.2026", "31.12.2026", 1, "write 2026-12-31"),  # read as 31.12 and '.' first
        ("interview_at + 2026/01/12", "2026/01/12", 16, "write 2026-01-12"),
        (
            "5/6/26",
            "5/6/26",
            1,
            "write 2026-05-06 if 5/6/26 is month/day, or 2026-06-05 if it is day/month",
        ),
        ("30/02/2026", "30/02/2026", 1, "write the date as year-month-day, e.g. 2026-03-31"),
    ],
)
def test_a_date_written_another_way_is_named_with_the_way_to_write_it(
    text: str, written: str, at: int, suggestion: str
) -> None:
    error = _error(text)
    assert str(error) == (
        f"'{written}' at character {at} is not a date the policy can read: "
        "dates are written year-month-day, e.g. 2026-03-31"
    )
    assert error.offset == at - 1
    assert error.suggestion == suggestion


@pytest.mark.parametrize(
    ("text", "word", "at", "suggestion"),
    [
        ("interview_at + 14 dayz", "dayz", 19, "did you mean 'days'?"),
        ("interview_at + params.thank_you_hours hourz", "hourz", 39, "did you mean 'hours'?"),
        ("interview_at + 3 busness_days", "busness_days", 18, "did you mean 'business days'?"),
        ("interview_at + (2 + 3) wekks", "wekks", 24, "did you mean 'weeks'?"),
        (
            "interview_at + 1 month",
            "month",
            18,
            "write it in days (e.g. 30 days), since months and years vary in length",
        ),
        (
            "interview_at last_chased_at",
            "last_chased_at",
            14,
            "put + or - before it if it is a fact or a parameter",
        ),
    ],
)
def test_a_word_where_a_unit_goes_is_not_a_unit(
    text: str, word: str, at: int, suggestion: str
) -> None:
    error = _error(text)
    assert str(error) == (
        f"'{word}' at character {at} is not a unit: the units are hours, days, weeks and "
        "business days"
    )
    assert error.suggestion == suggestion


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x + 3/4", "unexpected '/' at character 6"),
        ("interview_at * 2", "unexpected '*' at character 14"),
    ],
)
def test_other_stray_characters_are_still_named_where_they_are(text: str, message: str) -> None:
    assert str(_error(text)) == message


def test_the_policy_check_passes_the_fix_on() -> None:
    bundled = Path(__file__).resolve().parent.parent / "policies" / "interview-follow-up"
    policy = (bundled / "1.0.0.yaml").read_text("utf-8")
    written = "latest: interview_at + params.thank_you_hours hours\n"
    assert written in policy
    text = policy.replace(written, written.replace("hours\n", "hourz\n"), 1)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    (problem,) = caught.value.problems
    assert problem.code == "bad-expression"
    assert "'hourz' at character 39 is not a unit" in problem.message
    assert problem.suggestion == "did you mean 'hours'?"
