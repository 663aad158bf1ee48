"""The backends benchmark runs and finds the backends agreeing (a smoke test)."""

from __future__ import annotations

import importlib.util

from followup.engine import load_policy

from .helpers import ROOT, need_durable

need_durable()


def test_benchmark_measures_both_backends() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_backends", ROOT / "benchmarks" / "bench_backends.py"
    )
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.measure(load_policy(), n=60, trace="none", repeat=1)
    assert result["decisions_that_differ"] == 0
    assert result["native_per_s"] > 0
    assert result["durable_per_s"] > 0
    assert result["ratio_native_over_durable"] > 0
