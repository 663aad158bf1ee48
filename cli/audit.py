"""Authoring and auditing commands: explain, why-not, test, new-version,
release, policies, diff and replay. Each parses its options, calls one engine
function and picks a renderer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from followup.engine import PolicyError, Problem, load_policy, policy_dirs
from followup.engine._coverage import rule_coverage
from followup.engine._decision import Decision
from followup.engine._diff import (
    CohortError,
    cohort_impact,
    decision_changes,
    diff_policies,
    read_cohort,
)
from followup.engine._explain import EXPLAIN_MODES, explain, why_not
from followup.engine._facts import normalize_facts
from followup.engine._log import (
    LogError,
    append_decision,
    find_logged,
    is_released,
    log_key,
    logged_policy,
    not_a_log,
    replay,
    replay_batch,
    sniff,
)
from followup.engine._policy import semver_key, stray_policy_files
from followup.engine._releases import (
    MISNAMED_TESTS,
    POLICY_NAME,
    InstalledFolder,
    NoFolderGiven,
    ReleaseOutcome,
    command_for,
    copied_releases_problem,
    list_versions,
    misnamed_tests,
    new_policy,
    new_version,
    release,
)
from followup.engine._testing import load_tests, policy_for_tests, run_tests

from . import FORMAT, _dirs, env_dirs, tests_kind, user_dirs
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
        append_decision(log, facts, policy, decision, log_key())
    except LogError as exc:
        raise click.ClickException(str(exc)) from exc
    if not is_released(policy):
        words = f"release {policy.name} {policy.version}"
        path = Path(policy.path or ".")
        laid_out = path.parent.name == policy.name and path.stem == policy.version
        click.echo(
            f"note: {policy.name} {policy.version} is a draft (not released); the logged "
            "decision replays only while the draft stays unchanged: release it with "
            f"`{command_for(path.parent.parent, words) if laid_out else 'followup ' + words}` "
            "before logging",
            err=True,
        )


LINE = click.option(
    "--line",
    type=click.IntRange(min=1),
    help="FACTS is a decision log: explain the decision logged at this line.",
)
DECISION_ID = click.option(
    "--id",
    "decision_id",
    help="FACTS is a decision log: explain the decision with this decision_id.",
)


def _not_facts(path: str, line: int | None, decision_id: str | None, example: str) -> None:
    """Refuse a decision log or a batch's output given as FACTS without --line/--id
    (and --line/--id with a file that is not a log), saying what to run instead
    (``example``: the command with FACTS replaced by ``{}``)."""
    kind = sniff(path) if path != "-" else "other"
    if line is None and decision_id is None:
        if kind == "log":
            raise click.UsageError(
                f"{path} is a decision log, not a facts file: name one of its decisions "
                f"with --line N or --id DECISION_ID, e.g. {example.format(path)} --line 1"
            )
        if kind in ("batch", "batch-csv"):
            raise click.UsageError(
                f"{path} is the output of followup batch (decisions, not facts): give the "
                "facts of one applicant, a row of the batch's input saved as a facts file"
            )
    elif kind != "log" and not (kind == "other" and not_a_log(path) is None):
        # (a log whose first line is damaged is still a log: find_logged names the line)
        raise click.UsageError(
            f"--line and --id name a decision in a decision log, and {path} is not one "
            "(written by followup evaluate --log); give the log, or leave them out"
        )


def _logged(
    ctx: click.Context, path: str, line: int | None, decision_id: str | None
) -> tuple[Any, Any]:
    """(record, policy) of a logged decision, with the policy version it was made with.

    Refuses (exit 1) a policy file whose sha256 is not the logged one, and
    options that would evaluate otherwise than the log says.
    """
    if line is not None and decision_id is not None:
        raise click.UsageError("give --line or --id, not both")
    for name in ("policy_ref", "as_of", "log"):
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            option = {"policy_ref": "--policy", "as_of": "--as-of", "log": "--log"}[name]
            raise click.UsageError(
                f"{option} cannot be given with --line or --id: a logged decision is "
                "explained with the policy version and the moment it was made with"
            )
    try:
        entry = find_logged(path, line, decision_id)
    except LogError as exc:
        raise click.UsageError(str(exc)) from exc
    record = entry.record
    assert record is not None
    policy = logged_policy(record, _dirs(ctx))
    where = f"the decision at line {entry.number} of {path}"
    if isinstance(policy, str):
        raise click.ClickException(f"cannot explain {where}: {policy}")
    return {**record, "line": entry.number}, policy


def _same_as_logged(record: Any, decision: Any, path: str) -> None:
    """Refuse to explain a decision that does not come out as it was logged."""
    changes = decision_changes(record["decision"], json.loads(json.dumps(decision)), strict=True)
    if changes:
        raise click.ClickException(
            f"the decision at line {record['line']} of {path} does not come out as it was "
            f"logged ({changes[0].text()}), so no explanation is that decision's; "
            f"followup replay {path} lists every difference"
        )


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
@LINE
@DECISION_ID
@click.pass_context
def explain_cmd(
    ctx: click.Context,
    facts: str,
    policy_ref: str,
    as_of: str | None,
    mode: str,
    fmt: str,
    log: str | None,
    line: int | None,
    decision_id: str | None,
) -> None:
    """Explain a decision: each recommendation, its dates and the rules and values behind it.

    FACTS is a facts file, or a decision log with --line or --id: the logged
    decision is then explained with the policy version it was made with
    (refused when that file's sha256 differs, or the decision does not come
    out as logged).

    Examples:

    \b
      followup explain facts.yaml
      followup explain facts.yaml --mode full --policy interview-follow-up@1.0.0
      followup explain audit-log.jsonl --line 7
      followup explain audit-log.jsonl --id 0f6bd7e05a294cb1bfc617624d5e6292 --mode fails
    """
    _not_facts(facts, line, decision_id, "followup explain {}")
    if line is not None or decision_id is not None:
        record, policy = _logged(ctx, facts, line, decision_id)
        expl = explain(policy, record["facts"], record["as_of"], mode)
        _same_as_logged(record, expl.decision, facts)
        if fmt == "json":
            _dump(expl.to_dict())
        else:
            click.echo(
                f"Logged decision {record['decision_id']} (line {record['line']} of {facts}, "
                f"logged {record.get('logged_at') or 'at an unknown time'})"
            )
            click.echo(explain_text(expl))
        return
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
@LINE
@DECISION_ID
@click.pass_context
def why_not_cmd(
    ctx: click.Context,
    rule_id: str,
    facts: str,
    policy_ref: str,
    as_of: str | None,
    fmt: str,
    line: int | None,
    decision_id: str | None,
) -> None:
    """Why one rule did (not) fire: every condition with its values, and what would change it.

    FACTS is a facts file, or a decision log with --line or --id (as for
    explain).

    Examples:

    \b
      followup why-not status-inquiry facts.yaml
      followup why-not final-stage-interest facts.yaml --as-of 2026-03-09
      followup why-not status-inquiry audit-log.jsonl --line 7
    """
    _not_facts(facts, line, decision_id, f"followup why-not {rule_id} {{}}")
    if line is not None or decision_id is not None:
        record, policy = _logged(ctx, facts, line, decision_id)
        result = why_not(policy, rule_id, record["facts"], record["as_of"])
        _same_as_logged(record, result.decision, facts)
    else:
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


@dataclass(frozen=True)
class _NotRun:
    """A test file that is not run, and why (a name ``followup test`` does not read)."""

    file: Path
    problems: list[Problem]


def _misnamed(found: Path) -> _NotRun:
    """A test file next to a policy version whose name keeps it from being read."""
    stem = next(found.name[: -len(e)] for e in MISNAMED_TESTS if found.name.endswith(e))
    return _NotRun(
        found,
        [
            Problem(
                "misnamed-tests",
                f"{found.name} is not read: a test file is named <version>.tests.yaml "
                "(.tests, then .yaml)",
                "",
                str(found),
                suggestion=f"rename it to {stem}.tests.yaml",
                value=found.name,
            )
        ],
    )


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
        if not t.is_file() and misnamed_tests(f) is None:  # a misnamed one is said so
            out.append(_Untested(f"{f.parent.name} {f.stem}", f, t))
    return out


Target = Path | _Untested | _NotRun


def _test_files(paths: tuple[str, ...], ctx: click.Context) -> list[Target]:
    """The test files to run and, in their place, the policy versions that have
    none and the test files that are misnamed."""
    if not paths:
        found: list[Target] = []
        for ref in list_versions(policy_dirs(_dirs(ctx))):
            t = ref.path.with_name(f"{ref.version}.tests.yaml")
            wrong = misnamed_tests(ref.path)
            if t.is_file():
                found.append(t)
            elif wrong is not None:
                found.append(_misnamed(wrong))
            else:
                found.append(_Untested(f"{ref.name} {ref.version}", ref.path, t))
        return found
    files: list[Target] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.tests.yaml"))
            files += [_misnamed(f) for e in MISNAMED_TESTS for f in sorted(p.rglob(f"*{e}"))]
            files += _untested_in(p)
        elif p.name.endswith(".tests.yaml"):
            if not p.is_file():
                raise click.UsageError(f"no test file at {p}")
            files.append(p)
        elif not p.is_file():
            raise click.UsageError(f"no file or folder at {p}")
        elif p.name.endswith(MISNAMED_TESTS) or (
            p.suffix in (".yaml", ".yml") and tests_kind(p) == "content"
        ):
            # named on the command line: run, whatever its name (`check` says to rename it)
            files.append(p)
            ending = next((e for e in MISNAMED_TESTS if p.name.endswith(e)), None)
            if ending is not None:
                click.echo(
                    f"note: {p.name} runs because you named it, but `followup test` and "
                    "`followup release` look for <version>.tests.yaml: rename it to "
                    f"{p.name[: -len(ending)]}.tests.yaml",
                    err=True,
                )
        elif p.suffix in (".yaml", ".yml"):
            t = p.with_name(f"{p.stem}.tests.yaml")
            wrong = misnamed_tests(p)
            if t.is_file():
                files.append(t)
            elif wrong is not None:
                files.append(_misnamed(wrong))
            else:
                raise click.UsageError(f"{p} has no test file next to it ({t.name})")
        else:
            raise click.UsageError(f"{p} is neither a test file, a policy file nor a folder")
    return files


def _write_tests(untested: _Untested) -> str:
    """How to give a policy version tests, with what an installed followup has."""
    return (
        f"write {untested.tests.name} next to it "
        "(`followup schema tests` gives its form; `followup new-policy` copies a policy with its tests)"
    )


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
    listed as such; a test file named otherwise (1.0.0.tests.yml) is not read
    and is said to need renaming, unless you name it yourself. Exit 1 when a
    case fails, a test file cannot be run or coverage is below --min-coverage.

    \b
    Examples:
      followup test                                  # every policy found
      followup test my-policies/acme --coverage
      followup test my-policies/acme/1.1.0.yaml      # the tests of one version
      followup test cases.yaml --format json         # a file of cases with policy: NAME@VERSION
    """
    targets = _test_files(paths, ctx)
    files = [t for t in targets if not isinstance(t, _Untested)]
    untested = [t for t in targets if isinstance(t, _Untested)]
    if not files:
        raise click.UsageError(
            "no test files found"
            + "".join(f"\n{u.label} has no tests: {_write_tests(u)}" for u in untested)
        )
    coverage = coverage or min_coverage is not None
    # in order: (file, policy label, results) run, (file, None, problems) not run, or untested
    report: list[tuple[str, str | None, list[Any]] | _Untested] = []
    covs = []
    for target in targets:
        if isinstance(target, _Untested):
            report.append(target)
            continue
        if isinstance(target, _NotRun):
            report.append((str(target.file), None, target.problems))
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
                lines.append(f"  NO TESTS: nothing checks this version; {_write_tests(entry)}")
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


def _into(default: str) -> Any:
    """``--into DIR``: the folder of the user's own policies to write in."""
    return click.option(
        "--into",
        type=click.Path(file_okay=False),
        help=f"Folder of your own policies to write in (DIR/NAME/); default: {default}.",
    )


def _in_env(folder: Path) -> bool:
    """Whether followup finds the policies of ``folder`` without --policies-dir."""
    return any(folder.resolve() == d.resolve() for d in env_dirs())


def _with_dir(folder: Path, command: str) -> str:
    """A followup command for policies in ``folder``, with --policies-dir when it is needed."""
    return command if _in_env(folder) else f"followup --policies-dir {folder} {command[9:]}"


def _written(action: Any, option: str = "--into") -> Any:
    """Run ``action``; a folder that cannot be written, or one inside the installed
    package (``option`` named it), is said, not shown as a traceback."""
    try:
        return action()
    except InstalledFolder as exc:
        raise click.UsageError(
            f"{option} names {exc.folder.parent}, a folder inside followup's installed "
            "package, which is never written: choose a folder of your own (--into DIR)"
        ) from exc
    except OSError as exc:
        where = exc.filename or "the folder"
        raise click.UsageError(
            f"cannot write {where}: {exc.strerror or exc}; choose a folder of your own with --into"
        ) from exc


@click.command("new-version")
@click.argument("name")
@click.option("--major", "part", flag_value="major", help="Next major version (x+1.0.0).")
@click.option(
    "--minor", "part", flag_value="minor", default=True, help="Next minor version (default)."
)
@click.option("--patch", "part", flag_value="patch", help="Next patch version (x.y.z+1).")
@_into(
    "next to the release, or for a policy installed with followup, the first folder of "
    "--policies-dir and $FOLLOWUP_POLICIES"
)
@FORMAT
@click.pass_context
def new_version_cmd(ctx: click.Context, name: str, part: str, fmt: str, into: str | None) -> None:
    """Copy the latest released version of a policy to the next version, as an editable draft.

    The draft is written next to that release, in your own folder of
    policies. When the release is one of the policies installed with
    followup, the draft goes in --into DIR, or else in the first folder of
    --policies-dir and $FOLLOWUP_POLICIES; the release, its tests and its
    RELEASES line are copied there too, so that the folder holds the whole
    policy and `followup release` records the new version there.

    \b
    Examples:
      followup new-version acme                      # 1.0.0 -> 1.1.0, next to 1.0.0
      followup new-version acme --patch              # 1.0.0 -> 1.0.1
      followup new-version interview-follow-up --into my-policies
      FOLLOWUP_POLICIES=my-policies followup new-version interview-follow-up --major
    """
    mine = user_dirs(ctx)
    _into_a_policy(into)
    try:
        made = _written(
            lambda: new_version(
                name,
                part,
                policy_dirs(_dirs(ctx)),
                into=None if into is None else Path(into),
                fallback=mine[0] if mine else None,
            ),
            "--into" if into is not None else _whence(ctx),
        )
    except NoFolderGiven as exc:
        raise click.UsageError(
            f"the latest release of '{name}' is installed with followup ({exc.source}), "
            "which is no place for your versions: say where to write the new one with "
            "--into DIR (a folder of your own), or --policies-dir DIR"
        ) from exc
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
    if made.copied:
        click.echo(
            f"copied {', '.join(f.name for f in made.copied)} from {made.source.parent}: "
            f"{made.target.parent} now holds the whole policy"
        )
    root = made.target.parent.parent
    click.echo(
        "edit it, describe the change in its changelog, then: "
        + _with_dir(root, f"followup release {name} {made.version}")
    )


def _into_a_policy(into: str | None) -> None:
    """Refuse ``--into`` naming one policy's own folder (``my-policies/acme``): the
    new files would land a level too deep, where followup never looks."""
    from . import _folder_problem

    problem = None if into is None else _folder_problem(Path(into), "--into ")
    if problem is not None and " itself; " in problem:
        raise click.BadParameter(problem, param_hint="'--into'")


def _whence(ctx: click.Context) -> str:
    """Where the first folder of the user's own comes from, to name it in a message."""
    return "--policies-dir" if _dirs(ctx) else "$FOLLOWUP_POLICIES"


def _policy_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not POLICY_NAME.match(value):
        raise click.BadParameter(
            f"'{value}' cannot name a policy: use lower-case letters and digits, words "
            "joined by - (e.g. acme-coaching)"
        )
    return value


@click.command("new-policy")
@click.argument("name", callback=_policy_name)
@click.option(
    "--from",
    "source",
    default="interview-follow-up",
    show_default=True,
    help="The policy to start from: NAME (its latest release), NAME@VERSION or a policy file.",
)
@_into("the first folder of --policies-dir and $FOLLOWUP_POLICIES")
@FORMAT
@click.pass_context
def new_policy_cmd(ctx: click.Context, name: str, source: str, into: str | None, fmt: str) -> None:
    """Start a policy of your own as a copy of another: NAME/1.0.0.yaml, a draft.

    The copy has your policy's name, version 1.0.0 and one changelog entry
    saying where it came from; its tests are copied too, now testing the
    copy. It has no RELEASES: its history starts when you release it. It is
    written in --into DIR, or else in the first folder of --policies-dir and
    $FOLLOWUP_POLICIES.

    \b
    Examples:
      followup new-policy acme --into my-policies
      FOLLOWUP_POLICIES=my-policies followup new-policy acme
      followup --policies-dir my-policies new-policy acme-tech --from acme@1.2.0
    """
    mine = user_dirs(ctx)
    if into is None and not mine:
        raise click.UsageError(
            f"say where to create '{name}': --into DIR (a folder of your own policies), or "
            "--policies-dir DIR; the policies installed with followup are no place for it"
        )
    _into_a_policy(into)
    folder = Path(into) if into is not None else mine[0]
    made = _written(
        lambda: new_policy(name, source, policy_dirs(_dirs(ctx)), folder),
        "--into" if into is not None else _whence(ctx),
    )
    if fmt == "json":
        _dump(
            {
                "name": name,
                "version": "1.0.0",
                "file": str(made.target),
                "tests": None if made.tests is None else str(made.tests),
                "copied_from": str(made.source),
                "from": {"name": made.source_name, "version": made.source_version},
            }
        )
        return
    click.echo(
        f"created {made.target} ({name} 1.0.0, a draft copied from "
        f"{made.source_name} {made.source_version})"
    )
    if made.tests is not None:
        click.echo(f"created {made.tests} (its tests, now testing {name})")
    click.echo(f"next: edit {made.target}, and say in its changelog what you changed and why;")
    click.echo(f"  followup check {made.target}")
    click.echo("  " + _with_dir(folder, f"followup test {made.target.parent}"))
    click.echo("  " + _with_dir(folder, f"followup release {name} 1.0.0"))


@click.command("release")
@click.argument("name")
@click.argument("version")
@FORMAT
@click.pass_context
def release_cmd(ctx: click.Context, name: str, version: str, fmt: str) -> None:
    """Check a draft version and run its tests; if all pass, record its sha256 in RELEASES.

    RELEASES is written next to the version's file; from then on that file
    never changes (`followup new-version` starts the next one).

    \b
    Examples:
      followup release acme 1.0.0
      followup --policies-dir my-policies release acme 1.1.0
      followup release acme 1.1.0 --format json
    """
    try:
        out = _written(lambda: release(name, version, policy_dirs(_dirs(ctx))))
    except PolicyError as exc:
        if fmt != "json":
            raise
        out = ReleaseOutcome(name, version, Path(exc.problems[0].file or ""))
        out.problems = list(exc.problems)
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
    """Every policy version found (bundled, $FOLLOWUP_POLICIES, --policies-dir), released or draft.

    \b
    Examples:
      followup policies
      followup --policies-dir my-policies policies
      followup policies --format json
    """
    dirs = policy_dirs(_dirs(ctx))
    versions = list_versions(dirs)
    skipped = stray_policy_files(dirs)
    # one version of each folder: a RELEASES copied from another policy is said once
    firsts = {v.path.parent: v.path for v in reversed(versions)}
    copied = [p for p in map(copied_releases_problem, sorted(firsts.values())) if p is not None]
    if fmt == "json":
        _dump(
            {
                "policies": [v.to_dict() for v in versions],
                "skipped": [
                    {"file": p.file, "problem": p.message, "fix": p.suggestion} for p in skipped
                ],
                "problems": [p.to_dict() for p in copied],
            }
        )
    else:
        lines = policies_text(versions).split("\n") if versions else [policies_text(versions)]
        for i, v in enumerate(versions):
            if v.copied_from is not None:  # its state is another policy's, not its own
                state = {"released": f"released {v.released or ''}".rstrip(), "draft": "draft"}
                old = state.get(v.status, "CHANGED since release")
                lines[i] = lines[i].replace(
                    f"  {old}  ", f"  RELEASES copied from {v.copied_from}  ", 1
                )
        click.echo("\n".join(lines))
        for p in skipped:
            click.echo(f"skipped {p.file}: {p.message} ({p.suggestion})")
        for p in copied:
            click.echo(f"note: {p.file}: {p.message} ({p.suggestion})")


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--cohort",
    type=click.Path(dir_okay=False),
    help="Evaluate this cohort under both and report the impact: CSV, JSON lines or Parquet "
    "(read as followup batch reads them), a JSON list or a YAML list.",
)
@AS_OF
@FORMAT
@click.pass_context
def diff_cmd(
    ctx: click.Context, old: str, new: str, cohort: str | None, as_of: str | None, fmt: str
) -> None:
    """What changed between two policies (NAME@VERSION or files), and with --cohort, for whom.

    A row of the cohort that cannot be read or evaluated is reported as
    FILE:LINE: code: message, and the other rows are evaluated all the same;
    exits 1 when there was such a row, 2 when the cohort cannot be read at all.

    Examples:

    \b
      followup --policies-dir my-policies diff acme@1.0.0 acme@1.1.0
      followup diff demo@1.0.0 policies/demo/1.1.0.yaml --format json
      followup diff demo@1.0.0 demo@1.1.0 --cohort cohort.csv --as-of 2026-03-05
    """
    a = load_policy(old, policies_dir=_dirs(ctx))
    b = load_policy(new, policies_dir=_dirs(ctx))
    changes = diff_policies(a, b)
    impact = None
    if cohort is not None:
        moment = parse_as_of(as_of)
        try:
            impact = cohort_impact(a, b, read_cohort(cohort, lists=True), moment, file=cohort)
        except CohortError as exc:  # the file as a whole
            raise click.UsageError(str(exc)) from exc
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


def _replay_kind(path: str, cohort: str | None) -> None:
    """Refuse, with what to run instead, a file the replay asked for cannot check."""
    kind = sniff(path)
    if kind == "batch-csv":
        raise click.UsageError(
            f"{path} is the CSV output of followup batch, which does not record the policy "
            "version of each decision; replay the JSON lines output (--output-format jsonl, "
            "the default) with --input COHORT (the batch's input file)"
        )
    if kind == "batch" and cohort is None:
        raise click.UsageError(
            f"{path} is batch output, not a decision log: replay it with --input COHORT "
            "(the batch's input file)"
        )
    if kind == "log" and cohort is not None:
        raise click.UsageError(
            f"{path} is a decision log, which holds the facts of each decision: replay it "
            "without --input"
        )
    found = not_a_log(path) if kind == "other" else None
    if found is not None:
        what, words = found
        wanted = "a decision log" if cohort is None else "the decisions of followup batch"
        hint = {
            "csv": "to replay a batch give its decisions and --input {}",
            "parquet": "to replay a batch give its decisions and --input {}",
            "facts": "to replay a batch give its decisions and --input {}",
            "yaml": "facts are explained with followup explain {}",
            "errors": "give it with --errors, after the batch's decisions and --input COHORT",
        }.get(what, "give the log that followup evaluate --log wrote")
        if cohort is not None and what in ("csv", "parquet", "facts"):
            hint = "give the batch's decisions first, then its input with --input {}"
        raise click.UsageError(
            f"{path} is not {wanted}: its first line is {words}; {hint.format(path)}"
        )


@click.command("replay")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--policy", "policy_ref", help="Evaluate under this policy instead (NAME@VERSION or file)."
)
@click.option(
    "--input",
    "cohort",
    type=click.Path(dir_okay=False),
    help="LOG is the output of followup batch: replay it against this input of the batch "
    "(CSV, JSON lines or Parquet).",
)
@click.option(
    "--errors",
    type=click.Path(dir_okay=False),
    help="With --input: the batch's errors file, which names the rows that have no decision.",
)
@click.option(
    "--input-format",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    help="With --input: its format, when its extension does not say.",
)
@FORMAT
@click.pass_context
def replay_cmd(
    ctx: click.Context,
    log: str,
    policy_ref: str | None,
    cohort: str | None,
    errors: str | None,
    input_format: str | None,
    fmt: str,
) -> None:
    """Re-evaluate every decision in a log, and check its chain; exit 1 when any decision
    comes out different, the chain is broken, or LOG holds no decisions.

    LOG is a decision log (followup evaluate --log), or with --input the
    decisions of followup batch, whose rows are evaluated again with the
    policy version and as_of each decision line names and compared with it
    byte for byte. Set FOLLOWUP_LOG_KEY to check the lines' seals.

    Examples:

    \b
      followup replay audit-log.jsonl
      followup replay audit-log.jsonl --policy interview-follow-up@1.1.0
      followup replay decisions.jsonl --input cohort.csv --errors errors.jsonl
      followup replay audit-log.jsonl --format json > replay-record.json
    """
    if cohort is None and (errors is not None or input_format is not None):
        raise click.UsageError("--errors and --input-format go with --input COHORT")
    _replay_kind(log, cohort)
    other = load_policy(policy_ref, policies_dir=_dirs(ctx)) if policy_ref else None
    try:
        if cohort is None:
            outcome = replay(log, other, _dirs(ctx), log_key())
        else:
            outcome = replay_batch(log, cohort, other, _dirs(ctx), errors, input_format)
    except (LogError, CohortError) as exc:  # a file itself cannot be read
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        _dump(outcome.to_dict())
    else:
        click.echo(replay_text(outcome))
    if not outcome.ok:
        ctx.exit(1)


COMMANDS = (
    explain_cmd,
    why_not_cmd,
    test_cmd,
    new_version_cmd,
    new_policy_cmd,
    release_cmd,
    policies_cmd,
    diff_cmd,
    replay_cmd,
)
