"""What a gate reads of a run or of a released model, whatever holds it: metric last values, and what decides
whether two of them measured the same thing (params, labels, profile, image, dataset).

A run's manifest, a registry version's card (registry.model.facts_of_card) and an MLflow model version
(tracking.baseline) are each read into one RunFacts, so that both sides of a gate are compared alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from paddlectl.runs.manifest import Manifest


@dataclass(frozen=True)
class RunFacts:
    """What the gate reads of either side: metrics (last values), and what decides whether they are comparable."""

    label: str  # how reports name it: `run 2026...`, `digits@1.0.0`, `models:/digits/3`
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    profile: dict[str, Any] | None = None  # {name, params, gpus} as train --profile records it
    image: str | None = None  # the registry digest, else the local image id
    run_id: str | None = None
    dataset: Any = None  # label `dataset`, else param `dataset` (what the model card names)


def number(value: Any) -> float | None:
    """`value` as a float when it is an int or a float (not a bool), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def last_values(summary: Any) -> dict[str, float]:
    """`{name: {last: ...}}` (a manifest's or a card's metrics) as `{name: last}`, numbers only."""
    values: dict[str, float] = {}
    for name, entry in mapping(summary).items():
        value = number(mapping(entry).get("last"))
        if value is not None:
            values[str(name)] = value
    return values


def dataset_of(labels: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """The dataset a run names: its `dataset` label, else its `dataset` param (the model card's rule)."""
    return labels.get("dataset", params.get("dataset"))


def facts_of_manifest(manifest: Manifest) -> RunFacts:
    """A run's facts, read from its manifest as manifest.yaml holds it (the same document a registered package's
    RUN.yaml is), so that both sides of a gate are read alike."""
    document = manifest.to_dict()
    params = dict(mapping(mapping(document.get("params")).get("values")))
    labels = {str(key): str(value) for key, value in mapping(document.get("labels")).items()}
    image = mapping(document.get("image"))
    profile = document.get("profile")
    return RunFacts(
        label=f"run {manifest.id}",
        metrics=last_values(mapping(document.get("metrics")).get("summary")),
        params=params,
        labels=labels,
        profile=profile if isinstance(profile, dict) else None,
        image=image.get("digest") or image.get("id"),
        run_id=manifest.id,
        dataset=dataset_of(labels, params),
    )
