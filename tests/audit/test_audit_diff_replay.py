"""`followup diff`, the decision log and `followup replay`."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.engine import load_policy
from followup.engine._log import LogError, append_decision, replay

from .conftest import Run

INDUSTRIES = ("finance", "retail", "technology", "government", "other")


def _cohort(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        day = 1 + rng.randrange(20)
        row: dict[str, object] = {
            "applicant_id": f"A-{i:03d}",
            "interview_at": f"2026-03-{day:02d}T{9 + rng.randrange(8):02d}:00",
            "industry": rng.choice(INDUSTRIES),
            "status_inquiries_sent": rng.choice([0, 0, 1, 2]),
            "as_of": f"2026-03-{day + rng.randrange(9):02d}",
        }
        if rng.random() < 0.3:
            row["phone_ok"] = True
        if rng.random() < 0.3:
            row["stage"] = "final"
        rows.append(row)
    return rows


@pytest.fixture
def two_versions(run: Run, policies: Path) -> Path:
    """demo 1.0.0 released, and 1.1.0 with status_min_days 7 -> 10."""
    run("release", "demo", "1.0.0")
    run("new-version", "demo")
    new = policies / "demo" / "1.1.0.yaml"
    text = new.read_text("utf-8")
    new.write_text(text.replace("    value: 7\n", "    value: 10\n", 1), "utf-8")
    return new


def test_diff_text(run: Run, two_versions: Path) -> None:
    out = run("diff", "demo@1.0.0", "demo@1.1.0")
    assert out.stdout == (
        "demo@1.0.0 -> demo@1.1.0: 1 change\n"
        "\n"
        "Changelog (the authors' notes)\n"
        "  + 1.1.0: TODO: say what changed and why, citing the guidance.\n"
        "\n"
        "Parameters\n"
        "  ~ parameter status_min_days: 7 -> 10 days\n"
    )


def test_diff_rules_in_words(run: Run, policies: Path, tmp_path: Path) -> None:
    old = policies / "demo" / "1.0.0.yaml"
    new = tmp_path / "edited.yaml"
    text = old.read_text("utf-8")
    text = text.replace("    salience: 80\n", "    salience: 90\n").replace(
        "  - id: final-round\n", "  - id: last-round\n"
    )
    new.write_text(text, "utf-8")
    out = run("diff", str(old), str(new))
    assert out.stdout == (
        "demo@1.0.0 -> demo@1.0.0: 3 changes\n"
        "\n"
        "Rules\n"
        "  - rule final-round removed\n"
        "  ~ rule channel-phone: salience 80 -> 90\n"
        "  + rule last-round added\n"
    )
    data = json.loads(run("diff", str(old), str(new), "--format", "json").stdout)
    assert list(data) == ["old", "new", "changes", "impact"]
    assert list(data["changes"][0]) == ["section", "kind", "name", "field", "old", "new", "text"]


def test_diff_cohort_impact(run: Run, two_versions: Path, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    rows = _cohort(40)
    cohort.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    out = run("diff", "demo@1.0.0", "demo@1.1.0", "--cohort", str(cohort))
    text = out.stdout
    assert "\nImpact on the cohort (40 applicants; 40 at the as_of in their own facts)\n" in text
    data = json.loads(
        run("diff", "demo@1.0.0", "demo@1.1.0", "--cohort", str(cohort), "--format", "json").stdout
    )
    impact = data["impact"]
    assert list(impact) == [
        "old",
        "new",
        "as_of",
        "own_as_of",
        "total",
        "changed",
        "by_kind",
        "by_rule",
        "examples_by_kind",
        "examples_by_rule",
        "applicants",
        "errors",
    ]
    assert impact["total"] == 40
    assert impact["changed"] > 0
    assert set(impact["by_rule"]) == {"status-inquiry"}
    assert f"  {impact['changed']} got different actions or dates" in text
    assert "    status-inquiry: " in text


def test_replay_200_decisions(run: Run, two_versions: Path, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "decisions.log"
    policy = load_policy("demo", "1.0.0", policies_dir=[policies])
    rows = _cohort(200)
    for row in rows:
        append_decision(log, row, policy, policy.evaluate(row))
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == 200 and all(line.endswith(b"\n") for line in lines)
    record = json.loads(lines[0])
    assert list(record) == [
        "decision_id",
        "logged_at",
        "as_of",
        "policy",
        "released",
        "policy_file",
        "engine",
        "facts",
        "decision",
        "prev",
    ]
    assert record["policy_file"] == str((policies / "demo" / "1.0.0.yaml").resolve())
    assert record["policy"] == {"name": "demo", "version": "1.0.0", "sha256": policy.sha256}
    same = run("replay", str(log))
    assert same.stdout.endswith("200 same, 0 different\n")
    newer = run("replay", str(log), "--policy", "demo@1.1.0", code=1)
    assert "status-inquiry" in newer.stdout
    data = json.loads(
        run("replay", str(log), "--policy", "demo@1.1.0", "--format", "json", code=1).stdout
    )
    assert list(data) == [
        "log",
        "policy",
        "replayed",
        "same",
        "different",
        "errors",
        "results",
        "input",
        "no_decision",
        "no_line",
        "chain",
        "problem",
    ]
    assert data["replayed"] == 200 and data["different"] > 0
    assert {c["rule"] for r in data["results"] for c in r["changes"]} == {"status-inquiry"}


def test_evaluate_and_explain_log(run: Run, facts: Path, tmp_path: Path) -> None:
    log = tmp_path / "cli.log"
    run("evaluate", str(facts), "--policy", "demo", "--as-of", "2026-03-12", "--log", str(log))
    run("explain", str(facts), "--policy", "demo", "--as-of", "2026-03-05", "--log", str(log))
    assert len(log.read_text("utf-8").splitlines()) == 2
    assert run("replay", str(log)).stdout == (
        f"Replayed 2 decisions from {log}\n"
        "Chain: whole over 2 lines; without a key it shows accidental and naive changes, "
        "not a file rewritten whole: set FOLLOWUP_LOG_KEY when logging to seal each line\n"
        "2 same, 0 different\n"
    )


def test_replay_names_a_missing_version(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    policy = load_policy("demo", policies_dir=[policies])
    row = _cohort(1)[0]
    append_decision(log, row, policy, policy.evaluate(row))
    text = log.read_text("utf-8").replace('"version":"1.0.0"', '"version":"0.9.0"', 1)
    log.write_text(text, "utf-8")
    out = run("replay", str(log), code=1)
    assert "made with policy demo@0.9.0, which cannot be found" in out.output
    assert "followup --policies-dir DIR replay LOG" in out.output
    (result,) = replay(log, policies_dir=[policies]).results
    assert result.policy == "demo@0.9.0" and "demo@0.9.0" in (result.error or "")


def _logged(policies: Path, log: Path, n: int) -> list[dict[str, Any]]:
    """``n`` decisions of the demo policy appended to ``log``; their records."""
    policy = load_policy("demo", policies_dir=[policies])
    for row in _cohort(n):
        append_decision(log, row, policy, policy.evaluate(row))
    return [json.loads(line) for line in log.read_text("utf-8").splitlines()]


def _write(log: Path, records: list[dict[str, Any]]) -> None:
    log.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")


def test_replay_reports_any_change_to_a_logged_decision(
    run: Run, policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.log"
    records = _logged(policies, log, 60)
    # an applicant with at least two recommendations and a caution
    i, rec = next(
        (i, r)
        for i, r in enumerate(records)
        if len(r["decision"]["recommendations"]) >= 2 and r["decision"]["cautions"]
    )
    decision = rec["decision"]
    recs = decision["recommendations"]
    first, second = recs[0]["action"], recs[1]["action"]
    recs[0]["message"] = "Phone them every day."
    recs[1]["cite"] = ["G99", *recs[1]["cite"][1:]]
    recs[0], recs[1] = recs[1], recs[0]
    decision["cautions"][0]["message"] = "Nothing to worry about."
    decision["policy"]["version"] = "7.7.7"
    condition = next(c for entry in decision["trace"]["fired"] for c in entry["conditions"])
    condition["result"] = 1 if condition["result"] is True else True  # 1 == True in Python
    _write(log, records)
    out = json.loads(run("replay", str(log), "--format", "json", code=1).stdout)
    assert (out["replayed"], out["same"], out["different"], out["errors"]) == (60, 59, 1, 0)
    (result,) = [r for r in out["results"] if r["status"] != "same"]
    assert result["line"] == i + 1
    found = {c["action"]: (c["old"], c["new"]) for c in result["changes"]}
    assert {c["kind"] for c in result["changes"]} == {"other"}
    assert found["/recommendations/0/message"][0] == "Phone them every day."
    assert found["/recommendations/1/cite/0"][0] == "G99"
    assert found["/recommendations (order)"] == ([second, first], [first, second])
    assert found["/cautions/0/message"][0] == "Nothing to worry about."
    assert found["/policy/version"] == ("7.7.7", "1.0.0")
    (pointer,) = (k for k in found if k.startswith("/trace/"))
    assert pointer.endswith("/result") and found[pointer][0] == condition["result"]
    assert len(found) == 6
    text = run("replay", str(log), code=1).stdout
    assert "    /recommendations/0/message: Phone them every day. -> " in text
    assert text.endswith("59 same, 1 different\n")


def test_replay_does_not_compare_the_engine_block(run: Run, policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "decisions.log"
    records = _logged(policies, log, 3)
    # the last line, so that no line after it links to it; its record says the same engine
    records[2]["decision"]["engine"] = {"version": "0.0.1", "backend": "durable"}
    records[2]["engine"] = {"version": "0.0.1"}
    log.write_text(
        "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records),
        "utf-8",
    )
    assert run("replay", str(log)).stdout.endswith("3 same, 0 different\n")


def test_replay_lists_at_most_ten_other_changes_per_decision(
    policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.log"
    records = _logged(policies, log, 1)
    trace = records[0]["decision"]["trace"]
    entries = trace["fired"] + trace["not_fired"]
    for entry in entries:
        entry["rule"] += "-edited"
        for condition in entry["conditions"]:
            condition["text"] += " (edited)"
    edited = len(entries) + sum(len(entry["conditions"]) for entry in entries)
    assert edited > 10
    _write(log, records)
    (result,) = replay(log, policies_dir=[policies]).results
    assert [c.kind for c in result.changes] == ["other"] * 10 + ["more"]
    assert result.changes[-1].new == edited - 10
    assert result.changes[-1].text() == f"and {edited - 10} more differences"


def test_replay_goes_on_after_a_line_it_cannot_replay(
    run: Run, policies: Path, tmp_path: Path
) -> None:
    log = tmp_path / "decisions.log"
    records = _logged(policies, log, 4)
    lost = dict(records[2], policy={"name": "demo", "version": "0.9.0", "sha256": "0" * 64})
    other = dict(records[3], policy=dict(records[3]["policy"], sha256="f" * 64))
    lines = [
        json.dumps(records[0]),
        "not json",
        json.dumps(records[1])[:300],  # cut short by a crash; the next entry begins on a new line
        "[1, 2]",
        json.dumps(lost),
        json.dumps(other),
        json.dumps(dict(records[1], policy="demo")),
        json.dumps(records[1]),
    ]
    log.write_text("\n".join(lines) + "\n", "utf-8")
    out = json.loads(run("replay", str(log), "--format", "json", code=1).stdout)
    assert (out["replayed"], out["same"], out["different"], out["errors"]) == (8, 2, 6, 6)
    errors = {r["line"]: r["error"] for r in out["results"]}
    assert errors[2] == "line 2 is not JSON: at column 1, not is not a JSON value"
    assert not errors[2].endswith("it looks cut short")
    assert errors[3].endswith("; it looks cut short")
    assert errors[4] == "line 4 is a JSON list, not a logged decision (an object)"
    assert "demo@0.9.0, which cannot be found" in errors[5]
    assert "has sha256" in errors[6] and "ffffffffffff" in errors[6]
    assert errors[7].startswith('line 7 has policy "demo"; expected an object with name')
    text = run("replay", str(log), code=1).stdout
    assert "  line 2: cannot be replayed: line 2 is not JSON" in text
    assert text.endswith("2 same, 6 different (6 of them could not be replayed)\n")


def test_replay_of_a_log_that_cannot_be_read_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    out = run("replay", str(tmp_path / "missing.log"), code=2)
    assert "cannot read the decision log" in out.output and "Traceback" not in out.output
    with pytest.raises(LogError, match="cannot read the decision log"):
        replay(tmp_path / "missing.log")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3, allow_nan=False).filter(lambda x: x != 0 or str(x) == "0.0")
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_JSON, _JSON)
def test_leaves_differ_exactly_when_the_json_differs(a: Any, b: Any) -> None:
    from followup.engine._diff import _leaves

    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    assert _leaves(a, a, "") == []
    assert (_leaves(a, b, "") == []) == (canonical(a) == canonical(b))


def test_a_line_cut_short_does_not_swallow_the_next(policies: Path, tmp_path: Path) -> None:
    log = tmp_path / "cut.log"
    log.write_bytes(b'{"decision_id": "x", "fac')
    policy = load_policy("demo", policies_dir=[policies])
    row = _cohort(1)[0]
    append_decision(log, row, policy, policy.evaluate(row))
    first, second = log.read_bytes().split(b"\n")[:2]
    assert first == b'{"decision_id": "x", "fac'
    assert json.loads(second)["facts"] == row


def test_diff_cohort_reads_csv_like_batch(run: Run, two_versions: Path, tmp_path: Path) -> None:
    rows = _cohort(40)
    jsonl, csv_path = tmp_path / "cohort.jsonl", tmp_path / "cohort.csv"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    columns = sorted({k for r in rows for k in r})
    lines = [",".join(columns)]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            cells.append(
                ""
                if v is None
                else ";".join(v)
                if isinstance(v, list)
                else str(v).lower()
                if isinstance(v, bool)
                else str(v)
            )
        lines.append(",".join(cells))
    csv_path.write_text("\n".join(lines) + "\n", "utf-8")

    def impact(path: Path) -> dict[str, object]:
        out = run("diff", "demo@1.0.0", "demo@1.1.0", "--cohort", str(path), "--format", "json")
        return json.loads(out.stdout)["impact"]  # type: ignore[no-any-return]

    from_csv, from_jsonl = impact(csv_path), impact(jsonl)
    assert from_csv["total"] == 40
    assert {k: v for k, v in from_csv.items() if k != "as_of"} == {
        k: v for k, v in from_jsonl.items() if k != "as_of"
    }


def test_diff_lists_changelog_entries_added_changed_and_dropped() -> None:
    from followup.engine._diff import _changelog

    old = {
        "changelog": [
            {"version": "1.0.0", "changes": ["first"]},
            {"version": "0.9.0", "changes": ["beta"]},
        ]
    }
    new = {
        "changelog": [
            {"version": "1.1.0", "date": "2026-11-25", "changes": ["wait longer", "G3"]},
            {"version": "1.0.0", "changes": ["first release"]},
        ]
    }
    found = [(c.section, c.kind, c.name, c.text) for c in _changelog(old, new)]
    assert found == [
        ("changelog", "added", "1.1.0", "1.1.0: wait longer; G3"),
        ("changelog", "changed", "1.0.0", "1.0.0: first release (was: 1.0.0: first)"),
        ("changelog", "removed", "0.9.0", "0.9.0: beta (no longer in the changelog)"),
    ]
    assert _changelog(new, new) == []


def test_diff_names_each_changed_value_inside_a_rule(run: Run, two_versions: Path) -> None:
    """A changed condition, a longer list and a long message each get a line of
    their own, showing what changed rather than the start of the whole rule."""
    text = two_versions.read_text("utf-8")
    message = "Ask politely where the process stands."
    longer = (
        "Ask politely where the process stands, naming the role and the date of the "
        "interview, and thank them again for their time."
    )
    edited = (
        text.replace("less_than: 2", "less_than: 3", 1)
        .replace("cite: [G3, G17]", "cite: [G3, G10, G17]", 1)
        .replace(message, longer, 1)
    )
    assert edited.count("less_than: 3") == 1 and longer in edited
    two_versions.write_text(edited, "utf-8")
    out = json.loads(run("diff", "demo@1.0.0", "demo@1.1.0", "--format", "json").stdout)
    rules = {c["field"]: c for c in out["changes"] if c["section"] == "rules"}
    assert set(rules) == {"when/all/2/less_than", "cite/1", "then/0/recommend/message"}
    assert rules["when/all/2/less_than"]["text"] == (
        "rule status-inquiry: when/all/2/less_than 2 -> 3"
    )
    assert rules["cite/1"]["text"] == "rule status-inquiry: cite/1 added: G10"
    said = rules["then/0/recommend/message"]["text"]
    assert said.startswith("rule status-inquiry: then/0/recommend/message ...")
    assert "process stands." in said and "naming the role" in said
    assert len(said) < 260


def test_list_leaves_pair_what_lines_up() -> None:
    from followup.engine._diff import _leaves

    assert _leaves([1, 2, 3], [1, 9, 2, 3], "/x") == [("/x/1", None, 9)]
    assert _leaves([1, 2, 3], [1, 3], "/x") == [("/x/1", 2, None)]
    # a changed item between items that line up is compared inside, not removed and added
    assert _leaves([{"a": 1}, 5], [{"a": 2}, 5, 6], "") == [("/0/a", 1, 2), ("/2", None, 6)]


def test_diff_cohort_names_the_applicants_it_could_not_evaluate(
    run: Run, two_versions: Path, tmp_path: Path
) -> None:
    rows = _cohort(20)
    for row in rows[3:10]:
        row["industy"] = row.pop("industry")  # 7 rows with a misspelt fact
    rows[3]["stage"] = "last"  # and a second problem in the first of them
    del rows[12]["as_of"]
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    args = ("diff", "demo@1.0.0", "demo@1.1.0", "--cohort", str(cohort), "--as-of", "2026-03-20")
    text = run(*args, code=1).stdout
    assert "\nImpact on the cohort (20 applicants, as of 2026-03-20; 19 at the as_of in" in text
    assert f", 7 could not be evaluated\n  could not be evaluated:\n    {cohort}:4: " in text
    assert "[A-003; and 1 more problem]" in text
    assert "    and 2 more (--format json lists every one)" in text
    impact = json.loads(run(*args, "--format", "json", code=1).stdout)["impact"]
    assert [e["applicant"] for e in impact["errors"]] == [f"A-{i:03d}" for i in range(3, 10)]
    assert len(impact["errors"][0]["problems"]) == 2
    assert all("industy" in e["message"] for e in impact["errors"][1:])


def test_replay_finds_a_policy_given_by_its_path(
    policies: Path, facts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision made with ``--policy some/file.yaml`` outside every policies
    folder replays without --policies-dir while that file is unchanged."""
    from click.testing import CliRunner

    from followup.cli import main

    monkeypatch.delenv("FOLLOWUP_POLICIES", raising=False)
    own = tmp_path / "elsewhere" / "mine.yaml"
    own.parent.mkdir()
    own.write_bytes((policies / "demo" / "1.0.0.yaml").read_bytes())
    log = tmp_path / "decisions.log"
    made = CliRunner().invoke(
        main, ["evaluate", str(facts), "--policy", str(own), "--log", str(log)]
    )
    assert made.exit_code == 0, made.output
    again = CliRunner().invoke(main, ["replay", str(log)])
    assert again.exit_code == 0, again.output
    assert again.output.endswith("1 same, 0 different\n")
    own.write_text(own.read_text("utf-8") + "# changed\n", "utf-8")
    changed = CliRunner().invoke(main, ["replay", str(log)])
    assert changed.exit_code == 1
    assert "which cannot be found" in changed.output
