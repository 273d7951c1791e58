"""What `paddlectl export` is told about the model: factory, factory args, input specs and sample shapes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import load_yaml
from paddlectl.project.config import InputSpec

DTYPES = ("float32", "float16", "float64", "int32", "int64", "uint8", "bool")
DYNAMIC = -1
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_NAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
INPUT_EXAMPLE = "--input x:float32:-1,3,224,224"


def validate_factory(factory: str | None) -> str:
    """'pkg.module:callable' (the callable may be dotted); raises UsageError when missing or malformed."""
    if not factory:
        raise UsageError(
            "no model factory given", hint="pass --model module:callable (e.g. model:build_model) or set export.model"
        )
    module, sep, attr = factory.partition(":")
    if not sep or not _DOTTED.match(module) or not _DOTTED.match(attr):
        raise UsageError(
            f"model factory '{factory}' is not module:callable",
            hint="e.g. --model model:build_model or --model paddle.vision.models:resnet18",
        )
    return factory


def json_safe(value: Any) -> Any:
    """Model args as JSON carries them to the container; other YAML scalars (dates) become text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return str(value)  # YAML dates and the like: the factory gets the text


def parse_model_args(items: Iterable[str]) -> dict[str, Any]:
    """`k=v` pairs, each value typed as YAML (10 -> int, 0.5 -> float, true -> bool, text -> str)."""
    args: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(
                f"--model-arg '{item}' is not name=value",
                hint="e.g. --model-arg num_classes=10 (the name of a factory keyword argument)",
            )
        args[key] = json_safe(load_yaml(text, f"--model-arg {key}")) if text.strip() else ""
    return args


def _parse_dims(text: str, where: str) -> tuple[int, ...]:
    if not text.strip():
        raise UsageError(f"{where}: no shape", hint=f"e.g. {INPUT_EXAMPLE}")
    dims = []
    for raw in text.split(","):
        part = raw.strip()
        if part in ("?", "-1", "None", "null"):
            dims.append(DYNAMIC)
            continue
        try:
            dim = int(part)
        except ValueError:
            raise UsageError(
                f"{where}: '{part}' is not a dimension",
                hint="dimensions are positive integers, or -1 / ? for a dynamic one",
            ) from None
        if dim < 1:
            raise UsageError(f"{where}: dimension {dim} must be positive, or -1 / ? for a dynamic one")
        dims.append(dim)
    return tuple(dims)


def parse_input_option(text: str) -> InputSpec:
    """`name:dtype:d0,d1,...` with -1 or ? for a dynamic dimension."""
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"--input '{text}' is not name:dtype:shape", hint=f"e.g. {INPUT_EXAMPLE}")
    name, dtype, shape = (part.strip() for part in parts)
    where = f"--input {text}"
    spec = InputSpec(name=name, dtype=dtype, shape=_parse_dims(shape, where))
    _check_spec(spec, where)
    return spec


def _check_spec(spec: InputSpec, where: str) -> None:
    if not _NAME.match(spec.name):
        raise UsageError(f"{where}: '{spec.name}' is not a valid input name", hint="use letters, digits and _")
    if spec.dtype not in DTYPES:
        raise UsageError(f"{where}: dtype '{spec.dtype}' is not one of {', '.join(DTYPES)}")
    if not spec.shape:
        raise UsageError(f"{where}: an input needs at least one dimension", hint=f"e.g. {INPUT_EXAMPLE}")
    if any(dim != DYNAMIC and dim < 1 for dim in spec.shape):
        raise UsageError(f"{where}: shape {list(spec.shape)} has a dimension below 1 that is not -1")


def validate_inputs(specs: tuple[InputSpec, ...], where: str) -> tuple[InputSpec, ...]:
    """Dtypes, shapes and unique names for specs from the config (the CLI's are checked as parsed)."""
    seen: set[str] = set()
    for spec in specs:
        _check_spec(spec, f"{where} ({spec.name})")
        if spec.name in seen:
            raise UsageError(f"{where}: input '{spec.name}' is declared twice")
        seen.add(spec.name)
    return specs


def parse_sample_shapes(items: Iterable[str], inputs: tuple[InputSpec, ...]) -> dict[str, tuple[int, ...]]:
    """`name:d0,d1,...` concrete shapes for the verification samples, checked against the declared inputs."""
    by_name = {spec.name: spec for spec in inputs}
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, text = item.partition(":")
        where = f"--sample-shape {item}"
        if not sep:
            raise UsageError(f"{where}: not name:shape", hint="e.g. --sample-shape x:2,3,224,224")
        spec = by_name.get(name.strip())
        if spec is None:
            raise UsageError(f"{where}: no input named '{name}'", hint=f"inputs are: {', '.join(by_name)}")
        shape = _parse_dims(text, where)
        if DYNAMIC in shape:
            raise UsageError(f"{where}: a sample shape must be concrete (no -1 or ?)")
        if len(shape) != len(spec.shape) or any(
            want not in (DYNAMIC, got) for want, got in zip(spec.shape, shape, strict=True)
        ):
            raise UsageError(
                f"{where}: {list(shape)} does not fit the declared shape {list(spec.shape)}",
                hint="only the dynamic (-1) dimensions may differ",
            )
        shapes[spec.name] = shape
    return shapes


def resolve_sample_shapes(
    inputs: tuple[InputSpec, ...], given: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """A concrete shape per input: the given one, else the declared one with a dynamic batch (dim 0) set to 1."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in inputs:
        if spec.name in given:
            shapes[spec.name] = given[spec.name]
            continue
        dynamic = [index for index, dim in enumerate(spec.shape) if dim == DYNAMIC and index > 0]
        if dynamic:
            example = ",".join("1" if dim == DYNAMIC else str(dim) for dim in spec.shape)
            raise UsageError(
                f"input {spec.name} has dynamic dimension{'s' if len(dynamic) > 1 else ''} "
                f"{', '.join(map(str, dynamic))} besides the batch: the samples need a concrete size",
                hint=f"pass --sample-shape {spec.name}:{example} (with real sizes), or --inputs-file",
            )
        shapes[spec.name] = tuple(1 if dim == DYNAMIC else dim for dim in spec.shape)
    return shapes
