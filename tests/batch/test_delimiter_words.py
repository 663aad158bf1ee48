"""What the delimiter messages say of a .tsv file with commas, a header that
mixes two delimiters, and a tab typed as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from followup.cli.batch import batch_command

from .batch_helpers import AS_OF


def _batch(tmp_path: Path, name: str, text: str, *args: str) -> tuple[int, str]:
    (tmp_path / name).write_text(text, "utf-8")
    out = str(tmp_path / "o.jsonl")
    result = CliRunner().invoke(
        batch_command, [str(tmp_path / name), "-o", out, "--as-of", AS_OF, "-q", *args]
    )
    return result.exit_code, result.output


def test_a_tsv_file_with_commas_is_told_why_it_was_read_with_tabs(tmp_path: Path) -> None:
    code, out = _batch(tmp_path, "c.tsv", "applicant_id,interview_at\nA1,2026-01-05T10:00\n")
    assert code == 2
    assert (
        "the header looks comma-separated (the file's name ends in .tsv, which is read as "
        "tab-separated): add --csv-delimiter ','"
    ) in out
    assert "tabs too" not in out


def test_a_header_mixing_two_delimiters_says_so(tmp_path: Path) -> None:
    code, out = _batch(
        tmp_path, "m.csv", "applicant_id;interview_at,industry\nA1;2026-01-05T10:00,finance\n"
    )
    assert code == 2
    assert (
        "the header has both commas and semicolons between its names: use one of them "
        "throughout the file"
    ) in out


@pytest.mark.parametrize("typed", ["\t", "\\t", "tab"])
def test_a_tab_may_be_typed_as_such(tmp_path: Path, typed: str) -> None:
    code, out = _batch(
        tmp_path, "t.csv", "applicant_id\tinterview_at\nA1\t2026-01-05T10:00\n",
        "--csv-delimiter", typed,
    )  # fmt: skip
    assert code == 0, out
    assert "read 1 = decided 1 + errors 0" in out
