"""Helpers shared by the batch tests: the cohort generator, readers of outputs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-01-12"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_cohort", ROOT / "benchmarks" / "gen_cohort.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_cohort"] = module
    spec.loader.exec_module(module)
    return module


gen_cohort = _load_generator()


def cohort(n: int, seed: int = 7) -> list[dict[str, Any]]:
    return list(gen_cohort.cohort(n, seed))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_broken_cohort(path: Path, n: int, seed: int, every: int) -> Path:
    """A JSONL cohort of ``n`` rows in which every ``every``-th line is not JSON."""
    with path.open("w", encoding="utf-8") as fh:
        for i, facts in enumerate(cohort(n, seed=seed), 1):
            fh.write("{broken\n" if i % every == 0 else json.dumps(facts) + "\n")
    return path
