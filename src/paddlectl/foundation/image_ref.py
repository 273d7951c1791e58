"""Image references: `ImageRef` splits any reference into repository, tag and digest (the one place that knows
where a registry's port ends and a tag begins); `PinnedImage` validates one that names fixed bytes: `repo:tag`
with a tag that does not move, or `repo@sha256:...`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from paddlectl.errors import UsageError

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPO = re.compile(r"^[a-z0-9]+(?:[._-]+[a-z0-9]+|/[a-z0-9]+)*(?:[._/-]+[a-z0-9]+)*$")
PINNED_EXAMPLE = "paddlepaddle/paddle:3.2.0"


@dataclass(frozen=True)
class ImageRef:
    """Any image reference, split but not validated: `localhost:5000/team/paddle:3.2.0@sha256:...`."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def split(cls, reference: str) -> ImageRef:
        """The parts of `reference`; a colon before the last slash belongs to a registry's port, not a tag."""
        name, at, digest = reference.strip().partition("@")
        head, sep, tag = name.rpartition(":")
        if sep and "/" not in tag:
            return cls(head, tag or None, digest if at else None)
        return cls(name, None, digest if at else None)

    def by_digest(self, digest: str) -> str:
        """`repository@digest`: the exact image a digest names in this repository."""
        return f"{self.repository}@{digest}"


def digest_for(repo_digests: tuple[str, ...] | list[str], repository: str | None) -> str | None:
    """The registry digest of an image (its `repo@sha256:...` entries) for `repository`, else its first one.

    `repository` may be short (`paddle`) where the engine lists it in full (`docker.io/library/paddle`). None
    for an image built locally (no entries): it has no registry digest.
    """
    for entry in repo_digests:
        repo, _, digest = entry.partition("@")
        if repository is not None and (repo == repository or repo.endswith("/" + repository)):
            return digest
    return repo_digests[0].partition("@")[2] if repo_digests else None


def _is_floating(tag: str) -> bool:
    lowered = tag.lower()
    return lowered == "latest" or lowered.startswith("latest-") or lowered.endswith("-dev") or lowered == "dev"


@dataclass(frozen=True)
class PinnedImage:
    """An image reference that names fixed bytes: a non-floating tag or a sha256 digest."""

    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        if not self.repository:
            return str(self.digest)  # a local image id
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"

    @classmethod
    def parse(cls, reference: str) -> PinnedImage:
        """Parse and validate; raise UsageError for a missing, `latest` or floating tag, or a malformed name."""
        text = reference.strip()
        if not text:
            raise UsageError("no image given", hint=f"pass --image, e.g. --image {PINNED_EXAMPLE}")
        if _DIGEST.match(text):
            return cls(repository="", tag=None, digest=text)  # a local image id names exact bytes too
        parts = ImageRef.split(text)
        if "@" in text:
            repository, digest = parts.repository, str(parts.digest)  # repo:tag@digest: the digest wins
            if not _DIGEST.match(digest):
                raise UsageError(
                    f"image digest '{digest}' is not sha256:<64 hex digits>",
                    hint=f"use {repository}@sha256:<digest> as printed by 'docker images --digests'",
                )
            cls._check_repository(repository, text)
            return cls(repository=repository, tag=None, digest=digest)
        head, tag = parts.repository, parts.tag or ""
        if parts.tag is None:
            raise UsageError(
                f"image '{text}' has no tag, which means the moving 'latest'",
                hint=f"pin a version, e.g. {text}:3.2.0 (like {PINNED_EXAMPLE})",
            )
        cls._check_repository(head, text)
        if not _TAG.match(tag):
            raise UsageError(f"image tag '{tag}' is not a valid tag", hint=f"e.g. {PINNED_EXAMPLE}")
        if _is_floating(tag):
            raise UsageError(
                f"image tag '{tag}' floats: it moves to new builds, so runs would not be reproducible",
                hint=f"pin a release tag such as {head}:3.2.0 or {head}:3.2.0-gpu-cuda12.6-cudnn9.5, or a digest",
            )
        return cls(repository=head, tag=tag, digest=None)

    @staticmethod
    def _check_repository(repository: str, text: str) -> None:
        first, slash, rest = repository.partition("/")
        has_registry = slash and ("." in first or ":" in first or first == "localhost")
        name = rest if has_registry else repository
        if not repository or not _REPO.match(name.lower()) or name != name.lower():
            raise UsageError(f"'{text}' is not a valid image reference", hint=f"e.g. {PINNED_EXAMPLE}")
