"""Options shared by several commands."""

from __future__ import annotations

from typing import Any

import click

from followup.engine._durable import INSTALL_HINT, available
from followup.engine._facts import parse_moment

BACKEND = click.option(
    "--backend",
    type=click.Choice(["native", "durable"]),
    default="native",
    show_default=True,
    help="Rule engine: followup's own, or durable_rules' Rete network (extra 'durable').",
)


def require_backend(backend: str) -> None:
    """Stop with exit 2 and the install command when the durable backend is missing."""
    if backend == "durable" and not available():
        raise click.UsageError(INSTALL_HINT)


AS_OF = click.option(
    "--as-of",
    "as_of",
    help="The moment of evaluation (ISO date or date-time); default: now. "
    "An as_of in the facts wins over it.",
)


def note_as_of(facts: Any, moment: Any) -> None:
    """Say on stderr when the facts' own as_of overrides --as-of (it wins: see
    docs/semantics.md), so that a date typed on the command line is never
    ignored without a word."""
    if moment is None or not isinstance(facts, dict) or facts.get("as_of") is None:
        return
    try:
        own = parse_moment(facts["as_of"])
    except (TypeError, ValueError, OverflowError):
        return  # the facts' own error is reported when they are evaluated
    if own != moment:
        click.echo(
            f"note: the facts give as_of {facts['as_of']}, which wins over --as-of; "
            "remove as_of from the facts to evaluate at another moment",
            err=True,
        )
