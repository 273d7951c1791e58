"""A run's private files: what its container reads that must never rest in the run store.

The params file holds every param's real value, secret ones included, so it lives outside the store, in a folder
of its own per run: `$XDG_RUNTIME_DIR/paddlectl/<run id>/` (a per-user tmpfs on most desktops), else
`<temp dir>/paddlectl-<uid>/<run id>/`; folders 0700, files 0600. It holds
- `params.json`, bind-mounted read-only into the container (PADDLECTL_PARAMS_FILE);
- `secrets.json`, never mounted: the secret values, so that whoever rebuilds the run's log from the engine
  (reconciliation after a kill -9) can mask them as the train CLI did.
The manifest records the folder's path (`container.private_dir`, no values), and whoever settles the run removes
it: the train CLI when the run ends (Ctrl-C included), reconciliation, `runs rm`. A detached run keeps it until it
is settled, since its container may read the params file at any time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paddlectl.errors import ExitCode, PaddlectlError

PARAMS_NAME = "params.json"
SECRETS_NAME = "secrets.json"


def private_base() -> Path:
    """The per-user folder that holds every run's private folder (created 0700; refused if not ours)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "paddlectl" if runtime and Path(runtime).is_dir() else None
    if base is None:
        base = Path(tempfile.gettempdir()) / f"paddlectl-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PaddlectlError(
            f"{base} is not a private folder of yours (a link, another owner, or readable by others)",
            hint="remove it, or point XDG_RUNTIME_DIR at a private folder; paddlectl keeps run params there",
            code=ExitCode.IO,
        )
    return base


@dataclass(frozen=True)
class PrivateFiles:
    """One run's private folder."""

    root: Path

    @property
    def params_file(self) -> Path:
        return self.root / PARAMS_NAME

    @property
    def secrets_file(self) -> Path:
        return self.root / SECRETS_NAME

    @classmethod
    def create(cls, run_id: str, params: dict[str, Any], secret_values: list[str]) -> PrivateFiles:
        """Write the run's params file and its secret values; raises PaddlectlError (exit 74) when it cannot."""
        root = private_base() / run_id
        try:
            root.mkdir(mode=0o700)
            files = cls(root)
            _write_private(files.params_file, json.dumps(params, indent=1, default=str))
            _write_private(files.secrets_file, json.dumps(sorted(set(secret_values))))
        except OSError as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise PaddlectlError(
                f"cannot write the run's private params file in {root}: {exc.strerror}",
                hint="free space or fix permissions there (XDG_RUNTIME_DIR or the temp folder)",
                code=ExitCode.IO,
            ) from exc
        return files

    def secret_values(self) -> list[str]:
        """The secret values written at the start; [] when the file is gone (a reboot cleared the folder)."""
        try:
            values = json.loads(self.secrets_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def private_files_of(recorded: str | None) -> PrivateFiles | None:
    """The private folder a manifest records, if it is one of ours (never a path outside the private base)."""
    if not recorded:
        return None
    path = Path(recorded)
    with contextlib.suppress(OSError, PaddlectlError):
        if path.parent.resolve() == private_base().resolve() and path.name and not path.is_symlink():
            return PrivateFiles(path)
    return None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
