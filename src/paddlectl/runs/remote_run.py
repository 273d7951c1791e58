"""A run on a remote engine: its files go in before the container starts and its outputs come back when it ends.

The container gets what the local bind mounts would have shown (engine/shipping.py): the code as the manifest
records it (tracked files plus uncommitted changes, git-ignored files left out: foundation/source_tree.py),
paddlectl's helper library and the params file. Its outputs/ and container/ folders are fetched into the run's
folder when the run ends, is interrupted, or is settled by reconciliation after the CLI was killed; until they are
safe the container is kept (a fetch that fails leaves the run for the next command to settle).
`--mount` sources name paths on the remote host (datasets live there) and stay bind mounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from paddlectl.engine.protocol import Container, ContainerSpec
from paddlectl.engine.shipping import (
    Download,
    Shipment,
    Transfer,
    download,
    owner_of,
    shipment_for,
    size_warning,
    upload,
)
from paddlectl.foundation.names import OUTPUT_DIR, RUN_DIR, WORKDIR
from paddlectl.foundation.signals import signals
from paddlectl.runs.manifest import Manifest, TransferRecord
from paddlectl.runs.store import RunPaths


def is_remote(manifest: Manifest) -> bool:
    """Did the run's container run on an engine that could not see this machine's files?"""
    return manifest.engine.remote


def run_downloads(paths: RunPaths) -> tuple[Download, Download]:
    """What a run's container writes that the run keeps: outputs/ and the helper's container/ folder."""
    return Download(OUTPUT_DIR, paths.outputs), Download(RUN_DIR, paths.container_dir)


def fetch_run_files(container: Container, paths: RunPaths) -> Transfer:
    """Fetch an ended container's outputs/ and container/ into the run's folder (signals held meanwhile).

    Raises PaddlectlError when the engine cannot send them; the caller keeps the container then.
    """
    total = Transfer()
    with signals.held():
        signals.phase("download")
        for item in run_downloads(paths):
            fetched = download(container, item)
            total.files += fetched.files
            total.bytes += fetched.bytes
            total.skipped += fetched.skipped
    return total


@dataclass
class ShippedRun:
    """The remote side of one run: the spec without local mounts, and the upload/fetch hooks for its container."""

    shipment: Shipment
    paths: RunPaths
    where: str  # the host, as messages name it
    warn: Callable[[str], None]
    uploaded: TransferRecord | None = None  # what moved, for the manifest's engine record
    fetched: TransferRecord | None = None

    @classmethod
    def plan(
        cls,
        spec: ContainerSpec,
        code_files: Collection[str],
        user_mounts: Collection[str],
        paths: RunPaths,
        where: str,
        warn: Callable[[str], None],
    ) -> ShippedRun:
        """Replace the spec's local mounts by uploads; `user_mounts` (targets) stay: paths on the remote host."""
        shipment = shipment_for(spec, keep=user_mounts, trees={WORKDIR: code_files})
        return cls(shipment, paths, where, warn)

    @property
    def spec(self) -> ContainerSpec:
        return self.shipment.spec

    def before_start(self, container: Container) -> None:
        """Send the code, helper library and params file into the created container (signals held)."""
        started = time.monotonic()
        signals.phase("upload")
        with signals.held():
            sent = upload(container, self.shipment.uploads, owner_of(self.spec.user))
        self.uploaded = TransferRecord(sent.files, sent.bytes, round(time.monotonic() - started, 3))
        warning = size_warning(sent, self.where)
        if warning:
            self.warn(warning)
        signals.checkpoint()

    def after_end(self, container: Container) -> None:
        """Fetch the ended container's outputs; raises PaddlectlError (the container is kept then)."""
        started = time.monotonic()
        fetched = fetch_run_files(container, self.paths)
        self.fetched = TransferRecord(fetched.files, fetched.bytes, round(time.monotonic() - started, 3))
        if fetched.skipped:
            shown = ", ".join(fetched.skipped[:5])
            self.warn(f"{len(fetched.skipped)} link(s) or special file(s) in the outputs were not fetched: {shown}")
