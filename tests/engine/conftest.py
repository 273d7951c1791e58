"""Fixtures shared by the real-engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.tiny_registry import TinyRegistry
from engine.train_harness import TrainProject, warm_probe_cache


@pytest.fixture
def project(tmp_path: Path, paddle_image: str) -> Iterator[TrainProject]:
    """A project pinned to the test image, its runtime-probe cache seeded; fails if a test leaves a container."""
    project = TrainProject(tmp_path / "proj", paddle_image)
    project.seed_probe_cache(warm_probe_cache(paddle_image))
    yield project
    left = project.cleanup()
    assert not left, f"containers left behind by the test: {left}"


@pytest.fixture(scope="session")
def tiny_registry() -> Iterator[TinyRegistry]:
    """A registry on 127.0.0.1 (a free port) that serves a one-file image under any name; stopped at the end."""
    registry = TinyRegistry()
    yield registry
    registry.stop()
