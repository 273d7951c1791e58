"""Images on the engine: find a pinned reference locally (or pull it), and the exact image a run recorded."""

from __future__ import annotations

from collections.abc import Callable

from paddlectl.engine.protocol import ContainerEngine, ImageInfo, PullProgress
from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation.image_ref import PinnedImage, digest_for


def digest_of(image: ImageInfo, repository: str | None) -> str | None:
    """The registry digest for this repository (or any), None for an image built locally."""
    return digest_for(image.repo_digests, repository)


def resolve_image(
    engine: ContainerEngine,
    reference: str,
    *,
    pull: bool,
    on_progress: Callable[[PullProgress], None] | None = None,
) -> tuple[PinnedImage, ImageInfo]:
    """Find the pinned image locally, pulling it when asked; a missing image is a one-line error with the fix."""
    pinned = PinnedImage.parse(reference)
    image = engine.image(pinned.reference)
    if image is None and pull:
        image = engine.pull(pinned.reference, on_progress)
    if image is None:
        raise UnavailableError(
            f"image {pinned.reference} is not present locally",
            hint=f"pull it with 'docker pull {pinned.reference}' or pass --pull",
        )
    return pinned, image


def recorded_image_reference(engine: ContainerEngine, reference: str, digest: str | None, image_id: str | None) -> str:
    """The exact image a run used, by registry digest or local id; a one-line error with the fix when it is gone."""
    try:
        repository = PinnedImage.parse(reference).repository
    except UsageError:
        repository = ""
    if digest and repository:
        by_digest = f"{repository}@{digest}"
        if engine.image(by_digest) is not None:
            return by_digest
        raise UnavailableError(
            f"the image this run used ({by_digest}) is not present locally",
            hint=f"docker pull {by_digest}",
        )
    if image_id and engine.image(image_id) is not None:
        return image_id
    raise UnavailableError(
        f"the image this run used (id {(image_id or '?')[:19]}, tag {reference}) is gone and has no "
        "registry digest to pull it by",
        hint=f"rebuild the image that was tagged {reference} (a local build), then check its id",
    )
