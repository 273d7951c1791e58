"""What doctor tells a user to do: fix lines that are commands which work when pasted, or plain instructions.

A Fix is a list of lines in the order to follow; `commands` are the lines that are shell commands, written so that
they run from any folder (absolute script paths, quoted arguments). The offline route for a pinned CPU image that
is absent and cannot be pulled is built here: the command that builds the local image without any registry, and
the exact line that pins it in paddlectl.yaml.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paddlectl.errors import PaddlectlError
from paddlectl.foundation.checkout import checkout_script, script_command
from paddlectl.foundation.image_ref import PinnedImage

BUILD_SCRIPT = "build-paddle-image.sh"
ENGINE_SCRIPT = "ensure-docker.sh"
DEFAULT_PADDLE_VERSION = "3.2.0"  # what scripts/build-paddle-image.sh builds without an argument
LOCAL_IMAGE_ENV = "PADDLECTL_TEST_IMAGE"  # the build script's own override of the name it builds
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")
_CPU_LINE = re.compile(r"^(\s+)cpu:")


@dataclass(frozen=True)
class Fix:
    """Lines to follow in order; `commands` holds those that are shell commands (each pasteable as it is)."""

    lines: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()

    @classmethod
    def of(cls, *steps: tuple[str, bool]) -> Fix:
        """From (line, is_command) pairs."""
        return cls(tuple(line for line, _ in steps), tuple(line for line, command in steps if command))

    @classmethod
    def note(cls, text: str | None) -> Fix:
        """One line of advice that is not a command (none when there is no text)."""
        return cls((text,)) if text else cls()

    @property
    def text(self) -> str | None:
        return "\n".join(self.lines) or None


def engine_fix(error: PaddlectlError) -> Fix:
    """How to get an engine that answers: the checkout's ensure-docker.sh for the local one, else the error's hint.

    A DOCKER_HOST other than the local socket is the user's choice of engine: starting a local one would not help.
    """
    host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    if host != DEFAULT_DOCKER_HOST:
        return Fix.note(f"check that the engine at DOCKER_HOST={host} runs, or unset DOCKER_HOST to use the local one")
    script = checkout_script(ENGINE_SCRIPT)
    if script is None or "cannot reach" not in error.message:  # permissions, time-outs: the error's own advice
        return Fix.note(error.hint)
    return Fix.of(
        (script_command(script), True),
        ("(it starts dockerd, installing docker.io first when root on Debian; or: sudo systemctl start docker)", False),
    )


def paddle_version(reference: str) -> str | None:
    """The Paddle version a pinned reference's tag starts with (`paddlepaddle/paddle:3.2.0-gpu...` -> 3.2.0)."""
    try:
        tag = PinnedImage.parse(reference).tag
    except PaddlectlError:  # an unparsable reference has its own failing check
        return None
    match = _VERSION.match(tag or "")
    return match.group(0) if match else None


def local_cpu_image(version: str) -> str:
    """The name scripts/build-paddle-image.sh VERSION builds (it honours PADDLECTL_TEST_IMAGE the same way)."""
    return os.environ.get(LOCAL_IMAGE_ENV) or f"paddlectl-test/paddle:{version}-cpu"


def git_fix(root: Path) -> str:
    """Make the project a git repository with a first commit, so that runs record their code version."""
    return f"cd {shlex.quote(str(root))} && git init && git add -A && git commit -m 'first commit'"


def pull_fix(reference: str) -> Fix:
    return Fix.of(
        (shlex.join(["docker", "pull", reference]), True),
        ("(or let train pull it: paddlectl train --pull ...)", False),
    )


def offline_cpu_fix(
    reference: str, config_path: Path | None, project_root: Path, lookup: Callable[[str], object | None]
) -> Fix:
    """Build the local CPU image without a registry (unless `lookup` finds it built already), then pin it; for a
    CPU image no registry can give."""
    version = paddle_version(reference) or DEFAULT_PADDLE_VERSION
    local = local_cpu_image(version)
    script = checkout_script(BUILD_SCRIPT)
    steps: list[tuple[str, bool]] = []
    if lookup(local) is not None:
        steps.append((f"({local} is built here already: pin it)", False))
    elif script is not None:
        steps.append((script_command(script, version), True))
        steps.append((f"(builds {local} without a registry: needs a Debian mirror and PyPI from this host)", False))
    else:
        steps.append(
            (f"build {local} without a registry: scripts/{BUILD_SCRIPT} {version} from a paddlectl checkout", False)
        )
    if local != reference:
        steps.append(pin_cpu_image(local, config_path, project_root))
    return Fix.of(*steps)


def pin_cpu_image(image: str, config_path: Path | None, project_root: Path) -> tuple[str, bool]:
    """The exact change that makes paddlectl.yaml pin `image` for CPU runs (or the init command when there is none)."""
    if config_path is None or not config_path.is_file():
        return (shlex.join(["paddlectl", "init", "--cpu-image", image, str(project_root)]), True)
    lines = config_path.read_text(encoding="utf-8").splitlines()
    images_at = next((n for n, line in enumerate(lines) if re.match(r"images:\s*(#.*)?$", line)), None)
    if images_at is not None:
        indent = "  "
        for number in range(images_at + 1, len(lines)):
            line = lines[number]
            if line.strip() and not line[0].isspace():
                break  # the next top-level key: no cpu line under images
            if line.strip() and not line.lstrip().startswith("#"):
                indent = line[: len(line) - len(line.lstrip())]
            match = _CPU_LINE.match(line)
            if match:
                return (f"then in {config_path} change line {number + 1} to `{match.group(1)}cpu: {image}`", False)
        return (f"then in {config_path} add `{indent}cpu: {image}` after line {images_at + 1} (images:)", False)
    if any(re.match(r"images\s*:", line) for line in lines):
        return (f"then in {config_path} set images.cpu to {image}", False)
    return (f"then add this line to {config_path}: `images: {{cpu: {image}}}`", False)
