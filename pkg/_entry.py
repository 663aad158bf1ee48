"""The ``followup`` command: the CLI, with Ctrl-C or ``kill`` at any moment ending quietly.

Importing the CLI loads the engine and its libraries, which takes half a
second. A Ctrl-C (SIGINT) or a SIGTERM then is held back until the command
starts, which acts on it as if it came that moment: ``followup batch`` says it
was interrupted before any row was evaluated (exit 130), as it does for a
signal a moment later; another command says "interrupted" (exit 130) on
Ctrl-C, and ends as SIGTERM ends it by default (exit 143). (Acted upon at
once, a SIGTERM would end the command silently, and a Ctrl-C would not say
which command it stopped.) The batch command handles its own interruptions (a
resumable run says how far it got).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

#: the signals that stop a command
SIGNALS = (signal.SIGINT, signal.SIGTERM)

_held: list[int] = []  # the signals held back while the CLI was loading
_replaced: dict[int, Any] = {}  # the handler _hold replaced, per signal


def _hold(signum: int, frame: object) -> None:
    _held.append(signum)


def _hold_signals() -> None:
    """Hold back SIGINT and SIGTERM (those not ignored: an ignored one stays so)."""
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if previous is not signal.SIG_IGN:
            _replaced[sig] = previous
            signal.signal(sig, _hold)


def held_signal() -> int | None:
    """The first signal held back while the CLI was loading, if one was; from
    now on the command acts on signals itself.

    A command calls it once its own handlers are in place, and acts on the
    signal returned as if it came then. Where the handler holding signals back
    is still installed, the one it replaced is put back. Without ``main`` (the
    CLI run in-process, as by Click's test runner), nothing was held back and
    no handler is changed.
    """
    for sig in SIGNALS:
        if signal.getsignal(sig) is _hold:
            previous = _replaced.get(sig)
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
    held = _held[0] if _held else None
    _held.clear()
    return held


def main() -> None:
    # Signals are held back until the command starts; a handler a command
    # installed gives the holding back when it ends (``followup batch`` does),
    # so that a signal as the process ends cannot change its exit status.
    _hold_signals()
    try:
        from followup.cli import main as cli

        cli()
    except KeyboardInterrupt:
        held_signal()  # ending on this interrupt: the handlers are given back
        sys.stderr.write("interrupted\n")
        sys.exit(130)
