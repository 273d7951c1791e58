"""incontainer/ runs on the Paddle image's Python (3.8 or newer), with the standard library, numpy and paddle only.

ruff checks these files as Python 3.8 code (pyproject.toml's per-file target version) and mypy types them with the
host's Python; this test keeps what neither sees: an annotation the image would evaluate at import time.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

INCONTAINER = Path(__file__).resolve().parents[3] / "src" / "paddlectl" / "incontainer"
SCRIPTS = sorted(path for path in INCONTAINER.glob("*.py") if path.name != "__init__.py")
ALLOWED = set(sys.stdlib_module_names) | {"numpy", "paddle"}


def _annotations(tree: ast.AST) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
    return found


def _postponed(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )


def test_every_script_is_checked() -> None:
    assert {path.name for path in SCRIPTS} >= {"export_model.py", "serve.py", "verify_package.py", "probe_runtime.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_parses_as_python38_and_imports_only_what_the_image_has(script: Path) -> None:
    tree = ast.parse(script.read_text(encoding="utf-8"), feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert imported <= ALLOWED, imported - ALLOWED


EVALUATED = [path for path in SCRIPTS if not _postponed(ast.parse(path.read_text(encoding="utf-8")))]


def test_scripts_without_postponed_annotations_are_known() -> None:
    # paddlectl_metrics is imported by users' training scripts, which may read its annotations at run time.
    assert [path.name for path in EVALUATED] == ["paddlectl_metrics.py"]


@pytest.mark.parametrize("script", EVALUATED, ids=lambda path: path.name)
def test_annotations_evaluated_at_import_need_nothing_newer_than_38(script: Path) -> None:
    """Without `from __future__ import annotations`, Python 3.8 evaluates every annotation when it defines it."""
    for annotation in _annotations(ast.parse(script.read_text(encoding="utf-8"))):
        for node in ast.walk(annotation):
            assert not isinstance(node, ast.BinOp), f"{script.name}: {ast.unparse(annotation)} (X | Y needs 3.10)"
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                assert node.value.id not in {"list", "dict", "set", "tuple", "type"}, (
                    f"{script.name}: {ast.unparse(annotation)} (builtin generics need 3.9)"
                )
