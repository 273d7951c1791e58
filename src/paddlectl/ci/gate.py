"""`paddlectl runs gate`: a run against a baseline by reference, per-metric thresholds beyond the noise, and
absolute requirements, with one exit code a pipeline can act on.

Exit codes: 0 every check passed; 1 a check failed (a regression, a failed run, a missing baseline under
`--on-missing-baseline fail`); 2 bad usage (an unknown metric, a bad threshold, a reference that cannot be read);
7 (INCOMPARABLE) the candidate and the baseline differ in data, profile, image or evaluation params; 3 the engine
(`--repeats`) or a baseline's server is not available.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.ci.baselines import (
    Baseline,
    BaselineSource,
    MissingBaseline,
    MlflowSource,
    RegistrySource,
    RunSource,
    resolve_baseline,
    split_reference,
)
from paddlectl.ci.comparability import Difference, check_allowed_keys, differences
from paddlectl.ci.history import GateHistory, GateRecord, NoiseEstimate, history_path, noise_from_history
from paddlectl.ci.thresholds import MetricRule, parse_metric_rules
from paddlectl.errors import ExitCode, UsageError
from paddlectl.foundation.enums import TextEnum
from paddlectl.runs.facts import RunFacts, facts_of_manifest
from paddlectl.runs.gate import CheckResult, MaxDrop, check_requirement, check_values
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.query import Condition, lookup, parse_condition

if TYPE_CHECKING:
    from paddlectl.engine.hosts import EngineHost
    from paddlectl.engine.protocol import ContainerEngine
    from paddlectl.project.workspace import Project
    from paddlectl.train.launch import TrainEvents


class MissingPolicy(TextEnum):
    """What a gate does when its baseline does not exist (yet): a model's first run."""

    FAIL = "fail"  # a failed check: exit 1
    WARN = "warn"  # the comparisons are skipped with a warning; requirements still count
    PASS = "pass"  # noqa: S105 - the same, without the warning (not a password)

    @classmethod
    def parse(cls, text: str) -> MissingPolicy:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise UsageError(
                f"--on-missing-baseline {text}: not one of fail, warn, pass",
                hint="fail (the default) fails the gate; warn and pass skip the comparisons",
            ) from None


class Outcome(TextEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class GateRequest:
    """What `runs gate` was asked, as the command line gave it (parsed and checked by run_gate)."""

    run: str
    baseline: str | None = None
    metrics: list[str] = field(default_factory=list)
    max_drop: str = "0"  # for a bare --metric NAME
    lower_is_better: bool = False  # for a bare --metric NAME
    require: list[str] = field(default_factory=list)
    on_missing_baseline: str = MissingPolicy.FAIL.value
    allow_different: list[str] = field(default_factory=list)
    eval_params: list[str] = field(default_factory=list)  # beside gate.evaluation_params of paddlectl.yaml
    noise_from: int = 0
    repeats: int = 1
    seed_param: str = "seed"
    record: bool = True
    tracking_uri: str | None = None  # the MLflow server of an mlflow: baseline


@dataclass(frozen=True)
class GateCheck:
    """One line of the report: what was checked, the numbers, and pass, fail or skip."""

    check: str
    kind: str  # metric | requirement | comparability | baseline | status
    outcome: Outcome
    message: str
    metric: str | None = None
    actual: float | None = None
    baseline: float | None = None
    limit: float | None = None
    noise: float | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is not Outcome.FAIL

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": self.kind,
            "metric": self.metric,
            "actual": self.actual,
            "baseline": self.baseline,
            "limit": self.limit,
            "noise": self.noise,
            "passed": self.passed,
            "outcome": self.outcome.value,
            "message": self.message,
        }

    @classmethod
    def of(cls, result: CheckResult, kind: str, noise: float | None = None) -> GateCheck:
        return cls(
            result.check,
            kind,
            Outcome.PASS if result.passed else Outcome.FAIL,
            result.message,
            result.metric,
            result.actual,
            result.baseline,
            result.limit,
            noise,
        )


@dataclass
class GateResult:
    run: str
    run_name: str | None
    profile: str | None
    baseline: Baseline | None
    baseline_reference: str | None
    missing_baseline: str | None = None  # why there is none, when the policy let the gate go on
    checks: list[GateCheck] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    noise: list[NoiseEstimate] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)  # the ids of the candidate's repeat runs
    history: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return all(difference.allowed for difference in self.differences)

    @property
    def passed(self) -> bool:
        return self.comparable and all(check.passed for check in self.checks)

    @property
    def verdict(self) -> str:
        return "incomparable" if not self.comparable else ("passed" if self.passed else "failed")

    @property
    def exit_code(self) -> ExitCode:
        if not self.comparable:
            return ExitCode.INCOMPARABLE
        return ExitCode.OK if self.passed else ExitCode.FAILED

    def _baseline_name(self) -> str | None:
        """A run baseline's id (what `baseline` always held), else the version's label (digits@1.0.0)."""
        if self.baseline is None:
            return None
        return self.baseline.facts.run_id if self.baseline.source == "run" else self.baseline.facts.label

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "run_name": self.run_name,
            "profile": self.profile,
            "baseline": self._baseline_name(),
            "baseline_reference": self.baseline_reference,
            "baseline_detail": self.baseline.as_dict() if self.baseline else None,
            "missing_baseline": self.missing_baseline,
            "passed": self.passed,
            "verdict": self.verdict,
            "exit_code": int(self.exit_code),
            "comparable": self.comparable,
            "differences": [difference.as_dict() for difference in self.differences],
            "checks": [check.as_dict() for check in self.checks],
            "noise": [estimate.as_dict() for estimate in self.noise],
            "repeats": self.repeats,
            "history": str(self.history) if self.history else None,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class _Parsed:
    rules: list[MetricRule]
    conditions: list[Condition]
    policy: MissingPolicy
    evaluation_params: list[str]
    allowed: set[str]


def _parse(request: GateRequest, config_evaluation_params: list[str]) -> _Parsed:
    """Everything the command line says, checked before anything is read or run."""
    rules = parse_metric_rules(request.metrics, MaxDrop.parse(request.max_drop), request.lower_is_better)
    conditions = [parse_condition(text) for text in request.require]
    if not rules and not request.require:
        raise UsageError(
            "nothing to check",
            hint="give --baseline REF with --metric NAME[:max-drop=1%], and/or --require 'acc>=0.95'",
        )
    if rules and request.baseline is None:
        raise UsageError(
            "--metric needs a baseline",
            hint="add --baseline RUN (a run id, name or last~1) or --baseline registry:NAME@production",
        )
    # A reference that cannot be read is a usage error, whatever the policy.
    source = split_reference(request.baseline)[0] if request.baseline is not None else None
    if request.tracking_uri is not None and source != "mlflow":
        raise UsageError(
            "--tracking-uri names the MLflow server of an mlflow: baseline",
            hint="give --baseline mlflow:models:/NAME@ALIAS, or leave --tracking-uri out",
        )
    if request.noise_from < 0:
        raise UsageError(
            f"--noise-from {request.noise_from}: give 0 (no noise) or more gated runs",
            hint="e.g. --noise-from 10: fail only beyond the spread of the last 10 passed gates",
        )
    if request.repeats < 1:
        raise UsageError(
            f"--repeats {request.repeats}: give 1 (the run alone) or more",
            hint="e.g. --repeats 3: the candidate trains 3 times with different seeds",
        )
    evaluation = list(dict.fromkeys([*config_evaluation_params, *request.eval_params]))
    allowed = check_allowed_keys(request.allow_different, evaluation)
    return _Parsed(rules, conditions, MissingPolicy.parse(request.on_missing_baseline), evaluation, allowed)


def default_sources(
    project: Project, read_run: Callable[[str], Manifest], tracking_uri: str | None = None
) -> dict[str, BaselineSource]:
    return {
        "run": RunSource(read_run),
        "registry": RegistrySource(project.config.path),
        "mlflow": MlflowSource(project.config.path, tracking_uri),
    }


def run_gate(
    request: GateRequest,
    project: Project,
    *,
    sources: dict[str, BaselineSource] | None = None,
    connect: Callable[[EngineHost | None], ContainerEngine] | None = None,
    events: TrainEvents | None = None,
) -> GateResult:
    """Gate `request.run`: resolve the baseline, repeat the candidate (--repeats), compare, record the gate.

    A baseline that does not exist is not raised: the policy makes it a failed or a skipped check. Raises
    UsageError for bad options, a candidate that does not resolve, an unreadable or ambiguous baseline reference,
    or a metric/param name neither side recorded; UnavailableError when an mlflow: baseline's server cannot be
    reached; whatever the engine raises while repeating; PaddlectlError (exit 74) when the history cannot be
    written.
    """
    from paddlectl.runs.project_runs import ProjectRuns
    from paddlectl.runs.run_engines import RunEngines, host_entries
    from paddlectl.runs.store import RunStore

    parsed = _parse(request, list(project.config.document.gate.evaluation_params))
    engines = RunEngines(connect, host_entries(project)) if connect is not None else None
    read_run = ProjectRuns(RunStore(project.runs_dir), engines).read  # a run whose CLI died is settled first

    candidate = read_run(request.run)
    facts = facts_of_manifest(candidate)
    profile = candidate.profile.name if candidate.profile is not None else None
    result = GateResult(candidate.id, candidate.name, profile, None, request.baseline)
    if request.baseline is not None:
        try:
            chosen = sources or default_sources(project, read_run, request.tracking_uri)
            result.baseline = resolve_baseline(request.baseline, chosen)
        except MissingBaseline as missing:
            result.missing_baseline = missing.message
    _check_names(facts, result.baseline, parsed.rules, parsed.conditions, candidate)
    runs = [candidate]
    if request.repeats > 1:
        if connect is None or events is None:
            raise UsageError("--repeats needs the engine", hint="run it through paddlectl runs gate")
        runs += _repeat(project, candidate, request.repeats - 1, request.seed_param, connect, events)
        result.repeats = [run.id for run in runs[1:]]
    result.checks += _status_checks(runs)
    if result.baseline is None and result.missing_baseline is not None:
        result.checks.append(_missing_check(result.missing_baseline, parsed.policy))
        if parsed.policy is MissingPolicy.WARN:
            result.warnings.append(f"{result.missing_baseline}: the comparisons are skipped")
    baseline = result.baseline
    if baseline is not None:
        result.differences = differences(facts, baseline.facts, parsed.evaluation_params, parsed.allowed)
        result.checks.append(_comparability_check(result.differences))
        history = GateHistory(history_path(project.store))
        result.history = history.path
        result.noise = _noise(parsed.rules, runs, history, baseline, profile, request.noise_from)
        if history.unreadable:
            result.warnings.append(
                f"{history.unreadable} unreadable line(s) in the gate history {history.path} were skipped"
            )
        result.checks += _metric_checks(parsed.rules, runs, baseline, result.noise, comparable=result.comparable)
    result.checks += [
        GateCheck.of(check_requirement(candidate, condition), "requirement") for condition in parsed.conditions
    ]
    if baseline is not None and request.record:
        _record(history, result, runs, baseline)
    return result


def _check_names(
    facts: RunFacts, baseline: Baseline | None, rules: list[MetricRule], conditions: list[Condition], run: Manifest
) -> None:
    """UsageError for a name neither side recorded: a typo, not a regression (one side only fails its check)."""
    from paddlectl.runs.index import summarize

    sides = [facts] if baseline is None else [facts, baseline.facts]
    who = f"run {run.id}" if baseline is None else f"neither run {run.id} nor baseline {baseline.facts.label}"
    recorded = f"metrics {', '.join(facts.metrics)}" if facts.metrics else "no metrics"
    for rule in rules:
        if all(rule.metric not in side.metrics for side in sides):
            verb = "recorded no metric" if baseline is None else "recorded a metric"
            raise UsageError(
                f"--metric {rule.metric}: {who} {verb} named '{rule.metric}'", hint=f"run {run.id} has {recorded}"
            )
    row = summarize(run.id, run)
    params = f"params {', '.join(facts.params)}" if facts.params else "no params"
    for condition in conditions:
        known = lookup(row, condition.name) is not None or any(
            condition.name in side.metrics or condition.name in side.params for side in sides
        )
        if not known:
            verb = "recorded no metric or param" if baseline is None else "recorded a metric or param"
            raise UsageError(
                f"--require {condition.name}: {who} {verb} named '{condition.name}'",
                hint=f"run {run.id} has {recorded}; {params}",
            )


def _repeat(
    project: Project,
    candidate: Manifest,
    count: int,
    seed_param: str,
    connect: Callable[[EngineHost | None], ContainerEngine],
    events: TrainEvents,
) -> list[Manifest]:
    """`count` reproductions of the candidate, each with the next seed (seed+1, seed+2, ...)."""
    from paddlectl.foundation.signals import Interrupted
    from paddlectl.train.reproduce import reproduce

    seed = facts_of_manifest(candidate).params.get(seed_param)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(
            f"--repeats needs an integer param '{seed_param}' to vary, and run {candidate.id} has "
            f"{'none' if seed is None else repr(seed)}",
            hint="name the seed param with --seed-param NAME, or train with -p seed=42",
        )
    repeats = []
    for number in range(1, count + 1):
        events.status(f"repeat {number}/{count} of run {candidate.id} with {seed_param}={seed + number}")
        outcome, _ = reproduce(project, candidate, [f"{seed_param}={seed + number}"], connect, events)
        if outcome.signal is not None:
            raise Interrupted(outcome.signal)
        repeats.append(outcome.manifest)
    return repeats


def _status_checks(runs: list[Manifest]) -> list[GateCheck]:
    """A failing check for every candidate run (or repeat) that did not succeed: its metrics mean nothing."""
    return [
        GateCheck(
            f"run {run.id} succeeded",
            "status",
            Outcome.FAIL,
            f"run {run.id} {run.status.value}" + (f" (exit {run.exit_code})" if run.exit_code is not None else ""),
        )
        for run in runs
        if run.status is not RunStatus.SUCCEEDED
    ]


def _missing_check(message: str, policy: MissingPolicy) -> GateCheck:
    if policy is MissingPolicy.FAIL:
        return GateCheck("baseline exists", "baseline", Outcome.FAIL, message)
    return GateCheck("baseline exists", "baseline", Outcome.SKIP, f"{message} (--on-missing-baseline {policy.value})")


def _comparability_check(found: list[Difference]) -> GateCheck:
    blocking = [difference for difference in found if not difference.allowed]
    allowed = [difference for difference in found if difference.allowed]
    if blocking:
        keys = " ".join(difference.key for difference in blocking)
        message = "; ".join(difference.describe() for difference in blocking)
        return GateCheck(
            "candidate and baseline are comparable",
            "comparability",
            Outcome.FAIL,
            f"{message} (--allow-different {keys} to gate anyway)",
        )
    message = "same dataset, profile, image and evaluation params"
    if allowed:
        message = "allowed: " + "; ".join(difference.describe() for difference in allowed)
    return GateCheck("candidate and baseline are comparable", "comparability", Outcome.PASS, message)


def _values(runs: list[Manifest], metric: str) -> tuple[list[float], list[str]]:
    having = [(facts.metrics[metric], run.id) for run in runs if metric in (facts := facts_of_manifest(run)).metrics]
    return [value for value, _ in having], [run_id for _, run_id in having]


def _noise(
    rules: list[MetricRule],
    runs: list[Manifest],
    history: GateHistory,
    baseline: Baseline,
    profile: str | None,
    noise_from: int,
) -> list[NoiseEstimate]:
    estimates = []
    recent = history.recent(baseline.history_key, profile, noise_from, runs[0].id) if noise_from else []
    for rule in rules:
        if noise_from:
            estimates.append(noise_from_history(recent, rule.metric))
        if len(runs) > 1:
            values, ids = _values(runs, rule.metric)
            estimates.append(NoiseEstimate(rule.metric, "repeats", values, ids))
    return estimates


def _metric_checks(
    rules: list[MetricRule], runs: list[Manifest], baseline: Baseline, noise: list[NoiseEstimate], *, comparable: bool
) -> list[GateCheck]:
    checks = []
    for rule in rules:
        if not comparable:
            checks.append(
                GateCheck(rule.label, "metric", Outcome.SKIP, "not compared: the runs are not comparable", rule.metric)
            )
            continue
        values, _ = _values(runs, rule.metric)
        actual = statistics.fmean(values) if values else None
        estimates = [estimate for estimate in noise if estimate.metric == rule.metric]
        spread = max((estimate.spread for estimate in estimates), default=0.0)
        run_label = f"run {runs[0].id}" if len(runs) == 1 else f"the {len(runs)} runs"
        result = check_values(
            rule.check,
            actual,
            baseline.facts.metrics.get(rule.metric),
            run_label,
            baseline.facts.label,
            spread,
            rule.label,
        )
        if len(runs) > 1 and values:
            result.message += f" (mean of {len(values)} runs)"
        if spread:
            result.message += f" (noise ±{spread:.4g} included)"
        checks.append(GateCheck.of(result, "metric", spread if estimates else None))
    return checks


def _record(history: GateHistory, result: GateResult, runs: list[Manifest], baseline: Baseline) -> None:
    from paddlectl.foundation.clock import utc_now

    time = utc_now()
    for run in runs:
        history.append(
            GateRecord(
                time=time,
                run=run.id,
                baseline_key=baseline.history_key,
                baseline=baseline.facts.label,
                profile=result.profile,
                comparable=result.comparable,
                passed=result.passed and run.status is RunStatus.SUCCEEDED,
                metrics=facts_of_manifest(run).metrics,
            )
        )
