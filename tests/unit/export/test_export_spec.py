"""Parsing what export is told: --input specs, --model-arg values, --sample-shape, the factory name."""

from __future__ import annotations

import pytest

from paddlectl.errors import UsageError
from paddlectl.export.spec import (
    parse_input_option,
    parse_model_args,
    parse_sample_shapes,
    resolve_sample_shapes,
    validate_factory,
    validate_inputs,
)
from paddlectl.project.config import InputSpec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x:float32:-1,3,224,224", InputSpec("x", "float32", (-1, 3, 224, 224))),
        ("ids:int64:?,128", InputSpec("ids", "int64", (-1, 128))),
        ("mask:bool:2, 5", InputSpec("mask", "bool", (2, 5))),
        ("img:uint8:1,3,8,8", InputSpec("img", "uint8", (1, 3, 8, 8))),
    ],
)
def test_input_option_parses(text: str, expected: InputSpec) -> None:
    assert parse_input_option(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x:float32", "name:dtype:shape"),
        ("x:float33:1,2", "dtype 'float33'"),
        ("x:float32:1,a", "'a' is not a dimension"),
        ("x:float32:0,3", "must be positive"),
        ("x:float32:", "no shape"),
        ("1x:float32:1", "not a valid input name"),
        ("x:float32:1:2", "name:dtype:shape"),
    ],
)
def test_bad_input_option_is_a_usage_error(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_input_option(text)
    assert fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_model_args_are_typed_as_yaml() -> None:
    args = parse_model_args(["num_classes=10", "scale=0.5", "pretrained=false", "name=resnet", "widths=[8, 16]"])
    assert args == {"num_classes": 10, "scale": 0.5, "pretrained": False, "name": "resnet", "widths": [8, 16]}
    assert isinstance(args["num_classes"], int)


def test_model_arg_value_keeps_equals_and_yaml_dates_become_text() -> None:
    assert parse_model_args(["expr=a=b", "day=2026-11-22"]) == {"expr": "a=b", "day": "2026-11-22"}


@pytest.mark.parametrize("item", ["num_classes", "=3", "two words=1", "1abc=2"])
def test_bad_model_arg_is_a_usage_error(item: str) -> None:
    with pytest.raises(UsageError, match="name=value"):
        parse_model_args([item])


def test_model_arg_with_python_tag_is_refused() -> None:
    with pytest.raises(UsageError, match="not valid YAML"):
        parse_model_args(["x=!!python/object/apply:os.system ['true']"])


@pytest.mark.parametrize("factory", ["model:build_model", "paddle.vision.models:resnet18", "pkg.mod:Factory.create"])
def test_valid_factories(factory: str) -> None:
    assert validate_factory(factory) == factory


@pytest.mark.parametrize("factory", [None, "", "model", "model:", ":build", "my-model:build", "m:1x"])
def test_invalid_factories(factory: str | None) -> None:
    with pytest.raises(UsageError):
        validate_factory(factory)


INPUTS = (InputSpec("x", "float32", (-1, 1, 8, 8)), InputSpec("len", "int64", (-1,)))


def test_sample_shapes_default_the_batch_to_one() -> None:
    assert resolve_sample_shapes(INPUTS, {}) == {"x": (1, 1, 8, 8), "len": (1,)}


def test_given_sample_shape_wins() -> None:
    given = parse_sample_shapes(["x:4,1,8,8"], INPUTS)
    assert resolve_sample_shapes(INPUTS, given) == {"x": (4, 1, 8, 8), "len": (1,)}


def test_dynamic_non_batch_dim_needs_a_sample_shape() -> None:
    inputs = (InputSpec("x", "float32", (-1, 3, -1, -1)),)
    with pytest.raises(UsageError) as caught:
        resolve_sample_shapes(inputs, {})
    assert "dimensions 2, 3" in caught.value.message
    assert caught.value.hint is not None and "--sample-shape x:1,3,1,1" in caught.value.hint
    assert resolve_sample_shapes(inputs, parse_sample_shapes(["x:2,3,32,48"], inputs)) == {"x": (2, 3, 32, 48)}


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("y:1,1,8,8", "no input named 'y'"),
        ("x:1,3,8,8", "does not fit"),
        ("x:1,1,8", "does not fit"),
        ("x:-1,1,8,8", "concrete"),
        ("x", "not name:shape"),
    ],
)
def test_bad_sample_shape(item: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_sample_shapes([item], INPUTS)
    assert fragment in caught.value.message


def test_config_inputs_are_validated() -> None:
    with pytest.raises(UsageError, match="declared twice"):
        validate_inputs((INPUTS[0], INPUTS[0]), "export.inputs")
    with pytest.raises(UsageError, match="dtype 'complex64'"):
        validate_inputs((InputSpec("x", "complex64", (1,)),), "export.inputs")
    with pytest.raises(UsageError, match="at least one dimension"):
        validate_inputs((InputSpec("x", "float32", ()),), "export.inputs")
