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
        # where the policy was read from, for replay to look there first
        "policy_file": None if policy.path is None else str(Path(policy.path).resolve()),
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
            record, problem = _parse_line(raw)
            if problem is not None:
                yield LogLine(number, None, f"line {number} {problem}")
                continue
            yield LogLine(number, record)


def _parse_line(raw: bytes) -> tuple[Mapping[str, Any] | None, str | None]:
    """A log line's record, or what is wrong with it (words after "line N")."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 ({exc.reason} at byte {exc.start})"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        # a line a crash cut short ends early, or where the next entry's newline begins
        content = text.rstrip("\r\n")
        cut = not text.endswith("\n") or exc.pos >= len(content) or exc.msg.startswith("Unterm")
        return None, f"is not JSON ({exc})" + ("; it looks cut short" if cut else "")
    if not isinstance(record, dict):
        return None, f"is a JSON {type(record).__name__}, not a logged decision (an object)"
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


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class ReplayResult:
    """One line of a log replayed.

    Attributes:
        decision_id, applicant_id, policy: from the line (None when it could
            not be read).
        changes: how the new decision differs ([] when identical).
        error: why the line could not be replayed, or None.
    """

    line: int
    decision_id: str | None
    applicant_id: str | None
    policy: str | None
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
        """The lines that came out different or could not be replayed."""
        return [r for r in self.results if r.changes or r.error]

    @property
    def failed(self) -> list[ReplayResult]:
        """The lines that could not be replayed."""
        return [r for r in self.results if r.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "policy": self.against,
            "replayed": len(self.results),
            "same": len(self.results) - len(self.differing),
            "different": len(self.differing),
            "errors": len(self.failed),
            "results": [r.to_dict() for r in self.differing],
        }


def replay(
    path: str | Path,
    policy: Policy | None = None,
    policies_dir: Iterable[str | Path] = (),
) -> ReplayOutcome:
    """Re-evaluate every logged decision.

    A line that cannot be replayed (not JSON, not a decision, a policy version
    that cannot be found or whose bytes differ, facts the policy refuses) is a
    result with an ``error``; the lines after it are replayed all the same.

    Args:
        path: the log.
        policy: evaluate under this policy instead of the one each line names
            (to see what a newer version would have said).
        policies_dir: extra folders to look policies up in.

    Returns:
        One result per logged decision, in log order.

    Raises:
        LogError: the log cannot be read.
    """
    outcome = ReplayOutcome(
        str(path), None if policy is None else f"{policy.name}@{policy.version}"
    )
    found: dict[tuple[str, str, str], Policy | str] = {}  # a policy, or why not
    dirs = tuple(policies_dir)
    for entry in read_log(path):
        if entry.record is None:
            outcome.results.append(ReplayResult(entry.number, None, None, None, error=entry.error))
            continue
        rec = entry.record
        meta = rec["policy"]
        logged = rec["decision"]
        ref = f"{meta['name']}@{meta['version']}"
        who = (entry.number, str(rec["decision_id"]), logged.get("applicant_id"), ref)
        target: Policy | str | None = policy
        if target is None:
            file = rec.get("policy_file")
            key = (str(meta["name"]), str(meta["version"]), str(meta["sha256"]))
            if key not in found:
                found[key] = _logged_policy(key, dirs, file if isinstance(file, str) else None)
            target = found[key]
        if isinstance(target, str):
            outcome.results.append(ReplayResult(*who, error=target))
            continue
        try:
            made = target.evaluate(rec["facts"], as_of=rec["as_of"], trace="full")
        except FactsError as exc:
            outcome.results.append(ReplayResult(*who, error=exc.problems[0].render()))
            continue
        again = json.loads(made.to_json())  # compared as JSON values, as the log holds them
        changes = decision_changes(logged, again, strict=policy is None)
        outcome.results.append(ReplayResult(*who, tuple(changes)))
    return outcome


def _logged_policy(
    key: tuple[str, str, str], dirs: tuple[str | Path, ...], file: str | None = None
) -> Policy | str:
    """The policy version a logged decision was made with, or why it cannot be used.

    The file it was read from comes first, when it is still there with the same
    bytes (a policy given by path, outside any policies folder); then the
    policy is looked up by name and version.
    """
    name, version, sha256 = key
    ref = f"{name}@{version}"
    if file is not None and Path(file).is_file():
        try:
            policy = load_policy(Path(file))
        except FollowupError:
            pass  # changed or broken since: look it up by name instead
        else:
            if (policy.name, policy.version, policy.sha256) == key:
                return policy
    try:
        policy = load_policy(name, version, policies_dir=dirs)
    except PolicyNotFound as exc:
        return (
            f"the decision was made with policy {ref}, which cannot be found ({exc}); "
            "add its folder: followup --policies-dir DIR replay LOG"
        )
    if policy.sha256 != sha256:
        return (
            f"policy {ref} found at {policy.path} has sha256 {policy.sha256[:12]}, but the "
            f"decision was made with {sha256[:12]}; find the original file of that version"
        )
    return policy
