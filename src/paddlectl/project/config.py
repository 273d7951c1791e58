"""paddlectl.yaml: the project's image pins, defaults and export spec, validated against project/schema.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import exponent_floats, load_config_yaml
from paddlectl.project.defaults import (
    CONFIG_NAME,
    DEFAULT_CPU_IMAGE,
    DEFAULT_GPU_IMAGE,
    DEFAULT_GPUS,
    DEFAULT_SHM_SIZE,
    STORE_NAME,
)

if TYPE_CHECKING:
    from paddlectl.project.schema import ConfigDocument, ExportInput

__all__ = [
    "CONFIG_NAME",
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "DEFAULT_SHM_SIZE",
    "STORE_NAME",
    "ExportConfig",
    "InputSpec",
    "ProfileConfig",
    "ProjectConfig",
    "load_config",
    "parse_config",
    "parse_input_specs",
]


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
class ProfileConfig:
    """`profiles.NAME`: params laid over train.params (typed the same way), and the GPUs (None: train.gpus)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    gpus: str | None = None


@dataclass(frozen=True)
class ProjectConfig:
    name: str
    cpu_image: str = DEFAULT_CPU_IMAGE
    gpu_image: str = DEFAULT_GPU_IMAGE
    gpus: str = DEFAULT_GPUS
    shm_size: str = DEFAULT_SHM_SIZE
    params: dict[str, Any] = field(default_factory=dict)
    export: ExportConfig = field(default_factory=ExportConfig)
    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    path: Path | None = None
    validated: ConfigDocument | None = field(default=None, repr=False)

    def image_for(self, gpus: str) -> str:
        return self.cpu_image if gpus == "none" else self.gpu_image

    def profile(self, name: str) -> ProfileConfig:
        """`profiles.NAME`; UsageError naming the profiles there are when there is none of that name."""
        found = self.profiles.get(name)
        if found is not None:
            return found
        where = str(self.path) if self.path is not None else CONFIG_NAME
        have = ", ".join(sorted(self.profiles))
        raise UsageError(
            f"no profile '{name}' in {where}",
            hint=f"its profiles are: {have}" if have else f"add one: profiles: {{{name}: {{params: {{epochs: 1}}}}}}",
        )

    @property
    def document(self) -> ConfigDocument:
        """Every section as validated, defaults filled in; sections added later are read from here."""
        if self.validated is not None:
            return self.validated
        from paddlectl.project.schema import ConfigDocument

        return ConfigDocument()


def parse_input_specs(items: Any, source: str = CONFIG_NAME, text: str | None = None) -> tuple[InputSpec, ...]:
    """export.inputs (a list of {name, dtype, shape}) as InputSpecs; UsageError naming the entry and its line."""
    from paddlectl.project.schema import ExportInput
    from paddlectl.project.validation import convert

    inputs = convert(items if items is not None else [], list[ExportInput], source=source, text=text, at=_INPUTS)
    return _input_specs(inputs)


def parse_config(document: Any, path: Path, text: str | None = None) -> ProjectConfig:
    """Validate a parsed paddlectl.yaml and build its ProjectConfig; one-line UsageErrors (with lines given `text`)."""
    from paddlectl.project.schema import ConfigDocument
    from paddlectl.project.validation import convert

    source = str(path)
    config = convert(document if document is not None else {}, ConfigDocument, source=source, text=text)
    train, export = config.train, config.export
    return ProjectConfig(
        name=str(config.project) if config.project not in (None, "") else path.parent.name,
        cpu_image=config.images.cpu,
        gpu_image=config.images.gpu,
        gpus=str(train.gpus),
        shm_size=str(train.shm_size),
        params=_scalar_params(train.params, source, text),
        export=ExportConfig(
            model=export.model,
            model_args=dict(export.model_args),
            inputs=_input_specs(export.inputs),
            weights=export.weights,
        ),
        profiles={
            name: ProfileConfig(
                name=name,
                params=_scalar_params(profile.params, source, text, at=("profiles", name, "params")),
                gpus=None if profile.gpus is None else str(profile.gpus),
            )
            for name, profile in config.profiles.items()
        },
        path=path,
        validated=config,
    )


def load_config(path: Path) -> ProjectConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text", hint=f"save {path.name} as UTF-8") from exc
    return parse_config(load_config_yaml(text, str(path)), path, text)


_INPUTS = ("export", "inputs")
_TRAIN_PARAMS = ("train", "params")


def _as_params(text: str, source: str, at: tuple[str, ...]) -> dict[str, Any]:
    """The params mapping at `at` (train.params, profiles.NAME.params) read again with the params typing (the
    rest of the file keeps YAML's)."""
    from paddlectl.foundation.yamlio import load_params_yaml

    found: Any = load_params_yaml(text, source)
    for key in at:
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def _input_specs(inputs: list[ExportInput]) -> tuple[InputSpec, ...]:
    return tuple(
        InputSpec(name=item.name, dtype=item.dtype, shape=tuple(-1 if dim is None else dim for dim in item.shape))
        for item in inputs
    )


def _scalar_params(
    values: dict[str, Any], source: str, text: str | None, at: tuple[str, ...] = _TRAIN_PARAMS
) -> dict[str, Any]:
    """train.params (or a profile's params): scalars only (dates as ISO text), typed as `-p` values are: exponent
    floats such as `1e-3` read as floats, and a number whose typed text would not print back (`ver: 1.10`) kept
    as that text."""
    from paddlectl.project.validation import located_error, python_type_word

    if text is not None:
        typed = _as_params(text, source, at)
        values = {key: typed.get(key, value) for key, value in values.items()}
    params: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, str | int | float | bool | dt.date):
            kind = python_type_word(value)
            raise located_error(
                f"{'.'.join(at)}.{key} must be a scalar (text, a number, true/false or null), not {kind}",
                source=source,
                text=text,
                at=(*at, key),
                hint=f"flatten it, e.g. {key}_depth: 3, or quote it as a string",
            )
        params[key] = value.isoformat() if isinstance(value, dt.date) else value  # datetime is a date too
    return exponent_floats(params)
