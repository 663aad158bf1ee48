"""`followup check` reports every mistake at once (second round of findings).

A table or calendar naming an unknown fact, a repeated rule id and a repeated
``when`` no longer hide other mistakes or cause false second errors; dates
written without leading zeros, or month/day first, get the year-month-day fix
in policies, facts files and ``--as-of`` alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import FactsError, PolicyError, Problem, load_policy_text, normalize_facts

HEAD = """\
policy:
  name: small
  version: "0.1.0"
  title: t
  description: d
  source: {title: test}
  changelog: [{version: "0.1.0", changes: [first]}]
"""
THANKS = "templates:\n  thanks: {purpose: p, subject: s, body: b}\n"
#: an independent mistake beside the one tested
TYPO_RULE = (
    "  - id: typo\n"
    "    title: t\n"
    "    cite: [G3]\n"
    "    when: {fact: industy, equals: finance}\n"
    "    then: [{caution: {id: c, message: m}}]\n"
)


def _problems(text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    problems = caught.value.problems
    for p in problems:
        assert p.line is not None and p.column is not None, p.render()
    return problems


def _found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.pointer) for p in problems]


# ------------------------------------------- 1. a table or calendar naming no fact


def test_a_table_keyed_by_an_unknown_fact_is_not_called_missing_where_it_is_used() -> None:
    """'key: industy' was reported, and then the rule using the table was told
    'response' is not a table of this policy."""
    text = HEAD + (
        "tables:\n"
        "  response:\n"
        "    description: d\n"
        "    key: industy\n"
        "    type: number\n"
        "    rows: {finance: 21}\n"
        "derived:\n"
        "  wait_days: {type: number, description: d}\n"
        "rules:\n"
        "  - id: pick\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    then: [{set: {fact: wait_days, lookup: {table: response}}}]\n"
        "  - id: warn\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    when: {fact: wait_days, more_than: 3}\n"
        "    then: [{caution: {id: c, message: m}}]\n" + TYPO_RULE
    )
    problems = _problems(text)
    assert _found(problems) == [
        ("unknown-fact", "/tables/response/key"),
        ("unknown-fact", "/rules/2/when/fact"),
    ]
    assert problems[0].suggestion == "did you mean 'industry'?"


def test_a_calendar_matching_an_unknown_fact_is_not_called_missing_where_it_is_used() -> None:
    text = HEAD + (
        "calendars:\n"
        "  seasonal:\n"
        "    description: d\n"
        "    match_fact: industy\n"
        "    windows:\n"
        '      - {id: a, from: "12-20", to: "01-03", extra_days: 5, applies_to: [retail]}\n'
        "rules:\n"
        "  - id: warn\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    when:\n"
        "      fact: interview_at\n"
        '      before: "interview_at + slowdown_days(seasonal, interview_at, as_of) days"\n'
        "    then: [{caution: {id: c, message: m}}]\n" + TYPO_RULE
    )
    assert _found(_problems(text)) == [
        ("unknown-fact", "/calendars/seasonal/match_fact"),
        ("unknown-fact", "/rules/1/when/fact"),
    ]


# ------------------------------------------------------ 2. repeated ids and keys


def test_a_rule_with_a_repeated_id_is_checked_all_the_same() -> None:
    """Its mistakes appeared only once it was renamed."""
    text = (
        HEAD
        + THANKS
        + (
            "rules:\n"
            "  - id: thank-you\n"
            "    title: t\n"
            "    cite: [G1]\n"
            "    then:\n"
            "      - recommend: {action: send_thank_you, template: thanks, message: m}\n"
            "  - id: thank-you\n"
            "    title: t\n"
            "    cite: [G1]\n"
            "    then:\n"
            "      - recommend:\n"
            "          action: send_thank_you\n"
            "          template: thanks\n"
            "          message: m\n"
            "          earliest: 01/02/2026\n"
            "          latest: interview_at + 7 Days\n"
        )
    )
    problems = _problems(text)
    assert _found(problems) == [
        ("duplicate-rule-id", "/rules/1/id"),
        ("bad-expression", "/rules/1/then/0/recommend/earliest"),
        ("bad-expression", "/rules/1/then/0/recommend/latest"),
    ]
    assert problems[1].suggestion == (
        "write 2026-01-02 if 01/02/2026 is month/day, or 2026-02-01 if it is day/month"
    )
    assert problems[2].suggestion == "did you mean 'days'?"


def test_a_rule_the_schema_finds_wrong_is_still_told_its_id_is_repeated() -> None:
    text = HEAD + (
        "rules:\n"
        "  - id: thank-you\n"
        "    title: t\n"
        "    cite: [G1]\n"
        "    then: [{caution: {id: c, message: m}}]\n"
        "  - id: thank-you\n"
        "    title: t\n"
        "    cite: [G1]\n"
        "    salience: high\n"
        "    then: [{caution: {id: c, message: m}}]\n"
    )
    assert _found(_problems(text)) == [
        ("duplicate-rule-id", "/rules/1/id"),
        ("wrong-type", "/rules/1/salience"),
    ]


def test_the_first_of_two_when_keys_is_checked() -> None:
    """The first value of a repeated key is the one kept: an unknown fact inside
    it was not reported, only the repeated key."""
    text = (
        HEAD
        + THANKS
        + (
            "rules:\n"
            "  - id: thank-you\n"
            "    title: t\n"
            "    cite: [G1]\n"
            "    when: {fact: thank_you_sent_att, missing: true}\n"
            "    when: {fact: phone_ok, equals: true}\n"
            "    then:\n"
            "      - recommend: {action: send_thank_you, template: thanks, message: m}\n"
        )
    )
    problems = _problems(text)
    assert _found(problems) == [
        ("unknown-fact", "/rules/0/when/fact"),
        ("duplicate-key", "/rules/0/when"),
    ]
    assert problems[0].suggestion == "did you mean 'thank_you_sent_at'?"


# ------------------------------------------------ 3. dates without leading zeros


@pytest.mark.parametrize(
    ("written", "shown", "fix"),
    [
        ("2026-3-1", "2026-3-1", "write 2026-03-01"),
        ("2026-03-1T9:30", "2026-03-1T9:30", "write 2026-03-01T09:30"),
        ("2026-2-30", "2026-2-30", "write the date as year-month-day, e.g. 2026-03-31"),
        ("1-3-2026 + 2 days", "1-3-2026", "write 2026-01-03 if 1-3-2026 is month/day, "
         "or 2026-03-01 if it is day/month"),
    ],
)  # fmt: skip
def test_a_date_without_leading_zeros_in_a_condition_is_told_how_to_write_it(
    written: str, shown: str, fix: str
) -> None:
    """'2026-3-1' was read as 2026 - 3 - 1: 'compares a date with ..., which is a number'."""
    text = (
        HEAD
        + THANKS
        + (
            "rules:\n"
            "  - id: thank-you\n"
            "    title: t\n"
            "    cite: [G1]\n"
            f'    when: {{fact: interview_at, after: "{written}"}}\n'
            "    then:\n"
            "      - recommend: {action: send_thank_you, template: thanks, message: m}\n"
        )
    )
    (problem,) = _problems(text)
    assert (problem.code, problem.pointer) == ("bad-expression", "/rules/0/when/after")
    assert f"'{shown}' at character 1 is not a date the policy can read" in problem.message
    assert "number" not in problem.message
    assert problem.suggestion == fix


def test_a_date_without_leading_zeros_in_an_expression_is_told_how_to_write_it() -> None:
    text = (
        HEAD
        + THANKS
        + (
            "rules:\n"
            "  - id: thank-you\n"
            "    title: t\n"
            "    cite: [G1]\n"
            "    then:\n"
            "      - recommend:\n"
            "          action: send_thank_you\n"
            "          template: thanks\n"
            "          message: m\n"
            '          latest: "later(interview_at, 2026-12-1)"\n'
        )
    )
    (problem,) = _problems(text)
    assert problem.code == "bad-expression"
    assert "'2026-12-1' at character 21 is not a date" in problem.message
    assert problem.suggestion == "write 2026-12-01"


# ------------------------------------------------------------- 4. facts files


def _facts_problems(facts: dict[str, object]) -> dict[str, Problem]:
    with pytest.raises(FactsError) as caught:
        normalize_facts(facts, default_as_of="2026-03-05")
    return {p.pointer: p for p in caught.value.problems}


def test_a_fact_dated_month_day_year_is_told_the_year_month_day_form() -> None:
    found = _facts_problems(
        {
            "interview_at": "12/01/2026",
            "stated_decision_by": "2026-3-1",
            "thank_you_sent_at": "13.01.2026 9:30",
        }
    )
    assert found["/interview_at"].suggestion == (
        "write 2026-12-01 if 12/01/2026 is month/day, or 2026-01-12 if it is day/month"
    )
    assert found["/stated_decision_by"].suggestion == "write 2026-03-01"
    assert found["/thank_you_sent_at"].suggestion == "write 2026-01-13T09:30"


def test_yes_for_true_or_false_is_not_told_to_remove_quotes() -> None:
    """'phone_ok: yes' has no quotes (YAML 1.2 reads yes as text)."""
    found = _facts_problems(
        {"interview_at": "2026-03-02", "phone_ok": "yes", "linkedin_connected": "true"}
    )
    assert found["/phone_ok"].suggestion == "write true or false"
    assert found["/linkedin_connected"].suggestion == "write true or false without quotes"


def test_a_facts_file_gets_the_date_fix_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("interview_at: 12/01/2026\nphone_ok: yes\n")
    result = CliRunner().invoke(main, ["evaluate", str(path)])
    assert result.exit_code != 0
    out = result.stdout + result.stderr
    assert f"{path}:1:15: invalid-fact: /interview_at: " in out
    assert "(write 2026-12-01 if 12/01/2026 is month/day, or 2026-01-12 if it is day/month)" in out
    assert "(write true or false)" in out


def test_as_of_on_the_command_line_gets_the_date_fix(tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("interview_at: 2026-01-12\n")
    result = CliRunner().invoke(main, ["evaluate", str(path), "--as-of", "12/10/2026"])
    assert result.exit_code == 2
    assert (
        "write 2026-12-10 if 12/10/2026 is month/day, or 2026-10-12 if it is day/month"
        in result.stderr
    )
