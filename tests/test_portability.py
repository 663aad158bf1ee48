"""Beyond Linux: what runs where the POSIX-only parts of Python are missing (Windows),
and the batch under macOS's way of starting workers (spawn, not fork)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.batch.batch_helpers import AS_OF, cohort, gen_cohort

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "final-round-finance.yaml")

# Runs followup as on a system without fcntl, resource, termios, fork, pwrite(v),
# O_CLOEXEC, pthread_sigmask or SIGKILL: what Windows lacks of what Linux has.
_WITHOUT_POSIX = """
import os, signal, sys
for name in ("fcntl", "resource", "termios"):
    sys.modules[name] = None
for name in ("pthread_sigmask", "SIGKILL"):
    if hasattr(signal, name):
        delattr(signal, name)
for name in ("fork", "pwritev", "pwrite", "O_CLOEXEC"):
    if hasattr(os, name):
        delattr(os, name)
sys.argv = ["followup", *sys.argv[1:]]
from followup._entry import main
main()
"""

_AS_USUAL = """
import sys
sys.argv = ["followup", *sys.argv[1:]]
from followup._entry import main
main()
"""


def _run(prelude: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", prelude, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("check",),
        ("test",),
        ("evaluate", EXAMPLE, "--as-of", AS_OF),
        ("explain", EXAMPLE, "--as-of", AS_OF),
        ("why-not", "thank-you", EXAMPLE, "--as-of", AS_OF),
        ("policies",),
        ("schema", "policy"),
        ("diff", "interview-follow-up@1.0.0", "interview-follow-up@1.0.0"),
    ],
    ids=lambda args: args[0],
)
def test_every_command_but_batch_runs_without_posix(args: tuple[str, ...], tmp_path: Path) -> None:
    usual = _run(_AS_USUAL, *args, cwd=tmp_path)
    without = _run(_WITHOUT_POSIX, *args, cwd=tmp_path)
    assert usual.returncode == 0, usual.stderr
    assert (without.returncode, without.stdout, without.stderr) == (0, usual.stdout, usual.stderr)


def test_a_log_is_written_and_replayed_without_posix(tmp_path: Path) -> None:
    logged = _run(
        _WITHOUT_POSIX, "evaluate", EXAMPLE, "--as-of", AS_OF, "--log", "d.jsonl", cwd=tmp_path
    )
    assert logged.returncode == 0, logged.stderr
    assert (tmp_path / "d.jsonl").read_text(encoding="utf-8").count("\n") == 1
    replayed = _run(_WITHOUT_POSIX, "replay", "d.jsonl", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr


def test_batch_without_posix_says_where_it_runs(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    gen_cohort.write(iter(cohort(20, seed=3)), str(source))
    result = _run(_WITHOUT_POSIX, "batch", str(source), "-o", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "Error: followup batch needs Linux or macOS (on Windows, run it in WSL); "
        "the other commands work here"
    )
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_workers_started_by_spawn_write_the_same_bytes(tmp_path: Path) -> None:
    """macOS (and Windows) start worker processes by spawn, Linux by fork."""
    source = tmp_path / "in.jsonl"
    rows = cohort(600, seed=11)
    rows[5] = {**rows[5], "industry": "banking"}  # an error row too
    gen_cohort.write(iter(rows), str(source))
    common = ["batch", str(source), "--as-of", AS_OF, "--workers", "2", "--chunk-size", "50"]
    spawn = "import multiprocessing; multiprocessing.set_start_method('spawn')\n" + _AS_USUAL
    for prelude, name in ((_AS_USUAL, "fork"), (spawn, "spawn")):
        done = _run(
            prelude, *common, "-o", f"{name}.jsonl", "--errors", f"{name}.err", cwd=tmp_path
        )
        assert done.returncode == 1, done.stderr
        assert "read 600 = decided 599 + errors 1" in done.stderr
    assert (tmp_path / "spawn.jsonl").read_bytes() == (tmp_path / "fork.jsonl").read_bytes()
    assert (tmp_path / "spawn.err").read_bytes() == (tmp_path / "fork.err").read_bytes()


def test_peak_memory_is_read_in_the_unit_of_each_system(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from followup.engine.batch import _runner

    class Usage:
        ru_maxrss = 300 * 1024 * 1024  # 300 MiB, as macOS counts it (bytes)

    monkeypatch.setattr(resource, "getrusage", lambda who: Usage())
    monkeypatch.setattr(_runner, "_own_peak_kib", lambda: None)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _runner._peak_rss_mb() == {"main": 300.0, "largest_worker": 300.0}
    monkeypatch.setattr(sys, "platform", "linux")  # KiB there
    assert _runner._peak_rss_mb() == {"main": 300.0 * 1024, "largest_worker": 300.0 * 1024}
