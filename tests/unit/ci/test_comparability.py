"""What makes a candidate and a baseline comparable, and what --allow-different accepts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paddlectl.ci.comparability import check_allowed_keys, differences
from paddlectl.errors import UsageError
from paddlectl.runs.facts import RunFacts

PROFILE = {"name": "ci", "params": {"epochs": 5, "data_limit": 600}, "gpus": "none"}
BASE = RunFacts(
    label="digits@1.0.0",
    metrics={"val_acc": 0.95},
    params={"dataset": "digits", "lr": 0.003, "val_split": 0.2},
    labels={"dataset_digest": "sha256:aa"},
    profile=PROFILE,
    image="sha256:111",
    dataset="digits",
)


def test_the_same_setup_is_comparable_whatever_else_differs() -> None:
    candidate = replace(BASE, label="run x", metrics={"val_acc": 0.5}, params={**BASE.params, "lr": 5.0})
    assert differences(candidate, BASE, ["val_split"], set()) == []


def test_a_number_typed_either_way_is_the_same() -> None:
    profile = {"name": "ci", "params": {"epochs": 5.0, "data_limit": 600}}
    assert differences(replace(BASE, profile=profile), BASE, [], set()) == []


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"dataset": "digits-v2"}, "dataset", "dataset: digits-v2 (candidate) vs digits (baseline)"),
        ({"labels": {"dataset_digest": "sha256:bb"}}, "dataset_digest", "sha256:bb (candidate) vs sha256:aa"),
        ({"labels": {}}, "dataset_digest", "not recorded (candidate) vs sha256:aa (baseline)"),
        ({"profile": None}, "profile", "profile: not recorded (candidate) vs ci (data_limit=600, epochs=5)"),
        ({"profile": {**PROFILE, "params": {"epochs": 3}}}, "profile", "ci (epochs=3) (candidate)"),
        ({"profile": {**PROFILE, "name": "nightly"}}, "profile", "nightly (data_limit=600, epochs=5)"),
        ({"image": "sha256:222"}, "image", "image: sha256:222 (candidate) vs sha256:111"),
        ({"params": {**BASE.params, "val_split": 0.3}}, "val_split", "val_split: 0.3 (candidate) vs 0.2"),
    ],
)
def test_each_difference_is_named(change: dict[str, object], key: str, says: str) -> None:
    found = differences(replace(BASE, **change), BASE, ["val_split"], set())  # type: ignore[arg-type]
    assert [difference.key for difference in found] == [key]
    assert says in found[0].describe() and not found[0].allowed
    assert differences(replace(BASE, **change), BASE, ["val_split"], {key})[0].allowed  # type: ignore[arg-type]


def test_an_evaluation_param_counts_only_when_named() -> None:
    candidate = replace(BASE, params={**BASE.params, "val_split": 0.3})
    assert differences(candidate, BASE, [], set()) == []


def test_allow_different_names_only_what_is_compared() -> None:
    assert check_allowed_keys(["dataset,image", " profile "], ["val_split"]) == {"dataset", "image", "profile"}
    assert check_allowed_keys(["val_split"], ["val_split"]) == {"val_split"}
    with pytest.raises(UsageError) as caught:
        check_allowed_keys(["datset"], ["val_split"])
    assert "datset" in caught.value.message and "dataset, dataset_digest, profile, image, val_split" in str(
        caught.value.hint
    )
