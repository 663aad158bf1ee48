"""A killed run leaves no OUTPUT; --resume completes it to the same bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from followup.engine.batch import (
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    InputSpec,
    PolicyRef,
    Progress,
    run_batch,
)
from tests.batch.batch_helpers import AS_OF, cohort

ROWS = 3000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = cohort(ROWS, seed=3)
    path = tmp_path_factory.mktemp("resume") / "cohort.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, facts in enumerate(rows, 1):
            fh.write("{broken\n" if i % 997 == 0 else json.dumps(facts) + "\n")
    return path


def _args(source: Path, out: Path, *extra: str) -> list[str]:
    return [str(source), "-o", str(out), "--errors", str(out) + ".errors", "--as-of", AS_OF, "--quiet",
            "--trace", "full", "--chunk-size", "25", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def reference(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    out = tmp_path_factory.mktemp("ref") / "out.jsonl"
    result = CliRunner().invoke(
        batch_command, _args(source, out, "--workers", "2", "--trace", "fired")
    )
    assert result.exit_code == 1, result.output  # the broken lines
    return out.read_bytes(), Path(str(out) + ".errors").read_bytes()


def _start_and_stop(source: Path, out: Path, sig: int) -> tuple[int, bytes]:
    """Start a run in its own process group; send ``sig`` once it has checkpointed."""
    # Each row is slowed down (in the workers too: they are forked) so the run is
    # surely still going when it is interrupted, however fast the machine.
    code = (
        "import time\n"
        "from followup.engine._policy import Policy\n"
        "evaluate = Policy.evaluate\n"
        "def slow(*args, **kwargs):\n"
        "    time.sleep(0.002)\n"
        "    return evaluate(*args, **kwargs)\n"
        "Policy.evaluate = slow\n"
        "from followup.cli.batch import batch_command\n"
        "batch_command()\n"
    )
    args = _args(source, out, "--workers", "2", "--trace", "fired", "--checkpoint-every", "0")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], start_new_session=True, stderr=subprocess.PIPE
    )
    checkpoint = Path(str(out) + ".checkpoint")
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if (
                checkpoint.exists()
                and json.loads(checkpoint.read_text() or "{}").get("rows", 0) >= 300
            ):
                break
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.01)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
    finally:
        # never leave the run (or its workers) behind when an assertion fails
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_output_and_resume_completes_it(
    sig: int, source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    returncode, err = _start_and_stop(source, out, sig)
    assert not out.exists() and not Path(str(out) + ".errors").exists()
    assert Path(str(out) + ".part").exists()
    if sig == signal.SIGTERM:
        assert returncode == 130
        assert b"--resume" in err
    done = json.loads(Path(str(out) + ".checkpoint").read_text())["rows"]
    assert 0 < done < ROWS
    result = CliRunner().invoke(
        batch_command, _args(source, out, "--workers", "2", "--trace", "fired", "--resume")
    )
    assert result.exit_code == 1, result.output
    assert f"read {ROWS} = decided {ROWS - 3} + errors 3" in result.stderr
    assert (out.read_bytes(), Path(str(out) + ".errors").read_bytes()) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.errors"]


def test_resume_refuses_a_checkpoint_of_other_options(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    _start_and_stop(source, out, signal.SIGKILL)
    result = CliRunner().invoke(batch_command, _args(source, out, "--trace", "none", "--resume"))
    assert result.exit_code == 2
    assert "different trace" in result.stderr
    assert not out.exists()


def test_resume_without_a_checkpoint_starts_over(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        batch_command, _args(source, out, "--workers", "2", "--trace", "fired", "--resume")
    )
    assert result.exit_code == 1
    assert out.read_bytes() == reference[0]


class _InterruptAfter:
    """A progress callback that presses Ctrl-C once ``rows`` rows are written."""

    def __init__(self, rows: int) -> None:
        self.rows = rows

    def __call__(self, progress: Progress) -> None:
        if progress.rows >= self.rows:
            raise KeyboardInterrupt


@pytest.mark.parametrize(("output_format", "workers"), [("csv", 1), ("jsonl", 2)])
def test_interrupt_and_resume_in_process(output_format: str, workers: int, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = cohort(400, seed=9)
    rows[123] = {**rows[123], "stage": "last"}
    rows[300] = {**rows[300], "applicant_id": rows[2]["applicant_id"]}
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = InputSpec(str(source), "jsonl")
    job = BatchJob(PolicyRef(), "none", AS_OF, output_format)
    ref, ref_errors = tmp_path / "ref.out", tmp_path / "ref.errors"
    options = BatchOptions(workers=workers, chunk_size=30, checkpoint_seconds=0)
    whole = run_batch(spec, job, output=str(ref), errors=str(ref_errors), options=options)

    out, errors = tmp_path / "out", tmp_path / "errors"
    for stop_at in (90, 240):  # interrupted twice, resumed twice
        with pytest.raises(BatchInterrupted) as info:
            run_batch(spec, job, output=str(out), errors=str(errors), progress=_InterruptAfter(stop_at),
                      options=replace(options, resume=stop_at > 90))  # fmt: skip
        assert info.value.resumable and info.value.rows == stop_at
        assert not out.exists() and not errors.exists()
    resumed = run_batch(
        spec, job, output=str(out), errors=str(errors), options=replace(options, resume=True)
    )
    assert out.read_bytes() == ref.read_bytes()
    assert errors.read_bytes() == ref_errors.read_bytes()
    assert resumed.resumed_at == 240
    assert resumed.summary()["actions"] == whole.summary()["actions"]
    assert (resumed.read, resumed.decided, resumed.errors) == (400, 399, 1)
    assert resumed.duplicates == whole.duplicates == {rows[2]["applicant_id"]: [3, 301]}
