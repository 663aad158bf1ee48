"""Atomic output files and the checkpoint that lets an interrupted run resume.

A run writing OUTPUT keeps, beside it until it finishes:

* ``OUTPUT.part`` – the output so far (the errors file has its own ``.part``);
* ``OUTPUT.ids`` – one JSON-encoded applicant_id per row read, to rebuild the
  duplicate check on resume;
* ``OUTPUT.checkpoint`` – JSON naming the run (input, policy digest, options)
  and, for the last fully written chunk, the rows read and the byte length
  of every ``.part`` file, with the summary counters at that moment.

The checkpoint is replaced atomically after the files it describes were
flushed, so it never claims more than is on disk. Resuming truncates each
file back to the recorded length (dropping whatever a killed run wrote after
it) and skips the rows already read. At the end the ``.part`` files are
renamed over their final names and the rest removed; OUTPUT itself only
ever appears complete.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import IO, Any

from .._errors import FollowupError

__all__ = [
    "Checkpoint",
    "CheckpointMismatch",
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
        self._fh.write(data)
        self.size += len(data)

    def flush(self) -> None:
        self._fh.flush()

    def commit(self) -> None:
        """Make the file durable and give it its final name."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.part, self.path)

    def close(self) -> None:
        """Close, keeping the ``.part`` file for a later resume."""
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        self.close()
        remove_quietly(self.part)


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
