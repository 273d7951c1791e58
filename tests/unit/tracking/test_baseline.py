"""An MLflow model version read as a gate's baseline: references, the card of a paddlectl version, a run's facts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.mlflowapi.model_registry import ModelUri
from paddlectl.registry.mlflow_records import long_value
from paddlectl.registry.model import facts_of_card
from paddlectl.runs.facts import RunFacts, facts_of_manifest
from paddlectl.runs.store import RunStore
from paddlectl.tracking.baseline import baseline_of, facts_of_run, source_run_id
from paddlectl.tracking.record import param_text, param_value, run_record
from unit.runs.runs_factory import make_run

PROFILE = {"name": "ci", "params": {"epochs": 5, "data_limit": 600}, "gpus": "none"}
PARAMS = {"dataset": "digits", "lr": 0.003, "epochs": 5, "augment": True, "layers": [64, 32], "note": "adam"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:/digits@production", ModelUri("digits", alias="production")),
        ("models:/digits/3", ModelUri("digits", version="3")),
        (" models:/my-model_2@champion ", ModelUri("my-model_2", alias="champion")),
    ],
)
def test_model_references(text: str, expected: ModelUri) -> None:
    assert ModelUri.parse(text) == expected
    assert str(expected) == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:/digits@latest", "'latest' is reserved by MLflow"),
        ("models:/digits@V7", "'V7' is reserved by MLflow"),
        ("models:/digits@no.dots", "is not an alias name"),
        ("models:/digits/Production", "cannot read"),  # a stage: deprecated since MLflow 2.9
        ("models:/digits", "cannot read"),
        ("runs:/abc/model", "cannot read"),
    ],
)
def test_references_mlflow_would_not_resolve_to_one_chosen_version(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        ModelUri.parse(text)
    assert caught.value.code is ExitCode.USAGE


def test_the_run_of_a_version_is_its_run_id_else_its_runs_source() -> None:
    assert source_run_id({"run_id": "abc", "source": "runs:/other/model"}) == "abc"
    assert source_run_id({"run_id": "", "source": "runs:/def456/model/data"}) == "def456"
    assert source_run_id({"source": "runs:/def456"}) == "def456"
    assert source_run_id({"source": "s3://bucket/model"}) is None


@pytest.mark.parametrize("value", ["adam", 0.003, 5, True, None, [64, 32], {"a": 1}, "3 layers"])
def test_params_read_back_as_push_wrote_them(value: Any) -> None:
    assert param_value(param_text(value)) == value


def _pushed(tmp_path: Path, **run: Any) -> tuple[RunFacts, dict[str, Any]]:
    """A run's facts from its manifest, and the run as the server answers runs/get after `mlflow push`."""
    paths = make_run(tmp_path, minutes=1, **run)
    manifest = RunStore(paths.root.parent).read(paths.run_id)
    record = run_record(manifest)
    facts = facts_of_manifest(manifest)
    metrics = [{"key": key, "value": value, "timestamp": 1, "step": 4} for key, value in facts.metrics.items()]
    data = {
        "params": [param.as_json() for param in record.params],
        "tags": [tag.as_json() for tag in record.tags],
        "metrics": metrics,
    }
    return facts, {"info": {"run_id": "f" * 32}, "data": data}


def test_a_pushed_run_reads_back_as_its_manifest(tmp_path: Path) -> None:
    facts, run = _pushed(
        tmp_path,
        params=PARAMS,
        metrics={"val_acc": 0.95, "loss": 0.2},
        labels={"dataset": "digits-v2", "dataset_digest": "sha256:" + "d" * 64},
        profile=PROFILE,
    )
    back = facts_of_run(run, "models:/digits/4")
    assert back == RunFacts(**{**facts.__dict__, "label": "models:/digits/4"})
    assert back.dataset == "digits-v2" and back.profile == PROFILE and back.image == "sha256:" + "3" * 64


def test_a_plain_mlflow_run_its_tags_are_labels_and_its_latest_metrics_count() -> None:
    run = {
        "info": {"run_id": "0123abcd" * 4},
        "data": {
            "metrics": [
                {"key": "val_acc", "value": 0.91, "timestamp": 9, "step": 10},
                {"key": "diverged", "value": math.nan, "timestamp": 9, "step": 10},
            ],
            "params": [{"key": "lr", "value": "0.003"}, {"key": "optimizer", "value": "adam"}],
            "tags": [
                {"key": "mlflow.runName", "value": "bold-owl-7"},
                {"key": "mlflow.user", "value": "ana"},
                {"key": "dataset", "value": "digits"},
            ],
        },
    }
    facts = facts_of_run(run, "models:/digits/1")
    assert facts.metrics == {"val_acc": 0.91}  # a NaN is no value to gate against
    assert facts.params == {"lr": 0.003, "optimizer": "adam"}
    assert facts.labels == {"dataset": "digits"} and facts.dataset == "digits"
    assert (facts.run_id, facts.image, facts.profile) == ("0123abcd" * 4, None, None)


def _paddlectl_version(card: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    tags = {"paddlectl.version": "1.0.0", "paddlectl.metric.val_acc": "0.95"}
    tags.update(long_value("paddlectl.card", json.dumps(card)))
    if run is not None:
        tags.update(long_value("paddlectl.run", json.dumps(run)))
    return {
        "name": "digits",
        "version": "2",
        "run_id": "e" * 32,  # the run whose artifact is the package: no metrics there
        "tags": [{"key": key, "value": value} for key, value in tags.items()],
    }


def test_a_version_paddlectl_registered_is_read_from_its_card_as_the_registry_reads_it() -> None:
    card = {
        "metrics": {"val_acc": {"last": 0.95, "max": 0.96}, "loss": {"last": 0.2}},
        "dataset": "digits",
        "provenance": {
            "run_id": "20261101-080100-000aaaaaa",
            "image": {"reference": "paddle:3.2.0", "id": "sha256:" + "1" * 64, "digest": "sha256:" + "2" * 64},
            "params": PARAMS,
            "labels": {"team": "vision"},
        },
        "padding": "x" * 12_000,  # the card's JSON is split over several tags
    }
    run = {"id": "20261101-080100-000aaaaaa", "profile": PROFILE}
    uri = ModelUri("digits", alias="production")
    baseline = baseline_of(uri, _paddlectl_version(card, run), None)
    assert baseline.facts == facts_of_card(card, run, "models:/digits/2")
    assert baseline.facts.metrics == {"val_acc": 0.95, "loss": 0.2} and baseline.facts.profile == PROFILE
    assert baseline.facts.image == "sha256:" + "2" * 64 and baseline.facts.dataset == "digits"
    assert baseline.detail == {
        "name": "digits",
        "alias": "production",
        "model_version": "2",
        "mlflow_run_id": "e" * 32,
        "paddlectl_version": "1.0.0",
        "metrics_from": "card",
    }


def test_a_paddlectl_version_whose_card_tags_are_damaged_is_reported() -> None:
    version = _paddlectl_version({"metrics": {}}, None)
    version["tags"] = [tag for tag in version["tags"] if tag["key"] != "paddlectl.card"]
    with pytest.raises(PaddlectlError, match="its card tags cannot be read") as caught:
        baseline_of(ModelUri("digits", version="2"), version, None)
    assert caught.value.code is ExitCode.TAMPERED


def test_a_version_without_a_run_has_no_metrics() -> None:
    baseline = baseline_of(ModelUri("digits", version="5"), {"version": "5", "source": "s3://b/model"}, None)
    assert baseline.facts == RunFacts("models:/digits/5", {})
    assert baseline.detail["metrics_from"] is None and baseline.detail["mlflow_run_id"] is None
