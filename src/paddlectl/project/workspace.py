"""The project: its root folder, its config and its run store (.paddlectl/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import UsageError
from paddlectl.project.config import CONFIG_NAME, STORE_NAME, ProjectConfig, load_config


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig

    @property
    def store(self) -> Path:
        return self.root / STORE_NAME

    @property
    def runs_dir(self) -> Path:
        return self.store / "runs"

    @property
    def has_config(self) -> bool:
        return self.config.path is not None


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding paddlectl.yaml or .paddlectl/, else `start` itself."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file() or (folder / STORE_NAME).is_dir():
            return folder
    return start


def open_project(start: Path | None = None) -> Project:
    if start is None:
        try:
            start = Path.cwd()
        except FileNotFoundError as exc:
            raise UsageError("the current folder no longer exists", hint="cd into your project again") from exc
    root = find_root(start)
    config_path = root / CONFIG_NAME
    config = load_config(config_path) if config_path.is_file() else ProjectConfig(name=root.name)
    return Project(root=root, config=config)
