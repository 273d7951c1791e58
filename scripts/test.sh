#!/usr/bin/env bash
# THE test command: install, start the engine, build the local Paddle image, lint, type-check, run every test.
#
#   bash scripts/test.sh              everything (unit + real engine + Paddle); what CI runs
#   bash scripts/test.sh --unit       unit tests only: no Docker, no lint (well under 30 s)
#   bash scripts/test.sh -k manifest  extra arguments go to pytest
#
# Exits non-zero when any step fails, including a pytest run that selected no tests (exit 5).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"

unit_only=false
pytest_args=()
for arg in "$@"; do
  if [ "$arg" = "--unit" ]; then unit_only=true; else pytest_args+=("$arg"); fi
done

say() { printf 'test.sh: %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The package counts as installed when it is an editable install of *this* tree whose version, console scripts
# and (dev) requirements match pyproject.toml; then pip is skipped, which saves several seconds per run.
installed_here() {
  "$PYTHON" - "$ROOT" <<'PY' 2>/dev/null
import importlib.metadata as md
import json
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

root = Path(sys.argv[1]).resolve()
dist = md.distribution("paddlectl")
direct = json.loads(dist.read_text("direct_url.json") or "{}")
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
ok = (
    direct.get("dir_info", {}).get("editable") is True
    and direct.get("url") == root.as_uri()
    and dist.version == project["version"]
    and {ep.name for ep in dist.entry_points if ep.group == "console_scripts"} == set(project.get("scripts", {}))
)
for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
    requirement = Requirement(line)
    try:
        ok = ok and requirement.specifier.contains(md.version(requirement.name), prereleases=True)
    except md.PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
PY
}

failed=()
step() {  # step NAME COMMAND...: run, time, remember a failure and go on so one run reports every problem
  local name="$1" start
  shift
  start="$(now)"
  say "$name ..."
  if "$@"; then
    say "$name ok ($(elapsed "$start") s)"
  else
    local code=$?
    say "$name FAILED with exit code $code ($(elapsed "$start") s)"
    failed+=("$name")
  fi
}

total_start="$(now)"
if installed_here; then
  say "paddlectl already installed (editable, dev extras) from $ROOT"
else
  say "installing paddlectl with dev extras: pip install -e '.[dev]'"
  "$PYTHON" -m pip install -q --disable-pip-version-check -e ".[dev]"
fi

if $unit_only; then
  step "unit tests" "$PYTHON" -m pytest tests/unit -m "not engine and not paddle" "${pytest_args[@]}"
else
  # Engine and image first: without them the real-engine tests cannot run, so stop here.
  bash scripts/ensure-docker.sh
  bash scripts/build-paddle-image.sh
  step "ruff" "$PYTHON" -m ruff check src tests bench
  step "ruff format" "$PYTHON" -m ruff format --check src tests bench scripts
  step "mypy" "$PYTHON" -m mypy
  step "pytest" "$PYTHON" -m pytest "${pytest_args[@]}"
fi

if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]} (total $(elapsed "$total_start") s)"
  exit 1
fi
say "all passed (total $(elapsed "$total_start") s)"
