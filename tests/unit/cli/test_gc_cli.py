"""`runs gc` through the CLI: --keep per status, the list of what goes, the question on a terminal, --yes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from paddlectl.runs.manifest import RunStatus
from tests.unit.cli.terminal import run_in_terminal
from tests.unit.runs.runs_factory import make_run

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent.sock"}  # containers are not this test's business


def _first_hour(root: Path) -> tuple[str, list[str]]:
    """What the first-hour report had: the only succeeded run, then three interrupted ones."""
    succeeded = make_run(root, minutes=1, name="good").run_id
    interrupted = [make_run(root, minutes=m, status=RunStatus.INTERRUPTED).run_id for m in (2, 3, 4)]
    return succeeded, interrupted


def _left(root: Path) -> list[str]:
    return sorted(path.name for path in (root / ".paddlectl" / "runs").iterdir() if not path.name.startswith("."))


def test_without_a_terminal_gc_refuses_to_delete_unless_yes(tmp_path: Path) -> None:
    root = tmp_path / "p"
    succeeded, interrupted = _first_hour(root)
    before = _left(root)
    refused = run_cli("runs", "gc", "--keep", "2", cwd=root, env=NO_ENGINE)
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert errors == [
        "error: gc would delete 1 run(s) and asks first, but there is no terminal to ask on",
        "hint: pass --yes to delete them, or --dry-run to list them",
    ]
    assert _left(root) == before
    dry = run_cli("runs", "gc", "--keep", "2", "--dry-run", "--json", cwd=root, env=NO_ENGINE)
    assert dry.returncode == 0 and [item["id"] for item in json.loads(dry.stdout)["runs"]] == [interrupted[0]]
    done = run_cli("runs", "gc", "--keep", "2", "--yes", cwd=root, env=NO_ENGINE)
    assert done.returncode == 0, done.stderr
    assert f"removed run {interrupted[0]} (interrupted" in done.stderr
    assert _left(root) == sorted([succeeded, *interrupted[1:]])  # the only success stays


def test_on_a_terminal_gc_lists_what_goes_and_asks(tmp_path: Path) -> None:
    root = tmp_path / "p"
    succeeded, interrupted = _first_hour(root)
    before = _left(root)
    declined = run_in_terminal("runs", "gc", "--keep", "1", cwd=root, columns=120, answer="n\n")
    assert declined.returncode == 1
    listed = [line for line in declined.stderr.splitlines() if line.startswith("will delete run ")]
    assert listed == [
        f"will delete run {interrupted[1]} (interrupted, started 2026-11-01T08:03:00.000Z)",
        f"will delete run {interrupted[0]} (interrupted, started 2026-11-01T08:02:00.000Z)",
    ]
    assert "Delete these 2 run(s) (2 interrupted)? [y/N]" in declined.stderr
    assert "nothing removed" in declined.stderr
    assert _left(root) == before
    accepted = run_in_terminal("runs", "gc", "--keep", "1", cwd=root, columns=120, answer="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert _left(root) == sorted([succeeded, interrupted[2]])


def test_succeeded_runs_go_only_when_named(tmp_path: Path) -> None:
    root = tmp_path / "p"
    old = make_run(root, minutes=1).run_id
    new = make_run(root, minutes=2).run_id
    nothing = run_cli("runs", "gc", "--keep", "0", cwd=root, env=NO_ENGINE)
    assert nothing.returncode == 0 and "nothing to remove" in nothing.stderr
    named = run_cli("runs", "gc", "--keep", "1", "--status", "succeeded", "--yes", "--json", cwd=root, env=NO_ENGINE)
    assert named.returncode == 0 and [item["id"] for item in json.loads(named.stdout)["runs"]] == [old]
    assert _left(root) == [new]


def test_gc_with_only_containers_to_clean_asks_nothing(tmp_path: Path) -> None:
    root = tmp_path / "p"
    make_run(root, minutes=1, status=RunStatus.FAILED)
    result = run_cli("runs", "gc", cwd=root, env=NO_ENGINE)  # no selector: no run is deleted, nothing to confirm
    assert result.returncode == 0, result.stderr
    assert "no runs selected" in result.stderr and len(_left(root)) == 1


def test_a_docker_host_that_cannot_be_read_is_bad_input_not_an_absent_engine(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_run(root, minutes=1)
    result = run_cli("runs", "gc", "--dry-run", cwd=root, env={"DOCKER_HOST": "tcp://h:abc"})
    assert result.returncode == 2 and "malformed" in result.stderr
    away = run_cli("runs", "gc", "--dry-run", cwd=root, env=NO_ENGINE)  # an engine that is away: a warning
    assert away.returncode == 0 and "containers not checked" in away.stderr
