"""`.paddlectl/images.yaml`: every image paddlectl built for the project, written atomically under a lock."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from paddlectl.engine.protocol import ContainerEngine
from paddlectl.errors import UsageError
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.yamlio import dump_yaml, load_yaml

IMAGES_FILE = "images.yaml"
SCHEMA_VERSION = 1


@dataclass
class BuiltImage:
    """One built image: what it is (tag, id, digest, size) and what it was built from (inputs)."""

    role: str
    tag: str
    id: str
    digest: str | None
    size: int
    inputs: dict[str, Any]
    inputs_hash: str
    built_at: str
    build_seconds: float | None = None
    parent: str | None = None  # the tag or reference it was built FROM
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer paddlectl wrote, kept on rewrite

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document.update(document.pop("extra"))
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuiltImage:
        """Rebuild from as_dict(); raises KeyError/TypeError/ValueError on a missing or wrong field."""
        known = {f.name for f in fields(cls)} - {"extra"}
        for name in ("role", "tag", "id", "inputs_hash", "built_at"):
            if not isinstance(data[name], str):
                raise TypeError(f"{name} is not text")
        if not isinstance(data.get("inputs", {}), dict):
            raise TypeError("inputs is not a mapping")
        values = {key: value for key, value in data.items() if key in known}
        values["size"] = int(values.get("size") or 0)
        values.setdefault("inputs", {})
        values.setdefault("digest", None)
        return cls(**values, extra={key: value for key, value in data.items() if key not in known})


@dataclass
class ImageListing:
    images: list[BuiltImage]
    warnings: list[str]


class ImageStore:
    """Reads and updates images.yaml; one writer at a time (flock), readers never see a torn file."""

    def __init__(self, store: Path) -> None:
        self.path = store / IMAGES_FILE

    def load(self) -> ImageListing:
        """Every readable record; an unreadable file or entry is a warning, never an exception."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ImageListing([], [])
        except OSError as exc:
            return ImageListing([], [f"cannot read {self.path}: {exc.strerror}"])
        try:
            document = load_yaml(text, str(self.path))
        except UsageError as exc:
            return ImageListing([], [exc.message])
        if document is None:
            return ImageListing([], [])
        entries = document.get("images") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            return ImageListing([], [f"{self.path} has no list of images; it is rewritten on the next build"])
        images, warnings = [], []
        for index, entry in enumerate(entries):
            try:
                if not isinstance(entry, dict):
                    raise TypeError("not a mapping")
                images.append(BuiltImage.from_dict(entry))
            except (KeyError, TypeError, ValueError) as exc:
                warnings.append(f"{self.path.name}: entry {index + 1} is unreadable ({exc}); skipped")
        return ImageListing(images, warnings)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(IMAGES_FILE + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def record(self, image: BuiltImage) -> list[str]:
        """Add or replace (by tag) one record; returns warnings about entries that could not be kept."""
        with self._locked():
            listing = self.load()
            kept = [existing for existing in listing.images if existing.tag != image.tag]
            kept.append(image)
            document = {"schema_version": SCHEMA_VERSION, "images": [entry.as_dict() for entry in kept]}
            write_atomic(self.path, dump_yaml(document))
        return listing.warnings

    def latest(self, role: str) -> BuiltImage | None:
        """The most recently built record of a role."""
        candidates = [image for image in self.load().images if image.role == role]
        return max(candidates, key=lambda image: image.built_at) if candidates else None


@dataclass(frozen=True)
class ImageRow:
    """A record and how the engine sees its tag now: present with the same id, moved to another id, or gone."""

    image: BuiltImage
    present: bool
    current_id: str | None
    checked: bool = True  # False when no engine answered

    @property
    def state(self) -> str:
        if not self.checked:
            return "unknown"
        if self.current_id is None:
            return "missing"
        return "present" if self.present else "moved"

    def as_dict(self) -> dict[str, Any]:
        return {**self.image.as_dict(), "present": self.present, "state": self.state, "current_id": self.current_id}


def list_images(store: ImageStore, engine: ContainerEngine | None) -> tuple[list[ImageRow], list[str]]:
    """Every record, newest first, each checked against the engine (when there is one)."""
    listing = store.load()
    rows = []
    for image in sorted(listing.images, key=lambda entry: entry.built_at, reverse=True):
        info = engine.image(image.tag) if engine is not None else None
        current = info.id if info is not None else None
        rows.append(ImageRow(image, present=current == image.id, current_id=current, checked=engine is not None))
    return rows, listing.warnings
