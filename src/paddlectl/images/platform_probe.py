"""Ask an image what wheels it needs: its Python X.Y, CPU architecture, glibc and Paddle version (one container)."""

from __future__ import annotations

from dataclasses import dataclass

from paddlectl.engine.oneshot import read_marked_json, run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec
from paddlectl.errors import PaddlectlError, UnavailableError
from paddlectl.foundation.names import KIND_IMAGE_PROBE, PLATFORM_PROBE_MARK
from paddlectl.images.wheelhouse import TargetPlatform, parse_glibc

PROBE_TIMEOUT_SECONDS = 120.0
# Python 3.6+ and no import of paddle itself (a second or more): the installed distribution's metadata is enough.
PROBE_SCRIPT = """
import json, platform, sys
version = None
try:
    from importlib import metadata
    for dist in ("paddlepaddle", "paddlepaddle-gpu"):
        try:
            version = metadata.version(dist)
            break
        except Exception:
            pass
except ImportError:
    pass
libc, libc_version = platform.libc_ver()
print("PADDLECTL_PLATFORM " + json.dumps({"python": "%d.%d" % sys.version_info[:2], "machine": platform.machine(),
      "libc": libc, "libc_version": libc_version, "paddle_version": version, "executable": sys.executable}))
"""


@dataclass(frozen=True)
class ImageProbe:
    python: str
    machine: str
    libc: str
    libc_version: str
    paddle_version: str | None
    executable: str

    @property
    def target(self) -> TargetPlatform:
        return TargetPlatform(self.python, self.machine, parse_glibc(self.libc, self.libc_version))


def parse_probe_output(output: str, image: str) -> ImageProbe:
    """The probe's one marked line; PaddlectlError when the image printed none (no python3, a broken image)."""
    data = read_marked_json(output, PLATFORM_PROBE_MARK)
    if data is not None:
        try:
            return ImageProbe(
                python=str(data["python"]),
                machine=str(data["machine"]),
                libc=str(data["libc"] or ""),
                libc_version=str(data["libc_version"] or ""),
                paddle_version=str(data["paddle_version"]) if data.get("paddle_version") else None,
                executable=str(data.get("executable") or ""),
            )
        except (KeyError, TypeError):
            pass
    tail = " ".join(output.strip().splitlines()[-2:])[:300] or "no output"
    raise PaddlectlError(
        f"could not read Python and platform from {image}: {tail}",
        hint="the image needs python3 on its PATH (every official Paddle image has it)",
    )


def probe_image(engine: ContainerEngine, image: str, project: str | None = None) -> ImageProbe:
    """Run the probe in a throw-away container (no network); the container never outlives the call."""
    spec = ContainerSpec(
        image=image,
        command=["python3", "-c", PROBE_SCRIPT],
        environment={"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},  # noqa: S108 - the container's own /tmp
        network_mode="none",
        init=True,
    )
    result = run_oneshot(engine, spec, KIND_IMAGE_PROBE, timeout=PROBE_TIMEOUT_SECONDS, project=project)
    if result.exit_code == 127 and PLATFORM_PROBE_MARK not in result.output:  # 127: the shell's "command not found"
        raise UnavailableError(f"{image} has no python3", hint="build on a Paddle image (they all ship python3)")
    return parse_probe_output(result.output, image)
