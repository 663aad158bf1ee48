"""followup: explainable, auditable advice on following up after a job interview.

The public API lives in :mod:`followup.engine`; the most used names are
re-exported here.
"""

from followup.engine import (
    Decision,
    FactsError,
    FollowupError,
    Policy,
    PolicyError,
    PolicyNotFound,
    load_policy,
)
from followup.engine._policy import ENGINE_VERSION as __version__

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
