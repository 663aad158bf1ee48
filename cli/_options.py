"""Options shared by several commands."""

from __future__ import annotations

import click

from followup.engine._durable import INSTALL_HINT, available

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
