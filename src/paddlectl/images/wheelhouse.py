"""Wheelhouses: the locked wheels for one image's Python and platform, downloaded on the host and cached.

Containers cannot reach the package index (and air-gapped sites have none), so the host runs
`pip download --only-binary=:all: --python-version X.Y --platform manylinux_2_N_<arch> ... --require-hashes` and the
image build installs from the folder with `--no-index`. A wheelhouse lives in
`~/.cache/paddlectl/wheels/<lock hash>-<python>-<platform>/` and is reused while every locked hash is there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation.hashing import sha256_file
from paddlectl.images.lock import LockedRequirement, LockFile, normalize_name

MANIFEST = "wheelhouse.json"
_OLDEST_GLIBC_MINOR = {"x86_64": 5, "i686": 5}  # manylinux1 was glibc 2.5; newer architectures start at 2.17
_LEGACY = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
PipRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def cache_root() -> Path:
    """$PADDLECTL_CACHE, else $XDG_CACHE_HOME/paddlectl, else ~/.cache/paddlectl (as scripts/ use it)."""
    if os.environ.get("PADDLECTL_CACHE"):
        return Path(os.environ["PADDLECTL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paddlectl"


@dataclass(frozen=True)
class TargetPlatform:
    """Where wheels must run: the image's Python X.Y, CPU architecture and glibc version."""

    python: str  # "3.11"
    machine: str  # "x86_64", "aarch64"
    glibc: tuple[int, int]

    @property
    def platform_tag(self) -> str:
        return f"manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.machine}"

    def pip_platforms(self) -> list[str]:
        """Every manylinux tag this glibc runs, newest first (what pip itself accepts on that system), then any."""
        major, newest = self.glibc
        oldest = _OLDEST_GLIBC_MINOR.get(self.machine, 17)
        tags = []
        for minor in range(newest, oldest - 1, -1):
            tags.append(f"manylinux_{major}_{minor}_{self.machine}")
            if major == 2 and minor in _LEGACY:
                tags.append(f"{_LEGACY[minor]}_{self.machine}")
        return [*tags, "any"]

    def cache_key(self, lock: LockFile) -> str:
        return f"{lock.sha256[:16]}-py{self.python}-{self.platform_tag}"


def parse_glibc(libc: str, version: str) -> tuple[int, int]:
    """(2, 36) from platform.libc_ver()'s ('glibc', '2.36'); UsageError for musl or an unknown libc."""
    if libc != "glibc":
        raise UsageError(
            f"the image's C library is {libc or 'unknown'}, not glibc: manylinux wheels cannot run on it",
            hint="build on a glibc-based Paddle image (the official images are Ubuntu)",
        )
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError as exc:
        raise UsageError(f"cannot read the image's glibc version {version!r}") from exc


@dataclass(frozen=True)
class Wheelhouse:
    path: Path
    key: str
    files: tuple[str, ...]
    downloaded: bool  # False: reused from the cache


def _wheel_name(filename: str) -> str:
    return normalize_name(filename.split("-", 1)[0])


def missing_requirements(folder: Path, requirements: Sequence[LockedRequirement]) -> list[str]:
    """`name==version` of each requirement with no wheel in `folder` whose sha256 the lock allows."""
    digests: dict[str, set[str]] = {}
    for wheel in folder.glob("*.whl"):
        digests.setdefault(_wheel_name(wheel.name), set()).add(sha256_file(wheel))
    return [f"{r.name}=={r.version}" for r in requirements if not digests.get(r.name, set()) & r.hashes]


def _run_pip(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=3600)


def _pip_failure(result: subprocess.CompletedProcess[str], target: TargetPlatform) -> UnavailableError:
    lines = [
        line.strip()
        for line in (result.stderr + result.stdout).splitlines()
        if line.strip() and not line.startswith("WARNING")
    ]
    detail = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "")
    if "No module named pip" in result.stderr:
        return UnavailableError(
            f"cannot download wheels: pip is not installed for {sys.executable}",
            hint=f"install it ({sys.executable} -m ensurepip), or fill the wheelhouse cache by hand",
        )
    return UnavailableError(
        f"downloading the locked wheels for Python {target.python} on {target.platform_tag} failed: {detail[:300]}",
        hint="check that this host reaches the package index (pip config list); a missing wheel for this Python "
        "or platform needs a new lock: python images/lock.py --python X.Y",
    )


def ensure_wheelhouse(
    lock: LockFile,
    target: TargetPlatform,
    root: Path | None = None,
    run_pip: PipRunner = _run_pip,
) -> Wheelhouse:
    """The cached wheelhouse for `lock` on `target`, downloading it first when absent or incomplete.

    Downloads into a private folder next to the cache entry and renames it into place, so a crash or a concurrent
    build never leaves a half-filled wheelhouse under the key. Raises UnavailableError when pip fails.
    """
    requirements = lock.for_python(target.python, target.machine)
    folder_root = (root or cache_root()) / "wheels"
    key = target.cache_key(lock)
    final = folder_root / key
    if (final / MANIFEST).is_file() and not missing_requirements(final, requirements):
        return Wheelhouse(final, key, tuple(sorted(p.name for p in final.glob("*.whl"))), downloaded=False)
    folder_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder_root))
    try:
        if requirements:
            _download(requirements, target, staging, run_pip)
        missing = missing_requirements(staging, requirements)
        if missing:
            raise UnavailableError(
                f"pip finished but the wheelhouse lacks {', '.join(missing[:5])}",
                hint="regenerate the lock for this Python and platform with images/lock.py",
            )
        files = _write_manifest(staging, lock, target)
        _move_into_place(staging, final)
        return Wheelhouse(final, key, files, downloaded=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _download(
    requirements: Sequence[LockedRequirement], target: TargetPlatform, folder: Path, run_pip: PipRunner
) -> None:
    """pip download the requirements' wheels for `target` into `folder`; raises UnavailableError when pip fails."""
    (folder / "requirements.txt").write_text(
        "".join(requirement.pip_line() + "\n" for requirement in requirements), encoding="utf-8"
    )
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--python-version",
        target.python,
        "-d",
        str(folder),
        "-r",
        str(folder / "requirements.txt"),
    ]
    for tag in target.pip_platforms():
        command += ["--platform", tag]
    result = run_pip(command)
    if result.returncode != 0:
        raise _pip_failure(result, target)


def _write_manifest(folder: Path, lock: LockFile, target: TargetPlatform) -> tuple[str, ...]:
    """Mark the folder's wheels complete for `lock` on `target`; the wheel file names."""
    files = tuple(sorted(p.name for p in folder.glob("*.whl")))
    (folder / MANIFEST).write_text(
        json.dumps(
            {
                "lock_sha256": lock.sha256,
                "python": target.python,
                "platform": target.platform_tag,
                "files": list(files),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return files


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename the filled folder to its key, replacing an incomplete one; a concurrent build's complete one wins."""
    staging.chmod(0o755)
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)  # incomplete or corrupted: replaced whole
    try:
        os.replace(staging, final)
    except OSError:
        if not (final / MANIFEST).is_file():  # a concurrent build won the race: use its folder
            raise
        shutil.rmtree(staging, ignore_errors=True)
