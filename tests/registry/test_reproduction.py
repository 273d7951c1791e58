"""A registered version as the run reproduce repeats: the manifest and patch come out of the verified package."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging import PackageRequest, build_package
from paddlectl.packaging.errors import TamperedError
from paddlectl.registry.register import register_package
from paddlectl.registry.reproduction import registered_run
from paddlectl.registry.store import Registry
from paddlectl.runs.manifest import CommandRecord, ContainerRecord, ImageRecord, Manifest, RunStatus
from paddlectl.train.reproduce import reproduce_request
from paddlectl.train.request import EnvSetting
from registry.conftest import PackageFactory
from unit.packaging.test_packaging_fakes import RUN_ID, make_export

Opener = Callable[[], Registry]
PATCH = b"diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-lr = 1\n+lr = 2\n"


def _dirty_package(root: Path, *, with_patch: bool = True, include_patch: bool = True) -> Path:
    export = make_export(root)
    run_dir = export.parent
    (run_dir / "uncommitted.patch").write_bytes(PATCH)
    manifest = Manifest(
        id=RUN_ID,
        project="digits",
        status=RunStatus.SUCCEEDED,
        started_at="2026-11-22T10:30:00.000Z",
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu", "sha256:" + "1" * 64, "repo@sha256:" + "2" * 64),
        command=CommandRecord("train.py", None, ["--fast"], ["python", "train.py", "--fast"]),
        container=ContainerRecord(env_names=["MODE"], env={"MODE": "full"}, shm_size="2g"),
        params={"values": {"lr": 0.01, "epochs": 3}, "sources": {"lr": "cli", "epochs": "config"}},
        git={
            "is_repository": True,
            "commit": "f" * 40,
            "dirty": True,
            "patch_file": str(run_dir / "uncommitted.patch"),
            "patch_sha256": hashlib.sha256(PATCH).hexdigest(),
        },
        metrics={"file": "metrics.jsonl", "summary": {"acc": {"last": 0.97, "count": 3}}},
    )
    (run_dir / "manifest.yaml").write_text(dump_yaml(manifest.to_dict()))
    if not with_patch:
        (run_dir / "uncommitted.patch").unlink()
    request = PackageRequest(
        export_dir=export, name="digits", version="1.0.0", output_dir=root / "dist", include_patch=include_patch
    )
    return build_package(request).path


def test_the_run_and_its_patch_come_from_the_package(open_reg: Opener, tmp_path: Path) -> None:
    registry = open_reg()
    register_package(registry, _dirty_package(tmp_path / "proj"))
    with registered_run(registry, "digits@1.0.0") as source:
        assert source.patch is not None and source.patch.read_bytes() == PATCH
        manifest = source.manifest
        assert manifest.id == RUN_ID and manifest.image.digest == "repo@sha256:" + "2" * 64
        assert [(name, m.last, m.count) for name, m in manifest.metrics.summary.items()] == [("acc", 0.97, 3)]
        request = reproduce_request(manifest, [])
        assert (request.script, request.script_args, request.fixed_params) == (
            "train.py",
            ["--fast"],
            {"lr": 0.01, "epochs": 3},
        )
        assert request.env == [EnvSetting("MODE", "full")] and request.reproduces == RUN_ID
        patch = source.patch
    assert not patch.exists()  # a temporary file, gone with the context


@pytest.mark.parametrize("lost", ["missing", "left-out"])
def test_a_dirty_run_without_its_patch_is_refused(open_reg: Opener, tmp_path: Path, lost: str) -> None:
    registry = open_reg()
    package = _dirty_package(tmp_path / "proj", with_patch=lost != "missing", include_patch=lost != "left-out")
    register_package(registry, package)
    refused = pytest.raises(UsageError, match="uncommitted changes that are not in its package")
    with refused, registered_run(registry, "digits@1.0.0"):
        pass


def test_a_package_without_a_run_record_or_with_a_changed_blob_is_refused(
    open_reg: Opener, tmp_path: Path, make_package: PackageFactory
) -> None:
    registry = open_reg()
    export = make_export(tmp_path / "bare", with_manifest=False)
    request = PackageRequest(export_dir=export, name="bare", version="1.0.0", output_dir=tmp_path / "dist")
    register_package(registry, build_package(request).path)
    with pytest.raises(UsageError, match="carries no run record"), registered_run(registry, "bare@1.0.0"):
        pass
    record = register_package(registry, _dirty_package(tmp_path / "proj")).record
    blob = registry.backend.blobs.path(record.sha256)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(TamperedError), registered_run(registry, "digits@1.0.0"):
        pass


def test_a_gate_baseline_of_a_model_the_registry_lacks_names_the_models_it_has(
    open_reg: Opener, make_package: PackageFactory
) -> None:
    from paddlectl.ci.baselines import MissingBaseline, RegistrySource

    register_package(open_reg(), make_package("1.0.0"))  # staging only
    source = RegistrySource()
    with pytest.raises(MissingBaseline) as typo:
        source.resolve("digts@production")
    assert (
        "there is no model digts in the registry" in typo.value.message and "its models: digits" in typo.value.message
    )
    with pytest.raises(MissingBaseline) as first:
        source.resolve("digits@production")
    assert "there is no production version of digits" in first.value.message
