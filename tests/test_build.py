"""The pure-Python and the compiled build (setup.py) are told apart, and say which they are."""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main
from followup.engine import BUILD, HOT_MODULES


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


def test_setup_compiles_the_hot_modules() -> None:
    tree = ast.parse((Path(__file__).parents[1] / "setup.py").read_text(encoding="utf-8"))
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "HOT"
    )
    assert tuple(listed) == HOT_MODULES
