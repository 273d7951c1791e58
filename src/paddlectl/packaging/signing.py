"""Ed25519 keys and detached signatures over SHA256SUMS (the `cryptography` package, imported only when used)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.packaging.layout import validate_package_name

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"
SIGNATURE_SIZE = 64


def _require_cryptography() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:
        raise UnavailableError(
            "signing needs the 'cryptography' package, which is not installed",
            hint="pip install 'paddlectl[sign]'",
        ) from exc


def default_key_dir() -> Path:
    """~/.config/paddlectl/keys (or under $XDG_CONFIG_HOME): outside any project, so never committed by mistake."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "paddlectl" / "keys"


@dataclass(frozen=True)
class KeyPair:
    private_key: Path
    public_key: Path
    fingerprint: str


def fingerprint(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the first byte on (O_EXCL: never replaces a file, never follows a link)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away from the public key's 0644
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def generate_keypair(out_dir: Path | None = None, name: str = "paddlectl") -> KeyPair:
    """Write NAME.key (private, PEM, 0600) and NAME.pub (public, PEM, 0644) into `out_dir`.

    Raises UsageError when either file exists (keys are never overwritten) or the name is not a plain name.
    """
    _require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        validate_package_name(name)
    except UsageError as error:
        raise UsageError(
            f"invalid key name {name!r}: lower-case letters, digits, '.', '_' and '-', not a path",
            hint="put the folder in --out, the file name in --name",
        ) from error
    directory = out_dir if out_dir is not None else default_key_dir()
    private_path = directory / f"{name}{PRIVATE_SUFFIX}"
    public_path = directory / f"{name}{PUBLIC_SUFFIX}"
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise UsageError(
                f"{path} already exists", hint="choose another --name or --out; keys are never overwritten"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror}", hint="choose another --out") from exc
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder", hint="choose another --out")

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _write_new(private_path, private_pem, 0o600)
        try:
            _write_new(public_path, public_pem, 0o644)
        except BaseException:
            private_path.unlink()  # ours: created a moment ago with O_EXCL
            raise
    except FileExistsError as exc:
        raise UsageError(f"{exc.filename} already exists", hint="keys are never overwritten") from exc
    return KeyPair(private_key=private_path, public_key=public_path, fingerprint=fingerprint(key.public_key()))


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}", hint="check the path") from exc


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; UsageError for anything else (wrong type, encrypted, public key)."""
    _require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{path} is not an unencrypted PEM private key",
            hint="pass the .key file written by 'paddlectl keys generate'",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key", hint="create one with 'paddlectl keys generate'")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file; UsageError for anything else."""
    _require_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{path} is not a PEM public key", hint="pass the .pub file written by 'paddlectl keys generate'"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 public key", hint="pass the .pub file of the signing key")
    return key


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def signature_matches(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def key_exposure_warning(path: Path) -> str | None:
    """A warning when a private key file can be read by group or others (as ssh warns)."""
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return f"signing key {path} is readable by others (mode {mode:04o}); run: chmod 600 {path}"
    return None
