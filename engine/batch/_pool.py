"""Worker processes for the local batch, each with its own pipes.

``multiprocessing.Pool`` costs the main process about 20 µs per row on a
cohort: its worker-handler thread also waits on the shared result pipe, so it
wakes up for every 64 KiB of a result (a chunk's decisions are megabytes) and
runs Python each time. Here each worker has a task pipe and a result pipe of
its own; only the main thread reads results, each result in a few large reads,
and a sender thread per worker feeds its task pipe so the main thread never
blocks on a busy worker (a worker that is sending a result cannot read its
next task).

When the output is a file, each worker writes its chunks' bytes into it
itself, at the offset the main process sends it once the sizes of all the
chunks before are known. The main process then takes in only each chunk's
counters, errors and ids: it used to spend about half its time on the output
(reading it from the pipes and writing it to the file), and the main process
is the one part of a run that does not grow with the workers. A worker
acknowledges each write; a chunk counts as done (and a checkpoint may include
it) only then. For a stream, a result's output bytes follow its (small)
pickled header raw on the pipe and are read straight into one buffer.

A chunk goes to the worker with the fewest chunks outstanding; each worker
evaluates its chunks in the order given, and results are taken in the order
submitted, so the output does not depend on which worker did what.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, NamedTuple

from .._errors import FollowupError
from ._checkpoint import OutputError
from ._job import COLLECTOR_THRESHOLDS, BatchJob, load_evaluator
from ._readers import RawChunk
from ._worker import ChunkResult, evaluate_lines

__all__ = ["OutputSpot", "PoolExecutor", "WorkerDied", "init_worker"]

# A pipe this large takes a chunk's result in a few reads instead of one per
# 64 KiB, and holds the chunks queued for a worker (Linux; 1 MiB is the
# unprivileged maximum by default).
_PIPE_SIZE = 1 << 20
# Linux allows a user 64 MiB of pipe buffers before new pipes shrink to one
# page: past this many workers the pipes keep their default size.
_WIDE_PIPES_UP_TO = 16
# A worker holding this many chunks not yet written waits before evaluating
# another: it can be ahead of the chunk the output has reached, but not by so
# much that its memory grows (each chunk is megabytes).
_MOST_HELD = 2
# At most this many buffers go to one os.pwritev (POSIX guarantees 16; Linux allows 1024).
try:
    _IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
except (AttributeError, ValueError, OSError):  # a system that does not say
    _IOV_MAX = 16


class WorkerDied(FollowupError):
    """A worker process ended without sending back a chunk it was given.

    The pool raises it naming the worker; ``run_batch`` raises it again with
    what the run kept (``completed`` rows, and whether ``--resume`` continues).

    Attributes:
        pid: the worker's process id.
        exitcode: its exit code, negative for the signal that ended it; None
            when unknown.
        rows_in_hand: first and last row of the chunk it owed next, if any.
        completed: rows written when the run stopped (None: not known here).
        resumable: whether a run with ``--resume`` continues from ``completed``.
    """

    def __init__(
        self,
        pid: int | None,
        exitcode: int | None,
        rows_in_hand: tuple[int, int] | None = None,
        *,
        completed: int | None = None,
        resumable: bool = False,
        output: str | None = None,
    ) -> None:
        self.pid, self.exitcode, self.rows_in_hand = pid, exitcode, rows_in_hand
        self.completed, self.resumable = completed, resumable
        text = f"worker process {pid} died ({_how_it_ended(exitcode)})"
        if rows_in_hand is not None:
            text += f" while evaluating rows {rows_in_hand[0]}-{rows_in_hand[1]}"
        if completed is not None:
            text += f"; the run stopped after {completed} rows"
            if resumable:
                text += (
                    f"; {output} was not written; run the same command with --resume to continue"
                )
            else:
                text += "; run it again to start over"
        super().__init__(text)

    def stopped_after(self, completed: int, resumable: bool, output: str | None) -> WorkerDied:
        """The same death, with what the run kept."""
        return WorkerDied(
            self.pid,
            self.exitcode,
            self.rows_in_hand,
            completed=completed,
            resumable=resumable,
            output=output,
        )


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = ", perhaps by the out-of-memory killer" if exitcode == -signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {exitcode}"


def init_worker(job: BatchJob) -> None:
    """Prepare a worker process: signals, the compiled policy, a frozen heap."""
    # Ctrl-C reaches the whole process group; only the main process handles
    # it, so a worker never dies half-way through a chunk on its own.
    # A forked worker also inherits the parent's SIGTERM handler; terminate()
    # must simply end it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # started with both blocked (see _Worker): now that neither can raise here
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    load_evaluator(job.policy)
    # The compiled policy lives as long as the process: keep it out of the
    # collector's full passes (and, when forked, its pages shared).
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


#: the signals that stop a run (the main process's SIGTERM handler raises KeyboardInterrupt)
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while a worker is forked.

    The new process starts with them blocked, and unblocks them in
    ``init_worker`` once it ignores Ctrl-C: one sent to the process group just
    as the worker started would otherwise raise KeyboardInterrupt in it,
    printing a traceback. This process gets a signal that came meanwhile once
    they are unblocked again.
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not on Linux or macOS
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _widen(conn: Connection) -> None:
    import fcntl  # (here: not on Windows, where a batch does not start)

    with contextlib.suppress(OSError):
        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)


def _portable(exc: BaseException) -> BaseException:
    """``exc``, or a plain FollowupError naming it when it would not survive pickling."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return FollowupError(f"a worker failed: {exc!r}")
    return exc


class OutputSpot(NamedTuple):
    """Where workers write the output themselves.

    Attributes:
        path: the file they write into (it exists; they never create or truncate it).
        offset: where the first chunk's bytes go.
        name: the output as the user named it, for messages.
    """

    path: str
    offset: int
    name: str


# The kinds of message a worker sends back.
_RESULT = 0  # (kind, ok, result or exception, bytes following on the pipe)
_WRITTEN = 1  # (kind, ok, None or why not, 0): the oldest chunk held was written


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_at(fd: int, lines: list[bytes], offset: int) -> None:
    """Write ``lines`` one after another from ``offset``, without joining them
    (joined where the system has no ``pwritev``, e.g. macOS before 11)."""
    if not hasattr(os, "pwritev"):
        view = memoryview(b"".join(lines))
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        return
    start = 0
    while start < len(lines):
        batch: list[bytes | memoryview] = list(lines[start : start + _IOV_MAX])
        start += len(batch)
        while batch:
            written = os.pwritev(fd, batch, offset)
            offset += written
            while batch and written >= len(batch[0]):  # whole lines written
                written -= len(batch.pop(0))
            if written:  # the rest of a line cut short
                batch[0] = memoryview(batch[0])[written:]


def _read_exactly(fd: int, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    while view:
        got = os.readv(fd, [view])
        if not got:
            raise EOFError
        view = view[got:]
    return buffer


class _Writer:
    """A worker's thread that writes the chunks it holds where the main process says.

    The chunks are held in evaluation order, and the main process places a
    worker's chunks in that order, so each offset received is for the oldest
    chunk held, which is a list of lines (never joined: one copy fewer, and
    one chunk's bytes fewer in memory). ``os.pwritev`` lets go of the
    interpreter lock: the worker goes on evaluating while the thread writes.
    A worker whose chunks wait for a slower one's (the output is in input
    order) stops once it holds ``_MOST_HELD`` of them.
    """

    def __init__(self, path: str, orders: Connection, results: Connection) -> None:
        self.path = path
        self.orders = orders
        self.results = results
        self.held: deque[list[bytes]] = deque()
        self.unwritten = 0  # chunks held or being written
        self.stopped = False  # the thread has ended (the main process is gone, or done)
        self.room = threading.Condition()
        self.lock = threading.Lock()  # one message at a time on the result pipe
        self.thread = threading.Thread(target=self._work, name="batch-writer", daemon=True)
        self.thread.start()

    def hold(self, lines: list[bytes]) -> None:
        """Keep a chunk's lines until its offset comes."""
        with self.room:
            self.unwritten += 1
        self.held.append(lines)

    def wait_for_room(self) -> None:
        """Return once fewer than ``_MOST_HELD`` chunks wait to be written."""
        with self.room:
            while self.unwritten >= _MOST_HELD and not self.stopped:
                self.room.wait()

    def _work(self) -> None:
        fd = -1
        try:
            while True:
                try:
                    offset = self.orders.recv()
                except (EOFError, OSError):
                    return
                if offset is None:
                    return
                reply: tuple[int, bool, BaseException | None, int] = (_WRITTEN, True, None, 0)
                try:
                    lines = self.held.popleft()
                    if fd < 0:
                        fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
                    _write_at(fd, lines, offset)
                except Exception as exc:  # reported, never a main process waiting for ever
                    reply = (_WRITTEN, False, _portable(exc), 0)
                lines = []
                with self.room:
                    self.unwritten -= 1
                    self.room.notify()
                try:
                    with self.lock:
                        self.results.send(reply)
                except OSError:  # the main process is gone
                    return
        finally:
            if fd >= 0:
                os.close(fd)
            with self.room:  # never leave the worker waiting for a write that will not come
                self.stopped = True
                self.room.notify_all()


def _serve(
    job: BatchJob,
    tasks: Connection,
    results: Connection,
    orders: Connection | None,
    spot: OutputSpot | None,
    inherited: list[Any],
) -> None:
    """A worker's loop: evaluate each chunk received, send back its result."""
    for conn in inherited:  # the main process's ends: so EOF means the main process is gone
        conn.close()
    failed: BaseException | None = None
    try:
        init_worker(job)
    except Exception as exc:  # reported with the first chunk, like any failure
        failed = exc
    writer = _Writer(spot.path, orders, results) if spot is not None and orders else None
    lock = writer.lock if writer is not None else contextlib.nullcontext()
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_job, chunk = task
        reply: tuple[int, bool, Any, int]
        data = b""
        if writer is not None:
            writer.wait_for_room()
        try:
            if failed is not None:
                raise failed
            result, lines = evaluate_lines(task_job, chunk)
            if writer is None:
                data = b"".join(lines)
            else:
                result.held = result.ends[-1] if result.ends else 0
                if result.held:  # before the main process can hear of it and place it
                    writer.hold(lines)
            del lines
            reply = (_RESULT, True, result, len(data))
        except Exception as exc:
            reply = (_RESULT, False, _portable(exc), 0)
        try:
            with lock:
                results.send(reply)
                if data:
                    _write_all(results.fileno(), data)
        except OSError:  # the main process is gone
            return


def _rows_of(chunk: RawChunk) -> tuple[int, int]:
    """The first and last row of ``chunk``."""
    count = (
        sum(batch.num_rows for batch in chunk.items) if chunk.kind == "arrow" else len(chunk.items)
    )
    return chunk.first_row, chunk.first_row + max(count, 1) - 1


class _Pending:
    """One chunk sent to a worker: done when its result has come and, if the
    worker holds its bytes, once they are written."""

    __slots__ = ("_executor", "_ok", "_value", "arrived", "done", "rows", "worker")

    def __init__(self, executor: PoolExecutor, worker: _Worker, rows: tuple[int, int]) -> None:
        self._executor = executor
        self.worker = worker
        self.rows = rows  # first and last row of the chunk, to name it if the worker dies
        self.arrived = False  # its result has come
        self.done = False  # ... and its bytes are where they belong
        self._ok = True
        self._value: Any = None

    def set(self, ok: bool, value: Any) -> None:
        self._ok, self._value, self.arrived = ok, value, True

    def fail(self, error: BaseException) -> None:
        self._ok, self._value = False, error

    def place(self, offset: int) -> None:
        self._value.placed_at = offset

    @property
    def held(self) -> int:
        """How many bytes of output the worker holds for this chunk."""
        if not self._ok or self._value is None:
            return 0
        held: int = self._value.held
        return held

    def result(self) -> ChunkResult:
        if not self.done:
            self._executor._collect(self)
        value, self._value = self._value, None
        if not self._ok:
            raise value
        result: ChunkResult = value
        return result


_STOP = object()


class _Worker:
    """One worker process, its pipes, and the thread that feeds it tasks.

    Each worker has its own sender thread: sending a chunk blocks until the
    worker has read most of it (a chunk is larger than a pipe), which it does
    only between chunks, and that wait must hold up no other worker. Offsets
    to write at go on a pipe of their own, read by the worker's writer thread
    at once, not after the chunks queued before them.
    """

    def __init__(
        self, ctx: Any, job: BatchJob, inherited: list[Any], wide: bool, spot: OutputSpot | None
    ) -> None:
        task_reader, self.tasks = ctx.Pipe(duplex=False)
        self.results, result_writer = ctx.Pipe(duplex=False)
        order_reader: Connection | None = None
        self.orders: Connection | None = None
        if spot is not None:
            order_reader, self.orders = ctx.Pipe(duplex=False)
        if wide:
            _widen(self.tasks)
            _widen(result_writer)
        mine = [self.tasks, self.results, *([self.orders] if self.orders else [])]
        self.process = ctx.Process(
            target=_serve,
            args=(job, task_reader, result_writer, order_reader, spot, [*inherited, *mine]),
            daemon=True,
        )
        with _stop_signals_blocked():
            self.process.start()
        task_reader.close()
        result_writer.close()
        if order_reader is not None:
            order_reader.close()
        self.ends = mine  # what a later worker must close
        self.outstanding: deque[_Pending] = deque()  # sent, result not yet received
        self.unwritten: deque[_Pending] = deque()  # placed, not yet written
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.sender: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return bool(self.outstanding or self.unwritten)

    def start_sending(self) -> None:
        """Start the sender thread (after every process is forked: never fork with threads)."""
        self.sender = threading.Thread(
            target=self._send_all, name=f"batch-sender-{self.process.pid}", daemon=True
        )
        self.sender.start()

    def _send_all(self) -> None:
        while (task := self.outbox.get()) is not _STOP:
            # A worker that died is found out by the main thread when its result is due.
            with contextlib.suppress(OSError, ValueError):
                self.tasks.send(task)

    def close(self) -> None:
        for conn in self.ends:
            conn.close()


class PoolExecutor:
    """Evaluates chunks in ``workers`` processes, each compiling the policy once.

    Args:
        workers: how many processes.
        job: what each compiles and evaluates.
        output: where the workers write the output themselves (a file);
            None sends every chunk's bytes back to the main process.
    """

    def __init__(self, workers: int, job: BatchJob, output: OutputSpot | None = None) -> None:
        self.window = workers * 3
        self.output = output
        self._offset = output.offset if output is not None else 0
        self._unplaced: deque[_Pending] = deque()  # submitted, not yet placed, in order
        ctx = multiprocessing.get_context()
        self._workers: list[_Worker] = []
        ends: list[Any] = []
        try:
            for _ in range(workers):
                worker = _Worker(ctx, job, ends, workers <= _WIDE_PIPES_UP_TO, output)
                ends += worker.ends
                self._workers.append(worker)
        except BaseException:
            self.shutdown(cancel=True)
            raise
        for worker in self._workers:
            worker.start_sending()

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids, in the order the workers were started."""
        return [w.process.pid for w in self._workers]

    def submit(self, job: BatchJob, chunk: RawChunk) -> _Pending:
        worker = min(self._workers, key=lambda w: len(w.outstanding))
        pending = _Pending(self, worker, _rows_of(chunk))
        worker.outstanding.append(pending)
        if self.output is not None:
            self._unplaced.append(pending)
        worker.outbox.put((job, chunk))
        return pending

    def _collect(self, wanted: _Pending) -> None:
        """Receive results as workers send them until ``wanted``'s has come."""
        while not wanted.done:
            busy = {w.results: w for w in self._workers if w.busy}
            ready = wait([*busy, *(w.process.sentinel for w in busy.values())])
            for worker in busy.values():
                if worker.results in ready or worker.process.sentinel in ready:
                    self._receive(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            kind, ok, value, size = worker.results.recv()
            if size:
                value.data = _read_exactly(worker.results.fileno(), size)
        except (EOFError, OSError) as exc:
            worker.process.join(1)  # its pipe is closed: it has ended, or is about to
            owed = worker.outstanding or worker.unwritten
            raise WorkerDied(
                worker.process.pid, worker.process.exitcode, owed[0].rows if owed else None
            ) from exc
        if kind == _WRITTEN:
            pending = worker.unwritten.popleft()
            if not ok:
                assert self.output is not None
                reason = getattr(value, "strerror", None) or value
                pending.fail(OutputError(f"cannot write {self.output.name}: {reason}"))
            pending.done = True
            return
        pending = worker.outstanding.popleft()
        pending.set(ok, value)
        if self.output is None:
            pending.done = True
        else:
            self._place()

    def _place(self) -> None:
        """Give each chunk whose result has come its offset, in the order submitted."""
        unplaced = self._unplaced
        while unplaced and unplaced[0].arrived:
            pending = unplaced.popleft()
            size = pending.held
            if not size:  # failed, or no row decided: the worker holds nothing
                pending.done = True
                continue
            pending.worker.unwritten.append(pending)
            pending.place(self._offset)
            with contextlib.suppress(OSError):  # a worker that died is found out when due
                assert pending.worker.orders is not None
                pending.worker.orders.send(self._offset)
            self._offset += size

    def shutdown(self, cancel: bool) -> None:
        for worker in self._workers:
            if cancel:
                if worker.process.is_alive():
                    worker.process.terminate()
            else:
                worker.outbox.put(None)  # the worker's signal to end
            worker.outbox.put(_STOP)
        for worker in self._workers:
            if worker.sender is not None:
                worker.sender.join(5 if cancel else None)
            worker.process.join()
            worker.close()
