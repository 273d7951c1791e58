"""`paddlectl runs ...` as users and pipelines run it: a real subprocess, stdout data, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from fakes import sleeping_process
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.store import RunPaths
from tests.unit.runs.runs_factory import make_run, update


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good runs (one with a metric series and a log) and one with a truncated manifest."""
    root = tmp_path_factory.mktemp("runs-cli") / "proj"
    make_run(
        root,
        minutes=1,
        name="base",
        params={"lr": 0.1, "opt": "sgd"},
        metrics={"acc": 0.90, "loss": 0.5},
        series={"loss": [2.0, 1.0, 0.5], "acc": [0.5, 0.8, 0.9]},
        log="epoch 1\nepoch 2\n",
    )
    make_run(
        root,
        minutes=2,
        name="tuned",
        params={"lr": 0.01, "opt": "adam"},
        metrics={"acc": 0.95, "loss": 0.3},
        series={"loss": [1.5, 0.6, 0.3]},
        dirty=True,
    )
    make_run(
        root,
        minutes=3,
        name="crashed",
        params={"lr": 1.0, "opt": "sgd"},
        metrics={"loss": 9.0},
        status=RunStatus.FAILED,
    )
    bad = make_run(root, minutes=4)
    bad.manifest.write_text(bad.manifest.read_text()[:150])
    return root


def runs(project: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli("runs", *args, cwd=project)
    return result.returncode, result.stdout, result.stderr


def test_list_json_with_a_bad_row_exits_0(project: Path) -> None:
    code, stdout, stderr = runs(project, "list", "--json")
    assert code == 0, stderr
    rows = json.loads(stdout)
    assert [row["name"] for row in rows] == [None, "crashed", "tuned", "base"]
    assert rows[0]["status"] == "bad" and "manifest" in rows[0]["problem"]
    tuned = rows[2]
    assert tuned["params"] == {"lr": 0.01, "opt": "adam"} and tuned["metrics"] == {"acc": 0.95, "loss": 0.3}
    assert tuned["dirty"] is True and tuned["duration_seconds"] == 90.0
    for key in (
        "id",
        "name",
        "status",
        "image",
        "commit",
        "dirty",
        "params",
        "metrics",
        "started_at",
        "duration_seconds",
        "problem",
    ):
        assert key in tuned


def test_list_filters_and_sort_through_the_cli(project: Path) -> None:
    code, stdout, _ = runs(project, "list", "--json", "--where", "acc>=0.9", "--sort", "-acc")
    assert code == 0 and [row["name"] for row in json.loads(stdout)] == ["tuned", "base"]
    code, stdout, _ = runs(
        project, "list", "--json", "--param", "opt=sgd", "--status", "succeeded,failed", "--limit", "1"
    )
    assert code == 0 and [row["name"] for row in json.loads(stdout)] == ["crashed"]


def test_bad_where_is_a_one_line_usage_error(project: Path) -> None:
    code, stdout, stderr = runs(project, "list", "--where", "acc>>0.9")
    assert code == 2 and stdout == ""
    assert "acc>>0.9" in stderr and "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("error:")]) == 1


def test_list_csv_and_columns(project: Path) -> None:
    code, stdout, _ = runs(project, "list", "--csv", "--columns", "name,status,lr,acc")
    assert code == 0
    table = list(csv.reader(io.StringIO(stdout)))
    assert table[0] == ["name", "status", "lr", "acc"]
    assert table[1:] == [
        ["", "bad", "", ""],
        ["crashed", "failed", "1.0", ""],
        ["tuned", "succeeded", "0.01", "0.95"],
        ["base", "succeeded", "0.1", "0.9"],
    ]
    code, stdout, _ = runs(project, "list", "--csv")
    header = next(csv.reader(io.StringIO(stdout)))
    assert header[:3] == ["id", "name", "status"] and {"lr", "opt", "acc", "loss"} <= set(header)


def test_the_reason_column_says_why_a_run_ended_and_an_unknown_column_is_refused(project: Path) -> None:
    from paddlectl.runs.store import RunStore

    store = RunStore(project / ".paddlectl" / "runs")
    (crashed,) = [p for p in store.run_dirs() if "name: crashed" in p.manifest.read_text()]
    manifest = store.read(crashed.run_id)
    manifest.reason = "exited with code 2"
    store.write(manifest)
    code, stdout, stderr = runs(project, "list", "--csv", "--columns", "name,reason", "--status", "failed")
    assert code == 0, stderr
    assert list(csv.reader(io.StringIO(stdout))) == [["name", "reason"], ["crashed", "exited with code 2"]]
    code, stdout, stderr = runs(project, "list", "--columns", "id,statsu")
    assert code == 2 and stdout == ""
    assert "no run here has statsu (did you mean status?)" in stderr


def test_list_table(project: Path) -> None:
    code, stdout, stderr = runs(project, "list", "--columns", "name,status,commit,lr,acc")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].split() == ["name", "status", "commit", "lr", "acc"]
    tuned = next(line for line in lines if "tuned" in line)
    assert "aaaaaaaa*" in tuned and "0.95" in tuned  # short commit, dirty mark
    code, stdout, _ = runs(project, "list")
    assert code == 0 and "bad" in stdout and "problem" in stdout  # the bad row names its problem


def test_show(project: Path) -> None:
    code, stdout, _ = runs(project, "show", "base", "--json")
    manifest = json.loads(stdout)
    assert code == 0 and manifest["name"] == "base" and manifest["params"]["values"]["lr"] == 0.1
    code, stdout, stderr = runs(project, "show", "base")
    assert code == 0, stderr
    assert "▁" in stdout and "█" in stdout  # the loss series as a sparkline
    assert "paddle_version" in stdout and "params" in stdout
    code, _, stderr = runs(project, "show", "last")
    assert code == 2 and "manifest" in stderr  # the newest run is the broken one: a usage error, not a crash
    code, _, stderr = runs(project, "show", "2026")
    assert code == 2 and "matches 4 runs" in stderr


def test_compare_and_diff(project: Path) -> None:
    code, stdout, _ = runs(project, "compare", "base", "tuned", "--json")
    rows = {(row["section"], row["key"]): row for row in json.loads(stdout)["rows"]}
    assert code == 0 and rows[("params", "lr")]["differs"] is True and rows[("image", "id")]["differs"] is False
    code, stdout, _ = runs(project, "compare", "base", "tuned")
    assert code == 0 and "lr" in stdout
    code, stdout, _ = runs(project, "diff", "base", "tuned", "--json")
    diff = json.loads(stdout)
    assert code == 1 and {c["key"] for c in diff["params"]} == {"lr", "opt"} and diff["identical"] is False
    code, stdout, _ = runs(project, "diff", "base", "tuned")
    assert code == 1 and "0.1 → 0.01" in stdout


def test_diff_exits_0_for_identical_runs_and_1_for_different_ones(tmp_path: Path) -> None:
    """Like diff and git diff --exit-code: a pipeline can ask `paddlectl runs diff A B` whether anything changed."""
    root = tmp_path / "p"
    make_run(root, minutes=1, name="a", params={"lr": 0.1})
    make_run(root, minutes=2, name="b", params={"lr": 0.1}, metrics={"acc": 0.5})  # metrics are results, not inputs
    make_run(root, minutes=3, name="c", params={"lr": 0.2})
    same = run_cli("runs", "diff", "a", "b", cwd=root)
    assert same.returncode == 0, same.stderr
    assert "the same params" in same.stderr
    assert run_cli("runs", "diff", "a", "b", "--json", cwd=root).returncode == 0
    different = run_cli("runs", "diff", "a", "c", cwd=root)
    assert different.returncode == 1 and "0.1 → 0.2" in different.stdout
    document = run_cli("runs", "diff", "a", "c", "--json", cwd=root)
    assert document.returncode == 1 and json.loads(document.stdout)["identical"] is False
    assert run_cli("runs", "diff", "a", "nosuch", cwd=root).returncode == 2


def test_logs(project: Path) -> None:
    code, stdout, _ = runs(project, "logs", "base")
    assert code == 0 and stdout == "epoch 1\nepoch 2\n"
    code, stdout, _ = runs(project, "logs", "base", "-f")  # an ended run: print and return
    assert code == 0 and stdout == "epoch 1\nepoch 2\n"


def test_gate_exit_codes(project: Path) -> None:
    code, stdout, _ = runs(
        project,
        "gate",
        "tuned",
        "--baseline",
        "base",
        "--metric",
        "acc",
        "--max-drop",
        "1%",
        "--require",
        "acc>=0.95",
        "--json",
    )
    report = json.loads(stdout)
    assert code == 0 and report["passed"] is True
    assert [check["kind"] for check in report["checks"]] == ["comparability", "metric", "requirement"]
    assert report["baseline"] == _id(project, "base") and report["run"] == _id(project, "tuned")
    code, stdout, _ = runs(project, "gate", "base", "--baseline", "tuned", "--metric", "acc", "--max-drop", "2%")
    assert code == 1 and "FAIL" in stdout
    code, stdout, _ = runs(
        project,
        "gate",
        "base",
        "--baseline",
        "tuned",
        "--metric",
        "loss",
        "--lower-is-better",
        "--max-drop",
        "0.5",
        "--json",
    )
    assert code == 0 and _metric_checks(stdout)[0]["limit"] == pytest.approx(0.8)
    code, stdout, _ = runs(project, "gate", "base", "--baseline", "crashed", "--metric", "acc", "--json")
    check = _metric_checks(stdout)[0]
    assert code == 1 and not check["passed"] and "missing" in check["message"]


def _metric_checks(stdout: str) -> list[dict[str, object]]:
    return [check for check in json.loads(stdout)["checks"] if check["kind"] == "metric"]


def test_gate_with_an_unknown_metric_is_a_usage_error_listing_the_run_s_metrics(project: Path) -> None:
    """CI reads exit 1 as a regression; a misspelt metric is the pipeline's mistake (2), and says what exists."""
    code, stdout, stderr = runs(project, "gate", "tuned", "--baseline", "base", "--metric", "nosuch")
    assert code == 2 and stdout == "" and "FAIL" not in stderr
    assert stderr.splitlines()[0].startswith("error: --metric nosuch: neither run ")
    assert stderr.splitlines()[1] == f"hint: run {_id(project, 'tuned')} has metrics acc, loss"
    code, stdout, stderr = runs(project, "gate", "tuned", "--require", "nosuch>1", "--json")
    assert code == 2 and json.loads(stdout)["exit_code"] == 2
    assert "params lr, opt" in json.loads(stdout)["hint"]


def _id(project: Path, name: str) -> str:
    rows = json.loads(runs(project, "list", "--json")[1])
    return str(next(row["id"] for row in rows if row["name"] == name))


def test_rm_refuses_running_run(tmp_path: Path) -> None:
    running = make_run(tmp_path / "p", minutes=1, status=RunStatus.RUNNING)
    code, _, stderr = runs(tmp_path / "p", "rm", running.run_id)
    assert code == 2 and "--force" in stderr and running.root.is_dir()
    done = make_run(tmp_path / "p", minutes=2)
    code, stdout, _ = runs(tmp_path / "p", "rm", done.run_id, "--json")
    assert code == 0 and json.loads(stdout)["runs"][0]["id"] == done.run_id and not done.root.exists()


def test_plot_writes_a_png(project: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    code, stdout, stderr = runs(project, "plot", "base", "tuned", "--metric", "loss", "-o", str(target), "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["runs"][0]["points"] == 3
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (800, 450) and len(data) > 5_000
    code, _, stderr = runs(project, "plot", "base", "--metric", "nope", "-o", str(tmp_path / "x.png"))
    assert code == 2 and "nope" in stderr and "loss" in stderr


def test_plot_without_matplotlib_says_how_to_install(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    result = run_cli(
        "runs",
        "plot",
        "base",
        "--metric",
        "loss",
        "-o",
        str(tmp_path / "x.png"),
        cwd=project,
        env={"PYTHONPATH": str(blocker.parent)},
    )
    assert result.returncode == 3 and result.stdout == ""
    assert "pip install 'paddlectl[plot]'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def _owned_running_run(root: Path) -> tuple[Path, subprocess.Popen[bytes]]:
    """A run marked running whose owner (a process naming paddlectl as its program) is alive."""
    owner = sleeping_process("paddlectl")
    paths = make_run(
        root, minutes=1, status=RunStatus.RUNNING, log="line 1\n", owner_pid=owner.pid, owner_host=socket.gethostname()
    )
    return paths.root, owner


def _follow(project: Path, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paddlectl", "runs", "logs", run_id, "-f"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_logs_follow_until_the_run_ends(tmp_path: Path) -> None:
    root, owner = _owned_running_run(tmp_path / "p")
    try:
        follower = _follow(tmp_path / "p", root.name)
        assert follower.stdout is not None
        assert follower.stdout.readline() == "line 1\n"
        with (root / "output.log").open("a") as handle:
            handle.write("line 2\n")
        assert follower.stdout.readline() == "line 2\n"
        with (root / "output.log").open("a") as handle:
            handle.write("last line\n")
        update(RunPaths(root), status=RunStatus.SUCCEEDED)
        stdout, stderr = follower.communicate(timeout=20)
        assert follower.returncode == 0, stderr
        assert stdout == "last line\n"
    finally:
        owner.kill()
        owner.wait()


def test_logs_follow_ctrl_c_exits_130_quietly(tmp_path: Path) -> None:
    root, owner = _owned_running_run(tmp_path / "p")
    try:
        follower = _follow(tmp_path / "p", root.name)
        assert follower.stdout is not None and follower.stdout.readline() == "line 1\n"
        follower.send_signal(signal.SIGINT)
        _, stderr = follower.communicate(timeout=20)
        assert follower.returncode == 130
        assert stderr.strip() == ""
    finally:
        owner.kill()
        owner.wait()


def test_a_where_or_sort_name_no_run_has_is_a_typo(project: Path) -> None:
    for args, says in (
        (("--where", "accc>=0.9"), "--where: no run here has accc (did you mean acc?)"),
        (("--sort", "-losss"), "--sort: no run here has losss (did you mean loss?)"),
    ):
        code, stdout, stderr = runs(project, "list", *args)
        assert code == 2 and stdout == "" and says in stderr, stderr
    code, stdout, _ = runs(project, "list", "--where", "acc>=0.99", "--json")  # a known name that matches none
    assert code == 0 and json.loads(stdout) == []
