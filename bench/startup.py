"""Start-up: median wall time of `paddlectl --help` against `python -c "import typer"` (target: at most 1.3x).

Each command runs N times after warm-ups, interleaved round-robin so that machine noise hits all of them
alike. The console script is taken from the running interpreter's bin folder, not from PATH: a pyenv shim on
PATH adds a bash start-up that users of a plain virtual environment do not pay. Peers (guild, dvc, mlflow) are
measured when installed, as context.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGET = 1.3
PEERS = ("guild", "dvc", "mlflow")


def console_script(name: str) -> str | None:
    """The named script next to this interpreter, else the first one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def median_walls(commands: dict[str, list[str]], runs: int, warmups: int) -> dict[str, float]:
    """Median wall seconds per command; every run must exit 0 (a broken --help is not fast, it is broken)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(warmups + runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            wall = time.perf_counter() - start
            if result.returncode != 0:
                tail = result.stderr.decode(errors="replace")[-500:]
                raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {tail}")
            if index >= warmups:
                samples[name].append(wall)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(quick: bool = False, runs: int | None = None) -> list[dict[str, Any]]:
    runs = runs or (5 if quick else 15)
    warmups = 1 if quick else 2
    python = sys.executable
    commands = {
        "baseline": [python, "-c", "import typer"],
        "python -m paddlectl --help": [python, "-m", "paddlectl", "--help"],
    }
    script = console_script("paddlectl")
    if script:
        commands["paddlectl --help"] = [script, "--help"]
    for peer in PEERS:
        found = console_script(peer)
        if found:
            commands[f"{peer} --help"] = [found, "--help"]
    walls = median_walls(commands, runs, warmups)
    baseline = walls["baseline"]
    rows = []
    for figure in ("paddlectl --help", "python -m paddlectl --help"):
        if figure in walls:
            rows.append(_row(f"{figure} vs import typer", walls[figure], baseline, TARGET))
    fastest = walls.get("paddlectl --help", walls["python -m paddlectl --help"])
    for peer in PEERS:
        if f"{peer} --help" in walls:
            # The peer is the baseline here: paddlectl should start no slower than the tools it replaces.
            rows.append(_row(f"paddlectl --help vs {peer} --help", fastest, walls[f"{peer} --help"], 1.0))
    return rows


def _row(figure: str, paddlectl: float, baseline: float, target: float | None) -> dict[str, Any]:
    return {
        "figure": figure,
        "paddlectl": round(paddlectl, 4),
        "baseline": round(baseline, 4),
        "ratio": round(paddlectl / baseline, 3),
        "target": target,
        "unit": "s",
    }


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
