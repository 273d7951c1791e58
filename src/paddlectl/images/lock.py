"""Hash-locked requirements files (images/requirements-*.lock): parse them and pick the lines for one Python.

The lock is pip's own format, as pip-compile --generate-hashes writes it: `name==version [; marker]` followed by one
or more `--hash=sha256:...`, continued with backslashes. pip evaluates markers inside the image; the host needs the
same answer to download the right wheels, and `pip download --python-version` evaluates markers against the host's
own interpreter instead. So markers are evaluated here (packaging.markers) against the *image's* environment, never
the host's, and may name only `python_version`: that is all images/lock.py writes, and enough to say "these Python
versions".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import InvalidMarker
from packaging.markers import Marker as PEP508Marker

from paddlectl.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.!+_-]*")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_MARKER_KEYWORDS = frozenset({"and", "or", "in", "not"})
SUPPORTED_VARIABLES = frozenset({"python_version"})


def normalize_name(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_environment(python: str, machine: str = "x86_64") -> dict[str, str]:
    """PEP 508's marker variables inside a Linux CPython `python` ("3.11") image on `machine`.

    Every variable is given: Marker.evaluate fills in any that is missing from the interpreter running it, which is
    the host's. Those paddlectl cannot know for an image (its kernel, its exact patch release) are empty; markers
    may not name them anyway (SUPPORTED_VARIABLES).
    """
    return {
        "implementation_name": "cpython",
        "implementation_version": python,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": python,
        "python_version": python,
        "sys_platform": "linux",
    }


@dataclass(frozen=True)
class Marker:
    """A requirement's PEP 508 environment marker, naming only SUPPORTED_VARIABLES."""

    text: str
    parsed: PEP508Marker

    @classmethod
    def parse(cls, text: str, where: str) -> Marker:
        """Raises UsageError for a marker that is not PEP 508, or that names another variable than python_version."""
        text = text.strip()
        hint = 'markers may only compare python_version with "X.Y" (regenerate with images/lock.py)'
        try:
            parsed = PEP508Marker(text)
        except InvalidMarker as exc:
            reason = str(exc).splitlines()[0]
            raise UsageError(f"{where}: unsupported marker {text!r}: {reason}", hint=hint) from None
        # The marker parsed, so every word outside its quoted values is a variable or and/or/in/not.
        named = set(_WORD.findall(_QUOTED.sub(" ", text))) - _MARKER_KEYWORDS
        if named - SUPPORTED_VARIABLES:
            unsupported = ", ".join(sorted(named - SUPPORTED_VARIABLES))
            raise UsageError(f"{where}: unsupported marker {text!r} (it names {unsupported})", hint=hint)
        return cls(text=text, parsed=parsed)

    def matches(self, python: str, machine: str = "x86_64") -> bool:
        """Does the marker hold inside an image with Python `python` ("3.11") on `machine`?"""
        return self.parsed.evaluate(image_environment(python, machine))


@dataclass(frozen=True)
class LockedRequirement:
    name: str  # normalized
    version: str
    hashes: frozenset[str]
    marker: Marker | None = None
    line: int = 0

    def applies_to(self, python: str, machine: str = "x86_64") -> bool:
        return self.marker is None or self.marker.matches(python, machine)

    def pip_line(self) -> str:
        """The line for a marker-free requirements file: `name==version --hash=... ...`."""
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in sorted(self.hashes))
        return f"{self.name}=={self.version} {hashes}"


@dataclass(frozen=True)
class LockFile:
    path: Path
    sha256: str  # of the file's bytes: part of every cache key and image tag built from it
    requirements: tuple[LockedRequirement, ...]

    def for_python(self, python: str, machine: str = "x86_64") -> list[LockedRequirement]:
        """The requirements that apply to an image with Python `python` ("3.11") on `machine`; one per package,
        or a UsageError."""
        chosen = [requirement for requirement in self.requirements if requirement.applies_to(python, machine)]
        seen: dict[str, LockedRequirement] = {}
        for requirement in chosen:
            if requirement.name in seen:
                raise UsageError(
                    f"{self.path.name}: {requirement.name} is locked twice for Python {python} "
                    f"(lines {seen[requirement.name].line} and {requirement.line})",
                    hint="regenerate the lock with images/lock.py",
                )
            seen[requirement.name] = requirement
        return chosen


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined and comments dropped."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        pending += line
        if pending.strip():
            lines.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def parse_lock(text: str, path: Path) -> LockFile:
    """Every line must pin one version (`==`) with at least one sha256; raises UsageError naming file and line."""
    requirements = []
    for number, line in _logical_lines(text):
        where = f"{path.name} line {number}"
        head, sep, tail = line.partition("--hash=")
        options = sep + tail
        hashes = _HASH.findall(options)
        leftover = _HASH.sub("", options).strip()
        if not hashes or leftover:
            raise UsageError(
                f"{where}: every requirement needs a pip --hash=sha256:<64 hex> and nothing else ({line[:80]!r})",
                hint="regenerate the lock with images/lock.py",
            )
        requirement, _, marker_text = head.partition(";")
        name, eq, version = requirement.strip().partition("==")
        name, version = name.strip(), version.strip()
        if not eq or not _NAME.fullmatch(name) or not _VERSION.fullmatch(version):
            raise UsageError(
                f"{where}: {requirement.strip()!r} does not pin one version with '=='",
                hint="a lock pins every package exactly: name==1.2.3",
            )
        marker = Marker.parse(marker_text, where) if marker_text.strip() else None
        requirements.append(LockedRequirement(normalize_name(name), version, frozenset(hashes), marker, number))
    return LockFile(
        path=path, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), requirements=tuple(requirements)
    )


def load_lock(path: Path) -> LockFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", hint="restore it from paddlectl's sources") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text", hint="regenerate it with images/lock.py") from exc
    return parse_lock(text, path)
