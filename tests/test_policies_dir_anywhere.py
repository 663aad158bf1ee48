"""--policies-dir is taken before or after the command's name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main

DEMO = Path(__file__).resolve().parent / "audit" / "policies" / "demo"
EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "final-round-finance.yaml")


@pytest.fixture
def mine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FOLLOWUP_POLICIES", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(DEMO, tmp_path / "mine" / "demo")
    return tmp_path / "mine"


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", EXAMPLE, "--policy", "demo", "--as-of", "2026-03-05"],
        ["explain", EXAMPLE, "--policy", "demo", "--as-of", "2026-03-05"],
        ["policies"],
        ["check"],
        ["test"],
    ],
    ids=lambda args: args[0],
)
def test_after_the_command_as_before_it(mine: Path, args: list[str]) -> None:
    before = CliRunner().invoke(main, ["--policies-dir", "mine", *args])
    after = CliRunner().invoke(main, [*args, "--policies-dir", "mine"])
    assert before.exit_code == 0, before.output
    assert "demo" in before.output
    assert (after.exit_code, after.output) == (before.exit_code, before.output)


def test_without_it_the_policy_is_not_found(mine: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate", EXAMPLE, "--policy", "demo"])
    assert result.exit_code == 2
    assert "no policy named 'demo'" in result.output


def test_a_misspelt_folder_after_the_command_is_named(mine: Path) -> None:
    result = CliRunner().invoke(main, ["policies", "--policies-dir", "mien"])
    assert result.exit_code == 2
    assert "the folder 'mien' does not exist" in result.output
    assert "did you mean 'mine'?" in result.output


def test_both_places_add_up(mine: Path, tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "other" / "demo2")
    text = (tmp_path / "other" / "demo2" / "1.0.0.yaml").read_text("utf-8")
    (tmp_path / "other" / "demo2" / "1.0.0.yaml").write_text(
        text.replace("name: demo", "name: demo2", 1), "utf-8"
    )
    for extra in (tmp_path / "other" / "demo2").iterdir():
        if extra.name not in ("1.0.0.yaml",):
            extra.unlink()
    result = CliRunner().invoke(
        main, ["--policies-dir", "mine", "policies", "--policies-dir", "other"]
    )
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert "demo" in names and "demo2" in names
