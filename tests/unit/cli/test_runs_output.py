"""`runs` output that fits where it goes: terminal widths, pipes, ids one can type, and no project at all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from paddlectl.cli.runs_view import COLUMN_PRIORITY, fit_columns
from paddlectl.runs.manifest import ContainerRecord, ImageRecord, MountRecord, RunStatus
from paddlectl.runs.plot import collect_run_lines, usable_prefix
from paddlectl.runs.query import resolve_run
from paddlectl.runs.store import RunStore
from tests.unit.cli.terminal import run_in_terminal
from tests.unit.runs.runs_factory import BASE_TIME, make_run, update

LONG_IMAGE = "registry.example.com/vision-team/paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5"
DIGEST = "sha256:" + "0123456789abcdef" * 4
LONG_PATH = "/data/" + "/".join(f"a-rather-long-folder-name-{n}" for n in range(8)) + "/train-images.npz"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four runs like a real sweep: names, four varying params, four metrics, every long status."""
    root = tmp_path_factory.mktemp("output") / "proj"
    sweep = [
        ("baseline", RunStatus.SUCCEEDED, {"lr": 0.001, "batch_size": 32, "epochs": 10, "opt": "adam"}),
        ("fast-lr-sweep-3", RunStatus.INTERRUPTED, {"lr": 0.03, "batch_size": 64, "epochs": 3, "opt": "sgd"}),
        ("bigger-batch", RunStatus.SUCCEEDED, {"lr": 0.001, "batch_size": 256, "epochs": 10, "opt": "adam"}),
        ("", RunStatus.FAILED, {"lr": 1.0, "batch_size": 32, "epochs": 1, "opt": "sgd"}),
    ]
    for minute, (name, status, params) in enumerate(sweep, start=1):
        make_run(
            root,
            minutes=minute,
            name=name or None,
            status=status,
            params=params,
            metrics={"loss": 0.0754 * minute, "acc": 0.99933, "val_loss": 0.018233, "val_acc": 0.993266},
            image=LONG_IMAGE if minute == 2 else "paddlectl-test/paddle:3.2.0-cpu",
            dirty=minute == 3,
        )
    return root


def _rows(project: Path) -> list[dict[str, object]]:
    listing = run_cli("runs", "list", "--json", cwd=project)
    assert listing.returncode == 0, listing.stderr
    rows: list[dict[str, object]] = json.loads(listing.stdout)
    return rows


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_list_in_a_terminal_fits_and_never_cuts_an_id_or_a_status(project: Path, width: int) -> None:
    result = run_in_terminal("runs", "list", cwd=project, columns=width)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.screen.splitlines() if line.strip()]
    assert all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    header = lines[0].split()
    assert header[:2] == ["id", "name"] or header[:2] == ["id", "status"]
    assert "status" in header
    for row in _rows(project):
        (line,) = [line for line in lines if line.startswith(str(row["id"]))]  # the whole id starts its line
        assert f" {row['status']} " in f"{line} "  # the whole status, as a word
    piped = run_cli("runs", "list", cwd=project, env={"COLUMNS": str(width)})
    every = piped.stdout.splitlines()[0].split()
    dropped = [name for name in every if name not in header]
    if dropped:
        note = result.stderr.strip()
        assert note.startswith(f"left out to fit {width} columns: {', '.join(dropped)};"), note
        assert "--columns" in note
    else:
        assert result.stderr == ""


def test_list_drops_the_least_important_columns_first(project: Path) -> None:
    header = run_in_terminal("runs", "list", cwd=project, columns=80).screen.splitlines()[0].split()
    assert header[:3] == ["id", "name", "status"]  # name is the first column after id and status to stay
    assert "image" not in header and "commit" not in header  # where runs came from goes first
    wide = run_in_terminal("runs", "list", cwd=project, columns=120).screen.splitlines()[0].split()
    assert {"loss", "acc"} <= set(wide) and "image" not in wide


def test_columns_bring_dropped_columns_back_whole(project: Path) -> None:
    result = run_in_terminal("runs", "list", "--columns", "id,status,image", cwd=project, columns=80)
    assert result.returncode == 0 and result.stderr == ""
    assert LONG_IMAGE.rsplit("/", 1)[-1] in result.screen  # the short image name, uncut
    assert "\x1b[" not in result.raw  # NO_COLOR (run_in_terminal sets it): no bold or dim either


def test_piped_listing_keeps_every_column_at_any_columns(project: Path) -> None:
    for columns in ("80", "200"):
        piped = run_cli("runs", "list", cwd=project, env={"COLUMNS": columns})
        header = piped.stdout.splitlines()[0].split()
        assert {"image", "commit", "lr", "batch_size", "epochs", "opt", "val_acc", "started"} <= set(header)
        assert piped.stderr == ""


def test_fit_columns_follows_the_priority() -> None:
    columns = ["id", "name", "status", "image", "commit", "params.lr", "metrics.acc", "duration", "started"]
    widths = dict.fromkeys(columns, 10)
    assert fit_columns(columns, widths, 1000) == columns
    assert fit_columns(columns, widths, 10 * 4 + 3 * 3) == ["id", "name", "status", "metrics.acc"]
    assert fit_columns(columns, widths, 5) == ["id", "status"]  # never fewer, however narrow
    assert COLUMN_PRIORITY[:2] == ("id", "status")


# ---- runs show: never hard-wrapped when piped -----------------------------------------------------------


@pytest.fixture(scope="module")
def long_values(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("show") / "proj"
    paths = make_run(root, minutes=1, name="long", params={"data": LONG_PATH})
    update(
        paths,
        image=ImageRecord("paddlectl-test/paddle:3.2.0-cpu", "sha256:" + "3" * 64, DIGEST),
        container=ContainerRecord(id="c" * 64, mounts=[MountRecord(LONG_PATH, "/data", True)]),
    )
    return root, paths.run_id


@pytest.mark.parametrize("columns", [None, "80", "200"], ids=["COLUMNS unset", "COLUMNS=80", "COLUMNS=200"])
def test_show_piped_never_wraps_a_path_or_a_digest(long_values: tuple[Path, str], columns: str | None) -> None:
    root, run_id = long_values
    env = {"COLUMNS": columns} if columns else {}
    result = run_cli("runs", "show", "long", cwd=root, env=env)
    if columns is None:  # run_cli sets COLUMNS=200: take it away again
        import os
        import subprocess
        import sys

        environment = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
        result = subprocess.run(
            [sys.executable, "-m", "paddlectl", "runs", "show", "long"],
            cwd=root,
            env={**environment, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split() == ["digest", DIGEST] for line in lines), result.stdout
    assert any(line.split() == ["data", LONG_PATH, "cli"] for line in lines)  # the params table
    assert any(LONG_PATH in line and "target=/data" in line for line in lines)  # the mounts
    assert any(line.split() == ["folder", str(root / ".paddlectl" / "runs" / run_id)] for line in lines)
    assert all(line == line.rstrip() for line in lines)  # no padding after the last column


# ---- runs plot: a legend that names runs by something one can type ---------------------------------------


def test_usable_prefix_is_the_shortest_unique_one_down_to_the_second() -> None:
    ids = ["20261101-080100-000aaaaaa", "20261101-080100-001bbbbbb", "20261101-080200-000cccccc"]
    assert usable_prefix(ids[2], ids) == "20261101-080200"
    assert usable_prefix(ids[0], ids) == "20261101-080100-000"
    assert usable_prefix(ids[0], ids[:1]) == "20261101-080100"


def test_plot_legend_shows_the_name_and_a_prefix_that_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    root = tmp_path / "p"
    same_second = BASE_TIME.replace(minute=5)
    first = make_run(root, minutes=0, started=same_second, name="fast-lr", series={"loss": [1.0, 0.5]})
    second = make_run(root, minutes=0, started=same_second, series={"loss": [2.0, 1.0]})
    make_run(root, minutes=9, name="other")
    store = RunStore(root / ".paddlectl" / "runs")
    lines = collect_run_lines(store, [first.run_id, second.run_id], "loss")
    labels = [line.label for line in lines]
    assert labels[0].startswith("fast-lr (") and labels[0].endswith(")")
    for line, label in zip(lines, labels, strict=True):
        prefix = label.removeprefix("fast-lr (").removesuffix(")")
        assert line.run.startswith(prefix) and len(prefix) >= len("20261101-080500")
        assert resolve_run(store, prefix).run_id == line.run  # the legend's prefix is one `runs show` takes

    figures = []
    real_subplots = plt.subplots

    def recording_subplots(*args: object, **kwargs: object) -> object:
        figure, axes = real_subplots(*args, **kwargs)
        figures.append(axes)
        return figure, axes

    monkeypatch.setattr(plt, "subplots", recording_subplots)
    from paddlectl.runs.plot import plot_png

    output = plot_png(lines, "loss", tmp_path / "loss.png")
    assert output.read_bytes()[:4] == b"\x89PNG"
    legend = [text.get_text() for text in figures[0].get_legend().get_texts()]
    assert legend == labels


def test_plot_json_carries_the_legend_labels(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    root = tmp_path / "p"
    run = make_run(root, minutes=1, name="base", series={"loss": [1.0, 0.5]})
    result = run_cli("runs", "plot", "base", "-m", "loss", "-o", str(tmp_path / "x.png"), "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["runs"]
    assert entry["label"] == f"base ({run.run_id[:15]})"
    assert not re.search(r"\(\w{8}\)", entry["label"].replace(run.run_id[:15], ""))  # not the id's last 8


# ---- outside any project -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("runs", "show", "last"),
        ("runs", "compare", "a", "b"),
        ("runs", "diff", "a", "b"),
        ("runs", "logs", "last"),
        ("runs", "stop", "last"),
        ("runs", "rm", "last"),
        ("runs", "gc", "--keep", "1"),
        ("runs", "plot", "last", "-m", "loss"),
        ("runs", "gate", "last", "--require", "acc>0"),
        ("export", "last"),
        ("package", "last", "--name", "x", "--version", "1.0.0"),
    ],
)
def test_run_commands_outside_any_project_say_so(tmp_path: Path, args: tuple[str, ...]) -> None:
    nowhere = tmp_path / "not-a-project"
    nowhere.mkdir()
    result = run_cli(*args, cwd=nowhere)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert lines[0].startswith("error: no paddlectl project here: no paddlectl.yaml or .paddlectl/ in ")
    assert lines[1] == "hint: cd into a project, or make this folder one with 'paddlectl init'"
    assert not (nowhere / ".paddlectl").exists()
    if "--json" in args:
        assert json.loads(result.stdout)["exit_code"] == 2


def test_values_read_the_same_in_every_view() -> None:
    from paddlectl.cli.values import fmt

    assert fmt({"x": [-1, 1, 8, 8], "y": [3]}) == "x=[-1, 1, 8, 8], y=[3]"
    assert fmt([64, 32]) == "64, 32"
    assert (fmt(None), fmt(True), fmt(0.1234567891)) == ("", "yes", "0.123457")
