"""Benchmark `followup batch`: I/O floor, engine alone, end to end.

Prints in one run, for a deterministic cohort of --n applicants:

* the I/O floor: read + parse + serialise the same rows with no rule
  evaluation (the batch machinery with a policy that echoes the facts), one process;
* the engine alone on one core: decisions/s for trace none and fired
  (evaluate + canonical JSON, facts already parsed), the median of
  --engine-repeat measurements each, and their range;
* end to end `followup batch` with 1 and 2 workers: wall time, rows/s and
  peak RSS of the main process and of the largest worker.

    python benchmarks/bench_batch.py --n 1000000            # the documented figures
    python benchmarks/bench_batch.py --n 2000 --engine-n 500  # a quick check (CI)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_cohort  # noqa: E402

from followup.engine import BUILD, load_policy  # noqa: E402
from followup.engine.batch import BatchJob, BatchOptions, InputSpec, PolicyRef, run_batch  # noqa: E402
from followup.engine.batch._job import COLLECTOR_THRESHOLDS  # noqa: E402


class _Echo:
    """Stands in for a decision: serialises the facts it was given (as the engine
    does its decisions, with orjson) and has nothing to count."""

    _VIEW: Mapping[str, Any] = MappingProxyType(
        {"recommendations": (), "cautions": (), "trace": {"fired": ()}}
    )

    def __init__(self, facts: Any) -> None:
        self._facts = facts
        aid = facts.get("applicant_id")
        self.applicant_id = aid if isinstance(aid, str) else None
        self.as_of = ""
        self.recommendations: list[dict[str, Any]] = []
        self.cautions: list[dict[str, Any]] = []
        self.fired: list[str] = []

    def view(self) -> Mapping[str, Any]:
        return self._VIEW

    def to_bytes(self) -> bytes:
        return orjson.dumps(self._facts)

    def to_json(self) -> str:
        return self.to_bytes().decode("utf-8")


class NullPolicy:
    """A policy with no rules: what is left is reading, parsing and writing."""

    name, version, sha256 = "null", "0", "0" * 64

    def evaluate(self, facts: Any, *, as_of: Any = None, trace: str = "none") -> _Echo:
        return _Echo(facts)


def null_policy(name: str, version: str | None = None) -> NullPolicy:
    return NullPolicy()


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def io_floor(source: Path, out: Path, as_of: str) -> tuple[float, float, int]:
    """Wall and CPU seconds to read, parse and serialise every row, and the row count."""
    job = BatchJob(PolicyRef("null", None, "bench_batch:null_policy"), "none", as_of, "jsonl")
    start, cpu = time.perf_counter(), time.process_time()
    result = run_batch(
        InputSpec(str(source), "jsonl"), job, output=str(out), options=BatchOptions(workers=1)
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result.decided != result.read:  # else the floor timed error lines, not the rows
        raise SystemExit(f"I/O floor: only {result.decided} of {result.read} rows went through")
    return seconds, cpu, result.read


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.0f} MB" if path.exists() else "?"


def engine_alone(source: Path, n: int, as_of: str, repeat: int) -> dict[str, list[float]]:
    """Decisions/s of ``evaluate`` + canonical JSON, as a batch worker runs them.

    The engine memoises rule outcomes by the facts they read, so every figure is
    taken on rows it has not seen: a warm-up set first (as a long run would have
    had), then a different set of rows for each measurement. Each trace level is
    measured ``repeat`` times, the levels taking turns, so that a slow spell of
    the machine does not fall on one level only. The collector runs with the
    batch workers' settings.

    Returns:
        For "none" and "fired", the decisions per second of each measurement, and
        for "none_cpu" and "fired_cpu" the same per CPU second.
    """
    policy = load_policy("interview-follow-up")
    thresholds = gc.get_threshold()
    rates: dict[str, list[float]] = {"none": [], "fired": [], "none_cpu": [], "fired_cpu": []}
    with source.open(encoding="utf-8") as fh:

        def next_rows() -> list[Any]:
            return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]

        warm = next_rows()
        gc.freeze()
        gc.set_threshold(*COLLECTOR_THRESHOLDS)
        try:
            for trace in ("none", "fired"):  # each trace level has memos of its own
                for facts in warm:
                    policy.evaluate(facts, as_of=as_of, trace=trace).to_bytes()
            del warm
            for _ in range(repeat):
                for trace in ("none", "fired"):
                    measured = next_rows()
                    start, cpu = time.perf_counter(), time.process_time()
                    for facts in measured:
                        policy.evaluate(facts, as_of=as_of, trace=trace).to_bytes()
                    rates[trace].append(len(measured) / (time.perf_counter() - start))
                    rates[trace + "_cpu"].append(len(measured) / (time.process_time() - cpu))
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
    return rates


def _spread(values: list[float]) -> str:
    """The median of some rates, and their range when there are several."""
    text = f"{statistics.median(values):,.0f}/s"
    if len(values) > 1:
        text += f" ({min(values):,.0f}-{max(values):,.0f})"
    return text


def end_to_end(source: Path, out: Path, workers: int, as_of: str) -> dict[str, Any]:
    summary = out.with_suffix(".summary.json")
    code = "from followup.cli.batch import batch_command; batch_command()"
    args = [str(source), "-o", str(out), "--as-of", as_of, "--workers", str(workers), "--quiet",
            "--summary", str(summary), "--errors", str(out) + ".errors"]  # fmt: skip
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({proc.returncode}): {proc.stderr}")
    report = json.loads(summary.read_text())
    return {
        "wall": wall,
        "cpu": cpu,
        "read": report["read"],
        "rss": report["timing"]["peak_rss_mb"],
        "split": report["timing"]["cpu_seconds"],
        "stderr": proc.stderr.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="applicants in the cohort")
    parser.add_argument(
        "--engine-n", type=int, default=20_000, help="rows for each engine-alone measurement"
    )
    parser.add_argument(
        "--engine-repeat",
        type=int,
        default=3,
        help="engine-alone measurements per trace level, each on rows not seen before",
    )
    parser.add_argument(
        "--dir", help="work folder (default: a temporary one); the cohort is kept there"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts for the end-to-end runs")
    args = parser.parse_args()

    work = Path(args.dir or tempfile.mkdtemp(prefix="followup-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"cohort-{args.n}.jsonl"
    as_of = gen_cohort.AS_OF.isoformat()
    if not source.exists():
        start = time.perf_counter()
        gen_cohort.write(gen_cohort.cohort(args.n), str(source) + ".tmp", "jsonl")
        os.replace(str(source) + ".tmp", source)
        print(
            f"generated {args.n:,} applicants in {time.perf_counter() - start:.1f}s: {source}",
            flush=True,
        )

    print(
        f"cohort: {args.n:,} applicants, {source.stat().st_size / 1e6:,.0f} MB JSONL; "
        f"CPUs: {os.cpu_count()}; {BUILD} build"
    )
    seconds, cpu, read = io_floor(source, work / "floor.jsonl", as_of)
    print(
        f"I/O floor (read + parse + serialise, 1 process): {seconds:.2f}s  {_rate(read, seconds)}"
        f"  (CPU {cpu:.2f}s; output {_mb(work / 'floor.jsonl')}: the facts, not decisions)",
        flush=True,
    )
    repeat = max(1, args.engine_repeat)
    n = min(args.engine_n, args.n // (1 + 2 * repeat))
    rates = engine_alone(source, n, as_of, repeat)
    print(
        f"engine alone (evaluate + JSON), 1 core, median of {repeat} x {n:,} unseen rows "
        f"after {n:,} to warm up (range): trace none {_spread(rates['none'])}, "
        f"trace fired {_spread(rates['fired'])}; per CPU second: trace none "
        f"{_spread(rates['none_cpu'])}, trace fired {_spread(rates['fired_cpu'])}",
        flush=True,
    )
    for workers in [int(w) for w in args.workers.split(",")]:
        run = end_to_end(source, work / f"out-{workers}.jsonl", workers, as_of)
        rss, split = run["rss"], run["split"]
        print(
            f"end to end, {workers} worker{'s' if workers > 1 else ''}: {run['wall']:.2f}s "
            f"(CPU {run['cpu']:.1f}s; in the run: main process {split['main']:.1f}s, "
            f"workers {split['workers']:.1f}s)  {_rate(run['read'], run['wall'])}  "
            f"({run['wall'] / seconds:.1f}x the I/O floor)  peak RSS main {rss['main']:.0f} MB, "
            f"largest worker {rss['largest_worker']:.0f} MB  output {_mb(work / f'out-{workers}.jsonl')}"
            f"  [{run['stderr']}]",
            flush=True,
        )


if __name__ == "__main__":
    main()
