"""Differences between two policy versions, and their impact on decisions.

:func:`diff_policies` compares two policy documents and says in words what was
added, removed or changed. :func:`decision_changes` compares two decisions
about the same interview; :func:`cohort_impact` runs a cohort under both
policies and counts the changes by kind and by rule. :func:`read_cohort`
reads a cohort the way ``followup batch`` does, row by row, a bad row
becoming a row with problems instead of stopping the reading.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ._errors import FactsError, FollowupError, Problem
from ._policy import Policy
from ._yaml import escape_pointer, load_yaml

__all__ = [
    "CohortError",
    "CohortImpact",
    "CohortRow",
    "DecisionChange",
    "PolicyChange",
    "cohort_impact",
    "decision_changes",
    "diff_policies",
    "read_cohort",
    "row_problem_text",
]

_RULE_FIELDS = ("title", "description", "cite", "salience", "explain", "when", "then")
_META_FIELDS = ("title", "description")


@dataclass(frozen=True)
class PolicyChange:
    """One difference between two policies.

    Attributes:
        section: "changelog" (the authors' notes, not a difference in
            behaviour), "policy", "rules", "parameters", "tables",
            "calendars", "derived" or "templates".
        kind: "added", "removed" or "changed".
        name: the rule id, parameter, table... concerned.
        field: what changed inside it ("" for the whole item).
        old, new: the values (None when added or removed).
        text: the change in words.
    """

    section: str
    kind: str
    name: str
    field: str
    old: Any
    new: Any
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "kind": self.kind,
            "name": self.name,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "text": self.text,
        }


def _short(value: Any) -> str:
    """A value in one line, for sentences."""
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:77] + "..."
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _compare_maps(
    section: str,
    label: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    fields: Iterable[str] | None,
    out: list[PolicyChange],
) -> None:
    for name in old:
        if name not in new:
            out.append(
                PolicyChange(
                    section, "removed", name, "", old[name], None, f"{label} {name} removed"
                )
            )
    for name in new:
        if name not in old:
            out.append(
                PolicyChange(section, "added", name, "", None, new[name], f"{label} {name} added")
            )
            continue
        a, b = old[name], new[name]
        if a == b:
            continue
        keys: Iterable[str]
        if fields is not None:
            keys = fields
        elif isinstance(a, Mapping) and isinstance(b, Mapping):
            keys = list(dict.fromkeys([*a, *b]))
        else:
            out.append(
                PolicyChange(
                    section,
                    "changed",
                    name,
                    "",
                    a,
                    b,
                    f"{label} {name}: {_short(a)} -> {_short(b)}",
                )
            )
            continue
        for key in keys:
            x = a.get(key) if isinstance(a, Mapping) else None
            y = b.get(key) if isinstance(b, Mapping) else None
            if x == y:
                continue
            # each differing value inside (a condition, a message), not the whole of it cut short
            for at, u, v in _leaves(x, y, key) if _nested(x, y) else [(key, x, y)]:
                out.append(
                    PolicyChange(
                        section,
                        "changed",
                        name,
                        at,
                        u,
                        v,
                        f"{label} {name}: {at} {_pair(u, v)}",
                    )
                )


def _nested(x: Any, y: Any) -> bool:
    return isinstance(x, Mapping | list) and isinstance(y, Mapping | list)


def _pair(old: Any, new: Any) -> str:
    """``old -> new`` in one line; two long texts are shown around where they differ."""
    if old is None and new is not None:
        return f"added: {_short(new)}"
    if new is None and old is not None:
        return f"removed: {_short(old)}"
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 80:
        start = 0
        while start < min(len(old), len(new)) and old[start] == new[start]:
            start += 1
        end = 0  # length of the common ending, not overlapping the common start
        while (
            end < min(len(old), len(new)) - start
            and old[len(old) - 1 - end] == new[len(new) - 1 - end]
        ):
            end += 1
        return f"{_window(old, start, end)} -> {_window(new, start, end)}"
    return f"{_short(old)} -> {_short(new)}"


def _window(text: str, start: int, end: int) -> str:
    """The part of ``text`` that differs (between the common start and end), with
    a little context on each side."""
    lo = max(0, start - 20)
    hi = min(len(text), len(text) - end + 20)
    middle = text[lo:hi]
    if len(middle) > 100:
        middle = middle[:97] + "..."
    return ("..." if lo > 0 else "") + middle + ("..." if hi < len(text) else "")


def diff_policies(old: Policy, new: Policy) -> list[PolicyChange]:
    """Every difference between two policies, in document order: metadata,
    parameters, tables, calendars, derived facts, templates, then rules."""
    a, b = old.document, new.document
    out: list[PolicyChange] = _changelog(a["policy"], b["policy"])
    for key in _META_FIELDS:
        x, y = a["policy"].get(key), b["policy"].get(key)
        if x != y:
            out.append(
                PolicyChange(
                    "policy", "changed", key, key, x, y, f"policy {key}: {_short(x)} -> {_short(y)}"
                )
            )
    params_a = a.get("parameters", {})
    params_b = b.get("parameters", {})
    for name in params_a:
        if name not in params_b:
            out.append(
                PolicyChange(
                    "parameters",
                    "removed",
                    name,
                    "",
                    params_a[name],
                    None,
                    f"parameter {name} removed",
                )
            )
    for name, spec in params_b.items():
        if name not in params_a:
            out.append(
                PolicyChange(
                    "parameters",
                    "added",
                    name,
                    "",
                    None,
                    spec,
                    f"parameter {name} added: {spec['value']} {spec.get('unit', '')}".rstrip(),
                )
            )
            continue
        old_spec = params_a[name]
        if old_spec.get("value") != spec.get("value"):
            unit = spec.get("unit", "")
            out.append(
                PolicyChange(
                    "parameters",
                    "changed",
                    name,
                    "value",
                    old_spec.get("value"),
                    spec.get("value"),
                    f"parameter {name}: {old_spec.get('value')} -> {spec.get('value')} {unit}".rstrip(),
                )
            )
        for key in ("unit", "description"):
            if old_spec.get(key) != spec.get(key):
                out.append(
                    PolicyChange(
                        "parameters",
                        "changed",
                        name,
                        key,
                        old_spec.get(key),
                        spec.get(key),
                        f"parameter {name}: {key} {_short(old_spec.get(key))} -> {_short(spec.get(key))}",
                    )
                )
    _tables(a.get("tables", {}), b.get("tables", {}), out)
    _compare_maps(
        "calendars", "calendar", a.get("calendars", {}), b.get("calendars", {}), None, out
    )
    _compare_maps("derived", "derived fact", a.get("derived", {}), b.get("derived", {}), None, out)
    _compare_maps(
        "templates", "template", a.get("templates", {}), b.get("templates", {}), None, out
    )
    rules_a = {r["id"]: r for r in a["rules"]}
    rules_b = {r["id"]: r for r in b["rules"]}
    _compare_maps("rules", "rule", rules_a, rules_b, _RULE_FIELDS, out)
    return out


def _changelog(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[PolicyChange]:
    """The authors' own words: changelog entries the new policy adds, changes or drops.

    They are notes about the change, not differences in behaviour: ``section``
    "changelog" lets a reader count them apart.
    """
    old = {str(e["version"]): e for e in a.get("changelog", [])}
    new = {str(e["version"]): e for e in b.get("changelog", [])}
    out: list[PolicyChange] = []

    def words(entry: Mapping[str, Any]) -> str:  # the date is in the entry, for JSON
        return f"{entry['version']}: " + "; ".join(entry["changes"])

    for version, entry in new.items():
        if version not in old:
            out.append(PolicyChange("changelog", "added", version, "", None, entry, words(entry)))
        elif old[version] != entry:
            text = words(entry) + f" (was: {_short(words(old[version]))})"
            out.append(PolicyChange("changelog", "changed", version, "", old[version], entry, text))
    for version, entry in old.items():
        if version not in new:
            text = f"{words(entry)} (no longer in the changelog)"
            out.append(PolicyChange("changelog", "removed", version, "", entry, None, text))
    return out


def _tables(a: Mapping[str, Any], b: Mapping[str, Any], out: list[PolicyChange]) -> None:
    for name in a:
        if name not in b:
            out.append(
                PolicyChange("tables", "removed", name, "", a[name], None, f"table {name} removed")
            )
    for name, spec in b.items():
        if name not in a:
            out.append(PolicyChange("tables", "added", name, "", None, spec, f"table {name} added"))
            continue
        old = a[name]
        rows_a, rows_b = old.get("rows", {}), spec.get("rows", {})
        for key in rows_a:
            if key not in rows_b:
                out.append(
                    PolicyChange(
                        "tables",
                        "removed",
                        name,
                        f"rows.{key}",
                        rows_a[key],
                        None,
                        f"table {name}: row {key} removed (was {rows_a[key]})",
                    )
                )
        for key, value in rows_b.items():
            if key not in rows_a:
                out.append(
                    PolicyChange(
                        "tables",
                        "added",
                        name,
                        f"rows.{key}",
                        None,
                        value,
                        f"table {name}: row {key} added ({value})",
                    )
                )
            elif rows_a[key] != value:
                out.append(
                    PolicyChange(
                        "tables",
                        "changed",
                        name,
                        f"rows.{key}",
                        rows_a[key],
                        value,
                        f"table {name}: {key} {rows_a[key]} -> {value}",
                    )
                )
        for key in ("key", "type", "default", "description"):
            if old.get(key) != spec.get(key):
                out.append(
                    PolicyChange(
                        "tables",
                        "changed",
                        name,
                        key,
                        old.get(key),
                        spec.get(key),
                        f"table {name}: {key} {_short(old.get(key))} -> {_short(spec.get(key))}",
                    )
                )


# ------------------------------------------------------------- decisions


@dataclass(frozen=True)
class DecisionChange:
    """One way a decision differs from another about the same interview.

    Attributes:
        kind: "action-added", "action-removed", "dates-changed",
            "status-changed", "channel-changed", "caution-added",
            "caution-removed", "other" (any other part of the decision;
            only when comparing under the same policy), "more" (``new``
            other differences left unlisted), "record" (a field of a log
            record that disagrees with its decision or with the replay, see
            ``RECORD_WORDS``) or "bytes" (a batch's decision line whose values
            are all equal but whose bytes differ).
        action: the action or caution concerned; for "other", the JSON
            pointer of the differing value (``/recommendations/0/message``);
            for "record", the pointer of the record's field (``/as_of``).
        rule: the rule behind it (in the new decision when there is one).
        old, new: the differing values.
    """

    kind: str
    action: str
    rule: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "action": self.action,
            "rule": self.rule,
            "old": self.old,
            "new": self.new,
        }

    def text(self) -> str:
        if self.kind == "action-added":
            return f"{self.action} now recommended (rule {self.rule})"
        if self.kind == "action-removed":
            return f"{self.action} no longer recommended (rule {self.rule})"
        if self.kind == "dates-changed":
            return f"{self.action} dates {_span(self.old)} -> {_span(self.new)} (rule {self.rule})"
        if self.kind in ("status-changed", "channel-changed"):
            what = self.kind.split("-")[0]
            return f"{self.action} {what} {self.old} -> {self.new} (rule {self.rule})"
        if self.kind == "caution-added":
            return f"caution {self.action} added (rule {self.rule})"
        if self.kind == "caution-removed":
            return f"caution {self.action} removed (rule {self.rule})"
        if self.kind == "more":
            return f"and {self.new} more differences"
        if self.kind == "record":
            words = RECORD_WORDS.get(self.action, "{field}: {old} -> {new}")
            return words.format(field=self.action[1:], old=_short(self.old), new=_short(self.new))
        if self.kind == "bytes":
            return (
                "the line's bytes differ from the decision made now, though every value is "
                "the same: its spacing, key order or escapes were changed"
            )
        return f"{self.action or 'decision'}: {_short(self.old)} -> {_short(self.new)}"


#: a "record" change in words, by the pointer of the field it is about; ``old`` is
#: what the line says, ``new`` what it should say
RECORD_WORDS = {
    "/as_of": "the log record says as_of {old}, but the decision was made as of {new}",
    "/engine/version": "the log record says engine {old}, but its decision says engine {new}",
    "/released": (
        "the log record says the policy version was released, but no RELEASES file lists "
        "it with this sha256"
    ),
    "/logged_at": "logged_at {old} is not a date and time (such as 2026-03-05T10:00:00+00:00)",
    "/row": "the row failed in the batch (its errors file lists it), but is decided now",
}


def _span(pair: Any) -> str:
    a, b = pair
    return f"{a or '-'}..{b or '-'}"


def _key(rec: Mapping[str, Any]) -> tuple[str, str]:
    return rec["action"], rec["rule"]


def decision_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, strict: bool = False
) -> list[DecisionChange]:
    """How ``new`` differs from ``old`` (two decision dicts about the same facts).

    Recommendations are paired by action, then by rule. With ``strict`` (both
    made under the same policy, as in a replay), every other difference is
    reported too, as kind "other" with its JSON pointer: messages, citations,
    templates, the order of the lists, derived facts, the trace, the policy
    header. Only ``engine`` (which version and backend made the decision) is
    not compared. Without it, only what the applicant is told to do counts.
    """
    out: list[DecisionChange] = []
    olds = list(old["recommendations"])
    news = list(new["recommendations"])
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    for rec in list(news):
        match = next((o for o in olds if _key(o) == _key(rec)), None)
        if match is None:
            match = next((o for o in olds if o["action"] == rec["action"]), None)
        if match is not None:
            olds.remove(match)
            news.remove(rec)
            pairs.append((match, rec))
    for o in olds:
        out.append(DecisionChange("action-removed", o["action"], o["rule"], _span_of(o), None))
    for n in news:
        out.append(DecisionChange("action-added", n["action"], n["rule"], None, _span_of(n)))
    for o, n in pairs:
        if (o["earliest"], o["latest"]) != (n["earliest"], n["latest"]):
            out.append(
                DecisionChange("dates-changed", n["action"], n["rule"], _span_of(o), _span_of(n))
            )
        if o["status"] != n["status"]:
            out.append(
                DecisionChange("status-changed", n["action"], n["rule"], o["status"], n["status"])
            )
        if o["channel"] != n["channel"]:
            out.append(
                DecisionChange(
                    "channel-changed", n["action"], n["rule"], o["channel"], n["channel"]
                )
            )
    old_c = {c["id"]: c["rule"] for c in old["cautions"]}
    new_c = {c["id"]: c["rule"] for c in new["cautions"]}
    for cid, rule in old_c.items():
        if cid not in new_c:
            out.append(DecisionChange("caution-removed", cid, rule, cid, None))
    for cid, rule in new_c.items():
        if cid not in old_c:
            out.append(DecisionChange("caution-added", cid, rule, None, cid))
    if strict:
        out += _other_changes(old, new, pairs)
    return out


#: the most "other" changes listed for one decision; the rest are counted
MOST_OTHER_CHANGES = 10

# a recommendation's parts that decision_changes reports in kinds of their own
_OWN_KINDS = frozenset({"action", "earliest", "latest", "status", "channel"})


def _other_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> list[DecisionChange]:
    """Every difference that the kinds of ``decision_changes`` do not name."""
    found: list[tuple[str, Any, Any]] = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key == "engine":
            continue
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if key == "recommendations" and isinstance(a, list) and isinstance(b, list):
            index = {id(rec): i for i, rec in enumerate(b)}
            for o, n in pairs:
                at = f"/recommendations/{index[id(n)]}"
                found += [c for c in _leaves(o, n, at) if c[0].split("/")[3] not in _OWN_KINDS]
            _order(found, "/recommendations", [r["action"] for r in a], [r["action"] for r in b])
        elif key == "cautions" and isinstance(a, list) and isinstance(b, list):
            before = {c["id"]: c for c in a}
            for i, c in enumerate(b):
                if c["id"] in before:
                    found += _leaves(before[c["id"]], c, f"/cautions/{i}")
            _order(found, "/cautions", [c["id"] for c in a], [c["id"] for c in b])
        else:
            found += _leaves(a, b, f"/{key}")
    out = [DecisionChange("other", at, "", x, y) for at, x, y in found[:MOST_OTHER_CHANGES]]
    if len(found) > MOST_OTHER_CHANGES:
        more = len(found) - MOST_OTHER_CHANGES
        out.append(DecisionChange("more", "", "", None, more))
    return out


def _order(found: list[tuple[str, Any, Any]], at: str, a: list[Any], b: list[Any]) -> None:
    """Note a list whose shared entries come in another order."""
    shared_a = [x for x in a if x in b]
    shared_b = [x for x in b if x in a]
    if shared_a != shared_b:
        found.append((f"{at} (order)", shared_a, shared_b))


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def _leaves(a: Any, b: Any, at: str) -> list[tuple[str, Any, Any]]:
    """(JSON pointer, old, new) for every value that differs between ``a`` and ``b``;
    a value of another JSON type differs even where Python finds it equal (1, 1.0, true)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for k in [*a, *(k for k in b if k not in a)]:
            out += _leaves(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{at}/{escape_pointer(str(k))}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        return _list_leaves(a, b, at)
    if type(a) is not type(b) or a != b:
        return [(at, None if a is _ABSENT else a, None if b is _ABSENT else b)]
    return []


def _list_leaves(a: list[Any], b: list[Any], at: str) -> list[tuple[str, Any, Any]]:
    """``_leaves`` of two lists: items paired where they line up, and where one
    list has items the other lacks, those items as removed (new None) or added
    (old None), under the index in their own list."""
    if len(a) == len(b):
        pairs = zip(a, b, strict=True)
        return [c for i, (x, y) in enumerate(pairs) for c in _leaves(x, y, f"{at}/{i}")]
    keys_a = [json.dumps(x, sort_keys=True, default=str) for x in a]
    keys_b = [json.dumps(y, sort_keys=True, default=str) for y in b]
    out: list[tuple[str, Any, Any]] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                out += _leaves(a[i], b[j], f"{at}/{j}")
            continue
        out += [(f"{at}/{i}", a[i], None) for i in range(i1, i2)]
        out += [(f"{at}/{j}", None, b[j]) for j in range(j1, j2)]
    return out


def _span_of(rec: Mapping[str, Any]) -> list[Any]:
    return [rec["earliest"], rec["latest"]]


# ---------------------------------------------------------------- cohort


class CohortError(FollowupError):
    """The cohort as a whole cannot be read (missing file, unknown format, no list)."""


@dataclass(frozen=True)
class CohortRow:
    """One row of a cohort, as read.

    Attributes:
        row: 1-based, counting rows as ``followup batch`` does (blank lines
            are not rows).
        line: the 1-based line of the file where the row starts (None for
            Parquet and a JSON list, which have none).
        facts: the row's facts, or None when it cannot be read as facts.
        problems: why it cannot (empty when ``facts`` is set).
        applicant_id: the row's applicant_id, when it can be told.
    """

    row: int
    line: int | None
    facts: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    applicant_id: str | None = None


#: rows decoded at a time (the reader's chunks; they bound the memory, nothing else)
_CHUNK = 256


def read_cohort(
    path: str, input_format: str | None = None, *, lists: bool = False
) -> Iterator[CohortRow]:
    """Every row of a cohort, in order, read with ``followup batch``'s own reader.

    CSV, JSON lines and Parquet are read as the batch reads them (its
    ``read_chunks`` and ``decode_row``), so that a row means the same facts
    here as there and rows are numbered the same. With ``lists`` (for
    ``followup diff``), a ``.json`` file holding one list and a YAML list
    (``.yaml``, ``.yml``, or any other extension the batch does not know) are
    read too.

    A row that cannot be read as facts is yielded with its problems; the rows
    after it are read on.

    Raises:
        CohortError: the file as a whole cannot be read (raised on the first
            ``next()``).
    """
    from .batch import InputSpec, UnreadableInput, detect_format, read_chunks

    if (
        lists
        and input_format is None
        and (_is_json_list(path) or not path.lower().endswith(_BATCH_FILES))
    ):
        yield from _document_rows(path)
        return
    try:
        spec = InputSpec(path, detect_format(path, input_format))
        for chunk in read_chunks(spec, _CHUNK):
            yield from _chunk_rows(chunk)
    except UnreadableInput as exc:
        raise CohortError(str(exc) if path in str(exc) else f"{path}: {exc}") from exc


#: the extensions ``followup batch`` reads (``detect_format``)
_BATCH_FILES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")


def _chunk_rows(chunk: Any) -> Iterator[CohortRow]:
    from .batch import RowError, decode_row
    from .batch._readers import BadCsvRow
    from .batch._worker import _items  # the batch's own rows of a chunk (Arrow batches too)

    # the CSV delimiter, for the batch's messages (given only when it is not a comma)
    delimiter = [d] if (d := getattr(chunk, "delimiter", ",")) != "," else []
    for index, item in enumerate(_items(chunk)):
        row = chunk.first_row + index
        line = chunk.lines[index] if chunk.lines else None
        try:
            facts = decode_row(chunk.kind, item, chunk.header, *delimiter)
        except RowError as exc:
            aid = item.applicant_id if isinstance(item, BadCsvRow) else None
            yield CohortRow(row, line, None, exc.problems, aid)
            continue
        aid = facts.get("applicant_id")
        yield CohortRow(row, line, facts, (), aid if isinstance(aid, str) and aid else None)


def _is_json_list(path: str) -> bool:
    """Whether ``path`` is a .json file whose first character (after spaces) is ``[``."""
    if not path.lower().endswith(".json"):
        return False
    try:
        with open(path, "rb") as f:
            start = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False  # the batch's reader says why it cannot be read
    return start.startswith(b"[")


def _document_rows(path: str) -> Iterator[CohortRow]:
    """The rows of a cohort written as one document: a JSON list or a YAML list."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CohortError(f"cannot read {path}: {exc.strerror or exc}") from exc
    lines: Any = None
    if path.lower().endswith(".json"):
        try:
            rows = json.loads(raw)
        except UnicodeDecodeError as exc:
            raise CohortError(
                f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start + 1})"
            ) from exc
        except json.JSONDecodeError as exc:
            raise CohortError(
                f"{path}:{exc.lineno}:{exc.colno}: json-syntax: the JSON cannot be read: "
                f"{json_words(exc.msg)}"
            ) from exc
    else:
        doc = load_yaml(raw, path)
        if doc.problems:
            raise CohortError("\n".join(p.render() for p in doc.problems))
        rows, lines = doc.data, doc.positions
    if not isinstance(rows, list):
        raise CohortError(
            f"{path} must hold a list of facts, one mapping per applicant "
            "(or use JSON lines, CSV or Parquet, as for followup batch)"
        )
    for i, item in enumerate(rows):
        at = lines.of(f"/{i}") if lines is not None else None
        line = at[0] if at else None
        if isinstance(item, dict):
            aid = item.get("applicant_id")
            yield CohortRow(i + 1, line, item, (), aid if isinstance(aid, str) and aid else None)
        else:
            problem = Problem(
                "not-an-object",
                f"item {i + 1} is {_kind_words(item)}, not the facts of one applicant "
                "(names with values)",
                f"/{i}",
                suggestion="write each applicant as a mapping, such as "
                '{"applicant_id": "A-1", "interview_at": "2026-03-02"}',
            )
            yield CohortRow(i + 1, line, None, (problem,))


def _kind_words(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a mapping"


#: the json module's words for a syntax error, and the same in plain words
_JSON_WORDS = (
    (
        "Expecting value",
        "a value is missing here, or is not JSON (text needs double quotes; "
        "true, false and null are written in lower case)",
    ),
    (
        "Expecting property name enclosed in double quotes",
        "a name is not in double quotes, or a comma is left after the last item",
    ),
    ("Expecting ',' delimiter", "a comma is missing between two items, or a bracket is not closed"),
    ("Expecting ':' delimiter", "a colon is missing after a name"),
    ("Unterminated string", "a text is not closed with a double quote"),
    ("Invalid control character", "a text holds a tab or a line break; write it as \\t or \\n"),
    ("Extra data", "more follows the end of the object; write one object a line"),
    (
        "Invalid \\escape",
        "a backslash starts an escape JSON does not know; write \\\\ for a backslash",
    ),
    ("Invalid \\uXXXX escape", "a \\u escape needs four hex digits"),
)


def json_words(msg: str) -> str:
    """A syntax error of the json module (its ``msg``) in plain words."""
    for start, words in _JSON_WORDS:
        if msg.startswith(start):
            return words
    return msg[:1].lower() + msg[1:]


def row_problem_text(file: str | None, row: int, line: int | None, problem: Problem) -> str:
    """``FILE:LINE: code: message (fix)``: a problem of one row of a cohort, in the
    words of its own file (``FILE: row N`` where there are no lines)."""
    if line is not None:
        where = f"{file or 'cohort'}:{line}" + (f":{problem.column}" if problem.column else "")
    else:
        where = f"{file}: row {row}" if file else f"row {row}"
    text = f"{where}: {problem.code}: {problem.message}"
    return text + (f" ({problem.suggestion})" if problem.suggestion else "")


@dataclass
class CohortImpact:
    """The effect of moving a cohort from one policy to another.

    Attributes:
        total: rows of the cohort (applicants), the bad ones too.
        changed: applicants whose actions or dates differ.
        by_kind: change kind -> applicants affected.
        by_rule: rule id -> applicants affected.
        examples_by_kind / examples_by_rule: a few applicant ids each.
        applicants: every changed applicant with its changes (for JSON).
        errors: rows that could not be read or evaluated: ``applicant``
            (its applicant_id, else ``row N``), ``row``, ``line`` (None where
            the file has no lines), ``message`` (the first problem, as
            ``FILE:LINE: code: message``) and ``problems`` (every one).
        own_as_of: applicants whose facts carry their own as_of, which wins
            over ``as_of``.
    """

    old: str
    new: str
    as_of: str | None
    total: int = 0
    changed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    examples_by_kind: dict[str, list[str]] = field(default_factory=dict)
    examples_by_rule: dict[str, list[str]] = field(default_factory=dict)
    applicants: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    own_as_of: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "as_of": self.as_of,
            "own_as_of": self.own_as_of,
            "total": self.total,
            "changed": self.changed,
            "by_kind": self.by_kind,
            "by_rule": self.by_rule,
            "examples_by_kind": self.examples_by_kind,
            "examples_by_rule": self.examples_by_rule,
            "applicants": self.applicants,
            "errors": self.errors,
        }


_IMPACT_KINDS = (
    "action-added",
    "action-removed",
    "dates-changed",
    "status-changed",
    "channel-changed",
)


def cohort_impact(
    old: Policy,
    new: Policy,
    cohort: Iterable[Mapping[str, Any] | CohortRow],
    as_of: date | datetime | str | None = None,
    examples: int = 3,
    file: str | None = None,
) -> CohortImpact:
    """Evaluate every applicant under both policies and count what changes.

    Only changes to actions, their dates, status and channel count as impact;
    cautions are listed per applicant but not counted.

    Args:
        cohort: the applicants' facts, or rows as :func:`read_cohort` gives them
            (a row that could not be read is counted as an error).
        file: the cohort's file, named in the errors.
    """
    impact = CohortImpact(
        f"{old.name}@{old.version}",
        f"{new.name}@{new.version}",
        None if as_of is None else str(as_of),
    )
    if as_of is None:
        # one "now" for both policies, or a boundary could fall between the two runs
        as_of = datetime.now(UTC).replace(microsecond=0)
    for i, entry in enumerate(cohort):
        impact.total += 1
        row = entry if isinstance(entry, CohortRow) else CohortRow(i + 1, None, dict(entry))
        facts = row.facts
        if facts is not None:
            aid = facts.get("applicant_id")
            ident = str(aid) if aid is not None and aid != "" else f"row {row.row}"
        else:
            ident = row.applicant_id or f"row {row.row}"
        problems: Iterable[Problem] = row.problems
        if facts is not None:
            if facts.get("as_of") is not None:
                impact.own_as_of += 1
            try:
                a = old.evaluate(facts, as_of, trace="none").to_dict()
                b = new.evaluate(facts, as_of, trace="none").to_dict()
            except FactsError as exc:
                problems = exc.problems
            else:
                _count(impact, ident, decision_changes(a, b), examples)
                continue
        texts = [row_problem_text(file, row.row, row.line, p) for p in problems]
        impact.errors.append(
            {
                "applicant": ident,
                "row": row.row,
                "line": row.line,
                "message": texts[0],
                "problems": texts,
            }
        )
    impact.by_kind = dict(sorted(impact.by_kind.items(), key=lambda kv: (-kv[1], kv[0])))
    impact.by_rule = dict(sorted(impact.by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
    return impact


def _count(impact: CohortImpact, ident: str, changes: list[DecisionChange], examples: int) -> None:
    """Count one applicant's changes in ``impact``."""
    counted = [c for c in changes if c.kind in _IMPACT_KINDS]
    if not counted:
        return
    impact.changed += 1
    impact.applicants.append({"applicant": ident, "changes": [c.to_dict() for c in changes]})
    for kind in dict.fromkeys(c.kind for c in counted):
        impact.by_kind[kind] = impact.by_kind.get(kind, 0) + 1
        ex = impact.examples_by_kind.setdefault(kind, [])
        if len(ex) < examples:
            ex.append(ident)
    for rule in dict.fromkeys(c.rule for c in counted):
        impact.by_rule[rule] = impact.by_rule.get(rule, 0) + 1
        ex = impact.examples_by_rule.setdefault(rule, [])
        if len(ex) < examples:
            ex.append(ident)
