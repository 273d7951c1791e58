"""The CI gate's false failures and its catches, on the digits example's `ci` profile against a production version.

Set-up: examples/digits copied into a git repository in a temporary folder, one `train --profile ci` run
exported, packaged, registered and promoted to production in a temporary registry. Then, each a fresh
`paddlectl train train.py --profile ci` and `paddlectl runs gate RUN --baseline registry:digits@production
--metric val_acc:max-drop=1% --noise-from 10` through the CLI, as a pipeline runs them:

- `unchanged`: N gates of the unchanged profile (the same seed). False failures: gates that did not exit 0.
  On the CPU the digits training is deterministic, so these runs repeat the baseline's numbers exactly.
- `reseeded`: N gates, each candidate with another seed: how a nondeterministic training (GPU kernels, data
  order) varies from run to run. False failures with the noise band, and, counted from the same runs, how many
  the 1% threshold alone would have failed.
- `regression`: every 10th gate of the reseeded series is a run with lr=5 (training breaks: val_acc about 0.1).
  Caught: gates that exited 1. They sit in the same gate history, so a caught regression must not widen the
  band (failed gates never count towards it).

Goals: false failures <= 1 per 100 gates in both series; every regression caught. `--quick` runs 10 gates per
series; PADDLECTL_BENCH_CI_GATES sets N. Standalone: `python -m bench.ci_gate_bench [--gates N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODEL = "digits"
METRIC = "val_acc"
MAX_DROP = 0.01
GATE = ["--metric", f"{METRIC}:max-drop=1%", "--noise-from", "10"]
BROKEN_LR = "5"
REGRESSION_EVERY = 10


def _env(registry: Path, history: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.update({"PADDLECTL_REGISTRY": str(registry), "PADDLECTL_GATE_HISTORY": str(history), "NO_COLOR": "1"})
    return env


def _cli(project: Path, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "paddlectl", *args], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"paddlectl {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def _project(root: Path) -> Path:
    project = root / "digits"
    shutil.copytree(REPO / "examples" / "digits", project, ignore=shutil.ignore_patterns(".paddlectl", "dist"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "digits"]):
        subprocess.run([*git, *command], cwd=project, check=True, capture_output=True)
    return project


def _train(project: Path, env: dict[str, str], *params: str) -> str:
    extra = [part for param in params for part in ("-p", param)]
    return _cli(project, env, "train", "train.py", "--profile", "ci", "--quiet", *extra).stdout.strip()


def _production(project: Path, env: dict[str, str]) -> float:
    run = _train(project, env)
    _cli(project, env, "export", run)
    _cli(project, env, "package", run, "--name", MODEL, "--version", "1.0.0", "-o", "dist", "--force")
    _cli(project, env, "registry", "register", f"dist/{MODEL}-1.0.0.tar")
    _cli(project, env, "registry", "promote", MODEL, "1.0.0", "--to", "production")
    shown = json.loads(_cli(project, env, "registry", "show", f"{MODEL}@production", "--json").stdout)
    return float(shown["card"]["metrics"][METRIC]["last"])


def _gate(project: Path, env: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
    result = _cli(
        project, env, "runs", "gate", run, "--baseline", f"registry:{MODEL}@production", *GATE, "--json", check=False
    )
    return result.returncode, json.loads(result.stdout)


def _metric_check(report: dict[str, Any]) -> dict[str, Any]:
    return next(check for check in report["checks"] if check["kind"] == "metric")


def measure(gates: int, log: Any = sys.stderr) -> dict[str, Any]:
    """Run the three series; return the counts and the values behind them."""
    with tempfile.TemporaryDirectory(prefix="paddlectl-ci-bench-") as tmp:
        root = Path(tmp)
        project = _project(root)
        env = _env(root / "registry", root / "gate-history.jsonl")
        started = time.perf_counter()
        baseline = _production(project, env)
        print(f"ci_gate: production {METRIC} {baseline}", file=log, flush=True)
        unchanged_codes: list[int] = []
        for number in range(gates):
            code, _ = _gate(project, env, _train(project, env))
            unchanged_codes.append(code)
            print(f"ci_gate: unchanged {number + 1}/{gates}: exit {code}", file=log, flush=True)
        env = _env(root / "registry", root / "gate-history-reseeded.jsonl")  # its own history: its own noise
        reseeded: list[tuple[int, float, float]] = []  # exit code, val_acc, noise
        regressions: list[int] = []
        for number in range(gates):
            if number % REGRESSION_EVERY == REGRESSION_EVERY - 1:
                code, _ = _gate(project, env, _train(project, env, f"lr={BROKEN_LR}", f"seed={1000 + number}"))
                regressions.append(code)
                print(f"ci_gate: regression (lr={BROKEN_LR}): exit {code}", file=log, flush=True)
            code, report = _gate(project, env, _train(project, env, f"seed={1000 + number}"))
            check = _metric_check(report)
            reseeded.append((code, float(check["actual"]), float(check["noise"] or 0.0)))
            print(
                f"ci_gate: reseeded {number + 1}/{gates}: {METRIC} {check['actual']} noise {check['noise']}: "
                f"exit {code}",
                file=log,
                flush=True,
            )
        seconds = time.perf_counter() - started
    values = [value for _, value, _ in reseeded]
    return {
        "gates": gates,
        "baseline": baseline,
        "unchanged_false_failures": sum(code != 0 for code in unchanged_codes),
        "reseeded_false_failures": sum(code != 0 for code, _, _ in reseeded),
        "reseeded_threshold_only_failures": sum(value < baseline - MAX_DROP * baseline for value in values),
        "reseeded_values": values,
        "reseeded_noise_last": reseeded[-1][2] if reseeded else 0.0,
        "regressions": len(regressions),
        "regressions_caught": sum(code == 1 for code in regressions),
        "seconds": seconds,
    }


def rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    gates = figures["gates"]
    values = figures["reseeded_values"]
    spread = f"{min(values):.4f}..{max(values):.4f}, sd {statistics.stdev(values):.4f}" if len(values) > 1 else "-"
    return [
        {
            "figure": f"false failures, {gates} gates of the unchanged ci profile",
            "paddlectl": figures["unchanged_false_failures"],
            "baseline": f"<= {max(1, gates // 100)} (goal)",
            "ok": figures["unchanged_false_failures"] <= max(1, gates // 100),
        },
        {
            "figure": f"false failures, {gates} reseeded gates, --noise-from 10",
            "paddlectl": figures["reseeded_false_failures"],
            "baseline": f"{figures['reseeded_threshold_only_failures']} (1% threshold alone)",
            "ok": figures["reseeded_false_failures"] <= max(1, gates // 100),
        },
        {
            "figure": f"{METRIC} of the reseeded runs (production {figures['baseline']:.4f})",
            "paddlectl": spread,
            "baseline": f"band {figures['reseeded_noise_last']:.4f} at the end",
        },
        {
            "figure": f"regressions caught (lr={BROKEN_LR}), interleaved",
            "paddlectl": f"{figures['regressions_caught']}/{figures['regressions']}",
            "baseline": "all",
            "ok": figures["regressions_caught"] == figures["regressions"],
        },
        {
            "figure": "seconds per train + gate",
            "paddlectl": figures["seconds"] / max(1, 2 * gates + figures["regressions"] + 1),
            "baseline": "-",
        },
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    gates = int(os.environ.get("PADDLECTL_BENCH_CI_GATES") or (10 if quick else 100))
    return rows(measure(gates))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=100, help="gates per series (default 100)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = measure(args.gates)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    for row in rows(figures):
        print(f"{row['figure']}: {row['paddlectl']} (baseline {row['baseline']})")
    return 0 if all(row.get("ok", True) for row in rows(figures)) else 1


if __name__ == "__main__":
    sys.exit(main())
