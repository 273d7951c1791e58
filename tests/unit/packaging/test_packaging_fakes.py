"""Fake exports and hand-made archives for the packaging tests (no Paddle, no Docker); holds no tests itself."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paddlectl.foundation.yamlio import dump_yaml

RUN_ID = "20261122-103000-ab12cd"
CREATED_AT = "2026-11-22T10:30:00Z"
CREATED_AT_EPOCH = 1795343400


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_export(
    project: Path,
    *,
    fmt: str = "pir-json",
    weights_size: int = 200_000,
    status: str = "passed",
    run_id: str = RUN_ID,
    with_manifest: bool = True,
    record_overrides: dict[str, Any] | None = None,
) -> Path:
    """A run folder with manifest.yaml and export/ (inference files of small random bytes, export.yaml)."""
    run_dir = project / ".paddlectl" / "runs" / run_id
    export = run_dir / "export"
    export.mkdir(parents=True)
    if fmt == "pir-json":
        contents = {"model.json": b'{"program": {"ops": []}}\n', "model.pdiparams": random_bytes(weights_size, 1)}
    else:
        contents = {
            "model.pdmodel": random_bytes(3_000, 2),
            "model.pdiparams": random_bytes(weights_size, 1),
            "model.pdiparams.info": random_bytes(700, 3),
        }
    for name, data in contents.items():
        (export / name).write_bytes(data)
    record: dict[str, Any] = {
        "schema_version": 1,
        "format": fmt,
        "paddle_version": "3.2.0",
        "paddle_commit": "abc123",
        "files": sorted(contents),
        "model": {"factory": "model:build_model", "args": {"num_classes": 10}},
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
        "outputs": [{"name": "fetch_name_0", "dtype": "float32", "shape": [-1, 10]}],
        "verification": {
            "status": status,
            "atol": 1.0e-05,
            "rtol": 1.0e-04,
            "samples": 8,
            "outputs": [{"name": "fetch_name_0", "max_abs_diff": 1.2e-07, "max_rel_diff": 3.0e-06}],
        },
        "latency_ms": {"p50": 0.08, "p95": 0.11, "runs": 100},
        "size_bytes": sum(len(data) for data in contents.values()),
        "run_id": run_id,
        "image": {"reference": "paddlectl-test/paddle:3.2.0-cpu", "id": "sha256:" + "1" * 64, "digest": None},
        "created_at": CREATED_AT,
        **(record_overrides or {}),
    }
    (export / "export.yaml").write_text(dump_yaml(record))
    if with_manifest:
        manifest = {
            "schema_version": 1,
            "id": run_id,
            "project": "proj",
            "started_at": "2026-11-22T10:30:00.000Z",
            "command": {"script": "train.py", "module": None},
            "name": "digits-baseline",
            "status": "succeeded",
            "image": {"reference": "paddlectl-test/paddle:3.2.0-cpu", "id": "sha256:" + "1" * 64, "digest": None},
            "git": {"is_repository": True, "commit": "f" * 40, "branch": "main", "dirty": False},
            "params": {"values": {"lr": 0.01, "epochs": 3}, "sources": {"lr": "cli", "epochs": "default"}},
            "metrics": {
                "file": "metrics.jsonl",
                "summary": {"acc": {"last": 0.97, "min": 0.5, "max": 0.97, "count": 3}},
            },
            "labels": {"dataset": "digits"},
            "runtime": {"paddle_version": "3.2.0"},
        }
        (run_dir / "manifest.yaml").write_text(dump_yaml(manifest))
    return export


def member(
    name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    info.mode = 0o644
    return info, data


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> Path:
    """A tar written by tarfile itself, as an attacker would (any member kind, any name)."""
    with tarfile.open(path, "w", format=fmt) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def sums_for(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())).encode()


def card_for(contents: dict[str, bytes], fmt: str = "pir-json", **overrides: Any) -> bytes:
    card = {
        "schema_version": 1,
        "name": "digits",
        "version": "1.0.0",
        "status": "staging",
        "framework": "PaddlePaddle",
        "format": fmt,
        "files": [{"name": name, "size": len(data)} for name, data in sorted(contents.items())],
        **overrides,
    }
    return dump_yaml(card).encode()


def crafted_package(
    path: Path,
    extra: Sequence[tuple[tarfile.TarInfo, bytes]] = (),
    *,
    list_extra: bool = True,
) -> Path:
    """A well-formed package (card, files, sums) plus `extra` members, listed in SHA256SUMS when regular."""
    files = {"model.json": b"{}\n", "model.pdiparams": random_bytes(5_000, 9)}
    card = card_for(files)
    summed = {"MODEL.yaml": card, **files}
    if list_extra:
        summed.update({info.name: data for info, data in extra if info.isreg()})
    members = [member("MODEL.yaml", card), *(member(n, d) for n, d in files.items()), *extra]
    members.append(member("SHA256SUMS", sums_for(summed)))
    return write_tar(path, members)
