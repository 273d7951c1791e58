"""Where a `registry.backend: mlflow` registry lives: the server, the experiment for package runs, two aliases.

```yaml
registry:
  backend: mlflow
  mlflow:
    uri: http://mlflow.internal:5000   # default: MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, then mlflow.tracking_uri
    experiment: paddlectl-registry     # the runs whose artifacts are the packages
    aliases: {production: champion, staging: challenger}   # default: production, staging
```

The environment wins over the files (as for `mlflow push`: it is how a machine or a CI job points at its own
server). Alias names MLflow reserves (`latest`, `v<N>`) or refuses are a one-line error here, before any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from paddlectl.errors import UsageError
from paddlectl.foundation.secrets import mask_url_credentials
from paddlectl.foundation.urls import http_server_url
from paddlectl.project.schema import RegistryAliases, RegistryConfig, RegistryMlflowConfig

URI_ENV = ("MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI")
DEFAULT_EXPERIMENT = "paddlectl-registry"
URI_SOURCES = "MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, registry.mlflow.uri or mlflow.tracking_uri in paddlectl.yaml"
URI_HINT = "set MLFLOW_TRACKING_URI=http://HOST:5000, or registry.mlflow.uri (or mlflow.tracking_uri) in paddlectl.yaml"


@dataclass(frozen=True)
class MlflowSettings:
    """The MLflow Model Registry a `backend: mlflow` registry lives in."""

    uri: str  # may hold credentials: show display_uri
    experiment: str = DEFAULT_EXPERIMENT
    production_alias: str = "production"
    staging_alias: str = "staging"

    @property
    def display_uri(self) -> str:
        return mask_url_credentials(self.uri)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_alias(alias: str, status: str) -> str:
    """`alias` when MLflow accepts it as an alias name; UsageError (one line) when MLflow would refuse it."""
    from paddlectl.mlflowapi.model_registry import reserved_alias

    problem = reserved_alias(alias)
    if problem is not None:
        example = "champion" if status == "production" else "challenger"
        raise UsageError(
            f"registry.mlflow.aliases.{status}: {problem}",
            hint=f"choose another alias name for {status}, e.g. {status} or {example}",
        )
    return alias


def _sections(configs: list[RegistryConfig]) -> list[RegistryMlflowConfig]:
    return [config.mlflow for config in configs if isinstance(config.mlflow, RegistryMlflowConfig)]


def server_uri(
    configs: list[RegistryConfig], project_tracking_uri: str | None, environ: Mapping[str, str]
) -> str | None:
    """The MLflow server's address as written (not checked): MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, then
    `registry.mlflow.uri` of the layered sections (user config first), then the project's `mlflow.tracking_uri`."""
    uri = None
    for section in _sections(configs):
        uri = _text(section.uri) or uri
    from_env = next((environ[name].strip() for name in URI_ENV if (environ.get(name) or "").strip()), None)
    return from_env or uri or _text(project_tracking_uri)


def mlflow_settings(
    configs: list[RegistryConfig], project_tracking_uri: str | None, environ: Mapping[str, str]
) -> MlflowSettings:
    """The layered `registry.mlflow` sections (user config first) with the environment over them.

    Raises UsageError without a server address, for one that is not http(s)://, or for an alias MLflow refuses.
    """
    experiment = production = staging = None
    for section in _sections(configs):
        experiment = _text(section.experiment) or experiment
        if isinstance(section.aliases, RegistryAliases):
            production = _text(section.aliases.production) or production
            staging = _text(section.aliases.staging) or staging
    uri = server_uri(configs, project_tracking_uri, environ)
    if not uri:
        raise UsageError("registry.backend is mlflow, but no MLflow server is set", hint=URI_HINT)
    http_server_url(
        uri,
        "the registry's MLflow URI",
        hint="the registry talks to an MLflow tracking server (mlflow server ...): give its http(s):// address",
    )
    production = check_alias(production or "production", "production")
    staging = check_alias(staging or "staging", "staging")
    if production == staging:
        raise UsageError(
            f"registry.mlflow.aliases: production and staging are both {production!r}",
            hint="an alias points to one version: give the two statuses different aliases",
        )
    return MlflowSettings(uri.rstrip("/"), experiment or DEFAULT_EXPERIMENT, production, staging)
