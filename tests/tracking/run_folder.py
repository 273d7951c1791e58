"""Run folders with everything a push carries: typed and secret params, a long value, labels, git with a patch,
metric series (steps, no steps, NaN), a log, outputs listed with their sha256 and an export folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from paddlectl.runs.manifest import ArtifactRecord, ExportSummary, HostRecord, RunStatus
from paddlectl.runs.store import RunPaths, RunStore
from unit.runs.runs_factory import make_run

LONG_VALUE = "ab\u00e9" * 2400  # 7,200 characters: over MLflow's 6,000 for a param
PARAMS: dict[str, Any] = {
    "lr": 0.001,
    "epochs": 3,
    "use_amp": True,
    "optimizer": "adam",
    "layers": [64, 32],
    "warmup": None,
    "api_token": "****",  # train masked it before it reached the manifest
    "notes": LONG_VALUE,
}
START = 1_796_000_000.0


def write_series(paths: RunPaths, metrics: int, steps: int) -> list[dict[str, Any]]:
    """`metrics` helper series of `steps` points each, plus a log-parsed series without steps that holds a NaN."""
    records = []
    for step in range(steps):
        for index in range(metrics):
            value = 1.0 / (step + 1) + index * 0.001
            records.append(
                {"name": f"m{index}", "value": value, "step": step, "time": START + step * 0.5 + index * 1e-3}
            )
    for position in range(5):
        value = None if position == 2 else 0.1 * position
        records.append({"name": "eval_acc", "value": value, "step": None, "time": START + 1000 + position})
    with paths.metrics.open("w", encoding="utf-8") as handle:
        for record in records:
            source = "log" if record["name"] == "eval_acc" else "helper"
            handle.write(json.dumps({**record, "source": source}) + "\n")
    return records


def rich_run(
    project: Path, *, minutes: int = 1, metrics: int = 10, steps: int = 100, name: str = "sweep-a"
) -> RunPaths:
    paths = make_run(
        project,
        minutes=minutes,
        status=RunStatus.FAILED,
        name=name,
        params=PARAMS,
        labels={"team": "vision", "sweep": "lr"},
        log="epoch 1 loss 0.5\nnaïve ünïcode line\n" * 50,
    )
    write_series(paths, metrics, steps)
    weights = paths.outputs / "model.pdparams"
    weights.write_bytes(bytes(range(256)) * 40)
    (paths.outputs / "sub").mkdir()
    (paths.outputs / "sub" / "notes.txt").write_text("kept\n")
    patch = b"diff --git a/train.py b/train.py\n+print('changed')\n"
    paths.patch.write_bytes(patch)
    export = paths.root / "export"
    export.mkdir()
    (export / "model.json").write_text('{"program": 1}\n')
    (export / "model.pdiparams").write_bytes(b"\x00\x01" * 500)
    (export / "export.yaml").write_text("schema_version: 1\n")
    store = RunStore(paths.root.parent)
    manifest = store.read(paths.run_id)
    manifest.reason = "exit code 1"
    manifest.exit_code = 1
    manifest.git = dataclasses.replace(
        manifest.git,
        branch="main",
        remote_url="https://example.com/team/repo.git",
        patch_file="uncommitted.patch",
        patch_sha256=hashlib.sha256(patch).hexdigest(),
        is_repository=True,
        dirty=True,
    )
    manifest.host = HostRecord(paddlectl_version="0.1.0", hostname="box")
    manifest.artifacts = [
        ArtifactRecord(path, (paths.outputs / path).stat().st_size, _sha(paths.outputs / path))
        for path in ("model.pdparams", "sub/notes.txt")
    ]
    manifest.export = ExportSummary(format="pir-json", dir="export", verification="passed")
    store.write(manifest)
    return paths


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
