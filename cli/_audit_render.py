"""Text renderings for the authoring and auditing commands (explain, why-not,
test, diff, replay, policies). The engine returns result objects; only this
module turns them into lines for a coach."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from followup.engine._coverage import Coverage
from followup.engine._diff import CohortImpact, DecisionChange, PolicyChange
from followup.engine._explain import (
    ConditionLine,
    Explanation,
    RuleExplanation,
    WhyNot,
    format_value,
)
from followup.engine._log import ReplayOutcome, ReplayResult
from followup.engine._releases import PolicyVersion

from ._render import _when, _window


def _header(decision: Mapping[str, Any]) -> list[str]:
    p = decision["policy"]
    lines = [
        f"Policy {p['name']} {p['version']} (sha256 {p['sha256'][:12]}), as of {_when(decision['as_of'])}"
    ]
    if decision["applicant_id"]:
        lines.append(f"Applicant {decision['applicant_id']}")
    return lines


def _value(v: Any) -> str:
    if isinstance(v, str) and len(v) >= 10 and v[:4].isdigit() and v[4] == "-":
        return _when(v)
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v) or "unknown"
    return format_value(v)


def _conditions(lines: Iterable[ConditionLine], indent: int) -> list[str]:
    out = []
    for c in lines:
        out.append(" " * (indent + 2 * c.depth) + c.sentence)
        if c.hint:
            out.append(" " * (indent + 2 * c.depth + 2) + c.hint)
    return out


def _rule_head(r: RuleExplanation) -> str:
    return f"{r.rule}: {r.title} ({', '.join(r.cite)})"


def _rule_body(r: RuleExplanation, indent: int) -> list[str]:
    out = []
    if r.sentence:
        out.append(" " * indent + r.sentence)
    if r.conditions:
        out += _conditions(r.conditions, indent)
    else:
        out.append(" " * indent + "no conditions: always applies")
    return out


def _uses(expl: Explanation, rule: str, indent: int) -> list[str]:
    facts = expl.depends_on.get(rule, ())
    if not facts:
        return []
    derived = {d.fact: d for d in expl.derived}
    return [" " * indent + "based on:"] + [
        " " * (indent + 2) + f"{f} = {_value(derived[f].value)} (rule {derived[f].rule})"
        for f in facts
    ]


def explain_text(expl: Explanation) -> str:
    """An explanation for a coach, in the explanation's mode."""
    d = expl.decision
    rules = {r.rule: r for r in expl.every_rule}
    outcomes = [r.outcome for r in expl.every_rule]
    lines = _header(d)
    lines.append(
        f"Rules: {outcomes.count('fired')} fired, {outcomes.count('failed')} did not match, "
        f"{outcomes.count('shadowed')} shadowed"
    )
    if expl.mode in ("fired", "full"):
        recs = d["recommendations"]
        lines += ["", f"What to do ({len(recs)})"]
        for i, rec in enumerate(recs, 1):
            r = rules[rec["rule"]]
            via = f" via {rec['channel']}" if rec["channel"] else ""
            lines.append(f"  {i}. {rec['action']} [{rec['status']}] {_window(rec)}{via}")
            lines.append(f"     because {_rule_head(r)}")
            lines += _rule_body(r, 7)
            for which, text, value in expl.dates.get(r.rule, ()):
                shown = _value(value)
                lines.append(
                    f"       {which}: {text} = {shown}"
                    if text != shown
                    else f"       {which}: {shown}"
                )
            lines += _uses(expl, r.rule, 7)
        if not recs:
            lines.append("  nothing")
        cautions = d["cautions"]
        if cautions:
            lines += ["", f"Cautions ({len(cautions)})"]
            for c in cautions:
                r = rules[c["rule"]]
                lines.append(f"  ! {c['message']}")
                lines.append(f"    because {_rule_head(r)}")
                lines += _rule_body(r, 6)
        if expl.derived:
            lines += ["", f"Derived facts ({len(expl.derived)})"]
            for x in expl.derived:
                r = rules[x.rule]
                lines.append(f"  {x.fact} = {_value(x.value)}")
                lines.append(f"    set by {_rule_head(r)}")
                lines += _rule_body(r, 6)
                inputs = ", ".join(f"{k} = {_value(v)}" for k, v in x.inputs.items())
                how = (
                    f"set to {x.source.strip(chr(39))}"
                    if x.source[:1] == "'" or not inputs
                    else f"computed as {x.source} from {inputs}"
                )
                lines.append(f"      {how}")
    if expl.mode == "fails":
        missed = [r for r in expl.every_rule if r.outcome != "fired"]
        lines += ["", f"Did not fire ({len(missed)})"]
        for r in missed:
            lines.append(f"  {_rule_head(r)}")
            if r.outcome == "shadowed":
                lines.append("    shadowed: " + _shadow_words(r))
            elif r.failed:
                first, *rest = r.failed
                lines.append(f"    failed: {first.sentence}")
                lines += _conditions(
                    [ConditionLine(**{**c.__dict__, "depth": c.depth - first.depth}) for c in rest],
                    4,
                )
        if not missed:
            lines.append("  every rule fired")
    if expl.mode == "full":
        lines += ["", f"Every rule, in match order ({len(expl.every_rule)})"]
        for r in expl.every_rule:
            mark = {"fired": "+", "failed": "-", "shadowed": "~"}[r.outcome]
            state = {
                "fired": "fired",
                "failed": "did not match",
                "shadowed": "shadowed: " + _shadow_words(r),
            }[r.outcome]
            lines.append(f"  {mark} {_rule_head(r)} [{state}]")
            lines += _rule_body(r, 6)
    return "\n".join(lines)


def _shadow_words(r: RuleExplanation) -> str:
    parts = [f"{fact} was already set by {rule}" for fact, rule in r.shadowed_by.items()]
    return "; ".join(parts) or "a higher-salience rule already set its facts"


def why_not_text(w: WhyNot) -> str:
    """One rule, every condition checked, and what would make it fire."""
    r = w.rule
    lines = [f"Rule {_rule_head(r)}", *_header(w.decision), ""]
    if r.outcome == "fired":
        lines.append("It fired.")
    elif r.outcome == "shadowed":
        lines.append(
            f"It matched but was shadowed: {_shadow_words(r)}, a rule with higher salience."
        )
    else:
        n = w.blocking
        lines.append(f"It did not fire: {n} condition{'s' if n != 1 else ''} failed.")
    if r.sentence:
        lines.append(r.sentence)
    lines += _conditions(r.conditions, 2) if r.conditions else ["  no conditions: always applies"]
    if r.outcome == "failed":
        lines.append("")
        if w.hints:
            lines += [h[0].upper() + h[1:] + "." for h in w.hints]
        else:
            lines.append("More than one condition would have to change for it to fire.")
        unset = [
            f"{fact} is set by rule {' or '.join(rules)}"
            for fact, rules in w.setters.items()
            if fact not in w.decision["derived"]
        ]
        if unset:
            lines.append("Not set in this decision: " + "; ".join(unset) + ".")
    return "\n".join(lines)


# ----------------------------------------------------------------- tests


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))


def test_results_text(files: Sequence[tuple[str, str, Sequence[Any]]]) -> list[str]:
    """Every case, PASS or FAIL; on failure expected vs actual, one pair per mismatch.

    Args:
        files: (test file, policy label, case results) triples.
    """
    lines: list[str] = []
    for file, policy, results in files:
        lines.append(f"{file} ({policy})")
        for res in results:
            where = f"{file}:{res.case.line}" if res.case.line else file
            if res.passed:
                lines.append(f"  PASS {res.case.name}")
                continue
            lines.append(f"  FAIL {res.case.name} ({where})")
            for p in res.problems:
                lines.append(f"    {p.render()}")
            for m in res.mismatches:
                lines.append(f"    {m.where}: {m.message}")
                lines.append(f"      - expected: {_compact(m.expected)}")
                lines.append(f"      + actual:   {_compact(m.actual)}")
    return lines


def coverage_text(cov: Coverage) -> list[str]:
    lines = [
        f"Coverage of {cov.policy}: {cov.covered} of {len(cov.rules)} rules ({cov.percent:g}%)"
    ]
    if cov.never_fired:
        lines.append(f"  never fired: {', '.join(cov.never_fired)}")
    if cov.never_failed:
        lines.append(f"  never failed: {', '.join(cov.never_failed)}")
    return lines


# ------------------------------------------------------------------ diff


_SECTIONS = (
    ("changelog", "Changelog (the authors' notes)"),
    ("policy", "Policy"),
    ("parameters", "Parameters"),
    ("tables", "Tables"),
    ("calendars", "Calendars"),
    ("derived", "Derived facts"),
    ("templates", "Templates"),
    ("rules", "Rules"),
)


def diff_text(old: str, new: str, changes: Sequence[PolicyChange]) -> str:
    count = sum(1 for c in changes if c.section != "changelog")  # notes are not changes
    lines = [f"{old} -> {new}: {count} change{'s' if count != 1 else ''}"]
    for section, title in _SECTIONS:
        items = [c for c in changes if c.section == section]
        if not items:
            continue
        lines += ["", title]
        mark = {"added": "+", "removed": "-", "changed": "~"}
        for c in items:
            lines.append(f"  {mark[c.kind]} {c.text}")
    return "\n".join(lines)


#: applicants that could not be evaluated listed by name in the text of an impact
_MOST_ERRORS_SHOWN = 5


def impact_text(impact: CohortImpact) -> str:
    n = impact.total
    when = f", as of {impact.as_of}" if impact.as_of else ""
    if impact.own_as_of:
        when += f"; {impact.own_as_of} at the as_of in their own facts"
    lines = [
        "",
        f"Impact on the cohort ({n} applicant{'s' if n != 1 else ''}{when})",
        f"  {impact.changed} got different actions or dates, {n - impact.changed - len(impact.errors)} unchanged"
        + (f", {len(impact.errors)} could not be evaluated" if impact.errors else ""),
    ]
    if impact.errors:
        lines.append("  could not be evaluated:")
        for error in impact.errors[:_MOST_ERRORS_SHOWN]:
            more = len(error["problems"]) - 1
            who = error["applicant"]
            notes = [] if who == f"row {error['row']}" else [who]
            if more:
                notes.append(f"and {more} more problem{'s' if more != 1 else ''}")
            lines.append(f"    {error['message']}" + (f" [{'; '.join(notes)}]" if notes else ""))
        if len(impact.errors) > _MOST_ERRORS_SHOWN:
            rest = len(impact.errors) - _MOST_ERRORS_SHOWN
            lines.append(f"    and {rest} more (--format json lists every one)")
    if impact.by_kind:
        lines.append("  by change:")
        for kind, count in impact.by_kind.items():
            lines.append(f"    {kind}: {count} (e.g. {', '.join(impact.examples_by_kind[kind])})")
    if impact.by_rule:
        lines.append("  by rule:")
        for rule, count in impact.by_rule.items():
            lines.append(f"    {rule}: {count} (e.g. {', '.join(impact.examples_by_rule[rule])})")
    return "\n".join(lines)


def _change_lines(changes: Iterable[DecisionChange], indent: int) -> list[str]:
    return [" " * indent + c.text() for c in changes]


def _where(r: ReplayResult, outcome: ReplayOutcome) -> str:
    """Which decision a result is about: its line, and for a batch its row."""
    parts = []
    if r.line is not None:
        parts.append(f"line {r.line}")
    if r.row is not None:
        at = f", {outcome.input} line {r.input_line}" if r.input_line is not None else ""
        parts.append(f"row {r.row}{at}")
    if r.decision_id is not None:
        parts.append(f"decision {r.decision_id}")
    text = ", ".join(parts)
    if r.applicant_id:
        text += f" ({r.applicant_id})"
    if r.policy:
        text += f", made with {r.policy}"
    return text


def _runs(results: Sequence[ReplayResult]) -> list[list[ReplayResult]]:
    """Results in runs: consecutive lines that could not be replayed for the same
    reason (a policy not found names every line of a batch) form one run."""
    runs: list[list[ReplayResult]] = []
    for r in results:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and r.error is not None
            and r.error == last.error
            and not r.chain
            and not last.chain
            and r.decision_id is None
        ):
            runs[-1].append(r)
        else:
            runs.append([r])
    return runs


def _span(values: Sequence[int | None], word: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    if len(known) == 1:
        return f"{word} {known[0]}"
    return f"{word}s {known[0]}-{known[-1]}"


def replay_text(outcome: ReplayOutcome) -> str:
    """What a replay found: each decision that differs or could not be replayed,
    the chain, and the counts."""
    if outcome.problem:
        return f"{outcome.problem}: nothing was replayed, so nothing is proven"
    replayed = outcome.replayed
    n = len(replayed)
    against = f" under {outcome.against}" if outcome.against else ""
    source = f", rows from {outcome.input}" if outcome.input else ""
    lines = [f"Replayed {n} decision{'s' if n != 1 else ''} from {outcome.log}{against}{source}"]
    shown = [r for r in outcome.results if r.changes or r.error or r.chain]
    for run in _runs(shown):
        r = run[0]
        if len(run) > 1:
            where = ", ".join(
                s
                for s in (_span([x.line for x in run], "line"), _span([x.row for x in run], "row"))
                if s
            )
            lines.append(f"  {where}: cannot be replayed: {r.error}")
            continue
        if r.decision_id is None and r.row is None and not r.changes:  # not a decision
            said = [r.chain, f"cannot be replayed: {r.error}" if r.error else None]
            lines.append(f"  line {r.line}: " + "; ".join(x for x in said if x))
            continue
        if not r.changes and not r.error:  # the decision is the same; its link is not
            lines.append(f"  line {r.line}: {r.chain}")
            continue
        lines.append(f"  {_where(r, outcome)}:")
        if r.chain:
            lines.append(f"    {r.chain}")
        if r.error:
            lines.append(f"    cannot be replayed: {r.error}")
        lines += _change_lines(r.changes, 4)
    if outcome.chain is not None:
        lines.append(_chain_line(outcome))
    diff = outcome.differing
    failed = len(outcome.failed)
    tail = f" ({failed} of them could not be replayed)" if failed else ""
    ended = len(outcome.without_line)
    missing = len(outcome.results) - n - ended
    if ended:
        rows = "1 row of the input has" if ended == 1 else f"{ended} rows of the input have"
        tail += (
            f"; {rows} no decision line after line {outcome.last_line}: the decisions file "
            "ends early (or rows were added to the input)"
        )
    if missing:
        tail += (
            "; 1 row of the input failed in the batch, as it fails now"
            if missing == 1
            else f"; {missing} rows of the input failed in the batch, as they fail now"
        ) + " (no decision to compare)"
    lines.append(f"{n - len(diff)} same, {len(diff)} different{tail}")
    return "\n".join(lines)


def _chain_line(outcome: ReplayOutcome) -> str:
    chain = outcome.chain
    assert chain is not None
    if chain.broken:
        where = ", ".join(map(str, chain.broken[:10])) + (" ..." if len(chain.broken) > 10 else "")
        return f"Chain: BROKEN at line{'s' if len(chain.broken) != 1 else ''} {where} (see above)"
    if not chain.linked:
        return (
            "Chain: none: the lines carry no link (prev), as logs written before followup "
            "kept one, so a removed or changed line cannot be detected"
        )
    text = f"Chain: whole over {chain.linked} line{'s' if chain.linked != 1 else ''}"
    if chain.unlinked:
        text += (
            f" ({chain.unlinked} earlier ones, written before followup kept a chain, carry no link)"
        )
    if chain.keyed:
        return text + ", each sealed with FOLLOWUP_LOG_KEY (HMAC-SHA256)"
    text += (
        "; without a key it shows accidental and naive changes, not a file rewritten "
        "whole: set FOLLOWUP_LOG_KEY when logging to seal each line"
    )
    if chain.sealed:
        text += f"; {chain.sealed} lines carry a seal that was not checked: set FOLLOWUP_LOG_KEY"
    return text


def policies_text(versions: Sequence[PolicyVersion]) -> str:
    lines = []
    for v in versions:
        state = {
            "released": f"released {v.released or ''}".rstrip(),
            "draft": "draft",
            "changed": "CHANGED since release",
        }[v.status]
        tests = "tests" if v.has_tests else "no tests"
        lines.append(f"{v.name} {v.version}  {state}  {tests}  sha256 {v.sha256[:12]}  {v.path}")
    return "\n".join(lines) if lines else "no policies found"
