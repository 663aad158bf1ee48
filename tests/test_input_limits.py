"""Input that is too deep, endless, too long or not a number gives a clear problem.

Every case here used to crash with a Python traceback (RecursionError,
ValueError, OverflowError) or to pass unnoticed; each must now be a problem
naming its code, where it is (line:column, pointer) and what to do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import PolicyError, load_policy_text
from followup.engine._expr import MAX_NESTING, MAX_PARTS, ExprError, parse
from followup.engine._policy import bundled_policies_dir
from followup.engine._yaml import MAX_DEPTH, load_yaml

SOURCE = (bundled_policies_dir() / "interview-follow-up" / "1.0.0.yaml").read_text("utf-8")
SET_INQUIRY_UNTIL = "expr: inquiry_from + params.inquiry_window_days days}"
FACTS = '{"interview_at": "2026-03-02", "industry": %s}'


def run(*args: str) -> tuple[int, str]:
    """Exit code and stdout + stderr of the CLI; a traceback fails the test."""
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def policy_problems(old: str, new: str) -> list[tuple[str, str, int | None, int | None, str]]:
    """(code, pointer, line, column, message) of each problem of the bundled policy edited."""
    assert old in SOURCE
    try:
        load_policy_text(SOURCE.replace(old, new, 1), "p.yaml")
    except PolicyError as exc:
        return [(p.code, p.pointer, p.line, p.column, p.message) for p in exc.problems]
    return []


# ---------------------------------------------------------------- recursive aliases


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [("a: &a [*a]\n", 1, 8), ("a: &a\n  b: *a\n", 2, 6), ("x: 1\nb: &b {c: [1, *b]}\n", 2, 15)],
)
def test_an_alias_inside_its_own_anchor_is_a_problem_at_the_alias(
    text: str, line: int, column: int
) -> None:
    doc = load_yaml(text, "p.yaml")
    (problem,) = doc.problems
    assert (problem.code, problem.file, problem.line, problem.column) == (
        "recursive-alias",
        "p.yaml",
        line,
        column,
    )
    assert "endless" in problem.message and problem.suggestion
    assert doc.data is None


def test_check_and_evaluate_report_a_recursive_alias_in_a_few_lines(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("a: &a [*a]\n")
    code, out = run("check", str(policy))
    assert code == 1
    assert f"{policy}:1:8: recursive-alias: /: the alias *a is used inside &a itself" in out
    assert len(out.splitlines()) == 2
    facts = tmp_path / "facts.yaml"
    facts.write_text("interview_at: 2026-03-02\nindustry: &a [*a]\n")
    code, out = run("evaluate", str(facts))
    assert code == 1
    assert f"{facts}:2:15: recursive-alias" in out


# ---------------------------------------------------------------- deep nesting


def test_yaml_nested_too_deep_is_a_problem_where_the_limit_is_passed() -> None:
    (problem,) = load_yaml("a: " + "[" * 800 + "]" * 800, "p.yaml").problems
    assert (problem.code, problem.line, problem.column) == ("too-deep", 1, 3 + MAX_DEPTH)
    assert f"more than {MAX_DEPTH} levels" in problem.message
    # the limit itself is allowed: the top mapping and MAX_DEPTH - 1 lists
    depth = MAX_DEPTH - 1
    assert load_yaml("a: " + "[" * depth + "]" * depth).problems == ()


def test_block_style_nesting_is_limited_too() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(800))
    (problem,) = load_yaml(text).problems
    assert (problem.code, problem.line) == ("too-deep", MAX_DEPTH + 1)


def test_aliases_count_towards_the_depth_where_they_are_used() -> None:
    # each anchor is 20 levels deep and holds the previous one: 3 of them pass 50
    lines = ["k0: &a0 " + "[" * 20 + "1" + "]" * 20]
    for i in range(1, 4):
        lines.append(f"k{i}: &a{i} " + "[" * 20 + f"*a{i - 1}" + "]" * 20)
    (problem,) = load_yaml("\n".join(lines)).problems
    assert (problem.code, problem.line, problem.column) == ("too-deep", 3, 29)
    assert "once the alias *a1 is filled in" in problem.message
    # aliases to finished anchors, shallow enough, still expand
    doc = load_yaml("\n".join(lines[:2]) + "\nz: &z {q: [*a0]}\nw: *z\n")
    assert doc.problems == ()
    assert doc.data["w"] == doc.data["z"] and doc.data["k1"][0] is not None


def test_deeply_nested_conditions_are_refused_before_validation_recurses() -> None:
    old = "        - {fact: status_inquiries_sent, at_least: 1}"
    new = "        - " + "{not: " * 90 + "{fact: status_inquiries_sent, at_least: 1}" + "}" * 90
    problems = policy_problems(old, new)
    assert [p[0] for p in problems] == ["too-deep"]


def test_deep_json_facts_are_a_problem_with_their_position(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(FACTS % ("[" * 100_000 + "]" * 100_000))
    code, out = run("evaluate", str(facts))
    assert code == 1
    assert f"{facts}:1:{43 + MAX_DEPTH}: too-deep: /: lists and mappings are nested" in out
    # brackets and escaped quotes inside strings are text, not nesting
    company = json.dumps("[" * 60 + '"' + "{" * 60 + "\\")
    industry = "[" * 40 + "]" * 40
    facts.write_text(f'{{"company": {company}, "industry": {industry}}}')
    code, out = run("evaluate", str(facts))
    assert code == 1
    assert "invalid-fact: /industry" in out and "too-deep" not in out


def test_json_facts_have_the_same_size_limit_as_yaml(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(FACTS % json.dumps("x" * 3_000_000))
    code, out = run("evaluate", str(facts))
    assert code == 1
    assert f"{facts}:1:1: too-large: /: the file is 3000046 bytes; at most 2097152" in out


# ---------------------------------------------------------------- NaN and infinity


CHASED = "- {fact: status_inquiries_sent, at_least: 1}\n        - {fact: last_status"


@pytest.mark.parametrize(
    ("old", "new", "pointer", "line", "column", "message"),
    [
        ("value: 48", "value: .nan", "/parameters/thank_you_hours/value", 47, 12, ".nan means"),
        (
            "finance: 21",
            "finance: .nan",
            "/tables/industry_response_days/rows/finance",
            120,
            16,
            ".nan means",
        ),
        (CHASED, "at_least: .NaN", "/rules/21/when/any/0/at_least", 587, 51, ".nan means"),
        (CHASED, "at_least: -.inf", "/rules/21/when/any/0/at_least", 587, 51, "-.inf is infinite"),
    ],
    ids=["parameter", "table-row", "condition-nan", "condition-minus-inf"],
)
def test_nan_and_infinity_in_a_policy_are_out_of_range(
    old: str, new: str, pointer: str, line: int, column: int, message: str
) -> None:
    if old == CHASED:
        new = CHASED.replace("at_least: 1", new)
    problems = policy_problems(old, new)
    assert [p[:4] for p in problems] == [("out-of-range", pointer, line, column)]
    assert problems[0][4].startswith(message)
    assert "only ordinary numbers can be used here" in problems[0][4]


def test_check_json_output_stays_json_for_infinity(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(SOURCE.replace("value: 48", "value: .inf", 1))
    code, out = run("check", "--format", "json", str(policy))
    assert code == 1

    def refuse(word: str) -> None:
        raise AssertionError(f"{word} is not JSON")

    (problem,) = json.loads(out, parse_constant=refuse)["files"][0]["problems"]
    assert problem["value"] == ".inf"
    assert problem["message"] == ".inf is out of range (maximum 100000)"


def test_a_bare_nan_never_becomes_a_number_literal() -> None:
    with pytest.raises(ExprError) as caught:
        parse(math.nan)
    assert caught.value.code == "out-of-range"


# ---------------------------------------------------------------- expressions


def test_an_expression_nested_too_deep_is_refused_at_the_bracket() -> None:
    deep = "(" * (MAX_NESTING + 1) + "interview_at" + ")" * (MAX_NESTING + 1)
    with pytest.raises(ExprError) as caught:
        parse(deep)
    assert caught.value.code == "expression-too-deep"
    assert caught.value.offset == MAX_NESTING
    assert f"at character {MAX_NESTING + 1}" in str(caught.value)
    fine = "(" * MAX_NESTING + "interview_at" + ")" * MAX_NESTING
    assert parse(fine).kind == "name"
    with pytest.raises(ExprError) as caught:
        parse("max(1, " + "-" * 100 + "1)")
    assert caught.value.code == "expression-too-deep"


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 500 + "inquiry_from + params.inquiry_window_days days" + ")" * 500,
        "inquiry_from + params.inquiry_window_days days" + " + 1 day" * 800,
        "later(" * 200 + "inquiry_from + params.inquiry_window_days days" + ", x)" * 200,
    ],
    ids=["500-brackets", "800-terms", "200-calls"],
)
def test_a_huge_expression_is_one_problem_not_a_crash(expr: str) -> None:
    (problem,) = policy_problems(SET_INQUIRY_UNTIL, f'expr: "{expr}"}}')
    code, pointer, line, column, message = problem
    assert code in ("expression-too-long", "expression-too-deep")
    assert (pointer, line, column) == ("/rules/15/then/0/set/expr", 476, 42)
    assert len(message) < 400  # the expression is quoted by its start only


def test_an_expression_of_more_parts_than_allowed_says_where() -> None:
    with pytest.raises(ExprError) as caught:
        parse(" + ".join(["1"] * MAX_PARTS))
    assert caught.value.code == "expression-too-long"
    # part MAX_PARTS + 1 is number MAX_PARTS // 2 + 1, and each "1 + " is 4 characters
    assert caught.value.offset == 4 * (MAX_PARTS // 2)


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("99999999999999", "99999999999999"),
        ("9" * 400 + ".5", "the 401-digit number"),
        ("9" * 5000, "the 5000-digit number"),
        ("100001", "100001"),
    ],
)
def test_a_huge_number_in_an_expression_is_out_of_range(number: str, shown: str) -> None:
    expr = f"inquiry_from + params.inquiry_window_days days + {number} days"
    (problem,) = policy_problems(SET_INQUIRY_UNTIL, f"expr: {expr}}}")
    code, pointer, _, _, message = problem
    assert (code, pointer) == ("out-of-range", "/rules/15/then/0/set/expr")
    assert f"{shown} is out of range at character 50" in message
    assert "between -100000 and 100000" in message
