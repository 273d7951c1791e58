"""paddlectl.yaml: the project's image pins, defaults and export spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import exponent_floats, load_yaml

CONFIG_NAME = "paddlectl.yaml"
STORE_NAME = ".paddlectl"
DEFAULT_CPU_IMAGE = "paddlepaddle/paddle:3.2.0"
DEFAULT_GPU_IMAGE = "paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5"
DEFAULT_SHM_SIZE = "2g"


@dataclass(frozen=True)
class InputSpec:
    """One model input: name, dtype and shape (-1 or None for a dynamic dimension)."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ExportConfig:
    model: str | None = None  # "package.module:callable", importable from the project root
    model_args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[InputSpec, ...] = ()
    weights: str | None = None  # path inside the run's output directory; default: the one *.pdparams


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    cpu_image: str = DEFAULT_CPU_IMAGE
    gpu_image: str = DEFAULT_GPU_IMAGE
    gpus: str = "none"
    shm_size: str = DEFAULT_SHM_SIZE
    params: dict[str, Any] = field(default_factory=dict)
    export: ExportConfig = field(default_factory=ExportConfig)
    path: Path | None = None

    def image_for(self, gpus: str) -> str:
        return self.cpu_image if gpus == "none" else self.gpu_image


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping, not {type(value).__name__}", hint=f"fix {where}")
    return value


def parse_input_specs(items: Any, where: str) -> tuple[InputSpec, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise UsageError(f"{where} must be a list of inputs", hint="e.g. - {name: x, dtype: float32, shape: [-1, 8]}")
    specs = []
    for index, item in enumerate(items):
        entry = _mapping(item, f"{where}[{index}]")
        shape = entry.get("shape")
        if not isinstance(entry.get("name"), str) or not isinstance(shape, list):
            raise UsageError(f"{where}[{index}] needs a name and a shape list", hint="e.g. {name: x, shape: [-1, 8]}")
        try:
            dims = tuple(-1 if d is None else int(d) for d in shape)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: `.inf`
            raise UsageError(f"{where}[{index}].shape must hold integers, -1 or null") from exc
        specs.append(InputSpec(name=entry["name"], dtype=str(entry.get("dtype", "float32")), shape=dims))
    return tuple(specs)


def parse_config(document: Any, path: Path) -> ProjectConfig:
    """Build a ProjectConfig from a parsed paddlectl.yaml, with one-line errors for wrong shapes."""
    where = path.name
    root = _mapping(document, where)
    images = _mapping(root.get("images"), f"{where}: images")
    train = _mapping(root.get("train"), f"{where}: train")
    export = _mapping(root.get("export"), f"{where}: export")
    return ProjectConfig(
        name=str(root.get("project") or path.parent.name),
        cpu_image=str(images.get("cpu", DEFAULT_CPU_IMAGE)),
        gpu_image=str(images.get("gpu", DEFAULT_GPU_IMAGE)),
        gpus=str(train.get("gpus", "none")),
        shm_size=str(train.get("shm_size", DEFAULT_SHM_SIZE)),
        params=exponent_floats(_mapping(train.get("params"), f"{where}: train.params")),
        export=ExportConfig(
            model=export.get("model"),
            model_args=_mapping(export.get("model_args"), f"{where}: export.model_args"),
            inputs=parse_input_specs(export.get("inputs"), f"{where}: export.inputs"),
            weights=export.get("weights"),
        ),
        path=path,
    )


def load_config(path: Path) -> ProjectConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text", hint=f"save {path.name} as UTF-8") from exc
    return parse_config(load_yaml(text, str(path)), path)
