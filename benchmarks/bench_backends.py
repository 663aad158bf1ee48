"""Decisions per second of the native and durable backends, on one core, in one run.

Evaluates the same generated cohort (benchmarks/gen_cohort.py) with the
default policy on both backends, checks that every decision agrees, and
prints decisions/s for each and the ratio native/durable.

    python benchmarks/bench_backends.py                 # 5,000 applicants
    python benchmarks/bench_backends.py --n 20000 --trace none --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_cohort  # noqa: E402

from followup.engine import Decision, Policy, load_policy  # noqa: E402


def _pin_one_core() -> str:
    """Run on a single CPU so the figure is per core; returns what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _timed(
    evaluate: Callable[[dict[str, Any]], Decision], rows: list[dict[str, Any]]
) -> tuple[float, float, list[Decision]]:
    """CPU seconds and wall seconds of one pass, and its decisions. CPU time is
    what one core needs; on a shared machine the wall time also counts waits."""
    wall, cpu = time.perf_counter(), time.process_time()
    decisions = [evaluate(row) for row in rows]
    return time.process_time() - cpu, time.perf_counter() - wall, decisions


def measure(policy: Policy, n: int, trace: str, repeat: int) -> dict[str, Any]:
    """Decisions/s of both backends over ``n`` generated applicants."""
    from followup.engine import _durable

    rows = list(gen_cohort.cohort(n))
    as_of = gen_cohort.AS_OF.isoformat()
    _durable.program_for(policy)  # translate and register once, like loading does

    def native(row: dict[str, Any]) -> Decision:
        return policy.evaluate(row, as_of=as_of, trace=trace)

    def durable(row: dict[str, Any]) -> Decision:
        return _durable.evaluate(policy, row, as_of=as_of, trace=trace)

    for fn in (native, durable):  # warm caches (holidays, zones) outside the timing
        for row in rows[:200]:
            fn(row)
    # passes alternate between the backends so that a busy spell on a shared
    # machine does not fall on one of them only; the best pass counts
    best: dict[str, list[float]] = {"native": [math.inf, math.inf], "durable": [math.inf, math.inf]}
    last: dict[str, list[Decision]] = {}
    for _ in range(repeat):
        for name, fn in (("native", native), ("durable", durable)):
            # the native agenda memoises rule outcomes: a pass over rows it has
            # already seen would measure the memo, so every pass starts without it
            policy.compiled.cache.clear()
            cpu, wall, last[name] = _timed(fn, rows)
            best[name] = [min(best[name][0], cpu), min(best[name][1], wall)]
    native_rate, native_wall = n / best["native"][0], n / best["native"][1]
    durable_rate, durable_wall = n / best["durable"][0], n / best["durable"][1]
    a, b = last["native"], last["durable"]
    differ = sum(
        1
        for x, y in zip(a, b, strict=True)
        if x.to_json().replace('"backend":"native"', '"backend":"durable"', 1) != y.to_json()
    )
    return {
        "policy": f"{policy.name}@{policy.version}",
        "applicants": n,
        "trace": trace,
        "repeat": repeat,
        "native_per_s": round(native_rate),
        "durable_per_s": round(durable_rate),
        "native_per_wall_s": round(native_wall),
        "durable_per_wall_s": round(durable_wall),
        "ratio_native_over_durable": round(native_rate / durable_rate, 2),
        "decisions_that_differ": differ,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="applicants (default 5000)")
    parser.add_argument("--policy", default="interview-follow-up", help="policy name or path")
    parser.add_argument("--trace", default="full", choices=("full", "fired", "none"))
    parser.add_argument(
        "--repeat", type=int, default=3, help="passes per backend, alternating; the best counts"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    from followup.engine import BUILD, _durable

    if not _durable.available():
        sys.exit(_durable.INSTALL_HINT)
    pinned = _pin_one_core()
    result = measure(load_policy(args.policy), args.n, args.trace, args.repeat)
    result["cpu"] = pinned
    result["python"] = platform.python_version()
    result["build"] = BUILD
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['policy']}, {args.n} applicants, trace={args.trace}, "
            f"best of {args.repeat}, {pinned}; {BUILD} build"
        )
        print("  decisions per CPU-second (per wall second)")
        for name in ("native", "durable"):
            rate, wall = result[f"{name}_per_s"], result[f"{name}_per_wall_s"]
            print(f"  {name:<8} {rate:>7,} ({wall:,})")
        print(f"  native/durable: {result['ratio_native_over_durable']}x")
        print(f"  decisions that differ: {result['decisions_that_differ']}")
    if result["decisions_that_differ"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
