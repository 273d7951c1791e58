"""The console script's entry point: stop signals are handled before anything else is imported.

A signal during start-up (typer and rich take tens of milliseconds to import) then ends the process with the
signal's exit code, quietly, like one at any later instant; only one during the interpreter's own start-up, before
this runs, ends it by the signal itself (which shells report as the same 128+n).
"""

from __future__ import annotations

import sys


def main() -> None:
    from paddlectl.foundation.signals import Interrupted, signals

    signals.install()
    try:
        from paddlectl.cli.app import main as run
    except Interrupted as interrupt:
        signals.silence()
        sys.exit(interrupt.exit_code)
    run()
