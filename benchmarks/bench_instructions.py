"""Instructions per decision, counted by valgrind: a figure that load does not move.

Wall-clock figures on a shared or virtual machine move by 20-40% from run to
run; the number of instructions the CPU executes does not. This script runs
the same Python program twice under ``valgrind --tool=callgrind`` (which
counts instructions): once evaluating ``--rows`` decisions of the cohort after
``--warm`` rows of warm-up, once with the warm-up only, and prints the
difference per decision. Needs valgrind; takes a minute or two.

    python benchmarks/bench_instructions.py                  # trace fired, 1,000 rows
    python benchmarks/bench_instructions.py --trace none
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_cohort  # noqa: E402

_COLLECTED = re.compile(r"Collected : (\d+)")


def _inner(cohort: Path, trace: str, warm: int, rows: int, evaluate: int) -> None:
    """What runs under valgrind: read ``warm + rows`` rows, warm up, evaluate ``evaluate``.

    Both runs read the same rows, so reading them is not counted.
    """
    from followup.engine import load_policy

    policy = load_policy("interview-follow-up")
    as_of = gen_cohort.AS_OF.isoformat()
    with cohort.open(encoding="utf-8") as fh:
        facts = [json.loads(line) for _, line in zip(range(warm + rows), fh, strict=False)]
    for row in facts[:warm]:
        policy.evaluate(row, as_of=as_of, trace=trace).to_bytes()
    for row in facts[warm : warm + evaluate]:
        policy.evaluate(row, as_of=as_of, trace=trace).to_bytes()


def _count(cohort: Path, trace: str, warm: int, rows: int, evaluate: int) -> subprocess.Popen[str]:
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    args = [
        str(cohort),
        "--trace",
        trace,
        "--warm",
        str(warm),
        "--rows",
        str(rows),
        "--inner",
        str(evaluate),
    ]
    # one hash seed for both runs: with a seed each, string hashes (and so dict
    # probing and memo layouts) differ between them, and counts spread by 3-4%
    return subprocess.Popen(
        [*valgrind, sys.executable, __file__, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def _collected(proc: subprocess.Popen[str]) -> int:
    _, err = proc.communicate()
    found = _COLLECTED.search(err or "")
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed ({proc.returncode}): {(err or '')[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("cohort", nargs="?", help="a JSONL cohort (default: generated)")
    parser.add_argument("--trace", default="fired", choices=("none", "fired", "full"))
    parser.add_argument("--warm", type=int, default=3000, help="rows evaluated first, not counted")
    parser.add_argument("--rows", type=int, default=1000, help="rows counted")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner is not None:
        _inner(Path(args.cohort), args.trace, args.warm, args.rows, args.inner)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt install valgrind)")
    cohort = Path(args.cohort) if args.cohort else None
    with tempfile.TemporaryDirectory() as tmp:
        if cohort is None:
            cohort = Path(tmp) / "cohort.jsonl"
            gen_cohort.write(gen_cohort.cohort(args.warm + args.rows), str(cohort), "jsonl")
        runs = [_count(cohort, args.trace, args.warm, args.rows, n) for n in (0, args.rows)]
        base, counted = (_collected(proc) for proc in runs)
    from followup.engine import BUILD

    print(
        f"{(counted - base) / args.rows:,.0f} instructions per decision "
        f"(evaluate + JSON, trace {args.trace}, {args.rows:,} rows after {args.warm:,}; "
        f"{BUILD} build)"
    )


if __name__ == "__main__":
    main()
