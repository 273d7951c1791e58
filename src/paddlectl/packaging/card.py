"""MODEL.yaml, the model card: what the model is, how good it is, and where every part of it came from.

Schema 2 (this paddlectl writes it) adds input_shape, output_type, trained_on, provenance.run_status,
provenance.labels and the names of the run record and patch the package carries (RUN.yaml, RUN.patch). Schema 1
cards (packages made before) still verify: every field added in 2 is optional when reading.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime
from typing import Any

from paddlectl.errors import PaddlectlError
from paddlectl.export.record import ExportRecord
from paddlectl.foundation import clock
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.packaging.layout import (
    RESERVED_NAMES,
    RUN_PATCH_NAME,
    RUN_RECORD_NAME,
    ModelStatus,
    format_problem,
    validate_package_name,
    validate_version,
)
from paddlectl.packaging.provenance import RunProvenance
from paddlectl.packaging.source import ExportSource
from paddlectl.runs.manifest import Manifest

CARD_SCHEMA = 2
FRAMEWORK = "PaddlePaddle"


def created_by() -> str:
    """user@host for the card (never for the tar headers, which stay anonymous)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid, as in many containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def normalize_timestamp(value: object) -> str | None:
    """An ISO-8601 UTC string from export.yaml's created_at, whether YAML read it as text or as a timestamp."""
    if isinstance(value, datetime):
        return clock.format_utc(value, "auto")
    return str(value) if value is not None else None


def timestamp_seconds(value: str | None) -> int:
    """Seconds since the epoch for the tar headers' mtime; 0 when the export recorded no readable time."""
    return clock.epoch_seconds(value)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dataset(manifest: Manifest | None) -> Any:
    if manifest is None:
        return None
    return manifest.labels.get("dataset", manifest.params.values.get("dataset"))


def _io_summary(record: ExportRecord) -> tuple[dict[str, Any], dict[str, str]]:
    """input_shape (name -> shape) and output_type (name -> dtype[shape]) from the export record."""
    return (
        {str(entry.name): list(entry.shape) for entry in record.inputs},
        {str(entry.name): entry.shape_text() for entry in record.outputs},
    )


def _git_provenance(manifest: Manifest | None, run: RunProvenance) -> dict[str, Any] | None:
    if manifest is None or not manifest.git.is_repository:
        return None
    return {
        "commit": manifest.git.commit,
        "dirty": manifest.git.dirty,
        "patch": RUN_PATCH_NAME if run.patch is not None else None,
        "patch_sha256": run.patch_sha256,
        "patch_state": run.patch_state,
    }


def build_card(
    source: ExportSource,
    *,
    name: str,
    version: str,
    status: ModelStatus,
    task: str | None,
    author: str,
    sizes: dict[str, int],
    run: RunProvenance | None = None,
) -> dict[str, Any]:
    """The card as a mapping, every field taken from the export and the run, none from the clock."""
    from paddlectl.foundation.records import dump

    record = source.record
    manifest = source.manifest
    run = run or RunProvenance(None, None, "none")
    recorded_image = record.image
    if recorded_image.reference or recorded_image.id or recorded_image.digest or manifest is None:
        image = {"reference": recorded_image.reference, "id": recorded_image.id, "digest": recorded_image.digest}
    else:
        image = {"reference": manifest.image.reference, "id": manifest.image.id, "digest": manifest.image.digest}
    input_shape, output_type = _io_summary(record)
    run_id = record.run_id if record.run_id is not None else (manifest.id if manifest is not None else None)
    return {
        "schema_version": CARD_SCHEMA,
        "name": name,
        "version": version,
        "status": status.value,
        "task": task,
        "framework": FRAMEWORK,
        "paddle_version": record.paddle_version or (manifest.runtime.paddle_version if manifest else None),
        "paddle_commit": record.paddle_commit,
        "format": source.format,
        "files": [{"name": file, "size": sizes[file]} for file in source.files],
        "inputs": dump(record.inputs),
        "outputs": dump(record.outputs),
        "input_shape": input_shape,
        "output_type": output_type,
        "metrics": dump(manifest.metrics.summary) if manifest is not None else {},
        "dataset": _dataset(manifest),
        "trained_on": {
            "dataset": _dataset(manifest),
            "run_id": run_id,
            "started_at": manifest.started_at if manifest else None,
            "ended_at": manifest.ended_at if manifest else None,
        },
        "created_by": author,
        "created_at": normalize_timestamp(record.created_at),
        "provenance": {
            "run_id": run_id,
            "run_name": manifest.name if manifest else None,
            "run_status": manifest.status.value if manifest else None,
            "run_record": RUN_RECORD_NAME if run.record is not None else None,
            "labels": dict(manifest.labels) if manifest else {},
            "image": {"reference": image["reference"], "digest": image["digest"], "id": image["id"]},
            "git": _git_provenance(manifest, run),
            "params": dict(manifest.params.values) if manifest else {},
            "verification": dump(record.verification),
            "latency_ms": dump(record.latency_ms),
        },
    }


def check_card(data: bytes, archive_sizes: dict[str, int]) -> tuple[dict[str, Any] | None, list[str]]:
    """The card, and what in it disagrees with itself or with the archive's files (empty when all agrees)."""
    try:
        card = load_yaml(data.decode("utf-8"), "MODEL.yaml")
    except (UnicodeDecodeError, PaddlectlError) as exc:
        return None, [f"unreadable: {exc}"]
    if not isinstance(card, dict):
        return None, ["not a mapping"]
    return card, _card_problems(card, archive_sizes)


def _card_problems(card: dict[str, Any], archive_sizes: dict[str, int]) -> list[str]:
    return [*_field_problems(card), *_file_list_problems(card, archive_sizes)]


def _field_problems(card: dict[str, Any]) -> list[str]:
    """What is wrong with the card's schema version, name, version, status and framework."""
    problems: list[str] = []
    version = card.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= CARD_SCHEMA:
        problems.append(f"schema_version {version!r} is not one this paddlectl reads (1 to {CARD_SCHEMA})")
    for field, check in (("name", validate_package_name), ("version", validate_version)):
        try:
            check(str(card.get(field)))
        except PaddlectlError as exc:
            problems.append(str(exc))
    if card.get("status") not in {status.value for status in ModelStatus}:
        problems.append(f"status {card.get('status')!r} is not staging, production or archived")
    if card.get("framework") != FRAMEWORK:
        problems.append(f"framework {card.get('framework')!r} is not {FRAMEWORK}")
    return problems


def _file_list_problems(card: dict[str, Any], archive_sizes: dict[str, int]) -> list[str]:
    """Where the card's `files` and `format` disagree with the files the archive holds."""
    files = card.get("files")
    if not isinstance(files, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("size"), int)
        for entry in files
    ):
        return ["files is not a list of {name, size}"]
    problems: list[str] = []
    listed = {entry["name"]: entry["size"] for entry in files}
    for file, size in listed.items():
        if file not in archive_sizes:
            problems.append(f"lists {file}, which the package does not hold")
        elif archive_sizes[file] != size:
            problems.append(f"gives {file} {size} bytes, the package holds {archive_sizes[file]}")
    unlisted = sorted(set(archive_sizes) - set(listed) - RESERVED_NAMES)
    if unlisted:
        problems.append(f"does not list {', '.join(unlisted)}")
    problem = format_problem(card.get("format"), list(listed))
    if problem:
        problems.append(problem)
    return [*problems, *_provenance_problems(card, archive_sizes)]


def _provenance_problems(card: dict[str, Any], archive_sizes: dict[str, int]) -> list[str]:
    """The run record and patch the card names must be in the package (SHA256SUMS covers their bytes)."""
    provenance = _mapping(card.get("provenance"))
    named = {"run_record": (provenance.get("run_record"), RUN_RECORD_NAME)}
    named["git.patch"] = (_mapping(provenance.get("git")).get("patch"), RUN_PATCH_NAME)
    problems = []
    for field, (value, expected) in named.items():
        if value is None:
            continue
        if value != expected:
            problems.append(f"provenance.{field} is {value!r}, not {expected}")
        elif expected not in archive_sizes:
            problems.append(f"provenance.{field} names {expected}, which the package does not hold")
    return problems
