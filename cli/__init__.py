"""The ``followup`` command line: thin commands over :mod:`followup.engine`.

Each command parses its options, calls one engine function, picks a renderer
and sets the exit code: 0 all good, 1 problems found, 2 bad usage or
unreadable input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import re
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
from followup.engine._errors import Problem, did_you_mean
from followup.engine._policy import bundled_policies_dir, env_policy_dirs, stray_policy_files
from followup.engine._testing import check_tests_file
from followup.engine._yaml import load_yaml

from ._io import parse_as_of, read_facts
from ._options import AS_OF, BACKEND, note_as_of
from ._render import decision_text, problems_text
from .batch import batch_command

__all__ = ["main"]

#: where the chosen --format is kept for the group (ctx.meta is shared by nested contexts)
_FORMAT_KEY = "followup.format"


def _remember_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Keep the chosen format where the group finds it: a problem that stops a
    command is then reported in JSON when JSON was asked for."""
    ctx.meta[_FORMAT_KEY] = value
    return value


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
    callback=_remember_format,
)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # the last line of defence: a user's mistake never shows a traceback
        try:
            return super().invoke(ctx)
        except (PolicyError, FactsError) as exc:
            if ctx.meta.get(_FORMAT_KEY) == "json":  # as `check --format json` reports them
                report = {
                    "ok": False,
                    "stage": exc.stage,
                    "problems": [p.to_dict() for p in exc.problems],
                }
                click.echo(json.dumps(report, indent=2, ensure_ascii=False))
            else:
                click.echo(problems_text(exc.problems), err=True)
            ctx.exit(1)
        except PolicyNotFound as exc:
            message = _not_found(str(exc), _dirs(ctx))
            click.echo(f"Error: {message}", err=True)
            ctx.exit(2)
        except BackendUnavailable as exc:
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
    if not ctx.resilient_parsing:
        _check_folders(policies_dir)
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


env_dirs = env_policy_dirs  # the folders $FOLLOWUP_POLICIES names, in order


def user_dirs(ctx: click.Context) -> list[Path]:
    """The user's own folders of policies: --policies-dir, then $FOLLOWUP_POLICIES."""
    return [Path(d) for d in _dirs(ctx)] + env_dirs()


def searched_folders(given: tuple[str, ...]) -> list[tuple[Path, str]]:
    """(folder, where it comes from) for each folder policies are looked up in."""
    return (
        [(Path(d), "--policies-dir") for d in given]
        + [(d, "$FOLLOWUP_POLICIES") for d in env_dirs()]
        + [(bundled_policies_dir(), "bundled")]
    )


def _not_found(message: str, given: tuple[str, ...]) -> str:
    """A policy that is not found, with where it was looked for: the folders
    searched, or that no folder of the user's own was (unless a close name is
    already suggested)."""
    if not message.startswith("no policy named") or "searched" in message:
        return message
    if given or env_dirs():
        return (
            message
            + "; folders searched: "
            + ", ".join(f"{d} ({where})" for d, where in searched_folders(given))
        )
    if "did you mean" in message:
        return message
    return (
        message + "; only the policies installed with followup were searched: give the folder "
        "of your own with --policies-dir DIR or $FOLLOWUP_POLICIES"
    )


def _own_versions(folder: Path) -> bool:
    """Whether ``folder`` holds policy versions itself (``<version>.yaml``): it is
    one policy's folder, not a folder of policies."""
    from followup.engine._policy import semver_key

    try:
        files = [f for f in folder.iterdir() if f.suffix == ".yaml" and f.is_file()]
    except OSError:
        return False
    for f in files:
        try:
            semver_key(f.stem)
        except ValueError:
            continue
        return True
    return False


def _holder(folder: Path) -> Path:
    """The folder that holds ``folder``, as the user would write it."""
    if folder.name in ("", ".", ".."):
        return folder.resolve().parent
    return folder.parent


def _folder_problem(folder: Path, option: str = "--policies-dir ") -> str | None:
    """What is wrong with a folder given as a folder of policies, or None
    (``option``: how to give a folder, for the way out)."""
    if folder.is_dir():
        if _own_versions(folder):
            name = folder.resolve().name
            return (
                f"{folder} holds the versions of policy {name} itself; give the folder "
                f"that holds it: {option}{_holder(folder)}"
            )
        return None
    if folder.exists():
        return f"'{folder}' is a file, not a folder"
    where = folder.absolute().parent
    try:
        near = [d.name for d in where.iterdir() if d.is_dir()]
    except OSError:
        near = []
    hint = did_you_mean(folder.name, near)
    return f"the folder '{folder}' does not exist in {where}" + (f" ({hint})" if hint else "")


def _check_folders(given: tuple[str, ...]) -> None:
    """A folder of policies that does not exist is a mistake, not an empty folder:
    a misspelt name would otherwise leave only the bundled policies, silently."""
    for d in given:
        problem = _folder_problem(Path(d))
        if problem and " itself; " in problem:
            raise click.BadParameter(problem, param_hint="'--policies-dir'")
        if problem:
            raise click.BadParameter(
                f"{problem}; give the folder that holds your policies (<name>/<version>.yaml)",
                param_hint="'--policies-dir'",
            )
    for folder in env_dirs():
        problem = _folder_problem(folder, "FOLLOWUP_POLICIES=")
        if problem and " itself; " in problem:
            raise click.UsageError(f"FOLLOWUP_POLICIES names a folder of policies, but {problem}")
        if problem:
            raise click.UsageError(
                f"FOLLOWUP_POLICIES names a folder of policies, but {problem}; "
                "correct the variable, create the folder, or unset it"
            )


#: a top-level ``cases:`` key, or one in a flow mapping or JSON (``{"cases": ...``)
_MAY_HOLD_CASES = re.compile(rb"""^cases\s*:|["']?\bcases["']?\s*:""", re.MULTILINE)


def tests_kind(path: Path) -> str | None:
    """ "named" for a ``*.tests.yaml`` file, "content" for another file that
    holds test cases (``cases:`` and no rules), else None (a policy)."""
    if path.name.endswith(".tests.yaml"):
        return "named"
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not _MAY_HOLD_CASES.search(raw):  # no "cases" key at all: not worth parsing it twice
        return None
    data = load_yaml(raw).data
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
    kind = tests_kind(path)
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


def _no_file(path: Path) -> tuple[str, list[Problem]]:
    """A path given to check that is not a file: said as a problem of its own."""
    what = (
        f"{path} is a folder; check takes files (without PATHS: every policy found)"
        if path.is_dir()
        else f"there is no file at {path}"
    )
    return "missing", [Problem("no-file", what, "", str(path))]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Check policy files and test files and report every problem with file:line:column.

    Without PATHS, checks every policy found (bundled, $FOLLOWUP_POLICIES and
    --policies-dir). A test file (<version>.tests.yaml) is checked without
    running its cases: its form, its facts, and every rule, caution, action,
    template and derived fact it names. A path that is missing (or not a
    file) is reported as a problem of its own and the other files are still
    checked. Exit 0 when all are valid, 1 when problems were found, 2 when a
    file is missing or cannot be read.

    \b
    Examples:
      followup check                                   # every policy found
      followup check my-policies/acme/1.1.0.yaml
      followup check my-policies/acme/1.1.0.tests.yaml
      followup --policies-dir my-policies check --format json
    """
    files = [Path(p) for p in paths] or [r.path for r in list_policy_files(policy_dirs(_dirs(ctx)))]
    checked = {str(f): _check_file(f, ctx) if f.is_file() else _no_file(f) for f in files}
    if not paths:  # files in the policy folders that would never be read
        for stray in stray_policy_files(policy_dirs(_dirs(ctx))):
            checked[str(stray.file)] = ("policy", [stray])
    results = {f: probs for f, (_, probs) in checked.items()}
    unreadable = any(
        p.code in ("unreadable", "no-file") for probs in results.values() for p in probs
    )
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
    """Say what to do after one interview, when, and which rules say so.

    FACTS is a YAML or JSON file of facts about one interview (- for stdin).
    Exit 1 when the facts or the policy have problems (listed; in JSON with
    --format json).

    \b
    Examples:
      followup evaluate facts.yaml
      followup evaluate facts.yaml --as-of 2026-03-05 --format json
      followup evaluate facts.yaml --policy acme@1.1.0 --log audit-log.jsonl
      followup --policies-dir my-policies evaluate facts.json --policy acme
    """
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
    """Print a JSON Schema (for editors and other tools).

    \b
    Examples:
      followup schema policy > policy.schema.json
      followup schema facts
      followup schema tests     # the form of a <version>.tests.yaml file
    """
    click.echo(json.dumps(load_schema(name), indent=2, ensure_ascii=False))


main.add_command(batch_command)

# authoring and auditing commands (cli/audit.py)
from .audit import COMMANDS as _AUDIT_COMMANDS  # noqa: E402

for _command in _AUDIT_COMMANDS:
    main.add_command(_command)


def _more_policies_dirs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    """``--policies-dir`` written after the command's name: added to the group's."""
    if not value or ctx.resilient_parsing:
        return
    _check_folders(value)
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    root.obj["policies_dir"] = (*root.obj.get("policies_dir", ()), *value)


# `followup check --policies-dir DIR` as well as `followup --policies-dir DIR check`
for _command in main.commands.values():
    if _command.name != "schema":
        _command.params.append(
            click.Option(
                ["--policies-dir"],
                multiple=True,
                type=click.Path(file_okay=False),
                expose_value=False,
                is_eager=True,
                callback=_more_policies_dirs,
                help="Extra folder of policies (<name>/<version>.yaml), as before the command.",
            )
        )

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
