"""`paddlectl init`: a commented paddlectl.yaml and the .paddlectl/ run store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import write_atomic
from paddlectl.project.defaults import CONFIG_NAME, DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, STORE_NAME

CONFIG_TEMPLATE = """\
# paddlectl project configuration. Documented in README.md ("paddlectl.yaml"); an unknown key is an error.
project: {name}

# Pinned images: a tag that never moves (or repo@sha256:...). `latest`, `*-dev` and `latest-*` are refused.
images:
  cpu: {cpu_image}
  gpu: {gpu_image}

train:
  gpus: none          # none | all | a device list such as 0,1
  shm_size: 2g        # /dev/shm for DataLoader workers (Docker's 64m default breaks them)
  # Defaults passed to the script as --NAME VALUE (so it must accept each), overridden by --params-file and
  # then by -p key=value; e.g. {{epochs: 10, lr: 0.001, batch_size: 64}}. None until you name them.
  params: {{}}

# Named sets of train settings: `paddlectl train train.py --profile ci` lays a profile's params over
# train.params (and -p over both) and records which profile and the values it set.
profiles: {{}}         # e.g. ci: {{params: {{epochs: 1, data_limit: 500}}, gpus: all}}

# What `paddlectl export` builds: a factory returning a paddle.nn.Layer, and the inputs it takes.
export:
  model: null         # e.g. model:build_model (module importable from the project root, then a callable)
  model_args: {{}}      # keyword arguments for the factory
  weights: null       # the .pdparams in the run's output directory; default: the only one there
  inputs: []          # e.g. - {{name: x, dtype: float32, shape: [-1, 3, 224, 224]}}

# The model registry (paddlectl registry ...): path, backend (local, or mlflow: a team's MLflow Model Registry),
# require_signature, trusted_keys, cold (S3-compatible storage for old versions) and mlflow (the server, for
# backend: mlflow); README.md "Releasing a model" shows each. Empty: the defaults.
registry: {{}}

# MLflow (paddlectl mlflow push, train --mlflow): README.md "Using MLflow".
mlflow:
  tracking_uri: null  # the server; MLFLOW_TRACKING_URI and --tracking-uri win
  experiment: null    # default: the project's name
  live: false         # mirror every train live on the server

# `paddlectl runs gate`: params that define what the metrics measure (a validation split, an image size).
# A candidate and a baseline that differ in one of them are not comparable (exit 7); the dataset, the profile
# and the image are compared anyway.
gate:
  evaluation_params: []

# Docker engines on other machines, for `paddlectl train --host NAME` (README: "Training on another machine").
hosts: {{}}
#  gpu-box:
#    url: ssh://me@gpu-box.example.org   # port, user and keys also come from ~/.ssh/config
#    gpus: all                           # the default --gpus of runs there
#  tls-box:
#    url: tcp://tls-box.example.org:2376
#    tls: ~/.docker/tls-box              # ca.pem, cert.pem, key.pem
"""

STORE_GITIGNORE = "# paddlectl's run store: runs are recorded here, never committed.\n*\n"
# Where paddlectl writes by default inside a project (package, export without a run, plots): git-ignored, so that a
# release archive left there never makes the next run dirty nor lands in its patch.
OUTPUT_FOLDERS = ("/dist/", "/export/", "/plots/", "/reports/")
OUTPUTS_GITIGNORE_HEADER = "# paddlectl's default output folders (package, export, plots, gate reports)"


@dataclass(frozen=True)
class InitResult:
    config_path: Path
    store_path: Path
    overwrote: bool


def init_project(root: Path, *, force: bool, cpu_image: str | None = None, gpu_image: str | None = None) -> InitResult:
    """Write paddlectl.yaml and .paddlectl/.gitignore under `root`; refuse to overwrite a config without force."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder", hint="give a project folder (it is created when missing)")
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_NAME
    existed = config_path.exists()
    if existed and not force:
        raise UsageError(f"{config_path} already exists", hint="pass --force to overwrite it")
    from paddlectl.foundation.image_ref import PinnedImage

    for image in (cpu_image, gpu_image):
        if image is not None:
            PinnedImage.parse(image)
    store = root / STORE_NAME
    store.mkdir(exist_ok=True)
    (store / "runs").mkdir(exist_ok=True)
    write_atomic(store / ".gitignore", STORE_GITIGNORE)
    text = CONFIG_TEMPLATE.format(
        name=root.resolve().name or "project",
        cpu_image=cpu_image or DEFAULT_CPU_IMAGE,
        gpu_image=gpu_image or DEFAULT_GPU_IMAGE,
    )
    write_atomic(config_path, text)
    ignore_outputs(root)
    return InitResult(config_path=config_path, store_path=store, overwrote=existed)


def ignore_outputs(root: Path) -> None:
    """Add the default output folders to the project's .gitignore (created when missing; lines already there stay)."""
    path = root / ".gitignore"
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [folder for folder in OUTPUT_FOLDERS if folder not in present and folder.strip("/") not in present]
    if not missing:
        return
    separator = "" if not existing or existing.endswith("\n") else "\n"
    block = "\n".join([OUTPUTS_GITIGNORE_HEADER, *missing]) + "\n"
    write_atomic(path, existing + separator + ("\n" if existing else "") + block)
