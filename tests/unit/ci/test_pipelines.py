"""`paddlectl ci init`: the GitLab and GitHub files read back as YAML with the jobs' lines, and no secret in them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, run_cli
from paddlectl.ci.pipelines import PipelineSettings, init_pipeline, jobs, render
from paddlectl.errors import UsageError
from paddlectl.project.workspace import open_project

SETTINGS = PipelineSettings(
    provider="gitlab",
    model="digits",
    script="train.py",
    profile="ci",
    metrics=["val_acc:max-drop=1%", "loss:lower,max-rise=0.02"],
    require=["val_acc>=0.9"],
    cpu_image="paddlectl-test/paddle:3.2.0-cpu",
)


def _github(settings: PipelineSettings) -> PipelineSettings:
    return PipelineSettings(**{**settings.__dict__, "provider": "github"})


def _run_lines(steps: list[dict[str, Any]]) -> list[str]:
    return [line for step in steps if "run" in step for line in step["run"].splitlines()]


def test_gitlab_jobs_read_back_as_the_lines_a_runner_runs() -> None:
    document = yaml.safe_load(render(SETTINGS))
    lines = {job.name: job.lines for job in jobs(SETTINGS)}
    assert document["stages"] == ["test", "train", "release"]
    for name in ("unit-tests", "train-and-gate", "register"):
        assert document[name]["script"] == lines[name]
    train = document["train-and-gate"]
    assert train["tags"] == ["gpu"] and document["unit-tests"]["image"] == "paddlectl-test/paddle:3.2.0-cpu"
    assert train["artifacts"]["reports"]["junit"] == "reports/gate.xml"
    assert train["artifacts"]["when"] == "always" and train["artifacts"]["paths"] == [".paddlectl/", "reports/"]
    gate = next(line for line in lines["train-and-gate"] if line.startswith("paddlectl runs gate"))
    assert "--baseline registry:digits@production" in gate and "--junit reports/gate.xml" in gate
    assert "--metric loss:lower,max-rise=0.02" in gate and "--require 'val_acc>=0.9'" in gate
    assert "paddlectl train train.py --profile ci --quiet" in "\n".join(lines["train-and-gate"])
    register = document["register"]
    assert register["needs"] == ["train-and-gate"] and register["rules"][0]["if"].startswith("$CI_COMMIT_BRANCH")
    assert "--status staging" in register["script"][-1]


def test_github_steps_read_back_with_self_hosted_gpu_runners() -> None:
    settings = _github(SETTINGS)
    document = yaml.safe_load(render(settings))
    lines = {job.name: job.lines for job in jobs(settings)}
    workflow = document["jobs"]
    assert workflow["train-and-gate"]["runs-on"] == ["self-hosted", "gpu"]
    assert workflow["unit-tests"]["container"] == "paddlectl-test/paddle:3.2.0-cpu"
    assert _run_lines(workflow["unit-tests"]["steps"]) == lines["unit-tests"]
    assert _run_lines(workflow["train-and-gate"]["steps"]) == lines["train-and-gate"]
    assert _run_lines(workflow["register"]["steps"])[-3:] == lines["register"]
    report = next(step for step in workflow["train-and-gate"]["steps"] if "junit" in step.get("uses", ""))
    assert report["if"] == "always()" and report["with"]["report_paths"] == "reports/gate.xml"
    upload = next(step for step in workflow["train-and-gate"]["steps"] if "upload-artifact" in step.get("uses", ""))
    assert upload["with"]["include-hidden-files"] is True and ".paddlectl/" in upload["with"]["path"]
    signing = next(step for step in workflow["register"]["steps"] if "env" in step)
    assert signing["env"]["SIGNING_KEY"] == "${{ secrets.PADDLECTL_SIGNING_KEY }}"


@pytest.mark.parametrize("provider", ["gitlab", "github"])
def test_no_secret_is_written_and_the_runner_set_up_is_in_the_comments(provider: str) -> None:
    text = render(PipelineSettings(**{**SETTINGS.__dict__, "provider": provider}))
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "nvidia-container-toolkit" in comments and "nvidia-ctk runtime configure --runtime=docker" in comments
    assert "PADDLECTL_SIGNING_KEY" in comments and "never in this file" in comments
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    # a secret is only ever referenced: a variable of the runner, or GitHub's secrets context
    assert re.findall(r"secrets\.\w+", body) == (["secrets.PADDLECTL_SIGNING_KEY"] if provider == "github" else [])
    assert not re.search(r"(?i)(password|token|secret_access)\w*\s*[:=]", body)
    assigned = re.findall(r"PADDLECTL_SIGNING_KEY=(\S+)", body)
    assert assigned == (['"$RUNNER_TEMP/signing.key"'] if provider == "github" else [])


def test_a_project_in_a_subfolder_enters_it(tmp_path: Path) -> None:
    settings = PipelineSettings(**{**SETTINGS.__dict__, "project_dir": "examples/digits"})
    document = yaml.safe_load(render(settings))
    assert document["train-and-gate"]["script"][0] == "cd examples/digits"
    assert document["train-and-gate"]["artifacts"]["reports"]["junit"] == "examples/digits/reports/gate.xml"
    github = yaml.safe_load(render(_github(settings)))["jobs"]["train-and-gate"]
    assert github["defaults"]["run"]["working-directory"] == "examples/digits"
    assert "cd examples/digits" not in _run_lines(github["steps"])


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT / "examples" / "digits", root / "ml" / "digits", ignore=shutil.ignore_patterns(".paddlectl")
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root / "ml" / "digits"


def test_init_writes_at_the_repository_top_from_the_project(digits: Path) -> None:
    written = init_pipeline(open_project(digits), "gitlab", metrics=["val_acc:max-drop=1%"], require=[])
    assert written.path == digits.parent.parent.resolve() / ".gitlab-ci.yml" and not written.overwrote
    assert written.settings.project_dir == "ml/digits" and written.settings.cpu_image.endswith("3.2.0-cpu")
    with pytest.raises(UsageError, match="already exists"):
        init_pipeline(open_project(digits), "gitlab", metrics=["val_acc"], require=[])
    assert init_pipeline(open_project(digits), "gitlab", metrics=["val_acc"], require=[], force=True).overwrote


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"provider": "jenkins"}, "not one of gitlab, github"),
        ({"profile": "nightly"}, "no profile 'nightly'"),
        ({"script": "nosuch.py"}, "no training script nosuch.py"),
        ({"metrics": []}, "would check nothing"),
        ({"metrics": ["val_acc:max-drop=lots"]}, "cannot read max-drop"),
        ({"model": "Digits CNN"}, "Digits CNN"),
        ({"require": ["val_acc>>1"]}, "cannot read the condition"),
        ({"noise_from": -5}, "--noise-from -5: give a number of earlier gates"),
        ({"state_dir": "rel/dir"}, "give an absolute folder"),
        ({"state_dir": "/srv/a b;rm"}, "give an absolute folder"),
        ({"on_missing_baseline": "maybe"}, "not one of fail, warn, pass"),
    ],
)
def test_init_refuses_a_pipeline_that_could_not_work(digits: Path, options: dict[str, Any], says: str) -> None:
    arguments: dict[str, Any] = {"provider": "github", "metrics": ["val_acc:max-drop=1%"], "require": [], **options}
    provider = arguments.pop("provider")
    with pytest.raises(UsageError, match=says):
        init_pipeline(open_project(digits), provider, **arguments)
    assert not (digits.parent.parent / ".github").exists()


def test_init_without_export_model_needs_no_register(digits: Path) -> None:
    config = digits / "paddlectl.yaml"
    config.write_text(config.read_text().replace("model: model:build_model", "model: null"))
    with pytest.raises(UsageError, match=r"no export\.model"):
        init_pipeline(open_project(digits), "gitlab", metrics=["val_acc"], require=[])
    written = init_pipeline(open_project(digits), "gitlab", metrics=["val_acc"], require=[], register=False)
    assert "register" not in yaml.safe_load(written.path.read_text())


def test_the_command_prints_the_path_on_stdout(digits: Path) -> None:
    result = run_cli("ci", "init", "--provider", "github", "--metric", "val_acc:max-drop=1%", cwd=digits)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(digits.parent.parent.resolve() / ".github" / "workflows" / "paddlectl.yml")


def test_a_unit_test_image_built_here_only_is_warned_about() -> None:
    from paddlectl.ci.pipelines import unpullable_image_warning
    from paddlectl.engine.protocol import ImageInfo

    local = ImageInfo("sha256:" + "1" * 64, ("paddlectl-test/paddle:3.2.0-cpu",), (), 1, "")
    pulled = ImageInfo("sha256:" + "2" * 64, ("paddlepaddle/paddle:3.2.0",), ("paddlepaddle/paddle@sha256:ab",), 1, "")
    images = {"paddlectl-test/paddle:3.2.0-cpu": local, "paddlepaddle/paddle:3.2.0": pulled}
    warning = unpullable_image_warning("paddlectl-test/paddle:3.2.0-cpu", images.get)
    assert warning is not None and "a CI runner cannot pull it" in warning
    assert unpullable_image_warning("paddlepaddle/paddle:3.2.0", images.get) is None
    assert unpullable_image_warning("absent/image:1.0", images.get) is None  # not here: nothing to judge by
