"""MODEL.yaml, the model card: what the model is, how good it is, and where every part of it came from."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import datetime
from enum import Enum
from typing import Any

from paddlectl.errors import PaddlectlError, UsageError
from paddlectl.foundation import clock
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.packaging.layout import (
    RESERVED_NAMES,
    format_problem,
    validate_package_name,
    validate_version,
)
from paddlectl.packaging.source import ExportSource

CARD_SCHEMA = 1
FRAMEWORK = "PaddlePaddle"


class ModelStatus(str, Enum):
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


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


def _dataset(manifest: dict[str, Any]) -> Any:
    labels = _mapping(manifest.get("labels"))
    values = _mapping(_mapping(manifest.get("params")).get("values"))
    return labels.get("dataset", values.get("dataset"))


def build_card(
    source: ExportSource,
    *,
    name: str,
    version: str,
    status: ModelStatus,
    task: str | None,
    author: str,
    sizes: dict[str, int],
) -> dict[str, Any]:
    """The card as a mapping, every field taken from the export and the run, none from the clock."""
    record = source.record
    manifest = source.manifest or {}
    git = _mapping(manifest.get("git"))
    runtime = _mapping(manifest.get("runtime"))
    image = _mapping(record.get("image")) or _mapping(manifest.get("image"))
    return {
        "schema_version": CARD_SCHEMA,
        "name": name,
        "version": version,
        "status": status.value,
        "task": task,
        "framework": FRAMEWORK,
        "paddle_version": record.get("paddle_version") or runtime.get("paddle_version"),
        "paddle_commit": record.get("paddle_commit"),
        "format": source.format,
        "files": [{"name": file, "size": sizes[file]} for file in source.files],
        "inputs": record.get("inputs") or [],
        "outputs": record.get("outputs") or [],
        "metrics": _mapping(manifest.get("metrics")).get("summary") or {},
        "dataset": _dataset(manifest),
        "created_by": author,
        "created_at": normalize_timestamp(record.get("created_at")),
        "provenance": {
            "run_id": record.get("run_id") if "run_id" in record else manifest.get("id"),
            "run_name": manifest.get("name"),
            "image": {
                "reference": image.get("reference"),
                "digest": image.get("digest"),
                "id": image.get("id"),
            },
            "git": {"commit": git.get("commit"), "dirty": git.get("dirty")} if git else None,
            "params": _mapping(manifest.get("params")).get("values") or {},
            "verification": record.get("verification"),
            "latency_ms": record.get("latency_ms"),
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
    if not isinstance(version, int) or version > CARD_SCHEMA:
        problems.append(f"schema_version {version!r} is not one this paddlectl reads ({CARD_SCHEMA})")
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
    return problems


def parse_status(text: str) -> ModelStatus:
    try:
        return ModelStatus(text)
    except ValueError:
        raise UsageError(
            f"invalid status {text!r}", hint="use one of: " + ", ".join(s.value for s in ModelStatus)
        ) from None
