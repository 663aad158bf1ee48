"""The decision log: one JSON line per decision, replaying it, and replaying a batch.

Every line holds what is needed to reproduce the decision: the facts as
given, the moment of evaluation, the policy's name, version and sha256 (and
whether that version was released), the engine version and the decision
itself. A line is appended with one ``write`` on a file opened with
``O_APPEND``, so concurrent writers never interleave and a killed process
leaves whole lines only.

Each line carries ``prev``, the sha256 of the line before it (of nothing for
the first), so that a line removed, added, moved or changed breaks the chain
at the line after it. Without a secret this catches accidental and naive
changes only: whoever rewrites the whole file can compute the hashes again.
With a key (``FOLLOWUP_LOG_KEY``) each line also carries ``mac``, an
HMAC-SHA256 of its own bytes, which cannot be made again without the key.

A batch's decisions (``followup batch -o``) are not a log: they carry no
facts. :func:`replay_batch` replays them against the batch's input instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ._conditions import jsonable
from ._decision import Decision
from ._diff import (
    CohortError,
    CohortRow,
    DecisionChange,
    decision_changes,
    read_cohort,
    row_problem_text,
)
from ._errors import FactsError, FollowupError, PolicyNotFound, json_error_words, json_kind
from ._policy import ENGINE_VERSION, Policy, load_policy
from ._releases import read_releases

try:  # a lock keeps the chain whole when several processes append at once
    import fcntl
except ImportError:  # Windows: no POSIX file locks (see docs/auditing.md)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "CohortError",
    "LogError",
    "LogLine",
    "ReplayOutcome",
    "ReplayResult",
    "append_decision",
    "find_logged",
    "is_released",
    "log_key",
    "log_record",
    "logged_policy",
    "not_a_log",
    "read_log",
    "replay",
    "replay_batch",
    "sniff",
]

#: ``prev`` of a log's first line: the sha256 of nothing
GENESIS = hashlib.sha256(b"").hexdigest()

#: the environment variable holding the key that seals each line (HMAC-SHA256)
KEY_ENV = "FOLLOWUP_LOG_KEY"

#: how a sealed line ends: its mac, the last member of the object
_MAC = re.compile(rb',"mac":"([0-9a-f]{64})"\}$')


class LogError(FollowupError):
    """The log cannot be read or names a policy that cannot be found."""


def log_key() -> bytes | None:
    """The key in ``FOLLOWUP_LOG_KEY`` (UTF-8), or None when it is unset or empty."""
    value = os.environ.get(KEY_ENV)
    return value.encode("utf-8") if value else None


def is_released(policy: Policy) -> bool:
    """Whether ``policy`` is a released version: its folder's RELEASES lists its
    version with the sha256 of its bytes."""
    if policy.path is None:
        return False
    found = read_releases(Path(policy.path).parent).get(policy.version)
    return found is not None and found.sha256 == policy.sha256


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return jsonable(value)


def log_record(
    facts: Mapping[str, Any], policy: Policy, decision: Decision, prev: str = GENESIS
) -> dict[str, Any]:
    """The log entry for one decision (without writing it).

    Args:
        prev: the sha256 of the line it follows (GENESIS for a log's first line).
    """
    data = decision.to_dict()
    return {
        "decision_id": uuid.uuid4().hex,
        "logged_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "as_of": data["as_of"],
        "policy": {"name": policy.name, "version": policy.version, "sha256": policy.sha256},
        "released": is_released(policy),
        # where the policy was read from, for replay to look there first
        "policy_file": None if policy.path is None else str(Path(policy.path).resolve()),
        "engine": {"version": ENGINE_VERSION},
        "facts": _plain(facts),
        "decision": data,
        "prev": prev,
    }


def _sealed(body: bytes, key: bytes | None) -> bytes:
    """A record's line: ``body`` (compact JSON), with its mac as the last member when keyed."""
    if key is None:
        return body
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    return body[:-1] + b',"mac":"' + mac.encode("ascii") + b'"}'


def _seal_holds(raw: bytes, key: bytes) -> bool | None:
    """Whether a line's mac is that of its bytes under ``key`` (None: it has no mac)."""
    found = _MAC.search(raw)
    if found is None:
        return None
    body = raw[: found.start()] + b"}"
    mac = hmac.new(key, body, hashlib.sha256).hexdigest().encode("ascii")
    return hmac.compare_digest(mac, found.group(1))


def append_decision(
    path: str | Path,
    facts: Mapping[str, Any],
    policy: Policy,
    decision: Decision,
    key: bytes | None = None,
) -> str:
    """Append one decision to the log at ``path`` (created when missing).

    The line's ``prev`` is the sha256 of the log's last line; ``key`` (see
    :func:`log_key`) adds a ``mac``. Where the system has POSIX file locks,
    the log is locked from reading its last line until the new one is
    written, so that writers at the same moment keep the chain whole.

    Returns:
        The decision id.

    Raises:
        LogError: the log cannot be written.
    """
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise LogError(f"cannot open the decision log {path}: {exc.strerror or exc}") from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        last, whole = _last_line(fd)
        record = log_record(facts, policy, decision, hashlib.sha256(last or b"").hexdigest())
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        line = _sealed(body, key) + b"\n"
        if not whole:  # a line cut short by an earlier crash must not swallow this one
            line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):
            raise LogError(f"the decision log {path} accepted only part of a line (disk full?)")
    except OSError as exc:
        raise LogError(f"cannot write the decision log {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)  # (and lets go of the lock)
    return str(record["decision_id"])


#: bytes read at a time, from the end, to find a log's last line
_TAIL_BLOCK = 1 << 16


def _last_line(fd: int) -> tuple[bytes | None, bool]:
    """The last line of the file that is not blank, without its newline (None when
    there is none), and whether the file ends with a newline (or is empty)."""
    end = os.fstat(fd).st_size
    if end == 0:
        return None, True
    tail = b""
    start = end
    while start > 0:
        start = max(0, start - _TAIL_BLOCK)
        os.lseek(fd, start, os.SEEK_SET)
        tail = os.read(fd, end - start)
        lines = tail.split(b"\n")
        # the first piece may be the end of a longer line, unless the file starts there
        for index in range(len(lines) - 1, 0 if start > 0 else -1, -1):
            if lines[index].strip():
                return lines[index], tail.endswith(b"\n")
    return None, tail.endswith(b"\n")


@dataclass(frozen=True)
class LogLine:
    """One line of a log that is not blank.

    Attributes:
        number: its 1-based line number.
        record: the logged decision, or None when the line is not one.
        error: why it is not (words starting "line N").
        raw: its bytes without the newline (what the next line's ``prev`` hashes).
    """

    number: int
    record: Mapping[str, Any] | None
    error: str | None = None
    raw: bytes = b""


def read_log(path: str | Path) -> Iterator[LogLine]:
    """Every line of a log, parsed; unreadable lines carry an error instead of a record.

    Raises:
        LogError: the file cannot be opened.
    """
    for number, raw in _filled_lines(path, "the decision log"):
        bare = raw[:-1] if raw.endswith(b"\n") else raw
        record, problem = _parse_line(raw)
        if problem is not None:
            yield LogLine(number, None, f"line {number} {problem}", bare)
            continue
        yield LogLine(number, record, None, bare)


def _filled_lines(path: str | Path, what: str) -> Iterator[tuple[int, bytes]]:
    """The lines of a file that are not blank, with their numbers.

    Raises:
        LogError: the file cannot be opened (``what`` names it).
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a generator owns it
    except OSError as exc:
        raise LogError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    with f:
        for number, raw in enumerate(f, 1):
            if raw.strip():
                yield number, raw


def _parse_line(raw: bytes) -> tuple[Mapping[str, Any] | None, str | None]:
    """A log line's record, or what is wrong with it (words after "line N")."""
    record, problem = _json_line(raw)
    if problem is not None:
        return None, problem
    if not isinstance(record, dict):
        return None, f"is {json_kind(record)}, not a logged decision (an object)"
    missing = [
        k for k in ("decision_id", "facts", "as_of", "policy", "decision") if k not in record
    ]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    meta = record["policy"]
    if not (isinstance(meta, dict) and all(isinstance(meta.get(k), str) for k in _POLICY_KEYS)):
        return None, f"has policy {_brief(meta)}; expected an object with {', '.join(_POLICY_KEYS)}"
    for key in ("facts", "decision"):
        if not isinstance(record[key], dict):
            return None, f"has {key} {_brief(record[key])}; expected an object"
    return record, None


_POLICY_KEYS = ("name", "version", "sha256")


def _json_line(raw: bytes) -> tuple[Any, str | None]:
    """A line's JSON value, or what is wrong with it (words after "line N"): in
    plain words with its column, as the batch says it of an input line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, (
            f"is not UTF-8 text (byte {exc.start + 1} is 0x{raw[exc.start]:02X}); "
            "it is damaged, or not a file followup wrote"
        )
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "is not JSON that can be read: its brackets nest too deeply"
    except ValueError as exc:
        what, _ = json_error_words(exc)  # (its fix is for a line written by hand)
        content = text.rstrip("\r\n")
        # a line a crash cut short ends early, or where the next entry's newline begins
        cut = isinstance(exc, json.JSONDecodeError) and (
            not text.endswith("\n") or exc.pos >= len(content) or exc.msg.startswith("Unterm")
        )
        return None, f"is not JSON: {what}" + ("; it looks cut short" if cut else "")


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


#: the longest first line :func:`sniff` reads (a log line with a full trace is a few KiB)
_SNIFF_LIMIT = 1 << 22


def sniff(path: str | Path) -> str:
    """What a file looks like, from its first line that is not blank.

    Returns:
        "log" (a logged decision), "batch" (a decision as ``followup batch``
        writes it), "batch-csv" (the CSV output of the batch), "empty" (no
        bytes), "blank" (blank lines only), "missing" (cannot be read) or
        "other".
    """
    try:
        with open(path, "rb") as f:
            first = b""
            seen = False
            while not first.strip():
                first = f.readline(_SNIFF_LIMIT)
                if not first:
                    return "blank" if seen else "empty"
                seen = True
    except OSError:
        return "missing"
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if first.startswith(b"applicant_id,as_of,next_action,"):
        return "batch-csv"
    try:
        value = json.loads(first)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "other"
    if not isinstance(value, dict):
        return "other"
    if "decision_id" in value and "decision" in value:
        return "log"
    if {"recommendations", "policy", "as_of"} <= value.keys() and "facts" not in value:
        return "batch"
    return "other"


#: the lines that are not blank :func:`not_a_log` looks at (a log's first may be damaged)
_LOOK_AT = 5

#: how a line of YAML starts: a key and a colon, a list item, or a document marker
_YAML = re.compile(r"^(---|- |[A-Za-z_][\w.-]*:(\s|$))")


def not_a_log(path: str | Path) -> tuple[str, str] | None:
    """What a file is when it is neither a decision log nor a batch's decisions,
    from its first lines that are not blank, or None when one of them is a
    logged decision or a batch's, or when all of them are JSON cut short or
    damaged (a log damaged there: each line's report says how).

    Returns:
        (kind, words): kind is "csv", "yaml", "facts", "errors", "json",
        "json-file", "parquet", "binary" or "text"; the words say what the
        first line is, to follow "its first line is".
    """
    seen: list[bytes] = []
    try:
        with open(path, "rb") as f:
            while len(seen) < _LOOK_AT:
                raw = f.readline(_SNIFF_LIMIT)
                if not raw:
                    break
                if raw.strip():
                    seen.append(raw.strip())
    except OSError:
        return None  # (replay says it cannot be read)
    if not seen:
        return None
    if seen[0].startswith(b"\xef\xbb\xbf"):
        seen[0] = seen[0][3:]
    if seen[0].startswith(b"PAR1"):
        return "parquet", "Parquet data (a batch's input?)"
    found: tuple[str, str] | None = None
    for raw in seen:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            found = found or ("binary", "not text (its bytes are not UTF-8)")
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            if text in ("{", "["):
                found = found or (
                    "json-file",
                    f"{text}: JSON written over several lines, not JSON lines (one object a line)",
                )
            elif not text.startswith("{"):
                found = found or _text_kind(text)
            continue  # a record cut short or damaged: its own report says how
        if isinstance(value, dict) and (
            {"decision_id", "decision"} <= value.keys()
            or ({"recommendations", "policy", "as_of"} <= value.keys() and "facts" not in value)
        ):
            return None
        found = found or _json_kind(value)
    return found


def _text_kind(text: str) -> tuple[str, str]:
    if "," in text and _YAML.match(text) is None:
        fields = [f.strip().strip('"') for f in text.split(",")]
        shown = ",".join(fields[:2]) + (",..." if len(fields) > 2 else "")
        return "csv", f"CSV (a header such as {shown})"
    shown = text if len(text) <= 40 else text[:37] + "..."
    if _YAML.match(text):
        return "yaml", f"YAML ({shown})"
    return "text", f"text, not JSON ({shown})"


def _json_kind(value: Any) -> tuple[str, str]:
    if isinstance(value, dict) and "row" in value and "errors" in value:
        return "errors", "an error record of followup batch (the file its --errors writes)"
    if isinstance(value, dict) and "applicant_id" in value:
        return "facts", f"a JSON object of facts (applicant {_brief(value['applicant_id'])})"
    if isinstance(value, dict):
        return "json", (
            "a JSON object with neither decision_id and decision (a logged decision) nor "
            "policy, as_of and recommendations (a decision of followup batch)"
        )
    return "json", f"{json_kind(value)}, not an object"


# ----------------------------------------------------------------- replay


@dataclass(frozen=True)
class ReplayResult:
    """One logged decision (or one row of a batch's input) replayed.

    Attributes:
        line: the line of the log or decisions file (None for a row of the
            input that has no decision line).
        decision_id, applicant_id, policy: from the line (None when it could
            not be read).
        changes: how the new decision differs ([] when identical).
        error: why the line could not be replayed, or None.
        chain: what is wrong with the line's link in the chain (or its seal),
            or None.
        row, input_line: for a batch, the row of the input and the line of
            the input file where it starts (None for Parquet).
        no_decision: for a batch, why a row has no decision line: it failed
            in the batch and fails now (the first problem).
        no_line: for a batch, the row has no decision line, and should: the
            decisions file ended before it (it is not a decision replayed).
    """

    line: int | None
    decision_id: str | None
    applicant_id: str | None
    policy: str | None
    changes: tuple[DecisionChange, ...] = ()
    error: str | None = None
    chain: str | None = None
    row: int | None = None
    input_line: int | None = None
    no_decision: str | None = None
    no_line: bool = field(default=False, compare=False)

    @property
    def status(self) -> str:
        """ "same", "different", "not-replayed", or "no-decision" (a batch's failed row)."""
        if self.error is not None:
            return "not-replayed"
        if self.changes:
            return "different"
        if self.no_decision is not None:
            return "no-decision"
        return "same"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "row": self.row,
            "input_line": self.input_line,
            "decision_id": self.decision_id,
            "applicant_id": self.applicant_id,
            "policy": self.policy,
            "status": self.status,
            "same": self.status == "same",
            "changes": [c.to_dict() for c in self.changes],
            "error": self.error,
            "chain": self.chain,
            "no_decision": self.no_decision,
        }


@dataclass
class ChainReport:
    """What the chain of a log says.

    Attributes:
        linked: lines carrying ``prev``.
        unlinked: lines without one (written by a followup before the chain).
        sealed: lines carrying ``mac``.
        keyed: whether a key was given, so that the seals were checked.
        broken: the lines whose link or seal is wrong.
    """

    linked: int = 0
    unlinked: int = 0
    sealed: int = 0
    keyed: bool = False
    broken: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "linked": self.linked,
            "unlinked": self.unlinked,
            "sealed": self.sealed,
            "seals_checked": self.keyed,
            "broken": self.broken,
        }


class _Chain:
    """Checks each line's ``prev`` (and, with a key, its ``mac``) in log order."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.report = ChainReport(keyed=key is not None)
        self.previous: bytes | None = None
        self.started = False

    def check(self, entry: LogLine) -> str | None:
        problems = []
        record = entry.record
        if record is not None:
            prev = record.get("prev")
            if isinstance(prev, str):
                self.report.linked += 1
                self.started = True
                if prev != hashlib.sha256(self.previous or b"").hexdigest():
                    problems.append(
                        "the chain is broken: it is the first line, but it links to a line "
                        "before it, which was removed"
                        if self.previous is None
                        else "the chain is broken: a line before it was removed or changed"
                    )
            else:
                self.report.unlinked += 1
                if self.started:
                    problems.append(
                        "the chain is broken: the line carries no link (prev) to the line "
                        "before it, though the lines before it do: it was changed, or "
                        "added by an older followup"
                    )
            if "mac" in record:
                self.report.sealed += 1
            if self.key is not None:
                holds = _seal_holds(entry.raw, self.key)
                if holds is None:
                    problems.append(
                        f"the line carries no seal (mac), though {KEY_ENV} is set: it was "
                        "written without the key, or its seal was removed"
                    )
                elif not holds:
                    problems.append(
                        "its seal (mac) does not match: the line was changed after it was "
                        f"written, or {KEY_ENV} is not the key it was written with"
                    )
        self.previous = entry.raw
        if problems:
            self.report.broken.append(entry.number)
            return "; ".join(problems)
        return None


@dataclass
class ReplayOutcome:
    """Every decision of a log (or of a batch's output) replayed.

    Attributes:
        log: the log, or the batch's decisions file.
        against: the policy given instead of the logged ones, or None.
        input: the batch's input (None for a log).
        results: one per line (and per input row without a decision), in order.
        chain: what the log's chain says (None for a batch's output).
        problem: why there is nothing to replay (the file holds no decisions).
        last_line: for a batch, the last line of the decisions paired with a row.
    """

    log: str
    against: str | None
    results: list[ReplayResult] = field(default_factory=list)
    input: str | None = None
    chain: ChainReport | None = None
    problem: str | None = None
    last_line: int = 0

    @property
    def replayed(self) -> list[ReplayResult]:
        """The decisions checked: not the rows of a batch's input that have none."""
        return [r for r in self.results if r.status != "no-decision" and not r.no_line]

    @property
    def without_line(self) -> list[ReplayResult]:
        """The rows of a batch's input after the decisions file's last line."""
        return [r for r in self.results if r.no_line]

    @property
    def differing(self) -> list[ReplayResult]:
        """The decisions that came out different or could not be replayed."""
        return [r for r in self.replayed if r.changes or r.error]

    @property
    def failed(self) -> list[ReplayResult]:
        """The decisions that could not be replayed."""
        return [r for r in self.replayed if r.error]

    @property
    def ok(self) -> bool:
        """Whether the audit passes: decisions to check, all the same, every row of a
        batch's input paired, the chain whole."""
        broken = self.chain is not None and bool(self.chain.broken)
        return self.problem is None and not self.differing and not self.without_line and not broken

    def to_dict(self) -> dict[str, Any]:
        replayed = self.replayed
        without_line = len(self.without_line)
        return {
            "log": self.log,
            "policy": self.against,
            "replayed": len(replayed),
            "same": len(replayed) - len(self.differing),
            "different": len(self.differing),
            "errors": len(self.failed),
            "results": [r.to_dict() for r in self.results],
            "input": self.input,
            "no_decision": len(self.results) - len(replayed) - without_line,
            "no_line": without_line,
            "chain": None if self.chain is None else self.chain.to_dict(),
            "problem": self.problem,
        }


def replay(
    path: str | Path,
    policy: Policy | None = None,
    policies_dir: Iterable[str | Path] = (),
    key: bytes | None = None,
) -> ReplayOutcome:
    """Re-evaluate every logged decision, and check the log's chain.

    A line that cannot be replayed (not JSON, not a decision, a policy version
    that cannot be found or whose bytes differ, facts the policy refuses) is a
    result with an ``error``; the lines after it are replayed all the same.
    Besides the decision, the fields of each record are checked against it
    (``as_of``, ``engine``, ``released``, ``logged_at``), and its ``prev``
    against the line before it (its ``mac`` too, given ``key``).

    Args:
        path: the log.
        policy: evaluate under this policy instead of the one each line names
            (to see what a newer version would have said).
        policies_dir: extra folders to look policies up in.
        key: the key the lines were sealed with (see :func:`log_key`).

    Returns:
        One result per logged decision, in log order.

    Raises:
        LogError: the log cannot be read.
    """
    outcome = ReplayOutcome(
        str(path), None if policy is None else f"{policy.name}@{policy.version}"
    )
    chain = _Chain(key)
    outcome.chain = chain.report
    found: dict[tuple[str, str, str], Policy | str] = {}  # a policy, or why not
    dirs = tuple(policies_dir)
    for entry in read_log(path):
        broken = chain.check(entry)
        if entry.record is None:
            outcome.results.append(
                ReplayResult(entry.number, None, None, None, error=entry.error, chain=broken)
            )
            continue
        rec = entry.record
        meta = rec["policy"]
        logged = rec["decision"]
        ref = f"{meta['name']}@{meta['version']}"
        who = (entry.number, str(rec["decision_id"]), logged.get("applicant_id"), ref)
        target: Policy | str | None = policy
        if target is None:
            target = _cached_policy(found, rec, dirs)
        if isinstance(target, str):
            outcome.results.append(ReplayResult(*who, error=target, chain=broken))
            continue
        try:
            made = target.evaluate(rec["facts"], as_of=rec["as_of"], trace="full")
        except FactsError as exc:
            error = exc.problems[0].render()
            outcome.results.append(ReplayResult(*who, error=error, chain=broken))
            continue
        again = json.loads(made.to_json())  # compared as JSON values, as the log holds them
        changes = decision_changes(logged, again, strict=policy is None)
        changes += _record_changes(rec, again, target if policy is None else None)
        outcome.results.append(ReplayResult(*who, tuple(changes), chain=broken))
    if not outcome.results:
        outcome.problem = _nothing_in(path)
    return outcome


def _nothing_in(path: str | Path) -> str:
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return f"{path} holds no decisions" + (" (it is empty)" if not size else " (only blank lines)")


def _cached_policy(
    found: dict[tuple[str, str, str], Policy | str],
    record: Mapping[str, Any],
    dirs: tuple[str | Path, ...],
) -> Policy | str:
    meta = record["policy"]
    key = (str(meta["name"]), str(meta["version"]), str(meta["sha256"]))
    if key not in found:
        found[key] = logged_policy(record, dirs)
    return found[key]


def _record_changes(
    record: Mapping[str, Any], again: Mapping[str, Any], policy: Policy | None
) -> list[DecisionChange]:
    """The fields of a log record that disagree with its decision or the replay.

    ``decision``, ``facts``, ``policy`` and ``policy_file`` are used by the
    replay itself, ``prev`` and ``mac`` by the chain; this checks the others.
    ``policy`` is the logged version (None when replaying under another one,
    whose release says nothing about the record).
    """
    out = []
    if record["as_of"] != again.get("as_of"):
        out.append(DecisionChange("record", "/as_of", "", record["as_of"], again.get("as_of")))
    engine, made_by = record.get("engine"), record["decision"].get("engine")
    if (
        isinstance(engine, dict)
        and isinstance(made_by, dict)
        and engine.get("version") != made_by.get("version")
    ):
        out.append(
            DecisionChange(
                "record", "/engine/version", "", engine.get("version"), made_by.get("version")
            )
        )
    if policy is not None and record.get("released") is True and not is_released(policy):
        out.append(DecisionChange("record", "/released", "", True, False))
    logged_at = record.get("logged_at")
    if logged_at is not None and not _is_moment(logged_at):
        out.append(DecisionChange("record", "/logged_at", "", logged_at, None))
    return out


def _is_moment(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def logged_policy(record: Mapping[str, Any], dirs: Iterable[str | Path] = ()) -> Policy | str:
    """The policy version a logged decision (or a batch's decision) was made with,
    or why it cannot be used.

    The file it was read from (``policy_file``) comes first, when it is still
    there with the same bytes (a policy given by path, outside any policies
    folder); then the policy is looked up by name and version. A sha256 that
    differs is explained in the words of ``released``: a draft changes.
    """
    meta = record["policy"]
    name, version, sha256 = str(meta["name"]), str(meta["version"]), str(meta["sha256"])
    key = (name, version, sha256)
    ref = f"{name}@{version}"
    file = record.get("policy_file")
    if isinstance(file, str) and Path(file).is_file():
        try:
            policy = load_policy(Path(file))
        except FollowupError:
            pass  # changed or broken since: look it up by name instead
        else:
            if (policy.name, policy.version, policy.sha256) == key:
                return policy
    try:
        policy = load_policy(name, version, policies_dir=tuple(dirs))
    except PolicyNotFound as exc:
        return (
            f"the decision was made with policy {ref}, which cannot be found ({exc}); "
            "add its folder: followup --policies-dir DIR replay LOG"
        )
    except FollowupError as exc:  # a released file changed since: it does not load
        problems = getattr(exc, "problems", None)
        why = problems[0].render() if problems else str(exc)
        return f"policy {ref} cannot be loaded: {why}"
    if policy.sha256 != sha256:
        found = (
            f"policy {ref} found at {policy.path} has sha256 {policy.sha256[:12]}, but the "
            f"decision was made with {sha256[:12]}"
        )
        released = record.get("released")
        if released is False:
            return (
                f"{found}. The decision was made with a draft of {ref} (not released), and a "
                "draft changes while it is edited: only the draft's file as it was then can "
                "replay it (release a version before logging decisions made with it)"
            )
        if released is None and not is_released(policy):
            return (
                f"{found}. {ref} is a draft (not released) and a draft changes while it is "
                "edited: it was most likely edited since; find its file as it was then"
            )
        return f"{found}; find the original file of that version"
    return policy


def find_logged(
    path: str | Path, line: int | None = None, decision_id: str | None = None
) -> LogLine:
    """The logged decision at ``line`` of the log, or the one with ``decision_id``.

    Raises:
        LogError: the log cannot be read, holds no such line or id, or the line
            is not a logged decision (the message says which).
    """
    numbers = []
    for entry in read_log(path):
        numbers.append(entry.number)
        if line is not None and entry.number == line:
            if entry.record is None:
                raise LogError(f"{path}: {entry.error}")
            return entry
        if (
            decision_id is not None
            and entry.record is not None
            and str(entry.record["decision_id"]) == decision_id
        ):
            return entry
    if not numbers:
        raise LogError(_nothing_in(path))
    span = f"line {numbers[0]}" if len(numbers) == 1 else f"lines {numbers[0]} to {numbers[-1]}"
    if line is not None:
        blank = 0 < line < numbers[-1]
        raise LogError(
            f"{path} has no decision at line {line}"
            + (" (it is blank)" if blank else "")
            + f"; its decisions are on {span}"
        )
    raise LogError(
        f"{path} holds no decision with decision_id {decision_id} ({len(numbers)} lines); "
        "followup replay LOG --format json lists every decision_id"
    )


# ------------------------------------------------------------------ batch


def _trace_of(decision: Mapping[str, Any]) -> str:
    """The ``--trace`` a batch's decision was made with, from what its trace holds:
    conditions of rules that did not fire only in "full", conditions or deciding
    conditions only from "fired" up. (Where two modes would write the same
    trace, either gives the same bytes.)"""
    trace = decision.get("trace")
    if not isinstance(trace, dict):
        return "full"
    fired = trace.get("fired") or []
    missed = trace.get("not_fired") or []
    if any(isinstance(e, dict) and e.get("conditions") for e in missed):
        return "full"
    if any(isinstance(e, dict) and e.get("failed_condition") is not None for e in missed) or any(
        isinstance(e, dict) and e.get("conditions") for e in fired
    ):
        return "fired"
    return "none"


@dataclass(frozen=True)
class _Line:
    """One line of a batch's decisions file."""

    number: int
    raw: bytes
    decision: dict[str, Any] | None
    error: str | None = None
    applicant_id: str | None = None  # of a line that cannot be read, when it starts with it


#: how a batch's decision starts: its applicant_id (kept by a line cut short)
_LEADING_ID = re.compile(rb'^\{"applicant_id":"((?:[^"\\]|\\.)*)"')


def _leading_id(raw: bytes) -> str | None:
    found = _LEADING_ID.match(raw)
    if found is None:
        return None
    try:
        value = json.loads(b'"' + found.group(1) + b'"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _decision_lines(path: str) -> Iterator[_Line]:
    """Every line of a batch's decisions that is not blank, parsed.

    Raises:
        LogError: the file cannot be opened.
    """
    for number, raw in _filled_lines(path, "the decisions"):
        bare = raw.rstrip(b"\r\n")
        value, problem = _json_line(raw)
        if problem is not None:
            yield _Line(number, bare, None, f"line {number} {problem}", _leading_id(bare))
            continue
        meta = value.get("policy") if isinstance(value, dict) else None
        if not (
            isinstance(meta, dict)
            and all(isinstance(meta.get(k), str) for k in _POLICY_KEYS)
            and isinstance(value.get("as_of"), str)
            and isinstance(value.get("recommendations"), list)
        ):
            yield _Line(
                number,
                bare,
                None,
                f"line {number} is not a decision of followup batch "
                "(one with policy, as_of and recommendations)",
                _leading_id(bare),
            )
            continue
        yield _Line(number, bare, value)


def _failed_rows(path: str) -> set[int]:
    """The rows an errors file of ``followup batch`` lists.

    Raises:
        LogError: it cannot be read, or a line is not an error record.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LogError(f"cannot read the errors file {path}: {exc.strerror or exc}") from exc
    rows = set()
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            value = None
        row = value.get("row") if isinstance(value, dict) else None
        if not isinstance(row, int) or isinstance(row, bool):
            raise LogError(
                f"{path}:{number}: this line is not an error record of followup batch "
                '(one with "row"); give the file that followup batch --errors wrote'
            )
        rows.add(row)
    return rows


class _Pending:
    """The decision lines not yet paired with a row, one looked at ahead."""

    def __init__(self, lines: Iterator[_Line]) -> None:
        self._lines = lines
        self.next: _Line | None = next(lines, None)
        self.last = 0  # the number of the last line taken

    def take(self) -> _Line:
        taken = self.next
        assert taken is not None
        self.last = taken.number
        self.next = next(self._lines, None)
        return taken

    def rest(self) -> Iterator[_Line]:
        while self.next is not None:
            yield self.take()


def replay_batch(
    decisions: str,
    cohort: str,
    policy: Policy | None = None,
    policies_dir: Iterable[str | Path] = (),
    errors: str | None = None,
    input_format: str | None = None,
) -> ReplayOutcome:
    """Re-evaluate each row of a batch's input and compare it with its decision line.

    The input is read with the batch's own reader, so its rows are numbered as
    the batch numbered them. Rows and decision lines are paired in order: a row
    that failed in the batch has no line. Those rows are the ones the errors
    file (``errors``) lists; without it, the ones that fail now (decided
    deterministically, a row fails now exactly when it failed then), unless the
    next line is the decision of that applicant. Each pair must name the same
    applicant_id; the first pair that does not stops the pairing (a line added
    or removed, or another input), and the lines after it are not replayed.

    Each row is evaluated with the policy name, version and sha256, and at the
    as_of, of its line, with the trace its line shows; the decision made must
    have the line's bytes (its ``engine`` block aside, which names the
    engine version and backend).

    Raises:
        LogError: the decisions or the errors file cannot be read.
        CohortError: the input cannot be read.
    """
    outcome = ReplayOutcome(
        decisions, None if policy is None else f"{policy.name}@{policy.version}", input=cohort
    )
    failed = None if errors is None else _failed_rows(errors)
    pending = _Pending(_decision_lines(decisions))
    if pending.next is None:
        outcome.problem = _nothing_in(decisions)
        return outcome
    found: dict[tuple[str, str, str], Policy | str] = {}
    dirs = tuple(policies_dir)
    context: tuple[Policy | str, str, str] | None = None  # the last line's policy, as_of, trace
    stopped: str | None = None
    rows = iter(read_cohort(cohort, input_format))
    ahead = next(rows, None)  # the row after this one (a failed row's line is the next row's)
    while ahead is not None:
        row, ahead = ahead, next(rows, None)
        line: _Line | None = pending.next
        if line is not None and line.decision is not None:
            target = policy if policy is not None else _cached_policy(found, line.decision, dirs)
            context = (target, line.decision["as_of"], _trace_of(line.decision))
        expected = None if failed is None else row.row in failed
        if line is not None and line.decision is None:  # a line that cannot be read
            if not _has_no_line(row, line, expected, context, cohort):
                pending.take()  # it is this row's line: it takes its place all the same
                outcome.results.append(_row_result(row, line, error=line.error))
                continue
            line = None  # the row failed in the batch: the line is a later row's
            if context is None:  # (only with an errors file, which lists the row)
                outcome.results.append(
                    _row_result(
                        row,
                        None,
                        error="the row failed in the batch (its errors file lists it); it is "
                        "not evaluated again, since no decision line before it could be read "
                        "to name the policy",
                    )
                )
                continue
        elif context is None or (line is None and expected is False):
            outcome.results.append(
                _row_result(row, None, error=_ends_at(decisions, pending), no_line=True)
            )
            continue
        assert context is not None
        target, moment, trace = context
        if isinstance(target, str) and row.facts is not None:  # the policy cannot be used
            if line is not None and expected is not True:
                pending.take()
                outcome.results.append(_row_result(row, line, error=target))
            else:
                outcome.results.append(_row_result(row, None, error=target))
            continue
        made, problem = _decide(row, target, moment, trace, cohort)
        if made is None:
            aid = line.decision.get("applicant_id") if line and line.decision else None
            if line is not None and (
                expected is False or (expected is None and aid and aid == row.applicant_id)
            ):
                pending.take()  # the batch decided it: it is refused now
                outcome.results.append(
                    _row_result(row, line, error=f"the row is refused now: {problem}")
                )
            else:
                outcome.results.append(_row_result(row, None, no_decision=problem))
            continue
        if expected is True:  # no line: the batch could not decide it
            change = DecisionChange("record", "/row", "", None, None)
            outcome.results.append(_row_result(row, None, changes=(change,)))
            continue
        if line is None or line.decision is None:
            outcome.results.append(
                _row_result(row, None, error=_ends_at(decisions, pending), no_line=True)
            )
            continue
        pending.take()
        if made.applicant_id != line.decision.get("applicant_id"):
            stopped = f"line {line.number}"
            aid = line.decision.get("applicant_id")
            why = " (a line removed or added, or not the batch's input)"
            if failed is None and ahead is not None and aid and aid == ahead.applicant_id:
                why += (
                    f"; {aid} is the next row's applicant, so row {row.row} may have failed "
                    "in the batch: give --errors ERRORS (the batch's errors file, which names "
                    "the rows that failed)"
                )
            outcome.results.append(
                _row_result(
                    row,
                    line,
                    error=f"line {line.number} is the decision of applicant {aid}, but row "
                    f"{row.row} of {cohort} is applicant {made.applicant_id}: the rows do not "
                    f"line up{why}",
                )
            )
            break
        changes = _line_changes(line, made, strict=policy is None)
        outcome.results.append(_row_result(row, line, changes=tuple(changes)))
    outcome.last_line = pending.last
    for left in pending.rest():
        why = (
            f"the rows stopped lining up at {stopped}"
            if stopped
            else f"{cohort} has no row left for it: a row was removed from the input, or a "
            "line was added here"
        )
        outcome.results.append(
            ReplayResult(
                left.number,
                None,
                left.decision.get("applicant_id") if left.decision else left.applicant_id,
                _ref(left.decision),
                error=why,
            )
        )
    return outcome


def _ends_at(decisions: str, pending: _Pending) -> str:
    return (
        f"{decisions} has no decision left for this row (it ends at line {pending.last}): "
        "a line was removed, or rows were added to the input"
    )


def _has_no_line(
    row: CohortRow,
    line: _Line,
    expected: bool | None,
    context: tuple[Policy | str, str, str] | None,
    cohort: str,
) -> bool:
    """Whether a row failed in the batch, so that the line that cannot be read at its
    place belongs to a later row: the errors file says so (``expected``); without
    one, the row fails now and the line does not start with its applicant_id."""
    if expected is not None:
        return expected
    if context is None or isinstance(context[0], str):
        return False  # nothing to evaluate it with: the line is taken as its own
    made, _ = _decide(row, *context, cohort)
    return made is None and line.applicant_id != row.applicant_id


def _ref(decision: Mapping[str, Any] | None) -> str | None:
    if decision is None:
        return None
    meta = decision["policy"]
    return f"{meta['name']}@{meta['version']}"


def _decide(
    row: CohortRow, target: Policy | str, moment: str, trace: str, file: str
) -> tuple[Decision | None, str]:
    """A row's decision now, or the first reason it has none, as
    ``FILE:LINE: code: message``."""
    problems = row.problems
    if row.facts is not None and not isinstance(target, str):
        try:
            return target.evaluate(row.facts, as_of=moment, trace=trace), ""
        except FactsError as exc:
            problems = tuple(exc.problems)
    return None, row_problem_text(file, row.row, row.line, problems[0]) if problems else ""


def _row_result(
    row: CohortRow,
    line: _Line | None,
    *,
    changes: tuple[DecisionChange, ...] = (),
    error: str | None = None,
    no_decision: str | None = None,
    no_line: bool = False,
) -> ReplayResult:
    decision = line.decision if line is not None else None
    aid = decision.get("applicant_id") if decision else None
    return ReplayResult(
        None if line is None else line.number,
        None,
        aid if isinstance(aid, str) else row.applicant_id,
        _ref(decision),
        changes,
        error,
        row=row.row,
        input_line=row.line,
        no_decision=no_decision,
        no_line=no_line,
    )


def _line_changes(line: _Line, made: Decision, *, strict: bool) -> list[DecisionChange]:
    """How a decision made now differs from a batch's line: nothing when it has the
    line's bytes (the engine block aside)."""
    assert line.decision is not None
    data = made.to_bytes()
    if data == line.raw:
        return []
    again = orjson.loads(data)
    if "engine" in line.decision:
        again["engine"] = line.decision["engine"]  # (it keeps its place among the keys)
    if strict and orjson.dumps(again) == line.raw:
        return []
    changes = decision_changes(line.decision, again, strict=strict)
    if strict and not changes:
        return [DecisionChange("bytes", "", "", None, None)]
    return changes
