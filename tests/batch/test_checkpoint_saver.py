"""The checkpoint saver's thread: newest checkpoint wins, failures reach the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.engine.batch._checkpoint import Checkpoint, CheckpointSaver, PartFile


def _checkpoint(rows: int) -> Checkpoint:
    return Checkpoint(fingerprint={"input": "x"}, as_of="2026-01-12", rows=rows)


def test_the_saved_checkpoint_is_the_last_one_submitted(tmp_path: Path) -> None:
    part = PartFile(str(tmp_path / "out.jsonl"))
    part.write(b"line\n")
    part.flush()
    saver = CheckpointSaver(str(tmp_path / "cp"), [part])
    for rows in range(1, 51):
        saver.submit(_checkpoint(rows))
    saver.close()
    loaded = Checkpoint.load(str(tmp_path / "cp"))
    assert loaded is not None and loaded.rows == 50
    part.close()


def test_wait_returns_once_the_submitted_checkpoint_is_on_disk(tmp_path: Path) -> None:
    saver = CheckpointSaver(str(tmp_path / "cp"), [])
    saver.submit(_checkpoint(7))
    saver.wait()
    loaded = Checkpoint.load(str(tmp_path / "cp"))
    assert loaded is not None and loaded.rows == 7
    saver.close()


def test_a_failed_save_is_raised_in_the_run(tmp_path: Path) -> None:
    saver = CheckpointSaver(str(tmp_path / "no-such-folder" / "cp"), [])
    saver.submit(_checkpoint(1))
    with pytest.raises(FileNotFoundError):
        saver.close()


def test_save_now_replaces_a_failed_background_save(tmp_path: Path) -> None:
    target = tmp_path / "later" / "cp"
    saver = CheckpointSaver(str(target), [])
    saver.submit(_checkpoint(1))
    with pytest.raises(FileNotFoundError):  # the folder does not exist yet
        saver.wait()
    saver.submit(_checkpoint(2))  # fails again, and is not raised: save_now replaces it
    target.parent.mkdir()
    saver.save_now(_checkpoint(3))
    loaded = Checkpoint.load(str(target))
    assert loaded is not None and loaded.rows == 3
