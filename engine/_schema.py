"""JSON Schema validation with messages written for people.

The schemas in ``followup.schemas`` are the published contracts. Validation
errors become :class:`Problem` objects with the pointer of the offending value
and a sentence that says what is allowed. YAML can also write numbers that JSON
cannot (``.nan``, ``.inf``) and that JSON Schema's ``minimum``/``maximum`` let
through (NaN compares false with everything): those are reported here too.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ._errors import Problem, did_you_mean, show_value, yaml_number
from ._yaml import Positions, escape_pointer

__all__ = ["SCHEMA_NAMES", "load_schema", "schema_problems", "validator"]

SCHEMA_NAMES = ("policy", "facts", "decision", "tests")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The bundled JSON Schema ``<name>.schema.json``."""
    text = resources.files("followup.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _pointer(path: Any) -> str:
    return "".join("/" + escape_pointer(str(p)) for p in path)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The most specific errors under an ``anyOf``/``oneOf``/``if`` failure.

    Branches that want another type than the value has say nothing useful when
    another branch takes that type (a row ``finance: 99999999999`` is a number
    out of range, not text without quotes): only the branches of the value's
    type are kept. When no branch takes it, the error itself is the leaf, and
    ``_describe`` names every type the branches allow, once.
    """
    if error.context:
        wrong = _wrong_type_branches(error)
        fitting = [sub for sub in error.context if _branch(sub) not in wrong]
        if not fitting:
            yield error
            return
        # keep the branch that got furthest into the document
        deepest = max(len(e.absolute_path) for e in fitting)
        for sub in fitting:
            if len(sub.absolute_path) == deepest:
                yield from _leaves(sub)
    else:
        yield error


def _branch_types(error: ValidationError) -> list[str]:
    """Every type the branches of an ``anyOf``/``oneOf`` allow."""
    types: list[str] = []
    for sub in error.context or ():
        if sub.validator == "type":
            value = sub.validator_value
            types += value if isinstance(value, list) else [value]
    return types


def _branch(sub: ValidationError) -> Any:
    return sub.relative_schema_path[0] if sub.relative_schema_path else None


def _wrong_type_branches(error: ValidationError) -> set[Any]:
    """The branches of an ``anyOf``/``oneOf`` that want another type than the value's."""
    return {
        _branch(sub)
        for sub in error.context or ()
        if sub.validator == "type" and sub.absolute_path == error.absolute_path
    }


#: JSON Schema's types in words for coaches, with the schema's own word where
#: editors use it too ("Incorrect type. Expected array")
_WANTED = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list (array)",
    "object": "a set of keys (object)",
    "null": "nothing",
}


def _wanted(types: Any, *, schema_words: bool = True) -> str:
    """The types a place takes, in words ("a number or text")."""
    words = [_WANTED.get(t, str(t)) for t in (types if isinstance(types, list) else [types])]
    if not schema_words:
        words = [w.split(" (")[0] for w in words]
    return " or ".join(dict.fromkeys(words))


def _describe(error: ValidationError, root: dict[str, Any]) -> tuple[str, str, str | None]:
    """(code, message, suggestion) for one leaf error."""
    v = error.validator
    inst = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in inst if k not in allowed]
        key = extra[0] if extra else "?"
        return (
            "unknown-key",
            f"{show_value(key)} is not allowed here",
            did_you_mean(key, allowed)
            or (f"allowed keys: {', '.join(allowed)}" if allowed else None),
        )
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return "missing-key", f"the key '{missing}' is required here", hint
    if v in ("anyOf", "oneOf"):  # no branch takes the value's type (see _leaves)
        v, want = "type", _branch_types(error)
    else:
        want = error.validator_value
    if inst is None and v in ("type", "enum", "const"):
        expected = (
            _wanted(want)
            if v == "type"
            else f"one of {_choices(error.validator_value)}"
            if v == "enum"
            else show_value(error.validator_value)
        )
        return (
            "wrong-type" if v == "type" else "bad-value",
            f"{_field(error)} is empty; expected {expected}",
            hint or _what_goes_there(error, want if v == "type" else None, root),
        )
    if v == "enum":
        choices = [str(c) for c in error.validator_value]
        return (
            "bad-value",
            f"{show_value(inst)} is not allowed; use one of {_choices(error.validator_value)}",
            did_you_mean(str(inst), choices),
        )
    if v == "type":
        return (
            "wrong-type",
            f"{show_value(inst)} is {_a(inst)}; expected {_wanted(want)}",
            hint or _type_fix(inst, want),
        )
    if v == "pattern":
        return (
            "bad-format",
            f"{show_value(inst)} does not have the expected form",
            hint or f"it must match {error.validator_value}",
        )
    if v == "minItems" and isinstance(inst, list) and inst:
        n = error.validator_value
        exact = schema.get("maxItems") == n
        return (
            "too-few-items",
            f"{'exactly' if exact else 'at least'} {n} items are needed here, not {len(inst)}",
            hint
            or (
                "write both ends: [low, high]"
                if exact and n == 2 and _field(error) == "'between'"
                else None
            ),
        )
    if v in ("minItems", "minProperties"):
        return "empty", "this must not be empty", hint
    if v == "minLength":
        return "empty", "this text must not be empty", hint
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return (
            "out-of-range",
            f"{show_value(inst)} is out of range ({v} {show_value(error.validator_value)})",
            hint,
        )
    if v == "const":
        return (
            "bad-value",
            f"{show_value(inst)} must be {show_value(error.validator_value)}",
            hint,
        )
    if v == "maxLength":
        return "too-long", f"this text is longer than {error.validator_value} characters", hint
    if v == "maxProperties" and isinstance(inst, dict):
        n = error.validator_value
        return (
            "too-many-keys",
            f"at most {n} key{'s' if n != 1 else ''} can be written here, "
            f"not {len(inst)} ({', '.join(map(str, inst))})",
            hint or "keep one and move the others to their own item",
        )
    if v == "maxItems" and isinstance(inst, list):
        return (
            "too-many-items",
            f"at most {error.validator_value} items can be listed here, not {len(inst)}",
            hint,
        )
    return "schema", error.message, hint


def _choices(values: Any) -> str:
    return ", ".join(show_value(c, limit=40, quote=False) for c in values)


def _a(v: Any) -> str:
    """What a value is, in words."""
    if isinstance(v, bool):
        return "a true/false value"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a set of keys"
    return "empty" if v is None else "an unusual value"


def _type_fix(inst: Any, want: Any) -> str | None:
    """How to turn the value into the type the place wants, where that is clear."""
    wants = set(want) if isinstance(want, list) else {want}
    if wants == {"string"} and isinstance(inst, int | float) and not isinstance(inst, bool):
        return f"put quotes around it: '{show_value(inst)}'"
    if wants == {"string"} and isinstance(inst, bool):
        return f"put quotes around it if it is meant as text: '{show_value(inst)}'"
    if isinstance(inst, str) and wants & {"number", "integer"}:
        if re.fullmatch(r"\s*-?\d+,\d+\s*", inst):  # a decimal comma: 14,5
            return f"write a decimal point, not a comma: {inst.strip().replace(',', '.')}"
        try:
            float(inst)
        except ValueError:
            return None
        return f"remove the quotes: {inst.strip()}"
    if isinstance(inst, str | int | float) and not isinstance(inst, bool) and wants == {"array"}:
        return f"make it a list, even of one item: [{show_value(inst, quote=False)}]"
    if isinstance(inst, str) and "boolean" in wants:
        return "write true or false, without quotes"
    if isinstance(inst, dict) and "array" in wants:
        return "make it a list: start each item on its own line with '- '"
    if isinstance(inst, list) and "object" in wants:
        return "write its keys as 'key: value' lines, without '- ' in front"
    return None


def _field(error: ValidationError) -> str:
    """The place of an error in words: 'when', item 2 of 'cite', the document."""
    path = list(error.absolute_path)
    if not path:
        return "the document"
    if isinstance(path[-1], int):
        parent = f" of '{path[-2]}'" if len(path) > 1 else ""
        return f"item {path[-1] + 1}{parent}"
    return f"'{path[-1]}'"


def _what_goes_there(error: ValidationError, want: Any, root: dict[str, Any]) -> str | None:
    """A suggestion for an empty value: what to write there."""
    path = list(error.absolute_path)
    after = (
        "after the '- '"
        if path and isinstance(path[-1], int)
        else (f"after '{path[-1]}:'" if path else "in the file")
    )
    below = (
        f"on the lines below '{path[-1]}:'"
        if path and not isinstance(path[-1], int)
        else "below it"
    )
    wants = set(want) if isinstance(want, list) else {want}
    if wants == {"object"}:
        keys = _keys(error.schema, root)
        such = f", such as {', '.join(keys[:4])}" if keys else ""
        return f"write its keys {below}, indented further{such}"
    if wants == {"array"}:
        items = (
            _resolve(error.schema.get("items", {}), root) if isinstance(error.schema, dict) else {}
        )
        keys = _keys(items, root) if items.get("type") == "object" else []
        such = f"; each item has keys such as {', '.join(keys[:3])}" if keys else ""
        return f"write its items {below}, each starting with '- '{such}"
    if want is None:  # enum or const
        return f"write one of the allowed values {after}"
    return f"write {_wanted(want, schema_words=False)} {after}"


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """A schema with a local ``$ref`` (#/$defs/name) followed."""
    for _ in range(10):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = target
    return {}


def _keys(schema: Any, root: dict[str, Any]) -> list[str]:
    """The keys a mapping there may hold: required ones first, then the rest,
    following ``if``/``else`` chains (a condition is all, any, not or a test)."""
    keys: list[str] = []
    for _ in range(10):
        schema = _resolve(schema, root)
        if not schema:
            break
        keys += [*schema.get("required", ()), *schema.get("properties", {})]
        keys += _resolve(schema.get("if", {}), root).get("required", [])
        schema = schema.get("else")
    return list(dict.fromkeys(k for k in keys if isinstance(k, str)))


def schema_problems(
    name: str, data: Any, file: str | None, positions: Positions | None
) -> list[Problem]:
    """Every schema violation of ``data`` against the named schema, as problems."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    root = load_schema(name)
    for top in validator(name).iter_errors(data):
        for error in _leaves(top):
            code, message, suggestion = _describe(error, root)
            pointer = _pointer(error.absolute_path)
            if error.validator == "additionalProperties":
                extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
                for key in extra:
                    ptr = f"{pointer}/{escape_pointer(key)}"
                    pos = positions.of(ptr, key=True) if positions else None
                    c, m, s = (
                        "unknown-key",
                        f"{show_value(key)} is not allowed here",
                        did_you_mean(key, sorted(error.schema.get("properties", {}))),
                    )
                    if (ptr, m) not in seen:
                        seen.add((ptr, m))
                        problems.append(
                            Problem.at(
                                pos,
                                c,
                                m,
                                ptr,
                                file,
                                s or suggestion,
                                key,
                            )
                        )
                continue
            key_named = "propertyNames" in error.absolute_schema_path
            if key_named and isinstance(error.instance, str):
                # the mistake is a key of the mapping: point at it, not at the mapping
                pointer = f"{pointer}/{escape_pointer(error.instance)}"
            if (pointer, message) in seen:
                continue
            seen.add((pointer, message))
            pos = positions.of(pointer, key=key_named) if positions else None
            problems.append(
                Problem.at(
                    pos,
                    code,
                    message,
                    pointer,
                    file,
                    suggestion,
                    _json_safe(error.instance),
                )
            )
    reported = {p.pointer for p in problems}
    for pointer, number in _non_finite(data):
        if pointer not in reported:
            pos = positions.of(pointer) if positions else None
            problems.append(_non_finite_problem(pos, pointer, number, file))
    return sorted(problems, key=Problem.sort_key)


def _json_safe(value: Any) -> Any:
    """A problem's value as JSON can hold it: no containers, no NaN or infinity."""
    if isinstance(value, dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return yaml_number(value)
    return value


def _non_finite(data: Any) -> Iterator[tuple[str, float]]:
    """(pointer, number) of every NaN or infinite number in a document.

    Iterative, not recursive: the document may be as deep as the YAML limits allow.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield pointer, value
        elif isinstance(value, dict):
            stack.extend((f"{pointer}/{escape_pointer(str(k))}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(value))


def _non_finite_problem(
    pos: tuple[int, int] | None, pointer: str, number: float, file: str | None
) -> Problem:
    written = yaml_number(number)
    what = "means 'not a number'" if math.isnan(number) else "is infinite"
    return Problem.at(
        pos,
        "out-of-range",
        f"{written} {what}; only ordinary numbers can be used here",
        pointer,
        file,
        "write an ordinary number, such as 7",
        written,
    )
