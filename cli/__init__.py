"""The ``followup`` command line: thin commands over :mod:`followup.engine`.

Each command parses its options, calls one engine function, picks a renderer
and sets the exit code: 0 all good, 1 problems found, 2 bad usage or
unreadable input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from followup._entry import held_signal
from followup.engine import (
    BUILD,
    ENGINE_VERSION,
    BackendUnavailable,
    FactsError,
    PolicyError,
    PolicyNotFound,
    check_policy_file,
    list_policy_files,
    load_policy,
    load_schema,
    policy_dirs,
)
from followup.engine._errors import Problem
from followup.engine._policy import stray_policy_files
from followup.engine._testing import check_tests_file
from followup.engine._yaml import load_yaml

from ._io import parse_as_of, read_facts
from ._options import AS_OF, BACKEND, note_as_of
from ._render import decision_text, problems_text
from .batch import batch_command

__all__ = ["main"]

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # the last line of defence: a user's mistake never shows a traceback
        try:
            return super().invoke(ctx)
        except (PolicyError, FactsError) as exc:
            click.echo(problems_text(exc.problems), err=True)
            ctx.exit(1)
        except (PolicyNotFound, BackendUnavailable) as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            # Ctrl-C: one line and exit 130, as `followup batch` and the
            # entry point say it (not Click's "Aborted!" and exit 1)
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    ENGINE_VERSION, prog_name="followup", message=f"%(prog)s, version %(version)s ({BUILD} build)"
)
@click.option(
    "--policies-dir",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra folder of policies (<name>/<version>.yaml), searched before $FOLLOWUP_POLICIES and the bundled ones.",
)
@click.pass_context
def main(ctx: click.Context, policies_dir: tuple[str, ...]) -> None:
    """Explainable advice on when and how to follow up after a job interview."""
    ctx.obj = {"policies_dir": policies_dir}
    if ctx.invoked_subcommand != batch_command.name:  # the batch acts on it itself
        _act_on_held_signal()


def _act_on_held_signal() -> None:
    """The command starts: a Ctrl-C or SIGTERM held back while the CLI was
    loading (see ``followup._entry``) is acted upon now, with the usual
    handlers back (Ctrl-C says "interrupted", SIGTERM ends the process)."""
    held = held_signal()
    if held is not None:
        signal.raise_signal(held)


def _dirs(ctx: click.Context) -> tuple[str, ...]:
    return tuple(ctx.obj.get("policies_dir", ())) if ctx.obj else ()


def _tests_kind(path: Path) -> str | None:
    """ "named" for a ``*.tests.yaml`` file, "content" for another file that
    holds test cases (``cases:`` and no rules), else None (a policy)."""
    if path.name.endswith(".tests.yaml"):
        return "named"
    try:
        data = load_yaml(path.read_bytes()).data
    except OSError:
        return None
    if (
        isinstance(data, dict)
        and "cases" in data
        and "rules" not in data
        and not isinstance(data.get("policy"), dict)
    ):
        return "content"
    return None


def _check_file(path: Path, ctx: click.Context) -> tuple[str, list[Problem]]:
    """("policy" or "tests", every problem in the file)."""
    kind = _tests_kind(path)
    if kind == "named":
        return "tests", check_tests_file(path, _dirs(ctx))
    if kind == "content":
        return "tests", [
            Problem(
                "misnamed-tests",
                "this file holds test cases (cases:), not a policy, but its name does not "
                "end in .tests.yaml",
                "",
                str(path),
                1,
                1,
                "name it after the policy it tests (1.0.0.yaml is tested by 1.0.0.tests.yaml "
                "next to it), then check it again or run it with `followup test FILE`",
            )
        ]
    return "policy", check_policy_file(path)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Check policy files and test files and report every problem with file:line:column.

    Without PATHS, checks every policy found (bundled, $FOLLOWUP_POLICIES and
    --policies-dir). A test file (<version>.tests.yaml) is checked without
    running its cases: its form, its facts, and every rule, caution, action,
    template and derived fact it names. Exit 0 when all are valid, 1 when
    problems were found, 2 when a file cannot be read.
    """
    files = [Path(p) for p in paths] or [r.path for r in list_policy_files(policy_dirs(_dirs(ctx)))]
    for f in files:
        if not f.is_file():
            raise click.UsageError(f"no policy file at {f}")
    checked = {str(f): _check_file(f, ctx) for f in files}
    if not paths:  # files in the policy folders that would never be read
        for stray in stray_policy_files(policy_dirs(_dirs(ctx))):
            checked[str(stray.file)] = ("policy", [stray])
    results = {f: probs for f, (_, probs) in checked.items()}
    unreadable = any(p.code == "unreadable" for probs in results.values() for p in probs)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "files": [
                        {
                            "file": f,
                            "kind": kind,
                            "ok": not probs,
                            "problems": [p.to_dict() for p in probs],
                        }
                        for f, (kind, probs) in checked.items()
                    ]
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for f, probs in results.items():
            if probs:
                click.echo(problems_text(probs))
            elif checked[f][0] == "tests":
                click.echo(f"{f}: ok (a test file; run its cases with `followup test {f}`)")
            else:
                click.echo(f"{f}: ok")
        bad = sum(1 for probs in results.values() if probs)
        total = sum(len(probs) for probs in results.values())
        if bad:
            click.echo(
                f"{total} problem{'s' if total != 1 else ''} in {bad} of {len(results)} files",
                err=True,
            )
    if unreadable:
        ctx.exit(2)
    if any(results.values()):
        ctx.exit(1)


@main.command()
@click.argument("facts", type=click.Path(allow_dash=True))
@click.option(
    "--policy",
    "policy_ref",
    default="interview-follow-up",
    show_default=True,
    help="NAME, NAME@VERSION or a policy file.",
)
@AS_OF
@FORMAT
@click.option(
    "--log",
    "log",
    type=click.Path(dir_okay=False),
    help="Append the decision to this log (one JSON line) for audit and `followup replay`.",
)
@BACKEND
@click.pass_context
def evaluate(
    ctx: click.Context,
    facts: str,
    policy_ref: str,
    as_of: str | None,
    fmt: str,
    log: str | None,
    backend: str,
) -> None:
    """Say what to do after one interview, when, and which rules say so."""
    moment = parse_as_of(as_of)
    policy = load_policy(policy_ref, policies_dir=_dirs(ctx), backend=backend)
    data, name, positions = read_facts(facts)
    note_as_of(data, moment)
    decision = policy.evaluate(
        data, as_of=moment, file=name, locate=positions.of if positions else None
    )
    if log is not None:
        from .audit import write_log

        write_log(log, data, policy, decision)
    if fmt == "json":
        click.echo(decision.to_json(indent=2))
    else:
        click.echo(decision_text(decision.to_dict(), policy))


@main.command()
@click.argument("name", type=click.Choice(["policy", "facts", "decision", "tests"]))
def schema(name: str) -> None:
    """Print a JSON Schema (for editors and other tools)."""
    click.echo(json.dumps(load_schema(name), indent=2, ensure_ascii=False))


main.add_command(batch_command)

# authoring and auditing commands (cli/audit.py)
from .audit import COMMANDS as _AUDIT_COMMANDS  # noqa: E402

for _command in _AUDIT_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
