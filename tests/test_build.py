"""The pure-Python and the compiled build (setup.py) are told apart, and say which they are."""

from __future__ import annotations

import importlib
import importlib.machinery
import os

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
