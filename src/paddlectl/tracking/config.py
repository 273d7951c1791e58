"""The `mlflow:` section of paddlectl.yaml, and where a push or a live run goes (server URI and experiment).

    mlflow:
      tracking_uri: http://mlflow.internal:5000   # or MLFLOW_TRACKING_URI; --tracking-uri wins over both
      experiment: digits                          # default: the project's name
      live: true                                  # every `paddlectl train` mirrors its run live (--no-mlflow: not)

Precedence: a command-line option, then the environment (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME), then
paddlectl.yaml: an environment variable is how a machine or a CI job points at its own server.
`MlflowConfig` is a msgspec Struct so that the project's config schema can hold it as its `mlflow` field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from paddlectl.errors import UsageError
from paddlectl.foundation.secrets import mask_url_credentials
from paddlectl.foundation.urls import http_server_url
from paddlectl.foundation.yamlio import load_config_yaml
from paddlectl.project.schema import MlflowConfig

SECTION = "mlflow"
URI_HINT = (
    "set MLFLOW_TRACKING_URI=http://HOST:5000 or add 'mlflow: {tracking_uri: ...}' to paddlectl.yaml "
    "(mlflow push also takes --tracking-uri)"
)


def parse_mlflow_section(raw: Any, source: str = "paddlectl.yaml") -> MlflowConfig:
    """Check the raw `mlflow:` mapping (None when absent); a wrong key or type is a UsageError naming it."""
    if raw is None:
        return MlflowConfig()
    try:
        return msgspec.convert(raw, MlflowConfig)
    except msgspec.ValidationError as exc:
        problem = str(exc).replace("$.", f"{SECTION}.").replace("`$`", f"`{SECTION}`")
        raise UsageError(
            f"{source}: {SECTION}: {problem}",
            hint="mlflow: takes tracking_uri (text), experiment (text) and live (true/false)",
        ) from exc


def read_mlflow_config(config_path: Path | None) -> MlflowConfig:
    """The `mlflow:` section of the project's paddlectl.yaml (defaults when there is no file or no section)."""
    if config_path is None or not config_path.is_file():
        return MlflowConfig()
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {config_path}: {exc}") from exc
    document = load_config_yaml(text, str(config_path))
    section = document.get(SECTION) if isinstance(document, dict) else None
    return parse_mlflow_section(section, config_path.name)


@dataclass(frozen=True)
class TrackingTarget:
    """A tracking server and an experiment on it."""

    uri: str
    experiment: str

    @property
    def display_uri(self) -> str:
        return mask_url_credentials(self.uri)


def resolve_target(
    config: MlflowConfig,
    *,
    project_name: str,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    environ: Mapping[str, str],
) -> TrackingTarget:
    """Where to push: options over the environment over paddlectl.yaml; raises UsageError without a usable URI."""
    uri = (tracking_uri or environ.get("MLFLOW_TRACKING_URI") or config.tracking_uri or "").strip()
    if not uri:
        raise UsageError("no MLflow tracking server is set", hint=URI_HINT)
    http_server_url(
        uri,
        "MLflow tracking URI",
        hint="paddlectl talks to an MLflow tracking server (mlflow server ...); give its http(s):// address",
    )
    name = (experiment or environ.get("MLFLOW_EXPERIMENT_NAME") or config.experiment or project_name).strip()
    if not name:
        raise UsageError("the MLflow experiment name is empty", hint="pass --experiment NAME")
    return TrackingTarget(uri=uri, experiment=name)
