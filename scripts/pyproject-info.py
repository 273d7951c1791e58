"""What scripts/test.sh needs to know from pyproject.toml, on any supported Python (3.10 has no tomllib).

python scripts/pyproject-info.py requirements GROUP...   one requirement per line; GROUP: build, deps or an extra
python scripts/pyproject-info.py installed-here ROOT     exit 0 when paddlectl is an editable install of ROOT whose
                                                          version, console scripts and dev requirements match
"""

from __future__ import annotations

import importlib.metadata as md
import json
import sys
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip vendors the same parser
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

SELF = "paddlectl"


def load(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(document: dict[str, Any], groups: list[str]) -> list[str]:
    """The requirement lines of each group, an extra's references to other extras of paddlectl expanded."""
    project = document["project"]
    extras = project.get("optional-dependencies", {})
    lines: list[str] = []
    pending = list(groups)
    seen: set[str] = set()
    while pending:
        group = pending.pop(0)
        if group in seen:
            continue
        seen.add(group)
        if group == "build":
            found = document["build-system"]["requires"]
        elif group == "deps":
            found = project["dependencies"]
        else:
            found = extras[group]
        for line in found:
            name, _, rest = line.partition("[")
            if name.strip().lower() == SELF:  # `paddlectl[test]` inside the dev extra
                pending.extend(part.strip() for part in rest.rstrip("]").split(","))
            elif line not in lines:
                lines.append(line)
    return lines


def installed_here(root: Path) -> bool:
    from packaging.requirements import Requirement

    document = load(root)
    project = document["project"]
    dist = md.distribution(SELF)
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    ok = (
        direct.get("dir_info", {}).get("editable") is True
        and direct.get("url") == root.as_uri()
        and dist.version == project["version"]
        and {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
        == dict(project.get("scripts", {}))
        and _base_requirements(dist.requires or []) == _base_requirements(project["dependencies"])
    )
    for line in requirements(document, ["deps", "dev"]):
        requirement = Requirement(line)
        try:
            ok = ok and requirement.specifier.contains(md.version(requirement.name), prereleases=True)
        except md.PackageNotFoundError:
            ok = False
    return ok


def _base_requirements(lines: list[str]) -> set[tuple[str, str]]:
    """(name, specifier) of the requirements that no extra qualifies: what the installed metadata must still say
    (a stale one makes tools that follow it, such as the non-root-user test's dependency copy, miss a package)."""
    from packaging.requirements import Requirement

    found = set()
    for line in lines:
        requirement = Requirement(line)
        if requirement.marker is None or "extra" not in str(requirement.marker):
            found.add((requirement.name.lower().replace("_", "-"), str(requirement.specifier)))
    return found


def main(argv: list[str]) -> int:
    command, *rest = argv
    root = Path(__file__).resolve().parent.parent
    if command == "requirements":
        print("\n".join(requirements(load(root), rest)))
        return 0
    if command == "installed-here":
        try:
            return 0 if installed_here(Path(rest[0]).resolve()) else 1
        except Exception:  # not installed, no packaging module, a damaged install: install again
            return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
