"""`paddlectl registry ...` as real processes: one JSON document per --json, data on stdout, and the exit codes
2 (bad input), 4 (verification failed) and 6 (refused by policy)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from conftest import run_cli
from registry.conftest import ColdTarget, Keys, PackageFactory, write_project_config


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("registry", *args, cwd=Path.cwd())


def cli_json(*args: str, code: int = 0) -> Any:
    result = cli(*args, "--json")
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout)


def test_a_release_through_the_cli(registry_env: Path, make_package: PackageFactory, tmp_path: Path) -> None:
    first, second = make_package("1.0.0"), make_package("1.1.0")
    registered = cli_json("register", str(first), "--note", "first cut", "--label", "team=vision")
    assert registered["created"] is True and registered["status"] == "staging" and registered["version"] == "1.0.0"
    assert registered["labels"] == {"dataset": "digits", "team": "vision"}
    assert cli_json("register", str(first))["created"] is False
    human = cli("register", str(second))
    assert human.returncode == 0 and human.stdout.startswith("digits@1.1.0  ") and "registered" in human.stderr

    promoted = cli_json("promote", "digits", "1.0.0", "--to", "production")
    assert promoted["status"] == "production" and promoted["changed"] is True
    replaced = cli_json("promote", "digits", "1.1.0", "--to", "production", "--note", "better")
    assert replaced["replaced"] == "1.0.0" and replaced["event"]["seq"] == 4
    back = cli_json("rollback", "digits")
    assert back["version"] == "1.0.0" and back["replaced"] == "1.1.0" and back["event"]["action"] == "rollback"

    listed = cli_json("list")
    assert [(row["version"], row["status"], row["storage"]) for row in listed] == [
        ("1.0.0", "production", "hot"),
        ("1.1.0", "archived", "hot"),
    ]
    assert cli_json("list", "digits", "--status", "archived")[0]["version"] == "1.1.0"
    assert len(cli_json("list", "--where", "acc>=0.9", "--label", "team=vision")) == 1
    assert cli_json("list", "--where", "acc>0.99") == []

    shown = cli_json("show", "digits@production")
    assert shown["version"] == "1.0.0" and shown["card"]["output_type"] == {"fetch_name_0": "float32[-1,10]"}
    overview = cli_json("show", "digits")
    assert overview["production"] == "1.0.0" and len(overview["versions"]) == 2
    table = cli("show", "digits@1.1.0")
    assert "status      archived" in table.stdout and table.returncode == 0

    history = cli_json("history", "digits", "--at", "2000-01-01")
    assert [e["action"] for e in history["events"]] == ["register", "register", "promote", "promote", "rollback"]
    assert history["production_at"] is None
    assert cli_json("history", "digits", "--at", "0s")["production_at"] == "1.0.0"

    pulled = cli_json("pull", "digits@production", "-o", str(tmp_path / "deploy"))
    assert Path(pulled["path"]).read_bytes() == first.read_bytes()
    compared = cli_json("compare", "digits", "1.0.0", "1.1.0")
    differing = {(row["section"], row["key"]) for row in compared["rows"] if row["differs"]}
    assert ("registry", "sha256") in differing and ("registry", "status") in differing
    verified = cli_json("verify")
    assert verified["ok"] is True and verified["events"] == 5 and verified["blobs_verified"] == 2


def test_exit_codes_bad_input_and_tampering(registry_env: Path, make_package: PackageFactory) -> None:
    package = make_package("1.0.0")
    assert cli_json("register", str(package))["created"]
    for args in (
        ("promote", "digits", "1.0.0", "--to", "archived"),
        ("promote", "digits", "9.9.9", "--to", "production"),
        ("show", "Not A Ref"),
        ("show", "digits@9.9.9"),
        ("rollback", "digits"),
        ("history", "nosuch"),
        ("list", "--status", "gone"),
        ("list", "--where", "acc>=high"),
        ("archive", "digits", "--older-than", "soon"),
        ("list", "digts"),
        ("list", "--where", "hmean>=0.9"),
        ("rollback", "nosuch"),
        ("show", "digits@nosuch"),
    ):
        document = cli_json(*args, code=2)
        assert document["exit_code"] == 2 and document["error"], args
    assert "no model digts in the registry; its models: digits" in cli_json("list", "digts", code=2)["error"]
    assert cli_json("list", "--where", "hmean>=0.9", code=2)["hint"] == "card metrics there: acc"
    assert cli_json("rollback", "nosuch", code=2)["error"] == "no model nosuch in the registry"
    assert cli_json("show", "digits@nosuch", code=2)["hint"] == "e.g. digits@1.0.0 or digits@production"
    empty = cli("list", "--status", "production")
    assert empty.returncode == 0 and "no version matches" in empty.stderr
    record = cli_json("show", "digits@1.0.0")
    blob = registry_env / "blobs" / "sha256" / record["sha256"][:2] / record["sha256"]
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[3000] ^= 0xFF
    blob.write_bytes(bytes(data))
    refused = cli_json("promote", "digits", "1.0.0", "--to", "production", code=4)
    assert "no longer matches its sha256" in refused["error"]
    report = cli_json("verify", code=4)
    assert report["ok"] is False and report["findings"][0]["subject"] == "digits@1.0.0"
    tampered = make_package("1.1.0")
    data = bytearray(tampered.read_bytes())
    data[512 * 6] ^= 0x01
    tampered.write_bytes(bytes(data))
    assert "checksum mismatch" in cli_json("register", str(tampered), code=4)["error"]


def test_the_signature_policy_refuses_with_exit_6(registry_env: Path, make_package: PackageFactory, keys: Keys) -> None:
    write_project_config({"require_signature": True, "trusted_keys": [str(keys.trusted_public)]})
    signed = cli_json("register", str(make_package("1.0.0", sign=keys.trusted_private)))
    other = cli_json("register", str(make_package("1.1.0", sign=keys.other_private)))
    assert (signed["signature"], other["signature"]) == ("valid", "untrusted")
    refused = cli_json("promote", "digits", "1.1.0", "--to", "production", code=6)
    assert refused["exit_code"] == 6 and "registry.trusted_keys" in refused["error"]
    human = cli("promote", "digits", "1.1.0", "--to", "production")
    assert human.returncode == 6 and human.stdout == "" and "refusing to promote" in human.stderr
    assert cli_json("promote", "digits", "1.0.0", "--to", "production")["status"] == "production"
    assert cli_json("rollback", "digits", "--to", "1.1.0", code=6)["exit_code"] == 6


def test_archive_and_restore_through_the_cli(cold: ColdTarget, make_package: PackageFactory) -> None:
    for version in ("1.0.0", "1.1.0"):
        cli_json("register", str(make_package(version)))
    archived = cli_json("archive", "digits", "--older-than", "0s", "--keep", "1")["archived"]
    assert [(row["version"], row["storage"]) for row in archived] == [("1.0.0", "cold")]
    assert archived[0]["cold_location"].startswith(f"s3://{cold.bucket}/{cold.prefix}/sha256/")
    assert cli_json("list", "--status", "staging")[0]["storage"] == "cold"
    refused = cli_json("promote", "digits", "1.0.0", "--to", "production", code=2)
    assert "registry restore digits 1.0.0" in refused["hint"]
    restored = cli_json("restore", "digits", "1.0.0")
    assert restored["storage"] == "hot"
    assert cli_json("verify")["ok"] is True


def test_image_build_takes_a_registered_model_only_for_prod(registry_env: Path) -> None:
    result = run_cli("image", "build", "base", "--model", "digits@production", cwd=Path.cwd())
    assert result.returncode == 2 and "--model is for prod images" in result.stderr
    missing = run_cli("image", "build", "prod", "--model", "digits@production", cwd=Path.cwd())
    assert missing.returncode == 2 and "digits has no production version" in missing.stderr


def test_a_registry_path_that_is_a_file_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("PADDLECTL_REGISTRY", str(tmp_path / "afile"))
    document = cli_json("list", code=2)
    assert "is a file" in document["error"] and "PADDLECTL_REGISTRY" in document["hint"]


def test_a_narrow_terminal_drops_columns_never_cuts_name_version_or_status(
    registry_env: Path, make_package: PackageFactory
) -> None:
    from unit.cli.terminal import run_in_terminal

    assert cli_json("register", str(make_package("1.0.0")))["created"]
    result = run_in_terminal("registry", "list", cwd=Path.cwd(), columns=40)
    assert result.returncode == 0, result.stderr
    header, row = result.screen.strip().splitlines()[0].split(), result.screen.strip().splitlines()[-1].split()
    assert header[:3] == ["name", "version", "status"] and row[:3] == ["digits", "1.0.0", "staging"]
    assert "left out to fit 40 columns:" in result.stderr and "…" not in result.screen
    wide = run_in_terminal("registry", "list", cwd=Path.cwd(), columns=200)
    assert "left out" not in wide.stderr and "commit" in wide.screen.splitlines()[0]
