"""A rerun over an interrupted run that --resume could not continue says why,
and offers only what works (--restart, or the interrupted run's options)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from followup.engine.batch import BatchJob, CheckpointMismatch, InputSpec, PolicyRef, run_batch

from .batch_helpers import AS_OF
from .test_operator_findings import _interrupted


def _refusal(tmp_path: Path, spec: InputSpec, job: BatchJob, errors: str | None) -> str:
    with pytest.raises(CheckpointMismatch) as caught:
        run_batch(spec, job, output=str(tmp_path / "out"), errors=errors)
    return str(caught.value)


def test_the_same_run_again_is_offered_resume(tmp_path: Path) -> None:
    job = _interrupted(tmp_path)
    spec = InputSpec(str(tmp_path / "in.jsonl"), "jsonl")
    message = _refusal(tmp_path, spec, job, str(tmp_path / "errors"))
    assert message.endswith("add --resume to go on from row 61, or --restart to start over")


def test_other_options_are_named_and_resume_is_not_offered(tmp_path: Path) -> None:
    _interrupted(tmp_path)
    spec = InputSpec(str(tmp_path / "in.jsonl"), "jsonl")
    fired = BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")
    message = _refusal(tmp_path, spec, fired, str(tmp_path / "errors"))
    assert message.startswith(f"{tmp_path / 'out'} has an interrupted run (60 rows done, started ")
    assert "that this one cannot go on with: the interrupted run used --trace none, this one " in (
        message
    )
    assert message.endswith("; or add --restart to discard it and start over")
    assert "add --resume" not in message


def test_other_input_is_named_in_words_not_as_an_option_never_given(tmp_path: Path) -> None:
    _interrupted(tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "in.jsonl").read_text().splitlines()]
    names = sorted({k for r in rows for k in r})
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, names)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in r.items()})
    spec = InputSpec(str(tmp_path / "in.csv"), "csv")
    job = BatchJob(PolicyRef(), "none", AS_OF, "jsonl")
    message = _refusal(tmp_path, spec, job, str(tmp_path / "errors"))
    assert "the interrupted run used JSONL input, this one CSV input" in message
    assert "--input-format csv" not in message
    assert "give the input file the interrupted run read, unchanged" in message
    assert message.endswith("; or add --restart to discard it and start over")
