"""Hash-locked requirements files (images/requirements-*.lock): parse them and pick the lines for one Python.

The lock is pip's own format, as pip-compile --generate-hashes writes it: `name==version [; marker]` followed by one
or more `--hash=sha256:...`, continued with backslashes. pip evaluates markers inside the image; the host needs the
same answer to download the right wheels, and `pip download --python-version` evaluates markers against the host's
own interpreter instead. So this module reads the one marker form images/lock.py writes: `python_version OP "X.Y"`
clauses joined by `and` / `or` (no parentheses), which is enough to say "these Python versions".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.!+_-]*")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
_CLAUSE = re.compile(r'python_version\s*(==|!=|<=|>=|<|>)\s*["\'](\d+)\.(\d+)["\']')


def normalize_name(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_key(python: str) -> tuple[int, int]:
    major, _, minor = python.partition(".")
    return int(major), int(minor or 0)


@dataclass(frozen=True)
class Marker:
    """`python_version` clauses: a disjunction of conjunctions, [[(op, (major, minor)), ...], ...]."""

    text: str
    alternatives: tuple[tuple[tuple[str, tuple[int, int]], ...], ...]

    @classmethod
    def parse(cls, text: str, where: str) -> Marker:
        alternatives = []
        for alternative in re.split(r"\s+or\s+", text.strip()):
            clauses = []
            for clause in re.split(r"\s+and\s+", alternative.strip()):
                match = _CLAUSE.fullmatch(clause.strip())
                if match is None:
                    raise UsageError(
                        f"{where}: unsupported marker {clause.strip()!r}",
                        hint='markers may only compare python_version with "X.Y" (regenerate with images/lock.py)',
                    )
                clauses.append((match.group(1), (int(match.group(2)), int(match.group(3)))))
            alternatives.append(tuple(clauses))
        return cls(text=text.strip(), alternatives=tuple(alternatives))

    def matches(self, python: str) -> bool:
        version = _version_key(python)
        compare = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }
        return any(all(compare[op](version, bound) for op, bound in clauses) for clauses in self.alternatives)


@dataclass(frozen=True)
class LockedRequirement:
    name: str  # normalized
    version: str
    hashes: frozenset[str]
    marker: Marker | None = None
    line: int = 0

    def applies_to(self, python: str) -> bool:
        return self.marker is None or self.marker.matches(python)

    def pip_line(self) -> str:
        """The line for a marker-free requirements file: `name==version --hash=... ...`."""
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in sorted(self.hashes))
        return f"{self.name}=={self.version} {hashes}"


@dataclass(frozen=True)
class LockFile:
    path: Path
    sha256: str  # of the file's bytes: part of every cache key and image tag built from it
    requirements: tuple[LockedRequirement, ...]

    def for_python(self, python: str) -> list[LockedRequirement]:
        """The requirements that apply to Python `python` ("3.11"); one per package, or a UsageError."""
        chosen = [requirement for requirement in self.requirements if requirement.applies_to(python)]
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
                f"{where}: every requirement needs --hash=sha256:<64 hex> and nothing else ({line[:80]!r})",
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
