"""Cohort batch evaluation: many applicants' facts in, one decision per row out.

``run_batch`` streams a CSV, JSONL or Parquet cohort in bounded chunks,
evaluates them in worker processes (or on Dask, see ``followup.engine.batch.dask``),
and writes decisions in input order, atomically, with a checkpoint that lets
an interrupted run resume. Rows that fail become error records; they never
stop the batch. The engine reports progress through a callback and never prints.
"""

from __future__ import annotations

from ._checkpoint import CheckpointMismatch, OutputError
from ._job import BatchJob, PolicyRef, load_evaluator
from ._pool import PoolExecutor, WorkerDied
from ._readers import (
    INPUT_FORMATS,
    InputSpec,
    RawChunk,
    UnreadableInput,
    detect_format,
    read_chunks,
)
from ._runner import (
    BatchInterrupted,
    BatchOptions,
    BatchResult,
    Executor,
    InlineExecutor,
    Pending,
    Progress,
    default_as_of,
    run_batch,
)
from ._worker import ChunkResult, RowError, coerce_cells, decode_row, evaluate_chunk, iter_facts
from ._writers import CSV_COLUMNS, neutralise, next_recommendation

__all__ = [
    "CSV_COLUMNS",
    "INPUT_FORMATS",
    "BatchInterrupted",
    "BatchJob",
    "BatchOptions",
    "BatchResult",
    "CheckpointMismatch",
    "ChunkResult",
    "Executor",
    "InlineExecutor",
    "InputSpec",
    "OutputError",
    "Pending",
    "PolicyRef",
    "PoolExecutor",
    "Progress",
    "RawChunk",
    "RowError",
    "UnreadableInput",
    "WorkerDied",
    "coerce_cells",
    "decode_row",
    "default_as_of",
    "detect_format",
    "evaluate_chunk",
    "iter_facts",
    "load_evaluator",
    "neutralise",
    "next_recommendation",
    "read_chunks",
    "run_batch",
]
