"""Where a batch writes, and what it does when stopped or resumed at a bad moment.

Outputs that are not regular files, outputs that are the input or each other,
two runs writing one output, an unwritable summary, a bad --dask address, an
interrupt at any moment, a damaged --resume state, and smaller option checks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import followup.cli.batch as cli_batch
from followup.cli.batch import batch_command
from followup.engine.batch import (
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    CheckpointMismatch,
    InputSpec,
    OutputError,
    PolicyRef,
    Progress,
    _checkpoint,
    run_batch,
)
from tests.batch.batch_helpers import AS_OF, write_broken_cohort

ROWS = 400


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cohort with a broken line every 50 rows (8 failed rows)."""
    return write_broken_cohort(tmp_path_factory.mktemp("defects") / "cohort.jsonl", ROWS, 11, 50)


def cli(*args: str, input: bytes | None = None) -> Any:
    return CliRunner().invoke(
        batch_command, ["--as-of", AS_OF, "--quiet", "--chunk-size", "25", *args], input=input
    )


@pytest.fixture(scope="module")
def reference(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """Output and errors file of an uninterrupted run."""
    folder = tmp_path_factory.mktemp("reference")
    out, errors = folder / "out.jsonl", folder / "errors.jsonl"
    result = cli(str(source), "-o", str(out), "--errors", str(errors), "--workers", "1")
    assert result.exit_code == 1, result.output
    return out.read_bytes(), errors.read_bytes()


def _no_traceback(result: Any) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- 1. outputs that are not regular files ---------------------------------------


def _device(path: Path) -> Path:
    """A character device node like /dev/null (major 1, minor 3), made in a temp folder."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")
    return path


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("option", ["-o", "--errors"])
def test_an_output_that_is_a_device_or_fifo_is_refused_and_left_alone(
    kind: str, option: str, source: Path, tmp_path: Path
) -> None:
    node = tmp_path / "node"
    if kind == "device":
        _device(node)
    else:
        os.mkfifo(node)
    args = ["-o", str(node)] if option == "-o" else ["-o", str(tmp_path / "o.jsonl")]
    if option == "--errors":
        args += ["--errors", str(node)]
    result = cli(str(source), *args)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    what = "a device" if kind == "device" else "a FIFO"
    assert f"{option} {node} is {what}" in result.stderr
    assert "give a file path, or" in result.stderr
    mode = node.lstat().st_mode
    assert stat.S_ISCHR(mode) if kind == "device" else stat.S_ISFIFO(mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node"]


def test_a_summary_that_is_a_device_is_refused_before_the_run(source: Path, tmp_path: Path) -> None:
    node = _device(tmp_path / "node")
    out = tmp_path / "o.jsonl"
    result = cli(str(source), "-o", str(out), "--summary", str(node))
    assert result.exit_code == 2, result.output
    assert f"--summary {node} is a device" in result.stderr
    assert "--summary - for standard output" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlinked_output_replaces_its_target_and_keeps_the_link(
    dangling: bool, source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target, errors_target = real / "out.jsonl", real / "errors.jsonl"
    if not dangling:
        target.write_text("old\n")
        errors_target.write_text("old\n")
    link, errors_link = tmp_path / "link.jsonl", tmp_path / "errors-link.jsonl"
    link.symlink_to(target)
    errors_link.symlink_to(errors_target)
    result = cli(str(source), "-o", str(link), "--errors", str(errors_link), "--workers", "2")
    assert result.exit_code == 1, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert errors_link.is_symlink() and os.readlink(errors_link) == str(errors_target)
    assert (target.read_bytes(), errors_target.read_bytes()) == reference
    assert sorted(p.name for p in real.iterdir()) == ["errors.jsonl", "out.jsonl"]


# --- 2. outputs that are the input, or one another --------------------------------


@pytest.mark.parametrize(
    ("option", "how"),
    [("-o", "same"), ("-o", "symlink"), ("--errors", "hardlink"), ("--summary", "dotted")],
)
def test_an_output_that_is_the_input_is_refused(
    option: str, how: str, source: Path, tmp_path: Path
) -> None:
    data = source.read_bytes()
    cohort_file = tmp_path / "cohort.jsonl"
    cohort_file.write_bytes(data)
    name = {
        "same": str(cohort_file),
        "symlink": str(tmp_path / "alias.jsonl"),
        "hardlink": str(tmp_path / "hard.jsonl"),
        "dotted": str(tmp_path / "." / "cohort.jsonl"),
    }[how]
    if how == "symlink":
        os.symlink(cohort_file, name)
    if how == "hardlink":
        os.link(cohort_file, name)
    args = ["-o", name] if option == "-o" else ["-o", str(tmp_path / "o.jsonl"), option, name]
    result = cli(str(cohort_file), *args)
    assert result.exit_code == 2, result.output
    assert f"{option} {name} is the input {cohort_file}" in result.stderr
    assert "would destroy the input" in result.stderr
    assert cohort_file.read_bytes() == data
    assert not (tmp_path / "o.jsonl").exists()


def test_the_input_may_not_be_a_file_the_run_keeps_beside_the_output(
    source: Path, tmp_path: Path
) -> None:
    part = tmp_path / "o.jsonl.part"
    shutil.copy(source, part)
    result = cli(str(part), "--input-format", "jsonl", "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2, result.output
    assert "writes" in result.stderr and "which is the input" in result.stderr
    assert part.read_bytes() == source.read_bytes()


def test_an_output_that_is_the_file_on_standard_input_is_refused(
    source: Path, tmp_path: Path
) -> None:
    cohort_file = tmp_path / "cohort.jsonl"
    shutil.copy(source, cohort_file)
    with cohort_file.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", "from followup.cli.batch import batch_command; batch_command()",
             "-", "-o", str(cohort_file), "--as-of", AS_OF, "-q"],
            stdin=stdin, capture_output=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert b"is the input read on standard input" in done.stderr
    assert cohort_file.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("first", "second"), [("-o", "--errors"), ("-o", "--summary"), ("--errors", "--summary")]
)
def test_two_outputs_that_are_one_file_are_refused(
    first: str, second: str, source: Path, tmp_path: Path
) -> None:
    same = tmp_path / "same.jsonl"
    alias = tmp_path / "alias.jsonl"
    alias.symlink_to(same)
    same.write_text("keep\n")
    args = {"-o": str(tmp_path / "o.jsonl")}
    args[first], args[second] = str(same), str(alias)
    result = cli(str(source), *[x for pair in args.items() for x in pair])
    assert result.exit_code == 2, result.output
    assert "are the same file" in result.stderr
    assert same.read_text() == "keep\n"


# --- 3. two runs writing one output --------------------------------------------------

# The CLI, pausing once it has checkpointed 100 rows until a line comes on stdin.
_PAUSING_CLI = """\
import dataclasses, sys
from followup.cli import batch as cli
from followup.engine.batch import _checkpoint
submit, run_batch = _checkpoint.CheckpointSaver.submit, cli.run_batch
paused = False
def saved(self, checkpoint):
    global paused
    submit(self, checkpoint)
    self.wait()
    if checkpoint.rows >= 100 and not paused:
        paused = True
        print("paused", flush=True)
        sys.stdin.readline()
def checkpoint_each_chunk(*args, options, **kwargs):
    return run_batch(*args, options=dataclasses.replace(options, checkpoint_seconds=0), **kwargs)
_checkpoint.CheckpointSaver.submit = saved
cli.run_batch = checkpoint_each_chunk
cli.batch_command()
"""


def _paused_run(source: Path, out: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _PAUSING_CLI, str(source), "-o", str(out), "--errors",
         f"{out}.errors", "--as-of", AS_OF, "-q", "--chunk-size", "25", "--workers", "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    if proc.stdout.readline() != b"paused\n":
        proc.kill()
        raise AssertionError(proc.communicate()[1].decode())
    return proc


def test_a_second_run_writing_the_same_output_stops_at_once(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    first = _paused_run(source, out)
    try:
        second = cli(str(source), "-o", str(out), "--errors", f"{out}.errors")
        assert second.exit_code == 2, second.output
        _no_traceback(second)
        assert f"another followup batch is writing {out} (pid {first.pid})" in second.stderr
        # the same errors file, with another output: also refused
        other = cli(str(source), "-o", str(tmp_path / "x.jsonl"), "--errors", f"{out}.errors")
        assert other.exit_code == 2 and "another followup batch is writing" in other.stderr
        _, err = first.communicate(b"go on\n", timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    assert first.returncode == 1, err
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.errors"]


def test_the_lock_of_a_killed_run_does_not_stop_its_resume(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    first = _paused_run(source, out)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert Path(f"{out}.lock").exists()  # left behind, but no longer locked
    result = cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--resume")
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.errors"]


# --- 4. the summary --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["nodir/s.json", "/proc/version"])
def test_an_unwritable_summary_is_refused_before_the_run(
    where: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(str(source), "-o", "o.jsonl", "--summary", where)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert f"cannot write --summary {where}" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_a_summary_that_fails_at_the_end_is_reported_and_the_output_kept(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "later"
    folder.mkdir()
    real = cli_batch.run_batch

    def run_then_remove_the_folder(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        shutil.rmtree(folder)
        return result

    monkeypatch.setattr(cli_batch, "run_batch", run_then_remove_the_folder)
    out = tmp_path / "out.jsonl"
    result = cli(str(source), "-o", str(out), "--summary", str(folder / "s.json"))
    assert result.exit_code == 1, result.output
    _no_traceback(result)
    assert f"cannot write the summary {folder / 's.json'}" in result.stderr
    assert f"the decisions were written to {out}" in result.stderr
    assert out.read_bytes() == reference[0]


def test_dash_sends_errors_to_stderr_and_the_summary_to_stdout(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(str(source), "-o", "out.jsonl", "--errors", "-", "--summary", "-")
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "-").exists()
    records = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert "\n".join(records) + "\n" == reference[1].decode()
    assert json.loads(result.stdout)["errors"] == 8
    both = cli(str(source), "--summary", "-")  # the decisions are on stdout
    assert both.exit_code == 2 and "--summary -" in both.stderr


# --- 5. --dask ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["nonsense", "tcp://host:notaport", "tcp://127.0.0.1:1", "ucx://127.0.0.1:1"]
)
def test_a_bad_dask_address_is_one_line_and_exit_2(
    address: str, source: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = cli(str(source), "-o", str(tmp_path / "o.jsonl"), "--dask", address)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert f"Error: --dask {address}:" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


# --- 6. an interrupt at any moment --------------------------------------------------------


def _interrupt_in(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """Ctrl-C when ``module.name`` is called."""

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, name, interrupted)


@pytest.mark.parametrize(
    ("where", "workers"),
    [
        *((name, "2") for name in ("load_evaluator", "_executor", "read_chunks", "PartFile")),
        # set up (files open, workers started) but no row written: nothing to resume
        ("_Run.commit", "1"),
        ("_Run.commit", "2"),
    ],
)
def test_an_interrupt_while_the_run_starts_says_so_and_leaves_nothing(
    where: str, workers: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from followup.engine.batch import _runner

    owner, _, name = where.rpartition(".")
    _interrupt_in(monkeypatch, getattr(_runner, owner) if owner else _runner, name)
    out = tmp_path / "out.jsonl"
    result = cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--workers", workers)
    assert result.exit_code == 130, result.output
    _no_traceback(result)
    assert (
        result.stderr
        == f"interrupted after 0 rows; {out} was not written; run it again to start over\n"
    )
    assert list(tmp_path.iterdir()) == []


def _interrupt_after(rows: int) -> Any:
    def progress(p: Progress) -> None:
        if p.rows >= rows:
            raise KeyboardInterrupt

    return progress


def _job(**kwargs: Any) -> BatchJob:
    return BatchJob(PolicyRef(**kwargs), "fired", AS_OF, "jsonl")


def _interrupted(source: Path, out: Path, rows: int = 150, workers: int = 2) -> None:
    """Run to ``out`` (and ``out.errors``) until ``rows`` rows were written, then Ctrl-C."""
    with pytest.raises(BatchInterrupted) as info:
        run_batch(
            InputSpec(str(source), "jsonl"), _job(), output=str(out), errors=f"{out}.errors",
            progress=_interrupt_after(rows),
            options=BatchOptions(workers=workers, chunk_size=25, checkpoint_seconds=0),
        )  # fmt: skip
    assert info.value.resumable and info.value.rows == rows
    assert not out.exists()


def _resume(source: Path, out: Path, *extra: str) -> Any:
    return cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--resume", *extra)


@pytest.mark.parametrize("where", ["load_evaluator", "_executor", "read_chunks"])
def test_an_interrupt_while_a_resume_starts_keeps_what_it_continues(
    where: str, source: Path, reference: tuple[bytes, bytes], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from followup.engine.batch import _runner

    out = tmp_path / "out.jsonl"
    _interrupted(source, out)
    with monkeypatch.context() as patch:
        _interrupt_in(patch, _runner, where)
        result = _resume(source, out)
    assert result.exit_code == 130, result.output
    _no_traceback(result)
    assert result.stderr == (
        f"interrupted after 150 rows; {out} was not written; "
        "run the same command with --resume to continue\n"
    )
    result = _resume(source, out)
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference


def test_a_second_interrupt_while_the_run_stops_waits(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C twice (or `timeout`, which signals the process and then its group)."""
    from followup.engine.batch import _pool

    shutdown = _pool.PoolExecutor.shutdown

    def interrupted_again(self: Any, cancel: bool) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        shutdown(self, cancel)

    monkeypatch.setattr(_pool.PoolExecutor, "shutdown", interrupted_again)
    real = cli_batch.run_batch

    def ctrl_c_after_100_rows(*args: Any, options: BatchOptions, **kwargs: Any) -> Any:
        kwargs["progress"] = _interrupt_after(100)
        return real(*args, options=replace(options, checkpoint_seconds=0), **kwargs)

    monkeypatch.setattr(cli_batch, "run_batch", ctrl_c_after_100_rows)
    out = tmp_path / "out.jsonl"
    result = cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--workers", "2")
    assert result.exit_code == 130, result.output
    _no_traceback(result)
    assert result.stderr.startswith("interrupted after 100 rows;")
    assert result.stderr.endswith("run the same command with --resume to continue\n")
    monkeypatch.undo()
    result = _resume(source, out, "--workers", "2")
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference


def test_sigint_to_the_process_group_as_the_workers_start(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    """A real Ctrl-C (to the whole group, twice) as soon as the pool has started."""
    script = (
        "from followup.cli import batch as cli\n"
        "from followup.engine.batch import _pool\n"
        "start = _pool.PoolExecutor.__init__\n"
        "def started(self, *a, **k):\n"
        "    start(self, *a, **k)\n"
        "    print('started', flush=True)\n"
        "_pool.PoolExecutor.__init__ = started\n"
        "cli.batch_command()\n"
    )
    out = tmp_path / "out.jsonl"
    with subprocess.Popen(
        [sys.executable, "-c", script, str(source), "-o", str(out), "--errors", f"{out}.errors",
         "--as-of", AS_OF, "-q", "--chunk-size", "25", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline() == b"started\n"
            os.kill(proc.pid, signal.SIGINT)
            os.killpg(proc.pid, signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    assert proc.returncode == 130, err
    text = err.decode()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert text.startswith("interrupted after ") and not out.exists()
    result = _resume(source, out)
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference


# --- 7. a damaged --resume state ------------------------------------------------------------


def _truncate(path: Path) -> None:
    os.truncate(path, 1000)


def _overwrite_head(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.write(b"XXXX")


def _remove(path: Path) -> None:
    path.unlink()


def _garble(path: Path) -> None:
    path.write_text("{not json")


@pytest.mark.parametrize(
    ("suffix", "damage", "says"),
    [
        (".part", _truncate, "holds 1,000 bytes, fewer than the"),
        (".part", _overwrite_head, "was changed since the checkpoint was saved"),
        (".ids", _remove, ".ids is missing"),
        (".ids", _truncate, ".ids holds 1,000 bytes"),
        (".errors.part", _remove, ".errors.part is missing"),
        (".checkpoint", _garble, ".checkpoint is damaged"),
    ],
)
def test_a_damaged_resume_state_is_refused_and_never_makes_an_output(
    suffix: str, damage: Any, says: str, source: Path, reference: tuple[bytes, bytes],
    tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out.jsonl"
    _interrupted(source, out, rows=300)
    damage(Path(f"{out}{suffix}"))
    result = _resume(source, out)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert "cannot resume:" in result.stderr and says in result.stderr
    assert "run it with --restart instead of --resume to start over" in result.stderr
    assert not out.exists()
    result = cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--restart")
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference


# --- 8. smaller ----------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31", "1899-12-31T23:00"])
def test_an_as_of_outside_the_years_of_dates_is_a_usage_error(
    moment: str, source: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        batch_command, [str(source), "-o", str(tmp_path / "o.jsonl"), "--as-of", moment]
    )
    assert result.exit_code == 2, result.output
    assert "out of range: dates fall in the years 1900 to 2999" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_resume_with_fewer_max_errors_than_already_met_is_refused(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    _interrupted(source, out, rows=300)  # 6 failed rows so far
    result = _resume(source, out, "--max-errors", "5")
    assert result.exit_code == 2, result.output
    assert "cannot resume with --max-errors 5" in result.stderr
    assert "already met 6 failed rows" in result.stderr
    assert "--max-errors 7 or more" in result.stderr
    assert not out.exists()
    whole = tmp_path / "whole.jsonl"
    assert cli(str(source), "-o", str(whole), "--errors", f"{whole}.errors",
               "--max-errors", "7").exit_code == 1  # fmt: skip
    result = _resume(source, out, "--max-errors", "7")
    assert result.exit_code == 1, result.output
    assert "stopped after 7 errors (--max-errors) at row 350" in result.stderr
    assert out.read_bytes() == whole.read_bytes()
    assert Path(f"{out}.errors").read_bytes() == Path(f"{whole}.errors").read_bytes()


def test_resume_naming_the_same_policy_by_its_version_continues(
    source: Path, reference: tuple[bytes, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    _interrupted(source, out)
    result = _resume(source, out, "--policy-version", "1.0.0")
    assert result.exit_code == 1, result.output
    assert (out.read_bytes(), Path(f"{out}.errors").read_bytes()) == reference


def test_resume_refuses_another_policy(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    _interrupted(source, out)
    job = _job()
    checkpoint = Path(f"{out}.checkpoint")
    state = json.loads(checkpoint.read_text())
    state["fingerprint"]["policy_sha256"] = "0" * 64
    del state["seal"]
    state["seal"] = _checkpoint._seal(state)  # as a run of that policy saves it
    checkpoint.write_text(json.dumps(state))
    with pytest.raises(CheckpointMismatch, match="was changed since the interrupted run used it"):
        run_batch(
            InputSpec(str(source), "jsonl"), job, output=str(out), errors=f"{out}.errors",
            options=BatchOptions(resume=True, chunk_size=25),
        )  # fmt: skip


# --- found by the second audit ------------------------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--errors", "--summary"])
def test_a_standard_stream_path_is_refused(option: str, source: Path, tmp_path: Path) -> None:
    """/dev/stdout names whatever stdout is redirected to: replacing that file
    would lose what it held before."""
    args = [str(source), option, "/dev/stdout"]
    if option != "-o":
        args += ["-o", str(tmp_path / "o.jsonl")]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert f"cannot write {option} /dev/stdout: under /dev or /proc it names" in result.stderr


@pytest.mark.parametrize("suffix", [".part", ".lock", ".ids", ".checkpoint"])
def test_a_name_a_run_keeps_beside_its_output_is_refused(
    suffix: str, source: Path, tmp_path: Path
) -> None:
    name = str(tmp_path / f"other.jsonl{suffix}")
    result = cli(str(source), "-o", str(tmp_path / "o.jsonl"), "--errors", name)
    assert result.exit_code == 2, result.output
    assert f"--errors {name} ends like the files a run keeps beside its outputs" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_the_summary_is_locked_like_the_outputs(source: Path, tmp_path: Path) -> None:
    """A run writing OUTPUT holds OUTPUT.lock: another run's --summary OUTPUT
    would replace those decisions at its end."""
    from followup.engine.batch._checkpoint import OutputLock

    busy = tmp_path / "a.jsonl"
    held = OutputLock(str(busy), str(busy))
    try:
        result = cli(str(source), "-o", str(tmp_path / "b.jsonl"), "--summary", str(busy))
    finally:
        held.release()
    assert result.exit_code == 2, result.output
    assert f"another followup batch is writing {busy} (pid {os.getpid()})" in result.stderr
    assert not busy.exists() and not (tmp_path / "b.jsonl").exists()


def test_a_part_file_replaced_by_another_program_is_not_renamed(tmp_path: Path) -> None:
    from followup.engine.batch._checkpoint import PartFile

    out = tmp_path / "o.jsonl"
    part = PartFile(str(out))
    part.write(b"mine\n")
    os.replace(_write(tmp_path / "theirs", b"theirs\n"), part.part)
    with pytest.raises(
        OutputError, match=r"was replaced by another program while this run wrote it"
    ):
        part.commit()
    assert not out.exists()
    assert Path(part.part).read_bytes() == b"theirs\n"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_resume_without_a_checkpoint_says_it_starts_over(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    result = cli(str(source), "-o", str(out), "--resume")
    assert result.exit_code == 1, result.output  # the cohort has broken rows
    assert (
        f"note: there is no interrupted run of {out} to resume (o.jsonl.checkpoint is missing); "
        "starting from the first row\n"
    ) in result.stderr


def test_a_resumed_run_counts_its_speed_in_its_own_time() -> None:
    from followup.engine.batch import BatchResult

    resumed = BatchResult(
        read=100, decided=100, errors=0, seconds=100.0, counters={}, duplicates={},
        resumed_at=90, run_seconds=2.0,
    )  # fmt: skip
    timing = resumed.summary()["timing"]
    assert (timing["seconds"], timing["rows_per_second"]) == (100.0, 5.0)


def test_a_lock_file_that_cannot_be_opened_is_named(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    (tmp_path / "o.jsonl.lock").mkdir()  # in the way of the lock file
    result = cli(str(source), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert f"cannot write {out}: cannot open its lock file {out}.lock (" in result.stderr
    assert not out.exists()


def test_the_duplicates_line_names_at_most_ten_rows(tmp_path: Path) -> None:
    source = tmp_path / "same.jsonl"
    row = json.dumps({"applicant_id": "SAME", "interview_at": "2026-01-05"})
    source.write_text((row + "\n") * 25, "utf-8")
    result = cli(str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 0, result.output
    assert (
        "duplicate applicant_ids: 1 (e.g. SAME at rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 15 more); "
        "see --summary for more\n"
    ) in result.stderr
