"""What a package is made of: its file name, the names inside it, and the rules those names follow."""

from __future__ import annotations

import re

from paddlectl.errors import UsageError
from paddlectl.foundation.enums import TextEnum

# Why no compression, measured on 2 cores: on float32 weights zlib level 1 runs at 43-62 MB/s and saves 7%
# (level 6: 36-57 MB/s, 7.4%; xz preset 0: 9 MB/s, 8%), so gzip alone would take ~20 s for 1 GiB against ~2.5 s for
# the `tar -cf - | sha256sum` baseline. A package is therefore a plain, uncompressed tar.
ARCHIVE_SUFFIX = ".tar"
CARD_NAME = "MODEL.yaml"
SUMS_NAME = "SHA256SUMS"
SIG_NAME = "SHA256SUMS.sig"
# The run's provenance, for `paddlectl reproduce NAME@VERSION` from the package alone: the run's manifest as
# recorded (secrets already masked) and its uncommitted patch. Plain names, since a member is one path component.
RUN_RECORD_NAME = "RUN.yaml"
RUN_PATCH_NAME = "RUN.patch"
PROVENANCE_NAMES = frozenset({RUN_RECORD_NAME, RUN_PATCH_NAME})
RESERVED_NAMES = frozenset({CARD_NAME, SUMS_NAME, SIG_NAME, *PROVENANCE_NAMES})
CHUNK_SIZE = 1 << 20

_PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
# semver.org's own pattern: MAJOR.MINOR.PATCH, optional -prerelease and +build.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
# One path component, ASCII, no leading dot: no "..", no "/", no "\\", no NUL, no hidden files.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
MAX_MEMBER_NAME = 100  # fits a ustar name field, so headers never need pax or GNU extensions


def validate_package_name(name: str) -> str:
    if len(name) > 100 or not _PACKAGE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid package name {name!r}",
            hint="use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return name


def validate_version(version: str) -> str:
    if len(version) > 100 or not _SEMVER.fullmatch(version):
        raise UsageError(f"invalid version {version!r}: not semantic (X.Y.Z)", hint="e.g. --version 1.0.0")
    return version


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}{ARCHIVE_SUFFIX}"


def unsafe_name_reason(name: str) -> str | None:
    """Why `name` may not be a member of a package (None when it may): one plain component, nothing else."""
    if not name:
        return "empty name"
    if name.startswith(("/", "\\")):
        return "absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "'..' component"
    if "/" in name or "\\" in name:
        return "a path, not a plain file name"
    if len(name) > MAX_MEMBER_NAME or not _MEMBER_NAME.fullmatch(name):
        return "not a plain file name"
    return None


# What each export format must contain, by suffix (paddle.jit.save writes model.json or model.pdmodel, plus
# model.pdiparams; see paddle-facts.md).
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "pir-json": (".json", ".pdiparams"),
    "pdmodel": (".pdmodel", ".pdiparams"),
}


def format_problem(model_format: object, names: list[str]) -> str | None:
    """Why `names` cannot be an inference model of `model_format` (None when they can)."""
    if model_format not in FORMAT_SUFFIXES:
        return f"unknown format {model_format!r} (known: {', '.join(FORMAT_SUFFIXES)})"
    missing = [suffix for suffix in FORMAT_SUFFIXES[str(model_format)] if not any(n.endswith(suffix) for n in names)]
    if missing:
        return f"format {model_format} needs a {' and a '.join(missing)} file"
    return None


class ModelStatus(TextEnum):
    """A package's status as its card states it (the registry keeps the authoritative one per version)."""

    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


def parse_status(text: str) -> ModelStatus:
    try:
        return ModelStatus(text)
    except ValueError:
        raise UsageError(
            f"invalid status {text!r}", hint="use one of: " + ", ".join(s.value for s in ModelStatus)
        ) from None
