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


def _current_folder() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError as exc:
        raise UsageError("the current folder no longer exists", hint="cd into your project again") from exc


def open_project(start: Path | None = None) -> Project:
    """The project at or above `start` (default: the current folder), or `start` as a new project with defaults."""
    root = find_root(start or _current_folder())
    config_path = root / CONFIG_NAME
    config = load_config(config_path) if config_path.is_file() else ProjectConfig(name=root.name)
    return Project(root=root, config=config)


def open_existing_project(start: Path | None = None) -> Project:
    """The project at or above `start`, for commands that read recorded runs.

    Raises UsageError when no folder at or above `start` holds paddlectl.yaml or .paddlectl/: without one there
    are no runs to read, and an empty listing there would look like a project whose runs are gone.
    """
    start = start or _current_folder()
    project = open_project(start)
    if not project.has_config and not project.store.is_dir():
        raise UsageError(
            f"no paddlectl project here: no {CONFIG_NAME} or {STORE_NAME}/ in {start} or any folder above it",
            hint="cd into a project, or make this folder one with 'paddlectl init'",
        )
    return project
