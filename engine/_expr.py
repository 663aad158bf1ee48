"""A small, safe expression language for dates and numbers.

Policy authors write values such as ``interview_at + 48 hours`` or
``next_business_day(later(last_contact_at, stated_decision_by + 1 day))``.
Text is tokenised and parsed by hand into a tree, type-checked against the
known facts and parameters, then turned into plain Python closures. Nothing is
ever passed to ``eval``: only the operators and functions listed here exist.
An expression is refused while it is parsed when it is longer, nests deeper or
holds a bigger number than any policy needs (the limits below): type checking
and evaluation recurse over the tree, so they must never meet a huge one.

Grammar::

    expr  := term (("+" | "-") term)*
    term  := atom [unit]
    atom  := NUMBER | DATE | name | name "(" [expr ("," expr)*] ")" | "(" expr ")"
    name  := fact | "params." parameter
    unit  := hour(s) | day(s) | week(s) | business day(s) | business_day(s)
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from . import _calendar as cal
from ._errors import other_date
from ._facts import as_datetime, parse_moment, read_fact

__all__ = [
    "Compiled",
    "Duration",
    "Env",
    "ExprError",
    "Node",
    "compile_node",
    "parse",
    "reads_of",
]

Value = Any
Fn = Callable[[Mapping[str, Any]], Value]

#: numbers, names, operators and brackets in one expression (real ones have ~30)
MAX_PARTS: Final = 256
#: brackets, function calls and minus signs inside one another (real ones: 3)
MAX_NESTING: Final = 32
#: the largest number written in an expression, as for parameter values
MAX_NUMBER: Final = 100_000


class ExprError(Exception):
    """An expression cannot be parsed or type-checked.

    Attributes:
        offset: 0-based character offset of the problem in the text.
        code: problem code for the policy checker.
        suggestion: a fix, when one is known.
    """

    def __init__(
        self,
        message: str,
        offset: int = 0,
        code: str = "bad-expression",
        suggestion: str | None = None,
    ):
        super().__init__(message)
        self.offset = offset
        self.code = code
        self.suggestion = suggestion


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Node:
    kind: str  # num, date, name, param, unit, add, sub, call
    offset: int
    value: Any = None
    args: tuple[Node, ...] = field(default=())


UNITS = {
    "hour": "hours",
    "hours": "hours",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "business_day": "business_days",
    "business_days": "business_days",
}

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?)"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)"
    r"|(?P<op>[-+(),])"
    r")"
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()
            at = len(text) - len(bad)
            raise _other_date(text, at) or ExprError(
                f"unexpected '{bad[:1]}' at character {at + 1}", at
            )
        kind = m.lastgroup or ""
        if kind == "num" and (wrong := _other_date(text, m.start(kind))) is not None:
            raise wrong  # 2026-3-1 would be read as 2026 - 3 - 1
        if len(out) == MAX_PARTS:
            raise _too_long(m.start(kind))
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    # "business day(s)" is two words for readability; fold it into one unit token
    folded: list[tuple[str, str, int]] = []
    for tok in out:
        if (
            folded
            and folded[-1][1] == "business"
            and tok[0] == "name"
            and tok[1] in ("day", "days")
        ):
            folded[-1] = ("name", "business_days", folded[-1][2])
        else:
            folded.append(tok)
    return folded


def _other_date(text: str, at: int) -> ExprError | None:
    """The error for a date such as 12/01/2026, 12.01.2026 or 2026-3-1 around
    character ``at`` (where the tokens stopped: at its first '/' or '.'; or where
    a number starts), or None when there is none."""
    start = at
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] in "/."):
        start -= 1  # (31.12 was read as a number before the second '.')
    found = other_date(text, start)
    if found is None:
        return None
    written, suggestion = found
    return ExprError(
        f"'{written}' at character {start + 1} is not a date the policy can read: "
        "dates are written year-month-day, e.g. 2026-03-31",
        start,
        suggestion=suggestion,
    )


def _not_a_unit(value: str, offset: int) -> ExprError:
    """A word where a unit would go (after a number): 'dayz', 'month'."""
    units = ("hours", "days", "weeks", "business_days")
    close = difflib.get_close_matches(value.lower(), units, n=1, cutoff=0.6)
    months = value.lower() in ("month", "months", "year", "years")
    return ExprError(
        f"'{value}' at character {offset + 1} is not a unit: the units are hours, days, "
        "weeks and business days",
        offset,
        suggestion=(
            f"did you mean '{close[0].replace('_', ' ')}'?"
            if close
            else "write it in days (e.g. 30 days), since months and years vary in length"
            if months
            else "put + or - before it if it is a fact or a parameter"
        ),
    )


def _too_long(offset: int) -> ExprError:
    return ExprError(
        f"the expression is too long: it goes past {MAX_PARTS} parts (numbers, names, "
        f"signs and brackets) at character {offset + 1}",
        offset,
        "expression-too-long",
        "split it into steps: set a fact to one part in a 'set' action and use that fact here",
    )


def _number(value: str, offset: int) -> Node:
    """A number literal, refused beyond MAX_NUMBER (checked on its digits before
    converting it: Python refuses to convert an integer of thousands of digits)."""
    if len(value.split(".")[0].lstrip("0")) <= len(str(MAX_NUMBER)):
        number = float(value) if "." in value else int(value)
        if number <= MAX_NUMBER:
            return Node("num", offset, number)
    shown = value if len(value) <= 20 else f"the {sum(c.isdigit() for c in value)}-digit number"
    raise ExprError(
        f"{shown} is out of range at character {offset + 1}: a number in an expression "
        f"must be between -{MAX_NUMBER} and {MAX_NUMBER}",
        offset,
        "out-of-range",
        "use a smaller number; 100000 days is already more than 270 years",
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0  # brackets, calls and minus signs open around the current part

    def enter(self, offset: int) -> None:
        """One level deeper (at the bracket, call or sign at offset); refused beyond MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(
                f"the expression nests brackets, function calls and minus signs more than "
                f"{MAX_NESTING} deep at character {offset + 1}",
                offset,
                "expression-too-deep",
                "remove brackets that are not needed, or split the expression into steps "
                "with 'set' actions",
            )

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise ExprError("the expression ends too early", len(self.text))
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.peek()
        if tok is None or tok[1] != value:
            where = tok[2] if tok else len(self.text)
            raise ExprError(f"expected '{value}' at character {where + 1}", where)
        self.i += 1

    def parse(self) -> Node:
        if not self.toks:
            raise ExprError("the expression is empty", 0)
        node = self.expr()
        tok = self.peek()
        if tok is not None:
            before = self.toks[self.i - 1]
            if tok[0] == "name" and (before[0] in ("num", "name") or before[1] == ")"):
                raise _not_a_unit(tok[1], tok[2])  # 14 dayz, params.wait dayz
            raise ExprError(f"unexpected '{tok[1]}' at character {tok[2] + 1}", tok[2])
        return node

    def expr(self) -> Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.i += 1
            node = Node("add" if tok[1] == "+" else "sub", tok[2], None, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.atom()
        tok = self.peek()
        if tok is not None and tok[0] == "name" and tok[1] in UNITS:
            self.i += 1
            node = Node("unit", tok[2], UNITS[tok[1]], (node,))
        return node

    def atom(self) -> Node:
        kind, value, offset = self.take()
        if kind == "num":
            return _number(value, offset)
        if kind == "date":
            try:
                return Node("date", offset, parse_moment(value))
            except ValueError as exc:
                raise ExprError(f"'{value}' is not a real date", offset) from exc
        if kind == "op" and value == "(":
            self.enter(offset)
            node = self.expr()
            self.expect(")")
            self.depth -= 1
            return node
        if kind == "op" and value == "-":
            self.enter(offset)
            inner = self.atom()
            self.depth -= 1
            if inner.kind == "num":
                return Node("num", offset, -inner.value)
            raise ExprError("a minus sign can only stand before a number here", offset)
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                self.i += 1
                self.enter(nxt[2])
                args: list[Node] = []
                if (tok := self.peek()) is not None and tok[1] == ")":
                    self.i += 1
                else:
                    while True:
                        args.append(self.expr())
                        tok = self.take()
                        if tok[1] == ")":
                            break
                        if tok[1] != ",":
                            raise ExprError(
                                f"expected ',' or ')' at character {tok[2] + 1}", tok[2]
                            )
                self.depth -= 1
                return Node("call", offset, value, tuple(args))
            if value.startswith("params."):
                return Node("param", offset, value[len("params.") :])
            if "." in value:
                raise ExprError(
                    f"'{value}' is not a name; only parameters are written with a dot (params.NAME)",
                    offset,
                )
            if value in UNITS:
                raise ExprError(f"'{value}' needs a number before it, e.g. '2 {value}'", offset)
            # one string object per fact name: facts are looked up by identity first
            return Node("name", offset, sys.intern(value))
        raise ExprError(f"unexpected '{value}' at character {offset + 1}", offset)


def parse(text: str | int | float) -> Node:
    """Parse an expression (a bare number is a number literal)."""
    if isinstance(text, bool):
        raise ExprError("true/false is not a date or number")
    if isinstance(text, int | float):
        if not -MAX_NUMBER <= text <= MAX_NUMBER:  # also NaN, which compares false
            raise ExprError(
                f"{text} is out of range: a number here must be between -{MAX_NUMBER} and "
                f"{MAX_NUMBER}",
                0,
                "out-of-range",
                "use an ordinary number, such as 7",
            )
        return Node("num", 0, text)
    return _Parser(text).parse()


FUNCTIONS = (
    "later",
    "earlier",
    "next_business_day",
    "holidays_between",
    "slowdown_days",
    "date",
    "max",
    "min",
)


def reads_of(node: Node) -> set[str]:
    """Every fact name an expression reads (not parameters)."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if n.kind == "name":
            found.add(n.value)
        elif n.kind == "call" and n.value == "slowdown_days" and n.args:
            for a in n.args[1:]:
                walk(a)
            return
        for a in n.args:
            walk(a)

    walk(node)
    return found


# ------------------------------------------------------------ runtime values


@dataclass(frozen=True)
class Duration:
    """A span: calendar time (``delta``) or a count of business days."""

    delta: timedelta | None = None
    business: int = 0

    def __add__(self, other: Duration) -> Duration:
        if (self.delta is None) != (other.delta is None):
            raise ValueError("cannot add business days to calendar time")
        if self.delta is not None and other.delta is not None:
            return Duration(self.delta + other.delta)
        return Duration(None, self.business + other.business)

    def __neg__(self) -> Duration:
        return Duration(-self.delta if self.delta is not None else None, -self.business)


def shift(moment: date | datetime, span: Duration, country: str | None) -> date | datetime:
    """A moment moved by a duration (business days skip weekends and holidays)."""
    if span.delta is None:
        return cal.add_business_days(moment, span.business, country)
    if not isinstance(moment, datetime) and span.delta % timedelta(days=1) == timedelta(0):
        return moment + span.delta
    return as_datetime(moment) + span.delta


# ------------------------------------------------------------ type checking


@dataclass(frozen=True)
class CalendarDef:
    name: str
    match_fact: str | None
    windows: tuple[cal.SlowdownWindow, ...]


@dataclass
class Env:
    """What an expression may refer to at compile time."""

    fact_types: Mapping[str, str]  # fact -> number | moment | text | bool | list
    params: Mapping[str, int | float]
    calendars: Mapping[str, CalendarDef]
    used_params: set[str] = field(default_factory=set)  # filled while compiling
    used_calendars: set[str] = field(default_factory=set)  # filled while compiling
    #: parameter -> its declared unit (hours, days, weeks, business_days, count)
    param_units: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Compiled:
    type: str  # number | moment | duration | text | bool | list
    fn: Fn
    reads: frozenset[str]
    text: str


#: each type of value, in words (for messages)
TYPE_WORDS: Final = {
    "number": "a number",
    "moment": "a date",
    "duration": "a duration (e.g. 2 days)",
    "text": "text",
    "bool": "true/false",
    "list": "a list",
}


def _type_words(t: str) -> str:
    return TYPE_WORDS.get(t, t)


def compile_node(node: Node, env: Env, text: str = "") -> Compiled:
    """Type-check an expression tree and build its evaluation closure.

    Missing facts propagate: any arithmetic on a missing value gives None;
    ``later``/``earlier`` ignore missing arguments.

    Raises:
        ExprError: unknown names, wrong argument counts, type mismatches.
    """
    t, fn = _compile(node, env)
    return Compiled(t, fn, frozenset(reads_of(node) | _implicit_reads(node, env)), text)


def _implicit_reads(node: Node, env: Env) -> set[str]:
    """Facts read by calendar functions: the country's holidays, a calendar's match fact."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if n.kind == "unit" and n.value == "business_days":
            found.add("country")
        elif n.kind == "call":
            if n.value in ("next_business_day", "holidays_between"):
                found.add("country")
            elif n.value == "slowdown_days" and n.args and n.args[0].kind == "name":
                calendar = env.calendars.get(n.args[0].value)
                if calendar is not None and calendar.match_fact:
                    found.add(calendar.match_fact)
        for a in n.args:
            walk(a)

    walk(node)
    return found


def _compile(n: Node, env: Env) -> tuple[str, Fn]:
    if n.kind == "num":
        v = n.value
        return "number", lambda f: v
    if n.kind == "date":
        d = n.value
        return "moment", lambda f: d
    if n.kind == "name":
        name = n.value
        if name not in env.fact_types:
            from ._errors import did_you_mean

            raise ExprError(
                f"'{name}' is not a known fact",
                n.offset,
                "unknown-fact",
                did_you_mean(name, list(env.fact_types)),
            )
        return env.fact_types[name], lambda f: read_fact(f, name)
    if n.kind == "param":
        name = n.value
        if name not in env.params:
            from ._errors import did_you_mean

            raise ExprError(
                f"'params.{name}' is not a parameter of this policy",
                n.offset,
                "unknown-parameter",
                did_you_mean(name, list(env.params)),
            )
        env.used_params.add(name)
        pv = env.params[name]
        return "number", lambda f: pv
    if n.kind == "unit":
        return _compile_unit(n, env)
    if n.kind in ("add", "sub"):
        return _compile_arith(n, env)
    if n.kind == "call":
        return _compile_call(n, env)
    raise ExprError(f"unsupported expression part {n.kind}", n.offset)  # pragma: no cover


_DAY: Final = timedelta(days=1)
_DATE: Final = date  # (Final: a C variable in the compiled build, not a globals look-up)
#: the length of one calendar unit
_UNIT_SPANS = {"hours": timedelta(hours=1), "days": _DAY, "weeks": timedelta(weeks=1)}


def unit_mismatch(param: str, declared: str | None, used: str) -> str | None:
    """Why a parameter declared in one unit cannot be used in another, or None."""
    if declared is None or declared == used:
        return None
    return (
        f"params.{param} is declared in {UNIT_NAMES.get(declared, declared)} but used "
        f"as {UNIT_NAMES.get(used, used)} here"
    )


#: units in words
UNIT_NAMES: Final = {
    "hours": "hours",
    "days": "days",
    "weeks": "weeks",
    "business_days": "business days",
    "count": "a count",
}


def _check_param_unit(arg: Node, unit: str, env: Env, offset: int) -> None:
    if arg.kind != "param":
        return
    problem = unit_mismatch(arg.value, env.param_units.get(arg.value), unit)
    if problem is not None:
        declared = env.param_units[arg.value]
        raise ExprError(
            problem,
            offset,
            "unit-mismatch",
            f"write 'params.{arg.value} {UNIT_NAMES.get(declared, declared)}'"
            if declared != "count"
            else "use a parameter declared in the unit written here",
        )


def _compile_unit(n: Node, env: Env) -> tuple[str, Fn]:
    it, inner = _compile(n.args[0], env)
    if it != "number":
        raise ExprError(
            f"a unit ({n.value}) must follow a number, not {_type_words(it)}",
            n.offset,
            "type-mismatch",
        )
    unit = n.value
    _check_param_unit(n.args[0], unit, env, n.offset)
    # a number or parameter before the unit is known now: build the span once
    constant = n.args[0].kind in ("num", "param")
    if unit == "business_days":
        if n.args[0].kind == "num" and not float(n.args[0].value).is_integer():
            raise ExprError("business days must be a whole number", n.offset, "type-mismatch")
        if n.args[0].kind == "param" and not float(inner({})).is_integer():
            # int() would silently drop the fraction: 1.5 business days would be 1
            raise ExprError(
                f"business days must be a whole number, and params.{n.args[0].value} is "
                f"{inner({})}",
                n.offset,
                "type-mismatch",
                f"give the parameter '{n.args[0].value}' a whole number of business days",
            )
        if constant:
            fixed_business = Duration(None, int(inner({})))
            return "duration", lambda f: fixed_business

        def business(f: Mapping[str, Any]) -> Duration | None:
            v = inner(f)
            return None if v is None else Duration(None, int(v))

        return "duration", business
    scale = _UNIT_SPANS[unit]
    if constant:
        fixed = Duration(scale * inner({}))
        return "duration", lambda f: fixed

    def span(f: Mapping[str, Any]) -> Duration | None:
        v = inner(f)
        return None if v is None else Duration(scale * v)

    return "duration", span


def _compile_arith(n: Node, env: Env) -> tuple[str, Fn]:
    lt, lf = _compile(n.args[0], env)
    rt, rf = _compile(n.args[1], env)
    sign = 1 if n.kind == "add" else -1
    op = "+" if sign == 1 else "-"
    if lt == "number" and rt == "number":

        def num(f: Mapping[str, Any]) -> Any:
            a, b = lf(f), rf(f)
            return None if a is None or b is None else a + sign * b

        return "number", num
    if lt == "moment" and rt == "duration":
        direct = _moved(lf, n.args[1], env, sign)
        if direct is not None:
            return "moment", direct

        def moved(f: Mapping[str, Any]) -> Any:
            a, b = lf(f), rf(f)
            if a is None or b is None:
                return None
            return shift(a, b if sign == 1 else -b, read_fact(f, "country"))

        return "moment", moved
    if lt == "duration" and rt == "duration":

        def spans(f: Mapping[str, Any]) -> Any:
            a, b = lf(f), rf(f)
            return None if a is None or b is None else a + (b if sign == 1 else -b)

        return "duration", spans
    hint = None
    if lt == "moment" and rt == "number":
        hint = "add a unit after the number, e.g. '+ 7 days'"
    elif lt == "moment" and rt == "moment":
        hint = "to compare two dates use a condition (before/after), to measure between them use 'elapsed'"
    raise ExprError(
        f"cannot compute {_type_words(lt)} {op} {_type_words(rt)}", n.offset, "type-mismatch", hint
    )


def _moved(lf: Fn, span: Node, env: Env, sign: int) -> Fn | None:
    """``moment +/- N unit`` without building a Duration per evaluation; same results as ``shift``.

    None when the span is not a plain ``N unit`` (e.g. a sum of spans).
    """
    if span.kind != "unit":
        return None
    unit = span.value
    st, inner = _compile(span.args[0], env)
    if st != "number":  # pragma: no cover - rejected by _compile_unit already
        return None
    constant = span.args[0].kind in ("num", "param")
    if unit == "business_days":
        if constant:
            count = sign * int(inner({}))

            def moved_business(f: Mapping[str, Any]) -> Any:
                a = lf(f)
                return (
                    None if a is None else cal.add_business_days(a, count, read_fact(f, "country"))
                )

            return moved_business

        def moved_business_by(f: Mapping[str, Any]) -> Any:
            a, v = lf(f), inner(f)
            if a is None or v is None:
                return None
            return cal.add_business_days(a, sign * int(v), read_fact(f, "country"))

        return moved_business_by
    scale = _UNIT_SPANS[unit] * sign
    if constant:
        delta = scale * inner({})
        if delta % _DAY == timedelta(0):  # a date stays a date, a date-time keeps its time

            def moved_days(f: Mapping[str, Any]) -> Any:
                a = lf(f)
                return None if a is None else a + delta

            return moved_days

        def moved_time(f: Mapping[str, Any]) -> Any:
            a = lf(f)
            return None if a is None else as_datetime(a) + delta

        return moved_time

    # a whole number of days or weeks moves a date to a date and keeps a time's time
    days_per_unit = 7 * sign if unit == "weeks" else sign if unit == "days" else 0

    def moved_by(f: Mapping[str, Any]) -> Any:
        a, v = lf(f), inner(f)
        if a is None or v is None:
            return None
        if days_per_unit and type(v) is int:
            return a + cal.whole_days(days_per_unit * v)
        d = scale * v
        if type(a) is _DATE and d % _DAY == timedelta(0):
            return a + d
        return as_datetime(a) + d

    return moved_by


def _compile_call(n: Node, env: Env) -> tuple[str, Fn]:
    name = n.value
    args = n.args

    def need(count: int) -> None:
        if len(args) != count:
            raise ExprError(
                f"{name}() takes {count} argument{'s' if count != 1 else ''}, not {len(args)}",
                n.offset,
                "bad-expression",
            )

    def typed(i: int, want: str) -> Fn:
        t, f = _compile(args[i], env)
        if t != want:
            raise ExprError(
                f"argument {i + 1} of {name}() must be {_type_words(want)}, not {_type_words(t)}",
                args[i].offset,
                "type-mismatch",
            )
        return f

    if name in ("later", "earlier"):
        if len(args) < 2:
            raise ExprError(f"{name}() needs at least two dates", n.offset)
        fns = [typed(i, "moment") for i in range(len(args))]
        pick_later = name == "later"

        def pick(f: Mapping[str, Any]) -> Any:
            best: Any = None
            for g in fns:
                v = g(f)
                if v is None:
                    continue
                if best is None:
                    best = v
                    continue
                # a date and a date-time compare as the date's midnight
                x, y = (v, best) if type(v) is type(best) else (as_datetime(v), as_datetime(best))
                if x > y if pick_later else x < y:
                    best = v
            return best

        return "moment", pick
    if name in ("max", "min"):
        if len(args) < 2:
            raise ExprError(f"{name}() needs at least two numbers", n.offset)
        nfns = [typed(i, "number") for i in range(len(args))]
        chooser = max if name == "max" else min

        def extreme(f: Mapping[str, Any]) -> Any:
            vals = [v for g in nfns if (v := g(f)) is not None]
            return chooser(vals) if vals else None

        return "number", extreme
    if name == "next_business_day":
        need(1)
        g = typed(0, "moment")

        def nbd(f: Mapping[str, Any]) -> Any:
            v = g(f)
            return None if v is None else cal.next_business_day(v, read_fact(f, "country"))

        return "moment", nbd
    if name == "date":
        need(1)
        g = typed(0, "moment")

        def day(f: Mapping[str, Any]) -> Any:
            v = g(f)
            return v.date() if isinstance(v, datetime) else v

        return "moment", day
    if name == "holidays_between":
        need(2)
        a, b = typed(0, "moment"), typed(1, "moment")

        def hol(f: Mapping[str, Any]) -> Any:
            x, y = a(f), b(f)
            if x is None or y is None:
                return None
            return _holidays_between(cal.day_of(x), cal.day_of(y), read_fact(f, "country"))

        return "number", hol
    if name == "slowdown_days":
        need(3)
        if args[0].kind != "name" or args[0].value not in env.calendars:
            from ._errors import did_you_mean

            got = args[0].value if args[0].kind == "name" else "?"
            raise ExprError(
                f"the first argument of slowdown_days() must name a calendar; '{got}' is not one",
                args[0].offset,
                "unknown-calendar",
                did_you_mean(str(got), list(env.calendars)),
            )
        calendar = env.calendars[args[0].value]
        env.used_calendars.add(calendar.name)
        a, b = typed(1, "moment"), typed(2, "moment")
        windows, match = calendar.windows, calendar.match_fact
        seen: dict[tuple[date, date, str | None], int] = {}  # the result only depends on days

        def slow(f: Mapping[str, Any]) -> Any:
            x, y = a(f), b(f)
            if x is None or y is None:
                return None
            key = (cal.day_of(x), cal.day_of(y), read_fact(f, match) if match else None)
            found = seen.get(key)
            if found is None:
                if len(seen) >= 4096:
                    seen.clear()
                found = seen[key] = cal.slowdown_days(windows, key[0], key[1], key[2])
            return found

        return "number", slow
    from ._errors import did_you_mean

    raise ExprError(
        f"'{name}' is not a function; the functions are {', '.join(FUNCTIONS)}",
        n.offset,
        "unknown-function",
        did_you_mean(name, FUNCTIONS),
    )


@functools.lru_cache(maxsize=8192)
def _holidays_between(start: date, end: date, country: str | None) -> int:
    return cal.holidays_between(start, end, country)


#: the longest expression quoted whole in an error message; longer ones are cut
QUOTE_CHARS: Final = 120


def describe_error(source: object, exc: ExprError) -> str:
    """The error message, quoting the expression when it is more than a bare name
    (its start only when it is long: the message says at which character)."""
    text = str(source).strip()
    if text.isidentifier() or (text.startswith("params.") and text[7:].isidentifier()):
        return str(exc)
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 3] + "..."
    return f"'{text}': {exc}"
