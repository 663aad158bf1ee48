"""Batch evaluation on a Dask cluster (extra ``dask``: ``pip install 'followup[dask]'``).

Two ways in:

* ``followup batch ... --dask SCHEDULER`` (or ``--dask local``) runs the same
  ordered, checkpointed batch as the local one, with chunks evaluated on the
  cluster's workers via :func:`dask_executor`.
* :func:`evaluate_partitions` maps a Dask bag (or dataframe) of facts to a bag
  of results, and :func:`write_partitions` writes them as one JSONL or Parquet
  file per partition plus one errors file per partition.

Every worker process compiles the policy once and keeps it (``load_evaluator``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .._errors import FollowupError
from ._job import BatchJob, PolicyRef
from ._readers import RawChunk
from ._runner import Pending, default_as_of
from ._worker import ChunkResult, evaluate_chunk

__all__ = [
    "DaskExecutor",
    "SchedulerUnavailable",
    "dask_executor",
    "evaluate_partitions",
    "write_partitions",
]


class SchedulerUnavailable(FollowupError):
    """``--dask``'s address is not an address, or no scheduler answers there."""


class DaskExecutor:
    """Submits chunks to a ``distributed.Client``; results come back in order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        threads = sum(client.nthreads().values()) or 1
        self.window = max(2, threads * 3)
        self._futures: list[Any] = []

    def submit(self, job: BatchJob, chunk: RawChunk) -> Pending:
        future = self._client.submit(evaluate_chunk, job, chunk, pure=False)
        return _FuturePending(future)

    def shutdown(self, cancel: bool) -> None:
        return None


class _FuturePending:
    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self) -> ChunkResult:
        value: ChunkResult = self._future.result()
        self._future.release()
        return value


@contextlib.contextmanager
def dask_executor(scheduler: str, workers: int = 2) -> Iterator[DaskExecutor]:
    """Connect to ``scheduler`` (an address, or "local" for a LocalCluster of
    ``workers`` single-threaded processes) and yield an executor for ``run_batch``.

    Raises:
        SchedulerUnavailable: ``scheduler`` is not an address, or no scheduler
            answers there (after distributed's connect timeout, 30 s by default).
    """
    distributed: Any = importlib.import_module("distributed")
    if scheduler == "local":
        with contextlib.ExitStack() as stack:
            try:
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        # no dashboard, and the scheduler's HTTP server on a free port:
                        # its default, 8787, may be taken (another cluster, a notebook),
                        # which Dask reports with a warning and a port of its choosing
                        scheduler_kwargs={"dashboard_address": ":0"},
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
            except (TimeoutError, RuntimeError, OSError) as exc:
                # "Cluster failed to start: ...", no free port, workers too slow to start
                raise SchedulerUnavailable(
                    f"--dask local: could not start a Dask cluster on this machine "
                    f"({type(exc).__name__}: {exc}); try again, or run without --dask"
                ) from exc
            yield DaskExecutor(client)
    else:
        try:
            _probe(scheduler)
            client = distributed.Client(scheduler)
        except ValueError as exc:  # what distributed says of an address it cannot parse
            raise SchedulerUnavailable(
                f"--dask {scheduler}: not a scheduler address ({exc}); give one such as "
                "tcp://scheduler:8786, or local for a cluster on this machine"
            ) from exc
        except OSError as exc:  # refused, timed out, unknown host
            raise SchedulerUnavailable(
                f"--dask {scheduler}: cannot connect to a Dask scheduler there ({exc}); "
                "check that it runs and is reachable from here, or use --dask local"
            ) from exc
        except Exception as exc:  # e.g. a protocol whose package is missing (ucx://)
            raise SchedulerUnavailable(
                f"--dask {scheduler}: Dask cannot connect there "
                f"({type(exc).__name__}: {exc}); give a tcp:// address, or use --dask local"
            ) from exc
        with client:
            yield DaskExecutor(client)


def _probe(scheduler: str) -> None:
    """Check ``scheduler`` is an address where something answers, before making a
    Client: a Client that fails to start is left half made, and closing it later
    (when it is collected) can hang for a minute.

    Raises:
        ValueError: not an address.
        OSError: nothing answers there (after the connect timeout).
    """
    comm: Any = importlib.import_module("distributed.comm")
    scheme, _ = comm.parse_address(scheduler)
    if scheme != "tcp":  # tls and the rest need the Client's security settings
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop running here: the usual case

        async def reach() -> None:
            await (await comm.connect(scheduler)).close()

        asyncio.run(reach())


def _rows(partition: Any) -> list[Any]:
    if hasattr(partition, "to_dict"):  # a pandas DataFrame partition
        records: list[Any] = partition.to_dict(orient="records")
        return [{k: v for k, v in r.items() if v == v} for r in records]  # NaN != NaN: drop
    return list(partition)


def _evaluate_partition(partition: Any, job: BatchJob, index: int) -> list[dict[str, Any]]:
    rows = _rows(partition)
    result = evaluate_chunk(job, RawChunk("records", 1, [], rows))
    errors = {i: json.loads(line) for i, line, _ in result.errors}
    out: list[dict[str, Any]] = []
    for i in range(result.count):
        record: dict[str, Any] = {"partition": index, "row": i + 1, "applicant_id": result.ids[i]}
        if i in errors:
            record["decision"] = None
            record["errors"] = errors[i]["errors"]
        else:
            record["decision"] = result.line(i).rstrip("\n")
            record["errors"] = None
        out.append(record)
    return out


def evaluate_partitions(
    facts: Any,
    policy: PolicyRef | None = None,
    *,
    as_of: str | None = None,
    trace: str = "fired",
) -> Any:
    """Evaluate a Dask bag of facts mappings (or a Dask dataframe, one row each).

    Args:
        facts: ``dask.bag.Bag`` of dicts, or ``dask.dataframe.DataFrame``.
        policy: which policy (default: the bundled interview-follow-up).
        as_of: default moment of evaluation (a row's ``as_of`` wins); None
            fixes "now" once for the whole collection.
        trace: "none", "fired" or "full".

    Returns:
        A ``dask.bag.Bag`` with one dict per input row, in input order:
        ``partition``, ``row`` (1-based within the partition), ``applicant_id``,
        ``decision`` (the canonical JSON text, or None) and ``errors``
        (the row's problems, or None).
    """
    dask: Any = importlib.import_module("dask")
    bag: Any = importlib.import_module("dask.bag")
    job = BatchJob(policy or PolicyRef(), trace, as_of or default_as_of(), "jsonl")
    parts = facts.to_delayed()
    evaluate = dask.delayed(_evaluate_partition, pure=True)
    return bag.from_delayed([evaluate(part, job, i) for i, part in enumerate(parts)])


def _write_one(
    records: Sequence[dict[str, Any]], directory: str, index: int, fmt: str
) -> dict[str, int]:
    os.makedirs(directory, exist_ok=True)
    decided = [r for r in records if r["decision"] is not None]
    failed = [r for r in records if r["decision"] is None]
    name = os.path.join(directory, f"decisions-{index:05d}")
    if fmt == "parquet":
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")

        table = pa.table(
            {
                "row": [r["row"] for r in decided],
                "applicant_id": [r["applicant_id"] for r in decided],
                "decision": [r["decision"] for r in decided],
            }
        )
        pq.write_table(table, name + ".parquet.part")
        os.replace(name + ".parquet.part", name + ".parquet")
    else:
        with open(name + ".jsonl.part", "w", encoding="utf-8") as fh:
            fh.writelines(r["decision"] + "\n" for r in decided)
        os.replace(name + ".jsonl.part", name + ".jsonl")
    if failed:
        with open(
            os.path.join(directory, f"errors-{index:05d}.jsonl"), "w", encoding="utf-8"
        ) as fh:
            for r in failed:
                record = {
                    "partition": index,
                    "row": r["row"],
                    "applicant_id": r["applicant_id"],
                    "errors": r["errors"],
                }
                fh.write(
                    json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
                    + "\n"
                )
    return {"decided": len(decided), "errors": len(failed)}


def write_partitions(results: Any, directory: str, fmt: str = "jsonl") -> dict[str, int]:
    """Write :func:`evaluate_partitions` results: ``decisions-NNNNN.jsonl`` (or
    ``.parquet``) and ``errors-NNNNN.jsonl`` per partition, in ``directory``
    (a path every worker can write, e.g. a shared file system).

    Returns:
        ``{"partitions": n, "decided": m, "errors": k}``.
    """
    dask: Any = importlib.import_module("dask")
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"fmt must be jsonl or parquet, not {fmt!r}")
    write = dask.delayed(_write_one, pure=False)
    tasks = [write(part, directory, i, fmt) for i, part in enumerate(results.to_delayed())]
    counts: Sequence[dict[str, int]] = dask.compute(*tasks)
    return {
        "partitions": len(counts),
        "decided": sum(c["decided"] for c in counts),
        "errors": sum(c["errors"] for c in counts),
    }
