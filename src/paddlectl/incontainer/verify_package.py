"""Check a paddlectl package against its SHA256SUMS with the standard library alone, and extract it.

    python3 verify_package.py PACKAGE.tar DEST

Runs inside the prod image build (no paddlectl, no cryptography there), so the bytes extracted are the bytes
checked. Every member must be a regular file with a plain name (no links, devices, folders, paths or '..');
SHA256SUMS must list every other file (never itself or SHA256SUMS.sig) with its sha256, and nothing more; MODEL.yaml
must be there. On any problem it names them, exits 1 and leaves DEST uncreated. Python 3.8+.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tarfile

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
CARD = "MODEL.yaml"
LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}")
CHUNK = 1 << 20


def extract(package: str, staging: str) -> tuple[dict[str, str], list[str]]:
    """Write every member into `staging` (hashing on the way) and return (digests, problems)."""
    digests: dict[str, str] = {}
    problems: list[str] = []
    with tarfile.open(package, "r:") as archive:  # a package is an uncompressed tar
        for member in archive:
            if not member.isreg():
                problems.append("%s: not a regular file" % member.name)
                continue
            if not NAME.fullmatch(member.name):
                problems.append("%r: not a plain file name" % member.name)
                continue
            if member.name in digests:
                problems.append("%s: in the archive twice" % member.name)
                continue
            source = archive.extractfile(member)
            assert source is not None  # a regular file always has content to read
            digest = hashlib.sha256()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(os.path.join(staging, member.name), flags, 0o644), "wb") as target:
                while True:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    target.write(chunk)
            digests[member.name] = digest.hexdigest()
    return digests, problems


def check_sums(staging: str, digests: dict[str, str]) -> list[str]:
    problems = [] if CARD in digests else ["%s: missing" % CARD]
    if SUMS not in digests:
        return ["%s: missing" % SUMS, *problems]
    with open(os.path.join(staging, SUMS), "rb") as handle:
        try:
            text = handle.read().decode("ascii")
        except UnicodeDecodeError:
            return ["%s: not ASCII text" % SUMS, *problems]
    listed, line_problems = parse_sums(text)
    return problems + line_problems + listing_problems(listed, digests)


def parse_sums(text: str) -> tuple[dict[str, str], list[str]]:
    """({name: sha256}, problems) from SHA256SUMS's text."""
    listed: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = LINE.fullmatch(line)
        if match is None or match.group(2) in listed:
            problems.append("%s line %d: not '<sha256>  <name>' or a name listed twice" % (SUMS, number))
            continue
        listed[match.group(2)] = match.group(1)
    return listed, problems


def listing_problems(listed: dict[str, str], digests: dict[str, str]) -> list[str]:
    """Each extracted file against its line, then the lines that name no file, then lines that cannot be."""
    problems = []
    for name, digest in sorted(digests.items()):
        if name in (SUMS, SIGNATURE):
            continue
        if name not in listed:
            problems.append("%s: not listed in %s" % (name, SUMS))
        elif listed[name] != digest:
            problems.append("%s: checksum mismatch" % name)
    for name in sorted(set(listed) - set(digests)):
        problems.append("%s: listed in %s but not in the archive" % (name, SUMS))
    for name in (SUMS, SIGNATURE):
        if name in listed:
            problems.append("%s lists %s, which it cannot cover" % (SUMS, name))
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: verify_package.py PACKAGE.tar DEST\n")
        return 2
    package, dest = argv
    staging = dest + ".partial"
    os.makedirs(staging)
    try:
        digests, problems = extract(package, staging)
        problems += check_sums(staging, digests)
    except (OSError, tarfile.TarError) as exc:
        problems = ["%s: cannot read: %s" % (os.path.basename(package), exc)]
    if problems:
        shutil.rmtree(staging, ignore_errors=True)
        sys.stderr.write(
            "verify_package.py: %s failed verification: %s\n" % (os.path.basename(package), "; ".join(problems[:8]))
        )
        return 1
    os.rename(staging, dest)
    sys.stdout.write("verify_package.py: %s: %d files match SHA256SUMS\n" % (os.path.basename(package), len(digests)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
