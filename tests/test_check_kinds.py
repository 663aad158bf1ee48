"""`followup check` tells a file of test cases from a policy by its content,
whatever its name and however it is written (block YAML, flow, JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from followup.cli import main

BUNDLED = Path(__file__).resolve().parent.parent / "policies" / "interview-follow-up"


@pytest.mark.parametrize("style", ["block", "json", "flow"])
def test_a_file_of_cases_is_known_by_its_content(style: str, tmp_path: Path) -> None:
    cases = yaml.safe_load((BUNDLED / "1.0.0.tests.yaml").read_text("utf-8"))
    path = tmp_path / "mycases.yaml"
    if style == "block":
        path.write_text((BUNDLED / "1.0.0.tests.yaml").read_text("utf-8"), "utf-8")
    elif style == "json":
        path.write_text(json.dumps(cases), "utf-8")
    else:
        path.write_text(yaml.safe_dump(cases, default_flow_style=True), "utf-8")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:1:1: misnamed-tests: /: this file holds test cases" in result.output


def test_a_policy_that_mentions_cases_in_its_words_is_still_a_policy(tmp_path: Path) -> None:
    folder = tmp_path / "interview-follow-up"
    folder.mkdir()
    text = (BUNDLED / "1.0.0.yaml").read_text("utf-8")
    text = text.replace("  title: Following up", "  # cases: none here\n  title: Following up", 1)
    (folder / "1.1.0.yaml").write_text(text.replace('version: "1.0.0"', 'version: "1.1.0"', 1))
    result = CliRunner().invoke(main, ["check", str(folder / "1.1.0.yaml")])
    assert "misnamed-tests" not in result.output
    assert "1.1.0.yaml: " in result.output
