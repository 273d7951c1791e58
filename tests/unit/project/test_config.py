"""paddlectl.yaml: parsing, one-line errors for wrong shapes and bad YAML, and no code execution from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from paddlectl.errors import ExitCode, UsageError
from paddlectl.project.config import (
    DEFAULT_CPU_IMAGE,
    DEFAULT_GPU_IMAGE,
    InputSpec,
    load_config,
    parse_config,
)
from paddlectl.project.workspace import open_project

SECTIONS = (
    "project, images, train, profiles, export, registry, mlflow, gate, hosts"  # what the error lists, in schema order
)

FULL = """\
project: digits
images:
  cpu: registry:5000/paddle:3.2.0
  gpu: paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5
train:
  gpus: "0,1"
  shm_size: 4g
  params: {epochs: 3, lr: 0.01}
export:
  model: model:build_model
  model_args: {classes: 10}
  weights: model.pdparams
  inputs:
    - {name: x, dtype: float32, shape: [-1, 1, 28, 28]}
    - {name: mask, shape: [null, 4]}
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "paddlectl.yaml"
    path.write_text(text)
    return path


def test_a_full_config_is_read_field_by_field(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.name == "digits"
    assert (config.cpu_image, config.gpu_image) == ("registry:5000/paddle:3.2.0", DEFAULT_GPU_IMAGE)
    assert (config.gpus, config.shm_size) == ("0,1", "4g")
    assert config.params == {"epochs": 3, "lr": 0.01}
    assert config.image_for("none") == config.cpu_image
    assert config.image_for("all") == config.gpu_image
    assert config.export.model == "model:build_model"
    assert config.export.model_args == {"classes": 10}
    assert config.export.weights == "model.pdparams"
    assert config.export.inputs == (
        InputSpec("x", "float32", (-1, 1, 28, 28)),
        InputSpec("mask", "float32", (-1, 4)),
    )


def test_an_empty_config_takes_the_defaults_and_the_folder_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.name == tmp_path.name
    assert (config.cpu_image, config.gpu_image, config.gpus) == (DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, "none")


def test_no_config_at_all_means_defaults(tmp_path: Path) -> None:
    project = open_project(tmp_path)
    assert not project.has_config
    assert project.config.cpu_image == DEFAULT_CPU_IMAGE


def test_the_project_root_is_found_from_a_subfolder(tmp_path: Path) -> None:
    write(tmp_path, "project: up-there\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    project = open_project(nested)
    assert project.root == tmp_path.resolve()
    assert project.config.name == "up-there"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (
            ["a", "list"],
            f"paddlectl.yaml must be a mapping of sections ({SECTIONS}), not a list",
        ),
        (
            "just a string",
            f"paddlectl.yaml must be a mapping of sections ({SECTIONS}), not a string",
        ),
        ({"images": ["a:1"]}, "paddlectl.yaml: images must be a mapping, not a list"),
        ({"train": {"params": [1, 2]}}, "train.params must be a mapping"),
        ({"export": {"inputs": {"name": "x"}}}, "export.inputs must be a list"),
        ({"export": {"inputs": [{"name": "x"}]}}, "export.inputs[0] has no 'shape'"),
        ({"export": {"inputs": [{"name": "x", "shape": ["wide"]}]}}, "export.inputs[0].shape[0] must be an integer"),
        ({"train": {"gpu": "all"}}, "paddlectl.yaml: unknown key 'train.gpu'; did you mean 'gpus'?"),
    ],
)
def test_wrong_shapes_are_one_line_usage_errors(document: object, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_config(document, Path("/p/paddlectl.yaml"))
    assert says in caught.value.message
    assert "\n" not in caught.value.message


def test_bad_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "project: x\nimages:\n  cpu: [unclosed\n")
    with pytest.raises(UsageError) as caught:
        load_config(path)
    message = caught.value.message
    assert str(path) in message
    assert "not valid YAML (line" in message
    assert "\n" not in message
    assert caught.value.hint == f"fix {path}"


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "{{images: !!python/object/apply:subprocess.check_call [['touch', '{marker}']]}}",
    ],
)
def test_python_object_tags_are_rejected_and_never_run(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "PWNED"
    path = write(tmp_path, payload.format(marker=marker) + "\n")
    with pytest.raises(UsageError) as caught:
        load_config(path)
    assert "not valid YAML" in caught.value.message
    assert "\n" not in caught.value.message
    assert not marker.exists()


def test_a_yaml_payload_through_the_cli_is_one_line_and_exit_2(project_dir: Path) -> None:
    marker = project_dir / "PWNED"
    write(project_dir, f"project: x\nimages: !!python/object/apply:os.system ['touch {marker}']\n")
    result = run_cli("doctor", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "paddlectl.yaml is not valid YAML" in lines[0]
    assert lines[1:] == [f"hint: fix {project_dir / 'paddlectl.yaml'}"]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not marker.exists()
