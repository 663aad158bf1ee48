"""The batch's work for every row, beside the engine itself.

A worker's loop over one chunk's rows: decode each, evaluate it, render the
decision and count it in the summary; and the main process's duplicate-id
check (``flag_seen``). This runs once per applicant, so it is one of the
modules compiled by mypyc in the compiled build (``HOT_MODULES``); the batch
package (``followup.engine.batch``) keeps everything that runs once per chunk
or once per failed row, and hands it in as callables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ._decision import Decision

__all__ = [
    "Tally",
    "encode_id",
    "evaluate_items",
    "flag_seen",
    "has_float",
    "has_surrogate",
    "loads",
    "loads_facts",
    "next_recommendation",
    "repeated_keys",
]


def has_float(value: Any) -> bool:
    """Whether a parsed JSON value holds a float anywhere in it."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return kind is float
    for item in items:
        inner = type(item)
        if inner is float or ((inner is dict or inner is list) and has_float(item)):
            return True
    return False


def loads(item: bytes) -> Any:
    """``json.loads(item)``: the same value or exception, mostly done by orjson (2x faster).

    orjson gives the same value as json for JSON without floats (it also turns
    integers beyond 64 bits into floats, where json keeps them exact), and
    rejects everything json rejects and a few things json accepts (NaN, lone
    surrogates, UTF-16, deep nesting). So a line that orjson rejects, or whose
    value holds a float, is parsed again by json, which gives the value or
    the exception (and its message) exactly as before.
    """
    try:
        value = orjson.loads(item)
    except orjson.JSONDecodeError:
        return json.loads(item)
    if has_float(value):
        return json.loads(item)
    return value


def has_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a lone surrogate (a JSON escape such as
    "\\ud800" that stands for no character) in a string or a key anywhere in it."""
    kind = type(value)
    if kind is str:
        text: str = value
        if text.isascii():
            return False
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if kind is dict:
        mapping: dict[Any, Any] = value
        return any(has_surrogate(key) or has_surrogate(item) for key, item in mapping.items())
    if kind is list:
        items: list[Any] = value
        return any(has_surrogate(item) for item in items)
    return False


def loads_facts(item: bytes) -> Any:
    """``loads(item)``, except None for a line whose text holds a lone surrogate,
    which UTF-8 cannot hold, or whose object names a key twice, which JSON
    readers take silently as its last value (``decode`` then says what is wrong
    with it).

    orjson refuses lone surrogates, so only a line it refused can hold one.
    """
    try:
        value = orjson.loads(item)
    except orjson.JSONDecodeError:
        value = json.loads(item)
        return None if has_surrogate(value) else value
    if type(value) is dict:
        # Unless a quote is escaped (\"), every '"' in the line opens or closes
        # a text: two for each key and each text value. More than the object
        # holds, and a key was named twice (JSON readers keep the last); to be
        # sure, and for a line with an escaped quote, it is read again, key by key.
        texts = _texts_in(value)
        if texts < 0:  # a float: json reads the line again anyway
            return None if repeated_keys(item) else json.loads(item)
        escaped = item.find(b"\\") >= 0 and b'\\"' in item
        if (escaped or item.count(b'"') != 2 * texts) and repeated_keys(item):
            return None
        return value
    if has_float(value):
        return json.loads(item)
    return value


def _texts_in(value: Any) -> int:
    """How many texts a parsed JSON object holds: its keys, text values, and the
    keys and texts of what it holds; -1 when it holds a float (one walk instead
    of ``has_float`` and a count)."""
    count = 0
    kind = type(value)
    if kind is dict:
        inner: dict[str, Any] = value
        count = len(inner)
        children: Any = inner.values()
    elif kind is list:
        children = value
    else:
        return 1 if kind is str else -1 if kind is float else 0
    for child in children:
        inside = type(child)
        if inside is str:
            count += 1
        elif inside is float:
            return -1
        elif inside is dict or inside is list:
            more = _texts_in(child)
            if more < 0:
                return -1
            count += more
    return count


def repeated_keys(item: bytes | str) -> list[str]:
    """The keys that a JSON object's line names more than once, at its top level
    (none when the line is not a JSON object)."""
    levels: list[list[str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        twice: list[str] = []
        for key, _ in items:
            if key in seen and key not in twice:
                twice.append(key)
            seen.add(key)
        levels.append(twice)
        return dict(items)

    try:
        value = json.loads(item, object_pairs_hook=pairs)
    except ValueError:
        return []
    return levels[-1] if isinstance(value, dict) and levels else []


def encode_id(aid: str | None) -> str:
    """One line of the ids file: "" for no id, the id itself, or JSON when it needs quoting.

    The encoding is one-to-one, so equal lines mean equal ids.
    """
    if aid is None:
        return "\n"
    if not aid or aid[0] == '"' or "\n" in aid or "\r" in aid:
        return json.dumps(aid) + "\n"
    return aid + "\n"


def flag_seen(hashes: list[int], lines: Sequence[bytes], seen: bytearray, mask: int) -> list[int]:
    """Set the bit of each id's hash in ``seen`` (a bitmap of ``mask + 1`` bits);
    the indexes of the ids whose bit was set already (maybe seen before).

    ``lines`` are ids-file lines (b"" for a row without an id, which is skipped)
    and ``hashes`` their hashes. The batch's main process runs this for every
    row, so it is compiled with the rest of this module.
    """
    again: list[int] = []
    for i in range(len(lines)):
        if not lines[i]:
            continue
        bit = hashes[i] & mask
        byte = bit >> 3
        flag = 1 << (bit & 7)
        if seen[byte] & flag:
            again.append(i)
        else:
            seen[byte] |= flag
    return again


def next_recommendation(recommendations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The first recommendation still to act on (not done), else the first one."""
    for rec in recommendations:
        if rec.get("status") != "done":
            return rec
    return recommendations[0] if recommendations else None


class Tally:
    """The summary counters of decided rows, counted as patterns and named once.

    A row adds one to each rule that fired, to the (action, status) of each of
    its recommendations and to its next one. Rows repeat the same few
    patterns (which rules fired; which actions with which statuses), so a row
    only counts its two patterns, and the counters are worked out from them
    and named ("r|rule", "a|action|status", "n|action|status") when taken,
    once per chunk segment: a dict update per rule and per recommendation of
    every row cost about 5% of a row.
    """

    def __init__(self) -> None:
        self.fired: dict[tuple[str, ...], int] = {}
        self.outcomes: dict[tuple[tuple[Any, Any], ...], int] = {}

    def add(self, fired: Sequence[str], recs: Any) -> None:
        """Count one decision: the rules that fired, and its recommendations (any
        sequence of mappings)."""
        self.count(tuple(fired), [r if type(r) is dict else dict(r) for r in recs])

    def count(self, fired: tuple[str, ...], recs: list[dict[str, Any]]) -> None:
        """``add`` for an engine decision: its fired ids as a tuple
        (``Decision.fired_ids``) and its list of recommendation dicts, which the
        compiled build reads without generic calls."""
        patterns = self.fired
        patterns[fired] = patterns.get(fired, 0) + 1
        outcome = tuple([(rec.get("action"), rec.get("status")) for rec in recs])
        outcomes = self.outcomes
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    def take(self) -> dict[str, int]:
        """The counters so far by name ("a|action|status", "r|rule", "n|..."), then start over."""
        actions: dict[tuple[Any, Any], int] = {}
        nexts: dict[tuple[Any, Any] | None, int] = {}
        for outcome, n in self.outcomes.items():
            for pair in outcome:
                actions[pair] = actions.get(pair, 0) + n
            nxt = _next_pair(outcome)
            nexts[nxt] = nexts.get(nxt, 0) + n
        rules: dict[str, int] = {}
        for fired, n in self.fired.items():
            for rule in fired:
                rules[rule] = rules.get(rule, 0) + n
        counts: dict[str, int] = {}
        for (action, status), n in actions.items():
            counts[f"a|{action}|{status}"] = n
        for rule, n in rules.items():
            counts[f"r|{rule}"] = n
        for key, n in nexts.items():
            counts[f"n|{key[0]}|{key[1]}" if key is not None else "n|"] = n
        self.fired, self.outcomes = {}, {}
        return counts


def _next_pair(outcome: tuple[tuple[Any, Any], ...]) -> tuple[Any, Any] | None:
    """``next_recommendation``'s (action, status), from the pairs of the recommendations."""
    for pair in outcome:
        if pair[1] != "done":
            return pair
    return outcome[0] if outcome else None


#: decodes one raw row of a kind ("jsonl", "csv", ...) with the chunk's header,
#: raising ``RowError`` when it cannot be read as facts
Decode = Callable[[str, Any, Any], dict[str, Any]]
#: told about a row that failed: (index in chunk, its facts if decoded, the
#: exception); records the error and returns the row's ids-file line
Failed = Callable[[int, "dict[str, Any] | None", Exception], str]


def evaluate_items(
    evaluate: Callable[..., Any],
    kind: str,
    items: Sequence[Any],
    header: Any,
    as_of: str | None,
    trace: str,
    decode: Decode,
    render_csv: Callable[[Any], str] | None,
    failed: Failed,
    ends: list[int],
    counters: list[dict[str, int]],
) -> tuple[list[bytes], bytes]:
    """Decode, evaluate and render every row of a chunk, in order.

    Args:
        evaluate: the policy's ``evaluate``.
        kind, items, header: the chunk's rows as read (see ``RawChunk``).
        as_of, trace: passed to ``evaluate`` for every row.
        decode: turns a row into facts (``decode_row``).
        render_csv: renders a decision as a CSV line; None for JSONL.
        failed: records a row that failed (a row is never dropped).
        ends: gets, per row, the offset in the output where its line ends.
        counters: gets the summary counters, one segment before each failed
            row and one after the last (see ``ChunkResult.counters``).

    Returns:
        The output lines (UTF-8, each with its newline; none for a failed
        row), and the ids-file lines (UTF-8).
    """
    out: list[bytes] = []
    ids: list[str] = []
    tally = Tally()
    end = 0
    jsonl = kind == "jsonl"
    for index, item in enumerate(items):
        facts: dict[str, Any] | None = None
        try:
            if jsonl:
                try:
                    value = loads_facts(item)
                except Exception:
                    value = None
                # anything but an object goes through ``decode``, which says what is wrong
                facts = value if type(value) is dict else decode(kind, item, header)
            else:
                facts = decode(kind, item, header)
            decision = evaluate(facts, as_of=as_of, trace=trace)
            if render_csv is not None:
                text = render_csv(decision).encode("utf-8")
            elif type(decision) is Decision:
                text = decision.to_line()  # the newline added without copying the line
            else:  # a stand-in evaluator's decision
                text = decision.to_bytes() + b"\n"
            if type(decision) is Decision:
                tally.count(decision.fired_ids(), decision.view()["recommendations"])
            else:
                tally.add(decision.fired, decision.view()["recommendations"])
        except Exception as exc:  # a bug must cost one row, not the batch
            ends.append(end)
            ids.append(failed(index, facts, exc))
            counters.append(tally.take())
            continue
        out.append(text)
        end += len(text)
        ends.append(end)
        ids.append(encode_id(decision.applicant_id))
    counters.append(tally.take())
    return out, "".join(ids).encode("utf-8", "surrogateescape")
