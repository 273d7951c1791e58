"""An MLflow model version as a gate's baseline (`runs gate --baseline mlflow:models:/NAME@ALIAS`, also
`models:/NAME/VERSION`), read from the MLflow Model Registry over REST (paddlectl.mlflowapi).

What the gate reads of the version:
- one paddlectl registered (`registry.backend: mlflow`: the tag `paddlectl.version` and the card): its card, as
  `registry:NAME@VERSION` reads it (registry.model.facts_of_card): the metrics' last values (the numbers the
  `paddlectl.metric.*` tags show), params, labels and image from its provenance, the dataset, and the profile
  from the run record. Its run holds the package, not the metrics, and is not read;
- any other version: the run its `run_id` (else a `runs:/<id>/...` source) names: the run's latest metric values,
  its params (typed again as `mlflow push` wrote them: tracking.record.param_value) and, for a run `mlflow push`
  wrote (tag `paddlectl.run_id`), the image, labels and profile from its `paddlectl.*` tags; another run's own
  tags (`mlflow.*` aside) are its labels, so a `dataset` tag names its dataset. A version that names no run has
  no metrics: each --metric check against it fails, saying the baseline has none.

The server is, in this order: `runs gate --tracking-uri`, then what the registry's MLflow backend uses
(MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, `registry.mlflow.uri`, `mlflow.tracking_uri`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.foundation.urls import http_server_url
from paddlectl.mlflowapi.client import MlflowRequestError, TrackingClient
from paddlectl.mlflowapi.model_registry import ModelRegistryApi, ModelUri, tags_of
from paddlectl.registry.mlflow_records import VERSION, read_long
from paddlectl.registry.model import facts_of_card
from paddlectl.runs.facts import RunFacts, dataset_of, number
from paddlectl.tracking.record import LABEL_TAG_PREFIX, PROFILE_TAG, RUN_ID_TAG, param_value

URI_SOURCES = "--tracking-uri, MLFLOW_REGISTRY_URI, MLFLOW_TRACKING_URI, registry.mlflow.uri or mlflow.tracking_uri"
_RUNS_SOURCE = re.compile(r"runs:/([^/]+)(?:/.*)?")


class NoSuchModelVersion(PaddlectlError):
    """The model, the alias or the version a `models:/` reference names does not exist on the server."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ExitCode.FAILED)


@dataclass(frozen=True)
class ModelBaseline:
    """A model version's facts, and where they came from (for `--json`)."""

    facts: RunFacts
    detail: dict[str, Any]


def registry_client(project_config: Path | None = None, tracking_uri: str | None = None) -> TrackingClient:
    """A client for the MLflow Model Registry `models:/` references name; UsageError when no server is set or
    its address is not http(s)://."""
    from paddlectl.registry.settings import mlflow_server_uri

    uri = (tracking_uri or mlflow_server_uri(project_config) or "").strip()
    if not uri:
        raise UsageError(
            "an mlflow: baseline needs an MLflow server, and none is set",
            hint="pass --tracking-uri http://HOST:5000 or set MLFLOW_TRACKING_URI "
            "(or registry.mlflow.uri or mlflow.tracking_uri in paddlectl.yaml)",
        )
    http_server_url(
        uri,
        "MLflow URI",
        hint="models:/ references are read from an MLflow tracking server (mlflow server ...): "
        "give its http(s):// address",
    )
    return TrackingClient(uri, where=URI_SOURCES)


def resolve_model_baseline(uri: ModelUri, client: TrackingClient) -> ModelBaseline:
    """The facts of the model version `uri` names on the server (see the module's docstring).

    Raises NoSuchModelVersion when its model, alias or version does not exist; UnavailableError when the server
    cannot be reached or refuses the credentials; PaddlectlError (exit 4) for a version paddlectl registered whose
    card can no longer be read.
    """
    api = ModelRegistryApi(client)
    version = api.version_at(uri)
    if version is None:
        raise NoSuchModelVersion(_missing(api, uri, client.display))
    run = None
    run_id = source_run_id(version)
    if VERSION not in tags_of(version) and run_id is not None:
        run = _run(client, run_id)
    return baseline_of(uri, version, run)


def _missing(api: ModelRegistryApi, uri: ModelUri, server: str) -> str:
    if api.get_model(uri.name) is None:
        return f"MLflow at {server} has no registered model '{uri.name}'"
    if uri.alias is not None:
        return f"model '{uri.name}' on MLflow at {server} has no alias '{uri.alias}'"
    return f"model '{uri.name}' on MLflow at {server} has no version {uri.version}"


def _run(client: TrackingClient, run_id: str) -> dict[str, Any] | None:
    try:
        return client.get_run(run_id)
    except MlflowRequestError as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None  # removed for good (`mlflow gc`): the version keeps no metrics of its own
        raise


def source_run_id(version: dict[str, Any]) -> str | None:
    """The run a model version names: its `run_id`, else the run of a `runs:/<id>/...` source."""
    run_id = version.get("run_id")
    if isinstance(run_id, str) and run_id:
        return run_id
    match = _RUNS_SOURCE.fullmatch(str(version.get("source") or ""))
    return match.group(1) if match else None


def baseline_of(uri: ModelUri, version: dict[str, Any], run: dict[str, Any] | None) -> ModelBaseline:
    """The baseline of a model version as the server answered it, with its run (None: paddlectl's, or none)."""
    tags = tags_of(version)
    number_text = str(version.get("version"))
    label = f"models:/{uri.name}/{number_text}"
    detail: dict[str, Any] = {
        "name": uri.name,
        "alias": uri.alias,
        "model_version": number_text,
        "mlflow_run_id": source_run_id(version),
        "paddlectl_version": tags.get(VERSION),
    }
    if VERSION in tags:
        return ModelBaseline(_card_facts(tags, label), {**detail, "metrics_from": "card"})
    if run is None:
        return ModelBaseline(RunFacts(label, {}), {**detail, "metrics_from": None})
    return ModelBaseline(facts_of_run(run, label), {**detail, "metrics_from": "run"})


def _card_facts(tags: dict[str, str], label: str) -> RunFacts:
    try:
        card = json.loads(read_long(tags, "paddlectl.card") or "null")
        run_record = json.loads(read_long(tags, "paddlectl.run") or "null")
    except ValueError:
        card = run_record = None
    if not isinstance(card, dict):
        raise PaddlectlError(
            f"{label} was registered by paddlectl ({tags[VERSION]}), but its card tags cannot be read",
            hint="a tag changed or removed on the server does this: see paddlectl registry verify "
            "(with registry.backend: mlflow)",
            code=ExitCode.TAMPERED,
        )
    return facts_of_card(card, run_record if isinstance(run_record, dict) else None, label)


def facts_of_run(run: dict[str, Any], label: str) -> RunFacts:
    """An MLflow run's facts: latest metric values, params, and the paddlectl tags of a run `mlflow push` wrote
    (else its own tags as labels)."""
    info, data = run.get("info") or {}, run.get("data") or {}
    metrics = {}
    for metric in data.get("metrics") or []:
        value = number(metric.get("value")) if isinstance(metric, dict) else None
        if value is not None and math.isfinite(value):
            metrics[str(metric["key"])] = value
    params = {
        str(param["key"]): param_value(str(param.get("value", "")))
        for param in data.get("params") or []
        if isinstance(param, dict)
    }
    tags = {str(tag["key"]): str(tag.get("value", "")) for tag in data.get("tags") or [] if isinstance(tag, dict)}
    if RUN_ID_TAG not in tags:
        labels = {key: value for key, value in tags.items() if not key.startswith("mlflow.")}
        return RunFacts(label, metrics, params, labels, run_id=info.get("run_id"), dataset=dataset_of(labels, params))
    labels = {key[len(LABEL_TAG_PREFIX) :]: value for key, value in tags.items() if key.startswith(LABEL_TAG_PREFIX)}
    profile = param_value(tags[PROFILE_TAG]) if PROFILE_TAG in tags else None
    return RunFacts(
        label,
        metrics,
        params,
        labels,
        profile=profile if isinstance(profile, dict) else None,
        image=tags.get("paddlectl.image.digest") or tags.get("paddlectl.image.id"),
        run_id=tags[RUN_ID_TAG],
        dataset=dataset_of(labels, params),
    )
