"""paddlectl: train PaddlePaddle models in pinned containers, record every run, export and package them."""

__version__ = "0.1.0"
