"""Fixtures for the batch tests: the policy and a writer of cohort files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from followup.engine import load_policy
from followup.engine.batch import PolicyRef
from tests.batch.batch_helpers import gen_cohort


@pytest.fixture(scope="session")
def policy_ref() -> PolicyRef:
    """The bundled default policy."""
    return PolicyRef()


@pytest.fixture(scope="session")
def policy() -> Any:
    return load_policy("interview-follow-up")


@pytest.fixture
def write_cohort(tmp_path: Path) -> Callable[..., Path]:
    """Write rows to ``tmp_path/name`` in the format its extension names."""

    def write(rows: list[dict[str, Any]], name: str) -> Path:
        path = tmp_path / name
        gen_cohort.write(iter(rows), str(path))
        return path

    return write
