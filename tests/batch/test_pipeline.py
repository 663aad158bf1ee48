"""The batch pipeline outside the engine: decoding, per-chunk counters, ids, worker processes."""

from __future__ import annotations

import errno
import io
import json
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.engine import load_policy
from followup.engine._rows import Tally, encode_id, flag_seen
from followup.engine._rows import loads as _loads
from followup.engine.batch import (
    BatchJob,
    BatchOptions,
    InputSpec,
    OutputError,
    PolicyRef,
    PoolExecutor,
    RawChunk,
    WorkerDied,
    _pool,
    _runner,
    decode_row,
    evaluate_chunk,
    read_chunks,
    run_batch,
)
from followup.engine.batch._pool import OutputSpot
from followup.engine.batch._runner import _Run
from followup.engine.batch._worker import ChunkResult, decode_id
from followup.engine.batch._writers import next_recommendation
from tests.batch.batch_helpers import AS_OF, cohort

# --- decoding: orjson where it gives what json gives ---------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _same(line: bytes) -> None:
    """``_loads`` gives what ``json.loads`` gives: equal value (and types), or equal error."""
    try:
        expected: Any = json.loads(line)
    except Exception as exc:
        with pytest.raises(type(exc)) as info:
            _loads(line)
        assert str(info.value) == str(exc)
        return
    assert repr(_loads(line)) == repr(expected)  # repr: 1 != 1.0, nan, -0.0


@settings(max_examples=500, deadline=None)
@given(_json_values, st.booleans())
def test_fast_json_decoding_equals_json_on_any_json(value: Any, ascii_only: bool) -> None:
    _same(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass") + b"\n")


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=40)
    | st.text(alphabet='{}[]":,.-+eE0123456789 \\ntrufalsNI\ud800é').map(
        lambda t: t.encode("utf-8", "surrogatepass")
    )
)
def test_fast_json_decoding_equals_json_on_any_bytes(line: bytes) -> None:
    _same(line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"n": 123456789012345678901234567890}',  # beyond 64 bits: orjson would make a float
        b'{"n": 18446744073709551616, "m": -9223372036854775809}',
        b'{"n": [1, 2, 99999999999999999999]}',
        b'{"x": 1e400, "y": 0.1, "z": -0.0}',
        b'{"x": NaN, "y": Infinity}',
        b'{"x": "\\ud800"}',
        b'{"a": 1, "a": 2}',
        b'{"a": 1',
        b'{"a": "\xff"}',
        b"\xef\xbb\xbf{}",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_fast_json_decoding_equals_json_at_the_edges(line: bytes) -> None:
    try:
        _same(line)
    except RecursionError:  # json itself gives up on deep nesting, and so does _loads
        with pytest.raises(RecursionError):
            _loads(line)


def test_a_row_with_a_huge_integer_is_decoded_exactly() -> None:
    facts = decode_row(
        "jsonl", b'{"status_inquiries_sent": 123456789012345678901234567890}\n', None
    )
    assert facts == {"status_inquiries_sent": 123456789012345678901234567890}
    assert type(facts["status_inquiries_sent"]) is int


# --- the duplicate-id bitmap ----------------------------------------------------------------


def test_flag_seen_sets_bits_and_names_ids_whose_bit_was_set() -> None:
    seen = bytearray(2)  # 16 bits
    lines = [b"a", b"", b"b", b"c", b"a"]
    # hashes chosen to collide: b"c" lands on b"a"'s bit (3 + 16 and -13 & 15 == 3)
    hashes = [3, 0, 12, 3 + 16, -13]
    assert flag_seen(hashes, lines, seen, 15) == [3, 4]  # the row without an id is skipped
    assert seen == bytearray([1 << 3, 1 << 4])
    assert flag_seen([12], [b"b"], seen, 15) == [0]  # bits stay set between calls
    assert flag_seen([5], [b"d"], seen, 15) == []


# --- the summary counters, counted per chunk --------------------------------------------


def test_counters_take_any_sequences_of_mappings() -> None:
    """A stand-in evaluator's decision may hold tuples and read-only mappings (the
    benchmark's I/O floor does); they are counted like an engine decision's lists."""
    tally = Tally()
    recs = (
        MappingProxyType({"action": "send_thank_you", "status": "done"}),
        {"action": "status_inquiry", "status": "due"},
    )
    tally.add(("r1",), recs)
    tally.add([], ())
    tally.add(["r1"], list(recs[:1]))
    assert tally.take() == {
        "a|send_thank_you|done": 2,
        "a|status_inquiry|due": 1,
        "r|r1": 2,
        "n|status_inquiry|due": 1,  # the first one not done
        "n|send_thank_you|done": 1,  # all done: the first one
        "n|": 1,
    }
    assert tally.take() == {}


_pairs = st.tuples(
    st.sampled_from(["send_thank_you", "status_inquiry", "move_on"]),
    st.sampled_from(["done", "due", "overdue", "wait"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["r1", "r2", "r3", "r4"]), max_size=4),
            st.lists(_pairs, max_size=3),
        ),
        max_size=30,
    )
)
def test_counting_rows_by_pattern_gives_every_counter_of_every_row(
    rows: list[tuple[list[str], list[tuple[str, str]]]],
) -> None:
    """The tally counts each row's patterns and works the counters out when taken:
    the same numbers as adding one to each counter of each row."""
    tally = Tally()
    expected: Counter[str] = Counter()
    for fired, pairs in rows:
        recs = [{"action": action, "status": status} for action, status in pairs]
        tally.count(tuple(fired), recs)
        expected.update(f"r|{rule}" for rule in fired)
        expected.update(f"a|{action}|{status}" for action, status in pairs)
        nxt = next_recommendation(recs)
        expected["n|" if nxt is None else f"n|{nxt['action']}|{nxt['status']}"] += 1
    assert tally.take() == dict(expected)
    assert tally.take() == {}


def _row_keys(decision: Any) -> list[str]:
    """The counters one decided row adds to, as the batch always counted them."""
    recs = decision.recommendations
    keys = [f"a|{rec.get('action')}|{rec.get('status')}" for rec in recs]
    keys.extend(f"r|{rule}" for rule in decision.fired)
    nxt = next_recommendation(recs)
    keys.append(f"n|{nxt.get('action')}|{nxt.get('status')}" if nxt is not None else "n|")
    return keys


def _mixed_lines(n: int, seed: int) -> list[bytes]:
    rows = cohort(n, seed=seed)
    lines = [json.dumps(r).encode() + b"\n" for r in rows]
    for i in range(0, n, 9):
        lines[i] = b'{"applicant_id": "X%d", "industry": "banking"}\n' % i
    lines[5] = b"{broken\n"
    lines[6] = b"[1]\n"
    return lines


@pytest.mark.parametrize("trace", ["none", "fired", "full"])
def test_chunk_counters_are_the_per_row_keys_split_at_each_failed_row(
    trace: str, policy: Any
) -> None:
    lines = _mixed_lines(60, seed=21)
    job = BatchJob(PolicyRef(), trace, AS_OF, "jsonl")
    result = evaluate_chunk(job, RawChunk("jsonl", 1, list(range(1, 61)), lines))
    failed = {index for index, _, _ in result.errors}
    assert len(result.counters) == len(result.errors) + 1
    expected: list[Counter[str]] = [Counter()]
    for index, line in enumerate(lines):
        if index in failed:
            expected.append(Counter())
            continue
        decision = policy.evaluate(json.loads(line), as_of=AS_OF, trace=trace)
        expected[-1].update(_row_keys(decision))
    assert [Counter(segment) for segment in result.counters] == expected


def test_chunk_ids_round_trip_every_kind_of_id() -> None:
    ids = [None, "A1", "", '"quoted', "two\nlines", "cr\rhere", "é", "x\udcff"]
    result = ChunkResult(1, ends=[0] * len(ids))
    result.id_lines = "".join(map(encode_id, ids)).encode("utf-8", "surrogateescape")
    assert result.ids == [None, "A1", "", '"quoted', "two\nlines", "cr\rhere", "é", "x\udcff"]
    lines = result.id_lines.split(b"\n")[:-1]
    assert len(lines) == len(ids) and [decode_id(line) for line in lines] == result.ids


def _expected_counters(lines: list[bytes], upto: int, policy: Any, trace: str) -> Counter[str]:
    """What the summary counts for the first ``upto`` rows, row by row."""
    counts: Counter[str] = Counter()
    for line in lines[:upto]:
        try:
            facts = decode_row("jsonl", line, None)
            decision = policy.evaluate(facts, as_of=AS_OF, trace=trace)
        except Exception:
            continue
        counts.update(_row_keys(decision))
    return counts


@pytest.mark.parametrize(
    ("workers", "chunk_size", "max_errors"),
    [(1, 1, None), (1, 7, None), (2, 7, None), (2, 1000, None), (1, 7, 4), (2, 5, 4), (2, 64, 9)],
)
def test_summary_counters_are_the_same_for_any_chunking(
    workers: int, chunk_size: int, max_errors: int | None, tmp_path: Path, policy: Any
) -> None:
    lines = _mixed_lines(120, seed=4)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(lines))
    job = BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")
    result = run_batch(
        InputSpec(str(source), "jsonl"),
        job,
        output=str(tmp_path / "out.jsonl"),
        options=BatchOptions(workers=workers, chunk_size=chunk_size, max_errors=max_errors),
    )
    assert result.read == result.decided + result.errors
    counters = Counter({k: v for k, v in result.counters.items() if not k.startswith("e|")})
    assert counters == _expected_counters(lines, result.read, policy, "fired")
    if max_errors is not None:
        assert result.errors == max_errors and result.stopped_early


# --- duplicate ids: exact, whatever the chunking ------------------------------------------


def _reference_duplicates(ids: list[str | None]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for row, aid in enumerate(ids, 1):
        if aid is not None:
            rows.setdefault(aid, []).append(row)
    return {aid: found for aid, found in rows.items() if len(found) > 1}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([None, "A", "B", "", '"q', "x\ny", "C", "D", "é"]), max_size=40),
    st.integers(1, 9),
)
def test_duplicate_ids_are_found_exactly_in_chunks_of_any_size(
    ids: list[str | None], size: int
) -> None:
    for tiny in (False, True):
        # a one-byte bitmap makes every id look seen before: the answer must not change
        with mock.patch.object(_runner, "_SEEN_MASK", 7 if tiny else _runner._SEEN_MASK):
            run = _Run(None, None, None, None, None, None)
            for start in range(0, len(ids), size):
                part = ids[start : start + size]
                result = ChunkResult(start + 1, ends=[0] * len(part))
                result.id_lines = "".join(map(encode_id, part)).encode("utf-8", "surrogateescape")
                result.counters = [{}]
                run.commit(result)
        assert run.first_rows() == _reference_duplicates(ids)
        assert run.rows == len(ids) and len(run.order) == len(ids)


# --- worker processes ----------------------------------------------------------------------


class _Dies:
    """A policy whose worker process dies (as if killed) on the applicant "DIE"."""

    def __init__(self) -> None:
        self._policy = load_policy("interview-follow-up")
        self.name, self.version, self.sha256 = "dies", "0", "0" * 64

    def evaluate(self, facts: Any, **kwargs: Any) -> Any:
        if facts.get("applicant_id") == "DIE" and os.getpid() != _MAIN_PID:
            os._exit(3)
        return self._policy.evaluate(facts, **kwargs)


_MAIN_PID = os.getpid()


def dying_policy(name: str, version: str | None = None) -> _Dies:
    return _Dies()


def failing_policy(name: str, version: str | None = None) -> Any:
    raise ValueError(f"no policy called {name}")


def _dies_at_row_151(tmp_path: Path) -> tuple[InputSpec, BatchJob]:
    rows = cohort(200, seed=2)
    rows[150] = {**rows[150], "applicant_id": "DIE"}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    job = BatchJob(PolicyRef("x", None, f"{__name__}:dying_policy"), "none", AS_OF, "jsonl")
    return InputSpec(str(source), "jsonl"), job


def test_a_worker_that_dies_stops_the_run_instead_of_hanging_and_keeps_its_state(
    tmp_path: Path,
) -> None:
    source, job = _dies_at_row_151(tmp_path)
    out = tmp_path / "out.jsonl"
    with pytest.raises(WorkerDied) as info:
        run_batch(source, job, output=str(out), options=BatchOptions(workers=2, chunk_size=10))
    died = info.value
    assert died.exitcode == 3 and died.rows_in_hand == (151, 160)
    assert died.resumable and died.completed is not None and died.completed <= 150
    assert str(died) == (
        f"worker process {died.pid} died (exit code 3) while evaluating rows 151-160; "
        f"the run stopped after {died.completed} rows; {out} was not written; "
        "run the same command with --resume to continue"
    )
    # kept as an interruption keeps it: the checkpoint says what was written
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.jsonl", "out.jsonl.checkpoint", "out.jsonl.ids", "out.jsonl.part"
    ]  # fmt: skip
    checkpoint = json.loads((tmp_path / "out.jsonl.checkpoint").read_text())
    assert checkpoint["rows"] == died.completed
    assert checkpoint["output_bytes"] == (tmp_path / "out.jsonl.part").stat().st_size
    assert (tmp_path / "out.jsonl.part").read_bytes().count(b"\n") == died.completed


def test_a_worker_that_dies_writing_to_a_stream_is_not_resumable(tmp_path: Path) -> None:
    source, job = _dies_at_row_151(tmp_path)
    stream = io.BytesIO()
    with pytest.raises(WorkerDied) as info:
        options = BatchOptions(workers=2, chunk_size=10)
        run_batch(source, job, output=None, stream=stream, options=options)
    died = info.value
    assert not died.resumable
    assert str(died).endswith(
        f"the run stopped after {died.completed} rows; run it again to start over"
    )
    assert stream.getvalue().count(b"\n") == died.completed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_chunk_that_fails_in_a_worker_raises_its_error_in_the_main_process(
    tmp_path: Path,
) -> None:
    good = BatchJob(PolicyRef(), "none", AS_OF, "jsonl")
    bad = replace(good, policy=PolicyRef("nope", None, f"{__name__}:failing_policy"))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in cohort(30, seed=8)))
    chunks = list(read_chunks(InputSpec(str(source), "jsonl"), 10))
    executor = PoolExecutor(2, good)
    try:
        first = executor.submit(good, chunks[0])
        failing = executor.submit(bad, chunks[1])
        last = executor.submit(good, chunks[2])
        assert first.result().count == 10
        with pytest.raises(ValueError, match="no policy called nope"):
            failing.result()
        assert last.result().count == 10
    finally:
        executor.shutdown(cancel=False)


def test_worker_results_are_the_inline_results(tmp_path: Path) -> None:
    job = BatchJob(PolicyRef(), "fired", AS_OF, "csv")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_mixed_lines(90, seed=6)))
    chunks = list(read_chunks(InputSpec(str(source), "jsonl"), 13))
    executor = PoolExecutor(3, job)
    try:
        handles = [executor.submit(job, chunk) for chunk in chunks]
        remote = [handle.result() for handle in handles]
    finally:
        executor.shutdown(cancel=False)
    for chunk, got in zip(chunks, remote, strict=True):
        want = evaluate_chunk(job, chunk)
        assert bytes(got.data) == want.data
        assert (got.ends, got.errors, got.id_lines, got.counters) == (
            want.ends,
            want.errors,
            want.id_lines,
            want.counters,
        )


def test_workers_write_a_file_output_themselves_in_order(tmp_path: Path) -> None:
    """Given a file, workers write each chunk at the end of the chunks before it;
    the main process gets the rest of the result, not the bytes."""
    job = BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_mixed_lines(90, seed=7)))
    chunks = list(read_chunks(InputSpec(str(source), "jsonl"), 13))
    target = tmp_path / "out.jsonl.part"
    target.write_bytes(b"HEAD\n")  # e.g. a CSV header, or the rows before a resume
    executor = PoolExecutor(3, job, OutputSpot(str(target), 5, "out.jsonl"))
    try:
        remote = [handle.result() for handle in [executor.submit(job, c) for c in chunks]]
    finally:
        executor.shutdown(cancel=False)
    local = [evaluate_chunk(job, chunk) for chunk in chunks]
    offset = 5
    for got, want in zip(remote, local, strict=True):
        assert (got.data, got.held, got.placed_at) == (b"", len(want.data), offset)
        assert (got.ends, got.errors, got.id_lines, got.counters) == (
            want.ends,
            want.errors,
            want.id_lines,
            want.counters,
        )
        offset += len(want.data)
    assert target.read_bytes() == b"HEAD\n" + b"".join(bytes(want.data) for want in local)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=9), max_size=60),
    st.integers(1, 20),
    st.integers(0, 5),
)
def test_lines_are_written_whole_in_order_however_short_each_write(
    lines: list[bytes], most: int, offset: int
) -> None:
    """``os.pwritev`` may write less than it was given, and takes a limited
    number of buffers at a time: ``_write_at`` goes on until every byte is in."""
    calls: list[int] = []
    out = bytearray(b"." * offset)

    def short_pwritev(fd: int, buffers: list[Any], at: int) -> int:
        assert len(buffers) <= 4 and at == len(out)
        assert len(out) < offset + sum(map(len, lines))  # never more than asked
        calls.append(len(buffers))
        data = b"".join(bytes(b) for b in buffers)[:most]
        out.extend(data)
        return len(data)

    with (
        mock.patch.object(_pool.os, "pwritev", short_pwritev),
        mock.patch.object(_pool, "_IOV_MAX", 4),
    ):
        _pool._write_at(-1, lines, offset)
    assert bytes(out) == b"." * offset + b"".join(lines)
    assert len(calls) >= -(-len(lines) // 4)


def test_lines_are_written_joined_where_the_system_has_no_pwritev(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(_pool.os, "pwritev")
    target = tmp_path / "out"
    target.write_bytes(b"HEAD\n")
    lines = [b"%d\n" % i for i in range(3000)]
    fd = os.open(target, os.O_WRONLY)
    try:
        _pool._write_at(fd, lines, 5)
    finally:
        os.close(fd)
    assert target.read_bytes() == b"HEAD\n" + b"".join(lines)


class _Logs:
    """A policy that notes each applicant it evaluates, and takes a second over "SLOW"."""

    def __init__(self, log: str) -> None:
        self._policy = load_policy("interview-follow-up")
        self.name, self.version, self.sha256 = "logs", "0", "0" * 64
        self.log = log

    def evaluate(self, facts: Any, **kwargs: Any) -> Any:
        if facts.get("applicant_id") == "SLOW":
            time.sleep(1.0)
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"{facts.get('applicant_id')}\n")
        return self._policy.evaluate(facts, **kwargs)


def logging_policy(name: str, version: str | None = None) -> _Logs:
    return _Logs(name)


def test_a_worker_ahead_of_the_output_stops_after_two_chunks(tmp_path: Path) -> None:
    """Chunks are written in input order: a worker whose chunks wait for a slow one's
    holds at most two of them, instead of evaluating on (its memory would grow)."""
    rows = cohort(30, seed=4)
    rows[4] = {**rows[4], "applicant_id": "SLOW"}  # the last row of chunk 1, on worker 1
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = tmp_path / "log.txt"
    job = BatchJob(PolicyRef(str(log), None, f"{__name__}:logging_policy"), "none", AS_OF, "jsonl")
    outputs = []
    for workers in (2, 1):
        log.write_text("")
        out = tmp_path / f"out-{workers}.jsonl"
        options = BatchOptions(workers=workers, chunk_size=5)
        run_batch(InputSpec(str(source), "jsonl"), job, output=str(out), options=options)
        outputs.append(out.read_bytes())
        if workers == 2:
            order = log.read_text().split()
            # worker 2 evaluated chunks 2 and 4 while worker 1 slept over chunk 1, and
            # started chunk 6 only once chunk 1, then its chunk 2, were written
            assert max(order.index(r["applicant_id"]) for r in rows[5:10] + rows[15:20]) < (
                order.index("SLOW")
            )
            assert min(order.index(r["applicant_id"]) for r in rows[25:30]) > order.index("SLOW")
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("workers", [2, 3])
def test_a_run_stopped_by_max_errors_writes_what_one_worker_writes(
    workers: int, tmp_path: Path
) -> None:
    """Workers write chunks past the one where the run stops; none of it may stay."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_mixed_lines(300, seed=9)))
    job = BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")
    got = {}
    for count in (1, workers):
        out, errors = tmp_path / f"out-{count}.jsonl", tmp_path / f"errors-{count}.jsonl"
        result = run_batch(
            InputSpec(str(source), "jsonl"),
            job,
            output=str(out),
            errors=str(errors),
            options=BatchOptions(workers=count, chunk_size=7, max_errors=20),
        )
        assert result.errors == 20 and result.read < 200
        got[count] = (out.read_bytes(), errors.read_bytes(), result.read, result.decided)
    assert got[workers] == got[1]
    assert got[1][0].count(b"\n") == got[1][3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "in.jsonl",
            "out-1.jsonl",
            "errors-1.jsonl",
            f"out-{workers}.jsonl",
            f"errors-{workers}.jsonl",
        ]
    )


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the failure is patched in before fork"
)
def test_a_worker_that_cannot_write_the_output_fails_the_run_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, data: Any, offset: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_pool, "_write_at", disk_full)  # in the workers forked below
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_mixed_lines(60, seed=3)))
    out = tmp_path / "out.jsonl"
    job = BatchJob(PolicyRef(), "none", AS_OF, "jsonl")
    with pytest.raises(OutputError) as info:
        run_batch(
            InputSpec(str(source), "jsonl"),
            job,
            output=str(out),
            options=BatchOptions(workers=2, chunk_size=10),
        )
    assert str(info.value) == f"cannot write {out}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_the_main_process_failing_to_write_the_output_says_so(tmp_path: Path) -> None:
    """With one worker the main process writes: a full disk is an OutputError naming
    the output, not an OSError."""
    from followup.engine.batch._checkpoint import PartFile

    part = PartFile(str(tmp_path / "out.jsonl"))

    class _Full(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real, part._fh = part._fh, _Full()
    real.close()
    with pytest.raises(OutputError) as info:
        part.write(b"{}\n")
    assert str(info.value) == f"cannot write {tmp_path / 'out.jsonl'}: No space left on device"
    assert part.size == 0


# --- the collector: evaluation makes no reference cycles ---------------------------------


def test_evaluating_rows_leaves_no_reference_cycles() -> None:
    """Batch runs let the cyclic collector run rarely (COLLECTOR_THRESHOLDS): that is
    only sound while reference counting alone frees what evaluating a chunk made,
    good rows and bad rows alike."""
    import gc

    rows = cohort(400)
    rows[3] = {**rows[3], "interview_at": "not a date"}  # a row with an error
    rows[5] = {"applicant_id": "X", "no_such_fact": 1}
    items = [json.dumps(row).encode() for row in rows]
    chunk = RawChunk("jsonl", 1, list(range(1, len(items) + 1)), items)
    job = BatchJob(PolicyRef("interview-follow-up"), "fired", AS_OF, "jsonl")
    evaluate_chunk(job, chunk)  # compile and warm outside the count
    gc.collect()
    gc.disable()
    try:
        for trace in ("none", "fired", "full"):
            result = evaluate_chunk(replace(job, trace=trace), chunk)
            assert len(result.errors) == 2
            del result
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0


def test_the_summary_gives_this_run_cpu_in_the_main_process_and_in_its_workers(
    tmp_path: Path,
) -> None:
    import resource

    def spent() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime

    while spent() < 1.0:  # CPU this process spent before the runs is not theirs
        sum(range(100_000))
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_mixed_lines(40, seed=5)))
    job = BatchJob(PolicyRef(), "fired", AS_OF, "jsonl")
    cpu = {}
    for workers in (1, 2):
        result = run_batch(
            InputSpec(str(source), "jsonl"),
            job,
            output=str(tmp_path / f"out-{workers}.jsonl"),
            options=BatchOptions(workers=workers, chunk_size=10),
        )
        cpu[workers] = result.summary()["timing"]["cpu_seconds"]
    assert 0 < cpu[1]["main"] < 1.0 and cpu[1]["workers"] == 0
    assert 0 < cpu[2]["main"] < 1.0 and cpu[2]["workers"] > 0  # each worker loads the policy


def test_peak_rss_is_the_batch_own_not_the_parent_process() -> None:
    """ru_maxrss survives fork and exec; the summary's figure must not (a benchmark
    holding a cohort in memory once made every batch it started report 207 MB)."""
    import subprocess
    import sys

    ballast = bytearray(200 * 1024 * 1024)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touch every page
    code = "from followup.engine.batch._runner import _peak_rss_mb; print(_peak_rss_mb()['main'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    del ballast
    assert 0 < float(out.stdout) < 150
