"""The pipelines `paddlectl ci init` writes, run as a runner runs them, on the digits example and the real engine.

Each pipeline clones the project afresh; each job runs its script lines in order in one bash (`set -eo pipefail`,
as GitLab's shell executor does), in its own fresh clone, with the artifacts of the jobs before it copied in and
the file's variables overridden by the project's CI/CD variables (a temporary registry and gate history here).
Every job runs on this machine's shell: the unit-test job's `image:` and the GPU runner's tag are the runner's
business, not the script's.

GitLab: the first pipeline has no production version (the gate warns, passes, and the run is registered as
staging); a person promotes it; the second pipeline passes against it; a commit that breaks the learning rate
fails the gate with exit 1 and a JUnit report naming the metric; a run on another dataset is not comparable
(exit 7); --repeats gates the mean of reseeded runs. GitHub: the workflow's run steps on a first run, with the
Markdown in $GITHUB_STEP_SUMMARY.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from conftest import REPO_ROOT, run_cli
from tests.unit.ci.xsd_subset import load_schema, validate

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

GIT = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "init.defaultBranch=main"]
GATE_OPTIONS = ["--metric", "val_acc:max-drop=1%", "--require", "val_acc>=0.9"]
SCHEMA = load_schema(REPO_ROOT / "tests" / "data" / "junit.xsd")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Job:
    name: str
    code: int | None  # None: not run (a rule or an earlier failure)
    output: str = ""
    workspace: Path | None = None


@dataclass
class Pipeline:
    jobs: dict[str, Job] = field(default_factory=dict)
    artifacts: Path | None = None

    def job(self, name: str) -> Job:
        return self.jobs[name]


class Runner:
    """Runs the jobs of a committed pipeline file the way its provider's runner would (see the module docstring)."""

    def __init__(self, origin: Path, root: Path, variables: dict[str, str]) -> None:
        self.origin = origin
        self.root = root
        self.variables = variables  # the project's CI/CD variables: they win over the file's
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        shim = self.bin / "paddlectl"  # the runner's installed paddlectl: this tree's, through PYTHONPATH
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m paddlectl "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)

    def _clone(self, into: Path, branch: str) -> Path:
        subprocess.run([*GIT, "clone", "-q", "--branch", branch, str(self.origin), str(into)], check=True)
        return into

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **extra}
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        env.pop("GITHUB_STEP_SUMMARY", None)
        return {**env, **self.variables}

    def _shell(self, lines: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
        done = subprocess.run(
            ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        return done.returncode, done.stdout + done.stderr

    def gitlab(self, number: int, branch: str = "main") -> Pipeline:
        tag = f"gitlab-{number}"
        pipeline = Pipeline(artifacts=self.root / tag / "artifacts")
        checkout = self._clone(self.root / tag / "pipeline", branch)
        document = yaml.safe_load((checkout / ".gitlab-ci.yml").read_text())
        predefined = {
            "CI_PIPELINE_IID": str(number),
            "CI_COMMIT_SHORT_SHA": _git(checkout, "rev-parse", "--short", "HEAD"),
            "CI_COMMIT_BRANCH": branch,
            "CI_DEFAULT_BRANCH": "main",
        }
        variables = {
            key: re.sub(r"\$(\w+)", lambda m: predefined.get(m[1], m[0]), str(value))
            for key, value in document.get("variables", {}).items()
        }
        failed = False
        for stage in document["stages"]:
            for name, job in document.items():
                if not isinstance(job, dict) or job.get("stage") != stage:
                    continue
                rules = job.get("rules") or []
                wanted = all(
                    rule["if"] == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" and branch == "main" for rule in rules
                )
                if failed or not wanted:
                    pipeline.jobs[name] = Job(name, None)
                    continue
                workspace = self._clone(self.root / tag / name, branch)
                assert pipeline.artifacts is not None
                if pipeline.artifacts.is_dir():
                    shutil.copytree(pipeline.artifacts, workspace, dirs_exist_ok=True)
                code, output = self._shell(job["script"], workspace, self._env({**predefined, **variables}))
                pipeline.jobs[name] = Job(name, code, output, workspace)
                artifacts = job.get("artifacts") or {}
                if code == 0 or artifacts.get("when") == "always":
                    for path in artifacts.get("paths") or []:
                        source = workspace / path
                        if source.exists():
                            shutil.copytree(source, pipeline.artifacts / path, dirs_exist_ok=True)
                failed = failed or code != 0
        return pipeline

    def github(self, number: int, summary: Path) -> Pipeline:
        tag = f"github-{number}"
        pipeline = Pipeline()
        checkout = self._clone(self.root / tag / "pipeline", "main")
        document = yaml.safe_load((checkout / ".github" / "workflows" / "paddlectl.yml").read_text())
        for name in ("unit-tests", "train-and-gate"):  # the steps a pull request runs (register: main only)
            workspace = self._clone(self.root / tag / name, "main")
            lines = [step["run"] for step in document["jobs"][name]["steps"] if "run" in step]
            env = self._env({"GITHUB_RUN_NUMBER": str(number), **document["env"]})
            env["GITHUB_STEP_SUMMARY"] = str(summary)
            code, output = self._shell(lines, workspace, env)
            pipeline.jobs[name] = Job(name, code, output, workspace)
        return pipeline


def _copy_digits(dest: Path, image: str) -> Path:
    shutil.copytree(REPO_ROOT / "examples" / "digits", dest, ignore=shutil.ignore_patterns(".paddlectl", "outputs"))
    config = dest / "paddlectl.yaml"
    config.write_text(re.sub(r"(?m)^(  cpu: ).*$", rf"\g<1>{image}", config.read_text()))
    return dest


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> Path:
    """The team's repository: the digits example with the pipeline files `paddlectl ci init` wrote, committed."""
    repo = _copy_digits(tmp_path_factory.mktemp("ci") / "origin", paddle_image)
    _git(repo, "init", "-q")
    for provider in ("gitlab", "github"):
        written = run_cli("ci", "init", "--provider", provider, *GATE_OPTIONS, cwd=repo)
        assert written.returncode == 0, written.stderr
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "digits with its CI pipeline")
    _git(repo, "branch", "feature")
    return repo


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The runner's state folder, as the project's CI/CD variables point at it."""
    root = tmp_path_factory.mktemp("runner-state")
    return {
        "PADDLECTL_REGISTRY": str(root / "registry"),
        "PADDLECTL_GATE_HISTORY": str(root / "gate-history" / "digits.jsonl"),
    }


@pytest.fixture(scope="module")
def runner(origin: Path, state: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Runner:
    return Runner(origin, tmp_path_factory.mktemp("runner"), state)


def _junit(pipeline: Pipeline) -> ET.Element:
    assert pipeline.artifacts is not None
    document = (pipeline.artifacts / "reports" / "gate.xml").read_text()
    assert validate(document, SCHEMA) == []
    return ET.fromstring(document)


def _registry(state: dict[str, str], *args: str) -> Any:
    result = run_cli("registry", *args, "--json", env=state)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def first(runner: Runner) -> Pipeline:
    return runner.gitlab(1)


@pytest.fixture(scope="module")
def second(runner: Runner, first: Pipeline, state: dict[str, str]) -> Pipeline:
    promoted = run_cli("registry", "promote", "digits", "0.1.1", "--to", "production", env=state)
    assert promoted.returncode == 0, promoted.stderr
    return runner.gitlab(2, branch="feature")


def test_a_first_run_has_no_baseline_warns_passes_and_is_registered(first: Pipeline, state: dict[str, str]) -> None:
    assert [job.code for job in first.jobs.values()] == [0, 0, 0], {n: j.output[-3000:] for n, j in first.jobs.items()}
    train = first.job("train-and-gate").output
    assert "warning: baseline registry:digits@production: there is no model digits in the registry" in train
    assert "it holds no model yet: the comparisons are skipped" in train  # a new model, not a misspelt one
    suite = _junit(first).find("testsuite")
    assert suite is not None and suite.attrib["failures"] == "0" and suite.attrib["skipped"] == "1"
    assert first.artifacts is not None
    run_id = (first.artifacts / "reports" / "run-id").read_text().strip()
    assert (first.artifacts / ".paddlectl" / "runs" / run_id / "manifest.yaml").is_file()
    (version,) = _registry(state, "list", "digits")
    assert (version["version"], version["status"], version["run_id"]) == ("0.1.1", "staging", run_id)
    assert version["git_dirty"] is False  # reports/ is made after the run: the runner's clone stayed clean


def test_after_promotion_the_next_run_passes_against_production(second: Pipeline) -> None:
    assert second.job("train-and-gate").code == 0, second.job("train-and-gate").output[-3000:]
    assert second.job("register").code is None  # not the default branch
    suite = _junit(second).find("testsuite")
    assert suite is not None and suite.attrib["failures"] == "0" and suite.attrib["skipped"] == "0"
    names = [case.attrib["name"] for case in suite.iter("testcase")]
    assert names == ["candidate and baseline are comparable", "val_acc max drop 1% (higher is better)", "val_acc>=0.9"]
    assert second.artifacts is not None
    assert "against digits@0.1.1" in (second.artifacts / "reports" / "gate.md").read_text()


def test_a_broken_learning_rate_fails_the_gate_with_a_report_naming_the_metric(
    runner: Runner, origin: Path, second: Pipeline
) -> None:
    _git(origin, "checkout", "-q", "feature")
    config = origin / "paddlectl.yaml"
    config.write_text(re.sub(r"(?m)^(    lr: ).*$", r"\g<1>5", config.read_text()))
    _git(origin, "commit", "-qam", "a learning rate that breaks training")
    _git(origin, "checkout", "-q", "main")
    third = runner.gitlab(3, branch="feature")
    job = third.job("train-and-gate")
    assert job.code == 1, job.output[-3000:]
    assert "gate failed against digits@0.1.1" in job.output
    suite = _junit(third).find("testsuite")
    assert suite is not None and suite.attrib["failures"] == "2"
    failed = {case.attrib["name"]: case.find("failure") for case in suite.iter("testcase")}
    failure = failed["val_acc max drop 1% (higher is better)"]
    assert failure is not None and "val_acc" in str(failure.text) and "beyond the limit" in failure.attrib["message"]
    assert re.search(r"actual 0\.\d+ baseline 0\.9\d+ limit 0\.9\d+", str(failure.text))


def test_a_run_on_another_dataset_is_not_comparable(second: Pipeline, state: dict[str, str]) -> None:
    workspace = second.job("train-and-gate").workspace
    assert workspace is not None
    with np.load(workspace / "digits.npz") as data:
        np.savez(workspace / "digits-v2.npz", images=data["images"][::-1], labels=data["labels"][::-1])
    trained = run_cli("train", "train.py", "--profile", "ci", "-p", "dataset=digits-v2", "--quiet", cwd=workspace)
    assert trained.returncode == 0, trained.stderr[-3000:]
    gate = run_cli(
        "runs",
        "gate",
        trained.stdout.strip(),
        "--baseline",
        "registry:digits@production",
        *GATE_OPTIONS,
        "--json",
        cwd=workspace,
        env=state,
    )
    report = json.loads(gate.stdout)
    assert gate.returncode == 7 and report["verdict"] == "incomparable", gate.stderr
    assert [d["key"] for d in report["differences"]] == ["dataset"]
    assert report["differences"][0]["candidate"] == "digits-v2" and report["differences"][0]["baseline"] == "digits"


def test_repeats_gate_the_mean_of_reseeded_runs(second: Pipeline, state: dict[str, str]) -> None:
    workspace = second.job("train-and-gate").workspace
    assert workspace is not None
    run_id = (workspace / "reports" / "run-id").read_text().strip()
    gate = run_cli(
        "runs",
        "gate",
        run_id,
        "--baseline",
        "registry:digits@production",
        "--metric",
        "val_acc:max-drop=5%",
        "--repeats",
        "2",
        "--no-record",
        "--json",
        cwd=workspace,
        env=state,
    )
    assert gate.returncode == 0, gate.stderr[-3000:]
    report = json.loads(gate.stdout)
    (repeat,) = report["repeats"]
    manifest = yaml.safe_load((workspace / ".paddlectl" / "runs" / repeat / "manifest.yaml").read_text())
    assert manifest["params"]["values"]["seed"] == 43 and manifest["reproduces"] == run_id
    assert manifest["profile"]["name"] == "ci"
    (noise,) = report["noise"]
    assert noise["source"] == "repeats" and noise["runs"] == [run_id, repeat]
    metric = next(check for check in report["checks"] if check["kind"] == "metric")
    assert metric["actual"] == pytest.approx(sum(noise["values"]) / 2) and "mean of 2 runs" in metric["message"]


def test_the_github_workflow_reports_to_the_step_summary(
    origin: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("github-state")
    runner = Runner(
        origin,
        root / "runner",
        {"PADDLECTL_REGISTRY": str(root / "registry"), "PADDLECTL_GATE_HISTORY": str(root / "history.jsonl")},
    )
    summary = root / "step-summary.md"
    pipeline = runner.github(1, summary)
    assert [job.code for job in pipeline.jobs.values()] == [0, 0], pipeline.job("train-and-gate").output[-3000:]
    workspace = pipeline.job("train-and-gate").workspace
    assert workspace is not None and validate((workspace / "reports" / "gate.xml").read_text(), SCHEMA) == []
    assert summary.read_text().startswith("### paddlectl gate: passed")
    assert summary.read_text() == (workspace / "reports" / "gate.md").read_text()
