"""The `registry:` section of paddlectl.yaml and of the user config, as a msgspec schema.

```yaml
registry:
  path: /srv/models                  # default: $PADDLECTL_REGISTRY, else $XDG_DATA_HOME/paddlectl/registry
  backend: local                     # the embedded SQLite + blob store; mlflow: an MLflow Model Registry
  require_signature: true            # promote --to production, rollback and pull refuse unsigned/untrusted
  trusted_keys: [keys/release.pub]   # public keys (paddlectl keys generate); relative to this file's folder
  cold:                              # S3-compatible object storage for `registry archive`
    endpoint: https://s3.example.com # credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never here
    bucket: models
    prefix: paddlectl
    region: us-east-1
  mlflow:                            # with backend: mlflow (registry/mlflow_settings.py)
    uri: http://mlflow.internal:5000
    experiment: paddlectl-registry
    aliases: {production: production, staging: staging}
```
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from paddlectl.errors import UsageError
from paddlectl.project.schema import ColdConfig, RegistryConfig

__all__ = ["ColdConfig", "RegistryConfig", "is_set", "parse_registry_section"]


def is_set(value: object) -> bool:
    return value is not UNSET


def parse_registry_section(raw: Any, source: str) -> RegistryConfig:
    """The `registry:` mapping as a RegistryConfig; UsageError naming the file and the key when it is wrong."""
    if raw is None:
        return RegistryConfig()
    try:
        return msgspec.convert(raw, RegistryConfig)
    except msgspec.ValidationError as exc:
        raise UsageError(
            f"{source}: registry: {exc}",
            hint="registry takes path, backend (local or mlflow), require_signature, trusted_keys, cold and mlflow",
        ) from None
