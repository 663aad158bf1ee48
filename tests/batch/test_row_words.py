"""A JSONL line that is JSON but not an object is named in JSON's words."""

from __future__ import annotations

import pytest

from followup.engine.batch import RowError, decode_row


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"[1, 2]", "a JSON list"),
        (b'"just text"', "a JSON text (string)"),
        (b"3", "a JSON number"),
        (b"2.5", "a JSON number"),
        (b"true", "true or false"),
        (b"null", "null"),
    ],
)
def test_a_line_that_is_not_an_object(line: bytes, words: str) -> None:
    with pytest.raises(RowError) as caught:
        decode_row("jsonl", line, None)
    (problem,) = caught.value.problems
    assert problem.code == "not-an-object"
    assert problem.message == f"this line is {words}, not an object of facts"
