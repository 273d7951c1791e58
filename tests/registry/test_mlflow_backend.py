"""The registry on a real MLflow server (`registry.backend: mlflow`), every check read back over plain HTTP.

One server for the session (tests/conftest.py's `mlflow_server`); each test has its own model name and its own
experiment for the package runs, and deletes its registered model at the end, so `registry verify` (which checks
every paddlectl model on the server) sees only what the running test made.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from http_proxy import refusing_server
from mlflow_server import MlflowServer, free_port
from paddlectl.errors import UnavailableError
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.packaging.layout import ModelStatus
from paddlectl.registry import hooks
from paddlectl.registry.promote import promote
from paddlectl.registry.register import register_package
from paddlectl.registry.store import Registry, open_registry
from registry.conftest import ColdTarget, PackageFactory, S3Server

pytestmark = pytest.mark.mlflow
PAUSE_SECONDS = 120.0


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tags(entity: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in entity.get("tags") or []}


@dataclass
class OnMlflow:
    """One test's registry on the session's server, and plain-HTTP readers of what the server holds for it."""

    server: MlflowServer
    project: Path
    name: str  # this test's model
    experiment: str  # this test's package runs

    def configure(self, **mlflow: Any) -> None:
        section = {"uri": self.server.uri, "experiment": self.experiment, **mlflow}
        (self.project / "paddlectl.yaml").write_text(
            dump_yaml({"project": "regtest", "registry": {"backend": "mlflow", "mlflow": section}})
        )

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli("registry", *args, cwd=self.project, env=env, timeout=300)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.cli(*args)
        assert result.returncode == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def open(self) -> Registry:
        return open_registry(write=True, project_config=self.project / "paddlectl.yaml")

    # ---- what the server holds, read over plain HTTP -----------------------------------------------------

    def model(self) -> dict[str, Any]:
        return dict(self.server.api("GET", "registered-models/get", name=self.name)["registered_model"])

    def aliases(self) -> dict[str, str]:
        return {entry["alias"]: entry["version"] for entry in self.model().get("aliases") or []}

    def versions(self) -> dict[str, dict[str, Any]]:
        """Model versions by paddlectl version, as model-versions/search answers them."""
        found = self.server.api("GET", "model-versions/search", filter=f"name = '{self.name}'")["model_versions"]
        return {tags(version)["paddlectl.version"]: version for version in found}

    def events(self) -> list[dict[str, Any]]:
        logged = [json.loads(v) for k, v in tags(self.model()).items() if k.startswith("paddlectl.event.")]
        return sorted(logged, key=lambda event: (event["seq"], event["time_ns"]))

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.server.api("GET", "runs/get", run_id=run_id)["run"])


@pytest.fixture
def on_mlflow(mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OnMlflow]:
    for variable in ("PADDLECTL_REGISTRY", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    hooks.set_pause(None)
    token = secrets.token_hex(4)
    reg = OnMlflow(mlflow_server, project, f"digits-{token}", f"registry-{token}")
    reg.configure()
    yield reg
    hooks.set_pause(None)
    try:
        mlflow_server.api("DELETE", "registered-models/delete", {"name": reg.name})
    except urllib.error.HTTPError as error:
        if error.code != 404:  # a test that never reached the server made no model
            raise


def _own(findings: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [f for f in findings if name in f["subject"]]


def test_every_command_works_against_the_model_registry(
    on_mlflow: OnMlflow, make_package: PackageFactory, tmp_path: Path
) -> None:
    reg, name = on_mlflow, on_mlflow.name
    reg.server.create_experiment(reg.experiment, f"mlflow-artifacts:/{reg.experiment}")  # served by the server
    first, second = make_package("1.0.0", name=name), make_package("1.1.0", name=name, variant=1)

    assert reg.json("register", str(first), "--note", "first release")["created"] is True
    reg.ok("promote", name, "1.0.0", "--to", "production")
    reg.ok("register", str(second))
    numbers = {version: found["version"] for version, found in reg.versions().items()}
    assert reg.aliases() == {"production": numbers["1.0.0"], "staging": numbers["1.1.0"]}
    reg.ok("promote", name, "1.1.0", "--to", "production", "--note", "better val_acc")
    assert reg.aliases() == {"production": numbers["1.1.0"]}  # no staging version left: no staging alias
    reg.ok("rollback", name)

    # The server, read over HTTP: statuses as aliases and a tag, never MLflow's stages.
    assert reg.aliases() == {"production": numbers["1.0.0"]}
    versions = reg.versions()
    assert {version: tags(found).get("paddlectl.archived") for version, found in versions.items()} == {
        "1.0.0": None,
        "1.1.0": "true",
    }
    assert {found["current_stage"] for found in versions.values()} == {"None"}
    for version, package in (("1.0.0", first), ("1.1.0", second)):
        found, written = versions[version], tags(versions[version])
        assert written["paddlectl.sha256"] == sha(package.read_bytes())
        assert (written["paddlectl.card.name"], written["paddlectl.card.version"]) == (name, version)
        assert written["paddlectl.metric.acc"] == "0.97" and written["paddlectl.card.dataset"] == "digits"
        assert found["source"] == f"runs:/{found['run_id']}/package"
        assert reg.run(found["run_id"])["info"]["artifact_uri"].startswith(f"mlflow-artifacts:/{reg.experiment}/")
        stored = reg.server.download(found["run_id"], f"package/{name}-{version}.tar")
        assert sha(stored) == sha(package.read_bytes())

    # The event log on the registered model: hash-chained, its head apart.
    events = reg.events()
    assert [(e["seq"], e["action"], e["version"], e["to_status"], e["replaced"]) for e in events] == [
        (1, "register", "1.0.0", "staging", None),
        (2, "promote", "1.0.0", "production", None),
        (3, "register", "1.1.0", "staging", None),
        (4, "promote", "1.1.0", "production", "1.0.0"),
        (5, "rollback", "1.0.0", "production", "1.1.0"),
    ]
    assert [e["prev_hash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert tags(reg.model())["paddlectl.head"] == f"5 {events[-1]['hash']}"
    assert events[0]["note"] == "first release"

    history = reg.json("history", name)
    assert [e["hash"] for e in history["events"]] == [e["hash"] for e in events] and history["races"] == []
    listed = {row["version"]: row["status"] for row in reg.json("list", name)}
    assert listed == {"1.0.0": "production", "1.1.0": "archived"}
    assert reg.json("show", f"{name}@production")["sha256"] == sha(first.read_bytes())
    assert reg.json("compare", name, "1.0.0", "1.1.0")["runs_compared"] is True

    pulled = reg.json("pull", f"{name}@production", "-o", str(tmp_path / "deploy"))
    assert sha(Path(pulled["path"]).read_bytes()) == sha(first.read_bytes())
    report = reg.json("verify")
    assert report["ok"] is True and report["races"] == []
    assert {"name": name, "seq": 5, "hash": events[-1]["hash"]} in report["heads"]

    # A package no version points to is garbage, but one put within the hour may be a register under way.
    orphan = make_package("9.9.9", name=name, variant=2)
    with reg.open() as registry:
        registry.backend.blobs.put(orphan, sha(orphan.read_bytes()))
    fixed = reg.json("verify", "--fix")
    assert fixed["garbage"] == [sha(orphan.read_bytes())] and fixed["removed"] == []


def test_search_answers_without_aliases_so_they_are_read_from_the_registered_model(
    on_mlflow: OnMlflow, make_package: PackageFactory
) -> None:
    """mlflow#9783: a status read from model-versions/search would lose production."""
    reg, name = on_mlflow, on_mlflow.name
    with reg.open() as registry:
        register_package(registry, make_package("1.0.0", name=name))
        promote(registry, name, "1.0.0", ModelStatus.PRODUCTION)
    (searched,) = reg.versions().values()
    assert searched.get("aliases", []) == []  # the trap, as the server answers today
    got = reg.server.api("GET", "model-versions/get", name=name, version=searched["version"])["model_version"]
    assert got["aliases"] == ["production"]
    assert reg.json("show", f"{name}@production")["version"] == "1.0.0"
    assert [row["status"] for row in reg.json("list", name)] == ["production"]
    assert [row["status"] for row in reg.json("list", "--status", "production") if row["name"] == name] == [
        "production"
    ]


@pytest.mark.parametrize(("status", "alias"), [("production", "latest"), ("staging", "v1"), ("production", "V12")])
def test_reserved_alias_names_are_refused_before_any_request(
    on_mlflow: OnMlflow, make_package: PackageFactory, status: str, alias: str
) -> None:
    reg, name = on_mlflow, on_mlflow.name
    with reg.open() as registry:
        register_package(registry, make_package("1.0.0", name=name))
    before = reg.model()
    number = next(iter(reg.versions().values()))["version"]
    with pytest.raises(urllib.error.HTTPError) as refused:  # the server refuses these names itself
        reg.server.api("POST", "registered-models/alias", {"name": name, "alias": alias, "version": number})
    assert refused.value.code == 400 and "reserved" in refused.value.read().decode()
    reg.configure(aliases={status: alias})
    result = reg.cli("promote", name, "1.0.0", "--to", "production")
    assert result.returncode == 2 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: registry.mlflow.aliases.{status}: '{alias}' is reserved by MLflow")
    assert "Traceback" not in result.stderr
    assert reg.model()["aliases"] == before["aliases"]  # nothing was sent


@pytest.mark.parametrize("point", ["promote:production-read", "append:head-read"])
def test_two_promotions_at_the_same_instant_are_detected_and_reported(
    on_mlflow: OnMlflow, make_package: PackageFactory, point: str
) -> None:
    """MLflow has no compare-and-set: client A stops between reading production and writing; client B (its own
    process) promotes meanwhile; both succeed. The race must show in history and verify afterwards."""
    reg, name = on_mlflow, on_mlflow.name
    with reg.open() as registry:
        for number, version in enumerate(("1.0.0", "1.1.0", "1.2.0")):
            register_package(registry, make_package(version, name=name, variant=number))
        promote(registry, name, "1.0.0", ModelStatus.PRODUCTION)
    numbers = {version: found["version"] for version, found in reg.versions().items()}
    stopped, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def pause(reached: str) -> None:
        if reached == point and threading.current_thread() is client_a:
            stopped.set()
            release.wait(PAUSE_SECONDS)

    def promote_a() -> None:
        try:
            with reg.open() as registry:
                outcome["a"] = promote(registry, name, "1.1.0", ModelStatus.PRODUCTION)
        except BaseException as error:  # reported by the assertion below
            outcome["a"] = error

    hooks.set_pause(pause)
    client_a = threading.Thread(target=promote_a)
    client_a.start()
    try:
        assert stopped.wait(PAUSE_SECONDS), f"client A never reached {point}"
        reg.ok("promote", name, "1.2.0", "--to", "production")  # client B, start to end
    finally:
        release.set()
        client_a.join(PAUSE_SECONDS)
    assert not isinstance(outcome.get("a"), BaseException), outcome.get("a")

    events = reg.events()
    a_event = next(e for e in events if e["version"] == "1.1.0" and e["action"] == "promote")
    b_event = next(e for e in events if e["version"] == "1.2.0" and e["action"] == "promote")
    history = reg.json("history", name)
    raced: dict[int, str] = {}
    for race in history["races"]:
        raced[race["seq"]] = f"{raced.get(race['seq'], '')}{race['reason']}\n"
    shown = reg.ok("history", name).stderr
    verified = reg.cli("verify", "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == (0 if report["ok"] else 4)
    assert {race["seq"] for race in report["races"]} == set(raced)
    if point == "promote:production-read":
        # A saw 1.0.0 and wrote after B: the last writer (A) holds the alias, and its event says what it saw.
        assert reg.aliases()["production"] == numbers["1.1.0"]
        assert (b_event["seq"], b_event["replaced"]) == (a_event["seq"] - 1, "1.0.0")
        assert a_event["replaced"] == "1.0.0"
        assert list(raced) == [a_event["seq"]]
        assert f"saw 1.0.0 in production, but event {b_event['seq']} had made it 1.2.0" in raced[a_event["seq"]]
        assert tags(reg.versions()["1.2.0"]).get("paddlectl.archived") == "true"  # A archived whom it displaced
        assert report["ok"] is True  # a race is reported, not a failure: the versions replay from the log
        assert reg.json("show", f"{name}@production")["version"] == "1.1.0"
    else:
        # A moved the alias, then stopped before its event; B moved it again and appended first: two events
        # follow the same one (a fork), and B, the last writer, holds the alias.
        assert reg.aliases()["production"] == numbers["1.2.0"]
        assert a_event["seq"] == b_event["seq"] and a_event["prev_hash"] == b_event["prev_hash"]
        assert f"2 writers appended event {a_event['seq']} at once" in raced[a_event["seq"]]
        assert report["ok"] is False  # the log cannot say which order the two took: production disagrees
        assert any(f["kind"] == "state" for f in _own(report["findings"], name))
    assert f"warning: race at event {a_event['seq']} ({name}@" in shown


def test_two_first_registrations_of_one_version_keep_one_and_ask_the_other_to_retry(
    on_mlflow: OnMlflow, make_package: PackageFactory
) -> None:
    """Client A found NAME@VERSION free and stops before creating it; client B registers other bytes under it."""
    reg, name = on_mlflow, on_mlflow.name
    ours, theirs = make_package("1.0.0", name=name), make_package("1.0.0", name=name, variant=1)
    stopped, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def pause(reached: str) -> None:
        if reached == "register:version-creating" and threading.current_thread() is client_a:
            stopped.set()
            release.wait(PAUSE_SECONDS)

    def register_a() -> None:
        try:
            with reg.open() as registry:
                outcome["a"] = register_package(registry, ours)
        except BaseException as error:
            outcome["a"] = error

    hooks.set_pause(pause)
    client_a = threading.Thread(target=register_a)
    client_a.start()
    try:
        assert stopped.wait(PAUSE_SECONDS), "client A never reached register:version-creating"
        reg.ok("register", str(theirs))  # client B, start to end
    finally:
        release.set()
        client_a.join(PAUSE_SECONDS)
    refused = outcome.get("a")
    assert isinstance(refused, UnavailableError), refused
    assert refused.message == f"another client registered {name}@1.0.0 at the same moment"
    found = reg.server.api("GET", "model-versions/search", filter=f"name = '{name}'")["model_versions"]
    assert [tags(version)["paddlectl.sha256"] for version in found] == [sha(theirs.read_bytes())]
    assert [(e["action"], e["sha256"]) for e in reg.events()] == [("register", sha(theirs.read_bytes()))]
    again = reg.cli("register", str(ours))  # run again, as the message says: other bytes, so refused for good
    assert again.returncode == 2 and "already registered with other bytes" in again.stderr


def test_tampering_on_the_server_is_detected(on_mlflow: OnMlflow, make_package: PackageFactory, tmp_path: Path) -> None:
    reg, name = on_mlflow, on_mlflow.name
    package = make_package("1.0.0", name=name)
    with reg.open() as registry:
        register_package(registry, package)
    reg.ok("register", str(make_package("1.1.0", name=name, variant=1)))

    # An edited event (its note changed through the API) breaks the chain: exit 4, naming the model's log.
    key, value = next((k, v) for k, v in tags(reg.model()).items() if k.startswith("paddlectl.event.00000001"))
    forged = json.dumps({**json.loads(value), "note": "approved by the CTO"})
    reg.server.api("POST", "registered-models/set-tag", {"name": name, "key": key, "value": forged})
    result = reg.cli("verify", "--json")
    assert result.returncode == 4
    findings = _own(json.loads(result.stdout)["findings"], name)
    assert {"kind": "event-log", "subject": f"events of {name}", "reason": "event 1: its contents do not match "
            "its hash: edited"} in findings  # fmt: skip
    reg.server.api("POST", "registered-models/set-tag", {"name": name, "key": key, "value": value})

    # A package changed in the server's artifact store is refused on the way out (exit 4), and verify says so.
    run_id = reg.versions()["1.0.0"]["run_id"]
    stored = Path(reg.run(run_id)["info"]["artifact_uri"]) / "package" / f"{name}-1.0.0.tar"
    original = stored.read_bytes()
    stored.write_bytes(original[:700] + bytes([original[700] ^ 1]) + original[701:])
    try:
        pulled = reg.cli("pull", f"{name}@1.0.0", "-o", str(tmp_path / "deploy"))
        assert pulled.returncode == 4 and "no longer matches its sha256" in pulled.stderr
        assert not (tmp_path / "deploy" / f"{name}-1.0.0.tar").exists()
        promoted = reg.cli("promote", name, "1.0.0", "--to", "production")
        assert promoted.returncode == 4
        assert "production" not in reg.aliases()
        result = reg.cli("verify", "--json")
        assert result.returncode == 4
        assert [f["kind"] for f in _own(json.loads(result.stdout)["findings"], name)] == ["blob"]
    finally:
        stored.write_bytes(original)
    assert reg.cli("verify").returncode == 0


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_server_that_is_down_or_refuses_is_one_line_exit_3_and_nothing_local_changes(
    on_mlflow: OnMlflow, make_package: PackageFactory, tmp_path: Path
) -> None:
    reg, name = on_mlflow, on_mlflow.name
    package = make_package("1.0.0", name=name)
    secret_token, password = "tok-5be0c2d94a", "pw-0d9e3b77"
    (reg.project / "paddlectl.yaml").write_text(
        dump_yaml(
            {
                "registry": {
                    "backend": "mlflow",
                    "mlflow": {"uri": f"http://ana:{password}@127.0.0.1:{free_port()}"},
                }
            }
        )
    )
    before = _tree(tmp_path)
    env = {"MLFLOW_TRACKING_TOKEN": secret_token}
    for args in (["register", str(package)], ["list"], ["promote", name, "1.0.0", "--to", "production"]):
        result = reg.cli(*args, env=env)
        assert result.returncode == 3, result.stderr
        assert result.stdout == ""
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "cannot reach the MLflow server at http://ana:****@127.0.0.1" in errors[0]
        assert secret_token not in result.stderr and password not in result.stderr
        assert "Traceback" not in result.stderr
    assert _tree(tmp_path) == before
    assert not (tmp_path / "data" / "paddlectl").exists()

    with refusing_server() as refusing:
        (reg.project / "paddlectl.yaml").write_text(
            dump_yaml({"registry": {"backend": "mlflow", "mlflow": {"uri": refusing.uri}}})
        )
        result = reg.cli("register", str(package), "--json", env=env)
    assert result.returncode == 3
    assert refusing.received[:1] == [f"Bearer {secret_token}"]  # sent as MLflow's client sends it
    assert "refused" in json.loads(result.stdout)["error"]
    assert secret_token not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "paddlectl").exists()


def test_the_cold_tier_moves_the_package_out_of_mlflow_and_back_verified(
    on_mlflow: OnMlflow, make_package: PackageFactory, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, name = on_mlflow, on_mlflow.name
    cold = ColdTarget(s3_server.bucket, f"team/models-{secrets.token_hex(4)}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    section = {"uri": reg.server.uri, "experiment": reg.experiment}
    (reg.project / "paddlectl.yaml").write_text(
        dump_yaml(
            {
                "registry": {
                    "backend": "mlflow",
                    "mlflow": section,
                    "cold": {"endpoint": s3_server.endpoint, **cold.settings},
                }
            }
        )
    )
    package = make_package("1.0.0", name=name)
    reg.ok("register", str(package))
    run_id = reg.versions()["1.0.0"]["run_id"]
    moved = reg.json("archive", name, "--older-than", "0s", "--keep", "0")["archived"]
    assert [item["version"] for item in moved] == ["1.0.0"]
    assert tags(reg.versions()["1.0.0"])["paddlectl.storage"] == "cold"
    assert reg.server.artifact_paths(run_id) == []  # the bytes left the MLflow store
    key = f"{cold.prefix}/sha256/{sha(package.read_bytes())[:2]}/{sha(package.read_bytes())}"
    assert sha(s3_server.client().get_object(Bucket=cold.bucket, Key=key)["Body"].read()) == sha(package.read_bytes())
    refused = reg.cli("promote", name, "1.0.0", "--to", "production")
    assert refused.returncode == 2 and "restore" in refused.stderr

    reg.ok("restore", name, "1.0.0")
    assert tags(reg.versions()["1.0.0"])["paddlectl.storage"] == "hot"
    assert sha(reg.server.download(run_id, f"package/{name}-1.0.0.tar")) == sha(package.read_bytes())
    assert [e["action"] for e in reg.events()] == ["register", "archive", "restore"]
