"""Atomic output files and the checkpoint that lets an interrupted run resume.

A run writing OUTPUT keeps, beside it until it finishes:

* ``OUTPUT.part`` – the output so far (the errors file has its own ``.part``);
* ``OUTPUT.ids`` – one JSON-encoded applicant_id per row read, to rebuild the
  duplicate check on resume;
* ``OUTPUT.checkpoint`` – JSON naming the run (input, policy digest, options)
  and, for the last fully written chunk, the rows read and the byte length
  of every ``.part`` file, with the summary counters at that moment.

The checkpoint is replaced atomically after the files it describes were
synced to disk (by ``CheckpointSaver``, on a thread of its own, so the run
goes on meanwhile), so it never claims more than is on disk. Resuming truncates each
file back to the recorded length (dropping whatever a killed run wrote after
it) and skips the rows already read. At the end the ``.part`` files are
renamed over their final names and the rest removed; OUTPUT itself only
ever appears complete.

While a run writes OUTPUT it holds an exclusive lock (``flock``) on
``OUTPUT.lock``, so a second run writing the same OUTPUT stops at once instead
of mixing its bytes into the first one's. The system releases the lock of a
process that is killed, so ``--resume`` after ``kill -9`` is never refused.

A checkpoint also records a digest of the first and last 4 KiB of each file
below its recorded length (read by the saver's thread, once a second: nothing
per row), and a resume checks each file against it before using it, so a file
truncated, replaced or overwritten since is refused instead of being padded
or continued.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from .._errors import FollowupError

try:
    import fcntl
except ImportError:  # Windows: no POSIX file locks, so no batch there (see BATCH_NEEDS)
    fcntl = None  # type: ignore[assignment]

#: why ``followup batch`` cannot run here, or None when it can
BATCH_NEEDS: str | None = (
    None
    if fcntl is not None
    else "followup batch needs Linux or macOS (on Windows, run it in WSL); "
    "the other commands work here"
)

__all__ = [
    "Checkpoint",
    "CheckpointMismatch",
    "CheckpointSaver",
    "OutputLock",
    "PartFile",
    "UnfinishedRun",
    "check_distinct",
    "check_state",
    "checkpoint_path",
    "ids_path",
    "lock_path",
    "output_target",
    "part_path",
]

#: 2: duplicates are found again from the ids file, not stored; 3: sealed
FORMAT = 3


class CheckpointMismatch(FollowupError):
    """``--resume`` was asked for, but the checkpoint belongs to another run."""


class UnfinishedRun(CheckpointMismatch):
    """A run that would start over where an interrupted run left its checkpoint,
    asked neither to resume it nor to restart (which would throw it away)."""


class OutputError(FollowupError):
    """An output file cannot be written (missing folder, no permission, disk full)."""


def part_path(path: str) -> str:
    return path + ".part"


def ids_path(path: str) -> str:
    return path + ".ids"


def checkpoint_path(path: str) -> str:
    return path + ".checkpoint"


def lock_path(path: str) -> str:
    return path + ".lock"


def state_paths(path: str) -> tuple[str, ...]:
    """Every file a run writing ``path`` (a file output) creates beside it."""
    cp = checkpoint_path(path)
    return (path, part_path(path), ids_path(path), cp, cp + ".tmp", lock_path(path))


# --- where an output goes ------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


#: paths that stand for a process's streams or devices, not for a file of their own
_STREAMS = re.compile(r"^/(dev|proc)/")
#: the names a run gives the files it keeps beside an output (see state_paths)
_STATE_SUFFIXES = (".part", ".lock", ".ids", ".checkpoint")


def output_target(path: str, what: str, noun: str, stream_hint: str) -> str:
    """The file an output ``path`` really is: a symlink's target (the output then
    replaces the target, and the link is kept), or ``path`` itself.

    Args:
        path: the output as the user named it.
        what: the option that named it ("-o", "--errors").
        noun: what it is ("the output").
        stream_hint: how to ask for a stream instead ("-o -").

    Raises:
        OutputError: it exists and is not a regular file (a device, a FIFO, a
            folder...): it would be replaced by a regular file at the end.
    """
    real = os.path.realpath(path)
    if _STREAMS.match(path) or _STREAMS.match(real):
        # /dev/stdout and the like name whatever a stream is redirected to:
        # replacing that file would lose what it held before
        raise OutputError(
            f"cannot write {what} {path}: under /dev or /proc it names a standard stream, a "
            f"device or a file of the system; {noun} is written to a temporary file and "
            f"renamed at the end, so give a file path, or {stream_hint}"
        )
    if path.endswith(_STATE_SUFFIXES):
        raise OutputError(
            f"{what} {path} ends like the files a run keeps beside its outputs "
            f"({', '.join(_STATE_SUFFIXES)}); another run may be writing it: give another name"
        )
    target = real if os.path.islink(path) else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"{what} {path} is {_kind(mode)}; {noun} is written to a temporary file "
            f"and renamed at the end, so give a file path, or {stream_hint}"
        )
    return target


def _identity(path: str) -> tuple[Any, ...]:
    """What names one file: its device and inode when it exists, else its real path."""
    return file_identity(path) or ("path", os.path.realpath(path))


def check_distinct(
    input_identity: tuple[Any, ...] | None,
    input_name: str,
    outputs: Iterable[tuple[str, str, Sequence[str]]],
) -> None:
    """Refuse outputs that are the input, or one another (by another name too).

    Args:
        input_identity: ``file_identity`` of the input, None for none known.
        input_name: the input as the user named it.
        outputs: per output, how the user named it (``"-o out.jsonl"``), its
            path, and every path it writes (itself first, then its state files).

    Raises:
        OutputError: two of them are one file.
    """
    claimed: dict[tuple[Any, ...], tuple[str, str]] = {}
    if input_identity is not None:
        claimed[input_identity] = ("the input", input_name)
    for label, path, paths in outputs:
        mine: set[tuple[Any, ...]] = set()
        for written in paths:
            key = _identity(written)
            if key in mine:
                continue
            mine.add(key)
            owner = claimed.get(key)
            if owner is not None:
                other, other_path = owner
                if other == "the input":
                    what = "is" if written == paths[0] else f"writes {written}, which is"
                    raise OutputError(
                        f"{label} {what} the input {other_path}; writing it would destroy "
                        "the input: give another file name"
                    )
                raise OutputError(
                    f"{label} and {other} are the same file ({written}); give each its own file"
                )
            claimed[key] = (label, path)


def file_identity(path: str) -> tuple[Any, ...] | None:
    """``_identity`` of an existing file, None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return ("file", st.st_dev, st.st_ino)


def fd_identity(fd: int) -> tuple[Any, ...] | None:
    """``_identity`` of an open regular file (e.g. stdin redirected from one)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return ("file", st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


# --- one run per output at a time ------------------------------------------------

# Lock descriptors this process holds: a forked worker closes its copies, so
# that only this process holds the lock (and a killed run's lock is free once
# it is gone, whatever its workers are still finishing).
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited)


class OutputLock:
    """An exclusive ``flock`` on ``OUTPUT.lock`` for as long as a run writes OUTPUT.

    Raises:
        OutputError: another run holds it (it names that run's process id).
    """

    def __init__(self, target: str, name: str) -> None:
        if BATCH_NEEDS is not None:
            raise OutputError(BATCH_NEEDS)
        self.path = lock_path(target)
        while True:
            try:
                flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(self.path, flags, 0o644)
            except OSError as exc:
                raise OutputError(
                    f"cannot write {name}: cannot open its lock file {self.path} "
                    f"({exc.strerror or exc})"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                pid = _read_pid(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
                who = f" (pid {pid})" if pid else ""
                raise OutputError(
                    f"another followup batch is writing {name}{who}; wait for it to end, "
                    "or give another output file"
                ) from None
            # The file may have been removed by the run that held it, just before it
            # let go: then the lock is on a file nobody else will open. Lock anew.
            same = file_identity(self.path) == fd_identity(fd)
            if same:
                break
            os.close(fd)
        self._fd = fd
        _HELD.add(fd)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Remove the lock file and let go (removed first: see ``__init__``)."""
        if self._fd < 0:
            return
        remove_quietly(self.path)
        _HELD.discard(self._fd)
        os.close(self._fd)
        self._fd = -1


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text.isdigit() else None
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class Checkpoint:
    """The durable state of a run after its last fully written chunk."""

    fingerprint: dict[str, Any]
    as_of: str
    rows: int = 0
    decided: int = 0
    errors: int = 0
    output_bytes: int = 0
    errors_bytes: int = 0
    ids_bytes: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    #: per file ("output", "ids", "errors"): ``edge_digest`` at its recorded length
    digests: dict[str, str] = field(default_factory=dict)
    #: when the run started (ISO, UTC; the first of the runs a resume continues),
    #: "" in a checkpoint written before it was recorded
    started: str = ""

    def sizes(self) -> dict[str, int]:
        """The recorded length of each file, by the name ``digests`` uses."""
        return {"output": self.output_bytes, "ids": self.ids_bytes, "errors": self.errors_bytes}

    def seal(self, files: Mapping[str, _HasFileno]) -> None:
        """Record the digest of each file at its recorded length."""
        sizes = self.sizes()
        self.digests = {name: edge_digest(f.fileno(), sizes[name]) for name, f in files.items()}

    def save(self, path: str) -> None:
        """Write atomically: a reader sees the old checkpoint or the new one."""
        data = {"format": FORMAT, **self.__dict__}
        data["seal"] = _seal(data)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> Checkpoint | None:
        """The checkpoint at ``path``, or None when there is none, it is
        unreadable, or it was changed since it was saved (its seal differs)."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        if data.pop("seal", None) != _seal(data):
            return None
        del data["format"]
        try:
            checkpoint = cls(**data)
        except TypeError:
            return None
        return checkpoint if checkpoint._well_formed() else None

    def _well_formed(self) -> bool:
        counts = (self.rows, self.decided, self.errors, *self.sizes().values())
        return (
            all(type(n) is int and n >= 0 for n in counts)
            and isinstance(self.fingerprint, dict)
            and isinstance(self.as_of, str)
            and isinstance(self.counters, dict)
            and all(type(n) is int for n in self.counters.values())
            and isinstance(self.digests, dict)
            and isinstance(self.elapsed, int | float)
            and isinstance(self.started, str)
        )


def _seal(data: dict[str, Any]) -> str:
    """A digest of a checkpoint's content: an edit by hand, or damage that keeps
    it JSON, shows as a seal that no longer matches (nothing secret: it guards
    against mistakes, not against someone who means to deceive)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


#: how much of each end of a file ``edge_digest`` reads
_EDGE = 4096


def edge_digest(fd: int, size: int) -> str:
    """A digest of the first and last 4 KiB of the file's first ``size`` bytes
    (what a resume checks the file against: two small reads, whatever its size)."""
    edge = min(size, _EDGE)
    digest = hashlib.sha256(str(size).encode("ascii"))
    for start in (0, size - edge):
        data = b""
        while len(data) < edge:
            got = os.pread(fd, edge - len(data), start + len(data))
            if not got:
                break
            data += got
        digest.update(data)
    return digest.hexdigest()[:32]


def check_state(checkpoint: Checkpoint, files: Mapping[str, tuple[str, str]]) -> None:
    """Check the files a resume continues hold what ``checkpoint`` says they do.

    Args:
        checkpoint: the checkpoint to resume from.
        files: per name ("output", "ids", "errors"), the file's path and the
            name to give it in messages.

    Raises:
        CheckpointMismatch: a file is missing, shorter than recorded, or its
            recorded bytes changed.
    """
    sizes = checkpoint.sizes()
    for name, (path, shown) in files.items():
        size = sizes[name]
        problem = None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            problem = "is missing"
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        else:
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    problem = f"is {_kind(st.st_mode)}"
                elif st.st_size < size:
                    problem = f"holds {st.st_size:,} bytes, fewer than the {size:,} the checkpoint recorded"
                elif (
                    name in checkpoint.digests and edge_digest(fd, size) != checkpoint.digests[name]
                ):
                    problem = "was changed since the checkpoint was saved"
            finally:
                os.close(fd)
        if problem is not None:
            raise CheckpointMismatch(
                f"cannot resume: {shown} {problem}, so what was saved of the interrupted run "
                "is damaged; run it with --restart instead of --resume to start over"
            )


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


# fdatasync is enough (file sizes are data); systems without it have fsync
_datasync = getattr(os, "fdatasync", os.fsync)


class CheckpointSaver:
    """Saves checkpoints on a thread of its own, so the run never waits for the disk.

    Before it saves a checkpoint, the thread syncs the files the checkpoint
    describes to disk, so a checkpoint never claims more than is durable
    (their new bytes were handed to the system before the checkpoint was
    made). Syncing as the run goes also keeps the final sync of the output
    short. Only the newest checkpoint waiting is saved: each one describes
    everything before it. A failure is raised in the run's thread, at the next
    ``submit`` or at ``close``.
    """

    def __init__(
        self,
        path: str,
        files: Sequence[_HasFileno],
        named: Mapping[str, _HasFileno] | None = None,
    ) -> None:
        self.path = path
        self._files = files
        self._named = named or {}  # files the checkpoint records a digest of, by name
        self._cond = threading.Condition()
        self._waiting: Checkpoint | None = None
        self._busy = False
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="followup-checkpoint", daemon=True)
        self._thread.start()

    def submit(self, checkpoint: Checkpoint) -> None:
        """Save ``checkpoint`` soon (replacing one not yet started)."""
        with self._cond:
            self._raise()
            self._waiting = checkpoint
            self._cond.notify_all()

    def wait(self) -> None:
        """Return once every checkpoint submitted so far is saved."""
        with self._cond:
            while self._waiting is not None or self._busy:
                self._cond.wait()
            self._raise()

    def close(self) -> None:
        """Save what is waiting, stop the thread, and raise a failure it met."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._raise()

    def save_now(self, checkpoint: Checkpoint) -> None:
        """Stop the thread (a failure of its own is dropped: this save replaces it),
        then sync and save ``checkpoint`` in the calling thread."""
        with contextlib.suppress(Exception):
            self.close()
        for f in self._files:
            _datasync(f.fileno())
        checkpoint.seal(self._named)
        checkpoint.save(self.path)

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closing:
                    self._cond.wait()
                checkpoint, self._waiting = self._waiting, None
                if checkpoint is None:  # closing, nothing left
                    return
                self._busy = True
            try:
                for f in self._files:
                    _datasync(f.fileno())
                checkpoint.seal(self._named)
                checkpoint.save(self.path)
            except BaseException as exc:  # handed to the run's thread
                with self._cond:
                    self._error = exc
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class PartFile:
    """A file written as ``path.part`` and renamed to ``path`` when complete."""

    def __init__(self, path: str, *, resume_at: int | None = None, name: str | None = None) -> None:
        self.path = path
        self.name = name or path  # for messages: the output as the user named it
        self.part = part_path(path)
        self._fh: IO[bytes]
        try:
            if resume_at is None:
                # a new file, never whatever the name held (a link, a FIFO...)
                remove_quietly(self.part)
                # readable too: the checkpoint records a digest of what is written
                self._fh = open(self.part, "w+b")  # noqa: SIM115 - closed in commit/close
            else:
                self._fh = open(self.part, "r+b")  # noqa: SIM115
                self._fh.truncate(resume_at)
                self._fh.seek(resume_at)
        except OSError as exc:
            raise OutputError(f"cannot write {self.name}: {exc.strerror or exc}") from exc
        self.size = resume_at or 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {self.name}: {exc.strerror or exc}") from exc
        self.size += len(data)

    def advance(self, size: int) -> None:
        """Count ``size`` bytes written after the end by another process (a worker)."""
        self.size += size
        self._fh.seek(self.size)

    def flush(self) -> None:
        self._fh.flush()

    def fileno(self) -> int:
        return self._fh.fileno()

    def commit(self) -> None:
        """Make the file durable and give it its final name.

        Whatever lies past ``size`` (written by workers for chunks that a run
        stopped by ``--max-errors`` did not take) is cut off first.
        """
        try:
            self._fh.flush()
            self._fh.truncate(self.size)
            os.fsync(self._fh.fileno())
            mine = fd_identity(self._fh.fileno())
            self._fh.close()
            now = file_identity(self.part)  # (None: gone, and the rename below says so)
            if now is not None and now != mine:
                raise OutputError(
                    f"cannot write {self.name}: {self.part} was replaced by another program "
                    "while this run wrote it; run again"
                )
            os.replace(self.part, self.path)
        except OSError as exc:
            raise OutputError(f"cannot write {self.name}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Close, keeping the ``.part`` file for a later resume: ``size`` bytes."""
        if not self._fh.closed:
            self._fh.flush()
            self._fh.truncate(self.size)
            self._fh.close()

    def discard(self) -> None:
        self.close()
        remove_quietly(self.part)


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
        os.remove(path)
