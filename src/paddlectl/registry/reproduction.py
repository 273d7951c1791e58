"""A registered version as the run `paddlectl reproduce NAME@VERSION` repeats: from the package alone.

The package carries the run's manifest (RUN.yaml: command, params, image digest, env names, container settings,
commit) and its uncommitted patch (RUN.patch), both covered by SHA256SUMS and the signature; they are read from
the registry's copy after it is verified again. The metrics to compare with are the card's.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.packaging.layout import RUN_PATCH_NAME, RUN_RECORD_NAME
from paddlectl.registry.model import VersionRecord
from paddlectl.registry.store import Registry
from paddlectl.runs.manifest import Manifest, ManifestError, MetricSummary


@dataclass(frozen=True)
class RegisteredRun:
    record: VersionRecord
    manifest: Manifest  # the run as the package recorded it, with the card's metrics
    patch: Path | None  # the package's RUN.patch in a temporary file, for train.reproduce's `patch`


def _manifest(record: VersionRecord, data: bytes | None) -> Manifest:
    if data is None:
        raise UsageError(
            f"{record.ref} carries no run record ({RUN_RECORD_NAME})",
            hint="it was packaged before packages recorded their run, or from an export outside a run: "
            "reproduce the run by its id (paddlectl reproduce RUN) where its run store is",
        )
    try:
        manifest = Manifest.from_dict(load_yaml(data.decode("utf-8"), f"{record.ref}: {RUN_RECORD_NAME}"))
    except (ManifestError, UnicodeDecodeError) as exc:
        problem = f"{record.ref}: {RUN_RECORD_NAME} is not a run manifest: {exc}"
        raise UsageError(problem, hint="package it again") from exc
    manifest.metrics.summary = _card_metrics(record.card.get("metrics"))
    return manifest


def _card_metrics(metrics: object) -> dict[str, MetricSummary]:
    """The card's metric summaries (the card is the released truth) as the manifest's records."""
    from paddlectl.foundation.records import RecordError, load

    found: dict[str, MetricSummary] = {}
    for name, entry in (metrics or {}).items() if isinstance(metrics, dict) else ():
        try:
            found[str(name)] = load(MetricSummary, entry)
        except RecordError:
            continue  # a metric the card holds in another shape is not compared
    return found


@contextlib.contextmanager
def registered_run(registry: Registry, reference: str) -> Iterator[RegisteredRun]:
    """The run of the version `reference` names, from its verified package; the patch file lives while open.

    Raises UsageError for an unknown or cold version, a package without a run record, or a dirty run whose patch
    is not in the package; TamperedError when the registry's copy fails verification.
    """
    record = registry.resolve(reference)
    checked = registry.checked_blob(record)
    manifest = _manifest(record, checked.provenance.get(RUN_RECORD_NAME))
    patch = checked.provenance.get(RUN_PATCH_NAME)
    if patch is None and (manifest.git.patch_file or manifest.git.patch_truncated):
        raise UsageError(
            f"{record.ref} was built from uncommitted changes that are not in its package",
            hint="commit your changes before the runs you release, then package and register again",
        )
    if patch is None:
        yield RegisteredRun(record, manifest, None)
        return
    with tempfile.TemporaryDirectory(prefix="paddlectl-registered-run-") as tmp:
        path = Path(tmp) / RUN_PATCH_NAME
        path.write_bytes(patch)
        yield RegisteredRun(record, manifest, path)
