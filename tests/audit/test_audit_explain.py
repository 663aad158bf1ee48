"""`followup explain` and `followup why-not`: exact text for one fixed example in each mode."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Run

HEAD = """\
Policy demo 1.0.0 (sha256 890f4258a20e), as of 2026-03-05
Applicant A-7
Rules: 2 fired, 3 did not match, 0 shadowed
"""

FIRED = """
What to do (1)
  1. send_thank_you [overdue] 2026-03-02 10:00 to 2026-03-04 10:00 via email
     because thank-you: Thank the interviewer within two days (G1)
       no conditions: always applies
       earliest: interview_at = 2026-03-02 10:00
       latest: interview_at + 2 days = 2026-03-04 10:00
       based on:
         channel = email (rule channel-email)

Derived facts (1)
  channel = email
    set by channel-email: Otherwise write an email (G11)
      no conditions: always applies
      set to email
"""

FAILS = """
Did not fire (3)
  channel-phone: Call when calls are welcome (G12)
    failed: phone_ok (unknown) is true: no
  final-round: Restate interest after a final round (G5)
    failed: any of these: no
      stage (unknown) is final: no
      more_rounds_expected (unknown) is false: no
  status-inquiry: Ask about status after a week (G3, G17)
    failed: 3 days since last_contact_at (2026-03-02 10:00) is at least params.status_min_days (7): no
"""

EVERY = """
Every rule, in match order (5)
  - channel-phone: Call when calls are welcome (G12) [did not match]
      phone_ok (unknown) is true: no
  + channel-email: Otherwise write an email (G11) [fired]
      no conditions: always applies
  + thank-you: Thank the interviewer within two days (G1) [fired]
      no conditions: always applies
  - final-round: Restate interest after a final round (G5) [did not match]
      any of these: no
        stage (unknown) is final: no
        more_rounds_expected (unknown) is false: no
  - status-inquiry: Ask about status after a week (G3, G17) [did not match]
      finance employers get 7 days before an enquiry.
      3 days since last_contact_at (2026-03-02 10:00) is at least params.status_min_days (7): no
      response_received is not true: not checked
      status_inquiries_sent is less than 2: not checked
"""


def _explain(run: Run, facts: Path, *more: str, code: int = 0) -> str:
    args = ["explain", str(facts), "--policy", "demo", "--as-of", "2026-03-05", *more]
    return str(run(*args, code=code).stdout)


def test_explain_fired(run: Run, facts: Path) -> None:
    assert _explain(run, facts) == HEAD + FIRED


def test_explain_fails(run: Run, facts: Path) -> None:
    assert _explain(run, facts, "--mode", "fails") == HEAD + FAILS


def test_explain_full_marks_skipped_conditions(run: Run, facts: Path) -> None:
    assert _explain(run, facts, "--mode", "full") == HEAD + FIRED + EVERY


def test_explain_uses_templates_and_chains(run: Run, facts: Path) -> None:
    out = str(run("explain", str(facts), "--policy", "demo", "--as-of", "2026-03-12").stdout)
    assert (
        "     because status-inquiry: Ask about status after a week (G3, G17)\n"
        "       finance employers get 7 days before an enquiry.\n"
        "       10 days since last_contact_at (2026-03-02 10:00) is at least "
        "params.status_min_days (7): yes\n"
        "       response_received (unknown) is not true: yes\n"
        "       0 enquiries sent so far, fewer than 2: yes\n"
        "       earliest: last_contact_at + params.status_min_days days = 2026-03-09 10:00\n"
    ) in out


def test_explain_json_keys(run: Run, facts: Path) -> None:
    for mode in ("fired", "fails", "full"):
        data = json.loads(_explain(run, facts, "--mode", mode, "--format", "json"))
        assert list(data) == [
            "mode",
            "applicant_id",
            "as_of",
            "policy",
            "engine",
            "summary",
            "recommendations",
            "cautions",
            "derived",
            "rules",
        ]
        assert data["mode"] == mode
        assert data["summary"] == {"fired": 2, "failed": 3, "shadowed": 0}
        rule = data["rules"][0]
        assert list(rule) == [
            "rule",
            "title",
            "cite",
            "salience",
            "outcome",
            "explain",
            "conditions",
            "failed",
            "shadowed_by",
        ]
        with_conditions = [r for r in data["rules"] if r["conditions"]]
        if mode == "fired":
            assert not with_conditions
            continue
        assert list(with_conditions[0]["conditions"][0]) == [
            "pointer",
            "depth",
            "kind",
            "text",
            "sentence",
            "left",
            "right",
            "result",
            "hint",
        ]
    fired = json.loads(_explain(run, facts, "--format", "json"))
    rec = fired["recommendations"][0]
    assert rec["depends_on"] == ["channel"]
    assert rec["dates"] == [
        {"which": "earliest", "expression": "interview_at", "value": "2026-03-02T10:00:00"},
        {"which": "latest", "expression": "interview_at + 2 days", "value": "2026-03-04T10:00:00"},
    ]
    assert list(fired["derived"][0]) == ["fact", "value", "rule", "title", "source", "inputs"]


def test_explain_shadowed(run: Run, tmp_path: Path) -> None:
    facts = tmp_path / "phone.yaml"
    facts.write_text("interview_at: 2026-03-02\nphone_ok: true\n", "utf-8")
    out = str(
        run(
            "explain", str(facts), "--policy", "demo", "--as-of", "2026-03-03", "--mode", "fails"
        ).stdout
    )
    assert (
        "  channel-email: Otherwise write an email (G11)\n"
        "    shadowed: channel was already set by channel-phone\n"
    ) in out


WHY_NOT = """\
Rule status-inquiry: Ask about status after a week (G3, G17)
Policy demo 1.0.0 (sha256 890f4258a20e), as of 2026-03-05
Applicant A-7

It did not fire: 1 condition failed.
finance employers get 7 days before an enquiry.
  3 days since last_contact_at (2026-03-02 10:00) is at least params.status_min_days (7): no
    would fire if last_contact_at were on or before 2026-02-26, or with last_contact_at unchanged from 2026-03-09 on
  response_received (unknown) is not true: yes
  0 enquiries sent so far, fewer than 2: yes

Would fire if last_contact_at were on or before 2026-02-26, or with last_contact_at unchanged from 2026-03-09 on.
"""


def test_why_not_one_comparison_away(run: Run, facts: Path) -> None:
    out = run("why-not", "status-inquiry", str(facts), "--policy", "demo", "--as-of", "2026-03-05")
    assert out.stdout == WHY_NOT


def test_why_not_fired_and_unknown_rule(run: Run, facts: Path) -> None:
    out = run("why-not", "channel-email", str(facts), "--policy", "demo", "--as-of", "2026-03-05")
    assert "\nIt fired.\n  no conditions: always applies\n" in out.stdout
    bad = run("why-not", "status-enquiry", str(facts), "--policy", "demo", code=2)
    assert "has no rule 'status-enquiry'; did you mean 'status-inquiry'?" in bad.output


def test_why_not_json(run: Run, facts: Path) -> None:
    out = run(
        "why-not", "final-round", str(facts), "--policy", "demo", "--as-of", "2026-03-05",
        "--format", "json",
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["outcome"] == "failed"
    assert data["blocking"] == 2
    assert data["would_fire_if"] == [
        "would fire if stage were final (it is unknown)",
        "would fire if more_rounds_expected were false (it is unknown)",
    ]
    assert list(data)[:3] == ["applicant_id", "as_of", "policy"]


def test_why_not_on_the_default_policy(facts: Path) -> None:
    from followup.engine import load_policy
    from followup.engine._explain import why_not

    result = why_not(
        load_policy("interview-follow-up"),
        "move-on",
        {"interview_at": "2026-03-02", "last_status_inquiry_at": "2026-03-20"},
        as_of="2026-03-25",
    )
    assert result.hints == (
        "would fire if last_chased_at were on or before 2026-03-11, "
        "or with last_chased_at unchanged from 2026-04-03 on",
    )
