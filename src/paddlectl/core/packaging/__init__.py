"""Packaging: build, verify and unpack model packages, and the keys that sign them.

A package is NAME-VERSION.tar holding the inference files, MODEL.yaml (the card), SHA256SUMS and optionally
SHA256SUMS.sig (ed25519 over the exact SHA256SUMS bytes); byte-identical when built twice from one export.
"""

from __future__ import annotations

from paddlectl.core.packaging.archive import PackagedFile, PackageRequest, PackageResult, build_package
from paddlectl.core.packaging.card import ModelStatus, parse_status
from paddlectl.core.packaging.errors import TamperedError, UnsignedError
from paddlectl.core.packaging.layout import ARCHIVE_SUFFIX, archive_name
from paddlectl.core.packaging.reader import Problem
from paddlectl.core.packaging.signing import KeyPair, default_key_dir, generate_keypair
from paddlectl.core.packaging.source import resolve_export_dir
from paddlectl.core.packaging.unpack import UnpackResult, unpack_package
from paddlectl.core.packaging.verify import SignatureState, VerifyReport, verify_package

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
