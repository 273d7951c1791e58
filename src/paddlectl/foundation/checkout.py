"""The paddlectl checkout paddlectl runs from, when it does (an editable install): its helper scripts.

Hints that name a script (`scripts/ensure-docker.sh`, `scripts/build-paddle-image.sh`) give its absolute path, so
the command works when pasted in any folder; an installed wheel has no scripts, and then there is none to name.
"""

from __future__ import annotations

import shlex
from pathlib import Path

# src/paddlectl/foundation/checkout.py -> the checkout's root
CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def checkout_script(name: str) -> Path | None:
    """`scripts/NAME` of the checkout this paddlectl runs from, or None when it is not there."""
    path = CHECKOUT_ROOT / "scripts" / name
    return path if path.is_file() else None


def script_command(path: Path, *args: str) -> str:
    """`bash /abs/path/script.sh ARGS`, quoted for a POSIX shell."""
    return shlex.join(["bash", str(path), *args])
