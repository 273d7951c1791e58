"""The model registry: concurrency and kill -9 as counts, and two speed figures against baselines of the same run.

- 64 concurrent `paddlectl registry register` processes, 64 different packages: versions, events, chain.
- 32 concurrent `paddlectl registry promote --to production` of different versions: productions, events in
  sequence, each replacing the one before, chain.
- kill -9 of `register` and `promote` processes at uniformly random moments of their work (100 trials, 1 MiB
  packages, the moment drawn from 0.8x a bare `registry list` to 1.1x an uninterrupted register): after each, no
  half-registered version (every row has its blob and its register event), never two productions, the chain
  intact, `verify` clean but for garbage blobs. The row counts the kills that landed while a blob was copied or
  between a blob and its commit (they leave a `.part` file or a blob no row points to, nothing else).
- `registry list --json` over 10,000 versions against a 0.3 s budget; `registry show NAME@production` on that
  registry against `paddlectl --help` (target 1.5x), medians of interleaved runs.

The 10,000-version registry is generated once under /tmp/paddlectl-registry-bench/ (rows written through the
backend itself, blobs left out: listing never reads them) and reused.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.startup import console_script, median_walls

CACHE = Path(os.environ.get("PADDLECTL_REGISTRY_BENCH_DIR", "/tmp/paddlectl-registry-bench")) / "v1"  # noqa: S108
LIST_BUDGET_SECONDS = 0.3
SHOW_TARGET = 1.5
VERSIONS = 10_000
REGISTERS, PROMOTES, KILL_TRIALS = 64, 32, 100


def _cli() -> list[str]:
    script = console_script("paddlectl")
    return [script] if script else [sys.executable, "-m", "paddlectl"]


PYCACHE = CACHE / "pycache"


def _env(registry: Path) -> dict[str, str]:
    """The commands' environment: bytecode cached (in a folder of ours) as an installed paddlectl has it.

    With PYTHONDONTWRITEBYTECODE (set on these machines) every run would compile each paddlectl module it
    imports: ~1 ms a module, which a command importing 20 more modules than --help pays and a user never does.
    """
    env = {**os.environ, "NO_COLOR": "1", "PADDLECTL_REGISTRY": str(registry), "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _packages(folder: Path, count: int, prefix: str = "1", weights: int = 50_000) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from paddlectl.packaging import PackageRequest, build_package
    from unit.packaging.test_packaging_fakes import make_export

    export = make_export(folder / "export", weights_size=weights)
    return [
        build_package(PackageRequest(export, "bench", f"{prefix}.{i}.0", output_dir=folder / "dist")).path
        for i in range(count)
    ]


def _invariants(registry: Path) -> dict[str, Any]:
    """Counts that must hold after anything, read through the registry's own code."""
    from paddlectl.packaging.layout import ModelStatus
    from paddlectl.registry.audit import verify_registry
    from paddlectl.registry.history import check_chain
    from paddlectl.registry.policy import SignaturePolicy
    from paddlectl.registry.settings import RegistrySettings
    from paddlectl.registry.sqlite_backend import SqliteBackend
    from paddlectl.registry.store import Registry

    backend = SqliteBackend(registry, create=False)
    try:
        opened = Registry(RegistrySettings(path=registry), backend, SignaturePolicy())
        records = backend.find()
        events = backend.events()
        report = verify_registry(opened)
        return {
            "versions": len(records),
            "events": events,
            "productions": sum(r.status is ModelStatus.PRODUCTION for r in records),
            "chain_ok": not check_chain(events, backend.head()),
            "whole": all(backend.blobs.has(r.sha256) for r in records),
            "findings": len(report.findings),
            "garbage": len(report.garbage) + len(list((registry / "blobs").glob("sha256/*/.*.part"))),
        }
    finally:
        backend.close()


def _concurrent(argvs: list[list[str]], env: dict[str, str]) -> tuple[float, list[int]]:
    started = time.perf_counter()
    processes = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for argv in argvs]
    codes = [process.wait(300) for process in processes]
    for process in processes:
        assert process.stderr is not None
        process.stderr.close()
    return time.perf_counter() - started, codes


def _count_row(figure: str, value: int | bool, expected: int | bool, **extra: Any) -> dict[str, Any]:
    return {"figure": figure, "paddlectl": value, "baseline": expected, "ok": value == expected, **extra}


def concurrency_rows(work: Path) -> list[dict[str, Any]]:
    registry = work / "concurrent"
    env = _env(registry)
    packages = _packages(work / "pkgs", REGISTERS)
    cli = _cli()
    one = time.perf_counter()
    subprocess.run([*cli, "registry", "list", "--json"], env=env, stdout=subprocess.DEVNULL, check=True)
    single = time.perf_counter() - one
    wall, codes = _concurrent([[*cli, "registry", "register", str(p), "--json"] for p in packages], env)
    after = _invariants(registry)
    rows = [
        _count_row(f"{REGISTERS} concurrent register: exit 0", codes.count(0), REGISTERS, wall_s=round(wall, 2)),
        _count_row(f"{REGISTERS} concurrent register: versions", after["versions"], REGISTERS),
        _count_row(f"{REGISTERS} concurrent register: events", len(after["events"]), REGISTERS),
        _count_row(f"{REGISTERS} concurrent register: chain valid", after["chain_ok"], True),
    ]
    versions = [f"1.{i}.0" for i in range(PROMOTES)]
    wall, codes = _concurrent(
        [[*cli, "registry", "promote", "bench", v, "--to", "production", "--json"] for v in versions], env
    )
    after = _invariants(registry)
    promotions = after["events"][REGISTERS:]
    chained = [e.replaced for e in promotions] == [None, *(e.version for e in promotions[:-1])]
    in_sequence = [e.seq for e in promotions] == list(range(REGISTERS + 1, REGISTERS + PROMOTES + 1))
    rows += [
        _count_row(f"{PROMOTES} concurrent promote: exit 0", codes.count(0), PROMOTES, wall_s=round(wall, 2)),
        _count_row(f"{PROMOTES} concurrent promote: productions", after["productions"], 1),
        _count_row(f"{PROMOTES} concurrent promote: events in sequence", len(promotions) * in_sequence, PROMOTES),
        _count_row(f"{PROMOTES} concurrent promote: each replaced the one before", chained, True),
        _count_row(f"{PROMOTES} concurrent promote: chain valid", after["chain_ok"], True),
        {"figure": "one `registry list` process (start-up reference)", "paddlectl": round(single, 3), "unit": "s"},
    ]
    return rows


def kill_rows(work: Path, trials: int) -> list[dict[str, Any]]:
    registry = work / "kills"
    env = _env(registry)
    cli = _cli()
    packages = _packages(work / "kill-pkgs", trials, prefix="3", weights=1 << 20)
    subprocess.run([*cli, "registry", "register", str(packages[0])], env=env, capture_output=True, check=True)
    started = time.perf_counter()
    subprocess.run([*cli, "registry", "register", str(packages[1])], env=env, capture_output=True, check=True)
    duration = time.perf_counter() - started
    # Kills are drawn from where the command does its work, not from the interpreter's start-up, where a kill can
    # break nothing: from 0.8x a bare `registry list` (imports and opening the registry) to 1.1x a whole register.
    floors = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([*cli, "registry", "list", "--json"], env=env, capture_output=True, check=True)
        floors.append(time.perf_counter() - began)
    earliest = 0.8 * statistics.median(floors)
    rng = random.Random(14)
    violations, completed, garbage_left, mid_write = 0, 0, 0, 0
    next_package = 2
    for trial in range(trials):
        if trial % 2 == 0 and next_package < len(packages):
            argv = [*cli, "registry", "register", str(packages[next_package])]
            next_package += 1
        else:
            version = f"3.{rng.randrange(next_package)}.0"
            argv = [*cli, "registry", "promote", "bench", version, "--to", "production"]
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(earliest, 1.1 * duration))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        completed += process.wait() == 0
        state = _invariants(registry)
        mid_write += state["garbage"] > garbage_left  # killed while copying its blob, or before its commit
        garbage_left = state["garbage"]
        registered = {(e.name, e.version) for e in state["events"] if e.action == "register"}
        if (
            state["productions"] > 1
            or not state["chain_ok"]
            or not state["whole"]
            or state["findings"]
            or len(registered) != state["versions"]
        ):
            violations += 1
    return [
        _count_row(
            f"kill -9 of register/promote, {trials} trials: violations",
            violations,
            0,
            finished_before_kill=completed,
            killed_between_blob_and_commit=mid_write,  # also while the blob was being copied
        ),
    ]


def _big_registry() -> Path:
    """10,000 versions of 100 models (realistic cards), one production each; generated once."""
    root = CACHE / f"n{VERSIONS}"
    if (root / ".complete").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    from paddlectl.packaging.layout import ModelStatus
    from paddlectl.registry.model import Action, EventDraft, SignatureCheck, Storage, VersionRecord, summary_json
    from paddlectl.registry.sqlite_backend import SqliteBackend

    rng = random.Random(7)
    metrics = {f"{kind}_{name}": {"last": 0.5, "min": 0.1, "max": 0.9, "count": 50}
               for kind in ("train", "eval") for name in ("loss", "acc", "hmean", "precision", "recall")}  # fmt: skip
    backend = SqliteBackend(root, create=True)
    with backend.transaction() as tx:
        for index in range(VERSIONS):
            name, version = f"model-{index % 100:03d}", f"1.{index // 100}.0"
            card = {
                "schema_version": 2, "name": name, "version": version, "status": "staging", "task": "detection",
                "framework": "PaddlePaddle", "format": "pir-json", "paddle_version": "3.2.0",
                "files": [{"name": "model.json", "size": 1000}, {"name": "model.pdiparams", "size": 10**8}],
                "metrics": {k: {**v, "last": round(rng.random(), 6)} for k, v in metrics.items()},
                "dataset": "icdar2015", "input_shape": {"x": [-1, 3, 640, 640]},
                "provenance": {"run_id": f"20261122-{index:06d}-abc", "run_status": "succeeded",
                               "image": {"digest": "sha256:" + "3" * 64}, "git": {"commit": f"{index:040x}"},
                               "params": {"lr": 0.001, "epochs": 50, "batch_size": 16}},
            }  # fmt: skip
            sha = f"{rng.getrandbits(256):064x}"
            status = ModelStatus.PRODUCTION if index // 100 == 99 else ModelStatus.STAGING
            tx.insert(
                VersionRecord(
                    name=name, version=version, sha256=sha, size=10**8, status=status, storage=Storage.HOT,
                    signature=SignatureCheck.ABSENT, key_fingerprint=None, registered_by="bench@host",
                    registered_at_ns=1_800_000_000 * 10**9 + index, summary_json=summary_json(card, {"team": "ocr"}),
                    card_json=json.dumps(card, sort_keys=True),
                )
            )  # fmt: skip
            tx.append(EventDraft(Action.REGISTER, name, version, "bench@host", to_status=status, sha256=sha))
    backend.close()
    (root / ".complete").write_text("ok\n")
    return root


def speed_rows(quick: bool) -> list[dict[str, Any]]:
    registry = _big_registry()
    cli = _cli()
    env = _env(registry)
    listed = subprocess.run([*cli, "registry", "list", "--json"], env=env, capture_output=True, check=True)
    rows = json.loads(listed.stdout)
    if len(rows) != VERSIONS:
        raise RuntimeError(f"registry list returned {len(rows)} rows, not {VERSIONS}")
    runs = 5 if quick else 15
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # median_walls runs the commands with this process's environment
    try:
        walls = median_walls(
            {
                "help": [*cli, "--help"],
                "show": [*cli, "registry", "show", "model-042@production"],
                "list": [*cli, "registry", "list", "--json"],
            },
            runs,
            warmups=2,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [
        {
            "figure": f"registry list --json, {VERSIONS:,} versions",
            "paddlectl": round(walls["list"], 4),
            "baseline": LIST_BUDGET_SECONDS,
            "ratio": round(walls["list"] / LIST_BUDGET_SECONDS, 3),
            "target": 1.0,
            "unit": "s",
        },
        {
            "figure": "registry show NAME@production vs paddlectl --help",
            "paddlectl": round(walls["show"], 4),
            "baseline": round(walls["help"], 4),
            "ratio": round(walls["show"] / walls["help"], 3),
            "target": SHOW_TARGET,
            "unit": "s",
        },
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="paddlectl-registry-bench-") as tmp:
        work = Path(tmp)
        rows = concurrency_rows(work)
        rows += kill_rows(work, 20 if quick else KILL_TRIALS)
    rows += speed_rows(quick)
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
