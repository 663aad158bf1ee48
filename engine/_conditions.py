"""Conditions: subjects, the operator registry, and compiled condition trees.

A condition names a *subject* (``fact``, ``since``, ``elapsed`` or ``value``)
and exactly one *operator*. Each operator is one small entry in
:data:`OPERATORS`: the subject types it accepts, how its operand is read, the
words used to explain it, and the test itself. Adding an operator is adding
one entry here and one property in ``policy.schema.json``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from mypy_extensions import mypyc_attr

from . import _calendar as cal
from ._errors import show_value
from ._expr import (
    TYPE_WORDS,
    UNIT_NAMES,
    Compiled,
    Env,
    ExprError,
    compile_node,
    describe_error,
    parse,
    unit_mismatch,
)
from ._facts import as_datetime, read_fact

__all__ = [
    "OPERATORS",
    "SUBJECTS",
    "UNIT_WORDS",
    "Condition",
    "Group",
    "Leaf",
    "Operator",
    "check_without_unit",
    "compare_moments",
    "elapsed",
    "jsonable",
]

Facts = Mapping[str, Any]


def compare_moments(a: date | datetime, b: date | datetime) -> int:
    """-1, 0 or 1; when either side is a plain date, only the days are compared."""
    if isinstance(a, _DATETIME) and isinstance(b, _DATETIME):
        x: Any
        y: Any
        x, y = a, b
    else:
        x = a.date() if isinstance(a, _DATETIME) else a
        y = b.date() if isinstance(b, _DATETIME) else b
    return int(x > y) - int(x < y)


def elapsed(
    start: date | datetime, end: date | datetime, unit: str, country: str | None
) -> float | int:
    """Time from start to end in a unit: whole calendar days, hours, weeks or business days."""
    if unit == "days":
        a = start.date() if isinstance(start, _DATETIME) else start
        b = end.date() if isinstance(end, _DATETIME) else end
        return (b - a).days
    if unit == "weeks":
        a = start.date() if isinstance(start, _DATETIME) else start
        b = end.date() if isinstance(end, _DATETIME) else end
        return (b - a).days / 7
    if unit == "hours":
        return (as_datetime(end) - as_datetime(start)).total_seconds() / 3600
    return cal.business_days_between(start, end, country)


UNIT_WORDS = {"days": "days", "hours": "hours", "weeks": "weeks", "business_days": "business days"}

# business days depend on the country's public holidays
_COUNTRY = {unit: frozenset({"country"} if unit == "business_days" else ()) for unit in UNIT_WORDS}


# Final: the compiled build keeps these in C variables instead of looking up the
# module's globals on every call (this module runs for every applicant)
_PLAIN: Final = frozenset((str, int, bool, type(None)))
_DATETIME: Final = datetime
_DATE: Final = date
# dates and date-times recur within a cohort: format each once (a date never
# equals a date-time, so they can share the table)
_ISO: Final[dict[date, str]] = {}


def jsonable(value: Any) -> Any:
    """A value as it appears in decisions and explanations."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is _DATETIME or kind is _DATE:
        text = _ISO.get(value)
        if text is None:
            if len(_ISO) >= 16384:
                _ISO.clear()
            text = _ISO[value] = (
                value.isoformat(timespec="seconds" if value.microsecond == 0 else "microseconds")
                if kind is _DATETIME
                else value.isoformat()
            )
        return text
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if value.microsecond == 0 else "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


# -------------------------------------------------------------- operators


@dataclass(frozen=True)
class Operator:
    """One comparison a condition can make.

    Attributes:
        name: the YAML key.
        subjects: subject types it accepts (number, moment, text, bool, list, any).
        operand: how the operand is read: "literal", "literals", "expr", "range", "flag".
        words: how it reads in an explanation.
        test: (left, right) -> bool, called only when both are known.
    """

    name: str
    subjects: tuple[str, ...]
    operand: str
    words: str
    test: Callable[[Any, Any], bool]


def _num(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return op


def _moment(want: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    return lambda a, b: want(compare_moments(a, b))


def _check_range(lo: Compiled, hi: Compiled, operand: list[Any], pointer: str) -> None:
    """A range whose ends read no fact (numbers, parameters, dates) must not be
    upside down: it would never hold."""
    if lo.reads or hi.reads:
        return
    low, high = lo.fn({}), hi.fn({})
    if low is None or high is None or type(low) is not type(high):
        return
    if low > high:
        raise ConditionError(
            pointer,
            "empty-range",
            f"'between' goes from {_valued(operand[0], low)} down to "
            f"{_valued(operand[1], high)}, so it never holds",
            f"put the low end first: [{operand[1]}, {operand[0]}]",
        )


def _valued(text: Any, value: Any) -> str:
    """An operand as written, with its value when that says more (a parameter)."""
    shown = str(_word(value))
    return shown if str(text) == shown else f"{text} ({shown})"


def _between(a: Any, rng: Any) -> bool:
    lo, hi = rng
    if isinstance(a, date):
        return compare_moments(lo, a) <= 0 <= compare_moments(hi, a)
    return bool(lo <= a <= hi)


_SCALARS = ("text", "number", "bool")
OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("equals", _SCALARS, "literal", "is", lambda a, b: bool(a == b)),
        Operator("not_equals", _SCALARS, "literal", "is not", lambda a, b: bool(a != b)),
        Operator("in", ("text", "number"), "literals", "is one of", lambda a, b: a in b),
        Operator("not_in", ("text", "number"), "literals", "is none of", lambda a, b: a not in b),
        Operator("less_than", ("number",), "expr", "is less than", _num(lambda a, b: bool(a < b))),
        Operator("at_most", ("number",), "expr", "is at most", _num(lambda a, b: bool(a <= b))),
        Operator("more_than", ("number",), "expr", "is more than", _num(lambda a, b: bool(a > b))),
        Operator("at_least", ("number",), "expr", "is at least", _num(lambda a, b: bool(a >= b))),
        Operator("before", ("moment",), "expr", "is before", _moment(lambda c: c < 0)),
        Operator("on_or_before", ("moment",), "expr", "is on or before", _moment(lambda c: c <= 0)),
        Operator("after", ("moment",), "expr", "is after", _moment(lambda c: c > 0)),
        Operator("on_or_after", ("moment",), "expr", "is on or after", _moment(lambda c: c >= 0)),
        Operator("between", ("number", "moment"), "range", "is between", _between),
        Operator("present", ("any",), "flag", "is present", lambda a, b: True),
        Operator("missing", ("any",), "flag", "is missing", lambda a, b: True),
    )
}

SUBJECTS = ("fact", "since", "elapsed", "value")


# --------------------------------------------------------- compiled trees


def _is_present(v: Any) -> bool:
    return v is not None and not (isinstance(v, tuple) and not v)


# not a mypyc native class: check and values are set per instance (see setup.py)
@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class Leaf:
    """A single test: subject, operator, operand."""

    pointer: str
    text: str
    explain: str | None
    subject_label: str
    operator: Operator
    left: Callable[[Facts], Any]
    right: Callable[[Facts], Any]
    flag: bool
    reads: frozenset[str]
    # for explanations only: the operand as written, the subject kind and unit,
    # and the dates a since/elapsed subject measures between (label, value)
    right_text: str = ""
    subject: str = "fact"
    unit: str = "days"
    parts: tuple[tuple[str, Callable[[Facts], Any]], ...] = ()
    kind = "leaf"

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", _leaf_check(self))
        object.__setattr__(self, "negated_text", f"not ({self.text})")
        object.__setattr__(self, "values", _leaf_values(self))
        object.__setattr__(self, "tracer", _leaf_tracer(self, negated=False))

    def check(self, facts: Facts) -> str | None:  # replaced per instance by a specialised closure
        """None when the test holds, else its text."""
        raise NotImplementedError  # pragma: no cover

    def test(self, facts: Facts) -> bool:
        return self.check(facts) is None

    negated_text: str = field(init=False, default="", repr=False, compare=False)

    def values(self, facts: Facts) -> tuple[Any, Any]:  # replaced per instance, as check
        """The (left, right) values as they appear in a trace."""
        raise NotImplementedError  # pragma: no cover

    def tracer(self, facts: Facts, out: list[dict[str, Any]], active: bool) -> bool | None:
        """``trace`` of this test; replaced per instance, as check."""
        raise NotImplementedError  # pragma: no cover


@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class Group:
    """``all``, ``any`` or ``not`` over child conditions."""

    pointer: str
    kind: str
    children: tuple[Condition, ...]
    text: str
    explain: str | None
    reads: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", _group_check(self))
        object.__setattr__(self, "tracer", _group_tracer(self))

    def check(self, facts: Facts) -> str | None:  # replaced per instance by a specialised closure
        """None when the group holds, else the text of the condition that decided the failure."""
        raise NotImplementedError  # pragma: no cover

    def tracer(self, facts: Facts, out: list[dict[str, Any]], active: bool) -> bool | None:
        """``trace`` of this group; replaced per instance, as check."""
        raise NotImplementedError  # pragma: no cover

    def test(self, facts: Facts) -> bool:
        return self.check(facts) is None


Condition = Leaf | Group

Check = Callable[[Facts], "str | None"]


def _leaf_check(leaf: Leaf) -> Check:
    """A closure specialised for one test; evaluation's hot path.

    Returns None when the test holds, else the test's text, so the deciding
    condition of a failure is known without evaluating twice.
    """
    op, left, right, text, flag = leaf.operator, leaf.left, leaf.right, leaf.text, leaf.flag
    # a subject that is a plain fact is read directly: most tests are of this kind
    name = leaf.subject_label if leaf.subject == "fact" else None
    if op.operand == "flag":
        want_present = flag if op.name == "present" else not flag
        if name is not None:

            def fact_flag_check(f: Facts) -> str | None:
                v = read_fact(f, name)
                return None if (v is not None and v != ()) is want_present else text

            return fact_flag_check

        def flag_check(f: Facts) -> str | None:
            v = left(f)
            present = v is not None and v != ()
            return None if present is want_present else text

        return flag_check
    test = op.test
    if op.operand in ("literal", "literals") and not leaf.right_text.startswith("$"):
        constant = right({})
        if name is not None and op.name == "equals":

            def fact_equals_check(f: Facts) -> str | None:
                return None if read_fact(f, name) == constant else text

            return fact_equals_check

        def constant_check(f: Facts) -> str | None:
            a = left(f)
            return None if a is not None and test(a, constant) else text

        return constant_check
    is_range = op.operand == "range"

    def check(f: Facts) -> str | None:
        a = left(f)
        if a is None:
            return text
        b = right(f)
        if b is None or (is_range and (b[0] is None or b[1] is None)):
            return text
        return None if test(a, b) else text

    return check


def _leaf_values(leaf: Leaf) -> Callable[[Facts], tuple[Any, Any]]:
    left, right = leaf.left, leaf.right
    if leaf.operator.operand == "flag":
        flag = leaf.flag
        return lambda f: (jsonable(left(f)), flag)
    if leaf.operator.operand in ("literal", "literals") and not leaf.right_text.startswith("$"):
        shown = jsonable(right({}))
        return lambda f: (jsonable(left(f)), shown)
    return lambda f: (jsonable(left(f)), jsonable(right(f)))


def _group_check(group: Group) -> Check:
    checks = tuple(c.check for c in group.children)
    text = group.text
    if group.kind == "all":

        def all_check(f: Facts) -> str | None:
            for c in checks:
                failed = c(f)
                if failed is not None:
                    return failed
            return None

        return all_check
    if group.kind == "any":

        def any_check(f: Facts) -> str | None:
            for c in checks:
                if c(f) is None:
                    return None
            return text

        return any_check
    (inner,) = checks

    def not_check(f: Facts) -> str | None:
        return text if inner(f) is None else None

    return not_check


def trace(
    cond: Condition, facts: Facts, out: list[dict[str, Any]], active: bool = True
) -> bool | None:
    """Evaluate with short-circuiting, appending one entry per leaf to ``out``.

    A ``not`` over a single test is reported as that test with the negated
    result; a ``not`` over a group reports the group's tests, then one entry
    for the negation itself. Tests not reached because of short-circuiting
    get ``result: None``. Returns the condition's result (None when inactive).
    """
    return cond.tracer(facts, out, active)


Tracer = Callable[[Facts, "list[dict[str, Any]]", bool], "bool | None"]


@functools.lru_cache(maxsize=4096)
def _not_reached(text: str) -> dict[str, Any]:
    """The trace entry of a test skipped by short-circuiting (shared: never changed)."""
    return {"text": text, "left": None, "right": None, "result": None}


def _leaf_tracer(leaf: Leaf, negated: bool) -> Tracer:
    """``trace`` for one test, specialised like its check (see ``trace``)."""
    text = leaf.negated_text if negated else leaf.text
    skipped = _not_reached(text)
    values, check = leaf.values, leaf.check

    def leaf_tracer(f: Facts, out: list[dict[str, Any]], active: bool) -> bool | None:
        if not active:
            out.append(skipped)
            return None
        left, right = values(f)
        result = (check(f) is None) is not negated
        out.append({"text": text, "left": left, "right": right, "result": result})
        return result

    return leaf_tracer


def _group_tracer(group: Group) -> Tracer:
    """``trace`` for a group, over its children's tracers (see ``trace``)."""
    if group.kind == "not":
        child = group.children[0]
        if isinstance(child, Leaf):
            return _leaf_tracer(child, negated=True)
        inner, text = child.tracer, group.text

        def not_tracer(f: Facts, out: list[dict[str, Any]], active: bool) -> bool | None:
            r = inner(f, out, active)
            result = None if r is None else not r
            out.append({"text": text, "left": None, "right": None, "result": result})
            return result

        return not_tracer
    tracers = tuple(c.tracer for c in group.children)
    is_all = group.kind == "all"

    def group_tracer(f: Facts, out: list[dict[str, Any]], active: bool) -> bool | None:
        outcome: bool | None = is_all if active else None
        for child in tracers:
            going = active and outcome == is_all
            r = child(f, out, going)
            if going and r is not None:
                if is_all and not r:
                    outcome = False
                elif not is_all and r:
                    outcome = True
        return outcome

    return group_tracer


def first_failure(cond: Condition, facts: Facts) -> str:
    """The text of the condition that decided a failure: the failing test inside
    ``all`` groups, the whole group for ``any`` and ``not``."""
    return cond.check(facts) or cond.text


# ------------------------------------------------------------- compiling


class ConditionError(Exception):
    def __init__(
        self,
        pointer: str,
        code: str,
        message: str,
        suggestion: str | None = None,
        offset: int | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.code = code
        self.message = message
        self.suggestion = suggestion
        self.offset = offset
        self.value = value


def _want_unit(subject: str, unit: str, operand: Any, env: Env, pointer: str) -> None:
    """A since/elapsed count in one unit compared with a parameter declared in
    another (days against ``params.thank_you_hours``) compares the wrong numbers."""
    if subject not in ("since", "elapsed") or not isinstance(operand, str):
        return
    name = operand.strip().removeprefix("params.")
    if name == operand.strip() or name not in env.param_units:
        return
    problem = unit_mismatch(name, env.param_units[name], unit)
    if problem is not None:
        declared = env.param_units[name]
        raise ConditionError(
            pointer,
            "unit-mismatch",
            f"{subject} counts {UNIT_NAMES.get(unit, unit)}, but {problem.split(' but ')[0]}",
            f"add 'unit: {declared}' to the condition"
            if declared in UNIT_WORDS
            else f"compare with a parameter declared in {UNIT_NAMES.get(unit, unit)}",
        )


def _expr(source: Any, env: Env, pointer: str) -> Compiled:
    try:
        return compile_node(parse(source), env, str(source))
    except ExprError as exc:
        raise ConditionError(
            pointer, exc.code, describe_error(source, exc), exc.suggestion, exc.offset
        ) from exc


@dataclass
class ConditionEnv:
    """Compile-time knowledge for conditions."""

    expr: Env
    choices: Mapping[str, Sequence[str]]  # fact -> allowed values, for enums


def compile_condition(
    raw: Any, env: ConditionEnv, pointer: str, errors: list[ConditionError]
) -> Condition | None:
    """Compile one condition (recursively); problems go to ``errors``."""
    if not isinstance(raw, dict):
        errors.append(ConditionError(pointer, "bad-condition", "a condition must be a mapping"))
        return None
    explain = raw.get("explain")
    for group in ("all", "any", "not"):
        if group in raw:
            extra = sorted(set(raw) - {group, "explain"})
            if extra:
                errors.append(
                    ConditionError(
                        pointer,
                        "bad-condition",
                        f"'{group}' cannot be combined with {', '.join(extra)} in one condition",
                        f"put the other tests inside the '{group}' list",
                    )
                )
                return None
            items = raw[group] if group != "not" else [raw[group]]
            if group != "not" and (not isinstance(items, list) or not items):
                errors.append(
                    ConditionError(
                        f"{pointer}/{group}", "bad-condition", f"'{group}' needs a non-empty list"
                    )
                )
                return None
            kids: list[Condition] = []
            for i, item in enumerate(items):
                child_ptr = f"{pointer}/{group}/{i}" if group != "not" else f"{pointer}/not"
                c = compile_condition(item, env, child_ptr, errors)
                if c is not None:
                    kids.append(c)
            if len(kids) != len(items):
                return None
            if group == "not":
                text = f"not ({kids[0].text})"
            else:
                text = ("all of: " if group == "all" else "any of: ") + "; ".join(
                    k.text for k in kids
                )
            reads = frozenset().union(*(k.reads for k in kids))
            return Group(pointer, group, tuple(kids), text, explain, reads)
    return _compile_leaf(raw, env, pointer, errors)


def _compile_leaf(
    raw: dict[str, Any], env: ConditionEnv, pointer: str, errors: list[ConditionError]
) -> Leaf | None:
    subjects = [k for k in SUBJECTS if k in raw]
    ops = [k for k in raw if k in OPERATORS]
    known = set(SUBJECTS) | set(OPERATORS) | {"unit", "explain"}
    unknown = [k for k in raw if k not in known]
    if unknown:
        from ._errors import did_you_mean

        errors.append(
            ConditionError(
                f"{pointer}/{unknown[0]}",
                "unknown-key",
                f"'{unknown[0]}' is not a condition key",
                did_you_mean(unknown[0], sorted(known))
                or f"a condition takes {', '.join(SUBJECTS)} and one of {', '.join(OPERATORS)}",
            )
        )
        return None
    if len(subjects) != 1:
        errors.append(
            ConditionError(
                pointer,
                "bad-condition",
                "a condition needs exactly one subject: fact, since, elapsed or value"
                + (f" (found {', '.join(subjects)})" if subjects else ""),
                "e.g. '- {fact: industry, equals: finance}'",
            )
        )
        return None
    if len(ops) != 1:
        errors.append(
            ConditionError(
                pointer,
                "bad-condition",
                "a condition needs exactly one operator"
                + (f" (found {', '.join(ops)})" if ops else ""),
                "split it into two conditions inside 'all'"
                if ops
                else "add e.g. 'equals:' or 'present: true'",
            )
        )
        return None
    subject, opname = subjects[0], ops[0]
    op = OPERATORS[opname]
    unit = raw.get("unit", "days")
    if "unit" in raw and subject not in ("since", "elapsed"):
        errors.append(
            ConditionError(
                f"{pointer}/unit", "bad-condition", "'unit' only goes with 'since' or 'elapsed'"
            )
        )
        check_without_unit(raw, env, pointer, errors)
        return None
    if unit not in UNIT_WORDS:
        errors.append(
            ConditionError(
                f"{pointer}/unit",
                "bad-unit",
                f"'{unit}' is not a unit; use one of {', '.join(UNIT_WORDS)}",
            )
        )
        check_without_unit(raw, env, pointer, errors)
        return None
    sub_ptr = f"{pointer}/{subject}"
    try:
        stype, left, label, reads = _subject(subject, raw[subject], unit, env, sub_ptr)
    except ConditionError as exc:
        errors.append(exc)
        # the other side may hold a mistake of its own (params.nosuch): say it too
        _check_operand_names(
            OPERATORS[opname].operand, raw[opname], env, f"{pointer}/{opname}", errors
        )
        return None
    op_ptr = f"{pointer}/{opname}"
    operand = raw[opname]
    if "any" not in op.subjects and stype not in op.subjects:
        hint = None
        if stype == "moment" and op.operand == "expr":
            hint = "for dates use before, on_or_before, after or on_or_after"
        elif stype == "number" and opname in ("before", "on_or_before", "after", "on_or_after"):
            hint = "for numbers use less_than, at_most, more_than or at_least"
        elif stype == "moment" and opname in ("equals", "not_equals", "in", "not_in"):
            hint = "for dates use between, or on_or_after together with on_or_before"
        errors.append(
            ConditionError(
                op_ptr,
                "type-mismatch",
                f"'{opname}' cannot be used on {label}, which is {TYPE_WORDS.get(stype, stype)}",
                hint,
            )
        )
        return None
    flag = True
    right: Callable[[Facts], Any] = _none
    right_text = ""
    try:
        if op.operand == "flag":
            if not isinstance(operand, bool):
                raise ConditionError(
                    op_ptr,
                    "bad-value",
                    f"'{opname}' takes true or false, not {show_value(operand)}",
                )
            flag = operand
            text = (
                f"{label} {op.words}"
                if flag
                else f"{label} {OPERATORS['missing' if opname == 'present' else 'present'].words}"
            )
        elif op.operand == "literal":
            right, right_text, more = _literal(operand, stype, subject, raw[subject], env, op_ptr)
            reads |= more
            text = f"{label} {op.words} {right_text}"
        elif op.operand == "literals":
            if not isinstance(operand, list) or not operand:
                raise ConditionError(
                    op_ptr, "bad-value", f"'{opname}' takes a non-empty list of values"
                )
            values = []
            for i, item in enumerate(operand):
                f, _t, more = _literal(item, stype, subject, raw[subject], env, f"{op_ptr}/{i}")
                if more:
                    raise ConditionError(
                        f"{op_ptr}/{i}", "bad-value", "lists cannot refer to facts ($name)"
                    )
                values.append(f({}))
            frozen = frozenset(values)
            right = lambda f: frozen  # noqa: E731
            right_text = ", ".join(str(_word(v)) for v in values)
            text = f"{label} {op.words} {right_text}"
        elif op.operand == "expr":
            c = _expr(operand, env.expr, op_ptr)
            _want(c, stype, op_ptr, opname)
            _want_unit(subject, unit, operand, env.expr, op_ptr)
            right, reads = c.fn, reads | c.reads
            text = f"{label} {op.words} {operand}"
        else:  # range
            if not isinstance(operand, list) or len(operand) != 2:
                raise ConditionError(
                    op_ptr, "bad-value", "'between' takes a list of two values: [low, high]"
                )
            lo = _expr(operand[0], env.expr, f"{op_ptr}/0")
            hi = _expr(operand[1], env.expr, f"{op_ptr}/1")
            _want(lo, stype, f"{op_ptr}/0", opname)
            _want(hi, stype, f"{op_ptr}/1", opname)
            _want_unit(subject, unit, operand[0], env.expr, f"{op_ptr}/0")
            _want_unit(subject, unit, operand[1], env.expr, f"{op_ptr}/1")
            lf, hf = lo.fn, hi.fn
            _check_range(lo, hi, operand, op_ptr)
            right = lambda f: (lf(f), hf(f))  # noqa: E731
            reads = reads | lo.reads | hi.reads
            text = f"{label} {op.words} {operand[0]} and {operand[1]}"
    except ConditionError as exc:
        errors.append(exc)
        return None
    explain = raw.get("explain")
    if op.operand == "range":
        right_text = f"{operand[0]} and {operand[1]}"
    elif op.operand == "expr":
        right_text = str(operand)
    return Leaf(
        pointer,
        text,
        explain,
        label,
        op,
        left,
        right,
        flag,
        frozenset(reads),
        right_text,
        subject,
        unit,
        _parts(subject, raw[subject], env),
    )


def check_without_unit(
    raw: Mapping[str, Any], env: ConditionEnv, pointer: str, errors: list[ConditionError]
) -> None:
    """The mistakes of a condition whose 'unit' is wrong (already reported) in
    everything but its unit: an unknown fact or parameter beside a wrong unit is
    reported too. Whether its numbers are in the unit of a parameter cannot be
    told without the unit, so that is not judged."""
    more: list[ConditionError] = []
    _compile_leaf({k: v for k, v in raw.items() if k != "unit"}, env, pointer, more)
    errors.extend(e for e in more if e.code != "unit-mismatch")


def _check_operand_names(
    kind: str, operand: Any, env: ConditionEnv, pointer: str, errors: list[ConditionError]
) -> None:
    """The mistakes in an expression operand that do not depend on the subject
    (unknown names, syntax), for a condition whose subject is already wrong."""
    if kind == "expr":
        items = [(operand, pointer)]
    elif kind == "range" and isinstance(operand, list):
        items = [(v, f"{pointer}/{i}") for i, v in enumerate(operand)]
    else:
        return
    for item, ptr in items:
        try:
            _expr(item, env.expr, ptr)
        except ConditionError as exc:
            errors.append(exc)


def _parts(
    subject: str, raw: Any, env: ConditionEnv
) -> tuple[tuple[str, Callable[[Facts], Any]], ...]:
    """The dates a since/elapsed subject measures between, for explanations."""
    if subject == "since":
        return ((str(raw), _expr(raw, env.expr, "").fn),)
    if subject == "elapsed":
        return tuple((str(raw[k]), _expr(raw[k], env.expr, "").fn) for k in ("from", "to"))
    return ()


def _none(facts: Facts) -> Any:
    return None


def _word(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _want(c: Compiled, stype: str, pointer: str, opname: str) -> None:
    if c.type != stype:
        raise ConditionError(
            pointer,
            "type-mismatch",
            f"'{opname}' compares {TYPE_WORDS.get(stype, stype)} with '{c.text}', which is "
            f"{TYPE_WORDS.get(c.type, c.type)}",
            "add a unit (e.g. '7 days') only when the left side is a date"
            if c.type == "duration"
            else None,
        )


def _subject(
    subject: str, raw: Any, unit: str, env: ConditionEnv, pointer: str
) -> tuple[str, Callable[[Facts], Any], str, frozenset[str]]:
    if subject == "fact":
        if not isinstance(raw, str):
            raise ConditionError(pointer, "bad-condition", "'fact' takes the name of a fact")
        c = _expr(raw, env.expr, pointer)
        if raw not in env.expr.fact_types:  # pragma: no cover - _expr raised already
            raise ConditionError(pointer, "unknown-fact", f"'{raw}' is not a known fact")
        return c.type, c.fn, raw, c.reads
    if subject == "value":
        c = _expr(raw, env.expr, pointer)
        return c.type, c.fn, str(raw), c.reads
    if subject == "since":
        start = _expr(raw, env.expr, pointer)
        if start.type != "moment":
            raise ConditionError(
                pointer, "type-mismatch", f"'since' needs a date, and '{raw}' is not one"
            )
        sf = start.fn
        if unit == "days":

            def since_days(f: Facts) -> Any:
                s, now = sf(f), read_fact(f, "as_of")
                # whole calendar days: dates and date-times both count by their day number
                return None if s is None or now is None else now.toordinal() - s.toordinal()

            return "number", since_days, f"{UNIT_WORDS[unit]} since {raw}", start.reads | {"as_of"}

        def since(f: Facts) -> Any:
            s, now = sf(f), read_fact(f, "as_of")
            return (
                None if s is None or now is None else elapsed(s, now, unit, read_fact(f, "country"))
            )

        reads = start.reads | {"as_of"} | _COUNTRY[unit]
        return "number", since, f"{UNIT_WORDS[unit]} since {raw}", reads
    # elapsed
    if not isinstance(raw, dict) or set(raw) != {"from", "to"}:
        raise ConditionError(
            pointer,
            "bad-condition",
            "'elapsed' takes {from: DATE, to: DATE}",
            "e.g. elapsed: {from: interview_at, to: thank_you_sent_at}",
        )
    a = _expr(raw["from"], env.expr, f"{pointer}/from")
    b = _expr(raw["to"], env.expr, f"{pointer}/to")
    for c, key in ((a, "from"), (b, "to")):
        if c.type != "moment":
            raise ConditionError(f"{pointer}/{key}", "type-mismatch", f"'{c.text}' is not a date")
    af, bf = a.fn, b.fn

    def between(f: Facts) -> Any:
        x, y = af(f), bf(f)
        return None if x is None or y is None else elapsed(x, y, unit, read_fact(f, "country"))

    return (
        "number",
        between,
        f"{UNIT_WORDS[unit]} from {raw['from']} to {raw['to']}",
        a.reads | b.reads | _COUNTRY[unit],
    )


def _literal(
    operand: Any, stype: str, subject: str, subject_raw: Any, env: ConditionEnv, pointer: str
) -> tuple[Callable[[Facts], Any], str, frozenset[str]]:
    """A literal operand, or a ``$fact`` reference; checked against the subject's type and choices."""
    if isinstance(operand, str) and operand.startswith("$"):
        name = operand[1:]
        c = _expr(name, env.expr, pointer)
        if c.type != stype:
            raise ConditionError(
                pointer,
                "type-mismatch",
                f"'{operand}' is {TYPE_WORDS.get(c.type, c.type)} but the subject is {TYPE_WORDS.get(stype, stype)}",
            )
        return c.fn, operand, c.reads
    kind = (
        "bool"
        if isinstance(operand, bool)
        else "number"
        if isinstance(operand, int | float)
        else "text"
        if isinstance(operand, str)
        else None
    )
    if kind != stype:
        raise ConditionError(
            pointer,
            "type-mismatch",
            f"{show_value(operand)} is {TYPE_WORDS.get(kind or '', 'not a plain value')} but the subject is "
            f"{TYPE_WORDS.get(stype, stype)}",
            "write true or false without quotes"
            if stype == "bool" and isinstance(operand, str)
            else None,
        )
    if subject == "fact" and isinstance(operand, str):
        choices = env.choices.get(str(subject_raw))
        if choices and operand not in choices:
            from ._errors import did_you_mean

            raise ConditionError(
                pointer,
                "unknown-value",
                f"'{operand}' is not a value {subject_raw} can take (it can be {', '.join(choices)})",
                did_you_mean(operand, choices),
                value=operand,
            )
    return (lambda f: operand), str(_word(operand)), frozenset()
