"""The benchmark and the cohort generator run (small N, no timing asserts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from followup.cli import main
from tests.batch.batch_helpers import ROOT, cohort, gen_cohort


def test_the_generator_is_deterministic_and_covers_the_mix() -> None:
    rows = cohort(400, seed=1)
    assert rows == cohort(400, seed=1)
    assert {r["industry"] for r in rows} == set(gen_cohort.INDUSTRIES)
    assert {r["stage"] for r in rows} == set(gen_cohort.STAGES)
    assert any(r["interview_at"].startswith(("2025-12-2", "2026-01-0")) for r in rows)  # holidays
    assert any("timezone" not in r for r in rows) and any("country" not in r for r in rows)  # nulls


def test_the_benchmark_prints_every_figure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_batch.py"),
            "--n",
            "300",
            "--engine-n",
            "100",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for figure in (
        "I/O floor",
        "engine alone",
        "trace fired",
        "end to end, 1 worker",
        "end to end, 2 workers",
        "main process",
        "peak RSS",
    ):
        assert figure in proc.stdout


def test_batch_is_a_followup_command(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    gen_cohort.write(iter(cohort(3)), str(source))
    result = CliRunner().invoke(
        main, ["batch", str(source), "--as-of", "2026-01-12", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3


def test_the_instruction_count_program_runs(tmp_path: Path) -> None:
    """What bench_instructions.py runs under valgrind (valgrind itself is not in CI)."""
    source = tmp_path / "cohort.jsonl"
    gen_cohort.write(cohort(30), str(source), "jsonl")
    script = ROOT / "benchmarks" / "bench_instructions.py"
    args = [str(source), "--warm", "10", "--rows", "20", "--inner", "20", "--trace", "fired"]
    proc = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
