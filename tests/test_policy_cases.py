"""The bundled policies' YAML test cases, one pytest test per case."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from followup.engine import Policy, load_policy
from followup.engine._policy import bundled_policies_dir
from followup.engine._testing import PolicyCase, load_tests, run_case

TEST_FILES = sorted(bundled_policies_dir().glob("*/*.tests.yaml"))


def _cases() -> list[tuple[Path, PolicyCase]]:
    return [(path, case) for path in TEST_FILES for case in load_tests(path).cases]


def test_every_bundled_policy_has_tests() -> None:
    policies = sorted(
        p for p in bundled_policies_dir().glob("*/*.yaml") if not p.name.endswith(".tests.yaml")
    )
    assert policies
    for p in policies:
        assert p.with_name(p.stem + ".tests.yaml") in TEST_FILES, f"{p} has no tests"


@functools.cache
def _policy_for(path: Path) -> Policy:
    return load_policy(load_tests(path).policy_target())


@pytest.mark.parametrize(
    ("path", "case"), _cases(), ids=lambda v: v.name if isinstance(v, PolicyCase) else v.parent.name
)
def test_case(path: Path, case: PolicyCase) -> None:
    result = run_case(_policy_for(path), case)
    assert not result.problems, [p.render() for p in result.problems]
    assert not result.mismatches, "\n".join(
        f"{m.where}: {m.message}; expected {m.expected!r}, got {m.actual!r}"
        for m in result.mismatches
    )
