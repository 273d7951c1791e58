"""Training params: `-p key=value`, params files, config defaults, and how they reach the script's argv.

Typing of a `-p` value (the text after the first `=`):
- empty -> "" ; `null`, `Null`, `NULL`, `~` -> None ; `true`/`false` (any YAML case) -> bool;
- plain decimal ints (`3`, `-2`, `+3`, `1_000`) -> int, but a decimal with a leading zero (`007`) stays a string;
- YAML floats and exponent forms YAML 1.1 misses (`0.01`, `1e-3`, `3e4`, `1.0e5`, `.5`, `.inf`) -> float;
- a quoted value (`'[1, 2]'`, `"007"`) -> the quoted string; other unquoted text -> the string as typed.
`yes`/`no`/`on`/`off`, sexagesimal `1:30` and dates stay strings on the command line (YAML 1.1 would turn
them into bools, ints and dates, which surprises people typing `-p country=no`). A value that is a list or a
mapping is refused: params are scalars.

A number keeps the text you typed, as a string, when the number would print differently in a way that loses
something you typed. The script gets `--ver 1.10`, never `--ver 1.1`:
- a float that would drop typed digits: a zero ending the fraction (`1.10`, `2.50`, `1.00`, `1.50e-3`) or more
  digits than a float holds (`0.30000000000000000001`). `1.0` stays the float 1.0 (it prints as typed);
- an int written in another base or form: `0x1f`, `0b101`, `017`, `1:30` (the script may read it with its own
  base: `int("0x1f", 16)` works, `int("31", 16)` is 49).
A float that only changes its spelling stays a float, because nothing typed is lost and scripts reading the
params file need a number: `1e-3` is passed as `0.001`, `3e4` as `30000.0`, `.5` as `0.5`. Digit separators are
spelling too: `1_000` is the int 1000. An explicit tag (`!!float 1.10`) is obeyed. The rule is the same in
params files (`--params-file`). ResolvedParams.types records the type each value ended up with (`str`, `int`,
`float`, `bool`, `null`), so a kept `1.10` is recorded as the string it is.

Params files are YAML (or JSON for `*.json`) with YAML 1.1 typing and the rule above, except that exponent
floats (`1e-3`) are floats there too; dates become ISO strings. JSON numbers are taken as JSON types them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import load_params_yaml

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_OPTIONS = ("--env", "-e")
_LEADING_ZERO_DECIMAL = re.compile(r"[-+]?0[0-9_]+")
_NULL_SPELLINGS = ("~", "null", "Null", "NULL")
_QUOTE_OR_TAG = ("'", '"', "!")

Scalar = str | int | float | bool | None


def _quote_hint(key: str, value: str) -> str:
    return f"quote it (inside shell quotes) to pass it as a string, e.g. -p \"{key}='{value}'\""


def _scalar_from_text(value: str, where: str, key: str) -> Scalar:
    """Type one `-p` value (see the module docstring for the rules)."""
    if value == "":
        return ""
    stripped = value.strip()
    try:
        parsed = load_params_yaml(value, where)
    except UsageError:
        if stripped.startswith(("[", "{")):
            raise UsageError(
                f"{where} {key}: {value!r} is not a valid list or mapping, and params are scalars anyway",
                hint=_quote_hint(key, value),
            ) from None
        return value  # `@home`, `*.jpg`, `%x` and friends: YAML refuses them, a string is what was meant
    if isinstance(parsed, list | dict | set):
        raise UsageError(
            f"{where} {key}: params are scalars, not a {type(parsed).__name__}",
            hint=_quote_hint(key, value),
        )
    if isinstance(parsed, bool):
        return parsed if stripped.lower() in ("true", "false") else value
    if parsed is None:
        return None if stripped in _NULL_SPELLINGS else value
    if isinstance(parsed, int):
        return value if ":" in stripped or _LEADING_ZERO_DECIMAL.fullmatch(stripped) else parsed
    if isinstance(parsed, float):
        return value if ":" in stripped else parsed
    if isinstance(parsed, str):
        return parsed if stripped.startswith(_QUOTE_OR_TAG) else value
    return value  # dates, timestamps, !!binary: keep the text


def parse_assignment(text: str, option: str = "-p") -> tuple[str, Any]:
    """Parse `key=value` from `-p` into a key and a typed scalar.

    Raises UsageError for a missing `=`, a bad key, or a list/mapping value.
    """
    key, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"{option} {text!r} has no '='", hint="use -p key=value, e.g. -p lr=0.01")
    if not KEY_PATTERN.fullmatch(key):
        raise UsageError(
            f"{option} {text!r}: {key!r} is not a valid param name",
            hint="names start with a letter or _ and hold letters, digits, _, . or -, e.g. -p lr=0.01",
        )
    return key, _scalar_from_text(value, option, key)


def repeated_keys(assignments: Iterable[str]) -> list[str]:
    """The keys `-p KEY=VALUE` sets more than once (the last one wins: worth a warning, a typo often)."""
    keys = [text.partition("=")[0].strip() for text in assignments]
    return sorted({key for key in keys if key and keys.count(key) > 1})


def _file_scalar(value: Any, key: str, source: str) -> Scalar:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UsageError(
        f"{source}: param {key!r} is a {type(value).__name__}; params are scalars",
        hint=f"flatten it, e.g. {key}.depth: 3, or quote it as a string in {source}",
    )


def _scalar_mapping(document: Any, source: str) -> dict[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise UsageError(
            f"{source} must hold a mapping of params, not a {type(document).__name__}",
            hint=f"write one 'name: value' per line in {source}, e.g. lr: 0.01",
        )
    values: dict[str, Any] = {}
    for key, value in document.items():
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise UsageError(
                f"{source}: {key!r} is not a valid param name",
                hint="names start with a letter or _ and hold letters, digits, _, . or -",
            )
        values[key] = _file_scalar(value, key, source)
    return values


def load_params_file(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON file holding a flat mapping of scalar params.

    Raises UsageError naming the file when it is missing, unreadable, not a mapping or holds nested values.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"params file {source} not found", hint="check the path given to --params-file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"cannot read params file {source}: {reason}", hint="pass a readable YAML or JSON file"
        ) from None
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
                hint=f"fix {source}",
            ) from None
        except RecursionError:
            raise UsageError(f"{source} is not valid JSON: nested too deeply", hint=f"fix {source}") from None
    else:
        document = load_params_yaml(text, source)
    return _scalar_mapping(document, source)


def type_name(value: Any) -> str:
    """The type a param value has, as recorded: `str`, `int`, `float`, `bool` or `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return type(value).__name__ if isinstance(value, int | float | str) else "str"


@dataclass
class ResolvedParams:
    """The params a run gets, where each value came from ("config", "profile:<name>", "file:<path>" or "cli") and
    its type.

    `types` is filled from the values when not given (see type_name).
    """

    values: dict[str, Any]
    sources: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.types:
            self.types = {key: type_name(value) for key, value in self.values.items()}


def resolve_params(
    defaults: Mapping[str, Any],
    params_file: Path | None,
    assignments: list[str],
    profile: tuple[str, Mapping[str, Any]] | None = None,
) -> ResolvedParams:
    """Layer config defaults, then a profile's params (source `profile:NAME`), then the params file, then `-p`
    assignments (last one wins).

    Raises UsageError for a bad file, a bad assignment, or a nested config default.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in _scalar_mapping(dict(defaults), "paddlectl.yaml train.params").items():
        values[key], sources[key] = value, "config"
    if profile is not None:
        name, profile_values = profile
        for key, value in _scalar_mapping(dict(profile_values), f"paddlectl.yaml profiles.{name}.params").items():
            values[key], sources[key] = value, f"profile:{name}"
    if params_file is not None:
        for key, value in load_params_file(params_file).items():
            values[key], sources[key] = value, f"file:{params_file}"
    for text in assignments:
        key, value = parse_assignment(text, "-p")
        values[key], sources[key] = value, "cli"
    return ResolvedParams(values=values, sources=sources)


def render_value(value: Any) -> str:
    """A param value as argv text: bools `true`/`false`, floats by repr (`0.001`, `1e-05`), others by str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def params_to_args(values: Mapping[str, Any]) -> list[str]:
    """Render params as `--key value` pairs in key order, for the script's argparse.

    - bools become `true` / `false`: read them with `type=lambda s: s.lower() == "true"`;
    - None (null) leaves the option out, so the script's own argparse default applies;
    - a value starting with `-` is passed as `--key=-value`, so argparse does not take it for an option;
    - keys are used as written (`batch_size` -> `--batch_size`; argparse does not turn `_` into `-` in flags).
    """
    args: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        text = render_value(value)
        if text.startswith("-"):
            args.append(f"--{key}={text}")
        else:
            args.extend((f"--{key}", text))
    return args


def parse_key_value(text: str, option: str, *, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Parse a string-valued `key=value` (`--label`); for `--env`/`-e`, `KEY=VALUE` or a bare `KEY`.

    A bare `KEY` for `--env` takes KEY's value from `environ` (default: this process's environment).
    Raises UsageError for a missing `=` (labels), a bad name, or a bare env name that is not set.
    """
    key, sep, value = text.partition("=")
    if option in ENV_OPTIONS:
        if not ENV_NAME_PATTERN.fullmatch(key):
            raise UsageError(
                f"{option} {text!r}: {key!r} is not a valid environment variable name",
                hint="names hold letters, digits and _, not starting with a digit, e.g. --env HF_HOME=/data",
            )
        if not sep:
            source = os.environ if environ is None else environ
            if key not in source:
                raise UsageError(
                    f"{option} {key}: {key} is not set in your environment",
                    hint=f"export {key} first, or pass a value: {option} {key}=VALUE",
                )
            return key, source[key]
        return key, value
    if not sep:
        raise UsageError(f"{option} {text!r} has no '='", hint=f"use {option} key=value, e.g. {option} team=vision")
    if not KEY_PATTERN.fullmatch(key):
        raise UsageError(
            f"{option} {text!r}: {key!r} is not a valid name",
            hint="names start with a letter or _ and hold letters, digits, _, . or -",
        )
    return key, value
