"""Packaging: build, verify and unpack model packages, and the keys that sign them.

A package is NAME-VERSION.tar holding the inference files, MODEL.yaml (the card), RUN.yaml and RUN.patch (the
run's provenance), SHA256SUMS and optionally SHA256SUMS.sig (ed25519 over the exact SHA256SUMS bytes);
byte-identical when built twice from one export.

The names below are imported on first use (PEP 562), so importing one light module of this package (layout,
errors) does not pull in the archive writer, the reader and the signing code: `registry show` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paddlectl.packaging.archive import PackagedFile, PackageRequest, PackageResult, build_package
    from paddlectl.packaging.errors import TamperedError, UnsignedError
    from paddlectl.packaging.layout import ARCHIVE_SUFFIX, ModelStatus, archive_name, parse_status
    from paddlectl.packaging.reader import Problem
    from paddlectl.packaging.signing import KeyPair, default_key_dir, generate_keypair
    from paddlectl.packaging.source import resolve_export_dir
    from paddlectl.packaging.unpack import UnpackResult, unpack_package
    from paddlectl.packaging.verify import SignatureState, VerifyReport, verify_package

_WHERE = {
    "ARCHIVE_SUFFIX": "layout",
    "KeyPair": "signing",
    "ModelStatus": "layout",
    "PackageRequest": "archive",
    "PackageResult": "archive",
    "PackagedFile": "archive",
    "Problem": "reader",
    "SignatureState": "verify",
    "TamperedError": "errors",
    "UnpackResult": "unpack",
    "UnsignedError": "errors",
    "VerifyReport": "verify",
    "archive_name": "layout",
    "build_package": "archive",
    "default_key_dir": "signing",
    "generate_keypair": "signing",
    "parse_status": "layout",
    "resolve_export_dir": "source",
    "unpack_package": "unpack",
    "verify_package": "verify",
}
__all__ = [
    "ARCHIVE_SUFFIX",
    "KeyPair",
    "ModelStatus",
    "PackageRequest",
    "PackageResult",
    "PackagedFile",
    "Problem",
    "SignatureState",
    "TamperedError",
    "UnpackResult",
    "UnsignedError",
    "VerifyReport",
    "archive_name",
    "build_package",
    "default_key_dir",
    "generate_keypair",
    "parse_status",
    "resolve_export_dir",
    "unpack_package",
    "verify_package",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
