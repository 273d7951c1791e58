#!/usr/bin/env bash
# THE main command: install paddlectl, make sure a Docker engine answers, get the pinned Paddle image,
# then run the digits example end to end (doctor, train, export).
#
# The image: the one examples/digits/paddlectl.yaml pins (images.cpu). When it is not present locally, a pull is
# tried only if a registry answers within $PULL_TIMEOUT seconds; otherwise (air-gapped, or no registry) the local
# CPU image is built without any registry (scripts/build-paddle-image.sh) and the example runs from a scratch copy
# whose paddlectl.yaml pins that local image instead. Any failing step fails the script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"
PULL_TIMEOUT="${PULL_TIMEOUT:-20}"
EXAMPLE="$ROOT/examples/digits"
LOCAL_IMAGE="${PADDLECTL_TEST_IMAGE:-paddlectl-test/paddle:3.2.0-cpu}"
SCRATCH="${PADDLECTL_QUICKSTART_DIR:-${TMPDIR:-/tmp}/paddlectl-quickstart}"

say() { printf 'quickstart: %s\n' "$*" >&2; }

# 1. The package (the console script runs this working tree).
if "$PYTHON" -c 'import sys, paddlectl; sys.exit(0 if paddlectl.__file__.startswith(sys.argv[1]) else 1)' \
     "$ROOT/src/" 2>/dev/null && command -v paddlectl >/dev/null; then
  say "paddlectl already installed from $ROOT"
else
  say "installing paddlectl: pip install -e ."
  "$PYTHON" -m pip install -q --disable-pip-version-check -e .
fi
say "$(paddlectl --version)"

# 2. The engine.
bash scripts/ensure-docker.sh

# 3. The pinned image the example asks for.
configured_image() {  # images.cpu of a paddlectl.yaml, or paddlectl's default when none is set
  "$PYTHON" - "$1" <<'PY'
import sys
from pathlib import Path

from paddlectl.project.config import DEFAULT_CPU_IMAGE, load_config

path = Path(sys.argv[1])
print(load_config(path).cpu_image if path.is_file() else DEFAULT_CPU_IMAGE)
PY
}

image="$(configured_image "$EXAMPLE/paddlectl.yaml")"
workdir="$EXAMPLE"
if docker image inspect "$image" >/dev/null 2>&1; then
  say "image $image is present"
elif [ "$image" != "$LOCAL_IMAGE" ] && timeout "$PULL_TIMEOUT" docker pull "$image" >&2; then
  say "pulled $image"
else
  [ "$image" = "$LOCAL_IMAGE" ] || say "could not pull $image (no registry answered within ${PULL_TIMEOUT} s): using the local $LOCAL_IMAGE"
  bash scripts/build-paddle-image.sh
  image="$LOCAL_IMAGE"
  if [ -f "$EXAMPLE/paddlectl.yaml" ] && [ "$(configured_image "$EXAMPLE/paddlectl.yaml")" != "$image" ]; then
    # Never retag the local build as the official image: pin the local one in a scratch copy instead.
    rm -rf "$SCRATCH"
    mkdir -p "$SCRATCH"
    cp -R "$EXAMPLE/." "$SCRATCH/"
    rm -rf "$SCRATCH/.paddlectl"
    "$PYTHON" - "$SCRATCH/paddlectl.yaml" "$image" <<'PY'
import re
import sys
from pathlib import Path

path, image = Path(sys.argv[1]), sys.argv[2]
text, count = re.subn(r"(?m)^(\s+cpu:\s*)\S+", lambda m: m.group(1) + image, path.read_text(), count=1)
if count != 1:
    sys.exit(f"quickstart: no images.cpu line to rewrite in {path}")
path.write_text(text)
PY
    workdir="$SCRATCH"
    say "running the example from $SCRATCH (a copy of examples/digits pinned to $image)"
  fi
fi

# 4. The example, end to end: train, show the run, export (verified), package, verify.
cd "$workdir"
say "paddlectl doctor (in $workdir)"
paddlectl doctor
say "paddlectl train train.py"
run_id="$(paddlectl train train.py --quiet)"
say "paddlectl runs show $run_id"
paddlectl runs show "$run_id"
say "paddlectl export $run_id"
paddlectl export "$run_id"
release="$workdir/.paddlectl/releases"
mkdir -p "$release"
say "paddlectl package $run_id --name digits-cnn --version 1.0.0 -o $release --force"
package_json="$(paddlectl package "$run_id" --name digits-cnn --version 1.0.0 -o "$release" --force --json)"
archive="$("$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["path"])' <<<"$package_json")"
say "paddlectl verify $archive"
paddlectl verify "$archive"

cat >&2 <<DONE
quickstart: done.
  run:      $workdir/.paddlectl/runs/$run_id/  (manifest.yaml, output.log, metrics.jsonl, outputs/)
  export:   $workdir/.paddlectl/runs/$run_id/export/  (static graph, export.yaml with the equivalence check)
  package:  $archive
DONE
