"""A stop signal at any instant of `paddlectl train`: the signal's exit code, no container left, an honest record.

Two kinds of trials against the real engine:
- a sweep: a signal every 0.1 s over the first 3 s after the CLI is spawned (two rounds, the three signals in turn,
  three trials at a time so the load moves where each offset lands), with a secret param on every run;
- one trial at each named phase boundary, where the command pauses (PADDLECTL_TEST_PAUSE_AT) until the signal
  comes, so every boundary is hit on purpose.
Every trial asserts the same facts (signal_trials.assert_clean_interruption): exit code 128+n, no container of the
project left (created-but-never-started ones included), no private file left, the secret nowhere in the store, and
either no run folder at all (signal before the run was recorded) or one manifest `interrupted` with its signal.
"""

from __future__ import annotations

import itertools
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.train_harness import warm_probe_cache
from faults.signal_trials import SECRET, SIGNALS, Trial, assert_clean_interruption, fresh_project, run_trial

pytestmark = [pytest.mark.engine, pytest.mark.slow]

OFFSETS = [round(0.1 * step, 1) for step in range(31)]  # 0.0 .. 3.0 s
ROUNDS = 2
TRAIN = ["train", "-p", f"db_password={SECRET}", "ready_sleep.py"]


@pytest.fixture(scope="module")
def probe_cache(paddle_image: str) -> Path | None:
    return warm_probe_cache(paddle_image)


def test_signal_sweep_over_the_first_three_seconds(tmp_path: Path, paddle_image: str, probe_cache: Path | None) -> None:
    plan = [
        (round_, offset, SIGNALS[(index + round_) % 3])
        for round_ in range(ROUNDS)
        for index, offset in enumerate(OFFSETS)
    ]

    def one(item: tuple[int, float, int]) -> tuple[float, Trial]:
        round_, offset, signum = item
        project = fresh_project(tmp_path / f"r{round_}-{offset}", paddle_image, probe_cache)
        return offset, run_trial(project, TRAIN, signum, offset=offset)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, plan))
    outcomes: Counter[str] = Counter()
    for _, trial in results:
        assert_clean_interruption(trial)
        outcomes[_outcome(trial)] += 1
    print(f"\nsignal sweep: {len(results)} trials, outcomes {dict(outcomes)}, containers left: 0")


def _outcome(trial: Trial) -> str:
    if not trial.manifests:
        return "before the record"
    [manifest] = trial.manifests.values()
    return "before the start" if "before the container started" in manifest["reason"] else "while running"


PRE_RECORD = ["connect", "image", "git", "record"]
SET_UP = ["create", "attach", "start"]


@pytest.mark.parametrize(("phase", "signum"), zip(PRE_RECORD, itertools.cycle(SIGNALS)))
def test_a_signal_before_the_run_is_recorded_leaves_nothing(
    tmp_path: Path, paddle_image: str, probe_cache: Path | None, phase: str, signum: int
) -> None:
    project = fresh_project(tmp_path / "proj", paddle_image, probe_cache)
    trial = run_trial(project, TRAIN, signum, pause_at=phase)
    assert_clean_interruption(trial)
    assert trial.run_folders == [], trial.describe()
    assert not (project.root / ".paddlectl" / "image-tags.json").exists(), "the tag history records only runs"


@pytest.mark.parametrize(("phase", "signum"), zip(SET_UP, itertools.cycle(SIGNALS)))
def test_a_signal_while_the_container_is_set_up_removes_it(
    tmp_path: Path, paddle_image: str, probe_cache: Path | None, phase: str, signum: int
) -> None:
    project = fresh_project(tmp_path / "proj", paddle_image, probe_cache)
    trial = run_trial(project, TRAIN, signum, pause_at=phase)
    assert_clean_interruption(trial)
    [manifest] = trial.manifests.values()
    assert "before the container started" in manifest["reason"], trial.describe()
    assert manifest["exit_code"] is None


def test_a_signal_while_running_stops_it(tmp_path: Path, paddle_image: str, probe_cache: Path | None) -> None:
    project = fresh_project(tmp_path / "proj", paddle_image, probe_cache)
    trial = run_trial(project, TRAIN, signal.SIGINT, pause_at="running")
    assert_clean_interruption(trial)
    [run_id] = trial.manifests
    assert "before the container started" not in trial.manifests[run_id]["reason"]


@pytest.mark.parametrize("phase", ["rebuild", "settle"])
def test_a_signal_after_the_container_ended_keeps_the_real_outcome(
    tmp_path: Path, paddle_image: str, probe_cache: Path | None, phase: str
) -> None:
    project = fresh_project(tmp_path / "proj", paddle_image, probe_cache)
    trial = run_trial(project, ["train", "-p", f"db_password={SECRET}", "hello.py"], signal.SIGTERM, pause_at=phase)
    assert_clean_interruption(trial, ended_by_itself=True)


def test_a_signal_while_waiting_for_the_first_probe(tmp_path: Path, paddle_image: str) -> None:
    """A cold project: the run ends while its image's runtime is still being probed (the probe is held at its
    start on purpose). The signal ends the wait: the run stays succeeded, and the probe still removes its container."""
    project = fresh_project(tmp_path / "cold", paddle_image, None)
    trial = run_trial(
        project, ["train", "-p", f"db_password={SECRET}", "hello.py"], signal.SIGINT, pause_at="probe-started,probe"
    )
    assert_clean_interruption(trial, ended_by_itself=True)
    [manifest] = trial.manifests.values()
    assert "SIGINT" in manifest["runtime"]["probe_error"]
