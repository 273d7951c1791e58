"""Checking a package as the registry does: packaging's own verification, the signature against every trusted
key, and the policy that keeps unsigned or untrusted packages away from production."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paddlectl.errors import ExitCode, PaddlectlError
from paddlectl.packaging.errors import TamperedError
from paddlectl.registry.model import SignatureCheck

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from paddlectl.packaging.reader import Problem


@dataclass(frozen=True)
class CheckedPackage:
    """One read of a package: its identity, card, signature state and every problem found."""

    path: Path
    sha256: str
    size: int
    card: dict[str, Any] | None
    signature: SignatureCheck
    key_fingerprint: str | None
    problems: list[Problem]
    provenance: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str((self.card or {}).get("name"))

    @property
    def version(self) -> str:
        return str((self.card or {}).get("version"))

    def raise_for_problems(self, what: str | None = None) -> None:
        """TamperedError naming the first problems; nothing when the package verified."""
        if not self.problems:
            return
        shown = "; ".join(str(p) for p in self.problems[:6])
        more = f" (and {len(self.problems) - 6} more)" if len(self.problems) > 6 else ""
        raise TamperedError(
            f"{what or self.path.name} failed verification: {shown}{more}",
            hint="do not use it: register the package again from where it was published",
        )


@dataclass(frozen=True)
class SignaturePolicy:
    require_signature: bool = False
    trusted_keys: tuple[Path, ...] = ()

    @cached_property
    def _keys(self) -> list[Ed25519PublicKey]:
        from paddlectl.packaging.signing import load_public_key

        return [load_public_key(path) for path in self.trusted_keys]

    def check(self, path: Path) -> CheckedPackage:
        """Read `path` once and judge it. Raises UsageError when it is not a package at all."""
        from paddlectl.packaging.reader import scan_archive
        from paddlectl.packaging.verify import SignatureState, evaluate

        scan = scan_archive(path)
        report = evaluate(path, scan, None)
        problems = [p for p in report.problems if p.code is ExitCode.TAMPERED]
        state, fingerprint = SignatureCheck.ABSENT, None
        if report.signature is SignatureState.UNCHECKED:
            state = SignatureCheck.UNCHECKED if not self.trusted_keys else SignatureCheck.UNTRUSTED
            for key in self._keys:
                keyed = evaluate(path, scan, key)
                if keyed.signature is SignatureState.VALID:
                    state, fingerprint = SignatureCheck.VALID, keyed.key_fingerprint
                    break
        return CheckedPackage(
            path=path,
            sha256=report.sha256,
            size=report.size,
            card=report.card,
            signature=state,
            key_fingerprint=fingerprint,
            problems=problems,
            provenance=report.provenance,
        )

    def require(self, checked: CheckedPackage, ref: str, action: str) -> None:
        """Raise REFUSED when the policy requires a trusted signature and `checked` has none."""
        if not self.require_signature or checked.signature is SignatureCheck.VALID:
            return
        why = {
            SignatureCheck.ABSENT: "is not signed",
            SignatureCheck.UNTRUSTED: "is not signed by any of registry.trusted_keys",
            SignatureCheck.UNCHECKED: "is signed, but registry.trusted_keys lists no key to check it with",
        }[checked.signature]
        raise PaddlectlError(
            f"refusing to {action} {ref}: it {why}, and registry.require_signature is on",
            hint="sign it with a trusted key (paddlectl package --sign KEY) and register that package, "
            "or add the signer's .pub to registry.trusted_keys",
            code=ExitCode.REFUSED,
        )
