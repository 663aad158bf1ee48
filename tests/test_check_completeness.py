"""`followup check` reports every mistake at once: one mistake does not hide others.

Each test is a file with one mistake that used to stop the check (or a facts
file whose unknown name was located at its value), with other, independent
mistakes beside it. Every one of them must be reported, and nothing that only
follows from the first (an empty value where a tag was, a definition that
looks unused because the only rule using it is broken).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import (
    FactsError,
    PolicyError,
    Problem,
    check_policy_file,
    load_policy,
    load_policy_text,
)

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policies" / "interview-follow-up" / "1.0.0.yaml").read_text("utf-8")
#: words a coach should never read: Python's, or the engine's own type names
JARGON = re.compile(r"\b(None|NoneType|True|False|dict|str|int|float|bool|moment)\b")

#: a misspelt fact in a rule of the bundled policy: the independent mistake
PHONE = (
    "      fact: phone_ok\n      equals: true\n",
    "      fact: phone_okay\n      equals: true\n",
)
PHONE_TYPO = ("unknown-fact", "/rules/1/when/fact")

HEAD = """\
policy:
  name: small
  version: "0.1.0"
  title: t
  description: d
  source: {title: test}
  changelog: [{version: "0.1.0", changes: [first]}]
"""


def _problems(text: str) -> list[Problem]:
    """Every problem of a policy text, which must not load; each is located and in words."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    problems = caught.value.problems
    for p in problems:
        assert p.line is not None and p.column is not None, p.render()
        # (a bad value is told the words the schema allows, such as bool; a YAML
        # problem names the tag written, such as !!int)
        words = p.code == "bad-value" or p.code.startswith("yaml-")
        assert words or not JARGON.search(p.message), p.render()
    return problems


def _edited(*pairs: tuple[str, str]) -> str:
    text = POLICY
    for old, new in pairs:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return text


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def _found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.pointer) for p in problems]


# ------------------------------------------------------- 1. problems in the YAML


def test_a_duplicate_key_does_not_hide_the_other_mistakes() -> None:
    """A repeated key stopped the check before the schema: the wrong salience and
    the unknown fact in the same rule were only reported on the next run."""
    text = HEAD + (
        "templates:\n"
        "  thanks: {purpose: p, subject: s, body: b}\n"
        "rules:\n"
        "  - id: thank-you\n"
        "    title: Say thanks\n"
        "    title: Again\n"
        "    cite: [G1]\n"
        "    salience: high\n"
        "    when: {fact: thank_you_sent_att, missing: true}\n"
        "    then:\n"
        "      - recommend: {action: send_thank_you, template: thanks, message: m}\n"
    )
    problems = _problems(text)
    assert _found(problems) == [
        ("duplicate-key", "/rules/0/title"),
        ("wrong-type", "/rules/0/salience"),
        ("unknown-fact", "/rules/0/when/fact"),
    ]
    assert problems[2].suggestion == "did you mean 'thank_you_sent_at'?"
    assert (problems[0].line, problems[0].column) == (13, 5)


def test_a_repeated_key_whose_first_value_is_wrong_is_reported_once() -> None:
    """The first value of a repeated key is kept; the schema says nothing more
    about the place already reported."""
    problems = _problems(
        _edited(("    salience: 100\n", "    salience: high\n    salience: 100\n"), PHONE)
    )
    assert _found(problems) == [("duplicate-key", "/rules/0/salience"), PHONE_TYPO]


def test_tags_merge_keys_and_unreadable_values_do_not_hide_the_other_mistakes() -> None:
    """A tag (!!python/object, !foo), a merge key or '!!int abc' stopped the check
    before the schema. The value left out says nothing more (no 'expected text,
    got nothing'), nor does the mapping the merge key was in (no missing keys)."""
    text = HEAD.replace("  name: small\n", "  name: !!python/object:os.system small\n").replace(
        "  description: d\n", "  description: !foo d\n"
    ) + (
        "templates:\n"
        "  thanks: &words {purpose: p, subject: s, body: b}\n"
        "  again:\n"
        "    <<: *words\n"
        "rules:\n"
        "  - id: thank-you\n"
        "    title: Say thanks\n"
        "    cite: [G1]\n"
        "    salience: !!int abc\n"
        "    when: {fact: thank_you_sent_att, missing: true}\n"
        "    then:\n"
        "      - recommend: {action: send_thank_you, template: thanks, message: m}\n"
        "  - id: later\n"
        "    title: !foo Later\n"
        "    cite: [G3]\n"
        "    when: {fact: industy, equals: finance}\n"
        "    then:\n"
        "      - recommend: {action: send_thank_you, template: again, message: m}\n"
        "  - id: wrong\n"
        "    title: t\n"
        "    cite: [G99]\n"
        "    then: [{caution: {id: c, message: m}}]\n"
    )
    problems = _problems(text)
    assert _found(problems) == [
        ("yaml-tag", "/policy/name"),
        ("yaml-tag", "/policy/description"),
        ("merge-key", "/templates/again"),
        ("yaml-value", "/rules/0/salience"),
        ("unknown-fact", "/rules/0/when/fact"),
        ("yaml-tag", "/rules/1/title"),
        ("unknown-fact", "/rules/1/when/fact"),
        ("bad-format", "/rules/2/cite/0"),
    ]


def test_a_value_left_out_does_not_make_what_it_names_look_unused() -> None:
    """The only use of a template, a parameter or a table can be in a value the
    YAML problem left out: saying the definition is unused would send the author
    to delete it, when the fix is the tag or the repeated key."""
    text = HEAD + (
        "parameters:\n"
        "  extra_hours: {value: 4, unit: hours, description: d}\n"
        "templates:\n"
        "  thanks: {purpose: p, subject: s, body: b}\n"
        "rules:\n"
        "  - id: thank-you\n"
        "    title: Say thanks\n"
        "    cite: [G1]\n"
        "    then:\n"
        "      - recommend:\n"
        "          action: send_thank_you\n"
        "          latest: interview_at + 48 hours\n"
        "          latest: interview_at + params.extra_hours hours\n"
        "          template: !foo thanks\n"
        "          message: m\n"
        "  - id: other\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    when: {fact: industy, equals: finance}\n"
        "    then: [{caution: {id: c, message: m}}]\n"
    )
    assert _found(_problems(text)) == [
        ("duplicate-key", "/rules/0/then/0/recommend/latest"),
        ("yaml-tag", "/rules/0/then/0/recommend/template"),
        ("unknown-fact", "/rules/1/when/fact"),
    ]


def test_a_yaml_problem_alone_still_refuses_the_policy() -> None:
    """A tag in words only: everything else is right, and the policy still does not load."""
    text = POLICY.replace("  title: Following up", "  title: !foo Following up", 1)
    assert _found(_problems(text)) == [("yaml-tag", "/policy/title")]


def test_a_yaml_syntax_error_still_stops_there() -> None:
    """YAML that cannot be read at all has no rest to check."""
    problems = _problems(_edited(PHONE, ("    value: 48\n", "    value: [48\n")))
    assert [p.code for p in problems] == ["yaml-syntax"]


def test_a_check_of_a_file_reports_yaml_and_rule_mistakes_together(tmp_path: Path) -> None:
    folder = tmp_path / "interview-follow-up"
    folder.mkdir()
    path = folder / "1.0.0.yaml"
    text = _edited(("    unit: hours\n", "    unit: hours\n    unit: days\n"), PHONE)
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    repeated = _line_of(text, "    unit: days\n    description: Send the thank-you")
    typo = _line_of(text, PHONE[1])
    assert lines[0].startswith(
        f"{path}:{repeated}:5: duplicate-key: /parameters/thank_you_hours/unit: "
    )
    assert lines[1].startswith(f"{path}:{typo}:13: unknown-fact: /rules/1/when/fact: ")
    assert len(lines) == 2


# --------------------------------------------------- 2. tables and derived facts


def test_a_broken_table_does_not_hide_the_mistakes_in_the_rules() -> None:
    problems = _problems(
        _edited(
            ("    key: industry\n    type: number\n", "    key: industry\n    type: numbr\n"), PHONE
        )
    )
    assert _found(problems) == [("bad-value", "/tables/industry_response_days/type"), PHONE_TYPO]
    assert problems[1].suggestion == "did you mean 'phone_ok'?"


def test_a_rule_using_a_broken_table_gets_no_second_error_for_it() -> None:
    """The stand-in for a broken table holds numbers; a rule setting text from it
    must not be told the table holds numbers."""
    text = HEAD + (
        "tables:\n"
        "  greeting:\n"
        "    description: d\n"
        "    key: industry\n"
        "    type: text\n"
        "    rows: [finance]\n"
        "derived:\n"
        "  opening: {type: text, description: d}\n"
        "rules:\n"
        "  - id: pick\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    then: [{set: {fact: opening, lookup: {table: greeting}}}]\n"
        "  - id: warn\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    when: {fact: opening, equals: hello}\n"
        "    then: [{caution: {id: c, message: m}}]\n"
        "  - id: typo\n"
        "    title: t\n"
        "    cite: [G3]\n"
        "    when: {fact: industy, equals: finance}\n"
        "    then: [{caution: {id: c, message: m}}]\n"
    )
    assert _found(_problems(text)) == [
        ("wrong-type", "/tables/greeting/rows"),
        ("unknown-fact", "/rules/2/when/fact"),
    ]


def test_a_broken_derived_fact_does_not_hide_the_mistakes_in_the_rules() -> None:
    """response_days declared with a wrong type: the rules that set and read it
    are not told it is text (the stand-in's type), and the other rules' mistakes
    are reported."""
    problems = _problems(
        _edited(
            ("  response_days:\n    type: number\n", "  response_days:\n    type: numbr\n"), PHONE
        )
    )
    assert _found(problems) == [("bad-value", "/derived/response_days/type"), PHONE_TYPO]


def test_a_name_mistake_beside_a_broken_derived_fact_is_still_reported() -> None:
    """Where a rule uses the broken derived fact, only what depends on its type is
    left unsaid: an unknown parameter in the same 'set' is reported."""
    problems = _problems(
        _edited(
            ("  response_days:\n    type: number\n", "  response_days:\n    type: numbr\n"),
            ("expr: params.general_response_days", "expr: params.general_respons_days"),
        )
    )
    assert _found(problems) == [
        # (as for any rule naming a parameter wrongly: the parameter meant is unused)
        ("parameter-unused", "/parameters/general_response_days"),
        ("bad-value", "/derived/response_days/type"),
        ("unknown-parameter", "/rules/10/then/0/set/expr"),
    ]


def test_a_derived_fact_with_broken_choices_gives_no_error_where_it_is_used() -> None:
    """channel's choices are broken: set from preferred_channel, and used as the
    channel of every recommendation, it must not be called 'not a channel fact'."""
    problems = _problems(
        _edited(("    choices: [email, phone, linkedin]\n", "    choices: email\n"), PHONE)
    )
    assert _found(problems) == [("wrong-type", "/derived/channel/choices"), PHONE_TYPO]


def test_a_broken_template_does_not_hide_the_mistakes_in_the_rules() -> None:
    text = _edited(
        (
            "  thank-you:\n    purpose: Gratitude",
            "  thank-you: hello\n  unused:\n    purpose: Gratitude",
        ),
        PHONE,
    )
    problems = _problems(text)
    assert ("wrong-type", "/templates/thank-you") in _found(problems)
    assert PHONE_TYPO in _found(problems)
    assert not [p for p in problems if p.code == "unknown-template"]


# ------------------------------------------------------------------- 3. units


def test_a_wrong_unit_does_not_hide_an_unknown_fact() -> None:
    """'days since interviw_at' with unit: fortnights reported the unit only. Its
    comparison with an hours parameter is not judged without a unit."""
    problems = _problems(
        _edited(
            (
                "        - {since: interview_at, unit: hours, more_than: params.thank_you_hours}\n",
                "        - {since: interviw_at, unit: fortnights, more_than: params.thank_you_hours}\n",
            )
        )
    )
    assert _found(problems) == [
        ("unknown-fact", "/rules/6/when/all/1/since"),
        ("bad-value", "/rules/6/when/all/1/unit"),
    ]
    assert problems[0].suggestion == "did you mean 'interview_at'?"


def test_a_wrong_unit_does_not_hide_an_unknown_parameter() -> None:
    problems = _problems(
        _edited(
            (
                "        - {since: interview_at, unit: hours, more_than: params.thank_you_hours}\n",
                "        - {since: interview_at, unit: fortnights, more_than: params.thank_you_houres}\n",
            )
        )
    )
    assert _found(problems) == [
        ("bad-value", "/rules/6/when/all/1/unit"),
        ("unknown-parameter", "/rules/6/when/all/1/more_than"),
    ]


def test_a_unit_on_a_fact_does_not_hide_an_unknown_fact() -> None:
    problems = _problems(
        _edited((PHONE[0], "      fact: phone_okay\n      unit: days\n      equals: true\n"))
    )
    assert _found(problems) == [
        ("unknown-fact", "/rules/1/when/fact"),
        ("bad-condition", "/rules/1/when/unit"),
    ]


# ---------------------------------------------------------------- 4. facts files


def _evaluate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evaluate", str(path), "--as-of", "2026-03-05"])
    return result.exit_code, result.stderr


def test_an_unknown_fact_in_a_yaml_file_is_located_at_its_name(tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("interview_at: 2026-03-02\n  # note\nindusty:   finance\nstage: last\n")
    code, err = _evaluate(path)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:3:1: unknown-fact: /industy: 'industy' is not a known fact "
        "(did you mean 'industry'?)",
        # a value that is wrong stays located at the value
        f"{path}:4:8: invalid-fact: /stage: stage is 'last'; expected one of first, "
        "intermediate, final",
    ]


def test_an_unknown_fact_in_a_json_file_is_located_at_its_name(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text('{"interview_at": "2026-03-02",\n   "industy":  "finance", "stage": "last"}')
    code, err = _evaluate(path)
    assert code == 1
    assert err.splitlines() == [
        f"{path}:2:4: unknown-fact: /industy: 'industy' is not a known fact "
        "(did you mean 'industry'?)",
        f"{path}:2:36: invalid-fact: /stage: stage is 'last'; expected one of first, "
        "intermediate, final",
    ]


def test_a_locate_function_of_ones_own_is_still_asked_for_the_place() -> None:
    """Policy.evaluate takes any function from pointer to place: it is used as before."""
    asked: list[str] = []

    def locate(pointer: str) -> tuple[int, int]:
        asked.append(pointer)
        return (7, 3)

    with pytest.raises(FactsError) as caught:
        load_policy().evaluate(
            {"interview_at": "2026-03-02", "industy": "x"}, as_of="2026-03-05", locate=locate
        )
    (problem,) = caught.value.problems
    assert (problem.code, problem.line, problem.column) == ("unknown-fact", 7, 3)
    assert asked == ["/industy"]


def test_batch_errors_of_an_unknown_fact_are_as_before(tmp_path: Path) -> None:
    """A row has no line and column of its own facts: the errors file names the
    row and its line, and the unknown fact, as before."""
    source = tmp_path / "cohort.jsonl"
    source.write_text('{"applicant_id": "a1", "interview_at": "2026-03-02", "industy": "x"}\n')
    errors = tmp_path / "errors.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "batch",
            str(source),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--errors",
            str(errors),
            "--as-of",
            "2026-03-05",
            "--quiet",
        ],
    )
    assert result.exit_code == 1, result.output
    (record,) = [json.loads(line) for line in errors.read_text().splitlines()]
    assert record == {
        "row": 1,
        "line": 1,
        "applicant_id": "a1",
        "errors": [
            {
                "code": "unknown-fact",
                "pointer": "/industy",
                "message": "'industy' is not a known fact",
                "suggestion": "did you mean 'industry'?",
                "value": "industy",
            }
        ],
    }


def test_the_bundled_policy_still_checks_clean() -> None:
    for path in (ROOT / "policies").glob("*/*.yaml"):
        if re.fullmatch(r"\d+\.\d+\.\d+\.yaml", path.name):
            assert check_policy_file(path) == [], path
