"""Authoring and auditing commands: explain, why-not, test, new-version,
release, policies, diff and replay. Each parses its options, calls one engine
function and picks a renderer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from followup.engine import PolicyError, load_policy, policy_dirs
from followup.engine._coverage import rule_coverage
from followup.engine._decision import Decision
from followup.engine._diff import cohort_impact, diff_policies
from followup.engine._explain import EXPLAIN_MODES, explain, why_not
from followup.engine._facts import normalize_facts
from followup.engine._log import LogError, append_decision, replay
from followup.engine._policy import semver_key, stray_policy_files
from followup.engine._releases import list_versions, new_version, release
from followup.engine._testing import load_tests, policy_for_tests, run_tests
from followup.engine._yaml import load_yaml

from . import FORMAT, _dirs
from ._audit_render import (
    coverage_text,
    diff_text,
    explain_text,
    impact_text,
    policies_text,
    replay_text,
    test_results_text,
    why_not_text,
)
from ._io import parse_as_of, read_facts
from ._options import AS_OF, note_as_of

__all__ = ["COMMANDS", "log_option"]

POLICY = click.option(
    "--policy",
    "policy_ref",
    default="interview-follow-up",
    show_default=True,
    help="NAME, NAME@VERSION or a policy file.",
)


def log_option(f: Any) -> Any:
    """``--log FILE``: append each decision to a decision log (JSON lines)."""
    return click.option(
        "--log",
        "log",
        type=click.Path(dir_okay=False),
        help="Append the decision to this log (one JSON line) for audit and `followup replay`.",
    )(f)


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def read_checked_facts(path: str, moment: Any) -> dict[str, Any]:
    """A facts file, validated with positions so errors point at its lines."""
    data, name, positions = read_facts(path)
    note_as_of(data, moment)
    normalize_facts(
        data,
        default_as_of=moment or "2000-01-01",
        file=name,
        locate=positions.of if positions else None,
    )
    return data  # type: ignore[no-any-return]


def write_log(log: str | None, facts: Any, policy: Any, decision: Decision) -> None:
    if log is None:
        return
    try:
        append_decision(log, facts, policy, decision)
    except LogError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("explain")
@click.argument("facts", type=click.Path(allow_dash=True))
@POLICY
@AS_OF
@click.option(
    "--mode",
    type=click.Choice(EXPLAIN_MODES),
    default="fired",
    show_default=True,
    help="fired: recommendations and the chain behind them; fails: rules that did not fire "
    "and why; full: everything, skipped conditions marked.",
)
@FORMAT
@log_option
@click.pass_context
def explain_cmd(
    ctx: click.Context,
    facts: str,
    policy_ref: str,
    as_of: str | None,
    mode: str,
    fmt: str,
    log: str | None,
) -> None:
    """Explain a decision: each recommendation, its dates and the rules and values behind it."""
    moment = parse_as_of(as_of)
    policy = load_policy(policy_ref, policies_dir=_dirs(ctx))
    data = read_checked_facts(facts, moment)
    expl = explain(policy, data, moment, mode)
    write_log(log, data, policy, Decision(dict(expl.decision)))
    if fmt == "json":
        _dump(expl.to_dict())
    else:
        click.echo(explain_text(expl))


@click.command("why-not")
@click.argument("rule_id")
@click.argument("facts", type=click.Path(allow_dash=True))
@POLICY
@AS_OF
@FORMAT
@click.pass_context
def why_not_cmd(
    ctx: click.Context, rule_id: str, facts: str, policy_ref: str, as_of: str | None, fmt: str
) -> None:
    """Why one rule did (not) fire: every condition with its values, and what would change it."""
    moment = parse_as_of(as_of)
    policy = load_policy(policy_ref, policies_dir=_dirs(ctx))
    data = read_checked_facts(facts, moment)
    result = why_not(policy, rule_id, data, moment)
    if fmt == "json":
        _dump(result.to_dict())
    else:
        click.echo(why_not_text(result))


@dataclass(frozen=True)
class _Untested:
    """A policy version without a test file next to it."""

    label: str
    policy: Path
    tests: Path

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.label, "file": str(self.policy), "tests": str(self.tests)}


def _untested_in(folder: Path) -> list[_Untested]:
    out = []
    for f in sorted(folder.rglob("*.yaml")):
        if f.name.endswith(".tests.yaml"):
            continue
        try:
            semver_key(f.stem)
        except ValueError:
            continue  # not a policy version (<name>/<semver>.yaml)
        t = f.with_name(f"{f.stem}.tests.yaml")
        if not t.is_file():
            out.append(_Untested(f"{f.parent.name} {f.stem}", f, t))
    return out


def _test_files(paths: tuple[str, ...], ctx: click.Context) -> list[Path | _Untested]:
    """The test files to run and, in their place, the policy versions that have none."""
    if not paths:
        found: list[Path | _Untested] = []
        for ref in list_versions(policy_dirs(_dirs(ctx))):
            t = ref.path.with_name(f"{ref.version}.tests.yaml")
            found.append(t if t.is_file() else _Untested(f"{ref.name} {ref.version}", ref.path, t))
        return found
    files: list[Path | _Untested] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.tests.yaml"))
            files += _untested_in(p)
        elif p.name.endswith(".tests.yaml"):
            if not p.is_file():
                raise click.UsageError(f"no test file at {p}")
            files.append(p)
        elif p.suffix in (".yaml", ".yml"):
            t = p.with_name(f"{p.stem}.tests.yaml")
            if not t.is_file():
                raise click.UsageError(f"{p} has no test file next to it ({t.name})")
            files.append(t)
        else:
            raise click.UsageError(f"{p} is neither a test file, a policy file nor a folder")
    return files


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT
@click.option(
    "--coverage", is_flag=True, help="Report rules the cases never fired or never failed."
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 100),
    help="Fail when fewer than this percentage of rules are covered (implies --coverage).",
)
@click.pass_context
def test_cmd(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    coverage: bool,
    min_coverage: float | None,
) -> None:
    """Run policy test cases (<version>.tests.yaml next to each policy).

    PATHS may be test files, policy files (their tests) or folders; without
    PATHS, the tests of every policy found. Policy versions without tests are
    listed as such. Exit 1 when a case fails, a test file cannot be run or
    coverage is below --min-coverage.
    """
    targets = _test_files(paths, ctx)
    files = [t for t in targets if isinstance(t, Path)]
    untested = [t for t in targets if isinstance(t, _Untested)]
    if not files:
        raise click.UsageError(
            "no test files found"
            + "".join(
                f"\n{u.label} has no tests: write {u.tests} (see docs/coach-guide.md)"
                for u in untested
            )
        )
    coverage = coverage or min_coverage is not None
    # in order: (file, policy label, results) run, (file, None, problems) not run, or untested
    report: list[tuple[str, str | None, list[Any]] | _Untested] = []
    covs = []
    for target in targets:
        if isinstance(target, _Untested):
            report.append(target)
            continue
        try:
            tests = load_tests(target)
            policy = policy_for_tests(tests, _dirs(ctx))
        except PolicyError as exc:  # the file is reported and the others still run
            report.append((str(target), None, list(exc.problems)))
            continue
        results = run_tests(policy, tests)
        report.append((str(target), f"{policy.name} {policy.version}", results))
        if coverage:
            covs.append(rule_coverage(policy, [r.decision for r in results if r.decision]))
    ran = [e for e in report if isinstance(e, tuple) and e[1] is not None]
    broken = [e for e in report if isinstance(e, tuple) and e[1] is None]
    passed = sum(1 for _, _, rs in ran for r in rs if r.passed)
    failed = sum(1 for _, _, rs in ran for r in rs if not r.passed)
    low = [c for c in covs if min_coverage is not None and c.percent < min_coverage]
    if fmt == "json":
        out: dict[str, Any] = {
            "files": [
                {
                    "file": f,
                    "policy": label,
                    "cases": [
                        {
                            "name": r.case.name,
                            "line": r.case.line,
                            "passed": r.passed,
                            "mismatches": [
                                {
                                    "where": m.where,
                                    "expected": m.expected,
                                    "actual": m.actual,
                                    "message": m.message,
                                }
                                for m in r.mismatches
                            ],
                            "problems": [p.to_dict() for p in r.problems],
                        }
                        for r in results
                    ],
                }
                if label is not None
                # a file that could not be run: its problems, no cases
                else {
                    "file": f,
                    "policy": None,
                    "cases": [],
                    "problems": [p.to_dict() for p in results],
                }
                for f, label, results in (e for e in report if isinstance(e, tuple))
            ],
            "summary": {
                "passed": passed,
                "failed": failed,
                "total": passed + failed,
                "files_not_run": len(broken),
            },
            "untested": [u.to_dict() for u in untested],
            "coverage": [c.to_dict() for c in covs] if coverage else None,
            "min_coverage": min_coverage,
        }
        _dump(out)
    else:
        lines: list[str] = []
        for entry in report:
            if isinstance(entry, _Untested):
                lines.append(f"{entry.policy} ({entry.label})")
                lines.append(
                    f"  NO TESTS: nothing checks this version; write {entry.tests.name} "
                    "next to it (see docs/coach-guide.md)"
                )
            elif entry[1] is None:
                lines.append(f"{entry[0]} (not run: {_plural(len(entry[2]), 'problem')})")
                lines += [f"  {p.render()}" for p in entry[2]]
            else:
                lines += test_results_text([(entry[0], entry[1], entry[2])])
        for c in covs:
            lines += coverage_text(c)
        lines.append(f"{passed} passed, {failed} failed")
        if broken:
            lines.append(
                f"{_plural(len(broken), 'test file')} could not be run: "
                + ", ".join(f for f, _, _ in broken)
            )
        if untested:
            lines.append(
                f"{_plural(len(untested), 'policy version')} without tests: "
                + ", ".join(u.label for u in untested)
            )
        for c in low:
            lines.append(
                f"coverage of {c.policy} is {c.percent:g}%, below --min-coverage {min_coverage:g}%"
            )
        click.echo("\n".join(lines))
    if failed or low or broken:
        ctx.exit(1)


@click.command("new-version")
@click.argument("name")
@click.option("--major", "part", flag_value="major", help="Next major version (x+1.0.0).")
@click.option(
    "--minor", "part", flag_value="minor", default=True, help="Next minor version (default)."
)
@click.option("--patch", "part", flag_value="patch", help="Next patch version (x.y.z+1).")
@FORMAT
@click.pass_context
def new_version_cmd(ctx: click.Context, name: str, part: str, fmt: str) -> None:
    """Copy the latest released version of a policy to the next version, as an editable draft."""
    made = new_version(name, part, policy_dirs(_dirs(ctx)))
    if fmt == "json":
        _dump(
            {
                "name": name,
                "version": made.version,
                "file": str(made.target),
                "copied_from": str(made.source),
                "tests": None if made.tests is None else str(made.tests),
            }
        )
        return
    click.echo(
        f"created {made.target} (version {made.version}, a draft copied from {made.source.name})"
    )
    if made.tests:
        click.echo(f"created {made.tests}")
    click.echo(
        "edit it, describe the change in its changelog, then: "
        f"followup release {name} {made.version}"
    )


@click.command("release")
@click.argument("name")
@click.argument("version")
@FORMAT
@click.pass_context
def release_cmd(ctx: click.Context, name: str, version: str, fmt: str) -> None:
    """Check a draft version and run its tests; if all pass, record its sha256 in RELEASES."""
    out = release(name, version, policy_dirs(_dirs(ctx)))
    if fmt == "json":
        _dump(
            {
                "name": name,
                "version": version,
                "file": str(out.path),
                "sha256": out.sha256,
                "released": out.released,
                "problems": [p.to_dict() for p in out.problems],
                "cases": out.cases,
                "failed_cases": out.failed_cases,
            }
        )
        if not out.released:
            ctx.exit(1)
        return
    if out.problems:
        click.echo("\n".join(p.render() for p in out.problems), err=True)
        click.echo(f"not released: {name} {version} has problems", err=True)
        ctx.exit(1)
    if out.failed_cases:
        tests = str(out.tests_path or out.path)
        failed = [(tests, f"{name} {version}", out.failed_results)]
        click.echo("\n".join(test_results_text(failed)), err=True)
        click.echo(
            f"not released: {len(out.failed_cases)} of {out.cases} test cases failed",
            err=True,
        )
        ctx.exit(1)
    click.echo(f"released {name} {version} (sha256 {out.sha256}); {out.cases} test cases passed")


@click.command("policies")
@FORMAT
@click.pass_context
def policies_cmd(ctx: click.Context, fmt: str) -> None:
    """Every policy version found (bundled, $FOLLOWUP_POLICIES, --policies-dir), released or draft."""
    dirs = policy_dirs(_dirs(ctx))
    versions = list_versions(dirs)
    skipped = stray_policy_files(dirs)
    if fmt == "json":
        _dump(
            {
                "policies": [v.to_dict() for v in versions],
                "skipped": [
                    {"file": p.file, "problem": p.message, "fix": p.suggestion} for p in skipped
                ],
            }
        )
    else:
        click.echo(policies_text(versions))
        for p in skipped:
            click.echo(f"skipped {p.file}: {p.message} ({p.suggestion})")


def read_cohort(path: str) -> list[dict[str, Any]]:
    """A cohort: CSV, JSON lines or Parquet (read as by ``batch``), a JSON list, or a YAML list."""
    if path.endswith((".csv", ".parquet", ".pq")):
        from followup.engine.batch import (
            InputSpec,
            RowError,
            UnreadableInput,
            detect_format,
            iter_facts,
        )

        try:
            return [facts for _, facts in iter_facts(InputSpec(path, detect_format(path, None)))]
        except UnreadableInput as exc:
            raise click.UsageError(str(exc)) from exc
        except RowError as exc:
            raise click.UsageError(f"{path}: a row cannot be read as facts: {exc}") from exc
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if path.endswith((".jsonl", ".ndjson")):
            rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
        elif path.endswith(".json"):
            rows = json.loads(raw)
        else:
            doc = load_yaml(raw, path)
            if doc.problems:
                raise PolicyError(doc.problems)
            rows = doc.data
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise click.UsageError(f"{path} must hold a list of facts (one mapping per applicant)")
    return rows


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--cohort",
    type=click.Path(dir_okay=False),
    help="Evaluate this cohort under both and report the impact.",
)
@AS_OF
@FORMAT
@click.pass_context
def diff_cmd(
    ctx: click.Context, old: str, new: str, cohort: str | None, as_of: str | None, fmt: str
) -> None:
    """What changed between two policies (NAME@VERSION or files), and with --cohort, for whom.

    Exits 1 when an applicant of the cohort could not be evaluated.
    """
    a = load_policy(old, policies_dir=_dirs(ctx))
    b = load_policy(new, policies_dir=_dirs(ctx))
    changes = diff_policies(a, b)
    impact = None
    if cohort is not None:
        impact = cohort_impact(a, b, read_cohort(cohort), parse_as_of(as_of))
    old_label, new_label = f"{a.name}@{a.version}", f"{b.name}@{b.version}"
    if fmt == "json":
        _dump(
            {
                "old": {"name": a.name, "version": a.version, "sha256": a.sha256},
                "new": {"name": b.name, "version": b.version, "sha256": b.sha256},
                "changes": [c.to_dict() for c in changes],
                "impact": impact.to_dict() if impact else None,
            }
        )
    else:
        click.echo(diff_text(old_label, new_label, changes))
        if impact is not None:
            click.echo(impact_text(impact))
    if impact is not None and impact.errors:
        ctx.exit(1)


@click.command("replay")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--policy", "policy_ref", help="Evaluate under this policy instead (NAME@VERSION or file)."
)
@FORMAT
@click.pass_context
def replay_cmd(ctx: click.Context, log: str, policy_ref: str | None, fmt: str) -> None:
    """Re-evaluate every decision in a log; exit 1 when any comes out different."""
    other = load_policy(policy_ref, policies_dir=_dirs(ctx)) if policy_ref else None
    try:
        outcome = replay(log, other, _dirs(ctx))
    except LogError as exc:  # the log itself cannot be read
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        _dump(outcome.to_dict())
    else:
        click.echo(replay_text(outcome))
    if outcome.differing:
        ctx.exit(1)


COMMANDS = (
    explain_cmd,
    why_not_cmd,
    test_cmd,
    new_version_cmd,
    release_cmd,
    policies_cmd,
    diff_cmd,
    replay_cmd,
)
