"""Text renderings for the CLI. The engine returns data; only this module formats it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from followup.engine import Policy, Problem


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
    for entry in trace["not_fired"]:
        why = (
            "shadowed by a higher-salience rule"
            if entry["reason"] == "shadowed"
            else f"not met: {entry['failed_condition']}"
        )
        lines.append(f"  - {entry['rule']}: {why}")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, str):
        return _when(v) if v[:4].isdigit() and "-" in v else v
    if v is None:
        return "(unknown)"
    return str(v)
