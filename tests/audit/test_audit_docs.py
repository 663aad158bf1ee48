"""The coach's guide runs: every command in docs/coach-guide.md is executed in
order in a scratch folder and its output compared; every YAML excerpt is
checked against the demo policy it quotes. Every command is documented."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli import main

from .conftest import DEMO

DOCS = Path(__file__).parents[2] / "docs"
GUIDE = DOCS / "coach-guide.md"
BLOCK = re.compile(r"(?:<!-- (file|edit): ([^>]*) -->\n)?```(\w+)\n(.*?)```", re.S)


def _steps() -> list[tuple[str | None, str, str, str]]:
    return [(m[1], m[2], m[3], m[4]) for m in BLOCK.finditer(GUIDE.read_text("utf-8"))]


def test_guide_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(DEMO, tmp_path / "policies" / "demo")
    (tmp_path / "policies" / "demo" / "RELEASES").unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FOLLOWUP_POLICIES", "policies")
    demo_text = (DEMO / "1.0.0.yaml").read_text("utf-8") + (DEMO / "1.0.0.tests.yaml").read_text(
        "utf-8"
    )
    commands = 0
    for marker, arg, lang, body in _steps():
        if marker == "file":
            Path(arg.strip()).write_text(body, "utf-8")
            continue
        if marker == "edit":
            path, param, old, new = arg.split()
            p = Path(path)
            text = p.read_text("utf-8")
            before = f"  {param}:\n    value: {old}\n"
            assert before in text
            p.write_text(text.replace(before, f"  {param}:\n    value: {new}\n"), "utf-8")
        if lang == "yaml":
            assert body in demo_text, (
                f"the guide quotes YAML the demo policy does not hold:\n{body}"
            )
        if lang != "console":
            continue
        for chunk in body.split("$ ")[1:]:
            command, _, expected = chunk.partition("\n")
            args = shlex.split(command)
            assert args[0] == "followup"
            result = CliRunner().invoke(main, args[1:])
            assert result.exit_code == 0, (command, result.output)
            if expected:
                assert result.stdout == expected, command
            commands += 1
    assert commands >= 6


def test_every_command_has_help_and_is_documented() -> None:
    docs = "\n".join(p.read_text("utf-8") for p in DOCS.glob("*.md"))
    docs += (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and command.help, name
        if name == "batch":
            continue  # documented by its own helper
        assert f"followup {name}" in docs, f"`followup {name}` is not in docs/ or README.md"
