"""Shared by the durable backend's tests: skipping, subprocesses, the cohort."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
OPERATORS = HERE / "policies" / "operators" / "1.0.0.yaml"
SKIP_REASON = (
    "durable-rules is not importable here: pip install 'followup[durable]' (Python < 3.13)"
)


def need_durable() -> ModuleType:
    """The durable_rules engine module, or skip the calling test module."""
    return pytest.importorskip("durable.engine", reason=SKIP_REASON)


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (for probes that crash or hang the process)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def _load_generator() -> ModuleType:
    name = "gen_cohort"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "gen_cohort.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cohort(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """The batch benchmark's generated applicants."""
    yield from _load_generator().cohort(n, seed)


COHORT_AS_OF = "2026-01-12"
