"""Image tags derived from content, never `latest`: `<project>/paddle-<role>:<version>-<hash of the inputs>`.

The hash covers everything that decides an image's bytes (Dockerfile, lock, files copied in, the parent image's id
and digest, the package's sha256) and nothing that does not (paths, dates, the git revision in a label), so
building unchanged inputs again finds the same tag.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from paddlectl.foundation.enums import TextEnum

HASH_LENGTH = 12
FALLBACK_REPOSITORY = "paddlectl"
MAX_TAG = 128


class ImageRole(TextEnum):
    BASE = "base"
    DEV = "dev"
    PROD = "prod"

    @property
    def dockerfile(self) -> str:
        return f"Dockerfile.{self.value}"


def repository_component(name: str) -> str:
    """A project name as one Docker repository path component: [a-z0-9] runs joined by single '.', '_' or '-'."""
    lowered = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    lowered = re.sub(r"[._-]{2,}", "-", lowered).strip("._-")
    return lowered[:64].strip("._-") or FALLBACK_REPOSITORY


def tag_text(text: str) -> str:
    """Any text as part of a tag: [A-Za-z0-9_.-], starting with a letter, digit or '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).lstrip(".-")
    return cleaned or "_"


def inputs_hash(inputs: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `inputs` (sorted keys, no whitespace)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def image_tag(project: str, role: ImageRole, version: str, digest: str) -> str:
    """`<project>/paddle-<role>:<version>-<first 12 hex of digest>`; the hash part is never cut."""
    suffix = f"-{digest[:HASH_LENGTH]}"
    head = tag_text(version)
    if head.lower().startswith("latest"):
        head = "_" + head  # a package named "latest" must not make a tag that reads as a floating one
    head = head[: MAX_TAG - len(suffix)]
    return f"{repository_component(project)}/paddle-{role.value}:{head}{suffix}"
