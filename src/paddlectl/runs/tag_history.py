"""Which image id each tag resolved to in earlier runs (.paddlectl/image-tags.json), to notice a moved tag."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from paddlectl.engine.image_lookup import digest_of
from paddlectl.engine.protocol import ImageInfo
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.runs.manifest import ImageRecord

TAGS_FILE = "image-tags.json"


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

    def record_for(self, pinned: PinnedImage, image: ImageInfo) -> ImageRecord:
        """The run's image record, saying which id the tag moved from when earlier runs saw another (reads only)."""
        record = ImageRecord(
            reference=pinned.reference,
            id=image.id,
            digest=(pinned.digest if pinned.repository else None) or digest_of(image, pinned.repository),
        )
        with self._locked() as history:
            earlier = history.get(pinned.reference)
        if earlier and earlier.get("id") != image.id:
            record.moved_from = earlier.get("id")
        return record

    def remember(self, pinned: PinnedImage, record: ImageRecord, run_id: str) -> None:
        """Remember what this reference resolved to for a recorded run (written once the run is recorded)."""
        with self._locked() as history:
            history[pinned.reference] = {"id": record.id or "", "digest": record.digest or "", "run": run_id}
            write_atomic(self.path, json.dumps(history, indent=1, sort_keys=True))
