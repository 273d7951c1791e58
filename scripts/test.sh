#!/usr/bin/env bash
# THE test command: install, start the engine, build the local Paddle image, lint, type-check, run every test.
#
#   bash scripts/test.sh                everything (unit + real engine + Paddle, and tests/unit on Python 3.10
#                                       and 3.13 too); what CI runs
#   bash scripts/test.sh --unit         unit tests only, on this Python: no Docker, no lint (well under 30 s)
#   bash scripts/test.sh --unit --all-pythons   the same on this Python, 3.10 and 3.13
#   bash scripts/test.sh -k manifest    extra arguments go to pytest (this Python only)
#
# Exits non-zero when any step fails, including a pytest run that selected no tests (exit 5).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"

unit_only=false
all_pythons=""
pytest_args=()
for arg in "$@"; do
  case "$arg" in
    --unit) unit_only=true ;;
    --all-pythons) all_pythons=true ;;
    *) pytest_args+=("$arg") ;;
  esac
done
# The full run checks every supported Python; a narrowed one (--unit, pytest arguments) only when asked.
if [ -z "$all_pythons" ]; then
  if $unit_only || [ "${#pytest_args[@]}" -gt 0 ]; then all_pythons=false; else all_pythons=true; fi
fi

say() { printf 'test.sh: %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The package counts as installed when it is an editable install of *this* tree whose version, console scripts
# and (dev) requirements match pyproject.toml; then pip is skipped, which saves several seconds per run.
installed_here() {
  "$PYTHON" scripts/pyproject-info.py installed-here "$ROOT" 2>/dev/null
}

# The unit suite also runs on the oldest and newest supported Python (pyenv's interpreters), each in a virtual
# environment made here with the package (editable, from this tree) and only what tests/unit needs (the `test`
# extra). Environments are cached in $VENV_CACHE/<python version>-<hash of the requirements>: a second run on the
# same machine installs nothing but the package itself when the tree moved (a fresh CI clone: about 2 s).
read -ra OTHER_PYTHONS <<<"${PADDLECTL_TEST_PYTHONS:-3.10 3.13}"  # e.g. PADDLECTL_TEST_PYTHONS="3.10 3.12 3.13"
VENV_CACHE="${PADDLECTL_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddlectl/venvs}"
IN_CI=false
case "${CI:-}" in 1 | true | TRUE | True | yes) IN_CI=true ;; esac

interpreter_for() {  # interpreter_for 3.10: the path of that Python, or nothing
  local prefix
  if prefix="$(pyenv prefix "$1" 2>/dev/null)" && [ -x "$prefix/bin/python$1" ]; then
    echo "$prefix/bin/python$1"
  else
    command -v "python$1" || true
  fi
}

unit_venv() {  # unit_venv INTERPRETER: make (or reuse) the cached environment; prints its python
  local interpreter="$1" version hash venv staging
  local -a requirements
  version="$("$interpreter" -c 'import platform; print(platform.python_version())')" || return 1
  mapfile -t requirements < <("$interpreter" scripts/pyproject-info.py requirements build deps test)
  [ "${#requirements[@]}" -gt 0 ] || return 1
  hash="$(printf '%s\n' "${requirements[@]}" | sha256sum | cut -c1-12)"
  venv="$VENV_CACHE/$version-$hash"
  if [ ! -f "$venv/.complete" ]; then
    say "python $version: creating $venv (${requirements[*]})"
    mkdir -p "$VENV_CACHE" || return 1
    staging="$(mktemp -d "$VENV_CACHE/.new-$version-XXXXXX")" || return 1
    if ! { "$interpreter" -m venv "$staging" && "$staging/bin/python" -m pip install -q "${requirements[@]}"; }; then
      rm -rf "$staging"
      return 1
    fi
    touch "$staging/.complete"
    # Made aside and renamed into place: a test.sh running at the same time never uses half of one. (Only
    # `python -m` runs from it, and the package's console script is installed after the move, so no shebang breaks.)
    rm -rf "$venv.old"
    if [ -e "$venv" ]; then mv "$venv" "$venv.old"; fi
    mv -T "$staging" "$venv" || rm -rf "$staging"
    rm -rf "$venv.old"
  fi
  if [ "$(cat "$venv/.paddlectl-root" 2>/dev/null)" != "$ROOT" ]; then
    "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT" || return 1
    echo "$ROOT" >"$venv/.paddlectl-root"
  fi
  echo "$venv/bin/python"
}

PREPARED="$(mktemp -d "${TMPDIR:-/tmp}/paddlectl-test-pythons.XXXXXX")"
trap 'rm -rf "$PREPARED"' EXIT

prepare_other_pythons() {  # for each version: $PREPARED/VERSION.python (its venv's python) or VERSION.problem
  local version interpreter python start
  for version in "${OTHER_PYTHONS[@]}"; do
    start="$(now)"
    interpreter="$(interpreter_for "$version")"
    if [ -z "$interpreter" ]; then
      echo "no Python $version found (pyenv install $version)" >"$PREPARED/$version.problem"
    elif python="$(unit_venv "$interpreter" 2>"$PREPARED/$version.log")"; then
      echo "$python" >"$PREPARED/$version.python"
      say "python $version: environment ready ($(elapsed "$start") s)"
    else
      echo "its virtual environment could not be made: $(tail -n 3 "$PREPARED/$version.log" | tr '\n' ' ')" \
        >"$PREPARED/$version.problem"
    fi
  done
}

unit_tests_on_other_pythons() {
  local version
  for version in "${OTHER_PYTHONS[@]}"; do
    if [ -f "$PREPARED/$version.python" ]; then
      # PYTHONPATH: this tree's code even while a test.sh of another tree re-points the shared environment.
      step "unit tests (python $version)" env PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" \
        "$(cat "$PREPARED/$version.python")" -m pytest tests/unit -m "not engine and not paddle" -q
    elif $IN_CI; then
      say "unit tests (python $version) FAILED: $(cat "$PREPARED/$version.problem")"
      failed+=("unit tests (python $version)")
    else
      say "unit tests (python $version) SKIPPED: $(cat "$PREPARED/$version.problem")"
    fi
  done
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

# The other Pythons' environments are made in the background (pip, mostly waiting on disk and network) while the
# engine starts and the linters run; the tests themselves never share the 2 cores with another test run.
if $all_pythons; then
  prepare_other_pythons &
  prepared_pid=$!
fi

if $unit_only; then
  step "unit tests" "$PYTHON" -m pytest tests/unit -m "not engine and not paddle" "${pytest_args[@]}"
  if $all_pythons; then
    wait "$prepared_pid" || true
    unit_tests_on_other_pythons
  fi
else
  # Engine and image first: without them the real-engine tests cannot run, so stop here.
  bash scripts/ensure-docker.sh
  bash scripts/build-paddle-image.sh
  bash scripts/ensure-remote-tools.sh  # sshd and socat for tests/remote (installed, never started as services)
  step "ruff" "$PYTHON" -m ruff check src tests bench
  step "ruff format" "$PYTHON" -m ruff format --check src tests bench scripts
  step "mypy" "$PYTHON" -m mypy
  if $all_pythons; then
    wait "$prepared_pid" || true
    unit_tests_on_other_pythons
  fi
  step "pytest" "$PYTHON" -m pytest "${pytest_args[@]}"
fi

if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]} (total $(elapsed "$total_start") s)"
  exit 1
fi
say "all passed (total $(elapsed "$total_start") s)"
