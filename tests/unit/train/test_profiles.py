"""`train --profile NAME`: a profile's params over train.params, under the params file and -p; its gpus; the
manifest's record of it (and reproduce keeps the original's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.project.workspace import open_project
from paddlectl.runs.manifest import ProfileRecord
from paddlectl.runs.store import RunStore
from paddlectl.train.launch import train
from paddlectl.train.prepare import prepare
from paddlectl.train.reproduce import reproduce_request
from paddlectl.train.request import TrainRequest
from tests.fakes import FakeEngine, image_info
from tests.unit.train.test_train_logic import IMAGE, Events

CONFIG = f"""\
project: demo
images:
  cpu: {IMAGE}
  gpu: {IMAGE}
train:
  gpus: none
  params: {{epochs: 10, lr: 0.1, data_limit: 0}}
profiles:
  ci:
    params: {{epochs: 2, data_limit: 500, ver: 1.10, token: s3cret}}
    gpus: all
  cpu-sample:
    params: {{data_limit: 100}}
"""


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "paddlectl.yaml").write_text(CONFIG, encoding="utf-8")
    (project_dir / "train.py").write_text("print('hi')\n", encoding="utf-8")
    (project_dir / "p.yaml").write_text("epochs: 3\n", encoding="utf-8")
    return project_dir


def test_a_profile_sits_between_train_params_and_the_params_file(project: Path) -> None:
    prepared = prepare(TrainRequest(script="train.py", profile="ci"), open_project(project), project)
    assert prepared.params == {"epochs": 2, "lr": 0.1, "data_limit": 500, "ver": "1.10", "token": "s3cret"}
    assert prepared.param_sources == {
        "epochs": "profile:ci",
        "lr": "config",
        "data_limit": "profile:ci",
        "ver": "profile:ci",
        "token": "profile:ci",
    }
    over = prepare(
        TrainRequest(script="train.py", profile="ci", params_file=project / "p.yaml", params=["data_limit=7"]),
        open_project(project),
        project,
    )
    assert over.params["epochs"] == 3 and over.param_sources["epochs"] == f"file:{project / 'p.yaml'}"
    assert over.params["data_limit"] == 7 and over.param_sources["data_limit"] == "cli"


def test_gpus_come_from_the_command_line_then_the_profile_then_train(project: Path) -> None:
    config = open_project(project)
    assert prepare(TrainRequest(script="train.py", profile="ci"), config, project).gpus_text == "all"
    assert prepare(TrainRequest(script="train.py", profile="ci", gpus="none"), config, project).gpus_text == "none"
    assert prepare(TrainRequest(script="train.py", profile="cpu-sample"), config, project).gpus_text == "none"


def test_an_unknown_profile_names_the_ones_there_are(project: Path) -> None:
    with pytest.raises(UsageError) as caught:
        prepare(TrainRequest(script="train.py", profile="nightly"), open_project(project), project)
    assert "no profile 'nightly'" in caught.value.message and caught.value.hint == "its profiles are: ci, cpu-sample"


def test_a_nested_profile_param_is_located(project: Path) -> None:
    (project / "paddlectl.yaml").write_text(CONFIG.replace("data_limit: 100", "data_limit: [1, 2]"), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        open_project(project)
    assert "profiles.cpu-sample.params.data_limit must be a scalar" in caught.value.message
    assert "line 13" in caught.value.message


def test_the_manifest_records_the_profile_and_reproduce_keeps_it(project: Path) -> None:
    engine = FakeEngine(images={IMAGE: image_info(IMAGE)}, script=[b"done\n"])  # type: ignore[arg-type]
    prepared = prepare(TrainRequest(script="train.py", profile="cpu-sample"), open_project(project), project)
    manifest = train(prepared, open_project(project), lambda: engine, Events()).manifest
    stored = RunStore(open_project(project).runs_dir).read(manifest.id)
    assert stored.profile == ProfileRecord("cpu-sample", {"data_limit": 100}, None)
    assert reproduce_request(stored, []).fixed_profile == stored.profile
    again = prepare(reproduce_request(stored, []), open_project(project), project)
    assert again.profile == stored.profile and again.params["data_limit"] == 100


def test_secret_profile_params_are_masked_in_the_record(project: Path) -> None:
    prepared = prepare(TrainRequest(script="train.py", profile="ci"), open_project(project), project)
    assert prepared.profile is not None and prepared.profile.params["token"] == "****"
    assert prepared.profile.params["epochs"] == 2 and prepared.profile.gpus == "all"


def test_a_floating_configured_image_is_refused_naming_the_file_and_key(project: Path) -> None:
    config = project / "paddlectl.yaml"
    config.write_text(CONFIG.replace(f"gpu: {IMAGE}", "gpu: paddlepaddle/paddle:latest"), encoding="utf-8")
    with pytest.raises(UsageError, match=r"paddlectl\.yaml images\.gpu: image tag 'latest' floats"):
        prepare(TrainRequest(script="train.py", profile="ci"), open_project(project), project)  # ci: gpus all
    with pytest.raises(UsageError, match=r"^image tag 'latest' floats"):  # given on the command line: as it is
        prepare(TrainRequest(script="train.py", image="x/y:latest"), open_project(project), project)
