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
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from .._errors import FollowupError

__all__ = [
    "Checkpoint",
    "CheckpointMismatch",
    "CheckpointSaver",
    "PartFile",
    "checkpoint_path",
    "ids_path",
    "part_path",
]

FORMAT = 2  # 2: duplicates are found again from the ids file, not stored


class CheckpointMismatch(FollowupError):
    """``--resume`` was asked for, but the checkpoint belongs to another run."""


class OutputError(FollowupError):
    """An output file cannot be written (missing folder, no permission, disk full)."""


def part_path(path: str) -> str:
    return path + ".part"


def ids_path(path: str) -> str:
    return path + ".ids"


def checkpoint_path(path: str) -> str:
    return path + ".checkpoint"


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

    def save(self, path: str) -> None:
        """Write atomically: a reader sees the old checkpoint or the new one."""
        data = {"format": FORMAT, **self.__dict__}
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> Checkpoint | None:
        """The checkpoint at ``path``, or None when there is none or it is unreadable."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            return None
        try:
            return cls(**data)
        except TypeError:
            return None


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

    def __init__(self, path: str, files: Sequence[_HasFileno]) -> None:
        self.path = path
        self._files = files
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

    def __init__(self, path: str, *, resume_at: int | None = None) -> None:
        self.path = path
        self.part = part_path(path)
        self._fh: IO[bytes]
        try:
            if resume_at is None:
                self._fh = open(self.part, "wb")  # noqa: SIM115 - closed in commit/close
            else:
                self._fh = open(self.part, "r+b")  # noqa: SIM115
                self._fh.truncate(resume_at)
                self._fh.seek(resume_at)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.size = resume_at or 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
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
        self._fh.flush()
        self._fh.truncate(self.size)
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.part, self.path)

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
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
