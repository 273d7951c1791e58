"""Side-by-side comparison of runs, and the full difference between two runs (params, env, image, runtime, code)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paddlectl.runs.manifest import GitRecord, Manifest
    from paddlectl.runs.store import RunPaths

GIT_TIMEOUT_SECONDS = 30
MAX_DIFF_CHARS = 1_000_000  # a diff bigger than this is cut (the files list stays complete)
_DIFF_HEADER = re.compile(r"^diff --git a/(.*?) b/(.*)$")


@dataclass
class CompareRow:
    section: str  # run, image, git, params, metrics
    key: str
    values: list[Any]
    differs: bool


@dataclass
class Comparison:
    runs: list[str]
    rows: list[CompareRow]

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "rows": [asdict(row) for row in self.rows]}


def _values(manifest: Manifest, section: str) -> dict[str, Any]:
    """A run's params, or each metric's last value."""
    if section == "params":
        return dict(manifest.params.values)
    return {name: entry.last for name, entry in manifest.metrics.summary.items()}


def compare_runs(manifests: list[Manifest]) -> Comparison:
    """One row per field that any run has: run facts, image, commit, every param, every metric's last value."""
    fixed: list[tuple[str, str, Any]] = [
        ("run", "name", lambda m: m.name),
        ("run", "status", lambda m: m.status.value),
        ("run", "started_at", lambda m: m.started_at),
        ("run", "duration_seconds", lambda m: m.duration_seconds),
        ("image", "reference", lambda m: m.image.reference),
        ("image", "id", lambda m: m.image.id),
        ("image", "digest", lambda m: m.image.digest),
        ("git", "commit", lambda m: m.git.commit),
        ("git", "dirty", lambda m: m.git.dirty),
        ("git", "patch_sha256", lambda m: m.git.patch_sha256),
    ]
    rows = [_row(section, key, [read(m) for m in manifests]) for section, key, read in fixed]
    for section in ("params", "metrics"):
        per_run = [_values(m, section) for m in manifests]
        names: dict[str, None] = {}
        for values in per_run:
            names.update(dict.fromkeys(values))
        rows.extend(_row(section, name, [values.get(name) for values in per_run]) for name in names)
    return Comparison([m.id for m in manifests], rows)


def _row(section: str, key: str, values: list[Any]) -> CompareRow:
    first = values[0] if values else None
    return CompareRow(section, key, values, any(value != first for value in values[1:]))


# ---- diff -------------------------------------------------------------------------------------------------


@dataclass
class Change:
    key: str
    a: Any
    b: Any
    kind: str  # changed, added (only in B), removed (only in A)


def diff_mappings(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    changes = []
    for key in {**a, **b}:
        if key not in b:
            changes.append(Change(key, a[key], None, "removed"))
        elif key not in a:
            changes.append(Change(key, None, b[key], "added"))
        elif a[key] != b[key]:
            changes.append(Change(key, a[key], b[key], "changed"))
    return changes


@dataclass
class CodeDiff:
    """Committed code (git diff between the two commits) and each run's recorded uncommitted patch."""

    commit_a: str | None
    commit_b: str | None
    same_commit: bool
    git_files: list[str] = field(default_factory=list)  # `git diff --name-status` lines
    git_diff: str | None = None
    git_problem: str | None = None  # why there is no git diff (commit not in this repository, no git...)
    patch_sha256_a: str | None = None
    patch_sha256_b: str | None = None
    same_patch: bool = True
    patch_files_a: list[str] = field(default_factory=list)
    patch_files_b: list[str] = field(default_factory=list)
    patch_files_differing: list[str] = field(default_factory=list)


@dataclass
class RunDiff:
    a: str
    b: str
    params: list[Change]
    env_names: list[Change]
    env: list[Change]
    image: list[Change]
    runtime: list[Change]
    code: CodeDiff

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identical": self.identical}

    @property
    def identical(self) -> bool:
        code = self.code
        return not (self.params or self.env_names or self.env or self.image or self.runtime) and (
            code.same_commit and code.same_patch
        )


def diff_runs(a: Manifest, b: Manifest, a_paths: RunPaths, b_paths: RunPaths, project_root: Path) -> RunDiff:
    """Everything that differs between run A and run B that could explain different results."""
    image = diff_mappings(
        {"reference": a.image.reference, "id": a.image.id, "digest": a.image.digest},
        {"reference": b.image.reference, "id": b.image.id, "digest": b.image.digest},
    )
    names_a, names_b = set(a.container.env_names), set(b.container.env_names)
    env_names = [Change(name, name, None, "removed") for name in sorted(names_a - names_b)]
    env_names += [Change(name, None, name, "added") for name in sorted(names_b - names_a)]
    return RunDiff(
        a=a.id,
        b=b.id,
        params=diff_mappings(_values(a, "params"), _values(b, "params")),
        env_names=env_names,
        env=diff_mappings(dict(a.container.env), dict(b.container.env)),
        image=image,
        runtime=diff_mappings(_runtime(a), _runtime(b)),
        code=diff_code(a, b, a_paths, b_paths, project_root),
    )


def _runtime(manifest: Manifest) -> dict[str, Any]:
    from paddlectl.foundation.records import dump

    runtime: dict[str, Any] = dump(manifest.runtime)
    return {key: value for key, value in runtime.items() if value not in (None, [])}


def diff_code(a: Manifest, b: Manifest, a_paths: RunPaths, b_paths: RunPaths, project_root: Path) -> CodeDiff:
    git_a, git_b = a.git, b.git
    commit_a, commit_b = git_a.commit, git_b.commit
    code = CodeDiff(commit_a, commit_b, commit_a == commit_b)
    if not code.same_commit:
        if not commit_a or not commit_b:
            code.git_problem = "a run has no recorded commit"
        else:
            _git_diff(code, str(commit_a), str(commit_b), project_root)
    patch_a, patch_b = _patch(git_a, a_paths), _patch(git_b, b_paths)
    code.patch_sha256_a = git_a.patch_sha256 or (patch_a and _sha256(patch_a))
    code.patch_sha256_b = git_b.patch_sha256 or (patch_b and _sha256(patch_b))
    code.same_patch = code.patch_sha256_a == code.patch_sha256_b
    files_a, files_b = split_patch(patch_a or ""), split_patch(patch_b or "")
    code.patch_files_a, code.patch_files_b = sorted(files_a), sorted(files_b)
    code.patch_files_differing = sorted(
        name for name in {**files_a, **files_b} if files_a.get(name) != files_b.get(name)
    )
    return code


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _patch(git: GitRecord, paths: RunPaths) -> str | None:
    """The run's recorded uncommitted patch, if any (a path outside the run folder is not followed)."""
    name = git.patch_file
    if not name:
        return None
    path = (paths.root / str(name)).resolve()
    if not path.is_relative_to(paths.root.resolve()):
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def split_patch(patch: str) -> dict[str, str]:
    """A unified git patch split per file: {path: that file's hunk text}."""
    files: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in patch.splitlines(keepends=True):
        header = _DIFF_HEADER.match(line.rstrip("\n"))
        if header:
            if current is not None:
                files[current] = "".join(lines)
            current, lines = header.group(2), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        files[current] = "".join(lines)
    return files


def _git(project_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(project_root), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )


def _git_diff(code: CodeDiff, commit_a: str, commit_b: str, project_root: Path) -> None:
    try:
        for commit in (commit_a, commit_b):
            if _git(project_root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
                code.git_problem = f"commit {commit[:12]} is not in the repository at {project_root}"
                return
        names = _git(project_root, "diff", "--name-status", commit_a, commit_b)
        text = _git(project_root, "diff", commit_a, commit_b)
    except FileNotFoundError:
        code.git_problem = "git is not installed"
        return
    except subprocess.TimeoutExpired:
        code.git_problem = f"git diff took longer than {GIT_TIMEOUT_SECONDS} s"
        return
    if names.returncode != 0 or text.returncode != 0:
        complaint = (names.stderr or text.stderr).strip().splitlines()
        code.git_problem = complaint[-1] if complaint else "git diff failed"
        return
    code.git_files = [line.replace("\t", " ") for line in names.stdout.splitlines() if line]
    code.git_diff = text.stdout[:MAX_DIFF_CHARS]
