"""Policy tests are strict: every name an expectation gives must exist in the
policy, mistakes in a case are located in the test file, one bad test file
does not stop the others, versions without tests are listed, and `check`
knows a test file when it sees one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .conftest import DEMO, Run


def _tests(policies: Path) -> Path:
    return policies / "demo" / "1.0.0.tests.yaml"


def _write_case(policies: Path, case: str) -> Path:
    """Replace the demo's test file with a single case (YAML lines under ``- ``)."""
    path = _tests(policies)
    path.write_text("cases:\n" + case, "utf-8")
    return path


TYPO_NOT = """\
  - name: too early to ask
    as_of: "2026-03-04"
    facts: {interview_at: "2026-03-02T10:00"}
    expect:
      not_fired: [final-rond]
      not_cautions: [final-rnd]
"""


def test_a_typo_under_not_fired_or_not_cautions_fails_the_case(run: Run, policies: Path) -> None:
    path = _write_case(policies, TYPO_NOT)
    out = run("test", str(path), code=1).stdout
    assert out.splitlines() == [
        f"{path} (demo 1.0.0)",
        f"  FAIL too early to ask ({path}:2)",
        f"    {path}:6:19: unknown-rule: /cases/0/expect/not_fired/0: not_fired: demo 1.0.0 "
        "has no rule 'final-rond', so this check would always pass "
        "(did you mean 'final-round'?)",
        f"    {path}:7:22: unknown-caution: /cases/0/expect/not_cautions/0: not_cautions: "
        "no rule of demo 1.0.0 gives the caution 'final-rnd', so this check would always pass "
        "(did you mean 'final-round'?)",
        "0 passed, 1 failed",
    ]


def test_release_refuses_a_test_that_checks_nothing(run: Run, policies: Path) -> None:
    _write_case(policies, TYPO_NOT)
    refused = run("release", "demo", "1.0.0", code=1)
    assert "FAIL too early to ask" in refused.output
    assert not (policies / "demo" / "RELEASES").exists()


def test_a_typo_under_shadowed_or_derived_names_the_rule_or_fact(run: Run, policies: Path) -> None:
    path = _write_case(
        policies,
        """\
  - name: phone
    as_of: "2026-03-04"
    facts: {interview_at: "2026-03-02T10:00", phone_ok: true}
    expect:
      shadowed: [channel-emial]
      derived: {chanel: phone}
""",
    )
    out = run("test", str(path), code=1).stdout
    assert (
        f"    {path}:6:18: unknown-rule: /cases/0/expect/shadowed/0: shadowed: demo 1.0.0 has "
        "no rule 'channel-emial', so this check would always fail "
        "(did you mean 'channel-email'?)\n"
    ) in out
    assert (
        f"    {path}:7:17: unknown-derived-fact: /cases/0/expect/derived/chanel: derived: "
        "demo 1.0.0 has no derived fact 'chanel', so this check would always fail "
        "(did you mean 'channel'?)\n"
    ) in out
    # reported once, as a mistake in the test, not also as a result of the policy
    assert "was not shadowed" not in out and "is None" not in out


def test_every_kind_of_name_in_an_expectation_is_checked(run: Run, policies: Path) -> None:
    path = _write_case(
        policies,
        """\
  - name: names
    as_of: "2026-03-12"
    facts: {interview_at: "2026-03-02T10:00", industry: finance}
    expect:
      actions:
        - {action: send_status_inquiry, rule: status-inquiri}
        - {action: send_thank_you, template: thanks}
        - {action: move_on}
      not_actions: [wait]
      fired: [thank-yu]
      derived: {channel: emial, industry: finance}
      cautions: [final-rnd]
""",
    )
    data = json.loads(run("test", str(path), "--format", "json", code=1).stdout)
    (case,) = data["files"][0]["cases"]
    assert case["mismatches"] == []
    got = [
        (p["code"], p["pointer"], p["line"], p["column"], p["suggestion"]) for p in case["problems"]
    ]
    base = "/cases/0/expect"
    assert got == [
        ("unknown-rule", f"{base}/actions/0/rule", 7, 47, "did you mean 'status-inquiry'?"),
        (
            "unknown-template",
            f"{base}/actions/1/template",
            8,
            46,
            "it has no templates; remove this check",
        ),
        (
            "unknown-action",
            f"{base}/actions/2/action",
            9,
            20,
            "the actions it recommends: send_thank_you, send_status_inquiry",
        ),
        (
            "unknown-action",
            f"{base}/not_actions/0",
            10,
            21,
            "the actions it recommends: send_thank_you, send_status_inquiry",
        ),
        ("unknown-rule", f"{base}/fired/0", 11, 15, "did you mean 'thank-you'?"),
        ("unknown-value", f"{base}/derived/channel", 12, 26, "did you mean 'email'?"),
        (
            "unknown-derived-fact",
            f"{base}/derived/industry",
            12,
            33,
            "'industry' is an input fact, given under facts:, not a derived one",
        ),
        ("unknown-caution", f"{base}/cautions/0", 13, 18, "did you mean 'final-round'?"),
    ]
    assert all(p["file"] == str(path) for p in case["problems"])


def test_bad_facts_in_a_case_are_located_in_the_test_file(run: Run, policies: Path) -> None:
    path = _write_case(
        policies,
        """\
  - name: typo
    as_of: "2026-03-04"
    facts:
      interview_at: "2026-03-02T10:00"
      industy: finance
    expect:
      fired: [thank-you]
""",
    )
    out = run("test", str(path), code=1).stdout
    assert (
        f"    {path}:6:7: unknown-fact: /cases/0/facts/industy: 'industy' is not a known fact "
        "(did you mean 'industry'?)\n"
    ) in out
    assert "<input>" not in out


def test_as_of_given_twice_is_an_error(run: Run, policies: Path) -> None:
    path = _write_case(
        policies,
        """\
  - name: twice
    as_of: "2026-03-04"
    facts: {interview_at: "2026-03-02T10:00", as_of: "2026-03-20"}
    expect:
      not_actions: [send_status_inquiry]
""",
    )
    out = run("test", str(path), code=1).stdout
    assert (
        f"    {path}:4:47: as-of-twice: /cases/0/facts/as_of: as_of is given twice: "
        "as_of: 2026-03-04 for the case and as_of: 2026-03-20 in its facts; it is not clear "
        "which moment to test (give as_of once: keep 'as_of: 2026-03-04' next to the case's "
        "name and remove as_of from its facts, or the other way round)\n"
    ) in out
    # the same moment written twice is harmless
    path.write_text(
        path.read_text("utf-8").replace('as_of: "2026-03-20"', 'as_of: "2026-03-04T00:00"'),
        "utf-8",
    )
    run("test", str(path))


def _acme(policies: Path) -> Path:
    """A second policy, acme 1.0.0, without tests."""
    (policies / "acme").mkdir()
    target = policies / "acme" / "1.0.0.yaml"
    target.write_text(
        (DEMO / "1.0.0.yaml").read_text("utf-8").replace("name: demo", "name: acme", 1), "utf-8"
    )
    return target


def test_versions_without_tests_are_listed(run: Run, policies: Path) -> None:
    acme = _acme(policies)
    out = run("test").stdout
    assert (
        f"{acme} (acme 1.0.0)\n"
        "  NO TESTS: nothing checks this version; write 1.0.0.tests.yaml next to it "
        "(`followup schema tests` gives its form; `followup new-policy` copies a policy "
        "with its tests)\n"
    ) in out
    assert out.endswith("1 policy version without tests: acme 1.0.0\n")
    data = json.loads(run("test", str(policies), "--format", "json").stdout)
    assert data["untested"] == [
        {
            "policy": "acme 1.0.0",
            "file": str(acme),
            "tests": str(acme.with_name("1.0.0.tests.yaml")),
        }
    ]
    assert data["summary"]["passed"] == 2
    alone = run("test", str(policies / "acme"), code=2)
    assert "acme 1.0.0 has no tests" in alone.output


def test_a_bad_test_file_does_not_stop_the_others(run: Run, policies: Path) -> None:
    shutil.copytree(policies / "demo", policies / "zeta")
    (policies / "zeta" / "1.0.0.yaml").write_text(
        (DEMO / "1.0.0.yaml").read_text("utf-8").replace("name: demo", "name: zeta", 1), "utf-8"
    )
    bad = policies / "demo" / "1.0.0.tests.yaml"
    bad.write_text("cases:\n  - name: x\n    facts: {}\n    expec: {}\n", "utf-8")
    out = run("test", str(policies), code=1).stdout
    assert out.splitlines()[:3] == [
        f"{bad} (not run: 2 problems)",
        f"  {bad}:2:5: missing-key: /cases/0: the key 'expect' is required here",
        f"  {bad}:4:5: unknown-key: /cases/0/expec: 'expec' is not allowed here "
        "(did you mean 'expect'?)",
    ]
    assert "  PASS a week after the interview, ask" in out  # zeta's cases still ran
    assert out.endswith(f"2 passed, 0 failed\n1 test file could not be run: {bad}\n")
    data = json.loads(run("test", str(policies), "--format", "json", code=1).stdout)
    assert data["files"][0]["problems"][0]["code"] == "missing-key"
    assert data["summary"]["files_not_run"] == 1


def test_check_a_test_file(run: Run, policies: Path, tmp_path: Path) -> None:
    path = _tests(policies)
    ok = run("check", str(path)).stdout
    assert ok == f"{path}: ok (a test file; run its cases with `followup test {path}`)\n"
    _write_case(policies, TYPO_NOT)
    out = run("check", str(path), code=1).stdout
    assert out.splitlines()[0] == (
        f"{path}:6:19: unknown-rule: /cases/0/expect/not_fired/0: in case 'too early to ask': "
        "not_fired: demo 1.0.0 has no rule 'final-rond', so this check would always pass "
        "(did you mean 'final-round'?)"
    )
    assert "required" not in out and "not allowed" not in out
    other = tmp_path / "cases.yaml"
    shutil.copy(DEMO / "1.0.0.tests.yaml", other)
    misnamed = run("check", str(other), code=1).stdout
    assert misnamed.startswith(f"{other}:1:1: misnamed-tests: /: this file holds test cases")
