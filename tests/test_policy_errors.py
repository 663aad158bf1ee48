"""Broken policies give the right code, JSON pointer and line:column.

Each file in tests/policies/invalid/ starts with a comment naming the problem
it must produce: ``# expect: CODE POINTER LINE:COLUMN``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.engine import PolicyError, check_policy_file, load_policy, load_policy_text

HERE = Path(__file__).parent / "policies"
INVALID = sorted((HERE / "invalid").glob("*.yaml"))


def _expected(path: Path) -> tuple[str, str, int, int]:
    first = path.read_text("utf-8").splitlines()[0]
    assert first.startswith("# expect: "), (
        f"{path.name} must start with '# expect: CODE POINTER LINE:COL'"
    )
    code, pointer, pos = first[len("# expect: ") :].split(" ")
    line, col = pos.split(":")
    return code, pointer, int(line), int(col)


def test_there_are_at_least_fifteen_distinct_mistakes() -> None:
    assert len({_expected(p)[0] for p in INVALID}) >= 15


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_policy(path: Path) -> None:
    code, pointer, line, col = _expected(path)
    problems = check_policy_file(path)
    found = [(p.code, p.pointer, p.line, p.column) for p in problems]
    assert (code, pointer, line, col) in found, "\n".join(p.render() for p in problems)
    for p in problems:
        assert p.file == str(path)
        assert p.message


@pytest.mark.parametrize("path", sorted((HERE / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_policy(path: Path) -> None:
    assert check_policy_file(path) == []
    assert load_policy(path).name == path.stem


def test_load_raises_with_every_problem() -> None:
    text = (HERE / "valid" / "minimal.yaml").read_text("utf-8")
    broken = text.replace("interview_at + 48 hours", "interviewed_at + 48 hours").replace(
        "template: thanks", "template: thank"
    )
    with pytest.raises(PolicyError) as info:
        load_policy_text(broken, "minimal.yaml")
    codes = sorted(p.code for p in info.value.problems)
    assert codes == ["unknown-fact", "unknown-template"]
    rendered = str(info.value)
    assert "minimal.yaml:22:19: unknown-fact: /rules/0/then/0/recommend/latest:" in rendered
    assert "did you mean 'interview_at'?" in rendered


def test_did_you_mean_for_a_misspelt_fact() -> None:
    (problem,) = check_policy_file(HERE / "invalid" / "unknown-fact.yaml")
    assert problem.message == "'industy' is not a known fact"
    assert problem.suggestion == "did you mean 'industry'?"


def test_unknown_enum_value_suggests_the_right_one() -> None:
    (problem,) = check_policy_file(HERE / "invalid" / "unknown-value.yaml")
    assert problem.suggestion == "did you mean 'finance'?"
    assert "it can be tech_startup, technology" in problem.message


def test_a_broken_rule_does_not_make_what_it_uses_look_unused() -> None:
    """The only mistakes are in the rules; the parameter and the derived fact they
    use must not be reported as unused (the suggested fix would be to delete them)."""
    text = """\
policy:
  name: broken
  version: "0.1.0"
  title: t
  description: d
  source: {title: test}
  changelog: [{version: "0.1.0", changes: [first]}]
parameters:
  status_min_days: {value: 7, description: d}
derived:
  route: {type: text, description: d}
rules:
  - id: pick-route
    title: t
    cite: [G12]
    when: {fact: phone_okay, equals: true}
    then: [{set: {fact: route, value: phone}}]
  - id: ask
    title: t
    cite: [G3]
    when:
      all:
        - {since: last_contact_at, at_least: params.status_min_days}
        - {fact: route, equals: phone}
    then:
      - recommend:
          action: send_status_inquiry
          template: no-such-template
          message: m
"""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text)
    codes = sorted(p.code for p in caught.value.problems)
    assert "parameter-unused" not in codes and "derived-unused" not in codes, codes
    assert "derived-never-written" not in codes
    assert codes == ["unknown-fact", "unknown-template"], codes


def test_a_schema_mistake_in_one_rule_does_not_hide_the_mistakes_of_others() -> None:
    bundled = Path(__file__).resolve().parent.parent / "policies" / "interview-follow-up"
    text = (bundled / "1.0.0.yaml").read_text("utf-8")
    edited = text.replace("    salience: 80\n", "    saliense: 80\n", 1).replace(
        "fact: preferred_channel", "fact: preferred_chanel", 1
    )
    assert edited.count("saliense") == 1 and edited.count("preferred_chanel") == 1
    with pytest.raises(PolicyError) as caught:
        load_policy_text(edited)
    found = sorted((p.code, p.pointer) for p in caught.value.problems)
    assert found == [
        ("unknown-fact", "/rules/0/when/fact"),
        ("unknown-key", "/rules/1/saliense"),
    ]
    # a mistake in a parameter does not hide them either: a stand-in replaces the parameter
    broken = edited.replace("  thank_you_hours:\n    value: 48", "  thank_you_hours:\n    valu: 48")
    with pytest.raises(PolicyError) as caught:
        load_policy_text(broken)
    assert {p.code for p in caught.value.problems} == {"unknown-key", "missing-key", "unknown-fact"}
    # a mistake in a table does not hide them either: a stand-in replaces the table
    broken = edited.replace("    key: industry\n", "    key: [industry]\n", 1)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(broken)
    assert {p.code for p in caught.value.problems} == {"unknown-key", "wrong-type", "unknown-fact"}
    # a mistake in a whole section still stops there: the rules cannot be judged
    broken = edited.replace("\ntables:\n", "\ntable:\n", 1)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(broken)
    assert {p.code for p in caught.value.problems} == {"unknown-key"}
