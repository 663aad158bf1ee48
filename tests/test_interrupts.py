"""Ctrl-C and SIGTERM at any moment of a command: one line, the right exit status,
no traceback, and never a finished run turned into an interrupted one.

* Every command: Ctrl-C says "interrupted" (exit 130), as ``followup batch`` and
  the entry point do, not Click's "Aborted!" (exit 1); SIGTERM ends it quietly.
* A signal while the CLI is still being imported (the first half second) is
  acted upon once the command starts: ``followup batch`` then says what it says
  for a signal a moment later, instead of ending silently with 143.
* A signal that comes once a batch is complete (its files renamed into place)
  does not change its result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import followup.cli.batch as cli_batch
from followup.cli import main as cli_main
from followup.cli.batch import batch_command
from followup.engine.batch import (
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    InputSpec,
    PolicyRef,
    Progress,
    _checkpoint,
    run_batch,
)
from tests.batch.batch_helpers import AS_OF, write_broken_cohort

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "final-round-finance.yaml"
ROWS = 400
FAILED = 8  # a broken line every 50 rows
SIGNALS = [signal.SIGINT, signal.SIGTERM]
#: a command that reads the facts from standard input: a pipe never closed
READING_STDIN = {
    "evaluate": ["evaluate", "-"],
    "explain": ["explain", "-"],
    "why-not": ["why-not", "thank-you", "-"],
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_broken_cohort(tmp_path_factory.mktemp("interrupts") / "cohort.jsonl", ROWS, 11, 50)


@pytest.fixture(autouse=True)
def _handlers_restored() -> Iterator[None]:
    """Whatever a test does, the test process keeps its own signal handlers."""
    before = [signal.getsignal(sig) for sig in SIGNALS]
    yield
    after = [signal.getsignal(sig) for sig in SIGNALS]
    for sig, handler in zip(SIGNALS, before, strict=True):
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    assert after == before


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Aborted" not in text, text


# --- 1. Ctrl-C and SIGTERM in every command -------------------------------------------------

#: runs the command as ``followup`` does (``followup._entry.main``), saying on
#: stdout "reading" just before it reads its facts from standard input
_READING = """
import os, sys
class _Buffer:
    def __init__(self, real):
        self._real = real
    def read(self, *args):
        os.write(1, b"reading\\n")
        return self._real.read(*args)
class _Stdin:
    def __init__(self, real):
        self._real = real
        self.buffer = _Buffer(real.buffer)
    def __getattr__(self, name):
        return getattr(self._real, name)
sys.stdin = _Stdin(sys.stdin)
from followup._entry import main
main()
"""


def _signal_while_reading(args: list[str], sig: int) -> tuple[int, str]:
    """Run ``followup ARGS`` with its standard input a pipe left open, and send it
    ``sig`` once it waits on that pipe; (exit status, stderr)."""
    with subprocess.Popen(
        [sys.executable, "-c", _READING, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        try:
            assert proc.stdout.readline() == b"reading\n"
            proc.send_signal(sig)
            proc.wait(timeout=60)  # its standard input still open: only the signal ends it
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, proc.stderr.read().decode()


@pytest.mark.parametrize("command", sorted(READING_STDIN))
def test_ctrl_c_in_a_command_says_interrupted_and_exits_130(command: str) -> None:
    code, err = _signal_while_reading(READING_STDIN[command], signal.SIGINT)
    assert (code, err) == (130, "interrupted\n")


@pytest.mark.parametrize("command", sorted(READING_STDIN))
def test_sigterm_in_a_command_ends_it_quietly(command: str) -> None:
    code, err = _signal_while_reading(READING_STDIN[command], signal.SIGTERM)
    assert (code, err) == (-signal.SIGTERM, "")


@pytest.mark.parametrize("command", sorted(READING_STDIN))
def test_ctrl_c_in_a_command_run_in_process(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same through Click's runner: the group says it, not Click's "Aborted!"."""
    import followup.cli
    import followup.cli.audit

    def interrupted(path: str) -> Any:
        raise KeyboardInterrupt

    for module in (followup.cli, followup.cli.audit):
        monkeypatch.setattr(module, "read_facts", interrupted)
    result = CliRunner().invoke(cli_main, READING_STDIN[command])
    assert (result.exit_code, result.stderr) == (130, "interrupted\n"), result.output


# --- 2. a signal while the CLI is imported ----------------------------------------------------

#: runs ``followup`` as its console script does, sending the signal argv[1]
#: names to itself as the CLI starts being imported (the slow part of starting)
_WHILE_IMPORTING = """
import os, signal, sys
sig = signal.Signals[sys.argv.pop(1)]
class _Hook:
    def find_spec(self, name, path=None, target=None):
        if name == "followup.cli.batch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), sig)
        return None
sys.meta_path.insert(0, _Hook())
from followup._entry import main
main()
"""


def _signal_while_importing(sig: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WHILE_IMPORTING, signal.Signals(sig).name, *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_the_batch_command_starts_says_so_and_leaves_nothing(
    sig: int, source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    done = _signal_while_importing(
        sig, "batch", str(source), "-o", str(out), "--errors", str(tmp_path / "errors.jsonl"),
        "--as-of", AS_OF, "--workers", "2", "--chunk-size", "25",
    )  # fmt: skip
    _no_traceback(done.stderr)
    assert (done.returncode, done.stderr) == (
        130,
        "interrupted before any row was evaluated; nothing was written; run it again\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_another_command_starts_says_interrupted() -> None:
    done = _signal_while_importing(signal.SIGINT, "evaluate", str(EXAMPLE))
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "interrupted\n")


def test_sigterm_while_another_command_starts_ends_it_quietly() -> None:
    done = _signal_while_importing(signal.SIGTERM, "evaluate", str(EXAMPLE))
    assert (done.returncode, done.stdout, done.stderr) == (-signal.SIGTERM, "", "")


def test_the_command_runs_as_usual_without_a_signal(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", "from followup._entry import main; main()", "batch",
         str(source), "-o", str(out), "--as-of", AS_OF, "-q", "--workers", "2"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"read {ROWS} = decided {ROWS - FAILED} + errors {FAILED}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


# --- 3. a signal once the run is complete ------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(
        batch_command, ["--as-of", AS_OF, "--quiet", "--chunk-size", "25", *args]
    )


def _completed_as_usual(result: Any, out: Path) -> None:
    _no_traceback(result.output)
    assert result.exit_code == 1, result.output
    assert result.stderr == f"read {ROWS} = decided {ROWS - FAILED} + errors {FAILED}\n"
    assert len(out.read_bytes().splitlines()) == ROWS - FAILED
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name, f"{out.name}.errors"]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_just_after_the_run_completed_changes_nothing(
    sig: int, workers: str, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes as ``run_batch`` returns, its files in place and its
    handlers given back: before the command could say how the run went."""
    real = cli_batch.run_batch

    def signalled_on_return(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        os.kill(os.getpid(), sig)
        return result

    monkeypatch.setattr(cli_batch, "run_batch", signalled_on_return)
    out = tmp_path / "out.jsonl"
    result = _cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--workers", workers)
    _completed_as_usual(result, out)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_the_completed_run_lets_go_of_its_locks_changes_nothing(
    sig: int, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes as the run releases the lock on its output, the last
    thing it does: the lock is still released, and the run ends as usual."""
    release = _checkpoint.OutputLock.release

    def signalled_release(self: Any) -> None:
        os.kill(os.getpid(), sig)
        release(self)

    monkeypatch.setattr(_checkpoint.OutputLock, "release", signalled_release)
    out = tmp_path / "out.jsonl"
    result = _cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--workers", "2")
    _completed_as_usual(result, out)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_once_every_row_is_written_changes_nothing(
    sig: int, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes as the run closes its reader, every row written and its
    checkpoint saver closed, before it renames its files: too late to stop it."""
    from followup.engine.batch import _runner

    real = _runner.read_chunks

    class Chunks:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._chunks = real(*args, **kwargs)

        def __iter__(self) -> Chunks:
            return self

        def __next__(self) -> Any:
            return next(self._chunks)

        def close(self) -> None:
            os.kill(os.getpid(), sig)
            self._chunks.close()

    monkeypatch.setattr(_runner, "read_chunks", Chunks)
    out = tmp_path / "out.jsonl"
    result = _cli(str(source), "-o", str(out), "--errors", f"{out}.errors", "--workers", "2")
    _completed_as_usual(result, out)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_after_the_run_stopped_does_not_change_what_it_says(
    sig: int, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after 100 rows, with a checkpoint: a further signal as
    ``run_batch`` gives up does not turn the message into "nothing was written"."""
    real = cli_batch.run_batch

    def interrupted(*args: Any, options: BatchOptions, **kwargs: Any) -> Any:
        def progress(p: Progress) -> None:
            if p.rows >= 100:
                raise KeyboardInterrupt

        kwargs["progress"] = progress
        options = BatchOptions(workers=2, chunk_size=25, checkpoint_seconds=0)
        try:
            return real(*args, options=options, **kwargs)
        except BatchInterrupted:
            os.kill(os.getpid(), sig)
            raise

    monkeypatch.setattr(cli_batch, "run_batch", interrupted)
    out = tmp_path / "out.jsonl"
    result = _cli(str(source), "-o", str(out), "--errors", f"{out}.errors")
    _no_traceback(result.output)
    assert (result.exit_code, result.stderr) == (
        130,
        f"interrupted after 100 rows; {out} was not written; "
        "run the same command with --resume to continue\n",
    )


def _job() -> BatchJob:
    return BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")


@pytest.mark.parametrize("stop", [False, True])
def test_run_batch_says_once_when_its_outcome_is_settled(
    stop: bool, source: Path, tmp_path: Path
) -> None:
    """``on_settled`` is called once, with interrupts ignored, when the run is
    complete (before its files are renamed) or is stopping."""
    calls: list[tuple[Any, Any, bool]] = []
    out = tmp_path / "out.jsonl"

    def settled() -> None:
        calls.append(
            (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), out.exists())
        )

    def progress(p: Progress) -> None:
        if stop and p.rows >= 100:
            raise KeyboardInterrupt

    kwargs: dict[str, Any] = {
        "output": str(out),
        "progress": progress,
        "on_settled": settled,
        "options": BatchOptions(workers=2, chunk_size=25, checkpoint_seconds=0),
    }
    if stop:
        with pytest.raises(BatchInterrupted):
            run_batch(InputSpec(str(source), "jsonl"), _job(), **kwargs)
    else:
        assert run_batch(InputSpec(str(source), "jsonl"), _job(), **kwargs).read == ROWS
    assert calls == [(signal.SIG_IGN, signal.SIG_IGN, False)]
    assert out.exists() is not stop


def test_run_batch_releases_its_locks_whatever_signal_comes(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Called without ``on_settled`` (Ctrl-C raising KeyboardInterrupt as usual):
    a Ctrl-C as the complete run releases its locks neither cuts the release
    short nor turns the run into an interrupted one."""
    release = _checkpoint.OutputLock.release

    def signalled_release(self: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        release(self)

    monkeypatch.setattr(_checkpoint.OutputLock, "release", signalled_release)
    out = tmp_path / "out.jsonl"
    try:
        result = run_batch(
            InputSpec(str(source), "jsonl"), _job(), output=str(out), errors=f"{out}.errors",
            options=BatchOptions(workers=2, chunk_size=25),
        )  # fmt: skip
    except KeyboardInterrupt:  # not to end the whole test session
        pytest.fail("the Ctrl-C came through as the run released its locks")
    assert (result.read, result.errors) == (ROWS, FAILED)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, f"{out.name}.errors"]
