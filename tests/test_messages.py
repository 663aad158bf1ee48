"""Messages for coaches: plain words, values as they are written, a position and a fix.

Each test makes one mistake in a copy of the bundled policy (or in a facts file)
and checks the exact words of what is reported.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import FactsError, Problem, _errors, check_policy_file, normalize_facts
from followup.engine._expr import MAX_NESTING, MAX_NUMBER, MAX_PARTS
from followup.engine._yaml import MAX_DEPTH, load_yaml

ROOT = Path(__file__).resolve().parent.parent
POLICY = (ROOT / "policies" / "interview-follow-up" / "1.0.0.yaml").read_text("utf-8")
#: words a coach should never read: Python's, or a byte offset instead of line:column
JARGON = re.compile(r"\b(None|NoneType|True|False|dict|str|int|float|bool|at byte)\b")


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def _check(tmp_path: Path, old: str, new: str, *, data: bytes | None = None) -> list[Problem]:
    assert old in POLICY, old
    path = tmp_path / "1.0.0.yaml"
    if data is None:
        path.write_text(POLICY.replace(old, new, 1), "utf-8")
    else:
        path.write_bytes(data)
    problems = check_policy_file(path)
    for problem in problems:
        assert not JARGON.search(problem.render()), problem.render()
    return problems


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------- anyOf and types


def test_a_row_out_of_range_is_one_problem_without_quoting_advice(tmp_path: Path) -> None:
    """A table row may be a number or text: a huge number is out of range, and
    putting it in quotes (as the old second problem advised) is not the fix."""
    (problem,) = _check(tmp_path, "finance: 21", "finance: 99999999999")
    assert problem.code == "out-of-range"
    assert problem.message == "99999999999 is out of range (maximum 100000)"
    assert (problem.line, problem.column) == (_line_of(POLICY, "finance: 21"), 16)
    assert problem.suggestion is None


def test_a_row_of_neither_type_names_both_types_once(tmp_path: Path) -> None:
    (problem,) = _check(tmp_path, "finance: 21", "finance: true")
    assert problem.message == "true is a true/false value; expected a number or text"
    assert problem.suggestion is None  # text would do, but so would a number


def test_quotes_are_suggested_only_where_text_is_needed(tmp_path: Path) -> None:
    (problem,) = _check(tmp_path, "title: Use the channel the employer asked for", "title: 2026")
    assert problem.message == "2026 is a number; expected text"
    assert problem.suggestion == "put quotes around it: '2026'"


def test_quoted_number_where_a_number_is_needed(tmp_path: Path) -> None:
    (problem,) = _check(tmp_path, "salience: 100", "salience: '100'")
    assert problem.message == "'100' is text; expected a whole number"
    assert problem.suggestion == "remove the quotes: 100"


# ---------------------------------------------------------------- plain words


def test_an_empty_value_says_it_is_empty_and_what_goes_there(tmp_path: Path) -> None:
    (problem,) = _check(
        tmp_path, "    when:\n      fact: preferred_channel\n      present: true\n", "    when:\n"
    )
    assert problem.code == "wrong-type"
    assert problem.message == "'when' is empty; expected a set of keys (object)"
    assert problem.suggestion == (
        "write its keys on the lines below 'when:', indented further, such as all, any, not, fact"
    )


def test_an_empty_list_says_what_its_items_are(tmp_path: Path) -> None:
    (problem,) = _check(
        tmp_path,
        "    then:\n      - set: {fact: channel, value: $preferred_channel}\n",
        "    then:\n",
    )
    assert problem.message == "'then' is empty; expected a list (array)"
    assert problem.suggestion == (
        "write its items on the lines below 'then:', each starting with '- '; "
        "each item has keys such as set, recommend, caution"
    )


def test_a_mapping_where_a_list_is_needed_is_shown_as_written(tmp_path: Path) -> None:
    old = (
        "        - {fact: thank_you_sent_at, present: true}\n"
        "        - {since: interview_at, at_most: params.thank_you_give_up_days}"
    )
    (problem,) = _check(tmp_path, old, "        {fact: thank_you_sent_at, present: true}")
    assert problem.message == (
        "{fact: thank_you_sent_at, present: true} is a set of keys; expected a list (array)"
    )
    assert problem.suggestion == "make it a list: start each item on its own line with '- '"


def test_text_where_true_or_false_is_needed(tmp_path: Path) -> None:
    (problem,) = _check(
        tmp_path,
        "      present: true\n    then:\n      - set: {fact: channel, value: $preferred",
        "      present: yes\n    then:\n      - set: {fact: channel, value: $preferred",
    )
    assert problem.message == "'yes' is text; expected true or false"
    assert problem.suggestion == "write true or false, without quotes"


def test_an_unknown_value_is_quoted_as_written(tmp_path: Path) -> None:
    (problem,) = _check(tmp_path, "    type: number\n", "    type: [number]\n")
    assert problem.message == "[number] is not allowed; use one of number, text"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"fact": "x", "present": True}, "{fact: x, present: true}"),
        ([1, None, False, float("nan"), float("-inf")], "[1, null, false, .nan, -.inf]"),
        ("it's", "'it''s'"),
        ("a\tb", '"a\\tb"'),
        (
            {"when": "99", "expr": "interview_at + 2 days"},
            "{when: '99', expr: interview_at + 2 days}",
        ),
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, "{a: {b: {c: {d: {…}}}}}"),
        (
            list(range(40)),
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 2…",
        ),
    ],
)
def test_values_are_shown_as_yaml_writes_them(value: Any, shown: str) -> None:
    assert _errors.show_value(value) == shown


# ---------------------------------------------------------------- reading the file


def test_a_tab_in_the_indentation(tmp_path: Path) -> None:
    old = "    title: Use the channel the employer asked for"
    (problem,) = _check(tmp_path, old, "\t" + old.lstrip())
    line = _line_of(POLICY, old)
    assert (problem.code, problem.line, problem.column) == ("yaml-syntax", line, 1)
    assert problem.message == (
        f"a tab is used for indentation at line {line} column 1; YAML needs spaces"
    )
    assert problem.suggestion == "replace the tab with spaces"


def test_a_tab_between_words() -> None:
    (problem,) = load_yaml("a:\tb\n").problems
    assert problem.message == "a tab is used at line 1 column 3; YAML needs spaces here"
    assert problem.suggestion == "replace the tab with a space"


def test_a_latin1_byte_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    data = POLICY.replace("Finance: the article", "Finance: the \u00e9rticle", 1).encode("latin-1")
    (problem,) = _check(tmp_path, "", "", data=data)
    line = _line_of(POLICY, "Finance: the article")
    assert (problem.code, problem.line, problem.column) == ("not-utf8", line, 18)
    assert problem.message == (
        f"the file is not UTF-8 text: the byte 0xE9 at line {line} column 18 is not a "
        "UTF-8 character; in the older Latin-1 encoding it is '\u00e9'"
    )
    assert problem.suggestion is not None and "save the file as UTF-8" in problem.suggestion


def test_a_column_after_wide_characters_counts_characters() -> None:
    (problem,) = load_yaml("a: \u00e9\u00e9 \xff\n".encode("utf-8")[:-2] + b"\xff\n").problems
    assert (problem.line, problem.column) == (1, 7)


def test_a_tag_that_does_not_fit_its_value_is_not_a_traceback() -> None:
    (problem,) = load_yaml("a:\n  - !!bool maybe\n").problems
    assert (problem.code, problem.pointer, problem.line, problem.column) == (
        "yaml-value",
        "/a/0",
        2,
        5,
    )
    assert problem.message == "'maybe' cannot be read as true or false (!!bool)"
    (problem,) = load_yaml("a: !!int abc\n").problems
    assert problem.message == "'abc' cannot be read as a whole number (!!int)"
    (problem,) = load_yaml("a: " + "9" * 5000 + "\n").problems
    assert problem.message == "the number 9999999999999999999… is too long to read"


# ---------------------------------------------------------------- facts files


def test_an_empty_facts_file(tmp_path: Path) -> None:
    for name, text in [("f.yaml", "# nothing yet\n"), ("f.json", "  \n")]:
        path = tmp_path / name
        path.write_text(text, "utf-8")
        code, _, err = run("evaluate", str(path))
        assert code == 1
        assert err.startswith(f"{path}:1:1: facts-not-mapping: /: the file is empty; ")
        assert "interview_at" in err and "NoneType" not in err


def test_a_facts_file_that_is_a_list(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("- interview_at: 2026-03-02\n", "utf-8")
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert "the file holds a list; a facts file names the facts" in err
    assert "remove the - in front" in err and "not list" not in err


def test_json_facts_problems_have_positions(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{"interview_at": "2026-03-02",\n "stage": "last",\n "industy": "x"}', "utf-8")
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert err.splitlines()[:2] == [
        f"{path}:2:11: invalid-fact: /stage: stage is 'last'; expected one of first, "
        "intermediate, final",
        f"{path}:3:2: unknown-fact: /industy: 'industy' is not a known fact "
        "(did you mean 'industry'?)",
    ]


def test_json_positions_follow_nesting_and_escapes(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(
        '{"a\\"{": ["[", {"x": 1}],\n  "interview_at": "2026-03-02",\n'
        '  "promised_materials": ["ok", 7]}',
        "utf-8",
    )
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert f'{path}:1:2: unknown-fact: /a"{{: ' in err
    assert f"{path}:3:25: invalid-fact: /promised_materials: " in err


def test_json_syntax_errors_have_a_position_and_a_fix(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{"interview_at": "2026-03-02",\n}\n', "utf-8")
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert err.strip() == (
        f"{path}:2:1: json-syntax: /: the JSON cannot be read: Expecting property name "
        "enclosed in double quotes (remove the comma after the last item, or put the key "
        "in double quotes)"
    )


def test_a_repeated_key_in_json_facts_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(
        '{"interview_at": "2026-03-02",\n "stage": "final",\n "stage": "first"}', "utf-8"
    )
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert err.strip() == (
        f"{path}:3:2: duplicate-key: /stage: the key 'stage' appears twice in this object, "
        "at line 2 column 2 and at line 3 column 2; JSON readers would silently keep only "
        "the last (remove or rename one of them)"
    )


def test_a_json_facts_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'{"interview_at": "2026-03-02",\n "stage": "caf\xe9"}')
    code, _, err = run("evaluate", str(path))
    assert code == 1
    assert err.startswith(f"{path}:2:15: not-utf8: /: the file is not UTF-8 text: the byte 0xE9")


def _refuse(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_problems_as_json_are_strict_json(number: float) -> None:
    with pytest.raises(FactsError) as info:
        normalize_facts({"interview_at": "2026-03-02", "stated_timeline_days": number})
    (problem,) = info.value.problems
    text = json.dumps(problem.to_dict())
    value = json.loads(text, parse_constant=_refuse)["value"]
    assert value == {math.inf: ".inf", -math.inf: "-.inf"}.get(number, ".nan")
    nested = Problem("x", "m", value={"a": [number], "when": date(2026, 3, 2)})
    assert json.loads(json.dumps(nested.to_dict()), parse_constant=_refuse)["value"] == {
        "a": [value],
        "when": "2026-03-02",
    }


# ---------------------------------------------------------------- documentation


def test_the_language_guide_states_every_limit() -> None:
    guide = (ROOT / "docs" / "policy-language.md").read_text("utf-8")
    for limit in (f"{MAX_DEPTH} levels", f"{MAX_PARTS} parts", f"{MAX_NESTING}", f"{MAX_NUMBER:,}"):
        assert limit in guide, limit
