"""The documentation's examples run: every operator holds and fails as the docs say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from followup.engine import load_policy_text
from followup.engine._conditions import OPERATORS

DOCS = Path(__file__).resolve().parent.parent / "docs"
LANGUAGE = (DOCS / "policy-language.md").read_text("utf-8")
BLOCK = re.compile(
    r"```yaml\n# facts: (?P<facts>[^\n]*)\n# (?P<verdict>holds|fails)\n(?P<body>.*?)```", re.S
)
EXAMPLES = [
    (m.group("facts"), m.group("verdict"), m.group("body")) for m in BLOCK.finditer(LANGUAGE)
]

POLICY = """
policy:
  name: doc-example
  version: "0.0.1"
  title: t
  description: d
  source: {{title: docs}}
  changelog: [{{version: "0.0.1", changes: [c]}}]
rules:
  - id: example
    title: t
    cite: [G1]
    when:
{when}
    then: [{{caution: {{id: held, message: m}}}}]
"""


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2 * len(OPERATORS)


def test_every_operator_is_documented_holding_and_failing() -> None:
    for name in OPERATORS:
        used = {verdict for _, verdict, body in EXAMPLES if re.search(rf"^{name}:", body, re.M)}
        assert used == {"holds", "fails"}, name


@pytest.mark.parametrize(
    ("facts", "verdict", "body"), EXAMPLES, ids=[f"{i}-{v}" for i, (_, v, _) in enumerate(EXAMPLES)]
)
def test_documented_example(facts: str, verdict: str, body: str) -> None:
    when = "\n".join("      " + line for line in body.strip().splitlines())
    policy = load_policy_text(POLICY.format(when=when), "doc-example.yaml")
    decision = policy.evaluate(yaml.safe_load(facts), as_of="2026-03-05").to_dict()
    held = [c["id"] for c in decision["cautions"]] == ["held"]
    assert held == (verdict == "holds"), decision["trace"]
