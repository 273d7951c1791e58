"""Build a package: one deterministic tar of the inference files, MODEL.yaml, SHA256SUMS and its signature.

Order inside: MODEL.yaml, RUN.yaml and RUN.patch (the run's provenance, when there is a run), the inference files
sorted by name, SHA256SUMS, SHA256SUMS.sig. The sums come last so
each file is read once, hashed as it is streamed in; the archive's own sha256 (the release identity) is computed
on another core while it is written.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import fsync_dir
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging import signing
from paddlectl.packaging.card import build_card, created_by, timestamp_seconds
from paddlectl.packaging.checksums import format_sums
from paddlectl.packaging.layout import (
    CARD_NAME,
    RUN_PATCH_NAME,
    RUN_RECORD_NAME,
    SIG_NAME,
    SUMS_NAME,
    ModelStatus,
    archive_name,
    validate_package_name,
    validate_version,
)
from paddlectl.packaging.provenance import RunProvenance, collect_provenance
from paddlectl.packaging.source import ExportSource, load_export
from paddlectl.packaging.tarwriter import ArchiveSink, DeterministicTarWriter

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class PackageRequest:
    export_dir: Path
    name: str
    version: str
    output_dir: Path = Path(".")
    status: ModelStatus = ModelStatus.STAGING
    task: str | None = None
    sign_key: Path | None = None
    force: bool = False
    allow_unverified: bool = False
    allow_failed: bool = False  # package the export of a run that did not succeed (the card records its status)
    include_patch: bool = True  # RUN.patch, the run's uncommitted changes (--no-patch: left out, the card says so)
    author: str | None = None  # created_by in the card; user@host when None


@dataclass(frozen=True)
class PackagedFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PackageResult:
    path: Path
    sha256: str  # of the whole archive: the release identity
    size: int
    files: list[PackagedFile]
    signed: bool
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
            "signed": self.signed,
        }


def _open_regular(path: Path) -> tuple[int, int]:
    """An fd and size for a regular file, without following a link swapped in since the export was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="re-run paddlectl export") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UsageError(f"{path} is not a regular file", hint="re-run paddlectl export")
    return fd, info.st_size


def _publish(tmp: Path, final: Path, *, force: bool) -> None:
    """Move the finished archive into place; without force, never replace a file that appeared meanwhile."""
    if force:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)  # atomic "create unless it exists"
    except FileExistsError as exc:
        raise UsageError(f"{final} already exists", hint="pass --force to replace it") from exc
    except OSError:  # a filesystem without hard links
        if final.exists():
            raise UsageError(f"{final} already exists", hint="pass --force to replace it") from None
        os.replace(tmp, final)
    else:
        tmp.unlink()


def _check_request(request: PackageRequest, source: ExportSource) -> None:
    run_status = source.run_status
    if run_status not in (None, "succeeded") and not request.allow_failed:
        reason = source.manifest.reason if source.manifest else None
        raise UsageError(
            f"the run this export came from {run_status}"
            + (f" ({reason})" if reason else "")
            + ": its weights may be half-trained",
            hint="train it again, or pass --allow-failed to package it anyway (MODEL.yaml records the run's status)",
        )
    if source.verification_status != "passed" and not request.allow_unverified:
        raise UsageError(
            f"the export in {source.directory} was not verified "
            f"(verification status: {source.verification_status or 'none recorded'})",
            hint="re-run paddlectl export until its equivalence check passes, or pass --allow-unverified",
        )


def _prepare_output(request: PackageRequest) -> Path:
    final = request.output_dir / archive_name(request.name, request.version)
    if final.is_dir():
        raise UsageError(f"{final} is a folder", hint="choose another -o")
    if final.exists() and not request.force:
        raise UsageError(f"{final} already exists", hint="pass --force to replace it")
    try:
        request.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {request.output_dir}: {exc.strerror}", hint="choose another -o") from exc
    return final


def _write_archive(
    sink: ArchiveSink,
    source: ExportSource,
    fds: dict[str, tuple[int, int]],
    card_bytes: bytes,
    run: RunProvenance,
    mtime: int,
    key: Ed25519PrivateKey | None,
) -> list[PackagedFile]:
    """Stream every member into `sink` in the package's fixed order; each export file is read exactly once."""
    writer = DeterministicTarWriter(sink, mtime)
    files = [PackagedFile(CARD_NAME, len(card_bytes), writer.add_bytes(CARD_NAME, card_bytes))]
    for name, data in ((RUN_RECORD_NAME, run.record), (RUN_PATCH_NAME, run.patch)):
        if data is not None:
            files.append(PackagedFile(name, len(data), writer.add_bytes(name, data)))
    for name in source.files:
        file_fd, size = fds.pop(name)
        with os.fdopen(file_fd, "rb", buffering=0) as handle:
            files.append(PackagedFile(name, size, writer.add_stream(name, handle, size)))
    sums = format_sums({f.name: f.sha256 for f in files})
    files.append(PackagedFile(SUMS_NAME, len(sums), writer.add_bytes(SUMS_NAME, sums)))
    if key is not None:
        signature = signing.sign(key, sums)
        files.append(PackagedFile(SIG_NAME, len(signature), writer.add_bytes(SIG_NAME, signature)))
    writer.close()
    return files


def build_package(request: PackageRequest) -> PackageResult:
    """Write NAME-VERSION.tar into the output folder, atomically, and return its sha256 and contents.

    Raises UsageError for a bad name or version, an unverified or broken export, an existing archive without
    force, or an unusable signing key; nothing is left behind on any failure or interrupt.
    """
    validate_package_name(request.name)
    validate_version(request.version)
    source = load_export(request.export_dir)
    _check_request(request, source)
    warnings: list[str] = []
    key = None
    if request.sign_key is not None:
        key = signing.load_private_key(request.sign_key)
        exposure = signing.key_exposure_warning(request.sign_key)
        if exposure:
            warnings.append(exposure)
    run = collect_provenance(source, request.include_patch)
    warnings.extend(run.warnings)
    final = _prepare_output(request)

    fds: dict[str, tuple[int, int]] = {}
    try:
        for name in source.files:
            fds[name] = _open_regular(source.directory / name)
        card = build_card(
            source,
            name=request.name,
            version=request.version,
            status=request.status,
            task=request.task,
            author=request.author or created_by(),
            sizes={name: size for name, (_, size) in fds.items()},
            run=run,
        )
        card_bytes = dump_yaml(card).encode("utf-8")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=request.output_dir)
        tmp = Path(tmp_name)
        sink = None
        try:
            with os.fdopen(fd, "wb") as handle:
                sink = ArchiveSink(handle)
                files = _write_archive(sink, source, fds, card_bytes, run, timestamp_seconds(card["created_at"]), key)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp made it 0600; a release artifact is meant to be read
            _publish(tmp, final, force=request.force)
        except BaseException:
            if sink is not None:
                sink.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    finally:
        for file_fd, _ in fds.values():
            os.close(file_fd)
    fsync_dir(request.output_dir)
    return PackageResult(
        path=final, sha256=sink.hexdigest(), size=sink.size, files=files, signed=key is not None, warnings=warnings
    )
