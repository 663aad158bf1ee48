"""The pure-Python and the compiled build (setup.py) are told apart, and say which they are."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import BUILD, HOT_MODULES, load_policy
from tests.batch.batch_helpers import cohort


def test_the_suite_runs_against_the_build_it_was_asked_to_test() -> None:
    # `make pytest` and `make test-compiled` say which build they mean to test, so a
    # compiled install that quietly fell back to Python (or an editable one that picked
    # up stray extensions) fails here instead of testing the wrong code
    expected = os.environ.get("FOLLOWUP_EXPECT_BUILD")
    if expected is None:
        pytest.skip("FOLLOWUP_EXPECT_BUILD is not set (the Makefile sets it)")
    assert expected == BUILD


def test_the_hot_modules_are_all_python_or_all_compiled() -> None:
    files = [str(importlib.import_module(f"followup.engine.{m}").__file__) for m in HOT_MODULES]
    kinds = {
        "extension" if f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) else "python"
        for f in files
    }
    assert kinds == {"extension" if BUILD == "compiled" else "python"}


def test_version_says_which_build() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"followup, version 0.1.0 ({BUILD} build)\n"


_DECIDE = """
import json, sys
import followup.engine as engine
from followup.engine import load_policy
assert engine.BUILD == "pure" and engine.__file__.startswith(sys.argv[1]), engine.__file__
policy = load_policy("interview-follow-up")
for line in open(sys.argv[2], encoding="utf-8"):
    for trace in ("none", "fired", "full"):
        decision = policy.evaluate(json.loads(line), as_of="2026-01-12", trace=trace)
        sys.stdout.write(decision.to_json() + "\\n")
"""


def test_the_installed_build_decides_the_same_bytes_as_the_source(tmp_path: Path) -> None:
    # the source tree, laid out as the package, runs as pure Python in a subprocess;
    # in `make test-compiled` this compares the compiled modules with their source
    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"
    (source / "followup").mkdir(parents=True)
    (source / "followup" / "__init__.py").symlink_to(root / "pkg" / "__init__.py")
    for name in ("engine", "cli", "policies", "schemas"):
        (source / "followup" / name).symlink_to(root / name, target_is_directory=True)
    rows = cohort(300, seed=11)
    facts = tmp_path / "cohort.jsonl"
    facts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(source)}
    pure = subprocess.run(
        [sys.executable, "-c", _DECIDE, str(source), str(facts)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert pure.returncode == 0, pure.stderr
    policy = load_policy("interview-follow-up")
    here = [
        policy.evaluate(row, as_of="2026-01-12", trace=trace).to_json()
        for row in rows
        for trace in ("none", "fired", "full")
    ]
    assert pure.stdout.splitlines() == here
