"""Fault-injection tests: ordering (the engine restart runs last) and hypothesis kept out of the working tree."""

from __future__ import annotations

import atexit
import shutil
import tempfile

import pytest
from hypothesis import configuration

# Hypothesis writes failing-example patches (and, with a database, examples) under .hypothesis/ in the working
# directory, which is the repository: keep them in a temporary folder instead.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="pdctl-hypothesis-")
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, True)
configuration.set_hypothesis_home_dir(_HYPOTHESIS_HOME)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move `engine_restart` tests to the very end: they stop the shared Docker engine for everyone else."""
    restarts = [item for item in items if item.get_closest_marker("engine_restart")]
    if restarts:
        items[:] = [item for item in items if not item.get_closest_marker("engine_restart")] + restarts
