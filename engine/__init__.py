"""followup's engine: load a policy once, evaluate many interviews.

>>> from followup.engine import load_policy
>>> policy = load_policy("interview-follow-up")
>>> decision = policy.evaluate({"interview_at": "2026-03-02T10:00"}, as_of="2026-03-03")
>>> [r["action"] for r in decision.recommendations][:1]
['send_thank_you']
"""

from ._decision import Decision
from ._durable import BackendError, BackendUnavailable
from ._errors import FactsError, FollowupError, PolicyError, PolicyNotFound, Problem
from ._facts import (
    ACTIONS,
    CHANNELS,
    FACT_KINDS,
    FACTS,
    INDUSTRIES,
    STAGES,
    STATUSES,
    normalize_facts,
)
from ._policy import (
    ENGINE_VERSION,
    Policy,
    check_policy_file,
    find_policy,
    list_policy_files,
    load_policy,
    load_policy_text,
    policy_dirs,
)
from ._schema import load_schema

#: the modules every decision runs through: C extensions in the compiled build (setup.py)
HOT_MODULES = (
    "_agenda",
    "_calendar",
    "_compiler",
    "_conditions",
    "_decision",
    "_expr",
    "_facts",
    "_policy",
    "_rows",
)


def _build() -> str:
    import importlib

    files = [str(importlib.import_module(f"{__name__}.{m}").__file__) for m in HOT_MODULES]
    return "pure" if any(f.endswith(".py") for f in files) else "compiled"


#: "compiled" when the modules every decision runs through are C extensions built
#: by mypyc (see setup.py), "pure" when they run as Python; decisions are the same
BUILD = _build()

__all__ = [
    "ACTIONS",
    "BUILD",
    "CHANNELS",
    "ENGINE_VERSION",
    "FACTS",
    "FACT_KINDS",
    "HOT_MODULES",
    "INDUSTRIES",
    "STAGES",
    "STATUSES",
    "BackendError",
    "BackendUnavailable",
    "Decision",
    "FactsError",
    "FollowupError",
    "Policy",
    "PolicyError",
    "PolicyNotFound",
    "Problem",
    "check_policy_file",
    "find_policy",
    "list_policy_files",
    "load_policy",
    "load_policy_text",
    "load_schema",
    "normalize_facts",
    "policy_dirs",
]
