"""No input, however broken, makes the loaders raise: mistakes become problems."""

from __future__ import annotations

import random
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.engine import FactsError, PolicyError, load_policy, load_policy_text
from followup.engine._policy import bundled_policies_dir
from followup.engine._yaml import load_yaml

SOURCE = (bundled_policies_dir() / "interview-follow-up" / "1.0.0.yaml").read_text("utf-8")
POLICY = load_policy("interview-follow-up")

yaml_text = st.text(
    alphabet=st.sampled_from(list("ab:- \n\t{}[],'\"&*!|>#%@`?0123456789.")), max_size=120
)


@settings(max_examples=400, deadline=None)
@given(yaml_text)
def test_the_yaml_loader_turns_any_text_into_data_or_problems(text: str) -> None:
    doc = load_yaml(text, "fuzz.yaml")
    for p in doc.problems:
        assert p.file == "fuzz.yaml" and p.code and p.message
    if doc.problems:
        assert doc.data is None


def _mutate(doc: Any, rng: random.Random) -> Any:
    """Replace one value somewhere in the document by something of another kind."""
    path: list[Any] = []
    node = doc
    while isinstance(node, dict | list) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    replacement = rng.choice(
        [
            None,
            0,
            -1,
            1.5,
            True,
            "",
            "x",
            "industy",
            "interview_at + + 2",
            "G99",
            [],
            {},
            ["a"],
            {"k": "v"},
        ]
    )
    if not path:
        return replacement
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_a_damaged_policy_loads_or_reports_problems(seed: int) -> None:
    rng = random.Random(seed)
    doc = yaml.safe_load(SOURCE)
    for _ in range(rng.randint(1, 3)):
        doc = _mutate(doc, rng)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    try:
        load_policy_text(text, "damaged.yaml")
    except PolicyError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.code and p.message and p.file == "damaged.yaml"


value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-03-02",
            "2026-02-30",
            "9999-12-31",
            "0001-01-01",
            "2026-03-02T25:61",
            "GB",
            "finance",
        ]
    ),
    st.lists(st.text(max_size=4), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            sorted(POLICY.compiled.derived)
            + list(load_policy().compiled.rules[0].reads)
            + [
                "interview_at",
                "as_of",
                "industry",
                "stage",
                "country",
                "timezone",
                "stated_timeline_days",
                "stated_decision_by",
                "status_inquiries_sent",
                "promised_materials",
                "phone_ok",
                "unknown",
            ]
        ),
        value,
        max_size=8,
    )
)
def test_any_facts_give_a_decision_or_facts_problems(facts: dict[str, Any]) -> None:
    try:
        POLICY.evaluate(facts, as_of="2026-03-05", trace="full").to_bytes()
    except FactsError as exc:
        assert exc.problems
