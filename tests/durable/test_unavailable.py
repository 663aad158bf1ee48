"""Without durable-rules, asking for the backend says how to install it."""

from __future__ import annotations

import sys

import pytest

from followup.engine import _durable, load_policy


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable.engine", None)  # makes the import fail
    assert not _durable.available()
    with pytest.raises(_durable.BackendUnavailable) as info:
        _durable.evaluate(load_policy(), {"interview_at": "2026-03-02"}, as_of="2026-03-03")
    assert "pip install 'followup[durable]'" in str(info.value)
    assert "3.13" in str(info.value)


def test_cli_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from followup.cli import main

    monkeypatch.setitem(sys.modules, "durable.engine", None)
    result = CliRunner().invoke(
        main, ["evaluate", "-", "--backend", "durable"], input="interview_at: 2026-03-02\n"
    )
    assert result.exit_code == 2
    assert "pip install 'followup[durable]'" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
