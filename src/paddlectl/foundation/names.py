"""What paddlectl calls things outside Python: container labels, paths inside containers, files in the store.

Every container paddlectl creates carries labels from this one namespace (`io.paddlectl.*`), so `runs gc` and the
reapers can find each kind once its owner is gone. Paths here are *container* paths unless a name says `HOST`.
"""

from __future__ import annotations

# ---- labels ----------------------------------------------------------------------------------------------------
LABEL_PREFIX = "io.paddlectl."
RUN_LABEL = "io.paddlectl.run"  # the run a container belongs to (train, reproduce)
PROJECT_LABEL = "io.paddlectl.project"  # the project's name
ROOT_LABEL = "io.paddlectl.root"  # the project's folder on the host
PROBE_LABEL = "io.paddlectl.probe"  # "1" on runtime-probe containers

# ---- paths inside containers -------------------------------------------------------------------------------------
WORKDIR = "/workspace"  # the project's code
OUTPUT_DIR = "/paddlectl/outputs"  # the run's outputs/ (PADDLECTL_OUTPUT_DIR)
RUN_DIR = "/paddlectl/run"  # the run's container/ folder: helper metrics, worker logs
LIB_DIR = "/paddlectl/lib"  # paddlectl's in-container helpers (paddlectl_metrics, probes, export)
HOME_DIR = "/tmp"  # noqa: S108 - in the container: it exists and any uid may write it
