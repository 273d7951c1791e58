"""`--metric` rules: which way a metric should go and how far it may move the wrong way.

    val_acc                      higher is better, allowed drop from --max-drop (default 0)
    val_acc:max-drop=1%          higher is better, may drop 1% of the baseline
    loss:lower,max-rise=0.02     lower is better, may rise by 0.02 (absolute)
    loss:lower                   lower is better, allowed rise from --max-drop

The name ends at the first `:`; after it come comma-separated options: `higher` or `lower`, and `max-drop=AMOUNT`
(higher is better) or `max-rise=AMOUNT` (lower is better), AMOUNT a percentage of the baseline or an absolute
number. Anything else is a usage error (exit 2), never a check that silently tests something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from paddlectl.errors import UsageError
from paddlectl.runs.gate import MaxDrop, MetricCheck

_OPTIONS = "higher, lower, max-drop=AMOUNT, max-rise=AMOUNT"
_EXAMPLES = "e.g. --metric val_acc:max-drop=1% or --metric loss:lower,max-rise=0.02"


@dataclass(frozen=True)
class MetricRule:
    """One `--metric`, as written and as the check it makes."""

    text: str
    check: MetricCheck

    @property
    def metric(self) -> str:
        return self.check.metric

    @property
    def label(self) -> str:
        """How reports name the check: `val_acc max drop 1% (higher is better)`."""
        move = "rise" if self.check.lower_is_better else "drop"
        direction = "lower is better" if self.check.lower_is_better else "higher is better"
        return f"{self.check.metric} max {move} {self.check.max_drop} ({direction})"


def _error(text: str, problem: str) -> UsageError:
    return UsageError(f"--metric {text}: {problem}", hint=f"options are {_OPTIONS}; {_EXAMPLES}")


def parse_metric_rule(text: str, default_move: MaxDrop, default_lower: bool = False) -> MetricRule:
    """A `--metric` text as a rule; a bare name takes `default_move` and `default_lower` (--max-drop and
    --lower-is-better). Raises UsageError for an empty name, an unknown or repeated option, a bad amount, or a
    direction that contradicts the amount (`lower,max-drop=...`)."""
    name, has_options, options = text.partition(":")
    name = name.strip()
    if not name:
        raise _error(text, "no metric name before the ':'")
    direction: str | None = None
    move: tuple[str, MaxDrop] | None = None
    for raw in options.split(",") if has_options else []:
        option = raw.strip()
        key, has_value, value = option.partition("=")
        key = key.strip()
        if key in ("higher", "lower") and not has_value:
            if direction is not None:
                raise _error(text, f"the direction is given twice ({direction}, {key})")
            direction = key
        elif key in ("max-drop", "max-rise") and has_value:
            if move is not None:
                raise _error(text, f"the amount is given twice ({move[0]}, {key})")
            move = (key, MaxDrop.parse(value, f"{key} in --metric {text}"))
        else:
            raise _error(text, f"unknown option '{option}'" if option else "an empty option")
    if move is not None:
        implied = "lower" if move[0] == "max-rise" else "higher"
        if direction is not None and direction != implied:
            raise _error(text, f"{move[0]} says {implied} is better, but the rule says {direction}")
        direction = implied
    lower = default_lower if direction is None else direction == "lower"
    return MetricRule(text.strip(), MetricCheck(name, move[1] if move else default_move, lower))


def parse_metric_rules(texts: list[str], default_move: MaxDrop, default_lower: bool = False) -> list[MetricRule]:
    """Every `--metric`; a metric named twice is a usage error (which of the two would count?)."""
    rules = [parse_metric_rule(text, default_move, default_lower) for text in texts]
    seen: set[str] = set()
    for rule in rules:
        if rule.metric in seen:
            raise UsageError(f"--metric {rule.metric} is given twice", hint="give one rule per metric")
        seen.add(rule.metric)
    return rules
