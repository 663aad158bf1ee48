"""``followup batch``: evaluate a whole cohort, one decision per row."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

import click

from followup._entry import held_signal
from followup.engine import FollowupError, PolicyError, PolicyNotFound
from followup.engine._facts import YEARS
from followup.engine.batch import (
    INPUT_FORMATS,
    BatchInterrupted,
    BatchJob,
    BatchOptions,
    BatchResult,
    CheckpointMismatch,
    Executor,
    InputSpec,
    OutputError,
    PolicyRef,
    Progress,
    UnreadableInput,
    detect_format,
    run_batch,
)
from followup.engine.batch._checkpoint import (
    BATCH_NEEDS,
    OutputLock,
    checkpoint_path,
    part_path,
    remove_quietly,
)
from followup.engine.batch._readers import CSV_DELIMITERS
from followup.engine.batch._runner import check_outputs

from ._options import BACKEND, require_backend

__all__ = ["batch_command"]

_SHOWN_ERRORS = 20


def _check_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date such as 2026-03-02 (or 2026-03-02T09:00)"
        ) from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise click.BadParameter(
            f"{value!r} is out of range: dates fall in the years {YEARS[0]} to {YEARS[1]}"
        )
    return value


def _check_policy_version(policy: str, version: str | None) -> None:
    """Refuse two versions of the policy: --policy NAME@VERSION and another
    --policy-version (the one would silently win over the other), or a version
    of a policy file (which is one version: it would be silently ignored)."""
    if version is None:
        return
    if policy.endswith((".yaml", ".yml")) or os.sep in policy:  # as load_policy tells a file
        raise click.UsageError(
            f"--policy-version is for a policy found by its name; {policy} is a policy "
            "file, which holds one version: leave --policy-version out"
        )
    name, at, named = policy.partition("@")
    if at and named and named != version:
        raise click.UsageError(
            f"two versions of the policy: --policy {policy} names version {named}, "
            f"--policy-version {version}; give one (--policy {name}@{version}, or "
            f"--policy {name} --policy-version {version})"
        )


def _on_terminal(stream: IO[str]) -> bool:
    return stream.isatty()


class _ProgressLine:
    """A one-line progress bar on a terminal: rows, rows/s, percent and ETA."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._last = 0.0
        self._shown = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        rate = (p.rows - p.start_rows) / p.elapsed if p.elapsed > 0 else 0.0
        text = f"{p.rows:>12,} rows  {rate:>9,.0f} rows/s"
        if p.errors:
            text += f"  {p.errors:,} errors"
        if p.total and p.position:
            fraction = min(p.position / p.total, 1.0)
            done = int(fraction * 20)
            text += f"  [{'=' * done}{' ' * (20 - done)}] {fraction:4.0%}"
            if fraction > 0 and p.elapsed > 0:
                left = p.elapsed * (1 - fraction) / fraction
                text += f"  ETA {int(left) // 60}:{int(left) % 60:02d}"
        self._stream.write("\r" + text.ljust(79))
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        """Clear the line, so that what is written next starts on a clean one."""
        if self._shown:
            self._stream.write("\r" + " " * 79 + "\r")
            self._stream.flush()
            self._shown = False


class _ErrorLines:
    """Shows failed rows on stderr when there is no --errors file."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, line: str) -> None:
        self.count += 1
        if self.count > _SHOWN_ERRORS:
            return
        record = json.loads(line)
        where = f"row {record['row']}"
        if record.get("line") is not None:
            where += f" (line {record['line']})"
        if record.get("applicant_id"):
            where += f", applicant {record['applicant_id']}"
        for problem in record["errors"]:
            text = f"{where}: {problem['code']}: {problem['pointer'] or '/'}: {problem['message']}"
            if problem.get("suggestion"):
                text += f" ({problem['suggestion']})"
            click.echo(text, err=True)

    def close(self) -> None:
        if self.count > _SHOWN_ERRORS:
            click.echo(
                f"... and {self.count - _SHOWN_ERRORS} more failed rows; use --errors FILE to keep them all",
                err=True,
            )


class _ErrorRecords:
    """``--errors -``: every failed row's JSON record on stderr, as it comes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, line: str) -> None:
        self._stream.write(line)
        self._stream.flush()


def _write_summary(path: str, summary: dict[str, Any]) -> None:
    """Write the summary atomically (``path.part`` renamed), or to stdout for "-"."""
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    part = part_path(path)
    try:
        with open(part, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, path)
    except OSError:
        remove_quietly(part)
        raise


def _check_writable(path: str, option: str) -> None:
    """Fail at start-up, not after the run, when ``path.part`` cannot be created
    (no such folder, no permission, a read-only file system)."""
    part = part_path(path)
    try:
        with open(part, "wb"):
            pass
        os.remove(part)
    except OSError as exc:
        raise click.UsageError(
            f"cannot write {option}: cannot create {part} ({exc.strerror or exc}); "
            "the summary is written there, then renamed"
        ) from exc


class _Signals:
    """Ctrl-C (SIGINT) and ``kill`` (SIGTERM) stop a run alike: resumable, no
    partial output. Installed as the command starts; a signal held back while
    the CLI was loading (see ``followup._entry``) is acted upon then, by
    ``check_held``.

    Once the outcome is known (the run is complete and puts its files in place,
    or it is stopping, or it failed), ``settle`` has both ignored until the
    command returns: a late signal must not turn a finished run, or its
    message, into an interrupted one or a traceback. ``run_batch`` calls it
    (``on_settled``) while it still ignores interrupts itself, so no signal
    between the two gets through.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._settled = False

    def _handler(self, signum: int, frame: Any) -> None:
        if not self._settled:
            raise KeyboardInterrupt

    def __enter__(self) -> _Signals:
        try:
            for sig in self._SIGNALS:
                previous = signal.getsignal(sig)
                if previous is not signal.SIG_IGN:  # one ignored (by the parent) stays so
                    self._previous[sig] = previous
                    signal.signal(sig, self._handler)
        except ValueError:  # not the main thread (e.g. some test runners)
            pass
        return self

    def check_held(self) -> None:
        """Raise KeyboardInterrupt for a signal that came while the CLI was loading."""
        if held_signal() is not None:
            raise KeyboardInterrupt

    def settle(self) -> None:
        self._settled = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


class _DelimiterChoice(click.Choice):  # type: ignore[type-arg]
    """The choices of ``--csv-delimiter``, where a tab typed as such (``$'\\t'``)
    or as ``\\t`` is ``tab``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert("tab" if value in ("\t", "\\t") else value, param, ctx)


@contextlib.contextmanager
def _executor(dask: str | None, workers: int) -> Iterator[Executor | None]:
    if dask is None:
        yield None
        return
    try:
        from followup.engine.batch.dask import SchedulerUnavailable, dask_executor
    except ImportError as exc:
        raise click.UsageError("--dask needs Dask: pip install 'followup[dask]'") from exc
    with contextlib.ExitStack() as stack:
        try:
            executor = stack.enter_context(dask_executor(dask, workers))
        except SchedulerUnavailable as exc:
            raise click.UsageError(str(exc)) from exc
        yield executor


#: rows of a repeated applicant_id named on stderr (the summary has them all)
_ROWS_SHOWN = 10


def _report(result: BatchResult) -> None:
    click.echo(f"read {result.read} = decided {result.decided} + errors {result.errors}", err=True)
    if result.duplicates:
        aid, rows = next(iter(result.duplicates.items()))
        at = ", ".join(map(str, rows[:_ROWS_SHOWN]))
        if len(rows) > _ROWS_SHOWN:
            at += f" and {len(rows) - _ROWS_SHOWN} more"
        click.echo(
            f"duplicate applicant_ids: {len(result.duplicates)} "
            f"(e.g. {aid} at rows {at}); see --summary for more",
            err=True,
        )
    if result.stopped_early:
        click.echo(result.stopped_early, err=True)


_HELP = """\
Evaluate a cohort: one decision per row of INPUT (CSV, JSONL or Parquet; - for
stdin), written in input order to OUTPUT. Rows that fail are reported (--errors)
and never stop the run.

\b
Examples:
  followup batch cohort.csv -o decisions.jsonl --errors errors.jsonl --summary summary.json
  followup batch cohort.csv -o decisions.csv --output-format csv --as-of 2026-01-12
  followup batch export.csv --csv-delimiter ';' -o decisions.jsonl   # European Excel
  cat cohort.csv | followup batch - --input-format csv > decisions.jsonl
  followup batch cohort.csv -o decisions.jsonl --resume    # go on after Ctrl-C or a crash
  followup batch cohort.csv -o decisions.jsonl --restart   # or discard that and start over

\b
Exit status:
  0    every row decided
  1    some rows failed (or --max-errors stopped the run, or a worker died)
  2    bad usage or unreadable input (nothing was written)
  130  interrupted (Ctrl-C, SIGTERM): --resume goes on from where it stopped

See docs/batch.md for the input formats, the errors file and the summary.
"""


@click.command("batch", help=_HELP)
@click.argument("input_path", metavar="INPUT", type=str)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Output file (default stdout); written atomically (a symlink's target is replaced).",
)
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    help="Input format (default: from the extension, .tsv is CSV; stdin: jsonl).",
)
@click.option(
    "--csv-delimiter",
    type=_DelimiterChoice(["auto", *CSV_DELIMITERS]),
    default="auto",
    metavar="SEP",
    help="What separates CSV cells: ',', ';', tab or '|'. Default auto: tab in a .tsv "
    "file; else a comma, unless the header line has none but has tabs, ';' or '|' "
    "(the one it has most of).",
)
@click.option(
    "--output-format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one decision per line; csv: one row per applicant with the next action.",
)
@click.option(
    "--trace",
    type=click.Choice(["none", "fired", "full"]),
    default="fired",
    show_default=True,
    help="How much explanation each decision carries.",
)
@click.option(
    "--as-of",
    callback=_check_as_of,
    metavar="DATE",
    help="Evaluate as of this date for every row (a row's as_of column wins). Default: now.",
)
@click.option(
    "--policy",
    "policy_name",
    default="interview-follow-up",
    show_default=True,
    help="Policy name (NAME or NAME@VERSION) or file.",
)
@click.option(
    "--policy-version",
    metavar="VERSION",
    help="Version of the policy --policy names (NAME@VERSION says it too); default: "
    "the newest released version (the newest draft when none is released yet).",
)
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write failed rows here (JSONL: row, line, applicant_id, every field error); - for stderr.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write counts per action, status, rule and error code, and timing (JSON); - for stdout.",
)
@click.option("--max-errors", type=click.IntRange(min=1), help="Stop after this many failed rows.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help="Worker processes (the output is the same for any number).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Rows per unit of work.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run writing the same OUTPUT.")
@click.option(
    "--restart",
    is_flag=True,
    help="Discard an interrupted run writing the same OUTPUT and start over "
    "(without --resume or --restart such a run is refused).",
)
@click.option(
    "--checkpoint-every",
    type=click.FloatRange(min=0),
    default=1.0,
    hidden=True,
    help="Seconds between checkpoints.",
)
@click.option(
    "--dask",
    "dask_scheduler",
    metavar="SCHEDULER",
    help="Evaluate on a Dask cluster at this address, or 'local' for a LocalCluster.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar and no per-row error lines on stderr."
)
@BACKEND
def batch_command(**options: Any) -> None:
    # the options, as named below in _batch
    with _Signals() as signals:
        try:
            signals.check_held()
            code = _batch(signals=signals, **options)
        except KeyboardInterrupt:
            # before the run started (its own interruptions are reported by _batch)
            signals.settle()
            click.echo(
                "interrupted before any row was evaluated; nothing was written; run it again",
                err=True,
            )
            code = 130
    sys.exit(code)


def _batch(
    input_path: str,
    output: str | None,
    input_format: str | None,
    csv_delimiter: str,
    output_format: str,
    trace: str,
    as_of: str | None,
    policy_name: str,
    policy_version: str | None,
    errors_path: str | None,
    summary_path: str | None,
    max_errors: int | None,
    workers: int,
    chunk_size: int,
    resume: bool,
    restart: bool,
    checkpoint_every: float,
    dask_scheduler: str | None,
    quiet: bool,
    backend: str,
    signals: _Signals,
) -> int:
    """The command; returns its exit status."""
    if BATCH_NEEDS is not None:
        raise click.UsageError(BATCH_NEEDS)
    if resume and restart:
        raise click.UsageError(
            "--resume and --restart cannot go together: --resume goes on with the "
            "interrupted run, --restart discards it and starts over"
        )
    _check_policy_version(policy_name, policy_version)
    try:
        fmt = detect_format(input_path, input_format)
    except UnreadableInput as exc:
        raise click.UsageError(str(exc)) from exc
    if csv_delimiter != "auto" and fmt != "csv":
        raise click.UsageError(
            f"--csv-delimiter is for CSV input, and {input_path} is read as {fmt}; "
            "leave it out, or add --input-format csv"
        )
    if output == "-":
        output = None
    if summary_path == "-" and output is None:
        raise click.UsageError(
            "--summary - would mix the summary into the decisions on standard output: "
            "give --summary a file name, or -o a file"
        )
    errors_to_stderr = errors_path == "-"
    if errors_to_stderr:
        errors_path = None
    source = InputSpec(
        input_path,
        fmt,
        sys.stdin.buffer if input_path == "-" else None,
        None if csv_delimiter == "auto" else CSV_DELIMITERS[csv_delimiter],
    )
    summary_file = summary_path if summary_path != "-" else None
    try:
        target, _, summary_target = check_outputs(source, output, errors_path, summary_file)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from exc
    if resume and target is not None and not os.path.exists(checkpoint_path(target)):
        click.echo(
            f"note: there is no interrupted run of {output} to resume "
            f"({os.path.basename(checkpoint_path(target))} is missing); starting from the first row",
            err=True,
        )
    if summary_target is not None and summary_file is not None:
        _check_writable(summary_target, f"--summary {summary_file}")
        try:  # no other run may write it (or write its output there) meanwhile
            lock = OutputLock(summary_target, summary_file)
        except OutputError as exc:
            raise click.UsageError(str(exc)) from exc
        click.get_current_context().call_on_close(lock.release)
    root = click.get_current_context().find_root().obj
    dirs = tuple(root.get("policies_dir", ())) if isinstance(root, dict) else ()
    require_backend(backend)
    ref = PolicyRef(
        policy_name,
        policy_version,
        policies_dir=tuple(os.path.abspath(d) for d in dirs),
        backend=backend,
    )
    job = BatchJob(ref, trace, as_of or "", output_format)
    options = BatchOptions(
        workers=workers,
        chunk_size=chunk_size,
        max_errors=max_errors,
        resume=resume,
        restart=restart,
        checkpoint_seconds=checkpoint_every,
    )
    bar = _ProgressLine(sys.stderr) if _on_terminal(sys.stderr) and not quiet else None
    shown = _ErrorLines() if errors_path is None and not quiet and not errors_to_stderr else None
    on_error: Any = _ErrorRecords(sys.stderr) if errors_to_stderr else shown
    result: BatchResult | None = None
    try:
        with _executor(dask_scheduler, workers) as executor:
            result = run_batch(
                source,
                job,
                output=output,
                stream=sys.stdout.buffer if output is None else None,
                errors=errors_path,
                on_error=on_error,
                options=options,
                progress=bar,
                executor=executor,
                on_settled=signals.settle,
            )
    except BatchInterrupted as exc:
        signals.settle()
        if bar:
            bar.close()
        if exc.resumable:
            text = f"{output} was not written; run the same command with --resume to continue"
        elif output is not None:
            text = f"{output} was not written; run it again to start over"
        else:
            text = "run it again to start over"
        click.echo(f"interrupted after {exc.rows} rows; {text}", err=True)
        return 130
    except KeyboardInterrupt:
        if result is None:  # connecting to or starting the cluster
            raise
        # stopping the cluster after the run: the run is complete
    except (UnreadableInput, CheckpointMismatch, OutputError, PolicyNotFound) as exc:
        signals.settle()
        raise click.UsageError(str(exc)) from exc
    except (PolicyError, FollowupError) as exc:
        signals.settle()
        raise click.ClickException(str(exc)) from exc
    finally:
        if bar:
            bar.close()  # before any message, which would otherwise share its line
    signals.settle()  # the run is complete: what is left is to say so
    if shown:
        shown.close()
    _report(result)
    if summary_path:
        summary = {"input": input_path, "output": output, **result.summary()}
        try:
            _write_summary(summary_target or summary_path, summary)
        except OSError as exc:
            written = output if output is not None else "standard output"
            raise click.ClickException(
                f"cannot write the summary {summary_path}: {exc.strerror or exc}; "
                f"the decisions were written to {written}"
            ) from exc
    return 1 if result.errors or result.stopped_early else 0
