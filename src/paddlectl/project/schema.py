"""The schema of paddlectl.yaml, as typed msgspec Structs: every key, its type and its default.

Unknown keys are errors (`forbid_unknown_fields`), so a typo such as `train: {gpu: all}` stops the command
instead of being ignored; project/validation.py words each error (file, YAML path, line, closest valid key).
A section or value left empty (`images:` with every line commented out, `model: null`) takes its default.
msgspec is imported here only, and this module only when a paddlectl.yaml is read, never for `paddlectl --help`.

Adding a section for a new feature (say `registry:`) is one Struct and one field:

    class Registry(Section):
        url: str | None = None
        timeout_seconds: int = 30

    class ConfigDocument(Section):
        ...
        registry: Registry = msgspec.field(default_factory=Registry)

and the feature reads `project.config.document.registry`. Give every field a default (every key is optional), use
`dict[str, SomeSection]` for named entries (`hosts: {gpu-box: {...}}`), and add the section to the template in
project/create.py and to README.md's table; tests/unit/project/test_config_schema.py checks that the template
validates.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from paddlectl.project.defaults import (
    DEFAULT_CPU_IMAGE,
    DEFAULT_DTYPE,
    DEFAULT_GPU_IMAGE,
    DEFAULT_GPUS,
    DEFAULT_SHM_SIZE,
)


class Section(msgspec.Struct, forbid_unknown_fields=True):
    """A mapping in paddlectl.yaml: a key it does not declare is an error."""


class Images(Section):
    cpu: str = DEFAULT_CPU_IMAGE  # pinned: a release tag or repo@sha256:...
    gpu: str = DEFAULT_GPU_IMAGE


class Train(Section):
    gpus: str | int = DEFAULT_GPUS  # none | all | 0,1 (YAML reads a lone `0` as a number)
    shm_size: str | int = DEFAULT_SHM_SIZE
    params: dict[str, Any] = msgspec.field(default_factory=dict)  # scalars, checked by project/config.py


class ExportInput(Section):
    name: str
    shape: list[int | None]  # -1 or null for a dynamic dimension
    dtype: str = DEFAULT_DTYPE


class Export(Section):
    model: str | None = None  # module:callable, importable from the project root
    model_args: dict[str, Any] = msgspec.field(default_factory=dict)
    weights: str | None = None  # relative to the run's outputs/
    inputs: list[ExportInput] = msgspec.field(default_factory=list)


# The sections later features read (registry/, tracking/): declared here, so that the whole file is checked in one
# place; each domain reads its own section (registry/settings.py also layers the user config over it).


class ColdConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    endpoint: str | UnsetType = UNSET
    bucket: str | UnsetType = UNSET
    prefix: str | UnsetType = UNSET
    region: str | UnsetType = UNSET


class RegistryAliases(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The MLflow aliases that carry two statuses (say `champion` and `challenger`)."""

    production: str | UnsetType = UNSET
    staging: str | UnsetType = UNSET


class RegistryMlflowConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """`registry.mlflow`: the MLflow Model Registry as the registry's backend (`registry.backend: mlflow`)."""

    uri: str | UnsetType = UNSET  # default: MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, then mlflow.tracking_uri
    experiment: str | UnsetType = UNSET  # where the runs holding the package artifacts live
    aliases: RegistryAliases | UnsetType = UNSET


class RegistryConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Every key optional; UNSET means "not set in this file", so two files can be layered (settings.py)."""

    path: str | UnsetType = UNSET
    backend: Literal["local", "mlflow"] | UnsetType = UNSET
    require_signature: bool | UnsetType = UNSET
    trusted_keys: list[str] | UnsetType = UNSET
    cold: ColdConfig | UnsetType = UNSET
    mlflow: RegistryMlflowConfig | UnsetType = UNSET


class MlflowConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """paddlectl.yaml's `mlflow:` section; every field optional."""

    tracking_uri: str | None = None
    experiment: str | None = None
    live: bool = False


class Profile(Section):
    """A named set of train settings (`train --profile ci`): params over train.params, and the GPUs."""

    params: dict[str, Any] = msgspec.field(default_factory=dict)  # scalars, typed as train.params are
    gpus: str | int | None = None  # default: train.gpus


class Gate(Section):
    """What `runs gate` holds equal between a candidate and its baseline besides data, profile and image."""

    evaluation_params: list[str] = msgspec.field(default_factory=list)  # params that define the evaluation


class Host(Section):
    """A Docker engine on another machine (`train --host NAME`); engine/hosts.py reads it."""

    url: str  # ssh://user@host[:port] or tcp://host:2376 (TLS)
    tls: str | None = None  # tcp:// only: folder with ca.pem, cert.pem, key.pem (relative to the project)
    gpus: str | int | None = None  # the --gpus runs there get by default (none | all | 0,1)


class ConfigDocument(Section):
    """The whole file."""

    project: str | int | None = None  # default: the folder's name
    images: Images = msgspec.field(default_factory=Images)
    train: Train = msgspec.field(default_factory=Train)
    profiles: dict[str, Profile] = msgspec.field(default_factory=dict)
    export: Export = msgspec.field(default_factory=Export)
    registry: RegistryConfig = msgspec.field(default_factory=RegistryConfig)
    mlflow: MlflowConfig = msgspec.field(default_factory=MlflowConfig)
    gate: Gate = msgspec.field(default_factory=Gate)
    hosts: dict[str, Host] = msgspec.field(default_factory=dict)
