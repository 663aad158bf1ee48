"""A killed run leaves no OUTPUT; --resume completes it to the same bytes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from followup.engine.batch import (
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    CheckpointMismatch,
    InputSpec,
    PolicyRef,
    Progress,
    run_batch,
)
from tests.batch.batch_helpers import AS_OF, cohort, write_broken_cohort

ROWS = 3000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_broken_cohort(tmp_path_factory.mktemp("resume") / "cohort.jsonl", ROWS, 3, 997)


def _args(source: Path, out: Path, *extra: str) -> list[str]:
    return [str(source), "-o", str(out), "--errors", str(out) + ".errors", "--as-of", AS_OF, "--quiet",
            "--trace", "full", "--chunk-size", "25", *extra]  # fmt: skip


@dataclass(frozen=True)
class _Outputs:
    """What an uninterrupted run writes: decisions, errors, and the summary's counts."""

    output: bytes
    errors: bytes
    summary: dict[str, Any]


def _outputs(out: Path) -> _Outputs:
    summary = json.loads(Path(str(out) + ".summary").read_text())
    del summary["timing"], summary["output"]  # when and where, not what
    return _Outputs(out.read_bytes(), Path(str(out) + ".errors").read_bytes(), summary)


@pytest.fixture(scope="module")
def reference(source: Path, tmp_path_factory: pytest.TempPathFactory) -> _Outputs:
    out = tmp_path_factory.mktemp("ref") / "out.jsonl"
    result = CliRunner().invoke(
        batch_command,
        _args(source, out, "--workers", "2", "--trace", "fired", "--summary", f"{out}.summary"),
    )
    assert result.exit_code == 1, result.output  # the broken lines
    return _outputs(out)


def _resume(source: Path, out: Path) -> _Outputs:
    """Run the same command with --resume; it must complete the run."""
    result = CliRunner().invoke(
        batch_command,
        _args(source, out, "--workers", "2", "--trace", "fired", "--resume",
              "--summary", f"{out}.summary"),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"read {ROWS} = decided {ROWS - 3} + errors 3" in result.stderr
    return _outputs(out)


# The CLI with hooks, for tests that stop it part-way: it checkpoints after every
# chunk, prints its worker pids once they are started, and once it has
# checkpointed 300 rows it prints "paused" and waits for a line on stdin, so the
# test acts while the run is surely going (meanwhile the workers finish at most
# a window of chunks). The checkpoint interval is set on run_batch's options:
# the CLI does not pass its hidden --checkpoint-every on.
_PAUSING_CLI = """\
import dataclasses, sys
from followup.cli import batch as cli
from followup.engine.batch import _checkpoint, _pool
start, submit, run_batch = _pool.PoolExecutor.__init__, _checkpoint.CheckpointSaver.submit, cli.run_batch
def started(self, *args, **kwargs):
    start(self, *args, **kwargs)
    print("workers", *self.pids, flush=True)
paused = False
def saved(self, checkpoint):
    global paused
    submit(self, checkpoint)
    self.wait()
    if checkpoint.rows >= 300 and not paused:
        paused = True
        print("paused", flush=True)
        sys.stdin.readline()
def checkpoint_each_chunk(*args, options, **kwargs):
    options = dataclasses.replace(options, checkpoint_seconds=0)
    return run_batch(*args, options=options, **kwargs)
_pool.PoolExecutor.__init__ = started
_checkpoint.CheckpointSaver.submit = saved
cli.run_batch = checkpoint_each_chunk
cli.batch_command()
"""


@dataclass(frozen=True)
class _Stopped:
    returncode: int
    stderr: str
    pid: int  # the process the signal was sent to


def _start_and_stop(source: Path, out: Path, sig: int, *, worker: bool = False) -> _Stopped:
    """Start a run in its own process group; once it has checkpointed 300 rows send
    ``sig`` to the whole group, or with ``worker`` to its first worker process only."""
    args = _args(source, out, "--workers", "2", "--trace", "fired")
    with subprocess.Popen(
        [sys.executable, "-c", _PAUSING_CLI, *args],
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first, *pids = proc.stdout.readline().split()
            assert first == b"workers" and len(pids) == 2, proc.stderr.read()
            paused = proc.stdout.readline()
            assert paused == b"paused\n", (
                b"the run ended before it could be stopped: " + proc.stderr.read()
            )
            target = int(pids[0]) if worker else proc.pid
            if worker:
                os.kill(target, sig)
            else:
                os.killpg(proc.pid, sig)
            _, err = proc.communicate(b"go on\n", timeout=60)
        finally:
            # never leave the run (or its workers) behind when an assertion fails
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    return _Stopped(proc.returncode, err.decode(), target)


def _kept_for_resume(out: Path) -> int:
    """Check no output was written but the run's state was kept; the rows it holds."""
    assert not out.exists() and not Path(str(out) + ".errors").exists()
    assert Path(str(out) + ".part").exists()
    done: int = json.loads(Path(str(out) + ".checkpoint").read_text())["rows"]
    assert 300 <= done < ROWS
    return done


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_output_and_resume_completes_it(
    sig: int, source: Path, reference: _Outputs, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    stopped = _start_and_stop(source, out, sig)
    if sig == signal.SIGTERM:
        assert stopped.returncode == 130
        assert "--resume" in stopped.stderr
    _kept_for_resume(out)
    assert _resume(source, out) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.jsonl", "out.jsonl.errors", "out.jsonl.summary"
    ]  # fmt: skip


def test_a_killed_worker_stops_the_run_like_an_interruption_and_resume_completes_it(
    source: Path, reference: _Outputs, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    stopped = _start_and_stop(source, out, signal.SIGKILL, worker=True)
    assert stopped.returncode == 1, stopped.stderr
    done = _kept_for_resume(out)
    assert "Traceback" not in stopped.stderr
    message = stopped.stderr.strip()
    assert message.startswith(f"Error: worker process {stopped.pid} died (killed by SIGKILL")
    assert "while evaluating rows" in message
    assert f"the run stopped after {done} rows; {out} was not written" in message
    assert message.endswith("run the same command with --resume to continue")
    assert _resume(source, out) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.jsonl", "out.jsonl.errors", "out.jsonl.summary"
    ]  # fmt: skip


def test_resume_refuses_a_checkpoint_of_other_options(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    _start_and_stop(source, out, signal.SIGKILL)
    result = CliRunner().invoke(batch_command, _args(source, out, "--trace", "none", "--resume"))
    assert result.exit_code == 2
    assert "the interrupted run used --trace fired, this one --trace none" in result.stderr
    assert not out.exists()


def test_resume_without_a_checkpoint_starts_over(
    source: Path, reference: _Outputs, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        batch_command, _args(source, out, "--workers", "2", "--trace", "fired", "--resume")
    )
    assert result.exit_code == 1
    assert out.read_bytes() == reference.output


class _InterruptAfter:
    """A progress callback that presses Ctrl-C once ``rows`` rows are written."""

    def __init__(self, rows: int) -> None:
        self.rows = rows

    def __call__(self, progress: Progress) -> None:
        if progress.rows >= self.rows:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("output_format", "legs"),
    # the workers of each leg: the run, its first resume, its second
    [("csv", (1, 1, 1)), ("jsonl", (2, 2, 2)), ("csv", (2, 2, 2)), ("jsonl", (2, 1, 3))],
)
def test_interrupt_and_resume_in_process(
    output_format: str, legs: tuple[int, int, int], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    rows = cohort(400, seed=9)
    rows[123] = {**rows[123], "stage": "last"}
    rows[300] = {**rows[300], "applicant_id": rows[2]["applicant_id"]}
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = InputSpec(str(source), "jsonl")
    job = BatchJob(PolicyRef(), "none", AS_OF, output_format)
    ref, ref_errors = tmp_path / "ref.out", tmp_path / "ref.errors"
    options = BatchOptions(workers=legs[0], chunk_size=30, checkpoint_seconds=0)
    whole = run_batch(spec, job, output=str(ref), errors=str(ref_errors), options=options)

    out, errors = tmp_path / "out", tmp_path / "errors"
    for stop_at, workers in ((90, legs[0]), (240, legs[1])):  # interrupted twice, resumed twice
        with pytest.raises(BatchInterrupted) as info:
            run_batch(spec, job, output=str(out), errors=str(errors), progress=_InterruptAfter(stop_at),
                      options=replace(options, workers=workers, resume=stop_at > 90))  # fmt: skip
        assert info.value.resumable and info.value.rows == stop_at
        assert not out.exists() and not errors.exists()
    resumed = run_batch(
        spec,
        job,
        output=str(out),
        errors=str(errors),
        options=replace(options, workers=legs[2], resume=True),
    )
    assert out.read_bytes() == ref.read_bytes()
    assert errors.read_bytes() == ref_errors.read_bytes()
    assert resumed.resumed_at == 240
    assert resumed.summary()["actions"] == whole.summary()["actions"]
    assert (resumed.read, resumed.decided, resumed.errors) == (400, 399, 1)
    assert resumed.duplicates == whole.duplicates == {rows[2]["applicant_id"]: [3, 301]}


def _interrupted_in(folder: Path, stop_at: int | None) -> tuple[InputSpec, BatchJob, BatchOptions]:
    """A run of folder/in.jsonl to folder/out with folder/errors, stopped after
    ``stop_at`` rows (None: not stopped)."""
    folder.mkdir()
    rows = cohort(200, seed=4)
    rows[50] = {**rows[50], "stage": "last"}
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = BatchJob(PolicyRef(), "none", AS_OF, "jsonl")
    options = BatchOptions(workers=1, chunk_size=20, checkpoint_seconds=0)
    with pytest.raises(BatchInterrupted) if stop_at else contextlib.nullcontext():
        run_batch(
            InputSpec(str(folder / "in.jsonl"), "jsonl"), job, output=str(folder / "out"),
            errors=str(folder / "errors"),
            progress=_InterruptAfter(stop_at) if stop_at else None, options=options,
        )  # fmt: skip
    return job, options


def test_resume_in_a_moved_folder(tmp_path: Path) -> None:
    """Input, output and errors moved together (mv keeps the files): the run resumes."""
    job, options = _interrupted_in(tmp_path / "whole", None)
    _interrupted_in(tmp_path / "first", 80)
    (tmp_path / "first").rename(tmp_path / "moved")
    moved = tmp_path / "moved"
    resumed = run_batch(
        InputSpec(str(moved / "in.jsonl"), "jsonl"), job, output=str(moved / "out"),
        errors=str(moved / "errors"), options=replace(options, resume=True),
    )  # fmt: skip
    assert resumed.resumed_at == 80
    assert (moved / "out").read_bytes() == (tmp_path / "whole" / "out").read_bytes()
    assert (moved / "errors").read_bytes() == (tmp_path / "whole" / "errors").read_bytes()


def test_resume_names_in_words_what_differs(tmp_path: Path) -> None:
    job, options = _interrupted_in(tmp_path / "run", 80)
    other = tmp_path / "run" / "other.jsonl"
    other.write_bytes((tmp_path / "run" / "in.jsonl").read_bytes() + b"\n")
    with pytest.raises(CheckpointMismatch) as info:
        run_batch(
            InputSpec(str(other), "jsonl"), job, output=str(tmp_path / "run" / "out"),
            errors=str(tmp_path / "run" / "errors"), options=replace(options, resume=True),
        )  # fmt: skip
    assert str(info.value) == (
        "cannot resume: the interrupted run had a different input file (its path, its "
        "size and its modification time); to resume, give the input file the interrupted "
        "run read, unchanged; or run it with --restart instead of --resume to start over"
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: {**data, "rows": data["rows"] - 20},  # would repeat 20 rows
        lambda data: {**data, "output_bytes": data["output_bytes"] + 1},
        lambda data: {**data, "counters": {}},
    ],
)
def test_resume_refuses_an_edited_checkpoint(edit: Any, tmp_path: Path) -> None:
    job, options = _interrupted_in(tmp_path / "run", 80)
    checkpoint = tmp_path / "run" / "out.checkpoint"
    data = json.loads(checkpoint.read_text("utf-8"))
    checkpoint.write_text(json.dumps(edit(data)), "utf-8")
    with pytest.raises(CheckpointMismatch) as info:
        run_batch(
            InputSpec(str(tmp_path / "run" / "in.jsonl"), "jsonl"), job,
            output=str(tmp_path / "run" / "out"), errors=str(tmp_path / "run" / "errors"),
            options=replace(options, resume=True),
        )  # fmt: skip
    assert str(info.value) == (
        f"cannot resume: {tmp_path / 'run' / 'out'}.checkpoint is damaged or was written by "
        "another version of followup; run it with --restart instead of --resume to start over"
    )
