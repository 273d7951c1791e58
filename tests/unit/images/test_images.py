"""PinnedImage: which references pin fixed bytes, and the pins in the repository's own Dockerfiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddlectl.errors import ExitCode, UsageError
from paddlectl.foundation.image_ref import PinnedImage

REPO_ROOT = Path(__file__).resolve().parents[3]
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("reference", "repository", "tag", "digest"),
    [
        ("paddlepaddle/paddle:3.2.0", "paddlepaddle/paddle", "3.2.0", None),
        ("paddlepaddle/paddle:3.2.0-gpu-cuda12.6-cudnn9.5", "paddlepaddle/paddle", "3.2.0-gpu-cuda12.6-cudnn9.5", None),
        ("registry:5000/repo:tag", "registry:5000/repo", "tag", None),
        ("localhost:5000/team/paddle:3.2.0", "localhost:5000/team/paddle", "3.2.0", None),
        (
            "ccr-2vdh3abv-pub.cnc.bj.baidubce.com/paddlepaddle/paddle:3.2.0",
            "ccr-2vdh3abv-pub.cnc.bj.baidubce.com/paddlepaddle/paddle",
            "3.2.0",
            None,
        ),
        (f"repo@{DIGEST}", "repo", None, DIGEST),
        (f"paddlepaddle/paddle:3.2.0@{DIGEST}", "paddlepaddle/paddle", None, DIGEST),
    ],
)
def test_pinned_references_are_accepted(reference: str, repository: str, tag: str | None, digest: str | None) -> None:
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
    for label in (
        "org.opencontainers.image.title",
        "org.opencontainers.image.base.name",
        "org.opencontainers.image.version",
    ):
        assert label in text
    users = [line.split()[1] for line in _logical_lines(text) if line.upper().startswith("USER ")]
    assert users, "the base image must not default to root"
    assert users[-1].split(":")[0] not in ("0", "root")


def _stages(dockerfile: Path) -> list[list[str]]:
    """The logical lines of each build stage, FROM first."""
    stages: list[list[str]] = []
    for line in _logical_lines(dockerfile.read_text()):
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _instructions(lines: list[str], keyword: str) -> list[str]:
    return [
        line.split(None, 1)[1] if " " in line else "" for line in lines if line.split(None, 1)[0].upper() == keyword
    ]


# What paddlectl.images.build puts into each build context (and nothing else is there to COPY).
CONTEXT_FILES = {
    "base": {"Dockerfile.base", "requirements-base.lock", "wheels/"},
    "dev": {"Dockerfile.dev", "requirements-dev.lock", "wheels/"},
    "prod": {"Dockerfile.prod", "model.tar", "serve.py", "verify_package.py"},
}


@pytest.mark.parametrize("role", sorted(CONTEXT_FILES))
def test_every_copy_names_a_file_of_the_build_context(role: str) -> None:
    copied = set()
    for stage in _stages(REPO_ROOT / f"Dockerfile.{role}"):
        for arguments in _instructions(stage, "COPY"):
            if not arguments.startswith("--from="):
                copied.update(arguments.split()[:-1])
    assert copied and copied <= CONTEXT_FILES[role]


@pytest.mark.parametrize("role", ["base", "dev", "prod"])
def test_installs_are_hash_checked_and_leave_no_wheels_in_the_image(role: str) -> None:
    dockerfile = REPO_ROOT / f"Dockerfile.{role}"
    installs = [line for line in _logical_lines(dockerfile.read_text()) if re.search(r"\bpip3?\b.*\binstall\b", line)]
    for line in installs:
        assert "--no-index" in line and "--require-hashes" in line and "--no-cache-dir" in line, line
    final = _stages(dockerfile)[-1]
    assert not any("wheels" in arguments for arguments in _instructions(final, "COPY")), "wheels stay in a stage"
    assert not any(re.search(r"\bpip3?\b", line) for line in final), "the final stage installs nothing itself"
    assert (len(installs) == 1) == (role != "prod")


@pytest.mark.parametrize("role", ["base", "dev", "prod"])
def test_every_image_runs_as_a_non_root_user_and_says_where_it_came_from(role: str) -> None:
    final = _stages(REPO_ROOT / f"Dockerfile.{role}")[-1]
    users = _instructions(final, "USER")
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the last USER of the image is not root"
    labels = " ".join(_instructions(final, "LABEL"))
    for label in ("source", "revision", "created", "base.name", "base.digest", "title", "version"):
        assert f"org.opencontainers.image.{label}=" in labels
    assert f'io.paddlectl.role="{role}"' in labels


def test_prod_serves_with_a_healthcheck_and_verifies_the_package_in_the_build() -> None:
    stages = _stages(REPO_ROOT / "Dockerfile.prod")
    assert len(stages) == 2, "a verify stage, then the image"
    verify, final = stages
    assert any("verify_package.py" in run and "serve.py check" in run for run in _instructions(verify, "RUN"))
    assert _instructions(final, "HEALTHCHECK") and "serve.py" in _instructions(final, "HEALTHCHECK")[0]
    assert _instructions(final, "EXPOSE") == ["8080"]
    assert "serve.py" in _instructions(final, "ENTRYPOINT")[0]
    assert _instructions(final, "COPY") == ["--from=verify /opt/paddlectl /opt/paddlectl"], "only checked files"
    assert final[0] == "FROM ${PADDLE_IMAGE}", "prod stands on the Paddle image, not on base's extras"


def test_dev_exposes_jupyter_on_the_base() -> None:
    final = _stages(REPO_ROOT / "Dockerfile.dev")[-1]
    assert final[0] == "FROM ${BASE_IMAGE}"
    assert _instructions(final, "EXPOSE") == ["8888"]
    assert "jupyter" in _instructions(final, "CMD")[0]
