"""The one error type paddlectl raises on purpose, and the exit codes chosen in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code paddlectl itself chooses (train passes the script's own code through)."""

    OK = 0
    FAILED = 1  # a check, gate, comparison or verification answered "no"
    USAGE = 2  # bad input: options, config, files (also click's own usage errors)
    UNAVAILABLE = 3  # the Docker engine, an image, a GPU runtime or the MLflow server is not available
    TAMPERED = 4  # verify: a checksum or signature does not match
    UNSIGNED = 5  # verify: a key was given but the package carries no signature
    REFUSED = 6  # refused by policy: e.g. the registry's require_signature for an untrusted package
    INCOMPARABLE = 7  # gate: candidate and baseline differ in data, profile, image or evaluation params
    INTERNAL = 70  # a bug in paddlectl (EX_SOFTWARE)
    IO = 74  # the file system refused a write paddlectl must make: full disk, permissions (EX_IOERR)
    SIGHUP = 129
    SIGINT = 130
    SIGTERM = 143


class PaddlectlError(Exception):
    """An error paddlectl expected: a one-line message, an optional hint saying what to do, an exit code."""

    def __init__(self, message: str, *, hint: str | None = None, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return self.message


class UsageError(PaddlectlError):
    """Bad input from the user."""


class UnavailableError(PaddlectlError):
    """The engine, an image or a runtime is not there."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=ExitCode.UNAVAILABLE)
