"""The input vocabulary and the normaliser that checks facts against it.

``facts.schema.json`` is the published contract; this module is its fast,
typed twin used on every evaluation (a test proves they accept the same
documents). Normalising turns ISO strings into dates and date-times in the
applicant's local time, fills defaults, and reports every bad field at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateutil_parser

from ._errors import FactsError, Problem, did_you_mean, other_date, show_value
from ._yaml import Positions

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "FACTS",
    "FACT_KINDS",
    "INDUSTRIES",
    "STAGES",
    "STATUSES",
    "FactSpec",
    "normalize_facts",
    "parse_moment",
    "read_fact",
]

INDUSTRIES = (
    "tech_startup",
    "technology",
    "retail",
    "hospitality",
    "finance",
    "healthcare",
    "government",
    "education",
    "construction",
    "other",
)
STAGES = ("first", "intermediate", "final")
CHANNELS = ("email", "phone", "linkedin")
ACTIONS = (
    "send_thank_you",
    "send_materials",
    "wait",
    "express_continued_interest",
    "send_status_inquiry",
    "contact_about_offer_deadline",
    "move_on",
)
STATUSES = ("due", "upcoming", "overdue", "done")


@dataclass(frozen=True)
class FactSpec:
    """One input fact: its kind ("string", "enum", "date", "datetime", "bool",
    "int", "list"), allowed values for enums, and what it means."""

    name: str
    kind: str
    description: str
    choices: tuple[str, ...] = ()
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None


def _spec(name: str, kind: str, description: str, **kw: Any) -> tuple[str, FactSpec]:
    return name, FactSpec(name, kind, description, **kw)


FACTS: dict[str, FactSpec] = dict(
    [
        _spec(
            "applicant_id",
            "string",
            "Your own identifier for the applicant (text or whole number).",
        ),
        _spec("candidate_name", "string", "The candidate's name."),
        _spec("company", "string", "The employer."),
        _spec("role", "string", "The job title interviewed for."),
        _spec(
            "interviewer_name",
            "string",
            "Who interviewed the candidate; messages are addressed to them.",
        ),
        _spec(
            "interview_at",
            "datetime",
            "When the interview took place (ISO date or date-time).",
            required=True,
        ),
        _spec("timezone", "timezone", "The applicant's IANA time zone, e.g. Europe/London."),
        _spec("country", "country", "ISO 3166 alpha-2 country code, for public holidays, e.g. GB."),
        _spec("industry", "enum", "The employer's industry.", choices=INDUSTRIES),
        _spec("stage", "enum", "Which round the interview was.", choices=STAGES),
        _spec("more_rounds_expected", "bool", "The company said further rounds will follow."),
        _spec(
            "stated_decision_by",
            "date",
            "The date by which the interviewer said they would decide.",
        ),
        _spec(
            "stated_timeline_days",
            "int",
            "The interviewer said they would decide within this many days of the interview.",
            minimum=1,
            maximum=3650,
        ),
        _spec(
            "last_contact_at",
            "datetime",
            "The last exchange with the company; defaults to interview_at.",
        ),
        _spec("thank_you_sent_at", "datetime", "When the thank-you message was sent."),
        _spec(
            "promised_materials", "list", "Documents or references promised during the interview."
        ),
        _spec("materials_sent_at", "datetime", "When the promised materials were sent."),
        _spec(
            "preferred_channel",
            "enum",
            "The channel the posting or interviewer asked for.",
            choices=CHANNELS,
        ),
        _spec("phone_ok", "bool", "The interviewer is open to a follow-up call."),
        _spec(
            "linkedin_connected",
            "bool",
            "The candidate is connected with the interviewer on LinkedIn.",
        ),
        _spec("response_received", "bool", "The company has already answered about the outcome."),
        _spec(
            "status_inquiries_sent",
            "int",
            "How many status enquiries were sent already.",
            minimum=0,
            maximum=100,
        ),
        _spec("last_status_inquiry_at", "datetime", "When the last status enquiry was sent."),
        _spec(
            "competing_offer_deadline", "date", "The date by which another offer must be answered."
        ),
        _spec(
            "as_of",
            "datetime",
            "The moment of evaluation; when the facts carry it, it wins over the caller's default.",
        ),
    ]
)

_REQUIRED: Final = tuple(name for name, spec in FACTS.items() if spec.required)
_DATETIME: Final = datetime  # Final: a C variable in the compiled build, not a globals look-up

#: fact name -> kind, for readers that must coerce text cells (CSV).
FACT_KINDS: dict[str, str] = {
    name: ("string" if spec.kind in ("timezone", "country") else spec.kind)
    for name, spec in FACTS.items()
}

_KIND_WORDS = {
    "string": "text",
    "timezone": "an IANA time zone such as Europe/London",
    "country": "a two-letter ISO 3166 country code such as GB",
    "datetime": "an ISO date (2026-03-02) or date-time (2026-03-02T14:30)",
    "date": "an ISO date such as 2026-03-02",
    "bool": "true or false",
    "int": "a whole number",
    "list": "a list of text items",
}


def _allowed(spec: FactSpec) -> str:
    if spec.kind == "enum":
        return "one of " + ", ".join(spec.choices)
    if spec.kind == "int" and spec.minimum is not None:
        top = f" and at most {spec.maximum}" if spec.maximum is not None else ""
        return f"a whole number of at least {spec.minimum}{top}"
    if spec.kind in ("date", "datetime"):
        return f"{_KIND_WORDS[spec.kind]}, in the years {YEARS[0]} to {YEARS[1]}"
    return _KIND_WORDS[spec.kind]


class _Bad(Exception):
    pass


#: the years a date fact may fall in: wide enough for any interview, narrow
#: enough that date arithmetic in a policy can never leave the calendar
YEARS = (1900, 2999)


def _in_years(moment: date) -> date:
    if YEARS[0] <= moment.year <= YEARS[1]:
        return moment
    raise _Bad


def parse_moment(value: Any, *, date_only: bool = False) -> date | datetime:
    """Parse an ISO date or date-time (``str``, ``date`` or ``datetime``).

    Aware date-times are returned aware; the caller localises them.

    Raises:
        ValueError: the value is not an ISO date (or date-time when allowed).
    """
    if isinstance(value, datetime):
        if date_only:
            raise ValueError("a date without a time is expected")
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    if date_only:
        raise ValueError("a date without a time is expected")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    # Less common ISO 8601 spellings (basic format, week dates); never free text.
    if not text[:4].isdigit():
        raise ValueError("not an ISO 8601 date")
    result = dateutil_parser.isoparse(text)
    return result


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@functools.lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def localize(moment: date | datetime, zone: ZoneInfo | None) -> date | datetime:
    """Bring an aware date-time to the applicant's wall-clock time (naive).

    Without a zone, an aware date-time keeps its own wall-clock time.
    """
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        if zone is not None:
            moment = moment.astimezone(zone)
        return moment.replace(tzinfo=None)
    return moment


def _check(spec: FactSpec, value: Any) -> Any:
    kind = spec.kind
    if kind == "string":
        if isinstance(value, str):
            if spec.name == "applicant_id" and not value.strip():
                raise _Bad
            return value
        if spec.name == "applicant_id" and isinstance(value, int) and not isinstance(value, bool):
            try:
                return str(value)
            except ValueError as exc:  # thousands of digits: more than Python will write
                raise _Bad from exc
        raise _Bad
    if kind == "enum":
        if isinstance(value, str) and value in spec.choices:
            return value
        raise _Bad
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise _Bad
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            if spec.minimum is not None and value < spec.minimum:
                raise _Bad
            if spec.maximum is not None and value > spec.maximum:
                raise _Bad
            return value
        raise _Bad
    if kind == "list":
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(value)
        raise _Bad
    if kind in ("date", "datetime"):
        try:
            return _in_years(parse_moment(value, date_only=kind == "date"))
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Bad from exc
    if kind == "timezone":
        if not isinstance(value, str):
            raise _Bad
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            # OSError: a name too long for a file name, or a folder of zones (Europe)
            raise _Bad from exc
        return value
    if kind == "country":
        if isinstance(value, str) and len(value) == 2 and value.upper() in _countries():
            return value.upper()
        raise _Bad
    raise AssertionError(f"unknown kind {kind}")  # pragma: no cover


def _checker(spec: FactSpec) -> Callable[[Any], Any]:
    """A fast checker for the common, valid case; anything unusual goes through ``_check``."""
    kind = spec.kind
    if kind in ("date", "datetime"):
        date_only = kind == "date"
        # the same dates recur across a cohort: parse each text once (this also
        # hands equal moments out as one object, whose hash is then computed once)
        parsed: dict[str, date] = {}

        def moment(value: Any) -> Any:
            if type(value) is str:
                found = parsed.get(value)
                if found is not None:
                    return found
                try:
                    if len(value) == 10:
                        found = _in_years(date.fromisoformat(value))
                    elif not date_only:
                        found = _in_years(datetime.fromisoformat(value))
                except ValueError:
                    pass
                if found is not None:
                    if len(parsed) >= 65536:
                        parsed.clear()
                    parsed[value] = found
                    return found
            return _check(spec, value)

        return moment
    if kind == "enum":
        # each choice as one string object: equal values then compare (and hash) at once
        choices = {c: sys.intern(c) for c in spec.choices}

        def enum(value: Any) -> Any:
            if type(value) is str:
                found = choices.get(value)
                if found is not None:
                    return found
            raise _Bad

        return enum
    if kind == "bool":

        def boolean(value: Any) -> Any:
            if value is True or value is False:
                return value
            raise _Bad

        return boolean
    if kind == "string" and spec.name != "applicant_id":

        def text(value: Any) -> Any:
            if type(value) is str:
                return value
            raise _Bad

        return text
    if kind == "int":
        low, high = spec.minimum, spec.maximum

        def whole(value: Any) -> Any:
            if (
                type(value) is int
                and (low is None or value >= low)
                and (high is None or value <= high)
            ):
                return value
            raise _Bad

        return whole
    if kind in ("timezone", "country"):
        # a valid zone or country once is valid always: remember the texts that passed
        valid: dict[str, str] = {}

        def known_text(value: Any) -> Any:
            if type(value) is str:
                found = valid.get(value)
                if found is not None:
                    return found
            checked = _check(spec, value)
            if type(value) is str and len(valid) < 4096:
                valid[value] = checked = sys.intern(checked)
            return checked

        return known_text
    # lists and ids need more care: the general path
    return lambda value: _check(spec, value)


#: fact name -> (the name as one interned string, fast checker); facts are stored
#: under that string, so the engine's look-ups by name match by identity
_CHECKERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    name: (sys.intern(name), _checker(spec)) for name, spec in FACTS.items()
}


@functools.lru_cache(maxsize=64)
def _default_moment(value: str) -> date | datetime:
    return parse_moment(value)


def _suggestion(spec: FactSpec, value: Any) -> str | None:
    if spec.kind == "enum" and isinstance(value, str):
        return did_you_mean(value, spec.choices)
    if spec.kind == "country" and isinstance(value, str) and len(value) == 2:
        return "this country has no public holiday data; leave country out to skip holidays"
    if spec.kind == "bool" and isinstance(value, str):
        # (yes, no, on and off are text, as in YAML 1.2 and JSON)
        quoted = value.strip().lower() in ("true", "false")
        return "write true or false without quotes" if quoted else "write true or false"
    if spec.kind in ("date", "datetime") and isinstance(value, str):
        other = other_date(value.strip())
        return other[1] if other else None
    if spec.kind == "int" and isinstance(value, str) and value.strip().isdigit():
        return "write the number without quotes"
    if spec.kind == "list" and isinstance(value, str) and value.strip():
        items = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return f"make it a list, even of one item: [{', '.join(items)}]"
    return None


Located = Callable[[str], tuple[int, int] | None]


def _problem(
    problems: list[Problem],
    locate: Located | None,
    file: str | None,
    code: str,
    pointer: str,
    message: str,
    value: Any = None,
    suggestion: str | None = None,
) -> None:
    """Add a problem with the facts, located in their file when it is known.

    An unknown fact is a mistake in its name: it is located at the name (the
    key), when ``locate`` can tell where keys are (``Positions.of``, as the
    command line passes it); other problems at the value."""
    pos = None
    if locate is not None:
        owner = getattr(locate, "__self__", None) if code == "unknown-fact" else None
        pos = owner.of(pointer, key=True) if isinstance(owner, Positions) else locate(pointer)
    problems.append(Problem.at(pos, code, message, pointer, file, suggestion, value))


def _kind_of(value: Any) -> str:
    """What was given instead of facts, for a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, list | tuple):
        return f"a list {show_value(value)}"
    if isinstance(value, str):
        return f"the text {show_value(value)}"
    return f"the value {show_value(value)}"


def normalize_facts(
    raw: Any,
    *,
    default_as_of: date | datetime | str | None = None,
    file: str | None = None,
    locate: Located | None = None,
) -> dict[str, Any]:
    """Check facts against the vocabulary and return them normalised.

    Args:
        raw: a mapping of fact name to value, as read from YAML, JSON or a row.
        default_as_of: the caller's moment of evaluation, used when the facts
            do not carry ``as_of``.
        file: file name for problems.
        locate: maps a JSON pointer to (line, column) in the file.

    Returns:
        A new dict: dates as ``date``/naive local ``datetime``, lists as
        tuples, ``last_contact_at`` defaulted to ``interview_at`` and
        ``as_of`` always present.

    Raises:
        FactsError: with one problem per bad field.
    """
    # (_problem is not a closure here: one would be made for every row)
    problems: list[Problem] = []
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the ABC check is slow
        _problem(
            problems,
            locate,
            file,
            "facts-not-mapping",
            "",
            "the facts must be a set of fact names with their values (such as "
            f"'interview_at: 2026-03-02'), not {_kind_of(raw)}",
        )
        raise FactsError(problems)
    out: dict[str, Any] = {}
    checkers = _CHECKERS
    for key, value in raw.items():
        known = checkers.get(key) if type(key) is str else None
        if known is not None and value is not None:
            name, checker = known
            try:
                out[name] = checker(value)  # the fact's own name object (see _CHECKERS)
                continue
            except _Bad:
                pass
        pointer = "/" + str(key).replace("~", "~0").replace("/", "~1")
        spec = FACTS.get(key) if isinstance(key, str) else None
        if spec is None:
            _problem(
                problems,
                locate,
                file,
                "unknown-fact",
                pointer,
                f"{show_value(str(key))} is not a known fact",
                key,
                did_you_mean(str(key), FACTS) or "see `followup schema facts` for the known facts",
            )
            continue
        if value is None:
            continue  # explicit null means unknown, like a missing key
        try:
            out[sys.intern(key)] = _check(spec, value)
        except _Bad:
            _problem(
                problems,
                locate,
                file,
                "invalid-fact",
                pointer,
                f"{key} is {show_value(value)}; expected {_allowed(spec)}",
                value,
                _suggestion(spec, value),
            )
    for name in _REQUIRED:
        if name not in out and not any(p.pointer == f"/{name}" for p in problems):
            _problem(
                problems,
                locate,
                file,
                "missing-fact",
                "",
                f"the required fact '{name}' is missing",
                None,
                f"add {name}: 2026-03-02",
            )
    if problems:
        raise FactsError(problems)

    zone = _zone(out["timezone"]) if "timezone" in out else None
    for name, value in out.items():
        if type(value) is _DATETIME and value.tzinfo is not None:
            out[name] = localize(value, zone)
    if "as_of" not in out:
        if default_as_of is None:
            default_as_of = datetime.now(UTC).replace(microsecond=0)
        try:
            moment = (
                _default_moment(default_as_of)
                if type(default_as_of) is str
                else parse_moment(default_as_of)
            )
            out["as_of"] = localize(_in_years(moment), zone)
        except (ValueError, OverflowError, _Bad) as exc:
            raise FactsError(
                [
                    Problem(
                        "invalid-as-of",
                        f"as_of is {show_value(default_as_of)}; expected {_allowed(FACTS['as_of'])}",
                        "/as_of",
                        file,
                        value=default_as_of,
                    )
                ]
            ) from exc
    out.setdefault("last_contact_at", out["interview_at"])
    return out


def read_fact(facts: Mapping[str, Any], name: str) -> Any:
    """``facts.get(name)``. Evaluation always hands facts over as a dict, which
    the compiled build then reads directly instead of calling ``get`` as a
    method of any mapping (about a hundred instructions less, on every read of
    every rule's conditions and expressions)."""
    if type(facts) is dict:
        return facts.get(name)
    return facts.get(name)


def as_datetime(moment: date | datetime) -> datetime:
    """A date becomes midnight of that day; a date-time stays as it is."""
    if isinstance(moment, datetime):
        return moment
    return datetime(moment.year, moment.month, moment.day)
