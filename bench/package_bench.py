"""Benchmark: `paddlectl package` on a 1 GiB weights file against `tar -cf - FILES | sha256sum`.

Target: packaging takes at most 1.2x the baseline (both read the same files from the page cache; the package is
also written to disk and fsynced, the baseline writes nothing). Not a test: run it by hand or from a bench harness.
Measured on the 2-core dev VM (busy with other work): best of 3, 1.9 s against 2.8-3.2 s, ratio 0.5-0.7. What makes
it: no compression (see packaging/layout.py), each file read once and hashed inline, the archive's own sha256 on a
second core (packaging/checksums.py; without it, 2.6 s, ratio ~1.0).

    python bench/package_bench.py [--dir DIR] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGET = 1.2
GIB = 1 << 30


def _make_export(root: Path, weights_size: int) -> Path:
    from paddlectl.foundation.yamlio import dump_yaml

    export = root / "export"
    export.mkdir(parents=True)
    (export / "model.json").write_bytes(b'{"program": {"ops": []}}\n' * 400)
    with open(export / "model.pdiparams", "wb") as handle:
        remaining = weights_size
        while remaining:  # random bytes: float weights barely compress either
            block = os.urandom(min(16 << 20, remaining))
            handle.write(block)
            remaining -= len(block)
    record = {
        "schema_version": 1,
        "format": "pir-json",
        "paddle_version": "3.2.0",
        "files": ["model.json", "model.pdiparams"],
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
        "outputs": [{"name": "fetch_name_0", "dtype": "float32", "shape": [-1, 10]}],
        "verification": {"status": "passed"},
        "run_id": None,
        "created_at": "2026-11-22T10:30:00Z",
    }
    (export / "export.yaml").write_text(dump_yaml(record))
    return export


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _interleaved(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[list[float], ...]:
    """Alternate the two so a busy machine slows both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        times[0].append(_seconds(first))
        times[1].append(_seconds(second))
    return times


def _baseline(export: Path) -> None:
    subprocess.run(  # noqa: S602 - the baseline is this very shell pipeline
        "tar -cf - model.json model.pdiparams | sha256sum > /dev/null", shell=True, check=True, cwd=export
    )


def _package_in_process(export: Path, out_dir: Path) -> None:
    from paddlectl.packaging import PackageRequest, build_package

    build_package(PackageRequest(export_dir=export, name="bench", version="1.0.0", output_dir=out_dir, force=True))


def _package_cli(export: Path, out_dir: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "paddlectl",
            "package",
            str(export),
            "--name",
            "bench",
            "--version",
            "1.0.0",
            "-o",
            str(out_dir),
            "--force",
        ],
        check=True,
        capture_output=True,
    )


def run(quick: bool = False, directory: Path | None = None) -> list[dict[str, object]]:
    """Time packaging against the baseline; rows {figure, paddlectl, baseline, ratio, target} in seconds."""
    size = (128 << 20) if quick else GIB
    repeats = 1 if quick else 3
    root = Path(tempfile.mkdtemp(prefix="paddlectl-bench-", dir=directory))
    try:
        export = _make_export(root, size)
        out_dir = root / "dist"
        _baseline(export)  # warm the page cache for both sides
        base, ours = _interleaved(lambda: _baseline(export), lambda: _package_in_process(export, out_dir), repeats)
        cli_base, cli = _interleaved(lambda: _baseline(export), lambda: _package_cli(export, out_dir), 1)
        label = f"{size >> 20} MiB weights"
        rows: list[dict[str, object]] = []
        for figure, mine, baseline in (
            (f"package {label}, in-process, best of {repeats}", min(ours), min(base)),
            (f"package {label}, in-process, median of {repeats}", statistics.median(ours), statistics.median(base)),
            (f"package {label}, CLI once vs baseline once", cli[0], cli_base[0]),
        ):
            # The target is met in-process; the single CLI run (start-up ~0.2 s included) is for information.
            rows.append(
                {
                    "figure": figure,
                    "paddlectl": round(mine, 3),
                    "baseline": round(baseline, 3),
                    "ratio": round(mine / baseline, 3),
                    "target": None if "CLI" in figure else TARGET,
                }
            )
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to create the fake export (default: /tmp)")
    parser.add_argument("--quick", action="store_true", help="128 MiB, one repeat")
    args = parser.parse_args()
    rows = run(quick=args.quick, directory=args.dir)
    print(f"{'figure':<52} {'paddlectl s':>11} {'baseline s':>10} {'ratio':>6} {'target':>6}")
    for row in rows:
        target = row["target"]
        verdict = "-" if target is None else "ok" if float(str(row["ratio"])) <= float(str(target)) else "OVER"
        print(
            f"{row['figure']:<52} {row['paddlectl']:>11} {row['baseline']:>10} {row['ratio']:>6} "
            f"{row['target']:>6} {verdict}"
        )


if __name__ == "__main__":
    main()
