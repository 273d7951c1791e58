"""Resolve a pinned image to the bytes it names (id, registry digest) and notice when a tag has moved."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from paddlectl.core.atomic import write_atomic
from paddlectl.core.images import PinnedImage
from paddlectl.core.manifest import ImageRecord
from paddlectl.engine.protocol import ContainerEngine, ImageInfo, PullProgress
from paddlectl.errors import UnavailableError

TAGS_FILE = "image-tags.json"


def digest_of(image: ImageInfo, repository: str) -> str | None:
    """The registry digest for this repository (or any), None for an image built locally."""
    for entry in image.repo_digests:
        repo, _, digest = entry.partition("@")
        if repo == repository or repo.endswith("/" + repository):
            return digest
    return image.repo_digests[0].partition("@")[2] if image.repo_digests else None


def resolve_image(
    engine: ContainerEngine, reference: str, *, pull: bool,
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


class TagHistory:
    """Which image id each tag resolved to in earlier runs (.paddlectl/image-tags.json), to detect moved tags."""

    def __init__(self, store: Path) -> None:
        self.path = store / TAGS_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, str]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                history = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(history, dict):
                    history = {}
            except (OSError, ValueError):
                history = {}
            yield history

    def record(self, pinned: PinnedImage, image: ImageInfo, run_id: str) -> ImageRecord:
        """Remember the id this reference resolved to; the record says which id it moved from, if it moved."""
        record = ImageRecord(
            reference=pinned.reference, id=image.id,
            digest=(pinned.digest if pinned.repository else None) or digest_of(image, pinned.repository),
        )
        with self._locked() as history:
            earlier = history.get(pinned.reference)
            if earlier and earlier.get("id") != image.id:
                record.moved_from = earlier.get("id")
            history[pinned.reference] = {"id": image.id, "digest": record.digest or "", "run": run_id}
            write_atomic(self.path, json.dumps(history, indent=1, sort_keys=True))
        return record


def recorded_image_reference(engine: ContainerEngine, record: ImageRecord) -> str:
    """The exact image a run used, by registry digest or local id; a one-line error with the fix when it is gone."""
    repository = record.reference.split("@", 1)[0].rsplit(":", 1)[0] if not record.reference.startswith("sha256:") \
        else ""
    if record.digest and repository:
        by_digest = f"{repository}@{record.digest}"
        if engine.image(by_digest) is not None:
            return by_digest
        raise UnavailableError(
            f"the image this run used ({by_digest}) is not present locally",
            hint=f"docker pull {by_digest}",
        )
    if record.id and engine.image(record.id) is not None:
        return record.id
    raise UnavailableError(
        f"the image this run used (id {(record.id or '?')[:19]}, tag {record.reference}) is gone and has no "
        "registry digest to pull it by",
        hint=f"rebuild the image that was tagged {record.reference} (a local build), then check its id",
    )
