"""The check and evaluate commands, driven through Click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from followup.cli import main
from followup.engine import load_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "final-round-finance.yaml"
INVALID = Path(__file__).parent / "policies" / "invalid"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_the_bundled_policies() -> None:
    code, out, _ = run("check")
    assert code == 0
    assert out.strip().endswith("interview-follow-up/1.0.0.yaml: ok")


def test_check_reports_every_problem_with_its_position() -> None:
    code, out, err = run(
        "check", str(INVALID / "unknown-fact.yaml"), str(INVALID / "duplicate-rule-id.yaml")
    )
    assert code == 1
    assert out.splitlines() == [
        f"{INVALID / 'unknown-fact.yaml'}:16:18: unknown-fact: /rules/0/when/all/1/fact: "
        "'industy' is not a known fact (did you mean 'industry'?)",
        f"{INVALID / 'duplicate-rule-id.yaml'}:14:9: duplicate-rule-id: /rules/1/id: "
        "the rule id 'same' is already used by rule 1 (/rules/0) (give every rule its own id)",
    ]
    assert err.strip() == "2 problems in 2 of 2 files"


def test_check_json() -> None:
    code, out, _ = run("check", "--format", "json", str(INVALID / "unknown-value.yaml"))
    assert code == 1
    (entry,) = json.loads(out)["files"]
    assert entry["ok"] is False
    (problem,) = entry["problems"]
    assert sorted(problem) == [
        "code",
        "column",
        "file",
        "line",
        "message",
        "pointer",
        "suggestion",
        "value",
    ]
    assert (problem["code"], problem["line"], problem["column"], problem["value"]) == (
        "unknown-value",
        15,
        15,
        "fnance",
    )


def test_check_missing_file_is_usage_error() -> None:
    code, out, _ = run("check", "no/such/policy.yaml")
    assert code == 2
    assert "no-file: /: there is no file at no/such/policy.yaml" in out


def test_evaluate_text() -> None:
    code, out, _ = run("evaluate", str(EXAMPLE))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Policy interview-follow-up 1.0.0 (sha256 ")
    assert lines[0].endswith("), as of 2026-12-18")
    assert lines[1] == "Applicant A-1042"
    assert "  1. send_thank_you [done] 2026-12-14 15:00 to 2026-12-16 15:00 via linkedin" in lines
    assert (
        "  2. send_materials [overdue] 2026-12-14 15:00 to 2026-12-16 15:00 via linkedin" in lines
    )
    assert "  5. send_status_inquiry [upcoming] 2027-01-12 to 2027-01-19 via linkedin" in lines
    assert "  leeway_days = 8 (rule holiday-leeway)" in lines
    assert "  - channel-email-default: shadowed by a higher-salience rule" in lines


def test_evaluate_json_validates_and_records_the_policy() -> None:
    code, out, _ = run("evaluate", str(EXAMPLE), "--format", "json", "--as-of", "2027-01-13")
    assert code == 0
    decision = json.loads(out)
    Draft202012Validator(load_schema("decision")).validate(decision)
    assert decision["as_of"] == "2026-12-18"  # the facts' own as_of wins over --as-of
    assert decision["policy"]["version"] == "1.0.0"
    assert len(decision["policy"]["sha256"]) == 64


def test_evaluate_without_as_of_uses_now_and_records_it() -> None:
    code, out, _ = run("evaluate", "-", "--format", "json", input='{"interview_at": "2026-03-02"}')
    assert code == 0
    assert json.loads(out)["as_of"] >= "2026-11-25"


def test_evaluate_bad_facts_points_at_the_line() -> None:
    code, _, err = run("evaluate", "-", input="interview_at: 2026-03-02\nstage: last\n")
    assert code == 1
    assert err.strip() == (
        "<stdin>:2:8: invalid-fact: /stage: stage is 'last'; expected one of first, intermediate, final"
    )


def test_evaluate_broken_yaml_is_a_clean_error() -> None:
    code, _, err = run("evaluate", "-", input="interview_at: [2026-03-02\n")
    assert code == 1
    assert err.startswith(  # at the '[' left open, not where PyYAML stopped
        "<stdin>:1:15: yaml-syntax: /: the YAML cannot be read: the '[' at line 1 column 15 "
        "is not closed"
    )


def test_evaluate_unknown_policy_and_bad_as_of() -> None:
    code, _, err = run("evaluate", str(EXAMPLE), "--policy", "interview-folow-up")
    assert (code, err.strip()) == (
        2,
        "Error: no policy named 'interview-folow-up'; did you mean 'interview-follow-up'? (known: interview-follow-up)",
    )
    code, _, err = run("evaluate", str(EXAMPLE), "--as-of", "tomorrow")
    assert code == 2
    assert "'tomorrow' is not an ISO date" in err


def test_schema_command_prints_valid_json_schemas() -> None:
    for name in ("policy", "facts", "decision"):
        code, out, _ = run("schema", name)
        assert code == 0
        schema = json.loads(out)
        Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{name}.schema.json")


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        code, out, _ = run(name, "--help")
        assert code == 0, name
        assert command.help or command.short_help, name
        assert out.startswith("Usage: ")


def test_as_of_in_the_facts_wins_over_the_option_and_says_so(tmp_path: Path) -> None:
    """A date typed with --as-of that the facts override is never ignored silently."""
    code, out, err = run("evaluate", str(EXAMPLE), "--format", "json", "--as-of", "2026-12-30")
    assert code == 0 and json.loads(out)["as_of"] == "2026-12-18"
    assert err == (
        "note: the facts give as_of 2026-12-18, which wins over --as-of; "
        "remove as_of from the facts to evaluate at another moment\n"
    )
    for command in (["explain"], ["why-not", "thank-you"]):
        code, _, err = run(*command, str(EXAMPLE), "--as-of", "2026-12-30")
        assert code == 0 and err.startswith("note: the facts give as_of 2026-12-18, which wins")
    # the same moment, or facts without as_of: nothing to say
    assert run("evaluate", str(EXAMPLE), "--as-of", "2026-12-18")[2] == ""
    bare = tmp_path / "facts.yaml"
    lines = EXAMPLE.read_text("utf-8").splitlines(keepends=True)
    bare.write_text("".join(line for line in lines if not line.startswith("as_of:")), "utf-8")
    code, out, err = run("evaluate", str(bare), "--format", "json", "--as-of", "2026-12-30")
    assert (code, err, json.loads(out)["as_of"]) == (0, "", "2026-12-30")


def test_the_command_ends_quietly_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import followup.cli
    from followup import _entry

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(followup.cli, "main", interrupted)
    with pytest.raises(SystemExit) as ended:
        _entry.main()
    assert ended.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_the_package_names_come_from_the_engine_on_first_use() -> None:
    import followup
    import followup.engine

    assert followup.load_policy is followup.engine.load_policy
    assert followup.PolicyError is followup.engine.PolicyError
    assert followup.__version__ == followup.engine.ENGINE_VERSION
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        followup.nothing  # noqa: B018
