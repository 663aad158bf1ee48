"""The ``followup`` command: the CLI, with Ctrl-C at any moment ending quietly.

Importing the CLI loads the engine and its libraries, which takes a moment; a
Ctrl-C then would otherwise print a traceback. The batch command handles its
own interruptions (a resumable run says how far it got).
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from followup.cli import main as cli

        cli()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
