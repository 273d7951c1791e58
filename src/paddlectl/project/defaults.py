"""What paddlectl.yaml falls back on when a key is not set (shared by the config and its schema)."""

from __future__ import annotations

CONFIG_NAME = "paddlectl.yaml"
STORE_NAME = ".paddlectl"
DEFAULT_CPU_IMAGE = "paddlepaddle/paddle:3.2.0"
DEFAULT_GPU_IMAGE = "paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5"
DEFAULT_GPUS = "none"
DEFAULT_SHM_SIZE = "2g"
DEFAULT_DTYPE = "float32"
