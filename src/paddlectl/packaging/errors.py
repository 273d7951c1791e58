"""The two ways a package can fail verification, each with its own exit code."""

from __future__ import annotations

from paddlectl.errors import ExitCode, PaddlectlError


class TamperedError(PaddlectlError):
    """A checksum, the signature, the file list or the card does not match: the package was changed or damaged."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=ExitCode.TAMPERED)


class UnsignedError(PaddlectlError):
    """A key was given but the package carries no signature."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=ExitCode.UNSIGNED)
