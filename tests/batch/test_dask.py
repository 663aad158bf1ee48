"""Dask: a 2-worker LocalCluster gives the local batch's decisions, row for row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command
from tests.batch.batch_helpers import AS_OF, cohort, gen_cohort

distributed = pytest.importorskip("distributed")
db = pytest.importorskip("dask.bag")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # as dask_executor: 8787 may be taken
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    rows = cohort(300, seed=5)
    rows[17] = {**rows[17], "industry": "banking"}
    return rows


def _local(rows: list[dict[str, Any]], tmp_path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    source = tmp_path / "in.jsonl"
    gen_cohort.write(iter(rows), str(source))
    out, errors = tmp_path / "local.jsonl", tmp_path / "local.errors"
    result = CliRunner().invoke(
        batch_command,
        [
            str(source),
            "-o",
            str(out),
            "--errors",
            str(errors),
            "--as-of",
            AS_OF,
            "--workers",
            "1",
            "-q",
        ],
    )
    assert result.exit_code == 1, result.output
    return out.read_text(encoding="utf-8").splitlines(), [
        json.loads(x) for x in errors.read_text().splitlines()
    ]


def test_evaluate_partitions_equals_the_local_batch(
    client: Any, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    from followup.engine.batch.dask import evaluate_partitions, write_partitions

    local, local_errors = _local(rows, tmp_path)
    bag = db.from_sequence(rows, npartitions=4)
    results = evaluate_partitions(bag, as_of=AS_OF).compute()
    assert len(results) == len(rows)
    assert [r["decision"] for r in results if r["decision"] is not None] == local
    failed = [r for r in results if r["errors"] is not None]
    assert [(r["applicant_id"], r["errors"]) for r in failed] == [
        (e["applicant_id"], e["errors"]) for e in local_errors
    ]
    counts = write_partitions(evaluate_partitions(bag, as_of=AS_OF), str(tmp_path / "parts"))
    assert counts == {"partitions": 4, "decided": 299, "errors": 1}
    written = []
    for part in sorted((tmp_path / "parts").glob("decisions-*.jsonl")):
        written += part.read_text(encoding="utf-8").splitlines()
    assert written == local
    assert len(list((tmp_path / "parts").glob("errors-*.jsonl"))) == 1


def test_batch_on_a_dask_scheduler_equals_the_local_batch(
    client: Any, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    local, _ = _local(rows, tmp_path)
    source = tmp_path / "in.jsonl"
    out = tmp_path / "dask.jsonl"
    result = CliRunner().invoke(
        batch_command,
        [
            str(source),
            "-o",
            str(out),
            "--as-of",
            AS_OF,
            "--dask",
            client.scheduler.address,
            "--chunk-size",
            "23",
            "-q",
            "--summary",
            str(tmp_path / "summary.json"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert out.read_text(encoding="utf-8").splitlines() == local
    # the workers' CPU is spent on the cluster, where this process cannot see it
    cpu = json.loads((tmp_path / "summary.json").read_text())["timing"]["cpu_seconds"]
    assert cpu["workers"] is None and cpu["main"] > 0


def test_partitions_can_be_written_as_parquet(
    client: Any, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from followup.engine.batch.dask import evaluate_partitions, write_partitions

    local, _ = _local(rows, tmp_path)
    results = evaluate_partitions(db.from_sequence(rows, npartitions=3), as_of=AS_OF)
    assert write_partitions(results, str(tmp_path / "pq"), fmt="parquet")["decided"] == 299
    decisions = []
    for part in sorted((tmp_path / "pq").glob("decisions-*.parquet")):
        decisions += pq.read_table(part).column("decision").to_pylist()
    assert decisions == local


def test_batch_on_a_local_cluster_equals_the_local_batch(
    rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    local, _ = _local(rows, tmp_path)
    out = tmp_path / "dask-local.jsonl"
    args = ["--as-of", AS_OF, "--dask", "local", "--workers", "2", "--chunk-size", "37", "-q"]
    result = CliRunner().invoke(batch_command, [str(tmp_path / "in.jsonl"), "-o", str(out), *args])
    assert result.exit_code == 1, result.output
    assert out.read_text(encoding="utf-8").splitlines() == local


def test_a_local_cluster_that_cannot_start_is_one_line_and_exit_2(
    rows: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Cluster failed to start: Timed out during handshake")

    monkeypatch.setattr(distributed, "LocalCluster", fails)
    _local(rows, tmp_path)
    out = tmp_path / "dask-local.jsonl"
    result = CliRunner().invoke(
        batch_command,
        [str(tmp_path / "in.jsonl"), "-o", str(out), "--as-of", AS_OF, "--dask", "local"],
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert (
        "--dask local: could not start a Dask cluster on this machine "
        "(RuntimeError: Cluster failed to start: Timed out during handshake)" in result.output
    )
    assert not out.exists()
