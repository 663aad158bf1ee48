"""What every worker needs to evaluate a chunk: small, frozen and picklable."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BatchJob", "Evaluator", "PolicyRef", "load_evaluator"]

TRACE_LEVELS = ("none", "fired", "full")
OUTPUT_FORMATS = ("jsonl", "csv")


#: Evaluating a row makes no reference cycles (tests/batch/test_pipeline.py
#: checks it), so reference counting frees every decision and the cyclic
#: collector only needs to run rarely; at its default thresholds it took about
#: an eighth of a worker's time, walking the memos and decisions still alive.
COLLECTOR_THRESHOLDS = (50_000, 20, 100)


class Decision(Protocol):
    """The parts of ``followup.engine.Decision`` the batch reads."""

    @property
    def applicant_id(self) -> str | None: ...

    @property
    def as_of(self) -> str: ...

    @property
    def recommendations(self) -> list[dict[str, Any]]: ...

    @property
    def cautions(self) -> list[dict[str, Any]]: ...

    @property
    def fired(self) -> list[str]: ...

    def view(self) -> Mapping[str, Any]:
        """The decision's content (``to_dict``'s shape), read-only and not copied."""
        ...

    def to_json(self) -> str: ...

    def to_bytes(self) -> bytes: ...


class Evaluator(Protocol):
    """The part of a compiled policy the batch uses."""

    name: str
    version: str
    sha256: str

    def evaluate(self, facts: Any, *, as_of: Any = None, trace: str = "fired") -> Decision: ...


@dataclass(frozen=True)
class PolicyRef:
    """How to load a policy again in another process.

    A compiled policy is never pickled: each worker calls ``factory(policy,
    version=version)`` once and keeps the result (one compile per worker).

    Attributes:
        policy: a bundled policy name or a path to a policy file.
        version: a version of a bundled policy, or None for the newest.
        factory: ``module:function`` that loads it (a stand-in in tests).
        policies_dir: extra folders searched for policies by name.
        backend: "native" or "durable"; each worker process builds its own
            durable_rules host.
    """

    policy: str = "interview-follow-up"
    version: str | None = None
    factory: str = "followup.engine:load_policy"
    policies_dir: tuple[str, ...] = ()
    backend: str = "native"


@dataclass(frozen=True)
class BatchJob:
    """Everything that decides the bytes of one row's output.

    Attributes:
        policy: which policy to evaluate.
        trace: "none", "fired" or "full".
        as_of: the default moment of evaluation (ISO text); a row's own
            ``as_of`` wins.
        output_format: "jsonl" or "csv".
    """

    policy: PolicyRef
    trace: str
    as_of: str
    output_format: str = "jsonl"


_CACHE: dict[PolicyRef, Evaluator] = {}


def load_evaluator(ref: PolicyRef) -> Evaluator:
    """Load (once per process) and return the policy ``ref`` names."""
    cached = _CACHE.get(ref)
    if cached is None:
        module_name, _, func_name = ref.factory.partition(":")
        factory = getattr(importlib.import_module(module_name), func_name)
        kwargs: dict[str, Any] = {"version": ref.version} if ref.version is not None else {}
        if ref.policies_dir:
            kwargs["policies_dir"] = ref.policies_dir
        if ref.backend != "native":
            kwargs["backend"] = ref.backend
        cached = factory(ref.policy, **kwargs)
        _CACHE[ref] = cached
    return cached
