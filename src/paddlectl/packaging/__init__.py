"""Packaging: build, verify and unpack model packages, and the keys that sign them.

A package is NAME-VERSION.tar holding the inference files, MODEL.yaml (the card), SHA256SUMS and optionally
SHA256SUMS.sig (ed25519 over the exact SHA256SUMS bytes); byte-identical when built twice from one export.
"""

from __future__ import annotations

from paddlectl.packaging.archive import PackagedFile, PackageRequest, PackageResult, build_package
from paddlectl.packaging.card import ModelStatus, parse_status
from paddlectl.packaging.errors import TamperedError, UnsignedError
from paddlectl.packaging.layout import ARCHIVE_SUFFIX, archive_name
from paddlectl.packaging.reader import Problem
from paddlectl.packaging.signing import KeyPair, default_key_dir, generate_keypair
from paddlectl.packaging.source import resolve_export_dir
from paddlectl.packaging.unpack import UnpackResult, unpack_package
from paddlectl.packaging.verify import SignatureState, VerifyReport, verify_package

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
