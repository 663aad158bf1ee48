"""Shape mistakes with their fix: a range with one end, a decimal comma, one
item where a list goes (in a policy, a facts file and a test file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import PolicyError, load_policy_text

BUNDLED = Path(__file__).resolve().parent.parent / "policies" / "interview-follow-up"
POLICY = (BUNDLED / "1.0.0.yaml").read_text("utf-8")


def _problem(old: str, new: str) -> tuple[str, str, str | None]:
    assert old in POLICY, old
    with pytest.raises(PolicyError) as caught:
        load_policy_text(POLICY.replace(old, new, 1), "p.yaml")
    (problem,) = caught.value.problems
    return problem.code, problem.message, problem.suggestion


def test_a_range_with_one_end() -> None:
    old = "{since: interview_at, at_most: params.thank_you_give_up_days}"
    assert _problem(old, "{since: interview_at, between: [14]}") == (
        "too-few-items",
        "exactly 2 items are needed here, not 1",
        "write both ends: [low, high]",
    )


def test_an_empty_list_is_still_empty() -> None:
    old = "{since: interview_at, at_most: params.thank_you_give_up_days}"
    assert _problem(old, "{since: interview_at, between: []}")[:2] == (
        "empty",
        "this must not be empty",
    )


def test_a_decimal_comma() -> None:
    assert _problem("    value: 48\n", "    value: 14,5\n") == (
        "wrong-type",
        "'14,5' is text; expected a number",
        "write a decimal point, not a comma: 14.5",
    )


def test_one_item_where_a_list_goes_in_a_policy() -> None:
    old = 'cite: [G6, "§2.2", "§5.1", "§6.1", "§6.2", FAQ]'
    assert _problem(old, "cite: G6") == (
        "wrong-type",
        "'G6' is text; expected a list (array)",
        "make it a list, even of one item: [G6]",
    )


@pytest.mark.parametrize(
    ("written", "fix"),
    [("portfolio", "[portfolio]"), ("portfolio, references", "[portfolio, references]")],
)
def test_one_item_where_a_list_goes_in_facts(written: str, fix: str) -> None:
    facts = f"interview_at: 2026-03-02T10:00\npromised_materials: {written}\n"
    result = CliRunner().invoke(main, ["evaluate", "-"], input=facts)
    assert result.exit_code == 1
    assert f"(make it a list, even of one item: {fix})" in result.output


def test_one_item_where_a_list_goes_in_a_test_file(tmp_path: Path) -> None:
    folder = tmp_path / "interview-follow-up"
    folder.mkdir()
    (folder / "1.0.0.yaml").write_bytes((BUNDLED / "1.0.0.yaml").read_bytes())
    tests = (BUNDLED / "1.0.0.tests.yaml").read_text("utf-8")
    old = "      fired: [thank-you-late]\n"
    assert old in tests
    (folder / "1.0.0.tests.yaml").write_text(tests.replace(old, "      fired: thank-you-late\n", 1))
    result = CliRunner().invoke(main, ["check", str(folder / "1.0.0.tests.yaml")])
    assert result.exit_code == 1
    assert "'thank-you-late' is text; expected a list (array)" in result.output
    assert "(make it a list, even of one item: [thank-you-late])" in result.output
