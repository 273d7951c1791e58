"""`--metric` rules: direction, relative and absolute amounts, and the usage errors a typo gets."""

from __future__ import annotations

import pytest

from paddlectl.ci.thresholds import parse_metric_rule, parse_metric_rules
from paddlectl.errors import UsageError
from paddlectl.runs.gate import MaxDrop

ZERO = MaxDrop.parse("0")


@pytest.mark.parametrize(
    ("text", "metric", "lower", "amount", "relative"),
    [
        ("val_acc", "val_acc", False, 0.0, False),
        ("val_acc:max-drop=1%", "val_acc", False, 0.01, True),
        ("val_acc:higher,max-drop=0.02", "val_acc", False, 0.02, False),
        ("loss:lower,max-rise=0.02", "loss", True, 0.02, False),
        ("loss:max-rise=5%", "loss", True, 0.05, True),
        ("loss:lower", "loss", True, 0.0, False),
        (" f1 : max-drop = 2% ", "f1", False, 0.02, True),
    ],
)
def test_rules(text: str, metric: str, lower: bool, amount: float, relative: bool) -> None:
    rule = parse_metric_rule(text, ZERO)
    assert rule.metric == metric and rule.check.lower_is_better is lower
    assert rule.check.max_drop.amount == pytest.approx(amount) and rule.check.max_drop.relative is relative


def test_a_bare_name_takes_the_legacy_options() -> None:
    rule = parse_metric_rule("loss", MaxDrop.parse("10%"), default_lower=True)
    assert rule.check.lower_is_better and rule.check.max_drop.amount == pytest.approx(0.1)
    assert rule.label == "loss max rise 10% (lower is better)"
    explicit = parse_metric_rule("acc:max-drop=1%", MaxDrop.parse("10%"), default_lower=True)
    assert not explicit.check.lower_is_better and explicit.label == "acc max drop 1% (higher is better)"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (":max-drop=1%", "no metric name"),
        ("acc:max-drop=lots", "cannot read max-drop in --metric acc:max-drop=lots 'lots'"),
        ("acc:max-drop=-1%", "cannot read max-drop"),
        ("acc:max-drop=inf", "cannot read max-drop"),
        ("acc:max-drop=1%%", "cannot read max-drop"),
        ("acc:lower,max-drop=1%", "max-drop says higher is better, but the rule says lower"),
        ("loss:higher,max-rise=1%", "max-rise says lower is better, but the rule says higher"),
        ("acc:max-drop=1%,max-drop=2%", "the amount is given twice"),
        ("acc:lower,higher", "the direction is given twice"),
        ("acc:maxdrop=1%", "unknown option 'maxdrop=1%'"),
        ("acc:", "an empty option"),
        ("acc:lower=1", "unknown option 'lower=1'"),
    ],
)
def test_what_a_typo_gets(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_metric_rule(text, ZERO)
    assert says in caught.value.message and caught.value.code == 2


def test_a_metric_named_twice_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_metric_rules(["acc:max-drop=1%", "acc:max-drop=2%"], ZERO)
