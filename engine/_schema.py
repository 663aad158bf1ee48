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
from collections.abc import Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ._errors import Problem, did_you_mean
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
    """The most specific errors under an ``anyOf``/``oneOf``/``if`` failure."""
    if error.context:
        # keep the branch that got furthest into the document
        deepest = max(len(e.absolute_path) for e in error.context)
        for sub in error.context:
            if len(sub.absolute_path) == deepest:
                yield from _leaves(sub)
    else:
        yield error


def _describe(error: ValidationError) -> tuple[str, str, str | None]:
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
            f"'{key}' is not allowed here",
            did_you_mean(key, allowed)
            or (f"allowed keys: {', '.join(allowed)}" if allowed else None),
        )
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return "missing-key", f"the key '{missing}' is required here", hint
    if v == "enum":
        choices = [str(c) for c in error.validator_value]
        return (
            "bad-value",
            f"{inst!r} is not allowed; use one of {', '.join(choices)}",
            did_you_mean(str(inst), choices),
        )
    if v == "type":
        want = error.validator_value
        words = " or ".join(want) if isinstance(want, list) else str(want)
        sugg = hint
        if want == "string" and isinstance(inst, int | float):
            sugg = sugg or f"put quotes around it: '{inst}'"
        return "wrong-type", f"{inst!r} is a {_json_type(inst)}; expected {words}", sugg
    if v == "pattern":
        return (
            "bad-format",
            f"{inst!r} does not have the expected form",
            hint or f"it must match {error.validator_value}",
        )
    if v in ("minItems", "minProperties"):
        return "empty", "this must not be empty", hint
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return "out-of-range", f"{_shown(inst)} is out of range ({v} {error.validator_value})", hint
    if v == "const":
        return "bad-value", f"{inst!r} must be {error.validator_value!r}", hint
    if v == "maxLength":
        return "too-long", f"this text is longer than {error.validator_value} characters", hint
    return "schema", error.message, hint


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "mapping"
    return "null" if v is None else type(v).__name__


def schema_problems(
    name: str, data: Any, file: str | None, positions: Positions | None
) -> list[Problem]:
    """Every schema violation of ``data`` against the named schema, as problems."""
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for top in validator(name).iter_errors(data):
        for error in _leaves(top):
            code, message, suggestion = _describe(error)
            pointer = _pointer(error.absolute_path)
            if error.validator == "additionalProperties":
                extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
                for key in extra:
                    ptr = f"{pointer}/{escape_pointer(key)}"
                    pos = positions.of(ptr, key=True) if positions else None
                    c, m, s = (
                        "unknown-key",
                        f"'{key}' is not allowed here",
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
            if (pointer, message) in seen:
                continue
            seen.add((pointer, message))
            pos = positions.of(pointer) if positions else None
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


def _yaml_number(number: float) -> str:
    """How YAML writes a number JSON has no words for: .nan, .inf or -.inf."""
    if math.isnan(number):
        return ".nan"
    return ".inf" if number > 0 else "-.inf"


def _shown(value: Any) -> str:
    """A value as a message quotes it, with NaN and infinity written as in YAML."""
    if isinstance(value, float) and not math.isfinite(value):
        return _yaml_number(value)
    return repr(value)


def _json_safe(value: Any) -> Any:
    """A problem's value as JSON can hold it: no containers, no NaN or infinity."""
    if isinstance(value, dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return _yaml_number(value)
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
    written = _yaml_number(number)
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
