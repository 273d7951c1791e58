"""run_gate on recorded runs: baselines from sources, the missing-baseline policies, comparability, noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paddlectl.ci.baselines import Baseline, MissingBaseline, MlflowSource
from paddlectl.ci.gate import GateRequest, run_gate
from paddlectl.ci.history import GateHistory
from paddlectl.errors import ExitCode, UsageError
from paddlectl.mlflowapi.model_registry import ModelUri
from paddlectl.project.workspace import Project, open_project
from paddlectl.runs.facts import RunFacts, facts_of_manifest
from paddlectl.runs.manifest import RunStatus
from paddlectl.runs.store import RunStore
from paddlectl.tracking.baseline import ModelBaseline, NoSuchModelVersion
from tests.unit.runs.runs_factory import make_run

PROFILE = {"name": "ci", "params": {"epochs": 5}, "gpus": "none"}
PARAMS = {"dataset": "digits", "seed": 42, "lr": 0.003, "val_split": 0.2}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("PADDLECTL_GATE_HISTORY", str(tmp_path / "history.jsonl"))
    root = tmp_path / "digits"
    root.mkdir()
    (root / "paddlectl.yaml").write_text("project: digits\ngate:\n  evaluation_params: [val_split]\n")
    make_run(root, minutes=1, name="base", params=PARAMS, metrics={"val_acc": 0.95, "loss": 0.2}, profile=PROFILE)
    make_run(root, minutes=2, name="same", params=PARAMS, metrics={"val_acc": 0.945, "loss": 0.21}, profile=PROFILE)
    make_run(root, minutes=3, name="worse", params=PARAMS, metrics={"val_acc": 0.90, "loss": 0.5}, profile=PROFILE)
    make_run(
        root,
        minutes=4,
        name="other-data",
        params={**PARAMS, "dataset": "v2"},
        metrics={"val_acc": 0.99},
        profile=PROFILE,
    )
    make_run(
        root,
        minutes=5,
        name="crashed",
        params=PARAMS,
        metrics={"val_acc": 0.99},
        profile=PROFILE,
        status=RunStatus.FAILED,
    )
    return open_project(root)


class Sources:
    """A fake baseline source: a dict of baselines, MissingBaseline for the rest."""

    def __init__(self, known: dict[str, Baseline]) -> None:
        self.known = known

    def resolve(self, reference: str) -> Baseline:
        if reference not in self.known:
            raise MissingBaseline(f"no {reference}")
        return self.known[reference]


def _production(project: Project, **change: Any) -> dict[str, Any]:
    from paddlectl.runs.query import resolve_run

    store = RunStore(project.runs_dir)
    base = facts_of_manifest(store.read(resolve_run(store, "base").run_id))
    facts = RunFacts(**{**base.__dict__, "label": "digits@1.0.0", **change})
    baseline = Baseline("registry:digits@production", "registry", facts, "registry:digits")
    return {"registry": Sources({"digits@production": baseline}), "run": Sources({}), "mlflow": Sources({})}


def _gate(project: Project, run: str, *, sources: dict[str, Any] | None = None, **options: Any) -> Any:
    options.setdefault("metrics", ["val_acc:max-drop=1%"])
    return run_gate(GateRequest(run=run, **options), project, sources=sources)


def test_a_run_against_a_registry_version(project: Project) -> None:
    sources = _production(project)
    passed = _gate(project, "same", baseline="registry:digits@production", sources=sources)
    assert passed.exit_code is ExitCode.OK and passed.baseline.facts.label == "digits@1.0.0"
    failed = _gate(project, "worse", baseline="registry:digits@production", sources=sources)
    assert failed.exit_code is ExitCode.FAILED and failed.verdict == "failed"
    metric = next(check for check in failed.checks if check.kind == "metric")
    assert metric.actual == 0.90 and metric.baseline == 0.95 and metric.limit == pytest.approx(0.9405)


def test_a_run_baseline_from_the_store_and_a_rule_per_metric(project: Project) -> None:
    result = _gate(project, "same", baseline="base", metrics=["val_acc:max-drop=1%", "loss:lower,max-rise=0.005"])
    checks = {check.metric: check for check in result.checks if check.kind == "metric"}
    assert checks["val_acc"].passed and not checks["loss"].passed and checks["loss"].limit == pytest.approx(0.205)
    assert result.exit_code is ExitCode.FAILED


@pytest.mark.parametrize(("policy", "code", "outcome"), [("fail", 1, "fail"), ("warn", 0, "skip"), ("pass", 0, "skip")])
def test_a_missing_baseline_follows_the_policy(project: Project, policy: str, code: int, outcome: str) -> None:
    result = _gate(
        project,
        "same",
        baseline="registry:digits@production",
        sources=_production(project) | {"registry": Sources({})},
        on_missing_baseline=policy,
        require=["val_acc>=0.9"],
    )
    assert int(result.exit_code) == code
    assert [check.kind for check in result.checks] == ["baseline", "requirement"]
    assert result.checks[0].outcome.value == outcome and result.checks[1].passed
    assert bool(result.warnings) is (policy == "warn")


def test_a_missing_run_baseline_is_missing_not_a_typo(project: Project) -> None:
    result = _gate(project, "same", baseline="last~20", on_missing_baseline="warn")
    assert result.exit_code is ExitCode.OK and "there is no run 'last~20'" in str(result.missing_baseline)


def test_a_run_baseline_that_matches_nothing_is_a_typo_whatever_the_policy(project: Project) -> None:
    for reference in ("nosuch", "run:nosuch"):
        with pytest.raises(UsageError, match="nosuch"):
            _gate(project, "same", baseline=reference, on_missing_baseline="pass")


def test_an_ambiguous_or_unreadable_reference_is_a_usage_error(project: Project) -> None:
    with pytest.raises(UsageError, match="matches"):
        _gate(project, "same", baseline="2026", on_missing_baseline="pass")
    with pytest.raises(UsageError, match="nothing after 'registry:'"):
        _gate(project, "same", baseline="registry:", on_missing_baseline="pass")
    with pytest.raises(UsageError, match="cannot read the MLflow model reference"):
        _gate(project, "same", baseline="mlflow:digits", on_missing_baseline="pass")
    with pytest.raises(UsageError, match="--on-missing-baseline maybe"):
        _gate(project, "same", baseline="base", on_missing_baseline="maybe")


def test_different_data_is_not_comparable_unless_allowed(project: Project) -> None:
    result = _gate(project, "other-data", baseline="base")
    assert result.exit_code is ExitCode.INCOMPARABLE == 7 and result.verdict == "incomparable"
    comparability = next(check for check in result.checks if check.kind == "comparability")
    assert "dataset: v2 (candidate) vs digits (baseline)" in comparability.message
    assert "--allow-different dataset" in comparability.message
    assert next(check for check in result.checks if check.kind == "metric").outcome.value == "skip"
    allowed = _gate(project, "other-data", baseline="base", allow_different=["dataset"])
    assert allowed.exit_code is ExitCode.OK and allowed.differences[0].allowed


def test_evaluation_params_come_from_paddlectl_yaml_and_the_command_line(project: Project) -> None:
    sources = _production(project, params={**PARAMS, "val_split": 0.3, "image_size": 8})
    result = _gate(project, "same", baseline="registry:digits@production", sources=sources)
    assert [d.key for d in result.differences] == ["val_split"]
    both = _gate(project, "same", baseline="registry:digits@production", sources=sources, eval_params=["image_size"])
    assert [d.key for d in both.differences] == ["val_split", "image_size"]


def test_a_failed_candidate_fails_whatever_its_metrics(project: Project) -> None:
    result = _gate(project, "crashed", baseline="base")
    status = [check for check in result.checks if check.kind == "status"]
    assert result.exit_code is ExitCode.FAILED and "failed (exit 1)" in status[0].message


def test_a_name_neither_side_recorded_is_a_usage_error(project: Project) -> None:
    with pytest.raises(UsageError, match="--metric bleu: neither run"):
        _gate(project, "same", baseline="base", metrics=["bleu:max-drop=1%"])
    with pytest.raises(UsageError, match="--require recall"):
        _gate(project, "same", metrics=[], require=["recall>0.5"])
    with pytest.raises(UsageError, match="--metric needs a baseline"):
        _gate(project, "same")
    with pytest.raises(UsageError, match="nothing to check"):
        _gate(project, "same", metrics=[])


def test_noise_from_recent_passed_gates_widens_the_limit(project: Project) -> None:
    sources = _production(project, metrics={"val_acc": 0.97, "loss": 0.2})
    strict = _gate(project, "same", baseline="registry:digits@production", sources=sources, record=False)
    assert not strict.passed  # 0.945 < 0.97 - 1%
    history = GateHistory(Path(str(strict.history)))
    from paddlectl.ci.history import GateRecord

    for run, value in (("r1", 0.95), ("r2", 0.97), ("r3", 0.96), ("r4", 0.94)):
        history.append(GateRecord("t", run, "registry:digits", "digits@1.0.0", "ci", True, True, {"val_acc": value}))
    history.append(GateRecord("t", "r5", "registry:digits", "digits@1.0.0", "ci", True, False, {"val_acc": 0.1}))
    widened = _gate(project, "same", baseline="registry:digits@production", sources=sources, noise_from=10)
    metric = next(check for check in widened.checks if check.kind == "metric")
    assert widened.passed and metric.noise == pytest.approx(0.02582, rel=1e-3)  # 2 sd of r1..r4, not r5
    assert metric.limit == pytest.approx(0.97 - 0.0097 - metric.noise)
    recorded = list(history.records())[-1]
    assert recorded.run == widened.run and recorded.passed and recorded.metrics["val_acc"] == 0.945


def test_repeats_need_the_engine_and_a_seed(project: Project) -> None:
    with pytest.raises(UsageError, match="--repeats needs the engine"):
        _gate(project, "same", baseline="base", repeats=3)
    with pytest.raises(UsageError, match="--repeats 0"):
        _gate(project, "same", baseline="base", repeats=0)


def test_an_mlflow_baseline_through_its_resolver(project: Project) -> None:
    seen: list[ModelUri] = []

    def resolver(uri: ModelUri) -> ModelBaseline:
        seen.append(uri)
        if uri.alias == "staging":
            raise NoSuchModelVersion("model 'digits' on MLflow at http://mlflow has no alias 'staging'")
        image = "sha256:" + "3" * 64
        facts = RunFacts("models:/digits/3", {"val_acc": 0.95}, PARAMS, {}, PROFILE, image, dataset="digits")
        return ModelBaseline(facts, {"model_version": "3"})

    sources = {"mlflow": MlflowSource(resolver=resolver), "run": Sources({}), "registry": Sources({})}
    result = _gate(project, "same", baseline="mlflow:models:/digits@production", sources=sources)
    assert result.exit_code is ExitCode.OK and result.baseline.facts.label == "models:/digits/3"
    assert result.baseline.history_key == "mlflow:digits" and seen == [ModelUri("digits", alias="production")]
    assert result.as_dict()["baseline_detail"]["model_version"] == "3"
    missing = _gate(
        project, "same", baseline="mlflow:models:/digits@staging", sources=sources, on_missing_baseline="pass"
    )
    assert missing.exit_code is ExitCode.OK
    assert missing.missing_baseline == (
        "baseline mlflow:models:/digits@staging: model 'digits' on MLflow at http://mlflow has no alias 'staging'"
    )


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ("mlflow:models:/digits@latest", "'latest' is reserved by MLflow"),
        ("mlflow:models:/digits@v2", "'v2' is reserved by MLflow"),
        ("mlflow:models:/digits/Production", "cannot read the MLflow model reference"),
        ("models:/digits@production", "takes the scheme mlflow:"),
    ],
)
def test_an_unreadable_mlflow_reference_is_a_usage_error_before_any_request(
    project: Project, baseline: str, message: str
) -> None:
    def resolver(uri: ModelUri) -> ModelBaseline:
        raise AssertionError(f"{uri} was looked up")

    sources = {"mlflow": MlflowSource(resolver=resolver), "run": Sources({}), "registry": Sources({})}
    with pytest.raises(UsageError, match=message) as caught:
        _gate(project, "same", baseline=baseline, sources=sources, on_missing_baseline="pass")
    assert caught.value.code is ExitCode.USAGE


def test_tracking_uri_is_for_an_mlflow_baseline(project: Project) -> None:
    with pytest.raises(UsageError, match="--tracking-uri names the MLflow server of an mlflow: baseline"):
        _gate(project, "same", baseline="base", tracking_uri="http://127.0.0.1:5000")
    with pytest.raises(UsageError, match="--tracking-uri names"):
        _gate(project, "same", metrics=[], require=["val_acc>0.5"], tracking_uri="http://127.0.0.1:5000")


def test_an_mlflow_baseline_without_a_server_is_a_usage_error(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(UsageError, match="an mlflow: baseline needs an MLflow server"):
        _gate(project, "same", baseline="mlflow:models:/digits@production")
    with pytest.raises(UsageError, match="is not an http"):
        _gate(project, "same", baseline="mlflow:models:/digits@production", tracking_uri="file:///tmp/mlruns")
