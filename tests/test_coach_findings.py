"""The coach's side of followup, as a coach meets it: a policy of one's own
started from the bundled one, new versions written in one's own folder, test
files and folders named wrongly, JSON reports of invalid facts, and words that
cannot be read as the opposite of the facts."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from followup.cli import main
from followup.engine._policy import bundled_policies_dir

BUNDLED = bundled_policies_dir() / "interview-follow-up"
RELEASED = BUNDLED / "1.0.0.yaml"
RELEASED_SHA = "6a3197dc23a3fe8ee427003bf7ae35ad12942d8eda272452b54b853eaa6891e0"
DEMO = Path(__file__).parent / "audit" / "policies" / "demo"


@pytest.fixture(autouse=True)
def _bundled_untouched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test runs in its own folder, without $FOLLOWUP_POLICIES, and must leave
    the installed policies as they were (whatever it wrote there is removed)."""
    monkeypatch.delenv("FOLLOWUP_POLICIES", raising=False)
    monkeypatch.chdir(tmp_path)
    before = {p for p in bundled_policies_dir().rglob("*") if p.is_file()}
    lock = (BUNDLED / "RELEASES").read_bytes()
    yield
    stray = {p for p in bundled_policies_dir().rglob("*") if p.is_file()} - before
    for p in stray:
        if p.suffix in (".yaml", ".yml") and "__pycache__" not in p.parts:
            p.unlink()
    if (BUNDLED / "RELEASES").read_bytes() != lock:
        (BUNDLED / "RELEASES").write_bytes(lock)
    assert hashlib.sha256(RELEASED.read_bytes()).hexdigest() == RELEASED_SHA
    assert not [p for p in stray if p.suffix in (".yaml", ".yml")], stray


def run(*args: str, code: int | None = 0, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _fill_changelog(path: Path) -> None:
    text = path.read_text("utf-8")
    assert "TODO: say what" in text
    text = text.replace(
        '"TODO: say what you changed and why, citing the guidance."', '"Our own timings (G3)."'
    ).replace('"TODO: say what changed and why, citing the guidance."', '"Shorter waits (G3)."')
    path.write_text(text, "utf-8")


# ------------------------------------------------------ 1. new versions, in one's own folder


def test_new_version_of_the_bundled_policy_goes_to_the_users_folder(tmp_path: Path) -> None:
    mine = tmp_path / "mypol"
    mine.mkdir()
    out = run("--policies-dir", "mypol", "new-version", "interview-follow-up", "--patch").stdout
    folder = Path("mypol") / "interview-follow-up"
    assert out.splitlines() == [
        f"created {folder / '1.0.1.yaml'} (version 1.0.1, a draft copied from 1.0.0.yaml)",
        f"created {folder / '1.0.1.tests.yaml'}",
        f"copied 1.0.0.yaml, 1.0.0.tests.yaml, RELEASES from {BUNDLED}: {folder} now holds "
        "the whole policy",
        "edit it, describe the change in its changelog, then: "
        "followup --policies-dir mypol release interview-follow-up 1.0.1",
    ]
    assert _files(mine / "interview-follow-up") == [
        "1.0.0.tests.yaml",
        "1.0.0.yaml",
        "1.0.1.tests.yaml",
        "1.0.1.yaml",
        "RELEASES",
    ]
    assert (mine / "interview-follow-up" / "1.0.0.yaml").read_bytes() == RELEASED.read_bytes()
    assert not (BUNDLED / "1.0.1.yaml").exists()
    # the copy is found first, and released there
    listed = json.loads(run("--policies-dir", "mypol", "policies", "--format", "json").stdout)
    paths = {(p["version"], p["status"]): p["path"] for p in listed["policies"]}
    assert paths[("1.0.0", "released")] == str(folder / "1.0.0.yaml")
    _fill_changelog(mine / "interview-follow-up" / "1.0.1.yaml")
    done = run("--policies-dir", "mypol", "release", "interview-follow-up", "1.0.1").stdout
    assert done.startswith("released interview-follow-up 1.0.1 (sha256 ")
    lock = (mine / "interview-follow-up" / "RELEASES").read_text("utf-8")
    assert [line.split()[0] for line in lock.splitlines() if line[0].isdigit()] == [
        "1.0.0",
        "1.0.1",
    ]


def test_new_version_follows_followup_policies_and_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "envpol").mkdir()
    monkeypatch.setenv("FOLLOWUP_POLICIES", "envpol")
    out = run("new-version", "interview-follow-up").stdout
    assert (tmp_path / "envpol" / "interview-follow-up" / "1.1.0.yaml").is_file()
    assert out.endswith("then: followup release interview-follow-up 1.1.0\n")
    # --into a folder followup does not search: the next step says how to name it
    out = run("new-version", "interview-follow-up", "--major", "--into", "other").stdout
    assert (tmp_path / "other" / "interview-follow-up" / "2.0.0.yaml").is_file()
    assert out.endswith("followup --policies-dir other release interview-follow-up 2.0.0\n")


def test_new_version_of_the_bundled_policy_needs_a_folder() -> None:
    refused = run("new-version", "interview-follow-up", "--patch", code=2)
    assert "is installed with followup" in refused.stderr
    assert "--into DIR" in refused.stderr and "--policies-dir DIR" in refused.stderr
    assert not (BUNDLED / "1.0.1.yaml").exists()


# ------------------------------------------------------------- 2. a policy of one's own


def test_new_policy_from_the_bundled_one_the_whole_path(tmp_path: Path) -> None:
    (tmp_path / "mypol").mkdir()
    out = run("--policies-dir", "mypol", "new-policy", "acme").stdout
    acme = Path("mypol") / "acme"
    assert out.splitlines() == [
        f"created {acme / '1.0.0.yaml'} (acme 1.0.0, a draft copied from interview-follow-up 1.0.0)",
        f"created {acme / '1.0.0.tests.yaml'} (its tests, now testing acme)",
        f"next: edit {acme / '1.0.0.yaml'}, and say in its changelog what you changed and why;",
        f"  followup check {acme / '1.0.0.yaml'}",
        f"  followup --policies-dir mypol test {acme}",
        "  followup --policies-dir mypol release acme 1.0.0",
    ]
    assert _files(tmp_path / acme) == ["1.0.0.tests.yaml", "1.0.0.yaml"]  # no RELEASES
    source = yaml.safe_load(RELEASED.read_text("utf-8"))
    copy = yaml.safe_load((tmp_path / acme / "1.0.0.yaml").read_text("utf-8"))
    meta = copy["policy"]
    assert (meta["name"], meta["version"]) == ("acme", "1.0.0")
    assert [e["version"] for e in meta["changelog"]] == ["1.0.0"]
    assert meta["changelog"][0]["changes"][0] == (
        f"Started from interview-follow-up 1.0.0 (sha256 {RELEASED_SHA[:12]})."
    )
    assert {k: v for k, v in copy.items() if k != "policy"} == {
        k: v for k, v in source.items() if k != "policy"
    }
    # comments are kept, but for the leading ones, which described the policy copied
    text = (tmp_path / acme / "1.0.0.yaml").read_text("utf-8")
    assert "# ------------------------------------------------------------- channel" in text
    assert text.startswith("# acme: started from interview-follow-up 1.0.0 (sha256 ")
    assert run("check", str(acme / "1.0.0.yaml")).stdout == f"{acme / '1.0.0.yaml'}: ok\n"
    assert run("test", str(acme)).stdout.endswith("54 passed, 0 failed\n")
    todo = run("--policies-dir", "mypol", "release", "acme", "1.0.0", code=1).stderr
    assert "changelog-todo" in todo
    _fill_changelog(tmp_path / acme / "1.0.0.yaml")
    assert run("--policies-dir", "mypol", "release", "acme", "1.0.0").stdout.startswith(
        "released acme 1.0.0 (sha256 "
    )
    assert "# policy: acme\n" in (tmp_path / acme / "RELEASES").read_text("utf-8")
    run("--policies-dir", "mypol", "new-version", "acme")
    assert (tmp_path / acme / "1.1.0.yaml").is_file()


def test_new_policy_points_the_tests_at_the_copy(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "pol" / "demo")
    tests = tmp_path / "pol" / "demo" / "1.0.0.tests.yaml"
    tests.write_text(
        "# The tests of demo 1.0.0\npolicy: demo@1.0.0\n" + tests.read_text("utf-8"), "utf-8"
    )
    out = run("--policies-dir", "pol", "new-policy", "acme", "--from", "demo", "--format", "json")
    data = json.loads(out.stdout)
    assert data["from"] == {"name": "demo", "version": "1.0.0"}
    copied = (tmp_path / "pol" / "acme" / "1.0.0.tests.yaml").read_text("utf-8")
    assert copied.startswith("# The tests of acme 1.0.0\npolicy: acme@1.0.0\n")
    assert run("--policies-dir", "pol", "test", "pol/acme").stdout.endswith("2 passed, 0 failed\n")


def test_new_policy_refusals(tmp_path: Path) -> None:
    nowhere = run("new-policy", "acme", code=2).stderr
    assert "--into DIR" in nowhere
    bad = run("new-policy", "Acme Coaching", "--into", "pol", code=2).stderr
    assert "'Acme Coaching' cannot name a policy" in bad
    taken = run("new-policy", "interview-follow-up", "--into", "pol", code=1).stderr
    assert "policy-exists" in taken and "followup new-version interview-follow-up" in taken
    assert not (tmp_path / "pol" / "interview-follow-up").exists()


def test_new_policy_of_a_policy_written_in_flow_style(tmp_path: Path) -> None:
    from followup.engine._releases import new_policy

    text = (DEMO / "1.0.0.yaml").read_text("utf-8")
    start = text.index("policy:")
    end = text.index("\nparameters:")
    flow = (
        'policy: {name: demo, version: "1.0.0", title: Demo, description: D, '
        'source: {title: S}, changelog: [{version: "1.0.0", changes: [First.]}]}\n'
    )
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "demo.yaml").write_text(text[:start] + flow + text[end:], "utf-8")
    made = new_policy("acme", "flow/demo.yaml", [], tmp_path / "pol")
    data = yaml.safe_load(made.target.read_text("utf-8"))
    assert data["policy"]["name"] == "acme"
    assert data["policy"]["changelog"][0]["version"] == "1.0.0"
    assert run("check", str(made.target)).exit_code == 0


def _copied_by_hand(root: Path, rename: bool = True) -> Path:
    acme = root / "acme"
    shutil.copytree(BUNDLED, acme)
    if rename:
        path = acme / "1.0.0.yaml"
        path.write_text(
            path.read_text("utf-8").replace("name: interview-follow-up", "name: acme", 1), "utf-8"
        )
    return acme


@pytest.mark.parametrize("rename", [True, False])
def test_a_folder_copied_by_hand_says_whose_releases_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rename: bool
) -> None:
    acme = _copied_by_hand(tmp_path / "policies", rename)
    monkeypatch.setenv("FOLLOWUP_POLICIES", "policies")
    way_out = (
        "this folder's RELEASES was copied from interview-follow-up: it records the releases "
        "of interview-follow-up, not of acme (delete policies/acme/RELEASES to start acme's own "
        "history: your files stay as they are, drafts until you release them)"
    )
    check = run("check", code=1).stdout
    assert f"policies/acme/1.0.0.yaml:1:1: releases-copied: /: {way_out}\n" in check
    assert "followup new-version acme" not in check
    for args in (("new-version", "acme", "--minor"), ("release", "acme", "1.0.0")):
        said = run(*args, code=1).stderr
        assert way_out in said, args
        assert "already-released" not in said and "release one first" not in said
    listed = run("policies").stdout
    assert way_out in listed and "RELEASES copied from interview-follow-up" in listed
    as_json = json.loads(run("release", "acme", "1.0.0", "--format", "json", code=1).stdout)
    assert (as_json["released"], as_json["problems"][0]["code"]) == (False, "releases-copied")
    (acme / "RELEASES").unlink()  # the way out works
    if not rename:
        assert "set name: acme" in run("check", code=1).stdout
        path = acme / "1.0.0.yaml"
        path.write_text(
            path.read_text("utf-8").replace("name: interview-follow-up", "name: acme", 1), "utf-8"
        )
    run("check")
    assert run("release", "acme", "1.0.0").stdout.startswith("released acme 1.0.0 ")


def test_a_released_policy_of_ones_own_copied_elsewhere(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "a" / "demo")
    run("--policies-dir", "a", "release", "demo", "1.0.0")
    shutil.copytree(tmp_path / "a" / "demo", tmp_path / "b" / "acme")
    path = tmp_path / "b" / "acme" / "1.0.0.yaml"
    path.write_text(path.read_text("utf-8").replace("name: demo", "name: acme", 1), "utf-8")
    said = run("--policies-dir", "b", "new-version", "acme", code=1).stderr
    assert "RELEASES was copied from demo" in said
    assert "delete b/acme/RELEASES to start acme's own history" in said


# ------------------------------------------------------------ 3. test files named otherwise


def _acme_with_yml_tests(root: Path) -> Path:
    shutil.copytree(DEMO, root / "acme")
    path = root / "acme" / "1.0.0.yaml"
    path.write_text(path.read_text("utf-8").replace("name: demo", "name: acme", 1), "utf-8")
    (root / "acme" / "1.0.0.tests.yaml").rename(root / "acme" / "1.0.0.tests.yml")
    return root / "acme"


def test_a_tests_yml_file_is_said_to_need_renaming(tmp_path: Path) -> None:
    acme = _acme_with_yml_tests(tmp_path / "pol")
    said = (
        "pol/acme/1.0.0.tests.yml (not run: 1 problem)\n"
        "  pol/acme/1.0.0.tests.yml: misnamed-tests: /: 1.0.0.tests.yml is not read: a test file "
        "is named <version>.tests.yaml (.tests, then .yaml) (rename it to 1.0.0.tests.yaml)\n"
    )
    everything = run("--policies-dir", "pol", "test", code=1).stdout
    assert said in everything and "NO TESTS" not in everything
    for target in ("pol/acme", "pol/acme/1.0.0.yaml"):
        out = run("test", target, code=1).stdout
        assert out.startswith(said), target
        assert out.endswith("1 test file could not be run: pol/acme/1.0.0.tests.yml\n")
    release = run("--policies-dir", "pol", "release", "acme", "1.0.0", code=1).stderr
    assert "1.0.0.tests.yml is not read, for its name (rename 1.0.0.tests.yml to " in release
    # named on the command line, it runs, and is said to need renaming
    named = run("test", str(acme / "1.0.0.tests.yml"))
    assert named.stdout.endswith("2 passed, 0 failed\n")
    assert "rename it to 1.0.0.tests.yaml" in named.stderr


def test_a_loose_file_of_cases_runs_when_named(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    cases = (DEMO / "1.0.0.tests.yaml").read_text("utf-8")
    (loose / "mytests.yaml").write_text(cases, "utf-8")
    out = run("test", "loose/mytests.yaml", code=1).stdout
    assert out.startswith(
        "loose/mytests.yaml (not run: 1 problem)\n"
        "  loose/mytests.yaml:1:1: policy-not-found: /: this test file does not say which policy "
        "it tests: it has no 'policy:' and is not named after a policy file next to it (add "
        "'policy: NAME@VERSION' at its top"
    )
    shutil.copytree(DEMO, tmp_path / "pol" / "demo")
    (loose / "mytests.yaml").write_text("policy: demo@1.0.0\n" + cases, "utf-8")
    ran = run("--policies-dir", "pol", "test", "loose/mytests.yaml").stdout
    assert ran.startswith("loose/mytests.yaml (demo 1.0.0)\n")
    assert ran.endswith("2 passed, 0 failed\n")


# ------------------------------------------------------------ 4. folders that do not exist


def test_a_misspelt_policies_folder_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policies").mkdir()
    given = run("--policies-dir", "polices", "check", code=2).stderr
    assert (
        "Error: Invalid value for '--policies-dir': the folder 'polices' does not exist in "
        f"{tmp_path} (did you mean 'policies'?)"
    ) in given
    monkeypatch.setenv("FOLLOWUP_POLICIES", "polices")
    env = run("check", code=2).stderr
    assert "Error: FOLLOWUP_POLICIES names a folder of policies, but the folder 'polices'" in env
    assert "(did you mean 'policies'?)" in env


def test_no_policy_named_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "facts.yaml").write_text("interview_at: 2026-03-02\n", "utf-8")
    out = run("--policies-dir", "policies", "evaluate", "facts.yaml", "--policy", "demo", code=2)
    assert out.stderr.strip() == (
        "Error: no policy named 'demo' (known: interview-follow-up); folders searched: "
        f"policies (--policies-dir), {bundled_policies_dir()} (bundled)"
    )
    alone = run("evaluate", "facts.yaml", "--policy", "demo", code=2).stderr
    assert "only the policies installed with followup were searched" in alone


# ---------------------------------------------------------- 5. JSON reports of what stops


def test_evaluate_json_reports_invalid_facts_on_stdout() -> None:
    out = run(
        "evaluate",
        "-",
        "--format",
        "json",
        code=1,
        input="interview_at: yesterday\nindusty: finance\n",
    )
    report = json.loads(out.stdout)
    assert (report["ok"], report["stage"]) == (False, "facts")
    assert [(p["code"], p["line"], p["column"]) for p in report["problems"]] == [
        ("invalid-fact", 1, 15),
        ("unknown-fact", 2, 1),
    ]
    text = run("evaluate", "-", code=1, input="interview_at: yesterday\n")
    assert text.stdout == "" and text.stderr.startswith("<stdin>:1:15: invalid-fact: ")


def test_evaluate_json_reports_an_invalid_policy(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("", "utf-8")
    out = run("evaluate", "-", "--policy", "empty.yaml", "--format", "json", code=1, input="{}")
    report = json.loads(out.stdout)
    assert report["stage"] == "policy" and report["problems"][0]["code"] == "empty"


# ------------------------------------------------------------ 6. why a rule did not fire


def test_evaluate_says_what_a_rule_needed_and_what_was_so() -> None:
    facts = (
        "interview_at: 2025-04-15T10:00\nthank_you_sent_at: 2025-04-17T13:30\nstage: final\n"
        "status_inquiries_sent: 1\n"
    )
    lines = run("evaluate", "-", "--as-of", "2025-04-20", input=facts).stdout.splitlines()
    for line in (
        '  - thank-you-no-status-question: needs "thank_you_sent_at is missing", which is '
        "false (thank_you_sent_at is 2025-04-17 13:30)",
        '  - stage-conflict: needs "more_rounds_expected is true", which is unknown '
        "(more_rounds_expected has no value)",
        '  - channel-preferred: needs "preferred_channel is present", which is false '
        "(preferred_channel has no value)",
        '  - enough-enquiries: needs "status_inquiries_sent is at least '
        'params.max_status_inquiries", which is false (status_inquiries_sent is 1; '
        "params.max_status_inquiries is 2)",
        '  - stated-date-known: needs "any of: stated_decision_by is present; '
        'stated_timeline_days is present", which is false (stated_decision_by has no value; '
        "stated_timeline_days has no value)",
    ):
        assert line in lines
    assert not [x for x in lines if "not met:" in x]


# ------------------------------------- 7. messages point at what an installed copy has


def test_messages_name_commands_not_files_of_the_repository(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "pol" / "acme")
    path = tmp_path / "pol" / "acme" / "1.0.0.yaml"
    path.write_text(path.read_text("utf-8").replace("name: demo", "name: acme", 1), "utf-8")
    (tmp_path / "pol" / "acme" / "1.0.0.tests.yaml").unlink()
    listed = run("--policies-dir", "pol", "test").stdout
    assert (
        "  NO TESTS: nothing checks this version; write 1.0.0.tests.yaml next to it "
        "(`followup schema tests` gives its form; `followup new-policy` copies a policy with "
        "its tests)\n"
    ) in listed
    alone = run("test", "pol/acme", code=2).stderr
    release = run("--policies-dir", "pol", "release", "acme", "1.0.0", code=1).stderr
    assert "`followup schema tests` gives the form" in release
    (tmp_path / "pol" / "acme" / "1.0.0.tests.yaml").write_text("", "utf-8")
    empty = run("test", "pol/acme", code=1).stdout
    assert "start it with 'cases:' and a list of cases" in empty
    for said in (listed, alone, release, empty):
        assert "docs/" not in said


def test_every_command_of_the_coach_has_examples() -> None:
    for name in ("check", "evaluate", "schema", "test", "new-policy", "new-version", "release"):
        assert "\nExamples:\n" in run(name, "--help").stdout.replace("  Examples:", "Examples:")
    assert "\nExamples:\n" in run("policies", "--help").stdout.replace("  Examples:", "Examples:")
