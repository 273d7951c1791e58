"""The import graph: packages import only lower layers, and no module imports itself back through others.

Every `import` counts, also those inside functions and under TYPE_CHECKING: a cycle hidden in a function is
still a cycle. docs/architecture.md draws the same layers; a test below keeps the two in step.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "paddlectl"
ARCHITECTURE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"

# Lowest first. A package may import any package of a lower layer, never one of its own layer or above.
LAYERS: list[set[str]] = [
    {"paddlectl", "errors"},  # the root package (__version__) and the one error type
    {"foundation"},
    {"engine", "project", "mlflowapi"},
    {"runs"},
    {"export"},
    {"packaging"},
    {"images", "registry"},
    {"train", "doctor", "tracking"},
    {"ci"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {package: depth for depth, layer in enumerate(LAYERS) for package in layer}
STANDALONE = {"incontainer"}  # scripts that run inside containers: they import nothing of paddlectl


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every paddlectl module `path` imports; `from a.b import c` names a.b.c when c is a module, else a.b."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
            targets.update(submodules)
            if len(submodules) < len(node.names):
                targets.add(node.module)
    return {target for target in targets if target in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_has_a_layer() -> None:
    packages = {_package(module) for module in _modules()}
    assert packages - set(LAYER_OF) - STANDALONE == set()


def test_no_arrow_points_up_or_sideways() -> None:
    wrong = []
    for module, targets in _graph().items():
        source = _package(module)
        for target in targets:
            other = _package(target)
            if source in STANDALONE or other in STANDALONE:
                wrong.append(f"{module} -> {target} (incontainer/ stands alone)")
            elif other != source and LAYER_OF[other] >= LAYER_OF[source]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers of docs/architecture.md:\n" + "\n".join(sorted(wrong))


def test_no_module_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_architecture_page_lists_the_same_layers() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, flags=re.MULTILINE)
    documented = [{name.strip(" `") for name in names.split(",")} for _, names in rows]
    assert documented == LAYERS
