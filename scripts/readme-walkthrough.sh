#!/usr/bin/env bash
# Prints README.md's walkthrough as it really runs: the digits example in a scratch git copy, each command with
# its output (stderr and stdout as a terminal shows them; the middle epochs elided). Paste the result into the
# README's "A walkthrough" block when the output changes.
#
#   bash scripts/readme-walkthrough.sh > /tmp/walkthrough.txt
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="$(mktemp -d /tmp/paddlectl-walkthrough-XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
cp -R "$ROOT/examples/digits" "$SCRATCH/digits"
cd "$SCRATCH/digits"
git init -q && git add -A && git -c user.name=walkthrough -c user.email=walkthrough@example.org commit -qm digits

export COLUMNS=130 NO_COLOR=1 PADDLECTL_DEBUG=
step() {
  printf '$ %s\n' "$*"
  # Epochs 2-9 are the same kind of line as 1 and 10: one "..." stands for them.
  # The scratch copy is shown where a reader's checkout would be.
  "$@" 2>&1 | sed -E "/^epoch ([2-9])\/10 /d; s/^(epoch 10\/10 )/...\n\1/; s#$SCRATCH/digits#~/paddlectl/examples/digits#g"
}

printf '$ cd examples/digits\n'
step paddlectl train train.py
step paddlectl runs list
step paddlectl export last
step paddlectl package last --name digits --version 1.0.0
step paddlectl verify dist/digits-1.0.0.tar
