"""ImageRef splits every reference the same way wherever it is needed: a registry's port is not a tag."""

from __future__ import annotations

import pytest

from paddlectl.foundation.image_ref import ImageRef, PinnedImage, digest_for

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("paddle:3.2.0", ("paddle", "3.2.0", None)),
        ("paddlepaddle/paddle:3.2.0-gpu", ("paddlepaddle/paddle", "3.2.0-gpu", None)),
        ("localhost:5000/team/paddle:3.2.0", ("localhost:5000/team/paddle", "3.2.0", None)),
        (f"localhost:5000/team/paddle@{DIGEST}", ("localhost:5000/team/paddle", None, DIGEST)),
        (f"localhost:5000/team/paddle:3.2.0@{DIGEST}", ("localhost:5000/team/paddle", "3.2.0", DIGEST)),
        ("localhost:5000/team/paddle", ("localhost:5000/team/paddle", None, None)),
        ("paddle", ("paddle", None, None)),
    ],
)
def test_split(reference: str, parts: tuple[str, str | None, str | None]) -> None:
    ref = ImageRef.split(reference)
    assert (ref.repository, ref.tag, ref.digest) == parts


def test_pinned_parse_agrees_with_split_on_a_registry_port() -> None:
    pinned = PinnedImage.parse(f"localhost:5000/team/paddle:3.2.0@{DIGEST}")
    assert (pinned.repository, pinned.digest) == ("localhost:5000/team/paddle", DIGEST)
    assert ImageRef.split(pinned.reference).by_digest(DIGEST) == f"localhost:5000/team/paddle@{DIGEST}"
    with pytest.raises(Exception, match="has no tag"):
        PinnedImage.parse("localhost:5000/team/paddle")


def test_digest_for_prefers_the_repository_and_matches_its_full_name() -> None:
    other = "sha256:" + "cd" * 32
    entries = (f"mirror.example/x/paddle@{other}", f"docker.io/paddlepaddle/paddle@{DIGEST}")
    assert digest_for(entries, "paddlepaddle/paddle") == DIGEST
    assert digest_for(entries, "unrelated/name") == other, "any registry digest beats none"
    assert digest_for((), "paddlepaddle/paddle") is None, "a local build has no registry digest"
