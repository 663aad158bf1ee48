"""Compiled conditions as durable_rules expressions over typed values.

Each test of a rule reads its values into the rule's *operand fact* (``fill``)
and has two durable_rules forms: one that matches when the test holds and one
that matches when it does not (``not`` is pushed down to the tests, so a
missing value fails a test and passes its negation, as in the native engine).
Values are typed before durable_rules sees them: it compares mixed types as
text (``"9" > 10``) and loops forever on ``null``, so text stays text, numbers
are finite and exact in a double, true/false become 1/0, dates become day
numbers and date-times microseconds since 1970 (compared the way
``compare_moments`` compares them), and a missing value is a missing property.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ._conditions import Condition, Leaf
from ._errors import FollowupError
from ._expr import ExprError, parse

__all__ = [
    "MAX_SEQUENCE",
    "MAX_TESTS_PER_FACT",
    "SUPPORTED_OPERATORS",
    "BackendError",
    "Fill",
    "Json",
    "LeafPlan",
    "all_of",
    "any_of",
    "has_div",
    "leaves",
    "number",
    "plan_leaf",
    "scalar",
    "sequence_length",
    "stack_depth",
    "translate",
]

#: durable_rules keeps the alpha tests of one fact on a stack of 64 entries
#: (error 303 beyond it); rules are checked against it when a policy is loaded.
MAX_TESTS_PER_FACT = 64
#: durable_rules keeps at most 31 entries of ``$and``/``$or``/references per fact
#: of a rule (error 113 when the ruleset is created).
MAX_SEQUENCE = 31
#: the largest integer a double holds exactly (durable_rules compares doubles)
_MAX_EXACT = 2**53
_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)


class BackendError(FollowupError):
    """The durable backend failed while evaluating (a bug, or durable_rules misbehaving)."""


# ------------------------------------------------------------ typed values


def number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise BackendError(f"expected a number, got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise BackendError(f"durable_rules cannot compare {v!r}")
    if isinstance(v, int) and abs(v) > _MAX_EXACT:
        raise BackendError(f"{v} is too large for durable_rules to compare exactly")
    return v


def scalar(v: Any) -> int | float | str:
    """A value for equals/in: text, a number, or 0/1 for true/false."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str):
        return v
    return number(v)


def _moment_pair(a: Any, b: Any) -> tuple[int, int]:
    """Two moments as comparable integers, the way ``compare_moments`` compares them."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return (a - _EPOCH) // _MICRO, (b - _EPOCH) // _MICRO
    if not isinstance(a, date) or not isinstance(b, date):
        raise BackendError(f"expected two dates, got {a!r} and {b!r}")
    x = a.date() if isinstance(a, datetime) else a
    y = b.date() if isinstance(b, datetime) else b
    return x.toordinal(), y.toordinal()


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, tuple) and not v)


# ------------------------------------------------------- translating tests

_FLIP = {"$lt": "$gte", "$lte": "$gt", "$gt": "$lte", "$gte": "$lt"}
_NUMBER_OPS = {"less_than": "$lt", "at_most": "$lte", "more_than": "$gt", "at_least": "$gte"}
_MOMENT_OPS = {"before": "$lt", "on_or_before": "$lte", "after": "$gt", "on_or_after": "$gte"}
#: operators this backend translates; anything else in the registry is refused at load
SUPPORTED_OPERATORS = frozenset(
    {"present", "missing", "equals", "not_equals", "in", "not_in", "between"}
    | set(_NUMBER_OPS)
    | set(_MOMENT_OPS)
)

Json = dict[str, Any]
Fill = Callable[[Mapping[str, Any], Json], None]


def _ex(name: str) -> Json:
    return {"$ex": {name: 1}}


def _nex(name: str) -> Json:
    return {"$nex": {name: 1}}


def all_of(parts: list[Json]) -> Json:
    return _join("$and", parts)


def any_of(parts: list[Json]) -> Json:
    return _join("$or", parts)


def _join(op: str, parts: list[Json]) -> Json:
    flat: list[Json] = []
    for part in parts:
        flat.extend(part.get(op, [part]))
    return flat[0] if len(flat) == 1 else {op: flat}


def _compare(op: str, left: str, right: str | None, const: Any) -> Json:
    """``left op right``; ``right`` is a field of the same fact, or None for ``const``."""
    if right is None:
        return {op: {left: const}} if op != "$eq" else {left: const}
    return {op: {left: {"$m": right}}}


@dataclass(frozen=True)
class LeafPlan:
    """How one test reads its values into the operand fact, and its two durable forms."""

    fill: Fill
    positive: Json
    negative: Json
    fields: int  # properties it may add to the operand fact


def _constant_number(leaf: Leaf) -> tuple[bool, Any]:
    """(True, value) when the operand is a number that reads no fact."""
    op = leaf.operator
    if op.operand == "literal" and not leaf.right_text.startswith("$"):
        value = leaf.right({})
        return (True, value) if not isinstance(value, bool) else (False, None)
    if op.operand != "expr":
        return False, None
    try:
        node = parse(leaf.right_text)
    except ExprError:  # pragma: no cover - it compiled once already
        return False, None

    def pure(n: Any) -> bool:
        return n.kind not in ("name", "call", "unit") and all(pure(a) for a in n.args)

    if not pure(node):
        return False, None
    value = leaf.right({})
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False, None
    return True, value


def _comparison(fill: Fill, a: str, b: str | None, const: Any, op: str, flipped: str) -> LeafPlan:
    """``a op b`` (or ``a op const`` when ``b`` is None) and its negation.

    A test on a missing property fails by itself; a *reference* to a missing
    property compares true, so both sides of a reference are guarded with
    ``$ex`` (the negation needs no guard: its ``$nex`` alternatives hold then).
    """
    if b is None:
        return LeafPlan(
            fill,
            _compare(op, a, None, const),
            any_of([_nex(a), _compare(flipped, a, None, const)]),
            1,
        )
    pos = all_of([_ex(a), _ex(b), _compare(op, a, b, None)])
    neg = any_of([_nex(a), _nex(b), _compare(flipped, a, b, None)])
    return LeafPlan(fill, pos, neg, 2)


def plan_leaf(leaf: Leaf, i: int) -> LeafPlan:
    op = leaf.operator
    a, b, x, c = f"a{i}", f"b{i}", f"x{i}", f"c{i}"
    left, right = leaf.left, leaf.right

    if op.operand == "flag":
        want_present = leaf.flag if op.name == "present" else not leaf.flag

        def fill_flag(f: Mapping[str, Any], out: Json) -> None:
            if _present(left(f)):
                out[a] = 1

        yes, no = _ex(a), _nex(a)
        return LeafPlan(fill_flag, yes if want_present else no, no if want_present else yes, 1)

    if op.name in ("in", "not_in"):
        values = sorted((scalar(v) for v in right({})), key=repr)

        def fill_in(f: Mapping[str, Any], out: Json) -> None:
            va = left(f)
            if va is not None:
                out[a] = scalar(va)

        eq = any_of([{a: v} for v in values])
        ne = all_of([{"$neq": {a: v}} for v in values])
        if op.name == "in":
            return LeafPlan(fill_in, eq, any_of([_nex(a), ne]), 1)
        return LeafPlan(fill_in, ne, any_of([_nex(a), eq]), 1)

    if op.name in ("equals", "not_equals"):
        const, value = (
            (True, scalar(right({})))
            if op.operand == "literal" and not leaf.right_text.startswith("$")
            else (False, None)
        )

        def fill_eq(f: Mapping[str, Any], out: Json) -> None:
            va = left(f)
            if va is not None:
                out[a] = scalar(va)
            if not const:
                vb = right(f)
                if vb is not None:
                    out[b] = scalar(vb)

        ops = ("$eq", "$neq") if op.name == "equals" else ("$neq", "$eq")
        return _comparison(fill_eq, a, None if const else b, value, *ops)

    if op.name in _NUMBER_OPS or op.name in _MOMENT_OPS:
        moment = op.name in _MOMENT_OPS
        dop = _MOMENT_OPS[op.name] if moment else _NUMBER_OPS[op.name]
        const, value = (False, None) if moment else _constant_number(leaf)

        def fill_cmp(f: Mapping[str, Any], out: Json) -> None:
            va = left(f)
            if va is None:
                return
            if const:
                out[a] = number(va)
                return
            vb = right(f)
            if vb is None:
                return
            if moment:
                out[a], out[b] = _moment_pair(va, vb)
            else:
                out[a], out[b] = number(va), number(vb)

        return _comparison(fill_cmp, a, None if const else b, value, dop, _FLIP[dop])

    if op.name == "between":

        def fill_between(f: Mapping[str, Any], out: Json) -> None:
            va = left(f)
            rng = right(f)
            if va is None or rng is None or rng[0] is None or rng[1] is None:
                return
            lo, hi = rng
            if isinstance(va, date):
                out[a], out[b] = _moment_pair(va, lo)
                out[x], out[c] = _moment_pair(va, hi)
            else:
                out[a], out[b] = number(va), number(lo)
                out[x], out[c] = number(va), number(hi)

        pos = all_of(
            [
                _ex(a),
                _ex(b),
                _ex(x),
                _ex(c),
                _compare("$gte", a, b, None),
                _compare("$lte", x, c, None),
            ]
        )
        # a reference to a missing property compares true, but then a $nex holds anyway
        neg = any_of(
            [_nex(a), _nex(b), _nex(c), _compare("$lt", a, b, None), _compare("$gt", x, c, None)]
        )
        return LeafPlan(fill_between, pos, neg, 4)

    raise BackendError(f"the operator '{op.name}' has no translation")  # pragma: no cover


def leaves(cond: Condition) -> Iterator[Leaf]:
    if isinstance(cond, Leaf):
        yield cond
    else:
        for child in cond.children:
            yield from leaves(child)


def translate(cond: Condition, plans: Mapping[int, LeafPlan], negate: bool) -> Json:
    """A condition tree as one durable_rules expression (``not`` pushed down to the tests)."""
    if isinstance(cond, Leaf):
        plan = plans[id(cond)]
        return plan.negative if negate else plan.positive
    if cond.kind == "not":
        return translate(cond.children[0], plans, not negate)
    parts = [translate(child, plans, negate) for child in cond.children]
    conjunction = (cond.kind == "all") != negate
    return all_of(parts) if conjunction else any_of(parts)


# ------------------------------------------------- the stack of error 303


def stack_depth(expr: Json) -> int:
    """The most tests durable_rules can hold on its stack for one fact matching ``expr``.

    durable_rules turns a condition into a tree of tests: ``$and`` is a chain,
    ``$or`` branches and every branch continues with the rest of the chain. It
    walks the tree depth first, pushing every matching child of a test before
    visiting them; this is that walk when every test matches.
    """
    return _depth([[expr]])


def _depth(alternatives: list[list[Json]]) -> int:
    """Depth for a forest given as alternative sequences of expressions."""
    forest: list[tuple[Json, list[list[Json]]]] = []
    for seq in alternatives:
        forest.extend(_heads(seq))
    if not forest:
        return 0
    deepest = max(_depth(rest) for _, rest in forest)
    return max(len(forest), len(forest) - 1 + deepest)


def _heads(seq: list[Json]) -> list[tuple[Json, list[list[Json]]]]:
    """The first tests of a sequence, each with what follows it."""
    if not seq:
        return []
    first, rest = seq[0], seq[1:]
    if "$and" in first:
        return _heads(list(first["$and"]) + rest)
    if "$or" in first:
        out: list[tuple[Json, list[list[Json]]]] = []
        for alt in first["$or"]:
            out.extend(_heads([alt, *rest]))
        return out
    return [(first, [rest] if rest else [])]


def sequence_length(expr: Json) -> int:
    """Entries durable_rules keeps for one fact's condition (error 113 at 32).

    Every ``$and`` and ``$or`` takes two (its start and end), every comparison
    with another property (``{"$m": name}``) one.
    """
    total = 0
    for key, value in expr.items():
        if key in ("$and", "$or"):
            total += 2 + sum(sequence_length(part) for part in value)
        elif isinstance(value, dict) and any(
            isinstance(v, dict) and "$m" in v for v in value.values()
        ):
            total += 1
    return total


def has_div(value: Any) -> bool:
    if isinstance(value, dict):
        return "$div" in value or any(has_div(v) for v in value.values())
    if isinstance(value, list):
        return any(has_div(v) for v in value)
    return False
