"""What paddlectl calls things outside Python: container labels, paths inside containers, files in the store.

Every container paddlectl creates carries labels from this one namespace (`io.paddlectl.*`), so `runs gc` and the
reapers can find each kind once its owner is gone. Paths here are *container* paths unless a name says `HOST`.
"""

from __future__ import annotations

from pathlib import Path

# ---- labels ----------------------------------------------------------------------------------------------------
LABEL_PREFIX = "io.paddlectl."
KIND_LABEL = "io.paddlectl.kind"  # what a container (or build stage) is: one of the KIND_* values below
RUN_LABEL = "io.paddlectl.run"  # the run a container *is* (only on a run's own container: train, reproduce)
FOR_RUN_LABEL = "io.paddlectl.for-run"  # the run a one-shot container works for (export of a run, its probe)
PROJECT_LABEL = "io.paddlectl.project"  # the project's name
ROOT_LABEL = "io.paddlectl.root"  # the project's folder on the host
OWNER_LABEL = "io.paddlectl.owner"  # host:pid of the CLI that removes a one-shot container when it is done
PROBE_LABEL = "io.paddlectl.probe"  # "1" on runtime-probe containers (kept for probes made before kinds)
STAGE_LABEL = "io.paddlectl.stage"  # on every stage of the image Dockerfiles (with PROJECT_LABEL)
# host:path of the run store that records a run, on a run's container and its probe: projects share names (every copy
# of an example is `digits`) and engines (a remote one, many clients), and `runs gc` judges only its own store's.
STORE_LABEL = "io.paddlectl.store"

KIND_RUN = "run"
KIND_PROBE = "probe"  # the runtime probe (Paddle, CUDA, GPUs) of a run's image
KIND_EXPORT = "export"
KIND_IMAGE_PROBE = "image-probe"  # the platform probe before an image build
KIND_DEV = "dev"  # `paddlectl dev`: long-lived, stopped by `paddlectl dev --stop`
KIND_BUILD = "build"  # (images only, by STAGE_LABEL) the stages of `paddlectl image build`
ONE_SHOT_KINDS = (KIND_PROBE, KIND_EXPORT, KIND_IMAGE_PROBE)

# ---- what in-container probes print before their one line of JSON -------------------------------------------------
RUNTIME_PROBE_MARK = "PADDLECTL_RUNTIME "  # incontainer/probe_runtime.py: Paddle, CUDA, GPUs (runs/runtime_probe.py)
PLATFORM_PROBE_MARK = "PADDLECTL_PLATFORM "  # images/platform_probe.py: Python, machine, glibc for the wheelhouse

# ---- files in a run's folder (.paddlectl/runs/<id>/; runs/store.py's RunPaths builds the paths) ------------------
MANIFEST_NAME = "manifest.yaml"
LOG_NAME = "output.log"
METRICS_NAME = "metrics.jsonl"
PATCH_NAME = "uncommitted.patch"
OUTPUTS_DIR_NAME = "outputs"  # mounted writable in the container as PADDLECTL_OUTPUT_DIR
CONTAINER_DIR_NAME = "container"  # helper metrics and worker logs written from inside the container
STOP_REQUEST_NAME = "stop-requested"
EXPORT_DIR_NAME = "export"  # a run's export: its static graph and export.yaml
EXPORT_RECORD_NAME = "export.yaml"

# ---- files in a project's store (.paddlectl/) --------------------------------------------------------------------
NAMES_LOCK_NAME = "names.lock"  # held while a named run's first manifest is written: names stay unique
BUILD_LOCK_NAME = "build.lock"  # held (flock) by `paddlectl image build`: gc leaves build stages alone meanwhile

# ---- paths inside containers -------------------------------------------------------------------------------------
WORKDIR = "/workspace"  # the project's code
OUTPUT_DIR = "/paddlectl/outputs"  # the run's outputs/ (PADDLECTL_OUTPUT_DIR)
RUN_DIR = "/paddlectl/run"  # the run's container/ folder: helper metrics, worker logs
LIB_DIR = "/paddlectl/lib"  # paddlectl's in-container helpers (paddlectl_metrics, probes, export)
HOME_DIR = "/tmp"  # noqa: S108 - in the container: it exists and any uid may write it
PRIVATE_DIR = "/paddlectl/private"  # the run's private files (runs/private_files.py), mounted read-only
PARAMS_FILE = f"{PRIVATE_DIR}/params.json"  # PADDLECTL_PARAMS_FILE


def owner_value() -> str:
    """This process as an OWNER_LABEL value: `host:pid`."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def store_value(store: Path) -> str:
    """The STORE_LABEL value for runs recorded in `store` (a project's .paddlectl/): `host:resolved path`."""
    import socket

    return f"{socket.gethostname()}:{store.resolve()}"


def parse_owner(value: str | None) -> tuple[str, int] | None:
    """(host, pid) from an OWNER_LABEL value, or None when it is missing or malformed."""
    host, sep, pid = (value or "").rpartition(":")
    return (host, int(pid)) if sep and host and pid.isdigit() else None
