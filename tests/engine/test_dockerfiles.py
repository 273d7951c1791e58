"""The repository's Dockerfiles build on the local Paddle image and run as the non-root user."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from conftest import REPO_ROOT

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, paddle_image: str) -> Iterator[dict[str, str]]:
    """Build base, dev and prod in an empty context (the Dockerfiles copy nothing), then remove them."""
    context = tmp_path_factory.mktemp("context")
    tag = f"pytest-{os.getpid()}"
    built = {role: f"paddlectl-test/{role}:{tag}" for role in ("base", "dev", "prod")}
    try:
        docker("build", "-q", "-f", str(REPO_ROOT / "Dockerfile.base"), "--build-arg", f"PADDLE_IMAGE={paddle_image}",
               "-t", built["base"], str(context))
        for role in ("dev", "prod"):
            docker("build", "-q", "-f", str(REPO_ROOT / f"Dockerfile.{role}"),
                   "--build-arg", f"BASE_IMAGE={built['base']}", "-t", built[role], str(context))
        yield built
    finally:
        subprocess.run(["docker", "rmi", "-f", *built.values()], capture_output=True, check=False)


def label(image: str, name: str) -> str:
    return docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{name}"}}}}', image)


def test_base_runs_as_uid_1000_named_paddle(images: dict[str, str]) -> None:
    assert docker("run", "--rm", images["base"], "id", "-un") == "paddle"
    assert docker("run", "--rm", images["base"], "id", "-u") == "1000"


def test_each_layer_labels_its_pinned_parent(images: dict[str, str], paddle_image: str) -> None:
    assert label(images["base"], "org.opencontainers.image.base.name") == paddle_image
    for role in ("dev", "prod"):
        assert label(images[role], "org.opencontainers.image.base.name") == images["base"]
        assert label(images[role], "io.paddlectl.role") == role


def test_prod_imports_paddle_as_the_non_root_user(images: dict[str, str], paddle_image: str) -> None:
    version = docker("run", "--rm", images["prod"])
    from_tag = paddle_image.rsplit(":", 1)[1].split("-", maxsplit=1)[0]
    assert version == (label(paddle_image, "io.paddlectl.paddle-version") or from_tag)

