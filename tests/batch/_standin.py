"""A tiny stand-in policy used when the bundled policy cannot be loaded.

It validates facts with the real vocabulary (``normalize_facts``) and
recommends from two rules, so the batch machinery is tested on its own.
"""

from __future__ import annotations

from typing import Any

from followup.engine import Decision, normalize_facts


class StandInPolicy:
    name = "stand-in"
    version = "0.0.1"
    sha256 = "0" * 64

    def evaluate(self, facts: Any, as_of: Any = None, *, trace: str = "full") -> Decision:
        normal = normalize_facts(facts, default_as_of=as_of)
        recs = []
        fired = []
        if "thank_you_sent_at" not in normal:
            fired.append("thank-you")
            recs.append(
                {
                    "action": "send_thank_you",
                    "status": "due",
                    "earliest": str(normal["interview_at"])[:10],
                    "latest": None,
                    "channel": normal.get("preferred_channel", "email"),
                    "template": "t",
                    "rule": "thank-you",
                    "cite": "c",
                    "message": "=say thanks",
                }
            )
        fired.append("wait")
        recs.append(
            {
                "action": "wait",
                "status": "upcoming",
                "earliest": None,
                "latest": None,
                "channel": None,
                "template": None,
                "rule": "wait",
                "cite": "c",
                "message": "wait",
            }
        )
        data = {
            "applicant_id": normal.get("applicant_id"),
            "as_of": normal["as_of"].isoformat(),
            "policy": {"name": self.name, "version": self.version, "sha256": self.sha256},
            "recommendations": recs,
            "cautions": [],
            "derived": {},
            "trace": {
                "fired": [{"rule": r} for r in fired],
                "not_fired": [] if trace == "none" else ["x"],
            },
        }
        return Decision(data)


def load(name: str, version: str | None = None) -> StandInPolicy:
    return StandInPolicy()
