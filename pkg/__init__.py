"""followup: explainable, auditable advice on following up after a job interview.

The public API lives in :mod:`followup.engine`; the most used names are
re-exported here. They are imported when first used, so that the command line
(``followup._entry``) starts without loading the engine first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from followup.engine import (
        Decision,
        FactsError,
        FollowupError,
        Policy,
        PolicyError,
        PolicyNotFound,
        load_policy,
    )

__all__ = [
    "Decision",
    "FactsError",
    "FollowupError",
    "Policy",
    "PolicyError",
    "PolicyNotFound",
    "__version__",
    "load_policy",
]


def __getattr__(name: str) -> Any:
    """The re-exported names, imported from followup.engine on first use."""
    if name == "__version__":
        from followup.engine._policy import ENGINE_VERSION

        return ENGINE_VERSION
    if name in __all__:
        import followup.engine

        return getattr(followup.engine, name)
    raise AttributeError(f"module 'followup' has no attribute {name!r}")
