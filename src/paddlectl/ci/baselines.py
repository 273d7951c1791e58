"""What a run is gated against: a baseline by reference, from one of a few sources behind one interface.

    RUN                                  a run of this project (id, prefix, name, last~1)
    registry:NAME@production             the metrics on the card of that registry version (also NAME@1.2.0,
                                         NAME@staging; a bare NAME means NAME@production)
    mlflow:models:/NAME@ALIAS            an MLflow model version (models:/NAME/VERSION too), through
                                         paddlectl.tracking (see MlflowSource)

A source answers `resolve(reference) -> Baseline`, or raises MissingBaseline when what the reference names does
not exist (yet): a first run of a new model, which `--on-missing-baseline` decides about. Any other problem (a
reference that cannot be read, an unreachable server) is its own PaddlectlError.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.runs.manifest import Manifest

REGISTRY_SCHEME = "registry:"
MLFLOW_SCHEME = "mlflow:"
# What paddlectl.tracking is expected to provide for mlflow: baselines (see MlflowSource).
MLFLOW_RESOLVER = ("paddlectl.tracking.baseline", "resolve_model_baseline")
MLFLOW_INSTALL = "pip install 'paddlectl[mlflow]'"
_MLFLOW_URI = re.compile(r"models:/(?P<name>[^/@\s]+)(?:@(?P<alias>[^/@\s]+)|/(?P<version>[0-9]+))")


@dataclass(frozen=True)
class RunFacts:
    """What the gate reads of either side: metrics (last values), and what decides whether they are comparable."""

    label: str  # how reports name it: `run 2026...`, `digits@1.0.0`
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    profile: dict[str, Any] | None = None  # {name, params, gpus} as train --profile records it
    image: str | None = None  # the registry digest, else the local image id
    run_id: str | None = None
    dataset: Any = None  # label `dataset`, else param `dataset` (what the model card names)


@dataclass(frozen=True)
class Baseline:
    """A resolved baseline: its facts, the reference as given, and the key its gate history is kept under."""

    reference: str
    source: str  # run | registry | mlflow
    facts: RunFacts
    history_key: str  # `run:<id>`, `registry:<name>`, `mlflow:<name>`: whose last K gated runs --noise-from reads
    detail: dict[str, Any] = field(default_factory=dict)  # for --json: version, sha256, status, ...

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "source": self.source,
            "label": self.facts.label,
            "run_id": self.facts.run_id,
            "image": self.facts.image,
            "profile": self.facts.profile,
            "dataset": self.facts.dataset,
            **self.detail,
        }


class MissingBaseline(PaddlectlError):
    """What the reference names does not exist (yet); `--on-missing-baseline` says what the gate does then."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=ExitCode.FAILED)


class BaselineSource(Protocol):
    """Where baselines of one scheme come from."""

    def resolve(self, reference: str) -> Baseline:
        """The baseline `reference` (without its scheme) names; MissingBaseline when there is none (yet)."""
        ...


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def last_values(summary: Any) -> dict[str, float]:
    """`{name: {last: ...}}` (a manifest's or a card's metrics) as `{name: last}`, numbers only."""
    values: dict[str, float] = {}
    for name, entry in _mapping(summary).items():
        number = _number(_mapping(entry).get("last"))
        if number is not None:
            values[str(name)] = number
    return values


def dataset_of(labels: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """The dataset a run names: its `dataset` label, else its `dataset` param (the model card's rule)."""
    return labels.get("dataset", params.get("dataset"))


def facts_of_manifest(manifest: Manifest) -> RunFacts:
    """A run's facts, read from its manifest as manifest.yaml holds it (the same document a registered package's
    RUN.yaml is), so that both sides of a gate are read alike."""
    document = manifest.to_dict()
    params = dict(_mapping(_mapping(document.get("params")).get("values")))
    labels = {str(key): str(value) for key, value in _mapping(document.get("labels")).items()}
    image = _mapping(document.get("image"))
    profile = document.get("profile")
    return RunFacts(
        label=f"run {manifest.id}",
        metrics=last_values(_mapping(document.get("metrics")).get("summary")),
        params=params,
        labels=labels,
        profile=profile if isinstance(profile, dict) else None,
        image=image.get("digest") or image.get("id"),
        run_id=manifest.id,
        dataset=dataset_of(labels, params),
    )


class RunSource:
    """Baselines that are runs of this project's run store."""

    def __init__(self, read_run: Callable[[str], Manifest]) -> None:
        self._read_run = read_run  # raises NoSuchRun for a run that does not exist

    def resolve(self, reference: str) -> Baseline:
        from paddlectl.runs.query import NoSuchRun

        try:
            manifest = self._read_run(reference)
        except NoSuchRun as missing:
            raise MissingBaseline(f"baseline {reference}: {missing.message}", hint=missing.hint) from None
        return Baseline(
            reference, "run", facts_of_manifest(manifest), f"run:{manifest.id}", {"status": manifest.status.value}
        )


class RegistrySource:
    """Baselines that are registry versions: the metrics on the card, the rest from its provenance."""

    def __init__(self, project_config: Path | None = None) -> None:
        self._project_config = project_config

    def resolve(self, reference: str) -> Baseline:
        from paddlectl.packaging.layout import ModelStatus
        from paddlectl.registry.model import ModelRef
        from paddlectl.registry.store import open_registry

        ref = ModelRef.parse(reference)
        if ref.version is None and ref.status is None:
            ref = ModelRef(ref.name, status=ModelStatus.PRODUCTION, text=reference)
        with open_registry(policy=False, project_config=self._project_config) as registry:
            if ref.version is not None:
                record = registry.backend.get(ref.name, ref.version)
                found = [record] if record is not None else []
                what = f"{ref.name}@{ref.version}"
            else:
                assert ref.status is not None
                found = registry.backend.find(ref.name, ref.status)
                what = f"{ref.status.value} version of {ref.name}"
            if not found:
                raise MissingBaseline(
                    f"baseline registry:{reference}: there is no {what} in the registry ({registry.backend.location})",
                    hint=f"register and promote one (paddlectl registry promote {ref.name} VERSION --to production), "
                    "or --on-missing-baseline warn for a model's first run",
                )
            record = found[-1]
        card = record.card
        provenance = _mapping(card.get("provenance"))
        image = _mapping(provenance.get("image"))
        params = dict(_mapping(provenance.get("params")))
        labels = {str(key): str(value) for key, value in _mapping(provenance.get("labels")).items()}
        run = record.run_record or {}
        profile = run.get("profile")
        facts = RunFacts(
            label=record.ref,
            metrics=last_values(card.get("metrics")),
            params=params,
            labels=labels,
            profile=profile if isinstance(profile, dict) else None,
            image=image.get("digest") or image.get("id"),
            run_id=provenance.get("run_id"),
            dataset=card.get("dataset", dataset_of(labels, params)),
        )
        detail = {"version": record.version, "status": record.status.value, "sha256": record.sha256}
        return Baseline(f"{REGISTRY_SCHEME}{reference}", "registry", facts, f"registry:{record.name}", detail)


class MlflowSource:
    """Baselines that are MLflow model versions, resolved by paddlectl.tracking.

    The tracking package is expected to provide `paddlectl.tracking.baseline.resolve_model_baseline(uri)` with
    `uri` a `models:/NAME@ALIAS` or `models:/NAME/VERSION` reference, returning None when the model, alias or
    version does not exist, else a mapping with `label` (str), `metrics` ({name: number}), and optionally
    `params` ({name: scalar}), `labels` ({str: str}: the run's tags), `profile` ({name, params, gpus}), `image`
    (digest or id), `run_id`, `dataset`; it raises PaddlectlError for anything else (server unreachable: exit 3).
    """

    def __init__(self, resolver: Callable[[str], Mapping[str, Any] | None] | None = None) -> None:
        self._resolver = resolver

    def resolve(self, reference: str) -> Baseline:
        name = parse_mlflow_uri(reference)
        resolver = self._resolver or _tracking_resolver(reference)
        found = resolver(reference)
        if found is None:
            raise MissingBaseline(
                f"baseline mlflow:{reference}: MLflow has no such model version",
                hint="register one in MLflow, or --on-missing-baseline warn for a model's first run",
            )
        params = dict(_mapping(found.get("params")))
        labels = {str(key): str(value) for key, value in _mapping(found.get("labels")).items()}
        metrics = {str(k): float(v) for k, v in _mapping(found.get("metrics")).items() if _number(v) is not None}
        profile = found.get("profile")
        facts = RunFacts(
            label=str(found.get("label") or reference),
            metrics=metrics,
            params=params,
            labels=labels,
            profile=profile if isinstance(profile, dict) else None,
            image=found.get("image"),
            run_id=found.get("run_id"),
            dataset=found.get("dataset", dataset_of(labels, params)),
        )
        return Baseline(f"{MLFLOW_SCHEME}{reference}", "mlflow", facts, f"mlflow:{name}")


def parse_mlflow_uri(uri: str) -> str:
    """The model name of `models:/NAME@ALIAS` or `models:/NAME/VERSION`; UsageError for anything else."""
    match = _MLFLOW_URI.fullmatch(uri.strip())
    if match is None:
        raise UsageError(
            f"cannot read the MLflow model reference '{uri}'",
            hint="write mlflow:models:/NAME@ALIAS (e.g. mlflow:models:/digits@production) or mlflow:models:/NAME/3",
        )
    return match.group("name")


def _tracking_resolver(reference: str) -> Callable[[str], Mapping[str, Any] | None]:
    module_name, function = MLFLOW_RESOLVER
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        module = None
    resolver = getattr(module, function, None)
    if not callable(resolver):
        raise UnavailableError(
            f"--baseline mlflow:{reference} needs paddlectl's MLflow integration, which is not available yet "
            f"in this paddlectl ({module_name}.{function})",
            hint=f"{MLFLOW_INSTALL} once it ships; until then gate against registry:NAME@production or a run",
        )
    return resolver  # type: ignore[no-any-return]


def split_reference(reference: str) -> tuple[str, str]:
    """(`run` | `registry` | `mlflow`, the reference without its scheme)."""
    for scheme, source in ((REGISTRY_SCHEME, "registry"), (MLFLOW_SCHEME, "mlflow")):
        if reference.startswith(scheme):
            rest = reference[len(scheme) :].strip()
            if not rest:
                raise UsageError(
                    f"--baseline {reference}: nothing after '{scheme}'",
                    hint="e.g. --baseline registry:digits@production or --baseline mlflow:models:/digits@production",
                )
            return source, rest
    return "run", reference


def resolve_baseline(reference: str, sources: Mapping[str, BaselineSource]) -> Baseline:
    """The baseline `reference` names, from the source its scheme selects; MissingBaseline when there is none."""
    source, rest = split_reference(reference)
    return sources[source].resolve(rest)
