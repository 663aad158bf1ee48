"""Mistakes found by fuzzing policies, test files and facts files, one test each.

Each test is the smallest file that showed the mistake (a traceback, Python's
words in a message, a problem without its place, a key silently without
effect, or one mistake hiding another) and checks what is reported now.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import PolicyError, Problem, check_policy_file, load_policy_text
from followup.engine._testing import check_tests_file, load_tests, policy_for_tests, run_tests
from followup.engine._yaml import load_yaml

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "policies" / "interview-follow-up"
POLICY = (BUNDLED / "1.0.0.yaml").read_text("utf-8")
#: words a coach should never read: Python's, or the engine's own type names
JARGON = re.compile(r"\b(None|NoneType|True|False|dict|str|int|float|bool|moment)\b")


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def _problems(tmp_path: Path, old: str, new: str) -> list[Problem]:
    """Every problem of the bundled policy with ``old`` replaced by ``new``."""
    assert old in POLICY, old
    folder = tmp_path / "interview-follow-up"
    folder.mkdir(exist_ok=True)
    path = folder / "1.0.0.yaml"
    path.write_text(POLICY.replace(old, new, 1), "utf-8")
    problems = check_policy_file(path)
    for p in problems:
        assert p.line is not None and p.column is not None, p.render()
        assert not JARGON.search(p.message), p.render()
    return problems


def _policy_folder(tmp_path: Path, tests: str) -> Path:
    """A copy of the bundled policy with the given test file next to it."""
    folder = tmp_path / "interview-follow-up"
    folder.mkdir()
    shutil.copy(BUNDLED / "1.0.0.yaml", folder / "1.0.0.yaml")
    path = folder / "1.0.0.tests.yaml"
    path.write_text(tests, "utf-8")
    return path


def _case_problems(path: Path) -> list[Problem]:
    tests = load_tests(path)
    (result,) = run_tests(policy_for_tests(tests), tests)
    return result.problems


# ------------------------------------------------------------------ reading files


def test_a_control_character_is_located_not_a_traceback(tmp_path: Path) -> None:
    """A NUL or ESC pasted into a file made PyYAML's reader raise ReaderError
    out of every loader (policy, test file, facts): a traceback in the CLI."""
    text = POLICY.replace("    value: 48\n", "    value: 4\x008\n", 1)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    (problem,) = caught.value.problems
    assert problem.code == "not-text"
    assert (problem.line, problem.column) == (_line_of(POLICY, "    value: 48\n"), 13)
    assert problem.message == (
        "the file holds the character U+0000 at line 47 column 13, an invisible control "
        "character that YAML does not allow in a file"
    )
    facts = tmp_path / "facts.yaml"
    facts.write_bytes(b"interview_at: 2026-03-02\nindustry: \x1b[31mfinance\n")
    result = CliRunner().invoke(main, ["evaluate", str(facts), "--as-of", "2026-03-05"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"{facts}:2:11: not-text: /: the file holds the character U+001B"
    )


def test_a_lone_surrogate_in_policy_text_is_a_problem() -> None:
    """load_policy_text(str) encoded the text strictly: a lone surrogate (text
    decoded with errors='surrogateescape') raised UnicodeEncodeError."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text("policy:\n  name: x\udcff\n", "p.yaml")
    (problem,) = caught.value.problems
    assert problem.code == "not-utf8"
    assert (problem.line, problem.column) == (2, 10)


def test_numbers_are_read_as_written_not_in_base_60_or_octal(tmp_path: Path) -> None:
    """YAML 1.1 reads 12:30 as 750 (base 60) and 010 as 8 (octal): an id or a
    count was silently changed, and a message then showed a number the person
    never wrote."""
    path = tmp_path / "facts.yaml"
    path.write_text(
        "applicant_id: 12:30\ninterview_at: 2026-03-02\nstatus_inquiries_sent: 010\n", "utf-8"
    )
    result = CliRunner().invoke(
        main, ["evaluate", str(path), "--as-of", "2026-03-05", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert '"applicant_id": "12:30"' in result.stdout
    assert load_yaml(path.read_bytes()).data["status_inquiries_sent"] == 10
    (problem,) = _problems(tmp_path, '        from: "12-20"\n', "        from: 12:20\n")
    assert problem.message == "'12:20' is not a day of the year"


def test_invisible_characters_in_a_name_are_shown(tmp_path: Path) -> None:
    """A byte order mark or zero-width space pasted into a key made the message
    read "'stage' is not a known fact (did you mean 'stage'?)"."""
    path = tmp_path / "facts.yaml"
    path.write_bytes(b"interview_at: 2026-03-02\nst\xe2\x80\x8bage: final\n")
    code, err = _evaluate(path)
    assert code == 1
    assert err == (
        f'{path}:2:1: unknown-fact: /st\u200bage: "st\\u200Bage" is not a known fact '
        "(did you mean 'stage'?)\n"
    )


# ------------------------------------------------------------------------ policies


def test_a_rule_that_sets_one_fact_twice_is_refused(tmp_path: Path) -> None:
    """The second set silently replaced the first: the policy was accepted."""
    old = "      - set: {fact: channel, value: phone}\n"
    (problem,) = _problems(tmp_path, old, old + "      - set: {fact: channel, value: linkedin}\n")
    assert problem.code == "set-twice"
    assert problem.pointer == "/rules/1/then/1/set/fact"
    assert (problem.line, problem.column) == (_line_of(POLICY, old) + 1, 21)
    assert problem.message == (
        "rule 'channel-phone' sets 'channel' twice (items 1 and 2 of 'then'); "
        "only the last value would be kept"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "set: {fact: channel, value: phone}",
            "set: {fact: channel, value: true}",
            "true is true/false but 'channel' is declared as text",
        ),
        (
            "set: {fact: channel, value: phone}",
            "set: {fact: channel, value: 'it''s'}",
            "'it''s' is not one of the values declared for 'channel' (email, phone, linkedin)",
        ),
        (
            "set: {fact: channel, value: phone}",
            "set: {fact: response_days, value: $interview_at}",
            "'$interview_at' is a date but 'response_days' is declared as a number",
        ),
        (
            "set: {fact: channel, value: phone}",
            "set: {fact: response_days, expr: 7 days}",
            "'7 days' gives a duration (e.g. 2 days) but 'response_days' is declared as a number",
        ),
        (
            "earliest: interview_at\n",
            "earliest: promised_materials\n",
            "'promised_materials' is a list, not a date",
        ),
        (
            "      finance: 21\n",
            "      finance: '21'\n",
            "'21' is text, but the table holds numbers (type: number)",
        ),
        (
            "    when:\n      fact: phone_ok\n      equals: true\n",
            "    when:\n      fact: stage\n      equals: true\n",
            "true is true/false but the subject is text",
        ),
        (
            "at_most: params.thank_you_give_up_days}\n    then:\n      - recommend:",
            "at_most: 7 days}\n    then:\n      - recommend:",
            "'at_most' compares a number with '7 days', which is a duration (e.g. 2 days)",
        ),
    ],
)
def test_policy_messages_show_values_as_yaml_and_types_in_words(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """Values were shown as Python writes them (True, "it's") and types by the
    engine's own names (moment, duration, bool, 'is not number')."""
    (problem,) = _problems(tmp_path, old, new)
    assert problem.message == message


def test_a_choice_fact_set_from_a_fact_with_other_values_is_refused(tmp_path: Path) -> None:
    """channel (email, phone or linkedin) set to $industry was accepted: a
    recommendation would then say to write 'via finance'."""
    old = "set: {fact: channel, value: phone}"
    (problem,) = _problems(tmp_path, old, "set: {fact: channel, value: $role}")
    assert problem.code == "unknown-value"
    assert problem.message == (
        "'$role' can be any text, but 'channel' may only be email, phone, linkedin"
    )
    (problem,) = _problems(tmp_path, old, "set: {fact: channel, value: $industry}")
    assert problem.message.startswith("'$industry' can be tech_startup, technology, retail,")


def test_choices_on_a_derived_fact_that_is_not_text_are_refused(tmp_path: Path) -> None:
    """choices on a number were checked for 'value:' but ignored for 'expr:'."""
    old = "  response_days:\n    type: number\n"
    (problem,) = _problems(tmp_path, old, old + "    choices: [short, long]\n")
    assert problem.code == "choices-not-text"
    assert problem.pointer == "/derived/response_days/choices"
    assert (problem.line, problem.column) == (_line_of(POLICY, old) + 2, 5)
    assert problem.message == (
        "'response_days' is declared as type: number, but only text facts can have choices"
    )


def test_tables_calendars_and_templates_no_rule_uses_are_reported(tmp_path: Path) -> None:
    """They were accepted silently, as parameters and derived facts are not."""
    problems = _problems(
        tmp_path,
        "tables:\n",
        "tables:\n"
        "  spare:\n    description: d\n    key: industry\n    type: number\n    default: 3\n"
        "    rows: {finance: 2}\n",
    )
    assert [(p.code, p.pointer, p.message) for p in problems] == [
        ("table-unused", "/tables/spare", "the table 'spare' is not used by any rule")
    ]
    (problem,) = _problems(
        tmp_path,
        "calendars:\n",
        "calendars:\n  spare:\n    description: d\n    windows:\n"
        "      - {id: x, from: '01-01', to: '01-02', extra_days: 1}\n",
    )
    assert (problem.code, problem.message) == (
        "calendar-unused",
        "the calendar 'spare' is not used by any rule",
    )
    (problem,) = _problems(
        tmp_path,
        "templates:\n",
        "templates:\n  spare:\n    purpose: x\n    subject: y\n    body: z\n",
    )
    assert (problem.code, problem.line) == ("template-unused", _line_of(POLICY, "templates:\n") + 1)
    # a rule naming a template that does not exist is the mistake, not the template it meant
    (problem,) = _problems(
        tmp_path, "          template: thank-you\n", "          template: thank-yo\n"
    )
    assert problem.code == "unknown-template"


def test_a_fractional_parameter_used_as_business_days_is_refused(tmp_path: Path) -> None:
    """'1.5 business days' was refused, but params.X business days with X: 1.5
    was accepted and silently counted as 1."""
    old = "  stated_grace_days:\n    value: 1\n"
    problems = _problems(tmp_path, old, "  stated_grace_days:\n    value: 1.5\n")
    assert [(p.code, p.pointer) for p in problems] == [
        ("type-mismatch", "/rules/13/then/0/set/expr"),
        ("type-mismatch", "/rules/14/then/0/set/expr"),
    ]
    assert problems[0].message.endswith(
        ": business days must be a whole number, and params.stated_grace_days is 1.5"
    )
    assert problems[0].suggestion == (
        "give the parameter 'stated_grace_days' a whole number of business days"
    )


@pytest.mark.parametrize(
    ("old", "new", "pointer", "message", "fix"),
    [
        (
            '    subject: "Thank you: {role} interview"',
            '    subject: "Thank you: { role } interview"',
            "/templates/thank-you/subject",
            "template thank-you: { role } in its subject is not a fact of the policy",
            "write it without spaces inside the braces: {role}",
        ),
        (
            "    description: A channel named in the posting or by the interviewer always wins.\n",
            "    description: A channel named in the posting or by the interviewer always wins.\n"
            "    explain: 'chosen: {preferred-channel}'\n",
            "/rules/0/explain",
            "'{preferred-channel}' is not a placeholder an explanation can fill",
            "did you mean 'preferred_channel'?",
        ),
    ],
)
def test_braces_that_are_not_a_placeholder_are_reported(
    tmp_path: Path, old: str, new: str, pointer: str, message: str, fix: str
) -> None:
    """Only {name} was checked (the template check's own pattern was replaced by
    the explanation's, defined later under the same name): '{ role }' or
    '{preferred-channel}' reached the candidate's message as written."""
    (problem,) = _problems(tmp_path, old, new)
    assert (problem.code, problem.pointer, problem.message, problem.suggestion) == (
        "unknown-placeholder",
        pointer,
        message,
        fix,
    )


def test_a_policy_checked_from_its_own_folder_has_that_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd policies/interview-follow-up && followup check 1.0.0.yaml` said
    "the file is in the folder '' but says name 'interview-follow-up'"."""
    folder = tmp_path / "interview-follow-up"
    folder.mkdir()
    shutil.copy(BUNDLED / "1.0.0.yaml", folder / "1.0.0.yaml")
    (folder / "1.0.0.tests.yaml").write_text(CASE + "      fired: [thank-you]\n", "utf-8")
    monkeypatch.chdir(folder)
    assert check_policy_file("1.0.0.yaml") == []
    assert check_tests_file("1.0.0.tests.yaml") == []


def test_calendar_windows_with_one_id_or_applying_to_nobody_are_refused(tmp_path: Path) -> None:
    """Two windows with one id were accepted, and 'applies_to: []' made a window
    apply to nobody, silently."""
    (problem,) = _problems(
        tmp_path, "      - id: retail-peak-season\n", "      - id: year-end-holidays\n"
    )
    assert (problem.code, problem.pointer, problem.message) == (
        "duplicate-window-id",
        "/calendars/seasonal/windows/1/id",
        "the window id 'year-end-holidays' is already used by window 1 of the calendar 'seasonal'",
    )
    (problem,) = _problems(tmp_path, "        applies_to: [retail]\n", "        applies_to: []\n")
    assert (problem.code, problem.pointer) == ("empty", "/calendars/seasonal/windows/1/applies_to")
    assert problem.suggestion is not None and "leave applies_to out" in problem.suggestion


def test_a_mistake_in_words_does_not_hide_the_mistakes_in_the_rules(tmp_path: Path) -> None:
    """A typo in a parameter's 'description' key stopped the check at the
    schema: an unknown fact in a rule was only reported on the next run."""
    old = "    description: Send the thank-you within this many hours of the interview (G1).\n"
    text = POLICY.replace(old, old.replace("description", "descripton"), 1)
    text = text.replace(
        "      fact: phone_ok\n      equals: true\n",
        "      fact: phone_okay\n      equals: true\n",
        1,
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    assert [(p.code, p.pointer) for p in caught.value.problems] == [
        ("missing-key", "/parameters/thank_you_hours"),
        ("unknown-key", "/parameters/thank_you_hours/descripton"),
        ("unknown-fact", "/rules/1/when/fact"),
    ]


def test_a_broken_parameter_does_not_hide_the_mistakes_in_the_rules() -> None:
    """A parameter whose value was not a number stopped the check at the schema;
    the rules are now checked with a stand-in for it, and nothing more is said
    about the parameter itself."""
    text = POLICY.replace(
        "  status_min_days:\n    value: 7\n", "  status_min_days:\n    value: 7 days\n", 1
    )
    text = text.replace(
        "      fact: phone_ok\n      equals: true\n",
        "      fact: phone_okay\n      equals: true\n",
        1,
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    assert [(p.code, p.pointer, p.message) for p in caught.value.problems] == [
        ("wrong-type", "/parameters/status_min_days/value", "'7 days' is text; expected a number"),
        ("unknown-fact", "/rules/1/when/fact", "'phone_okay' is not a known fact"),
    ]
    # a calendar, likewise
    text = text.replace("7 days", "7", 1).replace(
        '        from: "12-20"\n', "        from: .inf\n", 1
    )
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    assert [(p.code, p.pointer) for p in caught.value.problems] == [
        ("wrong-type", "/calendars/seasonal/windows/0/from"),
        ("unknown-fact", "/rules/1/when/fact"),
    ]


def test_one_broken_condition_does_not_hide_the_others_of_its_rule(tmp_path: Path) -> None:
    """A rule with a schema mistake was left out whole: the unknown fact in its
    other condition (and the unknown parameter beside an unknown fact in one
    condition) went unreported."""
    problems = _problems(
        tmp_path,
        "    when:\n      fact: phone_ok\n      equals: true\n",
        "    when:\n      all:\n        - {fact: phone_ok, equal: true}\n"
        "        - {fact: industy, equals: finance}\n"
        "        - {since: intervew_at, at_least: params.nosuch}\n",
    )
    assert [(p.code, p.pointer) for p in problems] == [
        ("unknown-key", "/rules/1/when/all/0/equal"),
        ("unknown-fact", "/rules/1/when/all/1/fact"),
        ("unknown-fact", "/rules/1/when/all/2/since"),
        ("unknown-parameter", "/rules/1/when/all/2/at_least"),
    ]
    # and a wrong salience does not hide a mistake in what the rule recommends
    problems = _problems(
        tmp_path,
        "    salience: 100\n    when:\n      any:\n        - {fact: thank_you_sent_at, present: true}\n",
        "    salience: high\n    when:\n      any:\n        - {fact: thank_you_sent_at, present: true}\n",
    )
    assert [(p.code, p.pointer) for p in problems] == [("wrong-type", "/rules/4/salience")]
    problems = _problems(
        tmp_path,
        "    salience: 100\n    when:\n      any:\n        - {fact: thank_you_sent_at, present: true}\n"
        "        - {since: interview_at, at_most: params.thank_you_give_up_days}\n    then:\n"
        "      - recommend:\n          action: send_thank_you\n          earliest: interview_at\n",
        "    salience: high\n    when:\n      any:\n        - {fact: thank_you_sent_at, present: true}\n"
        "        - {since: interview_at, at_most: params.thank_you_give_up_days}\n    then:\n"
        "      - recommend:\n          action: send_thank_you\n          earliest: interviewed_at\n",
    )
    assert [(p.code, p.pointer) for p in problems] == [
        ("wrong-type", "/rules/4/salience"),
        ("unknown-fact", "/rules/4/then/0/recommend/earliest"),
    ]


# ---------------------------------------------------------------------- test files

CASE = """cases:
  - name: a
    as_of: "2026-03-03"
    facts: {interview_at: "2026-03-02T10:00"}
    expect:
"""


def test_test_file_messages_show_values_as_yaml(tmp_path: Path) -> None:
    """'never True' and 'expected None': Python's words for true and null."""
    path = _policy_folder(tmp_path, CASE + "      derived: {channel: true}\n")
    (problem,) = _case_problems(path)
    assert problem.message == (
        "derived: channel is declared as type: text, and true is not text, "
        "so this check would always fail"
    )
    path.write_text(CASE + '      derived: {channel: "it\'s"}\n', "utf-8")
    (problem,) = _case_problems(path)
    assert problem.message == (
        "derived: channel can only be email, phone, linkedin, never 'it''s', "
        "so this check would always fail"
    )
    path.write_text(CASE + "      derived: {channel: null}\n", "utf-8")
    tests = load_tests(path)
    (result,) = run_tests(policy_for_tests(tests), tests)
    assert result.problems == []  # null is what a decision records for an unknown value
    (mismatch,) = result.mismatches
    assert mismatch.message == "derived fact channel is 'email', expected null"


def test_an_empty_policy_reference_is_refused(tmp_path: Path) -> None:
    """'policy: ""' was taken as no reference at all (the policy next to the file)."""
    path = _policy_folder(tmp_path, "policy: ''\n" + CASE + "      fired: [thank-you]\n")
    (problem,) = check_tests_file(path)
    assert (problem.code, problem.pointer, problem.line, problem.column) == (
        "empty",
        "/policy",
        1,
        9,
    )
    assert problem.suggestion is not None and problem.suggestion.startswith("write NAME@VERSION")


def test_an_invalid_as_of_does_not_hide_a_second_as_of(tmp_path: Path) -> None:
    """An as_of that is not a day was reported, and the different as_of in the
    case's facts (a second mistake) was not."""
    path = _policy_folder(
        tmp_path,
        'cases:\n  - name: a\n    as_of: "2026-02-30"\n'
        '    facts: {interview_at: "2026-03-02T10:00", as_of: "2026-03-03"}\n'
        "    expect: {fired: [thank-you]}\n",
    )
    assert [(p.code, p.line, p.column) for p in check_tests_file(path)] == [
        ("invalid-as-of", 3, 12),
        ("as-of-twice", 4, 47),
    ]


def test_a_case_without_a_moment_is_reported(tmp_path: Path) -> None:
    """Without as_of a case ran at the current time: it passed or failed
    depending on the day it was run."""
    path = _policy_folder(
        tmp_path,
        'cases:\n  - name: a\n    facts: {interview_at: "2026-03-02T10:00"}\n'
        "    expect: {fired: [thank-you]}\n",
    )
    (problem,) = _case_problems(path)
    assert (problem.code, problem.pointer, problem.line, problem.column) == (
        "missing-as-of",
        "/cases/0",
        2,
        11,
    )
    assert problem.suggestion == (
        "add 'as_of: 2026-03-05' (the moment to evaluate at) next to the case's name"
    )


def test_expected_values_a_decision_can_never_hold_are_located(tmp_path: Path) -> None:
    """Expectations of the wrong type or form always failed, shown only as a
    mismatch without the place of the mistake."""
    path = _policy_folder(
        tmp_path,
        CASE
        + "      actions:\n"
        + '        - {action: send_thank_you, earliest: "2026-03-02T10:00", latest: tomorrow}\n'
        + '      derived: {response_days: "10", inquiry_from: someday}\n',
    )
    problems = _case_problems(path)
    assert [(p.code, p.pointer, p.line, p.column, p.message) for p in problems] == [
        (
            "bad-moment",
            "/cases/0/expect/actions/0/earliest",
            7,
            46,
            "actions: earliest is '2026-03-02T10:00', but a decision writes that moment as "
            "2026-03-02T10:00:00, so it would never match",
        ),
        (
            "bad-moment",
            "/cases/0/expect/actions/0/latest",
            7,
            74,
            "actions: latest is 'tomorrow', which is not an ISO date or date-time",
        ),
        (
            "type-mismatch",
            "/cases/0/expect/derived/response_days",
            8,
            32,
            "derived: response_days is declared as type: number, and '10' is not a number, "
            "so this check would always fail",
        ),
        (
            "type-mismatch",
            "/cases/0/expect/derived/inquiry_from",
            8,
            52,
            "derived: inquiry_from is declared as type: date, and 'someday' is not an ISO date "
            "or date-time, so this check would always fail",
        ),
    ]


@pytest.mark.parametrize(
    ("old", "new", "pointer", "hint"),
    [
        (
            "  thank_you_give_up_days:\n",
            "  Thank-You-give-up:\n",
            "/parameters/Thank-You-give-up",
            "a name of lower-case letters, digits and _, starting with a letter, "
            "e.g. status_min_days",
        ),
        (
            "    G16: >-\n",
            "    G61: >-\n",
            "/policy/guidance_notes/G61",
            "a guidance point, G1 to G20",
        ),
        (
            "  continued-interest:\n",
            "  Continued_Interest:\n",
            "/templates/Continued_Interest",
            "lower-case words joined by '-', e.g. thank-you",
        ),
    ],
)
def test_a_badly_formed_name_is_located_at_itself_and_explained_in_words(
    tmp_path: Path, old: str, new: str, pointer: str, hint: str
) -> None:
    """A parameter, template or guidance-note name of the wrong form was
    reported at the first key of its mapping (another line) with a regex as
    the fix, '(it must match ^[a-z][a-z0-9_]*$)'."""
    # (a rule that uses the parameter by its meant name is reported too)
    problem = next(p for p in _problems(tmp_path, old, new) if p.code == "bad-format")
    assert (problem.code, problem.pointer) == ("bad-format", pointer)
    assert (problem.line, problem.column) == (
        _line_of(POLICY, old),
        len(old) - len(old.lstrip()) + 1,
    )
    assert problem.suggestion == hint


# ---------------------------------------------------------------------- facts files


def _evaluate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["evaluate", str(path), "--as-of", "2026-03-05"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_a_time_zone_too_long_for_a_file_name_is_an_invalid_fact(tmp_path: Path) -> None:
    """ZoneInfo raised OSError (file name too long), which escaped as a traceback."""
    path = tmp_path / "facts.yaml"
    path.write_text("interview_at: 2026-03-02\ntimezone: Europe/" + "x" * 300 + "\n", "utf-8")
    code, err = _evaluate(path)
    assert code == 1
    assert err.startswith(f"{path}:2:11: invalid-fact: /timezone: timezone is 'Europe/xxx")
    assert err.rstrip().endswith("; expected an IANA time zone such as Europe/London")


def test_a_json_number_too_long_to_read_is_located(tmp_path: Path) -> None:
    """json.loads raised ValueError (integer string conversion limit): a traceback."""
    path = tmp_path / "facts.json"
    path.write_text(
        '{"company": "' + "1" * 5000 + '", "interview_at": "2026-03-02",\n'
        ' "applicant_id": ' + "9" * 5000 + "}",
        "utf-8",
    )
    code, err = _evaluate(path)
    assert code == 1
    assert err == (
        f"{path}:2:18: too-long-number: /: the number at line 2 column 18 has 5000 digits, "
        "too many to be read (write a smaller number; a facts file needs no number longer "
        "than a few digits)\n"
    )
