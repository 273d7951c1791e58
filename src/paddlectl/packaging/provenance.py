"""What a package carries so a run can be repeated from it alone: the run's manifest and its uncommitted patch.

RUN.yaml is the run's manifest as recorded (secrets were masked when it was written); RUN.patch is the run's
`uncommitted.patch`, checked against the sha256 the manifest recorded. Both are listed in SHA256SUMS, so the
signature covers them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging.reader import SMALL_FILE_LIMIT
from paddlectl.packaging.source import ExportSource
from paddlectl.runs.manifest import Manifest


@dataclass(frozen=True)
class RunProvenance:
    record: bytes | None  # RUN.yaml: the manifest as YAML; None when the export is not inside a run folder
    patch: bytes | None  # RUN.patch; None when the run had no uncommitted changes (or they were not saved)
    patch_state: str  # none | included | left-out (package --no-patch) | missing | too-large | truncated
    warnings: list[str] = field(default_factory=list)

    @property
    def patch_sha256(self) -> str | None:
        return hashlib.sha256(self.patch).hexdigest() if self.patch is not None else None


def _without_local_files(manifest: Manifest) -> bytes:
    """RUN.yaml for --no-patch: untracked file names and the patch's local path are what leaving it out hides."""
    import dataclasses

    git = dataclasses.replace(
        manifest.git,
        untracked=[],
        outside_patch=[],
        patch_file=Path(manifest.git.patch_file or "").name or None,
    )
    return dump_yaml(dataclasses.replace(manifest, git=git).to_dict()).encode("utf-8")


def _patch_path(run_dir: Path, recorded: str) -> Path:
    path = Path(recorded)
    if not path.is_absolute():
        return run_dir / path
    # A moved project still has the patch in its run folder, under the same name.
    return path if path.is_file() else run_dir / path.name


def collect_provenance(source: ExportSource, include_patch: bool = True) -> RunProvenance:
    """The run record and patch for `source`; warnings say what a reproduction from the package will lack.

    `include_patch=False` (package --no-patch) keeps the run's uncommitted changes out of a package that leaves the
    machine: RUN.yaml then keeps the names of the changed tracked files but not those of the untracked ones, nor the
    patch's path on this machine, and a reproduction from the package is refused.

    Raises UsageError when the saved patch does not match the sha256 its manifest recorded (the run store was
    changed after the run).
    """
    manifest = source.manifest
    if manifest is None:
        return RunProvenance(None, None, "none")
    record = dump_yaml(manifest.to_dict()).encode("utf-8")
    git = manifest.git
    if git.patch_truncated:
        warning = "the run's uncommitted changes were over the patch cap and were not saved: not in the package"
        return RunProvenance(record, None, "truncated", [warning])
    recorded = git.patch_file
    if not recorded:
        return RunProvenance(record, None, "none")
    if not include_patch:
        warning = "the run's uncommitted changes are left out (--no-patch): the package alone cannot reproduce the run"
        return RunProvenance(_without_local_files(manifest), None, "left-out", [warning])
    path = _patch_path(source.directory.parent, str(recorded))
    try:
        size = path.stat().st_size
        if size > SMALL_FILE_LIMIT:
            warning = f"the run's patch {path} is {size} bytes, over {SMALL_FILE_LIMIT}: not in the package"
            return RunProvenance(record, None, "too-large", [warning])
        patch = path.read_bytes()
    except OSError:
        warning = f"the run's patch {path} is missing: reproducing from this package will not have it"
        return RunProvenance(record, None, "missing", [warning])
    expected = git.patch_sha256
    if expected and hashlib.sha256(patch).hexdigest() != expected:
        raise UsageError(
            f"{path} does not match the sha256 its run recorded",
            hint="the run store was changed after the run: package another run",
        )
    return RunProvenance(record, patch, "included")
