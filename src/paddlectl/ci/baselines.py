"""What a run is gated against: a baseline by reference, from one of a few sources behind one interface.

    RUN                                  a run of this project (id, prefix, name, last~1)
    registry:NAME@production             the metrics on the card of that registry version (also NAME@1.2.0,
                                         NAME@staging; a bare NAME means NAME@production)
    mlflow:models:/NAME@ALIAS            an MLflow model version (models:/NAME/VERSION too), read from the MLflow
                                         Model Registry by paddlectl.tracking.baseline

A source answers `resolve(reference) -> Baseline`, or raises MissingBaseline when what the reference names does
not exist (yet): a first run of a new model, which `--on-missing-baseline` decides about. Any other problem (a
reference that cannot be read, an unreachable server) is its own PaddlectlError. Each side of a gate is read into
one runs.facts.RunFacts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from paddlectl.errors import ExitCode, PaddlectlError, UsageError
from paddlectl.runs.facts import RunFacts, facts_of_manifest
from paddlectl.runs.manifest import Manifest

if TYPE_CHECKING:
    from paddlectl.mlflowapi.model_registry import ModelUri
    from paddlectl.registry.model import VersionRecord
    from paddlectl.tracking.baseline import ModelBaseline

REGISTRY_SCHEME = "registry:"
MLFLOW_SCHEME = "mlflow:"
MODEL_URI_SCHEME = "models:/"  # MLflow's own, which a baseline reference takes after `mlflow:`


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


class RunSource:
    """Baselines that are runs of this project's run store."""

    def __init__(self, read_run: Callable[[str], Manifest]) -> None:
        self._read_run = read_run  # raises NoSuchRun for a run that does not exist

    def resolve(self, reference: str) -> Baseline:
        """`last~N` past the history is missing (a new project has fewer runs); an id, prefix or name that
        matches no run is a typo (NoSuchRun, exit 2), which must not pass a gate under --on-missing-baseline."""
        import re

        from paddlectl.runs.query import NoSuchRun

        try:
            manifest = self._read_run(reference)
        except NoSuchRun as missing:
            if re.fullmatch(r"last(~\d+)?", reference.removeprefix("run:")):
                raise MissingBaseline(f"baseline {reference}: {missing.message}", hint=missing.hint) from None
            raise
        return Baseline(
            reference, "run", facts_of_manifest(manifest), f"run:{manifest.id}", {"status": manifest.status.value}
        )


class RegistrySource:
    """Baselines that are registry versions: the metrics on the card, the rest from its provenance."""

    def __init__(self, project_config: Path | None = None) -> None:
        self._project_config = project_config

    def resolve(self, reference: str) -> Baseline:
        from paddlectl.packaging.layout import ModelStatus
        from paddlectl.registry.model import ModelRef, facts_of_card
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
                raise _missing_in_registry(
                    reference, what, ref.name, registry.backend.find(), registry.backend.location
                )
            record = found[-1]
        facts = facts_of_card(record.card, record.run_record, record.ref)
        detail = {"version": record.version, "status": record.status.value, "sha256": record.sha256}
        return Baseline(f"{REGISTRY_SCHEME}{reference}", "registry", facts, f"registry:{record.name}", detail)


def _missing_in_registry(
    reference: str, what: str, name: str, every: list[VersionRecord], where: str
) -> MissingBaseline:
    """No such version: say whether the model is there at all, and which are (a typo must be seen, even when the
    gate passes under --on-missing-baseline warn)."""
    location = f"the registry ({where})"
    models = sorted({record.name for record in every})
    if name not in models:
        known = f"; its models: {', '.join(models[:10])}" if models else "; it holds no model yet"
        message = f"baseline registry:{reference}: there is no model {name} in {location}{known}"
    else:
        message = f"baseline registry:{reference}: there is no {what} in {location}"
    return MissingBaseline(
        message,
        hint=f"register and promote one (paddlectl registry promote {name} VERSION --to production), "
        "or --on-missing-baseline warn for a model's first run",
    )


class MlflowSource:
    """Baselines that are MLflow model versions (`models:/NAME@ALIAS`, `models:/NAME/VERSION`), read from the
    MLflow Model Registry by paddlectl.tracking.baseline (on the server `tracking_uri` names, else the one the
    registry's MLflow backend would use). `resolver` stands in for the server in tests."""

    def __init__(
        self,
        project_config: Path | None = None,
        tracking_uri: str | None = None,
        resolver: Callable[[ModelUri], ModelBaseline] | None = None,
    ) -> None:
        self._project_config = project_config
        self._tracking_uri = tracking_uri
        self._resolver = resolver or self._on_server

    def resolve(self, reference: str) -> Baseline:
        from paddlectl.mlflowapi.model_registry import ModelUri
        from paddlectl.tracking.baseline import NoSuchModelVersion

        uri = ModelUri.parse(reference)
        try:
            found = self._resolver(uri)
        except NoSuchModelVersion as missing:
            raise MissingBaseline(
                f"baseline {MLFLOW_SCHEME}{reference}: {missing.message}",
                hint="register one in MLflow and point the alias at it (with registry.backend: mlflow, paddlectl "
                f"registry promote {uri.name} VERSION --to production), or --on-missing-baseline warn for a "
                "model's first run",
            ) from None
        return Baseline(f"{MLFLOW_SCHEME}{reference}", "mlflow", found.facts, f"mlflow:{uri.name}", found.detail)

    def _on_server(self, uri: ModelUri) -> ModelBaseline:
        from paddlectl.tracking.baseline import registry_client, resolve_model_baseline

        client = registry_client(self._project_config, self._tracking_uri)
        try:
            return resolve_model_baseline(uri, client)
        finally:
            client.close()


def split_reference(reference: str) -> tuple[str, str]:
    """(`run` | `registry` | `mlflow`, the reference without its scheme); UsageError for one that cannot be read
    (an mlflow: reference is parsed here, before any request, so that a typo is exit 2 whatever the policy)."""
    for scheme, source in ((REGISTRY_SCHEME, "registry"), (MLFLOW_SCHEME, "mlflow")):
        if reference.startswith(scheme):
            rest = reference[len(scheme) :].strip()
            if not rest:
                raise UsageError(
                    f"--baseline {reference}: nothing after '{scheme}'",
                    hint="e.g. --baseline registry:digits@production or --baseline mlflow:models:/digits@production",
                )
            if source == "mlflow":
                from paddlectl.mlflowapi.model_registry import ModelUri

                ModelUri.parse(rest)
            return source, rest
    if reference.startswith(MODEL_URI_SCHEME):
        raise UsageError(
            f"--baseline {reference}: an MLflow model reference takes the scheme mlflow:",
            hint=f"write --baseline {MLFLOW_SCHEME}{reference}",
        )
    return "run", reference


def resolve_baseline(reference: str, sources: Mapping[str, BaselineSource]) -> Baseline:
    """The baseline `reference` names, from the source its scheme selects; MissingBaseline when there is none."""
    source, rest = split_reference(reference)
    return sources[source].resolve(rest)
