"""The signal sweep for `export` and `reproduce`: their one-shot containers and temporary worktrees never outlive
a stop signal, and the previous export or the original run stays exactly as it was.

Each command is made long on purpose (an export timing 200,000 predictor runs, a reproduction told to sleep a
minute), so every offset of the sweep lands while it works; one more trial per named phase hits each boundary.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.train_harness import TrainProject, docker, run_train, warm_probe_cache
from faults.signal_trials import SECRET, SIGNALS, Trial, fresh_project, run_trial
from paddlectl.engine.docker_engine import connect
from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerSpec, Mount

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures"
OFFSETS = [round(0.25 * step, 2) for step in range(13)]  # 0.0 .. 3.0 s
EXPORT_ARGS = ["--model", "convnet:build_model", "--model-arg", "num_classes=10", "--input", "x:float32:-1,1,8,8"]


def assert_exit_and_nothing_left(trial: Trial) -> None:
    assert trial.exit_code in (128 + trial.signum, -trial.signum), trial.describe()
    assert "internal error" not in trial.stderr and "Traceback" not in trial.stderr, trial.describe()
    assert trial.containers == [], trial.describe()
    assert trial.private_left == [], trial.describe()  # also the temporary folders (TMPDIR is the same folder)
    assert trial.secret_hits == [], trial.describe()


# ---- export -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> tuple[TrainProject, str, bytes]:
    """A project with a trained run (real Paddle weights) exported once: (project, run id, export.yaml bytes)."""
    project = TrainProject(tmp_path_factory.mktemp("export-sweep") / "proj", paddle_image)
    for name in ("convnet.py", "make_weights.py"):
        shutil.copy(FIXTURES / name, project.root / name)
    made = run_oneshot(
        connect(),
        ContainerSpec(
            image=paddle_image,
            command=["python3", "-W", "ignore", "make_weights.py", "/w"],
            mounts=[Mount(str(project.root), "/w")],
            working_dir="/w",
            user=f"{os.getuid()}:{os.getgid()}",
            environment={"HOME": "/tmp", "GLOG_minloglevel": "2"},
            network_mode="none",
        ),
        "export",
        timeout=300,
    )
    assert made.exit_code == 0, made.output
    trained = run_train(project, "hello.py")
    assert trained.returncode == 0, trained.stderr
    [run_id] = project.run_ids()
    shutil.copy(project.root / "model.pdparams", project.runs_dir / run_id / "outputs" / "model.pdparams")
    first = subprocess.run(
        [sys.executable, "-m", "paddlectl", "export", run_id, *EXPORT_ARGS],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    return project, run_id, (project.runs_dir / run_id / "export" / "export.yaml").read_bytes()


def _export_trial(exported: tuple[TrainProject, str, bytes], signum: int, **when: object) -> Trial:
    project, run_id, before = exported
    trial = run_trial(project, ["export", run_id, *EXPORT_ARGS, "--latency-runs", "200000"], signum, **when)  # type: ignore[arg-type]
    assert_exit_and_nothing_left(trial)
    run_dir = project.runs_dir / run_id
    assert (run_dir / "export" / "export.yaml").read_bytes() == before, "the previous export changed"
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".export")) == [], "a staging folder left"
    assert docker("ps", "-a", "-q", "--filter", f"label=io.paddlectl.for-run={run_id}").split() == []
    return trial


def test_export_signal_sweep(exported: tuple[TrainProject, str, bytes]) -> None:
    for offset, signum in zip(OFFSETS, itertools.cycle(SIGNALS)):
        _export_trial(exported, signum, offset=offset)


@pytest.mark.parametrize(("phase", "signum"), [("export-created", SIGNALS[0]), ("export-started", SIGNALS[1])])
def test_export_signal_at_each_phase(exported: tuple[TrainProject, str, bytes], phase: str, signum: int) -> None:
    _export_trial(exported, signum, pause_at=phase)


# ---- reproduce --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> tuple[TrainProject, str, bytes]:
    """A git project with an uncommitted edit and one quick recorded run: (project, run id, its manifest bytes)."""
    project = fresh_project(
        tmp_path_factory.mktemp("reproduce-sweep") / "proj", paddle_image, warm_probe_cache(paddle_image)
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project.root, check=True)
    (project.root / ".gitignore").write_text(".paddlectl/\n")
    subprocess.run([*git, "add", "."], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scripts"], cwd=project.root, check=True)
    with open(project.root / "sleep_for.py", "a", encoding="utf-8") as script:
        script.write("# an uncommitted edit, replayed from the run's patch\n")
    trained = run_train(project, "-p", f"db_password={SECRET}", "sleep_for.py")
    assert trained.returncode == 0, trained.stderr
    [run_id] = project.run_ids()
    return project, run_id, (project.runs_dir / run_id / "manifest.yaml").read_bytes()


def _reproduce_trial(recorded: tuple[TrainProject, str, bytes], signum: int, **when: object) -> Trial:
    project, run_id, before = recorded
    args = ["reproduce", run_id, "-p", f"db_password={SECRET}", "-p", "seconds=60"]
    trial = run_trial(project, args, signum, **when)  # type: ignore[arg-type]
    assert_exit_and_nothing_left(trial)
    assert (project.runs_dir / run_id / "manifest.yaml").read_bytes() == before, "the original run changed"
    for other, manifest in trial.manifests.items():
        if other != run_id:
            assert manifest is not None and manifest["status"] == "interrupted", trial.describe()
            shutil.rmtree(project.runs_dir / other)  # the next trial starts from the original run alone
    worktrees = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=project.root, capture_output=True, text=True, check=True
    ).stdout
    assert worktrees.count("worktree ") == 1, f"a worktree was left behind:\n{worktrees}"
    return trial


def test_reproduce_signal_sweep(recorded: tuple[TrainProject, str, bytes]) -> None:
    for offset, signum in zip(OFFSETS, itertools.cycle(SIGNALS)):
        _reproduce_trial(recorded, signum, offset=offset)


@pytest.mark.parametrize(
    ("phase", "signum"), [("worktree", SIGNALS[2]), ("create", SIGNALS[0]), ("running", SIGNALS[1])]
)
def test_reproduce_signal_at_each_phase(recorded: tuple[TrainProject, str, bytes], phase: str, signum: int) -> None:
    _reproduce_trial(recorded, signum, pause_at=phase)
