"""Text renderings for the CLI. The engine returns data; only this module formats it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from followup.engine import Policy, Problem
from followup.engine._conditions import Condition, Group, Leaf


def problems_text(problems: Iterable[Problem]) -> str:
    return "\n".join(p.render() for p in problems)


def _when(value: str | None) -> str:
    if value is None:
        return "-"
    return value.replace("T", " ")[:16] if "T" in value else value


def _window(rec: dict[str, Any]) -> str:
    a, b = rec["earliest"], rec["latest"]
    if a and b:
        return f"{_when(a)} to {_when(b)}"
    if a:
        return f"from {_when(a)}"
    if b:
        return f"by {_when(b)}"
    return "any time"


def decision_text(decision: dict[str, Any], policy: Policy) -> str:
    """A decision for a person: what to do, when, and the rules behind it."""
    titles = {r.id: r.title for r in policy.compiled.rules}
    p = decision["policy"]
    lines = [
        f"Policy {p['name']} {p['version']} (sha256 {p['sha256'][:12]}), as of {_when(decision['as_of'])}",
    ]
    if decision["applicant_id"]:
        lines.append(f"Applicant {decision['applicant_id']}")
    lines.append("")
    recs = decision["recommendations"]
    lines.append(f"Recommendations ({len(recs)})")
    for i, rec in enumerate(recs, 1):
        via = f" via {rec['channel']}" if rec["channel"] else ""
        lines.append(f"  {i}. {rec['action']} [{rec['status']}] {_window(rec)}{via}")
        lines.append(f"     {rec['message']}")
        template = f"; template {rec['template']}" if rec["template"] else ""
        lines.append(
            f"     rule {rec['rule']} ({titles.get(rec['rule'], '')}); cites {', '.join(rec['cite'])}{template}"
        )
    if not recs:
        lines.append("  none")
    cautions = decision["cautions"]
    if cautions:
        lines.append("")
        lines.append(f"Cautions ({len(cautions)})")
        for c in cautions:
            lines.append(f"  ! {c['message']} [{c['id']}, rule {c['rule']}]")
    derived = decision["derived"]
    if derived:
        lines.append("")
        lines.append("Derived facts")
        for name, d in derived.items():
            lines.append(f"  {name} = {_value(d['value'])} (rule {d['rule']})")
    trace = decision["trace"]
    lines.append("")
    lines.append(
        f"Rules: {len(trace['fired'])} fired, {len(trace['not_fired'])} did not "
        f"({sum(1 for n in trace['not_fired'] if n['reason'] == 'shadowed')} shadowed)"
    )
    for entry in trace["fired"]:
        lines.append(f"  + {entry['rule']}: {titles.get(entry['rule'], '')}")
    whens = {r.id: r.when for r in policy.compiled.rules}
    for entry in trace["not_fired"]:
        why = (
            "shadowed by a higher-salience rule"
            if entry["reason"] == "shadowed"
            else _failed(entry, whens.get(entry["rule"]))
        )
        lines.append(f"  - {entry['rule']}: {why}")
    return "\n".join(lines)


def _failed(entry: Mapping[str, Any], when: Condition | None) -> str:
    """Why a rule did not fire, in words that cannot be read as the facts:
    the condition it needs, quoted, whether that is false or unknown, and the
    value that makes it so (``needs "x is missing", which is false (x is 3)``)."""
    text = entry["failed_condition"]
    if text is None:
        return "not met"
    seen = {c["text"]: c for c in entry["conditions"] if c["result"] is not None}
    found = {t: leaf for leaf, t in _leaves(when)}
    leaf, traced = found.get(text), seen.get(text)
    if leaf is not None and traced is not None:
        if traced["left"] is None or traced["left"] == []:
            # a fact without a value is neither present nor, say, true: the test is not met
            verdict = "false" if leaf.operator.operand == "flag" else "unknown"
            return f'needs "{text}", which is {verdict} ({leaf.subject_label} has no value)'
        values = [f"{leaf.subject_label} is {_shown(traced['left'])}"]
        operand = text.removeprefix(f"{leaf.subject_label} {leaf.operator.words} ")
        if (
            leaf.operator.operand == "expr"
            and traced["right"] is not None
            and operand != _shown(traced["right"])
        ):
            values.append(f"{operand} is {_shown(traced['right'])}")
        return f'needs "{text}", which is false ({"; ".join(values)})'
    group = next((g for g in _groups(when) if g.text == text), None)
    parts: list[str] = []
    for inner, inner_text in _leaves(group):
        traced = seen.get(inner_text)
        if traced is None or any(p.startswith(f"{inner.subject_label} ") for p in parts):
            continue
        left = traced["left"]
        parts.append(
            f"{inner.subject_label} has no value"
            if left is None or left == []
            else f"{inner.subject_label} is {_shown(left)}"
        )
    detail = f" ({'; '.join(parts[:3])})" if parts else ""
    return f'needs "{text}", which is false{detail}'


def _leaves(cond: Condition | None) -> Iterator[tuple[Leaf, str]]:
    """Each test of a condition with the text its trace entry has (a test right
    under ``not`` is traced as ``not (...)``)."""
    if isinstance(cond, Leaf):
        yield cond, cond.text
    elif isinstance(cond, Group):
        for child in cond.children:
            if cond.kind == "not" and isinstance(child, Leaf):
                yield child, child.negated_text
            else:
                yield from _leaves(child)


def _groups(cond: Condition | None) -> Iterator[Group]:
    if isinstance(cond, Group):
        yield cond
        for child in cond.children:
            yield from _groups(child)


def _shown(v: Any) -> str:
    """A value as a coach reads it: dates without the T, true and false, lists
    joined."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ", ".join(_shown(x) for x in v)
    if isinstance(v, str) and len(v) >= 10 and v[:4].isdigit() and v[4] == "-":
        return _when(v)
    return str(v)


def _value(v: Any) -> str:
    if isinstance(v, str):
        return _when(v) if v[:4].isdigit() and "-" in v else v
    if v is None:
        return "(unknown)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
