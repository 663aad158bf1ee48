"""Fixtures for the authoring and auditing commands: a private copy of the
demo policy (so releases and new versions never touch the repository) and a
CliRunner that runs ``followup`` against it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from followup.cli import main

HERE = Path(__file__).parent
DEMO = HERE / "policies" / "demo"

FACTS = """\
applicant_id: A-7
interview_at: 2026-03-02T10:00
industry: finance
status_inquiries_sent: 0
"""


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A policies folder holding a copy of the demo policy 1.0.0 and its tests (a draft)."""
    root = tmp_path / "policies"
    shutil.copytree(DEMO, root / "demo")
    return root


@pytest.fixture
def facts(tmp_path: Path) -> Path:
    path = tmp_path / "facts.yaml"
    path.write_text(FACTS, "utf-8")
    return path


Run = Callable[..., Result]


@pytest.fixture
def run(policies: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run("explain", ...)``: the followup command with the private policies folder."""
    monkeypatch.delenv("FOLLOWUP_POLICIES", raising=False)

    def invoke(*args: str, code: int | None = 0) -> Result:
        result = CliRunner().invoke(main, ["--policies-dir", str(policies), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    return invoke
