"""Where the registry is and what its policy says, from the environment, paddlectl.yaml and the user config.

Precedence, key by key: `PADDLECTL_REGISTRY` (path only) over the project's paddlectl.yaml over the user config
(`$XDG_CONFIG_HOME/paddlectl/config.yaml`, default ~/.config/paddlectl/config.yaml) over the defaults. One
exception: `require_signature` is on when *either* file turns it on, so a project cannot switch off the
requirement a user set for their registry, nor a user the one a project set. `trusted_keys` paths are relative to
the folder of the file that names them. The msgspec schema (config.py) is imported only when a file has a
`registry:` section, so the read-only commands stay quick.

`PADDLECTL_REGISTRY` names a local registry folder: set, it wins over `registry.backend: mlflow` too, so every
command (also the listings that read no file) agrees on which registry it is. With `backend: mlflow` the server
is, in this order, MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI (as for MLflow's own client), `registry.mlflow.uri`,
then the project's `mlflow.tracking_uri`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError

if TYPE_CHECKING:
    from paddlectl.registry.config import RegistryConfig
    from paddlectl.registry.mlflow_settings import MlflowSettings

REGISTRY_ENV = "PADDLECTL_REGISTRY"
BACKENDS = ("local", "mlflow")


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "paddlectl" / "config.yaml"


def default_registry_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paddlectl" / "registry"


@dataclass(frozen=True)
class ColdSettings:
    endpoint: str | None
    bucket: str
    prefix: str
    region: str | None


@dataclass(frozen=True)
class RegistrySettings:
    path: Path
    backend: str = "local"
    require_signature: bool = False
    trusted_keys: tuple[Path, ...] = ()
    cold: ColdSettings | None = None
    mlflow: MlflowSettings | None = None  # with backend "mlflow"


def _section(path: Path, key: str = "registry") -> Any:
    """The raw `registry:` (or `key`) mapping of a YAML file, None when the file or the section is absent."""
    if not path.is_file():
        return None
    from paddlectl.foundation.yamlio import load_config_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}", hint=f"fix {path}") from exc
    document = load_config_yaml(text, str(path))
    if document is None:
        return None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a mapping", hint=f"fix {path}")
    return document.get(key)


def _parsed(path: Path) -> RegistryConfig | None:
    raw = _section(path)
    if raw is None:
        return None
    from paddlectl.registry.config import parse_registry_section

    return parse_registry_section(raw, str(path))


def _keys(keys: list[str], base: Path) -> tuple[Path, ...]:
    return tuple(base / Path(key).expanduser() for key in keys)


def find_project_config(start: Path | None = None) -> Path | None:
    """The project's paddlectl.yaml (the project found as every command finds it), None outside a project."""
    from paddlectl.project.config import CONFIG_NAME
    from paddlectl.project.workspace import find_root

    try:
        config = find_root(start or Path.cwd()) / CONFIG_NAME
    except FileNotFoundError:
        return None
    return config if config.is_file() else None


def load_settings(project_config: Path | None = None, *, policy: bool = True) -> RegistrySettings:
    """The registry's settings; with policy=False and PADDLECTL_REGISTRY set, no file is read at all.

    Raises UsageError for an unreadable file, a wrongly typed key or an unknown backend.
    """
    env_path = os.environ.get(REGISTRY_ENV)
    if env_path and not policy:
        return RegistrySettings(path=Path(env_path).expanduser())
    layers: list[tuple[RegistryConfig, Path]] = []
    project = project_config or find_project_config()
    for file in (user_config_path(), project):
        if file is not None:
            parsed = _parsed(file)
            if parsed is not None:
                layers.append((parsed, file.parent))
    path: Path = Path(env_path).expanduser() if env_path else default_registry_dir()
    if not layers:
        return RegistrySettings(path=path)
    settings = _layered(layers, path, path_fixed=bool(env_path))
    if settings.backend != "mlflow":
        return settings
    from dataclasses import replace

    from paddlectl.registry.mlflow_settings import mlflow_settings

    project_uri = _project_tracking_uri(project) if project is not None else None
    return replace(settings, mlflow=mlflow_settings([c for c, _ in layers], project_uri, os.environ))


def mlflow_server_uri(project_config: Path | None = None) -> str | None:
    """The MLflow server `registry.backend: mlflow` would use (read whatever the backend is), unchecked: for
    `models:/` references, which name a version on the MLflow Model Registry. None when nothing names one.

    Raises UsageError for an unreadable file or a wrongly typed key.
    """
    from paddlectl.registry.mlflow_settings import server_uri

    project = project_config or find_project_config()
    configs = []
    for file in (user_config_path(), project):
        parsed = _parsed(file) if file is not None else None
        if parsed is not None:
            configs.append(parsed)
    project_uri = _project_tracking_uri(project) if project is not None else None
    return server_uri(configs, project_uri, os.environ)


def _project_tracking_uri(project: Path) -> str | None:
    """`mlflow.tracking_uri` of the project's paddlectl.yaml (the server `mlflow push` uses)."""
    raw = _section(project, "mlflow")
    if raw is None:
        return None
    import msgspec

    from paddlectl.project.schema import MlflowConfig

    try:
        return msgspec.convert(raw, MlflowConfig).tracking_uri
    except msgspec.ValidationError as exc:
        raise UsageError(f"{project}: mlflow: {exc}", hint="mlflow.tracking_uri is an http(s):// address") from None


def _layered(layers: list[tuple[RegistryConfig, Path]], path: Path, *, path_fixed: bool) -> RegistrySettings:
    """The files' settings key by key, user config first and the project's over it (require_signature: either).

    PADDLECTL_REGISTRY (path_fixed) names a local folder: it makes the backend local whatever the files say.
    """
    from msgspec import structs

    from paddlectl.registry.config import ColdConfig, is_set

    backend = "local"
    keys: tuple[Path, ...] = ()
    require = False
    cold: dict[str, str] = {}
    for config, base in layers:
        if isinstance(config.path, str) and not path_fixed:
            path = base / Path(config.path).expanduser()
        if isinstance(config.backend, str):
            backend = config.backend
        require = require or config.require_signature is True
        if isinstance(config.trusted_keys, list):
            keys = _keys(config.trusted_keys, base)
        if isinstance(config.cold, ColdConfig):
            cold.update({k: v for k, v in structs.asdict(config.cold).items() if is_set(v)})
    if backend not in BACKENDS:
        raise UsageError(f"registry.backend {backend!r} is not available", hint="use: local or mlflow")
    if path_fixed:
        backend = "local"
    return RegistrySettings(path=path, backend=backend, require_signature=require, trusted_keys=keys, cold=_cold(cold))


def _cold(fields: dict[str, str]) -> ColdSettings | None:
    if not fields:
        return None
    bucket = fields.get("bucket")
    if not bucket:
        raise UsageError("registry.cold needs a bucket", hint="add registry.cold.bucket to paddlectl.yaml")
    prefix = (fields.get("prefix") or "paddlectl").strip("/")
    endpoint = fields.get("endpoint")
    if endpoint:
        from paddlectl.foundation.secrets import mask_url_credentials, strip_url_credentials

        if strip_url_credentials(endpoint) != endpoint:
            raise UsageError(
                f"registry.cold.endpoint {mask_url_credentials(endpoint)} holds credentials",
                hint="remove them from the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead",
            )
        from paddlectl.foundation.urls import http_server_url

        http_server_url(endpoint, "registry.cold.endpoint", hint="give the S3 server's http(s)://HOST[:PORT] address")
    return ColdSettings(endpoint=endpoint, bucket=bucket, prefix=prefix, region=fields.get("region"))
