"""What code a run used: commit, branch, remote, and a patch of everything not committed.

Uses the `git` command rather than GitPython: a handful of plumbing calls is simpler, faster (no 90 ms
import) and is what GitPython runs underneath anyway. Every call sets GIT_OPTIONAL_LOCKS=0 so git never
rewrites the user's index, and the patch is built in a temporary copy of the index, so the user's index and
working tree are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from paddlectl.errors import PaddlectlError, UsageError
from paddlectl.foundation.secrets import strip_url_credentials
from paddlectl.project.config import STORE_NAME
from paddlectl.runs.manifest import GitRecord, OutsidePatchFile

DEFAULT_PATCH_CAP = 10 * 1024**2
UNTRACKED_INLINE_LIMIT = 1024**2  # an untracked file larger than this is recorded by sha256, not inlined
_BINARY_SNIFF = 8000  # git's own test: a NUL byte among the first 8000 bytes makes a file binary
# The run store never belongs in a patch, even where its own .gitignore went missing.
_STORE_PATHSPEC = f":(glob,exclude)**/{STORE_NAME}/**"
_CHUNK = 1 << 16


GitInfo = GitRecord  # what capture_git returns is the manifest's record (runs/manifest.py)


class _GitFailed(Exception):
    def __init__(self, args: list[str], stderr: str) -> None:
        super().__init__(f"git {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr.strip()


def _env(index_file: Path | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("GIT_INDEX_FILE", "GIT_DIR", "GIT_WORK_TREE")}
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    if index_file is not None:
        env["GIT_INDEX_FILE"] = str(index_file)
    return env


def _git(cwd: Path, *args: str, index_file: Path | None = None, stdin: bytes | None = None) -> bytes:
    """Run git in `cwd` and return its stdout; raises _GitFailed on a non-zero exit."""
    done = subprocess.run(["git", *args], cwd=cwd, env=_env(index_file), input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise _GitFailed(list(args), done.stderr.decode("utf-8", "replace"))
    return done.stdout


def _git_text(cwd: Path, *args: str) -> str | None:
    """One line of git output, or None when git says no (unborn HEAD, no such config key, ...)."""
    try:
        return _git(cwd, *args).decode("utf-8", "replace").strip() or None
    except _GitFailed:
        return None


def _nul_list(data: bytes) -> list[str]:
    return [item.decode("utf-8", "surrogateescape") for item in data.split(b"\0") if item]


def _remote_url(top: Path, branch: str | None) -> str | None:
    """The URL of the branch's upstream remote, else origin, else the first remote; credentials stripped."""
    names = (_git_text(top, "remote") or "").split()
    if not names:
        return None
    tracked = _git_text(top, "config", "--get", f"branch.{branch}.remote") if branch else None
    name = tracked if tracked in names else "origin" if "origin" in names else names[0]
    url = _git_text(top, "config", "--get", f"remote.{name}.url")
    return strip_url_credentials(url) if url else None


def _diff_args(base: str) -> list[str]:
    # Explicit prefixes and no external diff/textconv/colour: user config must not make the patch unappliable.
    return [
        "diff", "--binary", "--full-index", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color",
        "--src-prefix=a/", "--dst-prefix=b/", base,
    ]  # fmt: skip


def _stream_patch(top: Path, base: str, index_file: Path, patch_path: Path, cap_bytes: int) -> tuple[int, str, bool]:
    """Write `git diff` of the worktree against `base` to patch_path unless it is empty or over the cap.

    Returns (size, sha256, truncated) of the full patch; a patch over the cap is hashed but never written,
    since a partial patch would not apply.
    """
    digest = hashlib.sha256()
    size = 0
    patch_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{patch_path.name}.", suffix=".tmp", dir=patch_path.parent)
    keep = False
    # stderr goes to a file: a pipe could fill with warnings while we read stdout, and both sides would wait.
    with os.fdopen(fd, "wb") as sink, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            ["git", *_diff_args(base), "--", ".", _STORE_PATHSPEC],
            cwd=top,
            env=_env(index_file),
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            stdout = process.stdout
            assert stdout is not None
            while chunk := stdout.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if size <= cap_bytes:
                    sink.write(chunk)
            stdout.close()
            if process.wait() != 0:
                errors.seek(0)
                raise _GitFailed(_diff_args(base), errors.read().decode("utf-8", "replace"))
            sink.flush()
            os.fsync(sink.fileno())
            keep = 0 < size <= cap_bytes
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if not keep:
                Path(tmp_name).unlink(missing_ok=True)
    if keep:
        Path(tmp_name).replace(patch_path)
    return size, digest.hexdigest(), size > cap_bytes


def capture_git(root: Path, patch_path: Path, cap_bytes: int = DEFAULT_PATCH_CAP) -> GitInfo:
    """Record the git state around `root`; uncommitted changes (untracked files included) go to patch_path.

    Outside a repository (or without a `git` command) returns GitInfo(is_repository=False). Raises
    PaddlectlError only when git itself fails inside a repository.
    """
    if shutil.which("git") is None:
        return GitInfo(
            is_repository=False, patch_cap_bytes=cap_bytes, warning="git is not installed: no code version recorded"
        )
    try:
        lines = _git(root, "rev-parse", "--is-inside-work-tree", "--show-toplevel", "--show-prefix")
    except OSError:
        return GitInfo(is_repository=False, patch_cap_bytes=cap_bytes)
    except _GitFailed as exc:
        # git refuses repositories owned by another user (safe.directory); say so rather than pretend none.
        dubious = "dubious ownership" in exc.stderr
        warning = f"git refused {root}: dubious ownership (see git config safe.directory)" if dubious else None
        return GitInfo(is_repository=False, patch_cap_bytes=cap_bytes, warning=warning)
    inside, top_text, *prefix = lines.decode("utf-8", "surrogateescape").split("\n")
    if inside != "true":
        return GitInfo(is_repository=False, patch_cap_bytes=cap_bytes)
    top = Path(top_text)
    try:
        return _capture(top, (prefix[0].rstrip("/") if prefix else "") or ".", patch_path, cap_bytes)
    except _GitFailed as exc:
        raise PaddlectlError(
            f"could not read the git state of {top}: {(exc.stderr or str(exc)).splitlines()[0]}",
            hint="check `git status` in the project, or run outside the repository",
        ) from None


def _capture(top: Path, subdir: str, patch_path: Path, cap_bytes: int) -> GitInfo:
    commit = _git_text(top, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    branch = _git_text(top, "symbolic-ref", "-q", "--short", "HEAD")
    # An embedded repository shows as `vendor/`; like git itself, the patch records only its commit.
    others = _git(top, "ls-files", "-z", "--others", "--exclude-standard", "--", ".", _STORE_PATHSPEC)
    untracked = [path.rstrip("/") for path in _nul_list(others)]
    info = GitInfo(
        is_repository=True,
        commit=commit,
        branch=branch,
        remote_url=_remote_url(top, branch),
        patch_cap_bytes=cap_bytes,
        subdir=subdir,
    )
    inline, info.outside_patch = _split_untracked(top, untracked)
    if commit is None:
        # Nothing committed: every file is new, the patch is against the empty tree.
        staged = _nul_list(_git(top, "ls-files", "-z", "--cached", "--", ".", _STORE_PATHSPEC))
        untracked = sorted(set(staged) | set(untracked))
        inline = sorted(set(staged) | set(inline))
        base = _git(top, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()
    else:
        base = commit
    with tempfile.TemporaryDirectory(prefix="paddlectl-git-") as scratch:
        index_file = Path(scratch) / "index"
        # Relative to `top` unless git prints it absolute (--path-format=absolute needs git 2.31).
        real_index = top / os.fsdecode(_git(top, "rev-parse", "--git-path", "index").strip())
        if real_index.is_file():
            shutil.copyfile(real_index, index_file)
        if inline:
            # Intent-to-add entries make untracked files show in the diff as new files, without writing blobs.
            listing = b"\0".join(os.fsencode(path) for path in inline)
            add = [
                "--literal-pathspecs",
                "add",
                "--intent-to-add",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
            ]
            _git(top, *add, index_file=index_file, stdin=listing)
        if index_file.is_file():
            # Make every entry "racily clean": an index mtime before any file's makes git compare contents rather
            # than trust stat data. git (built without USE_NSEC) compares mtimes in whole seconds, so a same-size
            # edit in the second of the last index write looks clean in any index copy written later, as the
            # intent-to-add above just did (seen: about 1 in 100 captures of an edit made right after a commit).
            os.utime(index_file, ns=(1_000_000_000, 1_000_000_000))
        listed = _git(
            top,
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            base,
            "--",
            ".",
            _STORE_PATHSPEC,
            index_file=index_file,
        )
        names = _nul_list(listed)
        new = set(untracked)
        info.untracked = untracked
        info.changed = [name for name in names if name not in new]
        info.dirty = bool(names) or bool(info.outside_patch)
        if names:
            size, sha256, truncated = _stream_patch(top, base, index_file, patch_path, cap_bytes)
            info.patch_bytes, info.patch_sha256, info.patch_truncated = size, sha256, truncated
            info.patch_file = str(patch_path) if 0 < size <= cap_bytes else None
    return info


def _split_untracked(top: Path, untracked: list[str]) -> tuple[list[str], list[OutsidePatchFile]]:
    """Untracked files the patch inlines, and those it only records (binary, or over the inline limit).

    A release tarball written inside the project would otherwise be inlined, base85, into every later run's patch
    (a 170 KB package made a 188 KB patch). Folders (embedded repositories) and links stay as git shows them.
    """
    from paddlectl.foundation.hashing import sha256_file

    inline: list[str] = []
    outside: list[OutsidePatchFile] = []
    for path in untracked:
        full = top / path
        try:
            status = full.lstat()
        except OSError:
            inline.append(path)
            continue
        if not stat.S_ISREG(status.st_mode):
            inline.append(path)
            continue
        reason = "larger than 1 MiB" if status.st_size > UNTRACKED_INLINE_LIMIT else None
        if reason is None and _is_binary(full):
            reason = "binary"
        if reason is None:
            inline.append(path)
        else:
            outside.append(OutsidePatchFile(path, status.st_size, sha256_file(full), reason))
    return inline, outside


def _is_binary(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"\0" in handle.read(_BINARY_SNIFF)
    except OSError:
        return False


def outside_patch_warning(info: GitInfo) -> str | None:
    """What `train` says on stderr when untracked files were kept out of the run's patch (None when none were)."""
    if not info.outside_patch:
        return None
    from paddlectl.foundation.sizes import human_size

    shown = ", ".join(f"{f.path} ({human_size(f.size)}, {f.reason})" for f in info.outside_patch[:5])
    more = f" and {len(info.outside_patch) - 5} more" if len(info.outside_patch) > 5 else ""
    return (
        f"{len(info.outside_patch)} untracked file(s) are recorded by sha256 but not in the run's patch: "
        f"{shown}{more}; reproduce takes them from the working tree only while their contents match: "
        "commit them, or add them to .gitignore if they are outputs"
    )


def require_clean(info: GitInfo) -> None:
    """Raise UsageError when the project is not in a repository or has uncommitted changes."""
    if not info.is_repository:
        raise UsageError(
            "--require-clean: the project is not in a git repository",
            hint="run it inside a git repository, or drop --require-clean",
        )
    if not info.dirty:
        return
    files = [*info.changed, *info.untracked]
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    raise UsageError(
        f"the working tree has {len(files)} uncommitted change(s): {shown}",
        hint="commit or stash them, or drop --require-clean",
    )


def apply_patch_in_worktree(repo_root: Path, commit: str, patch: Path | None, dest: Path) -> Path:
    """Check out `commit` as a detached worktree at `dest` and apply `patch` there; returns dest.

    The user's working tree and index are not touched. Raises UsageError when the commit is unknown or the
    patch does not apply (the half-made worktree is removed).
    """
    try:
        _git(repo_root, "worktree", "add", "--detach", str(dest), f"{commit}^{{commit}}")
    except _GitFailed as exc:
        reason = exc.stderr.splitlines()[-1] if exc.stderr else str(exc)
        raise UsageError(
            f"cannot check out commit {commit} at {dest}: {reason}",
            hint="fetch the commit first (git fetch), or pick an empty destination folder",
        ) from None
    if patch is None:
        return dest
    try:
        _git(dest, "apply", "--binary", "--whitespace=nowarn", str(patch.resolve()))
    except _GitFailed as exc:
        remove_worktree(repo_root, dest)
        reason = exc.stderr.splitlines()[0] if exc.stderr else str(exc)
        raise UsageError(
            f"the patch {patch} does not apply to {commit}: {reason}",
            hint="the recorded patch belongs to another commit, or was edited",
        ) from None
    return dest


def restore_untracked(top: Path, dest: Path, entries: list[OutsidePatchFile], run_id: str) -> None:
    """Copy the untracked files a run's patch only recorded (GitInfo.outside_patch: binary or large) from the
    working tree at `top` into the worktree at `dest`; raise UsageError for one gone or changed since the run."""
    for entry in entries:
        _restore_one(top, dest, entry, run_id)


def _restore_one(top: Path, dest: Path, entry: OutsidePatchFile, run_id: str) -> None:
    from paddlectl.foundation.hashing import sha256_file

    relative = Path(entry.path)
    if relative.is_absolute() or ".." in relative.parts:
        raise UsageError(f"run {run_id} records an untracked file outside the repository: {relative}")
    source = top / relative
    if not source.is_file() or sha256_file(source) != entry.sha256:
        raise UsageError(
            f"run {run_id} used the untracked file {relative} (sha256 {entry.sha256[:12]}...), which is "
            "no longer in the working tree with those contents",
            hint="restore that file, or commit files a run needs before training it",
        )
    target = dest / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def remove_worktree(repo_root: Path, dest: Path) -> None:
    """Remove a worktree made by apply_patch_in_worktree, also when its folder is already gone."""
    with contextlib.suppress(_GitFailed):
        _git(repo_root, "worktree", "remove", "--force", str(dest))
    if dest.exists():
        shutil.rmtree(dest, ignore_errors=True)
    with contextlib.suppress(_GitFailed):
        _git(repo_root, "worktree", "prune")
