"""The quality gate: a run's metrics against a baseline run (max drop) and absolute requirements (`acc>=0.95`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.runs.index import summarize
from paddlectl.runs.query import Condition, as_number, lookup

if TYPE_CHECKING:
    from paddlectl.runs.manifest import Manifest


@dataclass(frozen=True)
class MaxDrop:
    """How far a metric may move the wrong way: a fraction of the baseline (`2%`) or an absolute amount."""

    amount: float
    relative: bool

    @classmethod
    def parse(cls, text: str, option: str = "--max-drop") -> MaxDrop:
        raw = text.strip()
        relative = raw.endswith("%")
        number = as_number(raw.removesuffix("%").strip())
        if number is None or number < 0 or not math.isfinite(number):
            raise UsageError(
                f"cannot read {option} '{text}'",
                hint="give a percentage of the baseline (2%) or an absolute amount (0.01), 0 or more",
            )
        return cls(number / 100 if relative else number, relative)

    def allowed(self, baseline: float) -> float:
        """How far a metric whose baseline is `baseline` may move the wrong way."""
        return abs(baseline) * self.amount if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    max_drop: MaxDrop
    lower_is_better: bool = False


@dataclass
class CheckResult:
    """One line of the gate's table."""

    check: str  # what was checked, as the user would write it
    metric: str
    actual: float | None
    baseline: float | None
    limit: float | None  # the worst value that still passes
    passed: bool
    message: str


@dataclass
class GateReport:
    run: str
    baseline: str | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "baseline": self.baseline,
            "passed": self.passed,
            "checks": [asdict(check) for check in self.checks],
        }


def _metric(manifest: Manifest, name: str) -> float | None:
    return manifest.metrics.last(name)


def check_metric(run: Manifest, baseline: Manifest, check: MetricCheck) -> CheckResult:
    """Compare one metric with the baseline's; a missing or non-finite value fails with a message."""
    return check_values(
        check, _metric(run, check.metric), _metric(baseline, check.metric), f"run {run.id}", f"baseline {baseline.id}"
    )


def metric_label(check: MetricCheck) -> str:
    direction = "lower is better" if check.lower_is_better else "higher is better"
    return f"{check.metric} max drop {check.max_drop} ({direction})"


def check_values(
    check: MetricCheck,
    actual: float | None,
    base: float | None,
    run_label: str,
    baseline_label: str,
    noise: float = 0.0,
    label: str | None = None,
) -> CheckResult:
    """One metric's value against the baseline's: the limit is the baseline moved the wrong way by the allowed
    amount plus `noise` (the spread measured elsewhere). A missing or non-finite value fails with a message."""
    label = label or metric_label(check)
    missing = [who for who, value in ((run_label, actual), (baseline_label, base)) if value is None]
    if missing:
        return CheckResult(
            label,
            check.metric,
            actual,
            base,
            None,
            False,
            f"metric '{check.metric}' is missing from {' and '.join(missing)}",
        )
    assert actual is not None and base is not None
    if not (math.isfinite(actual) and math.isfinite(base)):
        return CheckResult(label, check.metric, actual, base, None, False, "not a finite number")
    allowed = check.max_drop.allowed(base) + noise
    if check.lower_is_better:
        limit, passed = base + allowed, actual <= base + allowed
    else:
        limit, passed = base - allowed, actual >= base - allowed
    change = actual - base
    message = f"{change:+.6g} vs baseline" + ("" if passed else f", beyond the limit {limit:.6g}")
    return CheckResult(label, check.metric, actual, base, limit, passed, message)


def check_requirement(run: Manifest, condition: Condition) -> CheckResult:
    row = summarize(run.id, run)
    value = lookup(row, condition.name)
    actual = as_number(value)
    limit = as_number(condition.value)
    if value is None:
        return CheckResult(
            condition.text,
            condition.name,
            None,
            None,
            limit,
            False,
            f"'{condition.name}' is missing from run {run.id} (no such metric or param)",
        )
    passed = condition.test(row)
    return CheckResult(
        condition.text,
        condition.name,
        actual,
        None,
        limit,
        passed,
        f"{value} {'satisfies' if passed else 'fails'} {condition.op} {condition.value}",
    )


def _recorded_metrics(manifest: Manifest) -> list[str]:
    return list(manifest.metrics.summary)


def _recorded_params(manifest: Manifest) -> list[str]:
    return list(manifest.params.values)


def _unknown_name_error(
    option: str, name: str, run: Manifest, baseline: Manifest | None, with_params: bool
) -> UsageError:
    what = "metric or param" if with_params else "metric"
    if baseline is None:
        message = f"{option} {name}: run {run.id} recorded no {what} named '{name}'"
    else:
        message = f"{option} {name}: neither run {run.id} nor baseline {baseline.id} recorded a {what} named '{name}'"
    metrics = _recorded_metrics(run)
    recorded = f"metrics {', '.join(metrics)}" if metrics else "no metrics"
    if with_params:
        params = _recorded_params(run)
        recorded += f"; params {', '.join(params)}" if params else "; no params"
    return UsageError(message, hint=f"run {run.id} has {recorded}")


def check_names(
    run: Manifest, baseline: Manifest | None, metrics: list[MetricCheck], requirements: list[Condition]
) -> None:
    """Raise UsageError for a name that neither the run nor the baseline recorded: a typo, not a regression.

    A metric that only one of the two recorded is a real finding, and fails its check instead.
    """
    runs = [run] if baseline is None else [run, baseline]
    for check in metrics:
        if all(check.metric not in _recorded_metrics(manifest) for manifest in runs):
            raise _unknown_name_error("--metric", check.metric, run, baseline, with_params=False)
    for condition in requirements:
        if all(lookup(summarize(manifest.id, manifest), condition.name) is None for manifest in runs):
            raise _unknown_name_error("--require", condition.name, run, baseline, with_params=True)


def gate(
    run: Manifest, baseline: Manifest | None, metrics: list[MetricCheck], requirements: list[Condition]
) -> GateReport:
    """Run every check.

    Raises UsageError when there is nothing to check, --metric lacks a baseline, or a name is recorded by neither
    the run nor the baseline (see check_names).
    """
    if not metrics and not requirements:
        raise UsageError(
            "nothing to check", hint="give --baseline RUN with --metric NAME, and/or --require 'acc>=0.95'"
        )
    if metrics and baseline is None:
        raise UsageError("--metric needs a baseline run", hint="add --baseline RUN (e.g. a run id, name or last~1)")
    check_names(run, baseline, metrics, requirements)
    report = GateReport(run.id, baseline.id if baseline is not None else None)
    if baseline is not None:
        report.checks.extend(check_metric(run, baseline, check) for check in metrics)
    report.checks.extend(check_requirement(run, condition) for condition in requirements)
    return report
