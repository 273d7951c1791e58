"""Verify a package: every checksum, the file list both ways, the signature, and the card against the files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import ExitCode, UsageError
from paddlectl.foundation.enums import TextEnum
from paddlectl.packaging import signing
from paddlectl.packaging.card import check_card
from paddlectl.packaging.checksums import parse_sums
from paddlectl.packaging.errors import TamperedError, UnsignedError
from paddlectl.packaging.layout import CARD_NAME, PROVENANCE_NAMES, SIG_NAME, SUMS_NAME
from paddlectl.packaging.reader import NOT_USTAR, Problem, Scan, ScannedFile, scan_archive

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class SignatureState(TextEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNCHECKED = "unchecked"  # signed, but no --key to check it with
    ABSENT = "absent"


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    sha256: str
    size: int
    files: list[ScannedFile]
    signature: SignatureState
    key_fingerprint: str | None
    card: dict[str, Any] | None
    problems: list[Problem]
    provenance: dict[str, bytes] = field(default_factory=dict)  # RUN.yaml / RUN.patch contents, when present

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> ExitCode:
        codes = {problem.code for problem in self.problems}
        for code in (ExitCode.TAMPERED, ExitCode.UNSIGNED):
            if code in codes:
                return code
        return ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        card = self.card or {}
        return {
            "ok": self.ok,
            "path": str(self.path),
            "sha256": self.sha256,
            "size": self.size,
            "name": card.get("name"),
            "version": card.get("version"),
            "status": card.get("status"),
            "format": card.get("format"),
            "signature": self.signature.value,
            "key_fingerprint": self.key_fingerprint,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
            "problems": [{"file": p.file, "reason": p.reason, "exit_code": int(p.code)} for p in self.problems],
            "exit_code": int(self.exit_code),
        }

    def raise_for_problems(self) -> None:
        """Raise TamperedError (any mismatch) or UnsignedError (key given, no signature); nothing when ok."""
        tampered = [p for p in self.problems if p.code is ExitCode.TAMPERED]
        if tampered:
            shown = "; ".join(str(p) for p in tampered[:6])
            more = f" (and {len(tampered) - 6} more)" if len(tampered) > 6 else ""
            raise TamperedError(
                f"{self.path.name} failed verification: {shown}{more}",
                hint="do not use this package: rebuild it, or fetch it again from where it was published",
            )
        if self.problems:
            raise UnsignedError(
                f"{self.path.name} is not signed, but --key was given",
                hint="ask for a package built with --sign, or verify without --key",
            )


def _checksum_problems(scan: Scan) -> list[Problem]:
    if SUMS_NAME not in scan.files:
        return [Problem(SUMS_NAME, "missing: the package carries no checksums")]
    if SUMS_NAME not in scan.small:
        return []  # too large: the reader already said so
    parsed = parse_sums(scan.small[SUMS_NAME])
    problems = [Problem(SUMS_NAME, error) for error in parsed.errors]
    listed = parsed.digests
    for name in (SUMS_NAME, SIG_NAME):
        if name in listed:
            problems.append(Problem(SUMS_NAME, f"lists {name}, which it cannot cover"))
    return problems + _listing_problems(listed, scan.files)


def _listing_problems(listed: dict[str, str], files: dict[str, ScannedFile]) -> list[Problem]:
    """Each file of the archive against its SHA256SUMS line, then the lines that name no file."""
    problems: list[Problem] = []
    for name, member in files.items():
        if name in (SUMS_NAME, SIG_NAME):
            continue
        if name not in listed:
            problems.append(Problem(name, "not listed in SHA256SUMS"))
        elif listed[name] != member.sha256:
            problems.append(Problem(name, "checksum mismatch: the file, or its line in SHA256SUMS, was changed"))
    for name in listed:
        if name not in files and name not in (SUMS_NAME, SIG_NAME):
            problems.append(Problem(name, "listed in SHA256SUMS but not in the archive"))
    return problems


def _card(scan: Scan) -> tuple[dict[str, Any] | None, list[Problem]]:
    if CARD_NAME not in scan.files:
        return None, [Problem(CARD_NAME, "missing: the package carries no model card")]
    if CARD_NAME not in scan.small:
        return None, []
    card, problems = check_card(scan.small[CARD_NAME], {name: f.size for name, f in scan.files.items()})
    return card, [Problem(CARD_NAME, problem) for problem in problems]


def _signature(scan: Scan, key: Ed25519PublicKey | None) -> tuple[SignatureState, list[Problem]]:
    signature = scan.small.get(SIG_NAME)
    if SIG_NAME not in scan.files:
        if key is None:
            return SignatureState.ABSENT, []
        return SignatureState.ABSENT, [Problem(SIG_NAME, "missing: the package is not signed", ExitCode.UNSIGNED)]
    if key is None:
        return SignatureState.UNCHECKED, []
    sums = scan.small.get(SUMS_NAME)
    if signature is None or sums is None or len(signature) != signing.SIGNATURE_SIZE:
        return SignatureState.INVALID, [Problem(SIG_NAME, "not a signature over SHA256SUMS")]
    if not signing.signature_matches(key, sums, signature):
        return SignatureState.INVALID, [
            Problem(SIG_NAME, "does not match SHA256SUMS with this key (another key, or the sums were changed)")
        ]
    return SignatureState.VALID, []


def _not_a_package(path: Path, scan: Scan) -> UsageError | None:
    """A sound tar archive that holds neither a model card nor checksums was never a package (`tar cf x.tar a`).

    Only an archive read intact to its end qualifies: a damaged or truncated package is tampered, not foreign.
    """
    if not scan.complete or {CARD_NAME, SUMS_NAME} & set(scan.names):
        return None
    shown = ", ".join(scan.names[:3]) + (f" and {len(scan.names) - 3} more" if len(scan.names) > 3 else "")
    return UsageError(
        f"{path} is not a paddlectl package: a tar archive without {CARD_NAME} or {SUMS_NAME} "
        f"(it holds {shown or 'no files'})",
        hint="verify and unpack read archives made by 'paddlectl package'; list a plain tar with 'tar tf', "
        "unpack it with 'tar xf'",
    )


def evaluate(path: Path, scan: Scan, key: Ed25519PublicKey | None) -> VerifyReport:
    """Judge a scanned archive: the reader's problems, then checksums, card and signature.

    Raises UsageError (exit 2) for a sound tar archive that is not a paddlectl package at all.
    """
    foreign = _not_a_package(path, scan)
    if foreign is not None:
        raise foreign
    card, card_problems = _card(scan)
    state, signature_problems = _signature(scan, key)
    problems = [*scan.problems, *_checksum_problems(scan), *card_problems, *signature_problems]
    repacked = [p for p in scan.problems if p.reason == NOT_USTAR]
    if repacked:  # one cause, said once: every file refused, so SHA256SUMS and MODEL.yaml also read as missing
        problems = [
            Problem(
                None,
                f"{len(repacked)} member(s) are not in the POSIX ustar format paddlectl writes: the archive was "
                "repacked by another tar (GNU tar's default), so none of its files can be trusted",
            ),
            *(p for p in scan.problems if p.reason != NOT_USTAR),
        ]
    return VerifyReport(
        path=path,
        sha256=scan.sha256,
        size=scan.size,
        files=list(scan.files.values()),
        signature=state,
        key_fingerprint=signing.fingerprint(key) if key is not None else None,
        card=card,
        problems=problems,
        provenance={name: data for name, data in scan.small.items() if name in PROVENANCE_NAMES},
    )


def verify_package(path: Path, key: Path | None = None) -> VerifyReport:
    """Read the package once and report every problem found (each naming its file).

    Raises UsageError when the package or key cannot be read or is not what it should be at all; mismatches are
    reported, not raised: call `raise_for_problems()` for the error, or use `exit_code`.
    """
    public_key = signing.load_public_key(key) if key is not None else None
    return evaluate(path, scan_archive(path), public_key)
