"""Releases, new versions, the policies listing and `followup test`."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .conftest import Run


def _release(run: Run, policies: Path) -> str:
    out = run("release", "demo", "1.0.0")
    digest = hashlib.sha256((policies / "demo" / "1.0.0.yaml").read_bytes()).hexdigest()
    assert out.stdout == f"released demo 1.0.0 (sha256 {digest}); 2 test cases passed\n"
    return digest


def test_release_records_the_hash(run: Run, policies: Path) -> None:
    digest = _release(run, policies)
    lock = (policies / "demo" / "RELEASES").read_text("utf-8")
    assert lock.splitlines()[-1].split()[:2] == ["1.0.0", digest]
    again = run("release", "demo", "1.0.0", code=1)
    assert "already-released" in again.output


def test_policies_listing(run: Run, policies: Path) -> None:
    before = json.loads(run("policies", "--format", "json").stdout)["policies"]
    demo = next(p for p in before if p["name"] == "demo")
    assert list(demo) == ["name", "version", "path", "sha256", "status", "released", "tests"]
    assert demo["status"] == "draft"
    _release(run, policies)
    text = run("policies").stdout
    line = next(x for x in text.splitlines() if x.startswith("demo 1.0.0"))
    assert line.startswith("demo 1.0.0  released ")
    assert f"  tests  sha256 {demo['sha256'][:12]}  " in line


def test_new_version_copies_the_release(run: Run, policies: Path) -> None:
    refused = run("new-version", "demo", code=2)
    assert "has no released version to copy" in refused.output
    _release(run, policies)
    out = run("new-version", "demo")
    target = policies / "demo" / "1.1.0.yaml"
    assert out.stdout.splitlines()[0] == (
        f"created {target} (version 1.1.0, a draft copied from 1.0.0.yaml)"
    )
    text = target.read_text("utf-8")
    assert 'version: "1.1.0"' in text
    assert '- version: "1.1.0"' in text and "TODO: say what changed" in text
    assert (policies / "demo" / "1.1.0.tests.yaml").is_file()
    run("check", str(target))
    assert run("new-version", "demo", code=1).output.count("version-exists") == 1
    run("new-version", "demo", "--major")
    assert (policies / "demo" / "2.0.0.yaml").is_file()


def test_a_changed_release_is_refused_everywhere(run: Run, policies: Path, facts: Path) -> None:
    _release(run, policies)
    released = policies / "demo" / "1.0.0.yaml"
    released.write_bytes(released.read_bytes() + b"# an innocent comment\n")
    check = run("check", str(released), code=1)
    assert "released-changed" in check.output
    assert (
        "copy it to 1.1.0 and edit the copy: "
        f"`followup --policies-dir {policies} new-version demo --minor`" in check.output
    )
    evaluate = run("evaluate", str(facts), "--policy", "demo@1.0.0", code=1)
    assert "released-changed" in evaluate.output
    test = run("test", str(policies / "demo"), code=1)
    assert "released-changed" in test.output
    listed = json.loads(run("policies", "--format", "json").stdout)["policies"]
    assert next(p for p in listed if p["name"] == "demo")["status"] == "changed"
    # with the next version already drafted, the fix is to edit that draft
    (policies / "demo" / "1.1.0.yaml").write_bytes(released.read_bytes())
    again = run("check", str(released), code=1).output
    assert "make the change in 1.1.0.yaml, which already exists" in again
    assert "followup new-version" not in again


FAILING = """\
cases:
  - name: asks on day three
    as_of: "2026-03-05"
    facts: {interview_at: "2026-03-02T10:00", status_inquiries_sent: 0}
    expect:
      actions: [{action: send_status_inquiry}]
      derived: {channel: phone}
  - name: thanks are overdue
    as_of: "2026-03-05"
    facts: {interview_at: "2026-03-02T10:00"}
    expect:
      actions: [{action: send_thank_you, status: overdue}]
"""


def test_test_command_text(run: Run, policies: Path) -> None:
    tests = policies / "demo" / "1.0.0.tests.yaml"
    ok = run("test", str(tests), "--coverage")
    assert ok.stdout == (
        f"{tests} (demo 1.0.0)\n"
        "  PASS a week after the interview, ask\n"
        "  PASS too early to ask\n"
        "Coverage of demo@1.0.0: 4 of 5 rules (80%)\n"
        "  never fired: final-round\n"
        "2 passed, 0 failed\n"
    )
    low = run("test", str(tests), "--min-coverage", "90", code=1)
    assert low.stdout.endswith(
        "2 passed, 0 failed\ncoverage of demo@1.0.0 is 80%, below --min-coverage 90%\n"
    )
    tests.write_text(FAILING, "utf-8")
    bad = run("test", str(policies / "demo" / "1.0.0.yaml"), code=1)
    assert bad.stdout == (
        f"{tests} (demo 1.0.0)\n"
        f"  FAIL asks on day three ({tests}:2)\n"
        "    actions[0]: no recommendation matches send_status_inquiry (the action is not recommended)\n"
        '      - expected: {"action": "send_status_inquiry"}\n'
        '      + actual:   ["send_thank_you"]\n'
        "    derived.channel: derived fact channel is 'email', expected 'phone'\n"
        '      - expected: "phone"\n'
        '      + actual:   "email"\n'
        "  PASS thanks are overdue\n"
        "1 passed, 1 failed\n"
    )


def test_test_command_json(run: Run, policies: Path) -> None:
    out = run("test", str(policies / "demo"), "--format", "json", "--coverage")
    data = json.loads(out.stdout)
    assert list(data) == ["files", "summary", "untested", "coverage", "min_coverage"]
    assert data["summary"] == {"passed": 2, "failed": 0, "total": 2, "files_not_run": 0}
    assert data["untested"] == []
    assert list(data["files"][0]) == ["file", "policy", "cases"]
    assert list(data["files"][0]["cases"][0]) == [
        "name",
        "line",
        "passed",
        "mismatches",
        "problems",
    ]
    assert list(data["coverage"][0]) == [
        "policy",
        "rules",
        "covered",
        "percent",
        "never_fired",
        "never_failed",
    ]


def test_bundled_policy_tests_pass(run: Run) -> None:
    from followup.engine._policy import bundled_policies_dir

    out = run("test", str(bundled_policies_dir() / "interview-follow-up"))
    assert out.stdout.splitlines()[-1].endswith(" passed, 0 failed")


def test_schema_tests(run: Run) -> None:
    assert json.loads(run("schema", "tests").stdout)["title"]


def test_a_bare_name_means_the_highest_released_version(
    run: Run, policies: Path, facts: Path
) -> None:
    def used(*ref: str) -> str:
        out = run("evaluate", str(facts), *ref, "--format", "json")
        return str(json.loads(out.stdout)["policy"]["version"])

    assert used("--policy", "demo") == "1.0.0"  # nothing released yet: the highest draft
    _release(run, policies)
    run("new-version", "demo")
    assert used("--policy", "demo") == "1.0.0"  # not the draft 1.1.0
    assert used("--policy", "demo@1.1.0") == "1.1.0"
    draft = policies / "demo" / "1.1.0.yaml"
    draft.write_text(draft.read_text("utf-8").replace("TODO: say", "Waits longer; say", 1))
    run("release", "demo", "1.1.0")
    assert used("--policy", "demo") == "1.1.0"


def test_release_refuses_a_changelog_left_unwritten(run: Run, policies: Path) -> None:
    _release(run, policies)
    run("new-version", "demo")
    draft = policies / "demo" / "1.1.0.yaml"
    refused = run("release", "demo", "1.1.0", code=1)
    assert "changelog-todo: /policy/changelog/0/changes/0: the changelog of 1.1.0 still says" in (
        refused.output
    )
    assert f"{draft}:" in refused.output
    text = draft.read_text("utf-8")
    # the entry for 1.1.0 removed: the version says nothing of what changed
    without = re.sub(r'(?m)^( *)- version: "1\.1\.0"\n(\1  .*\n)+', "", text, count=1)
    assert without != text
    draft.write_text(without, "utf-8")
    missing = run("release", "demo", "1.1.0", code=1)
    assert "changelog-missing-version" in missing.output
    assert "RELEASES" not in missing.output
    assert "1.1.0" not in (policies / "demo" / "RELEASES").read_text("utf-8")


def test_check_finds_changelog_dates_and_versions_that_cannot_be(run: Run, policies: Path) -> None:
    path = policies / "demo" / "1.0.0.yaml"
    text = path.read_text("utf-8")
    entry = re.search(r'(?m)^( *)- version: "1\.0\.0"\n(\1  .*\n)+', text)
    assert entry is not None
    dated = re.sub(r'date: "[0-9-]+"', 'date: "2026-02-30"', entry.group(0))
    assert dated != entry.group(0)
    path.write_text(text.replace(entry.group(0), dated + entry.group(0), 1), "utf-8")
    out = run("check", str(path), code=1).output
    assert (
        "invalid-date: /policy/changelog/0/date: changelog entry 1.0.0 has date '2026-02-30'" in out
    )
    assert "duplicate-changelog-version: /policy/changelog/1/version:" in out


def test_release_shows_what_each_failed_case_expected(run: Run, policies: Path) -> None:
    tests = policies / "demo" / "1.0.0.tests.yaml"
    text = tests.read_text("utf-8")
    tests.write_text(text.replace("channel: email}", "channel: phone}", 1), "utf-8")
    out = run("release", "demo", "1.0.0", code=1)
    assert (
        f"{tests} (demo 1.0.0)\n  FAIL a week after the interview, ask ({tests}:2)\n" in out.stderr
    )
    assert "    actions[0]: no recommendation matches send_status_inquiry\n" in out.stderr
    assert '"phone"}\n      + actual:   [{"action": "send_status_inquiry", ' in out.stderr
    assert out.stderr.endswith("not released: 1 of 2 test cases failed\n")
    assert not (policies / "demo" / "RELEASES").exists()


def test_misnamed_policy_files_are_reported_not_skipped(
    run: Run, policies: Path, facts: Path
) -> None:
    demo = policies / "demo"
    text = (demo / "1.0.0.yaml").read_text("utf-8")
    for name in ("1.1.yaml", "1.2.0.yml", "v1.3.0.yaml", "1.0.0.tests.yml"):
        (demo / name).write_text(text, "utf-8")
    checked = run("check", code=1).stdout
    for name, fix in (
        ("1.1.yaml", "1.1.0.yaml"),
        ("1.2.0.yml", "1.2.0.yaml"),
        ("v1.3.0.yaml", "1.3.0.yaml"),
        ("1.0.0.tests.yml", "1.0.0.tests.yaml"),
    ):
        assert f"{demo / name}: misnamed-policy-file: /: {name} is not read: " in checked
        assert f"(rename it to {fix})" in checked
    listed = json.loads(run("policies", "--format", "json").stdout)
    assert sorted(Path(s["file"]).name for s in listed["skipped"]) == [
        "1.0.0.tests.yml",
        "1.1.yaml",
        "1.2.0.yml",
        "v1.3.0.yaml",
    ]
    asked = run("evaluate", str(facts), "--policy", "demo@1.2.0", code=2).output
    assert "policy 'demo' has no version 1.2.0 (versions: 1.0.0); " in asked
    assert "(rename it to 1.2.0.yaml)" in asked


def test_new_version_and_release_report_json(run: Run, policies: Path) -> None:
    done = json.loads(run("release", "demo", "1.0.0", "--format", "json").stdout)
    assert done["released"] is True and done["cases"] == 2 and done["problems"] == []
    made = json.loads(run("new-version", "demo", "--format", "json").stdout)
    assert made == {
        "name": "demo",
        "version": "1.1.0",
        "file": str(policies / "demo" / "1.1.0.yaml"),
        "copied_from": str(policies / "demo" / "1.0.0.yaml"),
        "tests": str(policies / "demo" / "1.1.0.tests.yaml"),
    }
    todo = json.loads(run("release", "demo", "1.1.0", "--format", "json", code=1).stdout)
    assert todo["released"] is False
    assert [p["code"] for p in todo["problems"]] == ["changelog-todo"]
