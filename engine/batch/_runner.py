"""The batch loop: read chunks, evaluate them in parallel, write them in order.

At most ``window`` chunks are in flight, so memory is bounded by
``window * chunk_size`` rows whatever the size of the cohort; results are
taken back strictly in submission order, so the output is the same bytes for
any number of workers.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain, islice
from typing import IO, Any, Protocol

from .._errors import FollowupError
from .._rows import encode_id, flag_seen
from ._checkpoint import (
    Checkpoint,
    CheckpointMismatch,
    CheckpointSaver,
    OutputError,
    OutputLock,
    PartFile,
    UnfinishedRun,
    check_distinct,
    check_state,
    checkpoint_path,
    fd_identity,
    file_identity,
    ids_path,
    lock_path,
    output_target,
    part_path,
    remove_quietly,
    state_paths,
)
from ._job import COLLECTOR_THRESHOLDS, BatchJob, load_evaluator
from ._pool import OutputSpot, PoolExecutor, WorkerDied
from ._readers import InputSpec, RawChunk, UnreadableInput, read_chunks
from ._worker import ChunkResult, decode_id, evaluate_chunk
from ._writers import csv_header

__all__ = [
    "BatchInterrupted",
    "BatchOptions",
    "BatchResult",
    "Executor",
    "Pending",
    "Progress",
    "UnfinishedRun",
    "check_outputs",
    "run_batch",
]

_MAX_DUPLICATE_EXAMPLES = 100


class BatchInterrupted(FollowupError):
    """The run was interrupted; what was completed is kept for ``--resume``."""

    def __init__(self, rows: int, resumable: bool) -> None:
        self.rows = rows
        self.resumable = resumable
        super().__init__(f"interrupted after {rows} rows")


class Pending(Protocol):
    def result(self) -> ChunkResult: ...


class Executor(Protocol):
    """Runs ``evaluate_chunk`` somewhere: in-process, a process pool or Dask."""

    window: int

    def submit(self, job: BatchJob, chunk: RawChunk) -> Pending: ...

    def shutdown(self, cancel: bool) -> None: ...


@dataclass(frozen=True)
class BatchOptions:
    """How to run (none of it changes the output's bytes).

    Attributes:
        workers: processes evaluating chunks; 1 evaluates in this process.
        chunk_size: rows per chunk.
        max_errors: stop once this many rows failed (None: never).
        resume: continue the interrupted run writing the same output.
        restart: discard the interrupted run writing the same output, if
            any, and start over. With neither, a run whose output has an
            interrupted run is refused (``UnfinishedRun``), so that what
            it saved is never thrown away unasked.
        checkpoint_seconds: how often the checkpoint is renewed.
    """

    workers: int = 1
    chunk_size: int = 1000
    max_errors: int | None = None
    resume: bool = False
    checkpoint_seconds: float = 1.0
    restart: bool = False


@dataclass(frozen=True)
class Progress:
    """Reported to the progress callback after each chunk written.

    Attributes:
        rows: rows read so far (including rows done before a resume).
        errors: failed rows so far.
        position: input bytes consumed (0 when unknown).
        total: input size in bytes, or None when unknown (a stream).
        elapsed: seconds since this run started.
        start_rows: rows already done when this run started (resume).
    """

    rows: int
    errors: int
    position: int
    total: int | None
    elapsed: float
    start_rows: int


@dataclass
class BatchResult:
    """The outcome of a run; ``summary()`` is what ``--summary`` writes."""

    read: int
    decided: int
    errors: int
    seconds: float
    counters: dict[str, int]
    duplicates: dict[str, list[int]]
    stopped_early: str | None = None
    resumed_at: int = 0
    workers: int = 1
    as_of: str = ""
    policy: dict[str, str] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float | None] = field(default_factory=dict)
    #: seconds of this run alone (``seconds`` adds those of the runs it resumed)
    run_seconds: float | None = None

    def summary(self) -> dict[str, Any]:
        """Counts per action and status, per rule, per error code, and timing."""
        actions: dict[str, dict[str, int]] = {}
        next_actions: dict[str, dict[str, int]] = {}
        rules: dict[str, int] = {}
        codes: dict[str, int] = {}
        nothing = 0
        for key in sorted(self.counters):
            count = self.counters[key]
            kind, _, rest = key.partition("|")
            if key == "n|":
                nothing = count
            elif kind in ("a", "n"):
                action, _, status = rest.partition("|")
                target = actions if kind == "a" else next_actions
                target.setdefault(action, {})[status] = count
            elif kind == "r":
                rules[rest] = count
            elif kind == "e":
                codes[rest] = count
        examples = [
            {"applicant_id": aid, "rows": rows}
            for aid, rows in list(self.duplicates.items())[:_MAX_DUPLICATE_EXAMPLES]
        ]
        this_run = self.read - self.resumed_at  # rows read by this run, in its own time
        own = self.seconds if self.run_seconds is None else self.run_seconds
        return {
            "read": self.read,
            "decided": self.decided,
            "errors": self.errors,
            "stopped_early": self.stopped_early,
            "as_of": self.as_of,
            "policy": self.policy,
            "actions": actions,
            "next_actions": next_actions,
            "without_recommendations": nothing,
            "rules_fired": rules,
            "error_codes": codes,
            "duplicates": {
                "applicant_ids": len(self.duplicates),
                "rows": sum(len(rows) for rows in self.duplicates.values()),
                "examples": examples,
            },
            "timing": {
                "seconds": round(self.seconds, 3),
                "rows_per_second": round(this_run / own, 1) if own > 0 else None,
                "resumed_at_row": self.resumed_at,
                "workers": self.workers,
                "peak_rss_mb": self.peak_rss_mb,
                "cpu_seconds": self.cpu_seconds,
            },
        }


# --- executors ---------------------------------------------------------------


class _Done:
    def __init__(self, value: ChunkResult) -> None:
        self._value = value

    def result(self) -> ChunkResult:
        return self._value


class _Later:
    """Evaluates on ``result()``, so an in-process run holds one chunk at a time."""

    def __init__(self, job: BatchJob, chunk: RawChunk) -> None:
        self._job, self._chunk = job, chunk

    def result(self) -> ChunkResult:
        return evaluate_chunk(self._job, self._chunk)


class InlineExecutor:
    """Evaluates chunks in this process."""

    window = 1

    def submit(self, job: BatchJob, chunk: RawChunk) -> Pending:
        return _Later(job, chunk)

    def shutdown(self, cancel: bool) -> None:
        return None


# --- the run -----------------------------------------------------------------


class _Stop(Exception):
    pass


def default_as_of() -> str:
    """Now, in UTC to the second: fixed once per run so every row shares it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _fingerprint(
    source: InputSpec,
    job: BatchJob,
    policy_sha: str,
    explicit_as_of: bool,
    errors: str | None,
    state_dir: str,
    policy_id: str = "",
) -> dict[str, Any]:
    """What the run is: a resume must be the same run (see ``_check_same_run``).

    The input and errors file are recorded by their absolute paths, and by
    their paths from the folder of the run's state (beside OUTPUT): a folder
    moved whole, with its input, output and errors file, resumes. ``policy_id``
    (NAME@VERSION of the policy loaded) is recorded to be shown, not compared:
    the policy's digest covers it.
    """
    stat = os.stat(source.path)
    errors_file = os.path.abspath(errors) if errors else None
    input_file = os.path.abspath(source.path)
    return {
        "errors_file": errors_file,
        "errors_file_rel": os.path.relpath(errors_file, state_dir) if errors_file else None,
        "input": input_file,
        "input_rel": os.path.relpath(input_file, state_dir),
        "input_size": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "input_format": source.format,
        "policy": job.policy.policy,
        "policy_version": job.policy.version,
        "policy_sha256": policy_sha,
        "policy_id": policy_id,
        "backend": job.policy.backend,
        "trace": job.trace,
        "output_format": job.output_format,
        "as_of": job.as_of if explicit_as_of else None,
    }


def _id_line(applicant_id: str) -> bytes:
    """The id's line in the ids file (without its newline): what the duplicate check hashes."""
    return encode_id(applicant_id)[:-1].encode("utf-8", "surrogateescape")


# How many ids-file lines a resume hashes at a time.
_RESTORE_BATCH = 10_000
#: the duplicate check's bitmap: 2**27 bits (16 MiB), so at a million ids under
#: one in a hundred bits is set and few ids need a closer look
_SEEN_BYTES = 1 << 24
_SEEN_MASK = (_SEEN_BYTES << 3) - 1


class _Run:
    """The mutable state of one run; ``commit`` writes one chunk's result."""

    def __init__(
        self,
        output: PartFile | None,
        stream: IO[bytes] | None,
        errors: PartFile | None,
        on_error: Callable[[str], None] | None,
        ids: IO[bytes] | None,
        max_errors: int | None,
    ) -> None:
        self.output, self.stream, self.errors_file = output, stream, errors
        self.on_error, self.ids, self.max_errors = on_error, ids, max_errors
        self.rows = self.decided = self.errors = 0
        self.ids_bytes = 0
        self.counters: Counter[str] = Counter()
        # Duplicate ids, in memory that does not grow with the cohort: a bitmap of
        # the ids' hashes says which may have been seen; only those (a few in a
        # hundred at a million rows) are remembered, and the rows of each are
        # found at the end in ``order``, the hash of every row's id (8 bytes a row).
        self.seen = bytearray(_SEEN_BYTES)
        self.maybe: dict[int, str] = {}  # hash -> id of every id whose bit was already set
        self.order = array("q")
        self.stopped: str | None = None
        # False while a chunk is half-written: a checkpoint then would lie.
        self.consistent = True

    def restore(self, cp: Checkpoint, id_lines: Iterator[bytes]) -> None:
        self.rows, self.decided, self.errors = cp.rows, cp.decided, cp.errors
        self.ids_bytes = cp.ids_bytes
        self.counters.update(cp.counters)
        while batch := [line.rstrip(b"\n") for line in islice(id_lines, _RESTORE_BATCH)]:
            self._note_ids(batch)

    def _note_ids(self, lines: Sequence[bytes]) -> None:
        """Add rows' ids (ids-file lines, b"" for none) to the duplicate check."""
        hashes = list(map(hash, lines))  # hash(b"") == 0: a row without an id
        self.order.extend(hashes)
        maybe = self.maybe
        for i in flag_seen(hashes, lines, self.seen, _SEEN_MASK):
            h = hashes[i]
            if h not in maybe:
                aid = decode_id(lines[i])
                if aid is not None:
                    maybe[h] = aid

    def commit(self, result: ChunkResult) -> None:
        self.consistent = False
        count = result.count
        errors = result.errors
        if self.max_errors is not None and self.errors + len(errors) >= self.max_errors:
            allowed = self.max_errors - self.errors
            if allowed <= 0:
                count = 0
                errors = []
            else:
                count = errors[allowed - 1][0] + 1
                errors = errors[:allowed]
            self.stopped = (
                f"stopped after {self.max_errors} errors (--max-errors) at row {self.rows + count}"
            )
        if result.placed_at is not None:  # written in the output file by a worker
            if self.output is None or result.placed_at != self.output.size:
                raise RuntimeError(
                    f"rows {self.rows + 1}-{self.rows + count} were written at byte "
                    f"{result.placed_at} of the output, not at its end"
                )
            self.output.advance(result.size(count))
        elif self.output is not None:
            self.output.write(result.prefix(count))
        elif self.stream is not None:
            self.stream.write(result.prefix(count))
        if errors:
            text = "".join(line for _, line, _ in errors)
            if self.errors_file is not None:
                self.errors_file.write(text.encode("utf-8"))
            if self.on_error is not None:
                for _, line, _ in errors:
                    self.on_error(line)
            self.counters.update(f"e|{code}" for _, _, codes in errors for code in codes)
        # segment k counts the decided rows before failed row k: a chunk cut
        # right after failed row k adds segments 0..k, a whole chunk all of them
        segments = result.counters if count == result.count else result.counters[: len(errors)]
        for segment in segments:
            self.counters.update(segment)
        lines = result.id_lines.split(b"\n")
        del lines[count:]
        self._note_ids(lines)
        if self.ids is not None:
            data = (
                result.id_lines
                if count == result.count
                else b"".join(line + b"\n" for line in lines)
            )
            self.ids.write(data)
            self.ids_bytes += len(data)
        self.rows += count
        self.errors += len(errors)
        self.decided += count - len(errors)
        self.consistent = True
        if self.stopped:
            raise _Stop

    def first_rows(self) -> dict[str, list[int]]:
        """Every id found on more than one row, with all its rows, in the order the
        repeats were met."""
        maybe = self.maybe
        if not maybe:
            return {}
        rows: dict[int, list[int]] = {}
        for index, h in enumerate(self.order):
            if h in maybe:
                rows.setdefault(h, []).append(index + 1)
        repeated = sorted((found for found in rows.values() if len(found) > 1), key=lambda r: r[1])
        return {maybe[self.order[found[0] - 1]]: found for found in repeated}


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) so far of this process and of its reaped children."""
    import resource  # (here: POSIX only, and a batch runs on Linux and macOS only)

    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def _cpu_since(start: tuple[float, float], *, local: bool) -> dict[str, float | None]:
    """This run's CPU seconds: the main process, and the worker processes it
    started (None when the chunks were evaluated elsewhere, e.g. on Dask)."""
    now = _cpu_seconds()
    return {
        "main": round(now[0] - start[0], 2),
        "workers": round(now[1] - start[1], 2) if local else None,
    }


def _peak_rss_mb() -> dict[str, float]:
    # the children's figure is the largest reaped worker
    import resource

    main = _own_peak_kib() or _max_rss_kib(resource.RUSAGE_SELF)
    workers = _max_rss_kib(resource.RUSAGE_CHILDREN) / 1024
    return {"main": round(main / 1024, 1), "largest_worker": round(workers, 1)}


def _max_rss_kib(who: int) -> float:
    """``ru_maxrss`` in KiB: Linux gives KiB, macOS bytes."""
    import resource

    peak: float = resource.getrusage(who).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else peak


def _own_peak_kib() -> int | None:
    """This program's peak RSS (Linux ``VmHWM``), None where /proc has no such line.

    ``ru_maxrss`` survives fork and exec: started by a big process (a benchmark
    holding a cohort, a notebook), a batch would report that process's peak as
    its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep what exists now (the compiled policy above all) out of the collector's
    passes while the batch runs: in this process and in workers forked from it."""
    if gc.get_freeze_count():  # someone else froze the heap: theirs to undo
        yield
        return
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_batch(
    source: InputSpec,
    job: BatchJob,
    *,
    output: str | None,
    stream: IO[bytes] | None = None,
    errors: str | None = None,
    on_error: Callable[[str], None] | None = None,
    options: BatchOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    executor: Executor | None = None,
    on_settled: Callable[[], None] | None = None,
) -> BatchResult:
    """Evaluate every row of ``source`` and write the decisions in input order.

    Args:
        source: the cohort.
        job: policy, trace level, default as_of ("" means now) and output format.
        output: file to write atomically (with checkpoints), or None to write
            ``stream`` as results come. A symlink is followed: its target is
            replaced and the link kept.
        stream: binary stream used when ``output`` is None.
        errors: JSONL file for failed rows (written atomically), or None.
        on_error: called with each error line (JSON text), e.g. to show it.
        options: workers, chunk size, max errors, resume.
        progress: called after each chunk written.
        executor: where to evaluate chunks; default from ``options.workers``.
        on_settled: called once the outcome is known: the run is complete
            (before it renames its files), or it is stopping (interrupted, a
            worker died) or failed. From then until ``run_batch`` returns or
            raises, Ctrl-C and SIGTERM are ignored; it is called while they
            are, so that a caller can ignore them from then on too: a signal
            that comes as ``run_batch`` gives its handlers back is too late to
            change the outcome. Not called when the run fails as it starts
            (checking its options, loading its policy).

    Returns:
        The counts, duplicates and timing of the run.

    Raises:
        UnreadableInput: the input cannot be read.
        CheckpointMismatch: ``resume`` for a checkpoint of another run, or a
            damaged one.
        OutputError: an output cannot be written, is not a regular file, is
            the input or another output, or another run is writing it.
        BatchInterrupted: Ctrl-C or SIGTERM, at any moment; a file output is
            resumable once a checkpoint was saved.
        WorkerDied: a worker process died (killed, out of memory); what was
            written is kept, like an interruption, and a file output is resumable.
        PolicyError, PolicyNotFound: the policy does not load.
    """
    options = options or BatchOptions()
    started = time.monotonic()
    cpu_at_start = _cpu_seconds()
    # ``finishing`` holds what lasts until the run returns: the locks on its
    # output files. ``quiet`` holds, once the outcome is known (the run is
    # complete and renames its files, or it is stopping), the ignoring of
    # interrupts, which are too late then to change anything; it is let go
    # of last, once the locks are released.
    settled = False
    with contextlib.ExitStack() as quiet, contextlib.ExitStack() as finishing:

        def settle() -> None:
            """The outcome is known: interrupts are ignored from now on."""
            nonlocal settled
            if not settled:
                quiet.enter_context(_interrupts_ignored())
                settled = True
                if on_settled is not None:
                    on_settled()

        try:
            load_evaluator(job.policy)
            with _frozen_heap():
                result = _run(
                    source, job, output, stream, errors, on_error, options, progress,
                    executor, started, finishing, settle,
                )  # fmt: skip
        except KeyboardInterrupt as exc:
            # Before the run took stock (loading the policy), or while it was
            # already stopping: what is on disk stands, and says whether
            # --resume continues.
            settle()
            raise BatchInterrupted(*_kept(source, output)) from exc
        result.cpu_seconds = _cpu_since(cpu_at_start, local=executor is None)
        return result


def _kept(source: InputSpec, output: str | None) -> tuple[int, bool]:
    """The rows a resume would continue from, and whether there is a checkpoint."""
    if output is None or not source.is_file:
        return 0, False
    target = os.path.realpath(output) if os.path.islink(output) else output
    checkpoint = Checkpoint.load(checkpoint_path(target))
    return (checkpoint.rows, True) if checkpoint is not None else (0, False)


def check_outputs(
    source: InputSpec,
    output: str | None,
    errors: str | None,
    summary: str | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Check at start-up where the output, the errors file and the summary go.

    Each is written to ``FILE.part`` and renamed at the end, so each must be a
    regular file (or not exist yet); a symlink stands for its target, which is
    replaced while the link is kept.

    Args:
        source: the input (never to be written).
        output: the output file, or None for a stream.
        errors: the errors file, or None.
        summary: the summary file the caller writes at the end, or None.

    Returns:
        The files the three really are (a symlink's target), None where None.

    Raises:
        OutputError: one is not a regular file (a device, a FIFO), or is the
            input, or is another one of them (also under another name).
    """
    target = err_target = sum_target = None
    claims: list[tuple[str, str, Sequence[str]]] = []
    if output is not None:
        target = output_target(output, "-o", "the output", "-o - for standard output")
        claims.append((f"-o {output}", output, state_paths(target)))
    if errors is not None:
        err_target = output_target(
            errors, "--errors", "the errors file", "--errors - for standard error"
        )
        claims.append(
            (
                f"--errors {errors}",
                errors,
                (err_target, part_path(err_target), lock_path(err_target)),
            )
        )
    if summary is not None:
        sum_target = output_target(
            summary, "--summary", "the summary", "--summary - for standard output"
        )
        claims.append((f"--summary {summary}", summary, (sum_target, part_path(sum_target))))
    if source.is_file:
        identity = file_identity(source.path)
    else:
        try:
            identity = fd_identity(source.stream.fileno()) if source.stream is not None else None
        except (OSError, ValueError, AttributeError):  # not a file descriptor (e.g. BytesIO)
            identity = None
    check_distinct(identity, source.path if source.is_file else "read on standard input", claims)
    return target, err_target, sum_target


def _run(
    source: InputSpec,
    job: BatchJob,
    output: str | None,
    stream: IO[bytes] | None,
    errors: str | None,
    on_error: Callable[[str], None] | None,
    options: BatchOptions,
    progress: Callable[[Progress], None] | None,
    executor: Executor | None,
    started: float,
    finishing: contextlib.ExitStack,
    settle: Callable[[], None],
) -> BatchResult:
    resumable = output is not None and source.is_file
    if options.resume and options.restart:
        raise CheckpointMismatch(
            "--resume and --restart cannot go together: --resume goes on with the interrupted "
            "run, --restart discards it and starts over"
        )
    if options.resume and not resumable:
        raise CheckpointMismatch(
            "--resume needs an input file and an output file (-o), not a stream"
        )
    if resumable and not os.path.exists(source.path):
        raise UnreadableInput(f"cannot read {source.path}: no such file")
    # ``output`` and ``errors`` are the files as the user named them, ``target``
    # and ``err_target`` the files they are (a symlink's target)
    target, err_target, _ = check_outputs(source, output, errors)
    # one run at a time writes a file: the output, and the errors file too;
    # the locks are released when run_batch returns
    if target is not None:
        finishing.callback(OutputLock(target, output or target).release)
    if err_target is not None:
        finishing.callback(OutputLock(err_target, errors or err_target).release)
    cp_path = checkpoint_path(target) if target else None
    policy = load_evaluator(job.policy)
    explicit_as_of = bool(job.as_of)
    resumable = target is not None and source.is_file

    checkpoint: Checkpoint | None = None
    fingerprint: dict[str, Any] = {}
    if resumable:
        fingerprint = _fingerprint(
            source,
            job,
            policy.sha256,
            explicit_as_of,
            errors,
            os.path.dirname(cp_path or ""),
            f"{policy.name}@{policy.version}",
        )
    if cp_path and output and not options.resume and not options.restart:
        _refuse_unfinished(cp_path, output, fingerprint)  # before anything is touched
    if options.resume and cp_path and target and output:
        checkpoint = _load_checkpoint(cp_path, output)
        if checkpoint is not None:
            _check_same_run(checkpoint, fingerprint)
            _check_max_errors(checkpoint, options.max_errors)
            files = {
                "output": (part_path(target), part_path(output)),
                "ids": (ids_path(target), ids_path(output)),
            }
            if err_target is not None and errors is not None:
                files["errors"] = (part_path(err_target), part_path(errors))
            check_state(checkpoint, files)
            job = replace(job, as_of=checkpoint.as_of)
    if not job.as_of:
        job = replace(job, as_of=default_as_of())
    started_at = (
        checkpoint.started
        if checkpoint is not None and checkpoint.started
        else datetime.now(UTC).replace(microsecond=0).isoformat()
    )
    # The input's header (and its first rows) are read before any file is
    # touched: input that cannot be read leaves an interrupted run as it was.
    chunks = read_chunks(
        source, options.chunk_size, skip=checkpoint.rows if checkpoint is not None else 0
    )
    first = _first_chunk(chunks)
    try:
        if checkpoint is None and cp_path and target:
            if options.restart:
                _discard_unfinished(target, err_target)
            remove_quietly(cp_path)  # a stale one goes before the files it describes are emptied
    except BaseException:
        chunks.close()
        raise

    out_file: PartFile | None = None
    err_file: PartFile | None = None
    ids_fh: IO[bytes] | None = None
    run: _Run | None = None
    saver: CheckpointSaver | None = None
    ready = False  # set up: from here a checkpoint of the run can be made
    prior = 0.0
    start_rows = 0

    def checkpoint_now() -> Checkpoint | None:
        """The checkpoint of what is written so far (handed to the system first)."""
        if not (out_file and ids_fh and run):
            return None
        out_file.flush()
        ids_fh.flush()
        if err_file is not None:
            err_file.flush()
        return Checkpoint(
            fingerprint=fingerprint,
            as_of=job.as_of,
            rows=run.rows,
            decided=run.decided,
            errors=run.errors,
            output_bytes=out_file.size,
            errors_bytes=err_file.size if err_file else 0,
            ids_bytes=run.ids_bytes,
            counters=dict(run.counters),
            elapsed=prior + time.monotonic() - started,
            started=started_at,
        )

    try:
        if target is not None:
            out_file = PartFile(
                target, resume_at=checkpoint.output_bytes if checkpoint else None, name=output
            )
            if checkpoint is None and job.output_format == "csv":
                out_file.write(csv_header().encode("utf-8"))
            ids_fh = _open_ids(target, checkpoint.ids_bytes if checkpoint else None)
        elif stream is not None and job.output_format == "csv":
            stream.write(csv_header().encode("utf-8"))
        if err_target is not None:
            err_file = PartFile(
                err_target, resume_at=checkpoint.errors_bytes if checkpoint else None, name=errors
            )

        run = _Run(out_file, stream, err_file, on_error, ids_fh, options.max_errors)
        if checkpoint is not None and target is not None:
            with open(ids_path(target), "rb") as fh:
                run.restore(checkpoint, iter(fh))
            prior = checkpoint.elapsed
        start_rows = run.rows

        if cp_path and out_file and ids_fh:
            named: dict[str, Any] = {"output": out_file, "ids": ids_fh}
            if err_file is not None:
                named["errors"] = err_file
            saver = CheckpointSaver(cp_path, list(named.values()), named)

        if executor is None:
            executor = _executor(options.workers, job, out_file)
        total = source.size()
        pending: deque[tuple[Pending, int]] = deque()
        last_saved = time.monotonic()
        ready = True

        def commit_next() -> None:
            nonlocal last_saved
            assert run is not None and executor is not None
            handle, position = pending.popleft()
            run.commit(handle.result())
            now = time.monotonic()
            if progress is not None:
                progress(Progress(run.rows, run.errors, position, total, now - started, start_rows))
            if now - last_saved >= options.checkpoint_seconds:
                checkpoint = checkpoint_now()
                if saver is not None and checkpoint is not None:
                    with _saving(output):
                        saver.submit(checkpoint)
                last_saved = now

        stopped = False
        try:
            for chunk in chain((first,) if first is not None else (), chunks):
                pending.append((executor.submit(job, chunk), chunk.position))
                if len(pending) >= executor.window:
                    commit_next()
            while pending:
                commit_next()
        except _Stop:
            stopped = True
        executor.shutdown(cancel=stopped)
        if saver is not None:
            with _saving(output):
                saver.close()  # its failure is the run's
        if stream is not None:
            stream.flush()
        # The run is complete: from here an interrupt is too late to stop
        # anything, and must never leave half of the files renamed.
        settle()
    except (KeyboardInterrupt, WorkerDied) as exc:
        # Stopped from outside (Ctrl-C, SIGTERM, a worker killed): keep what
        # was written for --resume. A second Ctrl-C (or a signal sent to the
        # whole process group, as `timeout` does) waits until this is done.
        settle()
        if executor is not None:
            executor.shutdown(cancel=True)
        rows = checkpoint.rows if checkpoint is not None else 0
        if saver is not None:
            last = checkpoint_now() if ready and run is not None and run.consistent else None
            nothing_done = last is not None and last.rows == 0
            if last is not None and not nothing_done:
                with _saving(output):
                    saver.save_now(last)
            else:  # the last checkpoint stands; resume truncates past it
                with contextlib.suppress(Exception):
                    saver.close()
                if nothing_done and cp_path is not None:
                    # not a row written, in this run or one it resumes: nothing
                    # to resume from, so nothing is left behind
                    remove_quietly(cp_path)
        if ready and run is not None:
            rows = run.rows
        kept = resumable and cp_path is not None and os.path.exists(cp_path)
        for f in (out_file, err_file):
            if f is not None:
                if kept:
                    f.close()
                else:
                    f.discard()
        if target is not None:
            if kept:
                if ids_fh is not None:
                    ids_fh.close()
            else:  # nothing to resume from: leave nothing behind
                _remove_state(target, ids_fh)
        if isinstance(exc, WorkerDied):
            raise exc.stopped_after(rows, kept, output) from exc
        raise BatchInterrupted(rows, kept) from exc
    except BaseException:
        settle()
        if executor is not None:
            executor.shutdown(cancel=True)
        if saver is not None:
            with contextlib.suppress(Exception):
                saver.close()
        if not ready and checkpoint is not None:
            # a resume that could not start: what the interrupted run kept stands
            for f in (out_file, err_file):
                if f is not None:
                    f.close()
            if ids_fh is not None:
                ids_fh.close()
            raise
        for f in (out_file, err_file):
            if f is not None:
                f.discard()
        if target is not None:
            _remove_state(target, ids_fh)
        raise
    finally:
        chunks.close()

    if err_file is not None:
        err_file.commit()
    if out_file is not None and target is not None:
        out_file.commit()
        _remove_state(target, ids_fh)
    assert run is not None
    return BatchResult(
        read=run.rows,
        decided=run.decided,
        errors=run.errors,
        seconds=prior + time.monotonic() - started,
        run_seconds=time.monotonic() - started,
        counters=dict(run.counters),
        duplicates=run.first_rows(),
        stopped_early=run.stopped,
        resumed_at=start_rows,
        workers=options.workers,
        as_of=job.as_of,
        policy={"name": policy.name, "version": policy.version, "sha256": policy.sha256},
        peak_rss_mb=_peak_rss_mb(),
    )


@contextlib.contextmanager
def _saving(output: str | None) -> Iterator[None]:
    """A checkpoint that cannot be saved (disk full...) is a failure to write the output."""
    try:
        yield
    except OSError as exc:
        raise OutputError(
            f"cannot write {output}: saving its checkpoint failed: {exc.strerror or exc}"
        ) from exc


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored (in ``run_batch``, until it returns or raises).

    Once a run is complete and puts its files in place, an interrupt is too late
    to stop anything and must not leave the errors file renamed and OUTPUT not:
    the run ends as usual. Once a run is stopping, a second one must not cut
    short the saving of its checkpoint or the stopping of its workers. Nor
    may one cut short the release of the locks on the run's files, which
    comes after both.
    """
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = [signal.signal(sig, signal.SIG_IGN) for sig in signals]
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        for sig, handler in zip(signals, previous, strict=True):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _executor(workers: int, job: BatchJob, out_file: PartFile | None) -> Executor:
    if workers <= 1:
        return InlineExecutor()
    spot = None
    if out_file is not None:  # the workers write the output themselves, after what is there
        out_file.flush()
        spot = OutputSpot(out_file.part, out_file.size, out_file.name)
    return PoolExecutor(workers, job, spot)


def _open_ids(output: str, resume_at: int | None) -> IO[bytes]:
    path = ids_path(output)
    if resume_at is None:
        remove_quietly(path)  # a new file, never whatever the name held
        return open(path, "w+b")  # readable too: the checkpoint records a digest of it
    fh = open(path, "r+b")  # noqa: SIM115
    fh.truncate(resume_at)
    fh.seek(resume_at)
    return fh


def _remove_state(output: str, ids_fh: IO[bytes] | None) -> None:
    if ids_fh is not None:
        ids_fh.close()
    remove_quietly(ids_path(output))
    remove_quietly(checkpoint_path(output))


def _first_chunk(chunks: Generator[RawChunk, None, None]) -> RawChunk | None:
    """The first chunk (None: no rows); what cannot be read is raised now."""
    try:
        return next(chunks, None)
    except BaseException:
        chunks.close()
        raise


#: how a resume refused says to start over instead (without --resume the run is
#: refused too, see ``_refuse_unfinished``)
_RESTART = "run it with --restart instead of --resume to start over"


def _when(iso: str) -> str:
    """An ISO moment (UTC) as a person reads it: local time, to the minute."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _refuse_unfinished(cp_path: str, output: str, fingerprint: dict[str, Any]) -> None:
    """Refuse to start over, unasked, where an interrupted run left its
    checkpoint: its work would be thrown away.

    Raises:
        UnfinishedRun: naming the rows done, when the run started, and the two
            ways on (``--resume`` or ``--restart``); or, when this run's input
            or options differ from the interrupted one's (so that ``--resume``
            would be refused), what differs and ``--restart``.
    """
    if not os.path.lexists(cp_path):
        return
    checkpoint = Checkpoint.load(cp_path)
    if checkpoint is None:
        raise UnfinishedRun(
            f"{output} has an interrupted run, but its checkpoint "
            f"{checkpoint_path(output)} cannot be read (it is damaged, or was written by "
            "another version of followup): add --restart to discard it and start over"
        )
    if checkpoint.started:
        when = f"started {_when(checkpoint.started)}"
    else:  # a checkpoint from before the start was recorded: when it was saved
        try:
            saved = datetime.fromtimestamp(os.stat(cp_path).st_mtime, UTC)
            when = f"last saved {_when(saved.isoformat())}"
        except OSError:
            when = ""
    done = f"{checkpoint.rows:,} row{'' if checkpoint.rows == 1 else 's'} done"
    if fingerprint:
        try:
            _check_same_run(checkpoint, fingerprint)
        except CheckpointMismatch as exc:
            detail = (
                str(exc)
                .removeprefix("cannot resume: ")
                .replace(f"; or {_RESTART}", "; or add --restart to discard it and start over")
            )
            raise UnfinishedRun(
                f"{output} has an interrupted run ({done}{', ' + when if when else ''}) "
                f"that this one cannot go on with: {detail}"
            ) from None
    raise UnfinishedRun(
        f"{output} has an interrupted run ({done}{', ' + when if when else ''}): add --resume "
        f"to go on from row {checkpoint.rows + 1:,}, or --restart to start over"
    )


def _discard_unfinished(target: str, err_target: str | None) -> None:
    """``--restart``: remove what an interrupted run writing ``target`` kept (its
    checkpoint is removed after): the output's ``.part``, the ids, and the
    ``.part`` of the errors file it wrote, when that is not this run's (this
    run's own is started anew) and no other run writes it now."""
    checkpoint = Checkpoint.load(checkpoint_path(target))
    old_errors = checkpoint.fingerprint.get("errors_file") if checkpoint is not None else None
    if isinstance(old_errors, str):
        old_target = os.path.realpath(old_errors) if os.path.islink(old_errors) else old_errors
        if err_target is None or os.path.realpath(old_target) != os.path.realpath(err_target):
            try:
                lock = OutputLock(old_target, old_errors)
            except OutputError:  # another run writes it now: it is that run's
                pass
            else:
                remove_quietly(part_path(old_target))
                lock.release()
    remove_quietly(part_path(target))
    remove_quietly(ids_path(target))


def _load_checkpoint(path: str, output: str) -> Checkpoint | None:
    """The checkpoint to resume from; None when there is none (the run starts over).

    Raises:
        CheckpointMismatch: there is one, but it cannot be read.
    """
    checkpoint = Checkpoint.load(path)
    if checkpoint is None and os.path.lexists(path):
        raise CheckpointMismatch(
            f"cannot resume: {checkpoint_path(output)} is damaged or was written by another "
            f"version of followup; {_RESTART}"
        )
    return checkpoint


def _check_max_errors(checkpoint: Checkpoint, max_errors: int | None) -> None:
    """A resume gives what a run not interrupted gives: with ``--max-errors N``
    that run stops at its Nth failed row, so one that met N already cannot go on."""
    if max_errors is None or checkpoint.errors < max_errors:
        return
    raise CheckpointMismatch(
        f"cannot resume with --max-errors {max_errors}: the interrupted run had already met "
        f"{checkpoint.errors} failed rows (a run not interrupted would have stopped at the "
        f"{max_errors}th); resume with --max-errors {checkpoint.errors + 1} or more, or without "
        f"it, or {_RESTART}"
    )


#: fingerprint keys a policy's digest covers (its file holds its name and version)
_NAMED_BY_DIGEST = ("policy", "policy_version")
#: fingerprint keys recorded to be shown, never compared
_SHOWN_ONLY = ("policy_id",)
#: fingerprint keys recorded as an absolute path and as one from the run's folder:
#: the file is the same when either is
_PATHS = ("input", "errors_file")
#: what each fingerprint key is, in words; those of one thing are said together
_FINGERPRINT_WORDS: dict[str, tuple[str, str]] = {
    "input": ("input file", "its path"),
    "input_size": ("input file", "its size"),
    "input_mtime_ns": ("input file", "its modification time"),
    "input_format": ("input format", ""),
    "errors_file": ("errors file (--errors)", ""),
    "policy": ("policy", "its name"),
    "policy_version": ("policy", "its version"),
    "policy_sha256": ("policy", "its content"),
    "backend": ("backend", ""),
    "trace": ("trace", ""),
    "output_format": ("output format", ""),
    "as_of": ("as_of", ""),
}
#: fingerprint keys whose values are options worth showing: the option that sets each
_OPTIONS = {
    "errors_file": "--errors",
    "backend": "--backend",
    "trace": "--trace",
    "output_format": "--output-format",
}


def _check_same_run(checkpoint: Checkpoint, fingerprint: dict[str, Any]) -> None:
    old = checkpoint.fingerprint
    same_policy = old.get("policy_sha256") is not None and old.get(
        "policy_sha256"
    ) == fingerprint.get("policy_sha256")
    ignored = {
        "as_of",
        *_SHOWN_ONLY,
        *(_NAMED_BY_DIGEST if same_policy else ()),
        *(key + "_rel" for key in _PATHS),
    }
    for key in _PATHS:
        rel = key + "_rel"
        if old.get(rel) is not None and old.get(rel) == fingerprint.get(rel):
            ignored.add(key)  # moved with the run's folder
    changed = [
        key
        for key in sorted(set(old) | set(fingerprint))
        if key not in ignored and old.get(key) != fingerprint.get(key)
    ]
    if fingerprint.get("as_of") is not None and fingerprint["as_of"] != checkpoint.as_of:
        changed.append("as_of")
    if changed:
        raise CheckpointMismatch(_differences(checkpoint, fingerprint, changed))


def _differences(checkpoint: Checkpoint, fingerprint: dict[str, Any], changed: list[str]) -> str:
    """Why a resume is refused: the options that differ, with the value each run
    gave them where one is worth showing, the rest (the input file) in words."""
    old = checkpoint.fingerprint
    then: list[str] = []  # what the interrupted run used
    now: list[str] = []  # what this one uses
    same: list[str] = []  # what to give the same
    other: list[str] = []  # fixes of another kind
    worded: list[str] = []  # keys said in words
    shown_policy = False
    edited = ""
    for key in [k for k in _FINGERPRINT_WORDS if k in changed]:
        if key == "input_format":  # read from the file's name unless --input-format says
            then.append(f"{str(old.get(key)).upper()} input")
            now.append(f"{str(fingerprint.get(key)).upper()} input")
            other.append("give the input in the format it had (or --input-format)")
        elif key in _OPTIONS:
            option = _OPTIONS[key]
            then.append(_option(option, old.get(key)))
            now.append(_option(option, fingerprint.get(key)))
            same.append(option)
        elif key == "as_of":
            now.append(f"--as-of {fingerprint['as_of']}")
            if old.get("as_of") is not None:
                then.append(f"--as-of {checkpoint.as_of}")
                same.append("--as-of")
            else:
                then.append(f"no --as-of (so the moment it started, {checkpoint.as_of})")
                other.append("leave out --as-of")
        elif key.startswith("policy") and old.get("policy_id") and fingerprint.get("policy_id"):
            if shown_policy:
                continue
            shown_policy = True
            if old["policy_id"] == fingerprint["policy_id"]:  # the same version, edited
                edited = (
                    f"the policy {old['policy_id']} was changed since the interrupted run "
                    "used it (its content differs)"
                )
                other.append(f"put back the policy {old['policy_id']} as it was")
            else:
                then.append(f"the policy {old['policy_id']}")
                now.append(f"the policy {fingerprint['policy_id']}")
                same.append("--policy")
        else:
            worded.append(key)
    worded += [k for k in changed if k not in _FINGERPRINT_WORDS]
    parts = [edited] if edited else []
    if then:
        parts.append(f"the interrupted run used {_listed(then)}, this one {_listed(now)}")
    if worded:
        who = "it" if then else "the interrupted run"
        parts.append(f"{who} had a different {_in_words(worded)}")
        if any(key.startswith("input") for key in worded):
            other.insert(0, "give the input file the interrupted run read, unchanged")
        for key in worded:
            if not key.startswith("input"):
                what = "--policy" if key.startswith("policy") else "options"
                if what not in same:
                    same.append(what)
    fixes = ([f"give the same {_listed(same)}"] if same else []) + other
    return f"cannot resume: {'; and '.join(parts)}; to resume, {_listed(fixes)}; or {_RESTART}"


def _option(option: str, value: Any) -> str:
    """An option as it was given: ``--trace fired``, or ``no --errors``."""
    return f"no {option}" if value is None else f"{option} {value}"


def _in_words(keys: list[str]) -> str:
    """Fingerprint keys in words: "input file (its path and its size), trace"."""
    ordered = [k for k in _FINGERPRINT_WORDS if k in keys]
    ordered += [k for k in keys if k not in _FINGERPRINT_WORDS]
    parts: dict[str, list[str]] = {}
    for key in ordered:
        thing, aspect = _FINGERPRINT_WORDS.get(key, (key, ""))
        parts.setdefault(thing, []).extend([aspect] if aspect else [])
    return ", ".join(
        f"{thing} ({_listed(aspects)})" if aspects else thing for thing, aspects in parts.items()
    )


def _listed(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
