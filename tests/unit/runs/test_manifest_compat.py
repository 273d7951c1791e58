"""Forward compatibility of run manifests: keys this paddlectl does not know survive a rewrite, and a manifest of a
newer schema is listed and shown but never rewritten (not by RunStore.write, reconciliation or export)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from fakes import FakeEngine
from paddlectl.errors import PaddlectlError
from paddlectl.export.record import ExportRecord
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.runs.index import RunIndex
from paddlectl.runs.manifest import SCHEMA_VERSION, ImageRecord, Manifest, ManifestError, RunStatus
from paddlectl.runs.project_runs import ProjectRuns
from paddlectl.runs.query import RunQuery
from paddlectl.runs.store import RunPaths, RunStore
from tests.unit.runs.runs_factory import make_run

UNKNOWN_TOP = {
    "provenance": {"signed_by": "ci", "chain": [1, 2.5, None, "x"], "at": datetime(2026, 11, 22, tzinfo=timezone.utc)},
    "notes": "first line\nsecond line with ünïcode\n",
}
UNKNOWN_IMAGE = {"platform": "linux/arm64", "layers": [{"digest": "sha256:" + "a" * 64, "size": 12}]}
UNKNOWN_COMMAND = {"shell": "bash", "entry": {"kind": "module", "retries": 3}}
UNKNOWN_CONTAINER = {"runtime_class": "nvidia", "cpuset": "0-3"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "proj"


def _store(project: Path) -> RunStore:
    return RunStore(project / ".paddlectl" / "runs")


def _with_unknown_keys(paths: RunPaths, schema_version: int = SCHEMA_VERSION) -> str:
    """Rewrite a run's manifest as a newer paddlectl would: extra keys at the top and in each nested record."""
    document = load_yaml(paths.manifest.read_text(encoding="utf-8"), "m")
    document["schema_version"] = schema_version
    document.update(UNKNOWN_TOP)
    document["image"].update(UNKNOWN_IMAGE)
    document["command"].update(UNKNOWN_COMMAND)
    document["container"].update(UNKNOWN_CONTAINER)
    text = dump_yaml(document)
    paths.manifest.write_text(text, encoding="utf-8")
    return text


def _block(text: str, key: str, indent: str) -> str:
    """The lines of `key:` at `indent` and everything nested under it, exactly as written."""
    match = re.search(rf"^{indent}{re.escape(key)}:.*\n(?:{indent}[ -].*\n|{indent}\s+.*\n)*", text, re.MULTILINE)
    assert match, f"{key} not found at indent {indent!r}"
    return match.group(0)


def _unknown_blocks(text: str) -> list[str]:
    blocks = [_block(text, key, "") for key in UNKNOWN_TOP]
    for records, indent in ((UNKNOWN_IMAGE, "  "), (UNKNOWN_COMMAND, "  "), (UNKNOWN_CONTAINER, "  ")):
        blocks += [_block(text, key, indent) for key in records]
    return blocks


def test_unknown_keys_at_every_level_survive_a_read_modify_write(project: Path) -> None:
    paths = make_run(project, minutes=1, status=RunStatus.RUNNING)
    before = _with_unknown_keys(paths)
    store = _store(project)
    manifest = store.read(paths.run_id)
    assert not manifest.read_only
    manifest.status, manifest.reason = RunStatus.LOST, "its container is gone"
    store.write(manifest)
    after = paths.manifest.read_text(encoding="utf-8")
    assert _unknown_blocks(after) == _unknown_blocks(before)  # byte for byte
    document = load_yaml(after, "m")
    assert document["status"] == "lost" and document["reason"] == "its container is gone"
    for key, value in UNKNOWN_TOP.items():
        assert document[key] == value
    assert {k: document["image"][k] for k in UNKNOWN_IMAGE} == UNKNOWN_IMAGE
    assert {k: document["command"][k] for k in UNKNOWN_COMMAND} == UNKNOWN_COMMAND
    assert {k: document["container"][k] for k in UNKNOWN_CONTAINER} == UNKNOWN_CONTAINER
    assert store.read(paths.run_id) == store.read(paths.run_id)  # reads back to the same record


def test_a_key_named_like_the_field_that_keeps_unknown_keys_is_kept_too(project: Path) -> None:
    paths = make_run(project, minutes=1)
    document = load_yaml(paths.manifest.read_text(encoding="utf-8"), "m")
    document["unknown_keys"] = {"from": "a newer paddlectl"}
    paths.manifest.write_text(dump_yaml(document), encoding="utf-8")
    store = _store(project)
    store.write(store.read(paths.run_id))
    assert load_yaml(paths.manifest.read_text(encoding="utf-8"), "m")["unknown_keys"] == {"from": "a newer paddlectl"}


def test_a_newer_schema_is_read_only_and_never_rewritten(project: Path) -> None:
    paths = make_run(project, minutes=1)
    text = _with_unknown_keys(paths, SCHEMA_VERSION + 1)
    store = _store(project)
    manifest = store.read(paths.run_id)
    assert manifest.read_only and manifest.schema_version == SCHEMA_VERSION + 1
    assert manifest.status is RunStatus.SUCCEEDED
    manifest.reason = "changed"
    with pytest.raises(PaddlectlError) as caught:
        store.write(manifest)
    assert f"schema {SCHEMA_VERSION + 1}" in caught.value.message and "read-only" in caught.value.message
    assert caught.value.hint and "upgrade paddlectl" in caught.value.hint
    assert paths.manifest.read_text(encoding="utf-8") == text
    assert manifest.to_dict()["provenance"] == UNKNOWN_TOP["provenance"]  # `runs show --json` keeps every key


def test_a_newer_schema_that_does_not_read_as_a_manifest_is_one_bad_row_saying_so(project: Path) -> None:
    paths = make_run(project, minutes=1)
    paths.manifest.write_text(f"schema_version: {SCHEMA_VERSION + 1}\nid: x\nstate: {{phase: done}}\n")
    [entry] = RunIndex.of(_store(project)).refresh()
    assert entry.status == "bad" and "newer than this paddlectl reads" in entry.row["problem"]
    assert "upgrade paddlectl" in entry.row["problem"]


def test_a_newer_schema_is_a_normal_row_marked_read_only(project: Path) -> None:
    old = make_run(project, minutes=1)
    new = make_run(project, minutes=2, metrics={"acc": 0.9})
    _with_unknown_keys(new, SCHEMA_VERSION + 1)
    entries = {entry.id: entry for entry in RunIndex.of(_store(project)).refresh()}
    row = entries[new.run_id].row
    assert entries[new.run_id].status == "succeeded" and row["problem"] is None
    assert row["read_only"] is True and row["metrics"] == {"acc": 0.9}
    assert entries[old.run_id].row["read_only"] is False
    listing = ProjectRuns(_store(project)).listing(RunQuery())
    assert [entry.id for entry in listing.entries] == [new.run_id, old.run_id]
    assert any("newer paddlectl" in warning and new.run_id in warning for warning in listing.warnings)


def test_reconciliation_leaves_a_newer_running_manifest_alone(project: Path) -> None:
    paths = make_run(project, minutes=1, status=RunStatus.RUNNING)
    text = _with_unknown_keys(paths, SCHEMA_VERSION + 1)
    store = _store(project)
    engine = FakeEngine()  # its container is gone: an older paddlectl would record the run lost
    assert ProjectRuns(store, lambda: engine).settle_all().changed == []
    listing = ProjectRuns(store, lambda: engine).listing(RunQuery())
    assert listing.reconciled == [] and [entry.status for entry in listing.entries] == ["running"]
    assert any("not settled" in warning and "upgrade paddlectl" in warning for warning in listing.warnings)
    assert paths.manifest.read_text(encoding="utf-8") == text


def test_the_cli_lists_and_shows_a_newer_run_and_says_it_is_read_only(project: Path) -> None:
    paths = make_run(project, minutes=1, name="future")
    text = _with_unknown_keys(paths, SCHEMA_VERSION + 1)
    listed = run_cli("runs", "list", "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["status"], row["read_only"]) == ("future", "succeeded", True)
    table = run_cli("runs", "list", cwd=project)
    assert table.returncode == 0 and "read-only" in table.stdout
    shown = run_cli("runs", "show", "future", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "future" in shown.stdout and "signed_by" in shown.stdout
    assert f"schema {SCHEMA_VERSION + 1}" in shown.stderr and "read-only" in shown.stderr
    shown_json = run_cli("runs", "show", "future", "--json", cwd=project)
    document: dict[str, Any] = json.loads(shown_json.stdout)
    assert document["schema_version"] == SCHEMA_VERSION + 1 and document["image"]["platform"] == "linux/arm64"
    assert paths.manifest.read_text(encoding="utf-8") == text


def test_manifest_to_dict_puts_unknown_keys_after_the_known_ones() -> None:
    document = Manifest.from_dict(
        {
            "schema_version": 1,
            "zzz_first": 1,
            "id": "r",
            "project": "p",
            "status": "succeeded",
            "started_at": "2026-11-22T10:30:00.000Z",
            "image": {"later": True, "reference": "paddle:3.2.0"},
            "command": {"script": "train.py", "module": None},
        }
    ).to_dict()
    assert next(iter(document)) == "schema_version" and list(document)[-1] == "zzz_first"
    assert list(document["image"]) == ["reference", "id", "digest", "moved_from", "later"]


def test_engine_and_profile_records_read_typed_and_write_back_as_they_were() -> None:
    base = {
        "schema_version": 1,
        "id": "r",
        "project": "p",
        "status": "succeeded",
        "started_at": "2026-11-22T10:30:00.000Z",
        "image": {"reference": "paddle:3.2.0"},
        "command": {"script": "train.py", "module": None},
    }
    engine = {
        "name": "gpu-box",
        "url": "ssh://me@10.0.0.5:2222",
        "remote": True,
        "tls_dir": None,
        "id": "ABCD",
        "version": "20.10.24",
        "uploaded": {"files": 3, "bytes": 120, "seconds": 1, "compressed": True},
        "fetched": {"files": 2, "bytes": 10, "seconds": 0.5},
    }
    profile = {"name": "ci", "params": {"epochs": 2, "token": "****"}, "gpus": "all"}
    manifest = Manifest.from_dict({**base, "engine": engine, "profile": profile})
    assert manifest.engine.remote and manifest.engine.uploaded is not None and manifest.engine.uploaded.files == 3
    assert manifest.engine.address() == {"name": "gpu-box", "url": engine["url"], "remote": True, "tls_dir": None}
    assert manifest.profile is not None and (manifest.profile.name, manifest.profile.gpus) == ("ci", "all")
    document = manifest.to_dict()
    assert document["engine"] == engine and document["profile"] == profile  # the newer key `compressed` too
    older = Manifest.from_dict(base)  # recorded before remote hosts and profiles: the local engine, no profile
    assert older.engine.address()["url"] is None and not older.engine.remote and older.profile is None
    with pytest.raises(ManifestError, match=r"engine.remote"):
        Manifest.from_dict({**base, "engine": {"remote": "yes"}})


def _export_record() -> ExportRecord:
    from paddlectl.foundation.records import load

    document = {
        "format": "pir-json",
        "verification": {"status": "passed", "outputs": [{"max_abs_diff": 1e-7, "max_rel_diff": 1e-6}]},
        "latency_ms": {"p50": 0.1, "p95": 0.2},
        "size_bytes": 10,
        "created_at": "2026-11-22T10:30:00Z",
    }
    return load(ExportRecord, document)


def test_recording_an_export_keeps_unknown_keys(project: Path) -> None:
    from paddlectl.export.record import update_run_manifest
    from paddlectl.export.source import load_run

    paths = make_run(project, minutes=1)
    before = _with_unknown_keys(paths)
    update_run_manifest(load_run(paths.root), _export_record())
    after = paths.manifest.read_text(encoding="utf-8")
    assert load_yaml(after, "m")["export"]["verification"] == "passed"
    assert _unknown_blocks(after) == _unknown_blocks(before)


def test_export_refuses_a_newer_run_before_anything_is_written(project: Path) -> None:
    from paddlectl.errors import UsageError
    from paddlectl.export.record import update_run_manifest
    from paddlectl.export.run import ExportOptions, plan_export
    from paddlectl.export.source import RunSource
    from paddlectl.project.config import ExportConfig, InputSpec, ProjectConfig
    from paddlectl.project.workspace import Project

    paths = make_run(project, minutes=1)
    (paths.outputs / "model.pdparams").write_bytes(b"weights")
    text = _with_unknown_keys(paths, SCHEMA_VERSION + 1)
    config = ProjectConfig(name="p", export=ExportConfig(model="m:f", inputs=(InputSpec("x", "float32", (-1, 4)),)))
    with pytest.raises(UsageError) as caught:
        plan_export(Project(root=project, config=config), ExportOptions(run=paths.run_id))
    assert "read-only" in caught.value.message and caught.value.hint and "upgrade paddlectl" in caught.value.hint
    source = RunSource(
        run_id=paths.run_id, run_dir=paths.root, image=ImageRecord("x:1", id="sha256:x"), status=RunStatus.SUCCEEDED
    )
    with pytest.raises(PaddlectlError, match="read-only"):
        update_run_manifest(source, _export_record())  # the last guard, should a plan have been made anyway
    assert paths.manifest.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in paths.root.iterdir()) == ["manifest.yaml", "outputs"]
