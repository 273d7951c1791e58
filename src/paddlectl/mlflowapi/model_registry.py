"""The MLflow Model Registry's REST calls: registered models, their versions, aliases and tags.

Two things the API does that callers must know (both tested against a real server):
- `model-versions/search` answers versions *without* their aliases (mlflow#9783, #16734): aliases are read from
  the registered model (`registered-models/get` lists them) or `registered-models/alias`;
- `latest` and `v<N>` are reserved alias names (the server refuses them with 400): see `reserved_alias`.
Every call goes through TrackingClient.call (auth, retries, masked one-line errors). `ModelUri` reads MLflow's
`models:/NAME@ALIAS` and `models:/NAME/VERSION` references.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.mlflowapi.client import MlflowRequestError, TrackingClient

VERSIONS_PAGE = 10_000  # the server's default and a tenth of its threshold
MODELS_PAGE = 1_000  # the server's threshold for registered-models/search
_ALIAS = re.compile(r"[\w\-]{1,255}", re.ASCII)
_VERSION_ALIAS = re.compile(r"[vV]\d+")
_MODEL_URI = re.compile(r"models:/(?P<name>[^/@\s]+)(?:@(?P<alias>[^/@\s]+)|/(?P<version>[0-9]+))")


def reserved_alias(alias: str) -> str | None:
    """Why MLflow refuses `alias` as an alias name, or None when it accepts it."""
    if alias.lower() == "latest":
        return f"'{alias}' is reserved by MLflow (models:/NAME@latest is the newest version)"
    if _VERSION_ALIAS.fullmatch(alias):
        return f"'{alias}' is reserved by MLflow (v<N> names version N)"
    if not _ALIAS.fullmatch(alias):
        return f"'{alias}' is not an alias name (letters, digits, _ and -, at most 255)"
    return None


@dataclass(frozen=True)
class ModelUri:
    """`models:/NAME@ALIAS` (the version an alias points to) or `models:/NAME/VERSION` (a version number)."""

    name: str
    alias: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelUri:
        """Raises UsageError for anything else, and for an alias MLflow reserves (`latest`, `v<N>`): those name
        a version by position or number, not one a person put there."""
        match = _MODEL_URI.fullmatch(text.strip())
        if match is None:
            raise UsageError(
                f"cannot read the MLflow model reference '{text}'",
                hint="write models:/NAME@ALIAS (e.g. models:/digits@production) or models:/NAME/VERSION "
                "(e.g. models:/digits/3)",
            )
        name, alias, version = match.group("name", "alias", "version")
        if alias is not None:
            problem = reserved_alias(alias)
            if problem is not None:
                raise UsageError(
                    f"models:/{name}@{alias}: {problem}",
                    hint=f"name an alias a person moves (models:/{name}@production) or a version number "
                    f"(models:/{name}/3)",
                )
        return cls(name, alias, version)

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias is not None else f"models:/{self.name}/{self.version}"


def _missing(error: MlflowRequestError) -> bool:
    # A missing alias is INVALID_PARAMETER_VALUE "... alias X not found" (3.x), not RESOURCE_DOES_NOT_EXIST.
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in error.message


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


class ModelRegistryApi:
    """The registry calls on one server; None for what does not exist, MlflowRequestError for other refusals."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client

    # ---- registered models -------------------------------------------------------------------------------

    def get_model(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self.client.call("GET", "registered-models/get", name=name)
        except MlflowRequestError as error:
            if _missing(error):
                return None
            raise
        model = answer.get("registered_model")
        return model if isinstance(model, dict) else None

    def create_model(self, name: str, tags: dict[str, str], description: str = "") -> bool:
        """Create it; False when it exists already (a concurrent creation included)."""
        try:
            self.client.call(
                "POST", "registered-models/create", {"name": name, "tags": _tags(tags), "description": description}
            )
        except MlflowRequestError as error:
            if error.error_code == "RESOURCE_ALREADY_EXISTS":
                return False
            raise
        return True

    def search_models(self, filter_string: str = "") -> Iterator[dict[str, Any]]:
        token = None
        while True:
            params: dict[str, Any] = {"max_results": MODELS_PAGE}
            if filter_string:
                params["filter"] = filter_string
            if token:
                params["page_token"] = token
            answer = self.client.call("GET", "registered-models/search", **params)
            yield from (model for model in answer.get("registered_models") or [] if isinstance(model, dict))
            token = answer.get("next_page_token")
            if not token:
                return

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.client.call("POST", "registered-models/set-tag", {"name": name, "key": key, "value": value})

    # ---- aliases -----------------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.call("POST", "registered-models/alias", {"name": name, "alias": alias, "version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self.client.call("DELETE", "registered-models/alias", {"name": name, "alias": alias})
        except MlflowRequestError as error:
            if not _missing(error):
                raise

    def alias_target(self, name: str, alias: str) -> dict[str, Any] | None:
        """The model version `alias` points to, None when the alias (or the model) does not exist."""
        try:
            answer = self.client.call("GET", "registered-models/alias", name=name, alias=alias)
        except MlflowRequestError as error:
            if _missing(error):
                return None
            raise
        version = answer.get("model_version")
        return version if isinstance(version, dict) else None

    def version_at(self, uri: ModelUri) -> dict[str, Any] | None:
        """The model version `uri` names, None when its model, alias or version does not exist. An alias is read
        through registered-models/alias, never from a search (which answers without aliases: mlflow#9783)."""
        if uri.alias is not None:
            return self.alias_target(uri.name, uri.alias)
        return self.get_version(uri.name, str(uri.version))

    # ---- model versions ----------------------------------------------------------------------------------

    def create_version(self, name: str, source: str, run_id: str, tags: dict[str, str]) -> dict[str, Any]:
        body = {"name": name, "source": source, "run_id": run_id, "tags": _tags(tags)}
        return dict(self.client.call("POST", "model-versions/create", body)["model_version"])

    def get_version(self, name: str, version: str) -> dict[str, Any] | None:
        try:
            answer = self.client.call("GET", "model-versions/get", name=name, version=version)
        except MlflowRequestError as error:
            if _missing(error):
                return None
            raise
        found = answer.get("model_version")
        return found if isinstance(found, dict) else None

    def search_versions(self, filter_string: str) -> Iterator[dict[str, Any]]:
        """Every version the filter matches, page by page. They come WITHOUT aliases (mlflow#9783)."""
        token = None
        while True:
            params: dict[str, Any] = {"filter": filter_string, "max_results": VERSIONS_PAGE}
            if token:
                params["page_token"] = token
            answer = self.client.call("GET", "model-versions/search", **params)
            yield from (version for version in answer.get("model_versions") or [] if isinstance(version, dict))
            token = answer.get("next_page_token")
            if not token:
                return

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.client.call("POST", "model-versions/set-tag", body)

    def delete_version_tag(self, name: str, version: str, key: str) -> None:
        try:
            self.client.call("DELETE", "model-versions/delete-tag", {"name": name, "version": version, "key": key})
        except MlflowRequestError as error:
            if not _missing(error):
                raise

    def delete_version(self, name: str, version: str) -> None:
        try:
            self.client.call("DELETE", "model-versions/delete", {"name": name, "version": version})
        except MlflowRequestError as error:
            if not _missing(error):
                raise


def quoted(value: str) -> str:
    """`value` as a single-quoted literal of MLflow's filter language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    """An entity's tags as a mapping (the API sends a list of {key, value})."""
    return {str(tag["key"]): str(tag.get("value", "")) for tag in entity.get("tags") or [] if isinstance(tag, dict)}
