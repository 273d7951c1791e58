"""PinnedImage: which references pin fixed bytes, and the pins in the repository's own Dockerfiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddlectl.core.images import PinnedImage
from paddlectl.errors import ExitCode, UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "repository", "tag", "digest"),
    [
        ("paddlepaddle/paddle:3.2.0", "paddlepaddle/paddle", "3.2.0", None),
        ("paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5", "paddlepaddle/paddle",
         "3.2.0-gpu-cuda12.6-cudnn9.5", None),
        ("registry:5000/repo:tag", "registry:5000/repo", "tag", None),
        ("localhost:5000/team/paddle:3.2.0", "localhost:5000/team/paddle", "3.2.0", None),
        ("ccr-2vdh3abv-pub.cnc.bj.baidubce.com/paddlepaddle/paddle:3.2.0",
         "ccr-2vdh3abv-pub.cnc.bj.baidubce.com/paddlepaddle/paddle", "3.2.0", None),
        (f"repo@{DIGEST}", "repo", None, DIGEST),
        (f"paddlepaddle/paddle:3.2.0@{DIGEST}", "paddlepaddle/paddle", None, DIGEST),
    ],
)
def test_pinned_references_are_accepted(
    reference: str, repository: str, tag: str | None, digest: str | None
) -> None:
    image = PinnedImage.parse(reference)
    assert (image.repository, image.tag, image.digest) == (repository, tag, digest)
    assert PinnedImage.parse(image.reference) == image


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("paddlepaddle/paddle", "no tag"),
        ("registry:5000/repo", "no tag"),
        ("paddlepaddle/paddle:latest", "floats"),
        ("paddlepaddle/paddle:LATEST", "floats"),
        ("paddlepaddle/paddle:latest-gpu", "floats"),
        ("paddlepaddle/paddle:latest-dev", "floats"),
        ("paddlepaddle/paddle:cuda126-dev", "floats"),
        ("repo@sha256:abc", "sha256:<64 hex digits>"),
        (f"repo@{DIGEST.upper()}", "sha256:<64 hex digits>"),
        ("repo@md5:" + "0" * 32, "sha256:<64 hex digits>"),
        ("Paddle/Paddle:3.2.0", "not a valid image reference"),
        ("paddle:-bad", "not a valid tag"),
        ("", "no image given"),
    ],
)
def test_floating_or_malformed_references_are_refused(reference: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        PinnedImage.parse(reference)
    error = caught.value
    assert says in error.message
    assert "\n" not in error.message
    assert error.hint, "every refusal says what to do instead"
    assert error.code == ExitCode.USAGE


@given(st.text(max_size=80))
def test_any_text_is_either_a_pin_or_a_usage_error(text: str) -> None:
    try:
        image = PinnedImage.parse(text)
    except UsageError:
        return
    assert image.tag is None or image.tag.lower() != "latest"
    assert (image.tag is None) != (image.digest is None)


# --- the repository's Dockerfiles: every FROM pinned, nothing fetched during the build ---

DOCKERFILES = sorted(REPO_ROOT.glob("Dockerfile*"))


def _logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    stripped = (line.strip() for line in joined.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def _resolve(reference: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: defaults.get(match.group(1), match.group(0)), reference)


def test_the_three_dockerfiles_exist() -> None:
    assert {path.name for path in DOCKERFILES} >= {"Dockerfile.base", "Dockerfile.dev", "Dockerfile.prod"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_bases_are_pinned_and_builds_are_offline(dockerfile: Path) -> None:
    lines = _logical_lines(dockerfile.read_text())
    defaults: dict[str, str] = {}
    froms = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "ARG" and "=" in rest and not froms:
            name, _, value = rest.partition("=")
            defaults[name.strip()] = value.strip().strip('"')
        elif keyword.upper() == "FROM":
            froms.append(rest.split()[0])
    assert froms, f"{dockerfile.name} has no FROM"
    for reference in froms:
        resolved = _resolve(reference, defaults)
        assert "$" not in resolved, f"{dockerfile.name}: FROM {reference} has no default pinned in an ARG"
        PinnedImage.parse(resolved)  # raises on `latest`, a missing tag or a floating tag
    for line in lines:
        if re.search(r"\bpip3?\b.*\binstall\b", line):
            assert "--no-index" in line, f"{dockerfile.name}: pip install from the network: {line}"
        assert not re.search(r"\b(curl|wget)\b", line), f"{dockerfile.name}: downloads in the build: {line}"


def test_base_image_labels_and_non_root_user() -> None:
    text = (REPO_ROOT / "Dockerfile.base").read_text()
    assert "ARG PADDLE_IMAGE=paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5" in text
    for label in ("org.opencontainers.image.title", "org.opencontainers.image.base.name",
                  "org.opencontainers.image.version"):
        assert label in text
    users = [line.split()[1] for line in _logical_lines(text) if line.upper().startswith("USER ")]
    assert users, "the base image must not default to root"
    assert users[-1].split(":")[0] not in ("0", "root")
