"""YAML syntax mistakes named where they are made, in words: PyYAML stops
where it notices, often lines later, and says so in its own terms
("expected <block end>, but found '<scalar>'")."""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.engine import PolicyError, load_policy_text

POLICY = (
    Path(__file__).resolve().parent.parent / "policies" / "interview-follow-up" / "1.0.0.yaml"
).read_text("utf-8")


def _line_of(fragment: str) -> int:
    return POLICY[: POLICY.index(fragment)].count("\n") + 1


def _syntax(old: str, new: str) -> tuple[int | None, int | None, str, str | None]:
    assert old in POLICY, old
    with pytest.raises(PolicyError) as caught:
        load_policy_text(POLICY.replace(old, new, 1), "p.yaml")
    (problem,) = caught.value.problems
    assert problem.code == "yaml-syntax"
    assert problem.message.startswith("the YAML cannot be read: ")
    message = problem.message.removeprefix("the YAML cannot be read: ")
    return problem.line, problem.column, message, problem.suggestion


def test_a_double_quote_left_open_is_named_where_it_opens() -> None:
    line = _line_of('  version: "1.0.0"')
    found = _syntax('  version: "1.0.0"\n', '  version: "1.0.0\n')
    assert found[:2] == (line, 12)  # not 19 lines later, where PyYAML stopped
    assert found[2].startswith(f'the quote " at line {line} column 12 is not closed on its line')
    assert found[3] == f"close the quote at the end of line {line}, or remove it"


def test_a_single_quote_left_open_is_named_where_it_opens() -> None:
    old = "          message: Send the documents"
    line = _line_of(old)
    found = _syntax(old, "          message: 'Send the documents")
    assert found[:2] == (line, 20)
    assert "so the text runs on to the next ' at line" in found[2]


def test_a_quote_never_closed() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(POLICY + 'notes: "never closed\n', "p.yaml")
    (problem,) = caught.value.problems
    line = POLICY.count("\n") + 1
    assert (problem.line, problem.column) == (line, 8)
    assert problem.message == (
        f'the YAML cannot be read: the quote " at line {line} column 8 is never closed'
    )


def test_a_colon_in_a_value_says_to_quote_it() -> None:
    old = "    title: Expect the industry's usual response time"
    found = _syntax(old, "    title: Note: expect the industry's usual response time")
    assert found[:2] == (_line_of(old), 16)
    assert found[2] == "this value has ': ' in it, which YAML reads as the start of another key"
    assert found[3] == 'put the value in double quotes: title: "..."'


def test_a_line_indented_too_far_is_read_as_the_value_before_it() -> None:
    old = "    title: Expect the industry's usual response time"
    line = _line_of(old)
    found = _syntax(old, " " + old)
    assert found[2] == (
        f"line {line} is indented more than line {line - 1}, so YAML reads it as more of "
        f"line {line - 1}'s value, and its ':' as out of place"
    )
    assert found[3] == f"indent it by 4 spaces, as line {line - 1}, if it is a key of its own"


def test_a_line_indented_by_one_space_too_few() -> None:
    old = "    title: Expect the industry's usual response time"
    line = _line_of(old)
    found = _syntax(old, old[1:])
    assert found[:2] == (line, 4)
    assert found[2].startswith(
        f"line {line} is indented by 3 spaces, which does not line up with the lines above it"
    )


def test_list_items_indented_unlike() -> None:
    old = "        - {fact: industry, present: true}"
    line = _line_of(old)
    found = _syntax(old, old[2:])
    assert found[2] == (
        f"the item at line {line + 1} is indented by 8 spaces, and the one at line {line} "
        "by 6: YAML does not read them as one list"
    )


def test_a_key_without_its_colon() -> None:
    old = "    title: Expect the industry's"
    found = _syntax(old, "    title Expect the industry's")
    assert found[:2] == (_line_of(old), 5)
    assert found[2].startswith(f"line {_line_of(old)} has no ':' after its first word")


@pytest.mark.parametrize(("old", "new", "opener"), [
    ("        - {fact: industry, present: true}", "        - {fact: industry, present: true", "{"),
    ("    cite: [G6, \"§2.2\", \"§5.1\", \"§6.1\", \"§6.2\", FAQ]",
     "    cite: [G6, \"§2.2\", \"§5.1\", \"§6.1\", \"§6.2\", FAQ", "["),
])  # fmt: skip
def test_a_bracket_left_open_is_named_where_it_opens(old: str, new: str, opener: str) -> None:
    line = _line_of(old)
    column = old.index(opener) + 1
    found = _syntax(old, new)
    assert found[:2] == (line, column)
    assert found[2].startswith(f"the '{opener}' at line {line} column {column} is not closed")


def test_a_value_starting_with_a_reserved_character() -> None:
    old = "    title: Expect the industry's usual response time"
    found = _syntax(old, "    title: @Expect the industry's usual response time")
    assert found[2] == "a value cannot start with '@' unless quoted"
