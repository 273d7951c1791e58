"""GPU requests: what `--gpus`, `train.gpus` and a `hosts:` entry's `gpus` mean (no engine needed to read them)."""

from __future__ import annotations

from dataclasses import dataclass

from paddlectl.errors import UsageError


@dataclass(frozen=True)
class GpuRequest:
    """GPUs for a container: all of them, or the listed device ids (CUDA_VISIBLE_DEVICES semantics)."""

    device_ids: tuple[str, ...] = ()

    @property
    def all(self) -> bool:
        return not self.device_ids


def parse_gpus(value: str) -> GpuRequest | None:
    """`none` -> no GPUs, `all` -> every GPU, `0,1` -> those device ids (CUDA_VISIBLE_DEVICES semantics)."""
    text = value.strip().lower()
    if text in ("none", "", "0-gpus"):
        return None
    if text == "all":
        return GpuRequest()
    ids = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in ids) or len(set(ids)) != len(ids):
        raise UsageError(f"invalid --gpus '{value}'", hint="use all, none, or device ids such as 0 or 0,1")
    return GpuRequest(device_ids=tuple(ids))
