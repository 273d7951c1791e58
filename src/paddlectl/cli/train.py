"""paddlectl train (placeholder until the train command lands)"""

from __future__ import annotations


def command() -> None:
    """Train a script in a pinned PaddlePaddle container and record the run."""
    raise NotImplementedError
