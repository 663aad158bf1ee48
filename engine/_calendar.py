"""Business days, public holidays and seasonal slowdown windows.

Public holidays come from the ``holidays`` package (maintained data for many
countries) and are looked up once per country and year.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

__all__ = [
    "SlowdownWindow",
    "add_business_days",
    "business_days_between",
    "day_of",
    "holiday_dates",
    "holidays_between",
    "is_business_day",
    "next_business_day",
    "slowdown_days",
    "whole_days",
]

Moment = date | datetime

_WEEKEND: Final = frozenset((5, 6))


@functools.lru_cache(maxsize=4096)
def holiday_dates(country: str, year: int) -> frozenset[date]:
    """The public holidays of a country in a year (empty for an unknown country)."""
    import holidays

    try:
        table = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return frozenset()
    return frozenset(table.keys())


@functools.lru_cache(maxsize=4096)
def _weekday_holidays(country: str, year: int) -> tuple[date, ...]:
    """The public holidays of a year falling Monday to Friday, sorted (for counting ranges)."""
    return tuple(sorted(d for d in holiday_dates(country, year) if d.weekday() not in _WEEKEND))


def day_of(moment: Moment) -> date:
    """The calendar day of a date or date-time."""
    return moment.date() if isinstance(moment, datetime) else moment


def is_business_day(moment: Moment, country: str | None) -> bool:
    """Monday to Friday and not a public holiday in ``country`` (when known)."""
    day = day_of(moment)
    if day.weekday() in _WEEKEND:
        return False
    return not (country and day in holiday_dates(country, day.year))


def whole_days(count: int) -> timedelta:
    """``timedelta(days=count)``, made once per count (moving dates is on every decision's path)."""
    span = _WHOLE_DAYS.get(count)
    if span is None:
        if len(_WHOLE_DAYS) >= _TABLE_LIMIT:
            _WHOLE_DAYS.clear()
        span = _WHOLE_DAYS[count] = timedelta(days=count)
    return span


def next_business_day(moment: Moment, country: str | None) -> Moment:
    """The moment itself when it falls on a business day, else the same time on the next one."""
    key = (day_of(moment), country)
    ahead = _AHEAD.get(key)
    if ahead is None:
        ahead = 0
        day = key[0]
        while not is_business_day(day, country):
            if ahead > 366:  # pragma: no cover - no calendar is that closed
                raise ValueError("no business day within a year")
            ahead += 1
            day = day + _ONE_DAY
        if len(_AHEAD) >= _TABLE_LIMIT:
            _AHEAD.clear()
        _AHEAD[key] = ahead
    return moment + whole_days(ahead) if ahead else moment


def add_business_days(moment: Moment, count: int, country: str | None) -> Moment:
    """Move ``count`` business days forward (or back when negative), keeping the time of day."""
    key = (day_of(moment), count, country)
    shift = _MOVED.get(key)
    if shift is None:
        step = 1 if count >= 0 else -1
        day = key[0]
        remaining = abs(count)
        shift = 0
        while remaining:
            shift += step
            day = day + whole_days(step)
            if is_business_day(day, country):
                remaining -= 1
        if len(_MOVED) >= _TABLE_LIMIT:
            _MOVED.clear()
        _MOVED[key] = shift
    return moment + whole_days(shift) if shift else moment


# Both functions above depend only on the calendar day (and country, count),
# so their answers are kept per day as a number of days to move: a cohort has
# a few hundred distinct days, and each would otherwise walk the calendar
# again for every applicant. Bounded; a full table starts again. (Final: the
# compiled build then reads these from C variables, not the module's globals.)
_TABLE_LIMIT: Final = 65536
_ONE_DAY: Final = timedelta(days=1)
_WHOLE_DAYS: Final[dict[int, timedelta]] = {}
_AHEAD: Final[dict[tuple[date, str | None], int]] = {}
_MOVED: Final[dict[tuple[date, int, str | None], int]] = {}


def business_days_between(start: Moment, end: Moment, country: str | None) -> int:
    """Business days in (start, end]; when end is before start, minus those in [end, start).

    This is the inverse of :func:`add_business_days`: counting from a moment to
    that moment moved by n business days gives n.
    """
    a, b = day_of(start), day_of(end)
    if b >= a:
        first, last, sign = a + timedelta(days=1), b, 1
    else:
        first, last, sign = b, a - timedelta(days=1), -1
    count = 0
    day = first
    while day <= last:
        if is_business_day(day, country):
            count += 1
        day += timedelta(days=1)
    return sign * count


def holidays_between(start: Moment, end: Moment, country: str | None) -> int:
    """Public holidays falling Monday to Friday in (start, end]."""
    if not country:
        return 0
    a, b = day_of(start), day_of(end)
    if b <= a:
        return 0
    count = 0
    for year in range(a.year, b.year + 1):
        days = _weekday_holidays(country, year)
        count += bisect.bisect_right(days, b) - bisect.bisect_right(days, a)
    return count


@dataclass(frozen=True)
class SlowdownWindow:
    """A yearly window (month-day to month-day, may cross new year) adding leeway days."""

    id: str
    start: tuple[int, int]
    end: tuple[int, int]
    extra_days: int
    applies_to: frozenset[str] | None  # values of the calendar's match fact; None = everyone

    def occurrence(self, year: int) -> tuple[date, date]:
        """The window starting in ``year`` (its end may fall in the next year)."""
        return _occurrence(self.start, self.end, year)


@functools.lru_cache(maxsize=4096)
def _occurrence(start: tuple[int, int], end: tuple[int, int], year: int) -> tuple[date, date]:
    end_year = year if end >= start else year + 1
    return _month_day(year, start), _month_day(end_year, end)


def _month_day(year: int, md: tuple[int, int]) -> date:
    month, day = md
    if (month, day) == (2, 29):
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, month, day)


def slowdown_days(
    windows: Iterable[SlowdownWindow], start: Moment, end: Moment, match: str | None
) -> int:
    """Sum of the extra days of every window that overlaps [start, end] and applies to ``match``.

    Each window counts once, however many of its yearly occurrences overlap.
    """
    a, b = day_of(start), day_of(end)
    if b < a:
        a, b = b, a
    total = 0
    for window in windows:
        if window.applies_to is not None and match not in window.applies_to:
            continue
        for year in range(a.year - 1, b.year + 1):
            lo, hi = window.occurrence(year)
            if lo <= b and a <= hi:
                total += window.extra_days
                break
    return total
