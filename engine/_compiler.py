"""Compiling a policy document into an immutable, evaluable form.

Compilation runs once per policy load: it checks everything the schema cannot
(names, types, dependencies, conflicts), reports every problem together, and
builds closures for conditions and actions plus the order in which rules are
matched. Evaluation never re-validates anything.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from . import _calendar as cal
from ._conditions import (
    Condition,
    ConditionEnv,
    ConditionError,
    check_without_unit,
    compile_condition,
)
from ._errors import Problem, did_you_mean, show_value
from ._expr import (
    CalendarDef,
    Compiled,
    Env,
    ExprError,
    _type_words,
    compile_node,
    describe_error,
    parse,
)
from ._facts import ACTIONS, CHANNELS, FACTS, read_fact
from ._yaml import Positions, escape_pointer, pointer_under

__all__ = [
    "Caution",
    "CompiledPolicy",
    "CompiledRule",
    "Recommend",
    "SetFact",
    "Table",
    "compile_policy",
]

Facts = Mapping[str, Any]

#: fact kinds -> expression types
_KIND_TYPES = {
    "string": "text",
    "enum": "text",
    "timezone": "text",
    "country": "text",
    "date": "moment",
    "datetime": "moment",
    "bool": "bool",
    "int": "number",
    "list": "list",
}
#: declared derived types (policy words) -> expression types
_DERIVED_TYPES = {"date": "moment", "number": "number", "text": "text", "bool": "bool"}


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    type: str
    rows: Mapping[str, Any]
    default: Any
    has_default: bool

    def lookup(self, key: Any) -> Any:
        if key in self.rows:
            return self.rows[key]
        return self.default if self.has_default else None


@dataclass(frozen=True)
class SetFact:
    fact: str
    fn: Callable[[Facts], Any]
    reads: frozenset[str]
    source: str
    pointer: str
    #: the facts it reads, sorted: recorded with the value for auditors
    inputs: tuple[str, ...] = field(repr=False, compare=False)
    kind = "set"


def _set_fact(
    fact: str, fn: Callable[[Facts], Any], reads: frozenset[str], source: str, pointer: str
) -> SetFact:
    return SetFact(fact, fn, reads, source, pointer, tuple(sorted(reads)))


@dataclass(frozen=True)
class Recommend:
    action: str
    earliest: Compiled | None
    latest: Compiled | None
    channel: Callable[[Facts], Any] | None
    template: str | None
    message: str
    done_when: str | None
    reads: frozenset[str]
    pointer: str
    kind = "recommend"


@dataclass(frozen=True)
class Caution:
    id: str
    message: str
    pointer: str
    reads: frozenset[str] = frozenset()
    kind = "caution"


Action = SetFact | Recommend | Caution


@dataclass(frozen=True)
class CompiledRule:
    id: str
    title: str
    description: str
    cite: tuple[str, ...]
    salience: int
    when: Condition | None
    actions: tuple[Action, ...]
    reads: frozenset[str]
    writes: frozenset[str]
    index: int  # position in the file, for messages only
    pointer: str
    explain: str | None


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything evaluation needs, frozen."""

    meta: Mapping[str, Any]
    parameters: Mapping[str, int | float]
    tables: Mapping[str, Table]
    calendars: Mapping[str, CalendarDef]
    derived: Mapping[str, Mapping[str, Any]]
    templates: Mapping[str, Mapping[str, Any]]
    rules: tuple[CompiledRule, ...]  # in schedule (match) order
    writers: Mapping[str, tuple[str, ...]]  # derived fact -> rule ids, highest salience first
    #: what evaluation keeps between calls (the agenda's memos): not part of the policy
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class _Collector:
    def __init__(self, file: str | None, positions: Positions | None) -> None:
        self.file = file
        self.positions = positions
        self.problems: list[Problem] = []

    def add(
        self,
        code: str,
        pointer: str,
        message: str,
        suggestion: str | None = None,
        value: Any = None,
        key: bool = False,
        offset: int | None = None,
    ) -> None:
        pos = self.positions.of(pointer, key=key) if self.positions else None
        line, col = pos if pos else (None, None)
        if offset and col is not None:
            col += offset
        self.problems.append(
            Problem(code, message, pointer, self.file, line, col, suggestion, value)
        )

    def from_condition(self, exc: ConditionError) -> None:
        self.add(exc.code, exc.pointer, exc.message, exc.suggestion, exc.value)


def _caution_clashes(rules: list[CompiledRule], out: _Collector) -> None:
    """One caution id, one message: a decision (and a test) names cautions by id,
    so two rules giving the same id with different words could not be told apart."""
    first: dict[str, tuple[str, Caution]] = {}
    for rule in rules:
        for action in rule.actions:
            if not isinstance(action, Caution):
                continue
            seen = first.setdefault(action.id, (rule.id, action))
            if seen[1].message != action.message:
                out.add(
                    "caution-id-reused",
                    f"{action.pointer}/id",
                    f"the caution id '{action.id}' is already used by rule {seen[0]} with "
                    "another message",
                    "give this caution an id of its own, or the same message",
                    action.id,
                )


#: anything in braces in a template or an ``explain:`` sentence: a {placeholder}
#: or, when it is not a name (``{ role }``, ``{job-title}``), a mistake that
#: would reach the text as it is written
_BRACES = re.compile(r"\{([^{}]*)\}")


def _placeholder_fix(name: str, allowed: Iterable[str]) -> str | None:
    """A fix for a {placeholder} that names nothing: the name it is closest to."""
    if name.strip() != name and name.strip() in allowed:
        return f"write it without spaces inside the braces: {{{name.strip()}}}"
    return did_you_mean(name.strip(), sorted(allowed))


def _template_placeholders(
    templates: Mapping[str, Mapping[str, Any]],
    fact_types: Mapping[str, str],
    params: Mapping[str, Any],
    out: _Collector,
) -> None:
    """A template's {placeholders} name facts (or params.NAME): the candidate
    fills them in, so a misspelt one would reach the message as it is."""
    allowed = [*fact_types, *(f"params.{p}" for p in params)]
    for tid, spec in templates.items():
        for part in ("subject", "body"):
            text = spec.get(part)
            if not isinstance(text, str):
                continue
            for name in dict.fromkeys(_BRACES.findall(text)):
                if name in fact_types or name in allowed:
                    continue
                hint = _placeholder_fix(name, allowed)
                out.add(
                    "unknown-placeholder",
                    f"/templates/{tid}/{part}",
                    f"template {tid}: {{{name}}} in its {part} is not a fact of the policy",
                    hint
                    or "use a fact's name in braces, e.g. {role}, or write [words in "
                    "square brackets] for the candidate to fill in",
                    name,
                )


def _mentions(raws: list[Any]) -> frozenset[str]:
    """Every name-like word in the given raw rules (keys, values, expressions)."""
    words: set[str] = set()
    for raw in raws:
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", json.dumps(raw, default=str)))
    return frozenset(words)


def compile_policy(
    doc: Mapping[str, Any],
    file: str | None,
    positions: Positions | None,
    skip_rules: frozenset[int] = frozenset(),
    broken_at: frozenset[str] = frozenset(),
) -> tuple[CompiledPolicy | None, list[Problem]]:
    """Check and compile a schema-valid policy document.

    Args:
        skip_rules: indexes of rules already found invalid (by the schema):
            left out, so that the mistakes of the other rules are found too.
        broken_at: the pointers of those schema problems; the conditions and
            actions of a skipped rule away from them are still checked.

    Returns:
        (compiled policy, []) or (None, every problem found).
    """
    out = _Collector(file, positions)
    doc = _interned(doc)
    meta = doc["policy"]

    params: dict[str, int | float] = {
        name: spec["value"] for name, spec in doc.get("parameters", {}).items()
    }
    for name, spec in doc.get("parameters", {}).items():
        if spec["value"] < 0:
            unit = spec.get("unit")
            out.add(
                "negative-parameter",
                f"/parameters/{name}/value",
                f"the parameter '{name}' is {spec['value']}"
                + (f" {unit.replace('_', ' ')}" if unit else "")
                + "; a number of days, hours or messages is never below 0",
                "give the size as a positive number and subtract it where it is used, "
                f"e.g. 'deadline - params.{name} days'",
                spec["value"],
            )
    derived_decl: dict[str, dict[str, Any]] = dict(doc.get("derived", {}))
    for name in derived_decl:
        if name in FACTS:
            out.add(
                "derived-shadows-input",
                f"/derived/{name}",
                f"'{name}' is an input fact; a derived fact needs a name of its own",
                f"rename it, e.g. '{name}_derived'",
                key=True,
            )

    fact_types: dict[str, str] = {n: _KIND_TYPES[s.kind] for n, s in FACTS.items()}
    choices: dict[str, tuple[str, ...]] = {n: s.choices for n, s in FACTS.items() if s.choices}
    for name, spec in derived_decl.items():
        if name not in FACTS:
            fact_types[name] = _DERIVED_TYPES[spec["type"]]
            if spec.get("choices") and spec["type"] != "text":
                # values to choose from are words: on a number or a date they
                # would be checked in some places and not in others
                out.add(
                    "choices-not-text",
                    f"/derived/{escape_pointer(name)}/choices",
                    f"'{name}' is declared as type: {spec['type']}, but only text facts can "
                    "have choices",
                    "remove 'choices', or declare the fact as type: text",
                    key=True,
                )
            elif spec.get("choices"):
                choices[name] = tuple(spec["choices"])

    tables = _tables(doc.get("tables", {}), fact_types, choices, out)
    calendars = _calendars(doc.get("calendars", {}), choices, out)
    templates: dict[str, Mapping[str, Any]] = {
        k: MappingProxyType(dict(v)) for k, v in doc.get("templates", {}).items()
    }

    units = {
        n: str(spec["unit"]) for n, spec in doc.get("parameters", {}).items() if "unit" in spec
    }
    env = Env(
        MappingProxyType(fact_types),
        MappingProxyType(params),
        MappingProxyType(calendars),
        param_units=MappingProxyType(units),
    )
    cenv = ConditionEnv(env, choices)

    rules: list[CompiledRule] = []
    failed: list[Any] = []  # rules that did not compile: what they use is not known exactly
    seen_ids: dict[str, int] = {}
    for i, raw in enumerate(doc["rules"]):
        ptr = f"/rules/{i}"
        rid = raw.get("id") if isinstance(raw, dict) else None
        # (an id the schema found a mistake in is not compared: it is reported already)
        repeated = False
        if isinstance(rid, str) and not any(pointer_under(b, f"{ptr}/id") for b in broken_at):
            repeated = rid in seen_ids
            if repeated:
                out.add(
                    "duplicate-rule-id",
                    f"{ptr}/id",
                    f"the rule id '{rid}' is already used by rule {seen_ids[rid] + 1} "
                    f"(/rules/{seen_ids[rid]})",
                    "give every rule its own id",
                    rid,
                )
            else:
                seen_ids[rid] = i
        if i in skip_rules:
            failed.append(raw)
            _check_broken_rule(raw, ptr, cenv, tables, templates, derived_decl, out, broken_at)
            continue
        # a rule with a repeated id is checked all the same: its own mistakes are
        # reported now, not only once it is renamed
        rule = _rule(raw, i, ptr, cenv, tables, templates, derived_decl, out)
        if rule is not None and not repeated:
            rules.append(rule)
        else:
            failed.append(raw)
    _caution_clashes(rules, out)
    _template_placeholders(templates, fact_types, params, out)
    # a name a broken rule mentions may well be used there: saying it is unused
    # would send the author to delete it, when the fix is in that rule
    mentioned = _mentions(failed)

    for name in params:
        if name not in env.used_params and name not in mentioned:
            out.add(
                "parameter-unused",
                f"/parameters/{name}",
                f"the parameter '{name}' is not used by any rule",
                f"use it as params.{name} in a rule, or remove it",
                key=True,
            )

    _unused_parts(doc, env, mentioned, out)

    written = {f for r in rules for f in r.writes}
    read_anywhere = {f for r in rules for f in r.reads}
    for name in derived_decl:
        if name in FACTS or name in written or name in mentioned:
            continue
        if name in read_anywhere:
            out.add(
                "derived-never-written",
                f"/derived/{name}",
                f"the derived fact '{name}' is read by a rule but no rule sets it",
                f"add a rule with '- set: {{fact: {name}, ...}}', or stop reading it",
                key=True,
            )
        else:
            out.add(
                "derived-unused",
                f"/derived/{name}",
                f"the derived fact '{name}' is declared but no rule sets or reads it",
                "remove the declaration",
                key=True,
            )

    if skip_rules:  # the order and the readers of the others cannot be judged without them
        return None, out.problems
    schedule, writers = _schedule(rules, out)
    if out.problems:
        return None, out.problems
    return (
        CompiledPolicy(
            meta=MappingProxyType(dict(meta)),
            parameters=MappingProxyType(params),
            tables=MappingProxyType(tables),
            calendars=MappingProxyType(calendars),
            derived=MappingProxyType(
                {k: MappingProxyType(dict(v)) for k, v in derived_decl.items()}
            ),
            templates=MappingProxyType(templates),
            rules=tuple(schedule),
            writers=MappingProxyType(writers),
        ),
        [],
    )


def _unused_parts(
    doc: Mapping[str, Any], env: Env, mentioned: frozenset[str], out: _Collector
) -> None:
    """Tables, calendars and templates no rule uses: written, but without effect
    (a rule meant to use them names another, or was removed)."""
    tables: set[Any] = set()
    templates: set[Any] = set()
    for raw in doc["rules"]:
        then = raw.get("then") if isinstance(raw, Mapping) else None
        for item in then if isinstance(then, list) else ():
            body = item.get("set") if isinstance(item, Mapping) else None
            lookup = body.get("lookup") if isinstance(body, Mapping) else None
            if isinstance(lookup, Mapping) and isinstance(lookup.get("table"), str):
                tables.add(lookup["table"])
            body = item.get("recommend") if isinstance(item, Mapping) else None
            if isinstance(body, Mapping) and isinstance(body.get("template"), str):
                templates.add(body["template"])
    unused = [
        ("table", name, "a rule's '- set: {fact: NAME, lookup: {table: %s}}'")
        for name in doc.get("tables", {})
        if name not in tables
    ]
    unused += [
        ("calendar", name, "slowdown_days(%s, FROM, TO) in a rule's expression")
        for name in doc.get("calendars", {})
        if name not in env.used_calendars
    ]
    unused += [
        ("template", name, "'template: %s' in a rule's recommend")
        for name in doc.get("templates", {})
        if name not in templates
    ]
    # a rule that names a table, calendar or template that does not exist may
    # well mean an unused one: that rule is the place to fix, not the definition
    misnamed = {p.code.removeprefix("unknown-") for p in out.problems}
    for kind, name, use in unused:
        if name in mentioned or kind in misnamed:
            continue
        out.add(
            f"{kind}-unused",
            f"/{kind}s/{escape_pointer(name)}",
            f"the {kind} '{name}' is not used by any rule",
            f"use it with {use % name}, or remove it",
            key=True,
        )


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _interned(node: Any) -> Any:
    """The document with every name-like text as the one string object of that text.

    Facts are looked up by name on every decision; a dict compares keys by
    identity before comparing their characters, so names from the policy, the
    engine and the facts should be the same objects.
    """
    if isinstance(node, str):
        return sys.intern(node) if len(node) <= 64 and _NAME.fullmatch(node) else node
    if isinstance(node, dict):
        return {_interned(k): _interned(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_interned(v) for v in node]
    return node


#: what a table of each type holds, in words
_TABLE_WORDS = {"number": "numbers", "text": "text"}


def _value_words(value: Any) -> str:
    """What a plain value from the document is, in words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else "not a plain value"


def _tables(
    raw: Mapping[str, Any],
    fact_types: Mapping[str, str],
    choices: Mapping[str, tuple[str, ...]],
    out: _Collector,
) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for name, spec in raw.items():
        ptr = f"/tables/{name}"
        key = spec["key"]
        if key not in fact_types:
            out.add(
                "unknown-fact",
                f"{ptr}/key",
                f"the table key '{key}' is not a known fact",
                did_you_mean(key, fact_types),
                key,
            )
            # the table stays (its rows are checked, its uses are not told it is missing)
        want = spec["type"]

        def ok_type(v: Any, want: str = want) -> bool:
            if want == "number":
                return isinstance(v, int | float) and not isinstance(v, bool)
            return isinstance(v, str)

        for row_key, value in spec["rows"].items():
            if not ok_type(value):
                out.add(
                    "type-mismatch",
                    f"{ptr}/rows/{row_key}",
                    f"{show_value(value)} is {_value_words(value)}, but the table holds "
                    f"{_TABLE_WORDS[want]} (type: {want})",
                    value=value,
                )
            if key in choices and row_key not in choices[key]:
                out.add(
                    "unknown-value",
                    f"{ptr}/rows/{row_key}",
                    f"'{row_key}' is not a value {key} can take",
                    did_you_mean(row_key, choices[key]) or f"use one of {', '.join(choices[key])}",
                    row_key,
                    key=True,
                )
        has_default = "default" in spec
        if has_default and not ok_type(spec["default"]):
            out.add(
                "type-mismatch",
                f"{ptr}/default",
                f"the default {show_value(spec['default'])} is {_value_words(spec['default'])}, "
                f"but the table holds {_TABLE_WORDS[want]} (type: {want})",
            )
        if key in choices and not has_default:
            missing = [c for c in choices[key] if c not in spec["rows"]]
            if missing:
                out.add(
                    "table-incomplete",
                    f"{ptr}/rows",
                    f"the table has no row for {', '.join(missing)} and no default",
                    "add those rows or a 'default:'",
                )
        tables[name] = Table(
            name, key, want, MappingProxyType(dict(spec["rows"])), spec.get("default"), has_default
        )
    return tables


def _calendars(
    raw: Mapping[str, Any], choices: Mapping[str, tuple[str, ...]], out: _Collector
) -> dict[str, CalendarDef]:
    calendars: dict[str, CalendarDef] = {}
    for name, spec in raw.items():
        ptr = f"/calendars/{name}"
        match = spec.get("match_fact")
        if match is not None and match not in FACTS:
            out.add(
                "unknown-fact",
                f"{ptr}/match_fact",
                f"'{match}' is not an input fact",
                did_you_mean(match, FACTS),
            )
            # the calendar stays without it: its uses are not told it is missing
            match, unknown_match = None, True
        else:
            unknown_match = False
        windows: list[cal.SlowdownWindow] = []
        ids: dict[str, int] = {}
        for i, w in enumerate(spec["windows"]):
            wptr = f"{ptr}/windows/{i}"
            if w["id"] in ids:
                out.add(
                    "duplicate-window-id",
                    f"{wptr}/id",
                    f"the window id '{w['id']}' is already used by window {ids[w['id']] + 1} "
                    f"of the calendar '{name}'",
                    "give every window its own id",
                    w["id"],
                )
            ids.setdefault(w["id"], i)
            ends: list[tuple[int, int]] = []
            for end in ("from", "to"):
                m = _MONTH_DAY.match(str(w[end]))
                md = (int(m.group(1)), int(m.group(2))) if m else None
                try:
                    if md is None:
                        raise ValueError
                    date(2000, *md)
                except ValueError:
                    out.add(
                        "bad-month-day",
                        f"{wptr}/{end}",
                        f"{show_value(w[end])} is not a day of the year",
                        "write it as MM-DD in quotes, e.g. '12-24'",
                        w[end],
                    )
                    continue
                ends.append(md)
            applies = w.get("applies_to")
            if applies is not None:
                if match is None and not unknown_match:
                    out.add(
                        "bad-calendar",
                        f"{wptr}/applies_to",
                        "'applies_to' needs the calendar's 'match_fact'",
                    )
                elif match in choices:
                    for j, v in enumerate(applies):
                        if v not in choices[match]:
                            out.add(
                                "unknown-value",
                                f"{wptr}/applies_to/{j}",
                                f"'{v}' is not a value {match} can take",
                                did_you_mean(v, choices[match]),
                                v,
                            )
            if len(ends) == 2:
                windows.append(
                    cal.SlowdownWindow(
                        w["id"],
                        ends[0],
                        ends[1],
                        w["extra_days"],
                        frozenset(applies) if applies is not None else None,
                    )
                )
        calendars[name] = CalendarDef(name, match, tuple(windows))
    return calendars


def _expr(source: Any, env: Env, pointer: str, out: _Collector) -> Compiled | None:
    try:
        return compile_node(parse(source), env, str(source))
    except ExprError as exc:
        out.add(exc.code, pointer, describe_error(source, exc), exc.suggestion, source, offset=None)
        return None


def _rule(
    raw: Mapping[str, Any],
    index: int,
    ptr: str,
    cenv: ConditionEnv,
    tables: Mapping[str, Table],
    templates: Mapping[str, Any],
    derived_decl: Mapping[str, Any],
    out: _Collector,
) -> CompiledRule | None:
    env = cenv.expr
    before = len(out.problems)
    _check_explains(raw, ptr, env, out)
    when: Condition | None = None
    if "when" in raw:
        errors: list[ConditionError] = []
        when = compile_condition(raw["when"], cenv, f"{ptr}/when", errors)
        for e in errors:
            out.from_condition(e)
    actions: list[Action] = []
    sets: dict[str, int] = {}  # fact -> the item of 'then' that sets it first
    for j, item in enumerate(raw["then"]):
        aptr = f"{ptr}/then/{j}"
        ((kind, body),) = item.items()
        if kind == "set":
            fact = body["fact"]
            if fact in sets:
                # the rule's last value would silently replace the first
                out.add(
                    "set-twice",
                    f"{aptr}/set/fact",
                    f"rule '{raw['id']}' sets '{fact}' twice (items {sets[fact] + 1} and {j + 1} "
                    "of 'then'); only the last value would be kept",
                    "keep one of them; for another value under other conditions, write "
                    "another rule with its own 'when' and salience",
                    fact,
                )
                continue
            sets[fact] = j
            a = _set(body, f"{aptr}/set", env, tables, derived_decl, out)
            if a is not None:
                actions.append(a)
        elif kind == "recommend":
            r = _recommend(body, f"{aptr}/recommend", env, cenv, templates, out)
            if r is not None:
                actions.append(r)
        else:
            actions.append(Caution(body["id"], body["message"], f"{aptr}/caution"))
    if len(out.problems) != before:
        return None
    reads = frozenset(when.reads if when else ()) | frozenset().union(*(a.reads for a in actions))
    writes = frozenset(a.fact for a in actions if isinstance(a, SetFact))
    return CompiledRule(
        id=raw["id"],
        title=raw["title"],
        description=raw.get("description", ""),
        cite=tuple(raw["cite"]),
        salience=raw.get("salience", 0),
        when=when,
        actions=tuple(actions),
        reads=reads,
        writes=writes,
        index=index,
        pointer=ptr,
        explain=raw.get("explain"),
    )


def _check_broken_rule(
    raw: Any,
    ptr: str,
    cenv: ConditionEnv,
    tables: Mapping[str, Table],
    templates: Mapping[str, Any],
    derived_decl: Mapping[str, Any],
    out: _Collector,
    broken_at: frozenset[str],
) -> None:
    """The mistakes in the parts of a rule the schema found nothing wrong with
    (an unknown fact in one condition, when another condition has a typo in a
    key): a rule's mistakes are reported together, as the policy's are."""

    def clean(pointer: str) -> bool:
        return not any(pointer_under(b, pointer) for b in broken_at)

    def walk(cond: Any, pointer: str) -> None:
        if clean(pointer):
            errors: list[ConditionError] = []
            compile_condition(cond, cenv, pointer, errors)
            for e in errors:
                out.from_condition(e)
            return
        if isinstance(cond, dict) and _only_unit_broken(cond, pointer, broken_at):
            # a test whose unit is wrong: what else it names is checked all the same
            errors = []
            check_without_unit(cond, cenv, pointer, errors)
            for e in errors:
                out.from_condition(e)
            return
        if pointer in broken_at or not isinstance(cond, dict) or len(cond) != 1:
            return  # the group itself is wrong: its parts cannot be told apart
        ((group, items),) = cond.items()
        if f"{pointer}/{group}" in broken_at:
            return
        if group == "not":
            walk(items, f"{pointer}/not")
        elif group in ("all", "any") and isinstance(items, list):
            for i, item in enumerate(items):
                walk(item, f"{pointer}/{group}/{i}")

    if not isinstance(raw, dict):
        return
    if "when" in raw:
        walk(raw["when"], f"{ptr}/when")
    then = raw.get("then")
    for j, item in enumerate(then if isinstance(then, list) else ()):
        aptr = f"{ptr}/then/{j}"
        if not clean(aptr) or not isinstance(item, dict):
            continue
        if "set" in item:
            _set(item["set"], f"{aptr}/set", cenv.expr, tables, derived_decl, out)
        elif "recommend" in item:
            _recommend(item["recommend"], f"{aptr}/recommend", cenv.expr, cenv, templates, out)


def _only_unit_broken(cond: Mapping[str, Any], pointer: str, broken_at: frozenset[str]) -> bool:
    """Whether the only mistake found in a test is its 'unit'."""
    if any(group in cond for group in ("all", "any", "not")):
        return False
    inside = [b for b in broken_at if pointer_under(b, pointer)]
    return bool(inside) and all(b == f"{pointer}/unit" for b in inside)


def _check_explains(raw: Mapping[str, Any], ptr: str, env: Env, out: _Collector) -> None:
    """Every ``{placeholder}`` of an ``explain:`` sentence must name something real."""

    def check(text: Any, pointer: str, in_condition: bool) -> None:
        if not isinstance(text, str):
            return
        allowed = set(env.fact_types) | {f"params.{p}" for p in env.params}
        if in_condition:
            allowed |= {"left", "right", "result"}
        for name in dict.fromkeys(_BRACES.findall(text)):
            if name not in allowed:
                out.add(
                    "unknown-placeholder",
                    pointer,
                    f"'{{{name}}}' is not a placeholder an explanation can fill",
                    _placeholder_fix(name, allowed)
                    or "use {left}, {right} or {result} in a condition, a fact name, or {params.NAME}",
                    name,
                )

    def walk(cond: Any, pointer: str) -> None:
        if not isinstance(cond, dict):
            return
        check(cond.get("explain"), f"{pointer}/explain", True)
        for group in ("all", "any"):
            for i, child in enumerate(cond.get(group) or ()):
                walk(child, f"{pointer}/{group}/{i}")
        if "not" in cond:
            walk(cond["not"], f"{pointer}/not")

    check(raw.get("explain"), f"{ptr}/explain", False)
    if "when" in raw:
        walk(raw["when"], f"{ptr}/when")


def _set(
    body: Mapping[str, Any],
    ptr: str,
    env: Env,
    tables: Mapping[str, Table],
    derived_decl: Mapping[str, Any],
    out: _Collector,
) -> SetFact | None:
    fact = body["fact"]
    if fact in FACTS:
        out.add(
            "sets-input-fact",
            f"{ptr}/fact",
            f"'{fact}' is an input fact; rules may only set derived facts",
            f"declare a derived fact (e.g. '{fact}_effective') under 'derived:' and set that",
            fact,
        )
        return None
    if fact not in derived_decl:
        out.add(
            "unknown-fact",
            f"{ptr}/fact",
            f"'{fact}' is not a declared derived fact",
            did_you_mean(fact, list(derived_decl)) or "declare it under 'derived:' with its type",
            fact,
        )
        return None
    want = env.fact_types[fact]
    allowed = derived_decl[fact].get("choices")
    if "value" in body:
        value = body["value"]
        if isinstance(value, str) and value.startswith("$"):
            c = _expr(value[1:], env, f"{ptr}/value", out)
            if c is None:
                return None
            if c.type != want:
                out.add(
                    "type-mismatch",
                    f"{ptr}/value",
                    f"'{value}' is {_type_words(c.type)} but '{fact}' is declared as "
                    f"{_type_words(want)}",
                    value=value,
                )
                return None
            if allowed and not _within(value[1:].strip(), allowed, derived_decl):
                name = value[1:].strip()
                source = _choices_of(name, derived_decl)
                can_be = f"can be {', '.join(source)}" if source else "can be any text"
                out.add(
                    "unknown-value",
                    f"{ptr}/value",
                    f"'{value}' {can_be}, but '{fact}' may only be {', '.join(allowed)}",
                    f"set '{fact}' from a fact whose values are all among "
                    f"{', '.join(allowed)}, or to one of them",
                    value,
                )
                return None
            return _set_fact(fact, c.fn, c.reads, value, ptr)
        got = (
            "bool"
            if isinstance(value, bool)
            else "number"
            if isinstance(value, int | float)
            else "text"
        )
        if got != want:
            out.add(
                "type-mismatch",
                f"{ptr}/value",
                f"{show_value(value)} is {_type_words(got)} but '{fact}' is declared as "
                f"{_type_words(want)}",
                f"write it as an expression: 'expr: {value}'"
                if want == "moment" and isinstance(value, str)
                else None,
                value=value,
            )
            return None
        if allowed and value not in allowed:
            out.add(
                "unknown-value",
                f"{ptr}/value",
                f"{show_value(value)} is not one of the values declared for '{fact}' "
                f"({', '.join(allowed)})",
                did_you_mean(str(value), allowed),
                value,
            )
            return None
        return _set_fact(fact, lambda f: value, frozenset(), repr(value), ptr)
    if "expr" in body:
        c = _expr(body["expr"], env, f"{ptr}/expr", out)
        if c is None:
            return None
        if c.type != want:
            out.add(
                "type-mismatch",
                f"{ptr}/expr",
                f"'{body['expr']}' gives {_type_words(c.type)} but '{fact}' is declared as "
                f"{_type_words(want)}",
                "add a unit to turn a number into a span (e.g. '+ 7 days')"
                if c.type == "number" and want == "moment"
                else None,
            )
            return None
        return _set_fact(fact, c.fn, c.reads, str(body["expr"]), ptr)
    lookup = body["lookup"]
    tname = lookup["table"]
    if tname not in tables:
        out.add(
            "unknown-table",
            f"{ptr}/lookup/table",
            f"'{tname}' is not a table of this policy",
            did_you_mean(tname, tables),
            tname,
        )
        return None
    table = tables[tname]
    if table.type != want:
        out.add(
            "type-mismatch",
            f"{ptr}/lookup",
            f"table '{tname}' holds {_TABLE_WORDS[table.type]} but '{fact}' is declared as "
            f"{_type_words(want)}",
        )
        return None
    key = table.key
    return _set_fact(
        fact, lambda f: table.lookup(read_fact(f, key)), frozenset({key}), f"{tname}[{key}]", ptr
    )


def _choices_of(name: str, derived_decl: Mapping[str, Any]) -> tuple[str, ...]:
    """The values a fact can take, or () when it is free."""
    if name in FACTS:
        return FACTS[name].choices
    spec = derived_decl.get(name)
    return tuple(spec.get("choices") or ()) if isinstance(spec, Mapping) else ()


def _within(name: str, allowed: Any, derived_decl: Mapping[str, Any]) -> bool:
    """Whether every value the fact ``name`` can take is among ``allowed``."""
    source = _choices_of(name, derived_decl)
    return bool(source) and set(source) <= set(allowed)


def _recommend(
    body: Mapping[str, Any],
    ptr: str,
    env: Env,
    cenv: ConditionEnv,
    templates: Mapping[str, Any],
    out: _Collector,
) -> Recommend | None:
    ok = True
    times: dict[str, Compiled | None] = {"earliest": None, "latest": None}
    for key in times:
        if key in body:
            c = _expr(body[key], env, f"{ptr}/{key}", out)
            if c is None:
                ok = False
            elif c.type != "moment":
                out.add(
                    "type-mismatch",
                    f"{ptr}/{key}",
                    f"'{body[key]}' is {_type_words(c.type)}, not a date",
                    value=body[key],
                )
                ok = False
            else:
                times[key] = c
    channel: Callable[[Facts], Any] | None = None
    reads: set[str] = set()
    if "channel" in body:
        raw = body["channel"]
        if isinstance(raw, str) and raw.startswith("$"):
            name = raw[1:]
            opts = cenv.choices.get(name)
            if name not in env.fact_types:
                out.add(
                    "unknown-fact",
                    f"{ptr}/channel",
                    f"'{name}' is not a known fact",
                    did_you_mean(name, env.fact_types),
                    raw,
                )
                ok = False
            elif not opts or not set(opts) <= set(CHANNELS):
                out.add(
                    "type-mismatch",
                    f"{ptr}/channel",
                    f"'{name}' is not a channel fact (its values must be among {', '.join(CHANNELS)})",
                    "declare it with 'choices: [email, phone, linkedin]'",
                    raw,
                )
                ok = False
            else:
                channel = lambda f: read_fact(f, name)  # noqa: E731
                reads.add(name)
        else:
            channel = lambda f: raw  # noqa: E731
    template = body.get("template")
    if template is not None and template not in templates:
        out.add(
            "unknown-template",
            f"{ptr}/template",
            f"'{template}' is not a template of this policy",
            did_you_mean(template, templates) or "add it under 'templates:'",
            template,
        )
        ok = False
    done_when = body.get("done_when")
    if done_when is not None:
        if done_when not in env.fact_types:
            out.add(
                "unknown-fact",
                f"{ptr}/done_when",
                f"'{done_when}' is not a known fact",
                did_you_mean(done_when, env.fact_types),
                done_when,
            )
            ok = False
        else:
            reads.add(done_when)
    if body["action"] not in ACTIONS:  # pragma: no cover - the schema's enum catches it
        ok = False
    if not ok:
        return None
    for c in times.values():
        if c is not None:
            reads |= c.reads
    return Recommend(
        action=body["action"],
        earliest=times["earliest"],
        latest=times["latest"],
        channel=channel,
        template=template,
        message=body["message"],
        done_when=done_when,
        reads=frozenset(reads | {"as_of"}),
        pointer=ptr,
    )


def _schedule(
    rules: list[CompiledRule], out: _Collector
) -> tuple[list[CompiledRule], dict[str, tuple[str, ...]]]:
    """Order rules so each is matched after every rule that can write what it reads.

    Writers of one derived fact are ordered by salience (highest first) so the
    highest-salience writer that fires wins; equal salience is a conflict.
    Ties are broken by salience, then rule id: never by position in the file.
    """
    by_id = {r.id: r for r in rules}
    writers: dict[str, list[CompiledRule]] = {}
    for r in rules:
        for f in r.writes:
            writers.setdefault(f, []).append(r)
    edges: dict[str, set[str]] = {r.id: set() for r in rules}
    for fact, ws in writers.items():
        ws.sort(key=lambda r: (-r.salience, r.id))
        for a, b in itertools.pairwise(ws):
            if a.salience == b.salience:
                first, later = sorted((a, b), key=lambda r: r.index)
                out.add(
                    "conflicting-writers",
                    f"{later.pointer}/salience" if later.salience else later.pointer,
                    f"rules '{first.id}' and '{later.id}' both set '{fact}' at salience {a.salience}; which one wins would be arbitrary",
                    "give the rule that should win a higher salience",
                )
            edges[a.id].add(b.id)
    for r in rules:
        for f in r.reads:
            for w in writers.get(f, ()):
                if w.id == r.id:
                    out.add(
                        "dependency-cycle",
                        r.pointer,
                        f"rule '{r.id}' reads '{f}', which it sets itself",
                        "read the inputs of the value instead",
                    )
                else:
                    edges[w.id].add(r.id)
    indegree = {rid: 0 for rid in edges}
    for targets in edges.values():
        for t in targets:
            indegree[t] += 1
    heap = [(-by_id[rid].salience, rid) for rid, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    order: list[CompiledRule] = []
    while heap:
        _, rid = heapq.heappop(heap)
        order.append(by_id[rid])
        for t in sorted(edges[rid]):
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(heap, (-by_id[t].salience, t))
    if len(order) != len(rules):
        stuck = sorted(rid for rid, d in indegree.items() if d > 0)
        cycle = _find_cycle(stuck, edges)
        first = by_id[cycle[0]]
        out.add(
            "dependency-cycle",
            first.pointer,
            "these rules depend on each other in a circle: " + " -> ".join([*cycle, cycle[0]]),
            "break the circle: one of them must not read what another of them sets",
        )
    return order, {f: tuple(w.id for w in ws) for f, ws in writers.items()}


def _find_cycle(stuck: list[str], edges: Mapping[str, set[str]]) -> list[str]:
    stuck_set = set(stuck)
    start = stuck[0]
    path: list[str] = [start]
    seen = {start: 0}
    node = start
    while True:
        nxt = sorted(t for t in edges[node] if t in stuck_set)
        if not nxt:  # pragma: no cover - every stuck node has a stuck successor
            return path
        node = nxt[0]
        if node in seen:
            return path[seen[node] :]
        seen[node] = len(path)
        path.append(node)
