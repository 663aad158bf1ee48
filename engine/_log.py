"""The decision log: one JSON line per decision, and replaying it.

Every line holds what is needed to reproduce the decision: the facts as
given, the moment of evaluation, the policy's name, version and sha256, the
engine version and the decision itself. A line is appended with one
``write`` on a file opened with ``O_APPEND``, so concurrent writers never
interleave and a killed process leaves whole lines only.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._conditions import jsonable
from ._decision import Decision
from ._diff import DecisionChange, decision_changes
from ._errors import FactsError, FollowupError, PolicyNotFound
from ._policy import ENGINE_VERSION, Policy, load_policy

__all__ = [
    "LogError",
    "LogLine",
    "ReplayOutcome",
    "ReplayResult",
    "append_decision",
    "log_record",
    "read_log",
    "replay",
]


class LogError(FollowupError):
    """The log cannot be read or names a policy that cannot be found."""


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return jsonable(value)


def log_record(facts: Mapping[str, Any], policy: Policy, decision: Decision) -> dict[str, Any]:
    """The log entry for one decision (without writing it)."""
    data = decision.to_dict()
    return {
        "decision_id": uuid.uuid4().hex,
        "logged_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "as_of": data["as_of"],
        "policy": {"name": policy.name, "version": policy.version, "sha256": policy.sha256},
        "engine": {"version": ENGINE_VERSION},
        "facts": _plain(facts),
        "decision": data,
    }


def append_decision(
    path: str | Path, facts: Mapping[str, Any], policy: Policy, decision: Decision
) -> str:
    """Append one decision to the log at ``path`` (created when missing).

    Returns:
        The decision id.

    Raises:
        LogError: the log cannot be written.
    """
    record = log_record(facts, policy, decision)
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LogError(f"cannot open the decision log {path}: {exc.strerror or exc}") from exc
    try:
        # a line cut short by an earlier crash must not swallow this one
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):
            raise LogError(f"the decision log {path} accepted only part of a line (disk full?)")
    except OSError as exc:
        raise LogError(f"cannot write the decision log {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    return str(record["decision_id"])


@dataclass(frozen=True)
class LogLine:
    number: int
    record: Mapping[str, Any] | None
    error: str | None = None


def read_log(path: str | Path) -> Iterator[LogLine]:
    """Every line of a log, parsed; unreadable lines carry an error instead of a record.

    Raises:
        LogError: the file cannot be opened.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a generator owns it
    except OSError as exc:
        raise LogError(f"cannot read the decision log {path}: {exc.strerror or exc}") from exc
    with f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                complete = raw.endswith(b"\n")
                yield LogLine(
                    number,
                    None,
                    f"line {number} is not JSON ({exc})"
                    + ("" if complete else "; it looks cut short"),
                )
                continue
            missing = [
                k
                for k in ("decision_id", "facts", "as_of", "policy", "decision")
                if k not in record
            ]
            if missing:
                yield LogLine(number, None, f"line {number} lacks {', '.join(missing)}")
                continue
            yield LogLine(number, record)


@dataclass(frozen=True)
class ReplayResult:
    """One logged decision replayed.

    Attributes:
        changes: how the new decision differs ([] when identical).
        error: why it could not be replayed, or None.
    """

    line: int
    decision_id: str
    applicant_id: str | None
    policy: str
    changes: tuple[DecisionChange, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "decision_id": self.decision_id,
            "applicant_id": self.applicant_id,
            "policy": self.policy,
            "same": not self.changes and self.error is None,
            "changes": [c.to_dict() for c in self.changes],
            "error": self.error,
        }


@dataclass
class ReplayOutcome:
    log: str
    against: str | None
    results: list[ReplayResult] = field(default_factory=list)

    @property
    def differing(self) -> list[ReplayResult]:
        return [r for r in self.results if r.changes or r.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "policy": self.against,
            "replayed": len(self.results),
            "same": len(self.results) - len(self.differing),
            "different": len(self.differing),
            "results": [r.to_dict() for r in self.differing],
        }


def replay(
    path: str | Path,
    policy: Policy | None = None,
    policies_dir: Iterable[str | Path] = (),
) -> ReplayOutcome:
    """Re-evaluate every logged decision.

    Args:
        path: the log.
        policy: evaluate under this policy instead of the one each line names
            (to see what a newer version would have said).
        policies_dir: extra folders to look policies up in.

    Returns:
        One result per logged decision, in log order.

    Raises:
        LogError: the log is unreadable, a line is not a decision, or a line
            names a policy version that cannot be found or whose bytes differ.
    """
    outcome = ReplayOutcome(
        str(path), None if policy is None else f"{policy.name}@{policy.version}"
    )
    cache: dict[tuple[str, str], Policy] = {}
    dirs = tuple(policies_dir)
    for entry in read_log(path):
        if entry.record is None:
            raise LogError(f"{path}: {entry.error}")
        rec = entry.record
        meta = rec["policy"]
        ref = f"{meta['name']}@{meta['version']}"
        target = policy
        if target is None:
            key = (meta["name"], meta["version"])
            if key not in cache:
                try:
                    cache[key] = load_policy(meta["name"], meta["version"], policies_dir=dirs)
                except PolicyNotFound as exc:
                    raise LogError(
                        f"{path}: line {entry.number}: the decision was made with policy {ref}, "
                        f"which cannot be found ({exc}); add its folder with --policies-dir"
                    ) from exc
                if cache[key].sha256 != meta["sha256"]:
                    raise LogError(
                        f"{path}: line {entry.number}: policy {ref} found at {cache[key].path} has "
                        f"sha256 {cache[key].sha256[:12]}, but the decision was made with "
                        f"{str(meta['sha256'])[:12]}; find the original file of that version"
                    )
            target = cache[key]
        logged = rec["decision"]
        try:
            again = target.evaluate(rec["facts"], as_of=rec["as_of"], trace="full").to_dict()
        except FactsError as exc:
            outcome.results.append(
                ReplayResult(
                    entry.number,
                    str(rec["decision_id"]),
                    logged.get("applicant_id"),
                    ref,
                    error=exc.problems[0].render(),
                )
            )
            continue
        changes = decision_changes(logged, again, strict=policy is None)
        outcome.results.append(
            ReplayResult(
                entry.number,
                str(rec["decision_id"]),
                logged.get("applicant_id"),
                ref,
                tuple(changes),
            )
        )
    return outcome
