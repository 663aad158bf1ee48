"""A JSONL row that names a fact twice is an error row, never decided with the
last value (which is what JSON readers, orjson included, keep silently)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from followup.cli.batch import batch_command
from followup.engine._rows import loads_facts, repeated_keys

from .batch_helpers import AS_OF

ROWS = [
    '{"applicant_id":"B1","interview_at":"2026-01-05","industry":"finance","industry":"retail"}',
    '{"applicant_id":"B2","interview_at":"2026-01-05","industry":"finance"}',
    '{"applicant_id" : "B3", "interview_at" : "2026-01-05", "stage" : "final", "stage" : "first"}',
    '{"applicant_id":"B4","interview_at":"2026-01-05","candidate_name":"a \\":b \\":c"}',
    '{"applicant_id":"B5","interview_at":"2026-01-05","interview_at":"2026-01-06"}',
]


def test_a_fact_named_twice_is_an_error_row(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(ROWS) + "\n", "utf-8")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = CliRunner().invoke(
        batch_command,
        [str(source), "-o", str(out), "--errors", str(errors), "--as-of", AS_OF, "-q"],
    )
    assert result.exit_code == 1, result.output
    assert "read 5 = decided 2 + errors 3" in result.output
    records = [json.loads(line) for line in errors.read_text("utf-8").splitlines()]
    assert [(r["row"], r["applicant_id"]) for r in records] == [(1, "B1"), (3, "B3"), (5, "B5")]
    assert [[e["code"] for e in r["errors"]] for r in records] == [["duplicate-key"]] * 3
    assert records[0]["errors"][0] == {
        "code": "duplicate-key",
        "pointer": "/industry",
        "message": "the key 'industry' appears twice in this row; JSON readers would silently "
        "keep only the last",
        "suggestion": "remove or rename one of them",
        "value": "industry",
    }
    decided = [json.loads(line)["applicant_id"] for line in out.read_text("utf-8").splitlines()]
    assert decided == ["B2", "B4"]  # B4's '":' inside a text is not a key


_KEYS = st.sampled_from(["applicant_id", "interview_at", "industry", "stage", 'a":b', "x"])
_VALUES = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)


@given(
    pairs=st.lists(
        st.tuples(_KEYS, _VALUES, st.sampled_from(["", " ", "\t"])), max_size=6
    ),  # each key with its own spacing before ':', so a spaced key can hide among others
)
def test_loads_facts_refuses_exactly_the_objects_that_repeat_a_key(
    pairs: list[tuple[str, object, str]],
) -> None:
    line = (
        "{" + ",".join(f"{json.dumps(k)}{sp}:{sp}{json.dumps(v)}" for k, v, sp in pairs) + "}"
    ).encode()
    keys = [k for k, _, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert sorted(repeated_keys(line)) == twice
    value = loads_facts(line)
    if twice:
        assert value is None
    else:
        assert value == {k: v for k, v, _ in pairs}


def test_a_key_written_twice_among_keys_spaced_differently() -> None:
    """One key spaced before its ':' and another named twice: counting '":' would
    find as many as there are keys, and miss the repeat."""
    line = b'{"a" : 1,"b":2,"b":3}'
    assert repeated_keys(line) == ["b"]
    assert loads_facts(line) is None
