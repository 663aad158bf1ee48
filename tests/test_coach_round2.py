"""The coach's side, second round: folders that are never written, advice that
leads somewhere, a policy's own folder given as a folder of policies, the
README's sequence as written, copies whose comments fit, and files of the
wrong kind said to be so."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import followup.cli as cli
import followup.engine._policy as policy_module
from followup.cli import main
from followup.engine._policy import bundled_policies_dir

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = bundled_policies_dir() / "interview-follow-up"
RELEASED = BUNDLED / "1.0.0.yaml"
RELEASED_SHA = "6a3197dc23a3fe8ee427003bf7ae35ad12942d8eda272452b54b853eaa6891e0"
FACTS = ROOT / "examples" / "final-round-finance.yaml"


@pytest.fixture(autouse=True)
def _own_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test runs in its own folder, without $FOLLOWUP_POLICIES; the installed
    policies stay as they were."""
    monkeypatch.delenv("FOLLOWUP_POLICIES", raising=False)
    monkeypatch.chdir(tmp_path)
    before = sorted(p for p in bundled_policies_dir().rglob("*") if "__pycache__" not in p.parts)
    yield
    after = sorted(p for p in bundled_policies_dir().rglob("*") if "__pycache__" not in p.parts)
    assert after == before
    assert hashlib.sha256(RELEASED.read_bytes()).hexdigest() == RELEASED_SHA


def run(*args: str, code: int | None = 0) -> Result:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def _fill_changelog(path: Path) -> None:
    text = path.read_text("utf-8")
    for todo in ("TODO: say what you changed and why", "TODO: say what changed and why"):
        text = text.replace(f"{todo}, citing the guidance.", "Our own timings (G3).")
    path.write_text(text, "utf-8")


# ------------------------------------------------ 1. the installed policies are never written


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the installed policies, in tmp_path, so that nothing a
    failing test writes lands in the repository."""
    folder = tmp_path / "site" / "policies"
    shutil.copytree(BUNDLED, folder / "interview-follow-up")
    monkeypatch.setattr(policy_module, "bundled_policies_dir", lambda: folder)
    monkeypatch.setattr(cli, "bundled_policies_dir", lambda: folder)
    return folder


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*"))


@pytest.mark.parametrize("through_link", [False, True])
def test_the_installed_policies_are_never_written(
    installed: Path, tmp_path: Path, through_link: bool
) -> None:
    given = installed
    if through_link:
        given = tmp_path / "link"
        given.symlink_to(installed, target_is_directory=True)
    before = _all_files(installed)
    for args, option in (
        (("new-policy", "zz", "--into", str(given)), "--into"),
        (("new-version", "interview-follow-up", "--into", str(given)), "--into"),
        (("--policies-dir", str(given), "new-policy", "zz2"), "--policies-dir"),
        (("--policies-dir", str(given), "new-version", "interview-follow-up"), "--policies-dir"),
    ):
        said = run(*args, code=2).stderr
        assert f"{option} names {given}, a folder inside followup's installed package" in said
        assert "never written" in said and "Traceback" not in said
    assert _all_files(installed) == before


def test_followup_policies_naming_the_installed_policies_is_refused(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOLLOWUP_POLICIES", str(installed))
    before = _all_files(installed)
    said = run("new-policy", "zz", code=2).stderr
    assert "$FOLLOWUP_POLICIES names" in said and "never written" in said
    assert _all_files(installed) == before


# ------------------------------------------------- 2. a RELEASES copied along: the way out


def _copied_by_hand(tmp_path: Path) -> Path:
    acme2 = tmp_path / "hand" / "acme2"
    shutil.copytree(BUNDLED, acme2)
    path = acme2 / "1.0.0.yaml"
    path.write_text(
        path.read_text("utf-8").replace("name: interview-follow-up", "name: acme2", 1), "utf-8"
    )
    return acme2


def test_advice_for_a_copied_releases_leads_out(tmp_path: Path) -> None:
    acme2 = _copied_by_hand(tmp_path)
    said = run("--policies-dir", "hand", "check", code=1).stdout
    assert "delete hand/acme2/RELEASES to start acme2's own history" in said
    assert "new-policy acme2" not in said  # it would meet the policy that exists
    listed = run("--policies-dir", "hand", "policies").stdout
    assert re.search(
        r"^acme2 1\.0\.0  RELEASES copied from interview-follow-up  tests", listed, re.M
    )
    assert "CHANGED since release" not in listed
    # new-policy with the same name: its advice does not lead back to new-version
    taken = run("--policies-dir", "hand", "new-policy", "acme2", code=1).stderr
    assert "policy-exists" in taken
    assert "new-version" not in taken
    assert "delete hand/acme2/RELEASES" in taken
    # the way out works: the copy becomes a draft of acme2's own
    (acme2 / "RELEASES").unlink()
    run("--policies-dir", "hand", "check")
    assert re.search(
        r"^acme2 1\.0\.0  draft", run("--policies-dir", "hand", "policies").stdout, re.M
    )
    # and then the name is taken by a draft: edit it
    taken = run("--policies-dir", "hand", "new-policy", "acme2", code=1).stderr
    assert "acme2 is not released yet: edit its draft hand/acme2/1.0.0.yaml" in taken


# ---------------------------------------------- 3. a policy's own folder as a folder of policies


def test_a_policys_own_folder_given_as_a_folder_of_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("new-policy", "acme", "--into", "my-policies")
    said = run("--policies-dir", "my-policies/acme", "check", code=2).stderr
    assert (
        "my-policies/acme holds the versions of policy acme itself; give the folder that "
        "holds it: --policies-dir my-policies"
    ) in said
    said = run("check", "--policies-dir", "my-policies/acme", code=2).stderr
    assert "holds the versions of policy acme itself" in said
    monkeypatch.setenv("FOLLOWUP_POLICIES", "my-policies/acme")
    said = run("check", code=2).stderr
    assert (
        "my-policies/acme holds the versions of policy acme itself; give the folder that "
        "holds it: FOLLOWUP_POLICIES=my-policies"
    ) in said
    monkeypatch.setenv("FOLLOWUP_POLICIES", "my-policies")
    run("check")
    # --into a policy's own folder would write a level too deep
    for args in (("new-policy", "zz"), ("new-version", "interview-follow-up")):
        said = run(*args, "--into", "my-policies/acme", code=2).stderr
        assert "holds the versions of policy acme itself" in said
        assert "--into my-policies" in said
    assert sorted(p.name for p in (tmp_path / "my-policies" / "acme").iterdir()) == [
        "1.0.0.tests.yaml",
        "1.0.0.yaml",
    ]


# ------------------------------------------------------- 4. the README's sequence, as written


def test_the_readme_sequence_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    steps = [
        "followup new-policy acme --into my-policies",
        "followup --policies-dir my-policies release acme 1.0.0",
        "followup --policies-dir my-policies new-version acme --minor",
        "followup --policies-dir my-policies diff acme@1.0.0 acme@1.1.0",
    ]
    at = [readme.index(f".venv/bin/{s}") for s in steps]
    assert at == sorted(at)
    assert "interview-follow-up@1.1.0" not in readme
    run("new-policy", "acme", "--into", "my-policies")
    # too early: the advice carries the folder and says what stands in the way
    early = run("--policies-dir", "my-policies", "new-version", "acme", "--minor", code=2).stderr
    assert "replace the TODO in its changelog" in early
    assert "`followup --policies-dir my-policies release acme 1.0.0`" in early
    _fill_changelog(tmp_path / "my-policies" / "acme" / "1.0.0.yaml")
    run("--policies-dir", "my-policies", "release", "acme", "1.0.0")
    made = run("--policies-dir", "my-policies", "new-version", "acme", "--minor").stdout
    assert made.endswith("followup --policies-dir my-policies release acme 1.1.0\n")
    again = run("--policies-dir", "my-policies", "release", "acme", "1.0.0", code=1).stderr
    assert "`followup --policies-dir my-policies new-version acme`" in again
    run("--policies-dir", "my-policies", "diff", "acme@1.0.0", "acme@1.1.0")
    logged = run(
        "--policies-dir",
        "my-policies",
        "evaluate",
        str(FACTS),
        "--policy",
        "acme@1.1.0",
        "--log",
        "log.jsonl",
    ).stderr
    assert "`followup --policies-dir my-policies release acme 1.1.0` before logging" in logged


def test_the_diff_help_example_names_versions_that_can_exist() -> None:
    help_text = run("diff", "--help").stdout
    assert "interview-follow-up@1.1.0" not in help_text
    assert "followup --policies-dir my-policies diff acme@1.0.0 acme@1.1.0" in help_text


# ------------------------------------------------------------ 5. copies whose comments fit


def test_a_new_policys_comments_fit_where_it_is(tmp_path: Path) -> None:
    run("new-policy", "acme", "--into", "my-policies")
    text = (tmp_path / "my-policies" / "acme" / "1.0.0.yaml").read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith(
        "# acme: started from interview-follow-up 1.0.0 (sha256 6a3197dc23a3)"
    )
    assert lines[1] == (
        "# For checks while you type: `followup schema policy > policy.schema.json` "
        "(see docs/editors.md)."
    )
    assert lines[2] == "policy:"
    assert "$schema=../../schemas" not in text
    assert "# The default follow-up policy." not in text
    tests = (tmp_path / "my-policies" / "acme" / "1.0.0.tests.yaml").read_text("utf-8")
    assert "$schema=../../schemas" not in tests
    assert "`followup schema tests > tests.schema.json`" in tests.splitlines()[0]
    assert "# Policy tests for acme 1.0.0." in tests
    _fill_changelog(tmp_path / "my-policies" / "acme" / "1.0.0.yaml")
    run("--policies-dir", "my-policies", "release", "acme", "1.0.0")
    run("--policies-dir", "my-policies", "new-version", "acme")
    bumped = (tmp_path / "my-policies" / "acme" / "1.1.0.tests.yaml").read_text("utf-8")
    assert "# Policy tests for acme 1.1.0." in bumped
    assert "acme 1.0.0" not in bumped


# ------------------------------------------------------ 6. check goes on past a missing file


def test_check_reports_a_missing_file_and_checks_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_bytes(RELEASED.read_bytes().replace(b"name: interview-follow-up", b"name: good", 1))
    said = run("check", "good.yaml", "missing.yaml", code=2)
    assert said.stdout == (
        "good.yaml: ok\nmissing.yaml: no-file: /: there is no file at missing.yaml\n"
    )
    assert "Error" not in said.stderr and "Traceback" not in said.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: [\n", "utf-8")
    said = run("check", "missing.yaml", "bad.yaml", code=2).stdout
    assert "missing.yaml: no-file" in said and "bad.yaml:" in said


# ------------------------------------------------- 7. and 8. files of the wrong kind, said so


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (FACTS, "a facts file"),
        (ROOT / "examples" / "early-round-startup.json", "a facts file"),
        (BUNDLED / "1.0.0.tests.yaml", "a test file"),
    ],
)
def test_new_policy_from_a_file_that_is_not_a_policy(
    tmp_path: Path, source: Path, kind: str
) -> None:
    said = run("new-policy", "b3", "--into", "np", "--from", str(source), code=2)
    assert said.stderr == (
        f"Error: {source} is {kind}, not a policy: --from takes a policy (NAME, "
        "NAME@VERSION or its file)\n"
    )
    assert not (tmp_path / "np" / "b3").exists()


@pytest.mark.parametrize("name", ["three.jsonl", "three.json", "three.yaml"])
def test_evaluate_a_cohort_says_to_use_batch(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(
        "".join(f'{{"interview_at": "2026-03-0{d}T10:00"}}\n' for d in (2, 3, 4)), "utf-8"
    )
    said = run("evaluate", name, code=2).stderr
    assert (
        f"evaluate takes the facts of one interview: for a cohort of one JSON object per "
        f"line use `followup batch {name}"
    ) in said
    assert "yaml-syntax" not in said
