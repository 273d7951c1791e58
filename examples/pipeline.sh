#!/usr/bin/env bash
# The CI story on the digits example: sweep three learning rates, pick the best run by val_acc, gate it
# against a baseline run, export it to a verified static graph, package it and verify the package.
#
#   bash examples/pipeline.sh                                  # everything, package in a new temp folder
#   PIPELINE_OUT=dist bash examples/pipeline.sh                # package into ./dist
#   PIPELINE_REQUIRE='val_acc>=1.01' bash examples/pipeline.sh # make the gate fail on purpose (exit 1)
#
# Settings (environment):
#   PIPELINE_PROJECT   the project folder (default: examples/digits next to this script)
#   PIPELINE_LRS       learning rates to sweep (default "0.001 0.003 0.01")
#   PIPELINE_EPOCHS    epochs per run (default: train.params.epochs in paddlectl.yaml)
#   PIPELINE_BASELINE  run to gate against (id, prefix or name); default: the newest run labelled
#                      role=baseline, trained now with the default params when there is none
#   PIPELINE_MAX_DROP  allowed val_acc drop against the baseline (default 2%)
#   PIPELINE_REQUIRE   requirement the best run must meet (default val_acc>=0.95)
#   PIPELINE_OUT       folder for the package (default: a new temporary folder)
#   PIPELINE_NAME, PIPELINE_VERSION   package name and version (default digits-cnn 1.0.0)
#   PADDLECTL          the paddlectl command (default: paddlectl)
#
# Exit codes: 0 everything passed; 1 the gate failed (nothing exported); 2 no project or no usable runs;
# otherwise the exit code of the step that failed (a failed training run: the script's own code), named on
# stderr with its command.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="${PIPELINE_PROJECT:-$here/digits}"
lrs="${PIPELINE_LRS:-0.001 0.003 0.01}"
epochs="${PIPELINE_EPOCHS:-}"
baseline="${PIPELINE_BASELINE:-}"
max_drop="${PIPELINE_MAX_DROP:-2%}"
require="${PIPELINE_REQUIRE:-val_acc>=0.95}"
out_dir="${PIPELINE_OUT:-}"
name="${PIPELINE_NAME:-digits-cnn}"
version="${PIPELINE_VERSION:-1.0.0}"
read -r -a paddlectl <<<"${PADDLECTL:-paddlectl}"

say() { printf 'pipeline: %s\n' "$*" >&2; }
fail() { say "$2"; exit "$1"; }

# Run one paddlectl step; on failure name the step and exit with its code.
step() {
    local what="$1"; shift
    local code=0
    "${paddlectl[@]}" "$@" || code=$?
    if [ "$code" -ne 0 ]; then
        fail "$code" "$what failed (exit $code): ${paddlectl[*]} $*"
    fi
}

# Train one run quietly (stdout: its id); on failure say where its log is and exit with the run's code.
train() {
    local what="$1"; shift
    local code=0 run_id
    run_id="$("${paddlectl[@]}" train train.py --quiet "$@")" || code=$?
    if [ "$code" -ne 0 ]; then
        fail "$code" "$what failed (exit $code)${run_id:+; its output: ${paddlectl[*]} runs logs $run_id}"
    fi
    printf '%s\n' "$run_id"
}

[ -f "$project/paddlectl.yaml" ] || fail 2 "no paddlectl.yaml in $project (set PIPELINE_PROJECT)"
if [ -n "$out_dir" ]; then  # made absolute before the cd below
    mkdir -p "$out_dir"
    out_dir="$(cd "$out_dir" && pwd)"
fi
cd "$project"

sweep="$(date -u +%Y%m%d-%H%M%S)-$$"
extra=()
[ -n "$epochs" ] && extra+=(-p "epochs=$epochs")

# 1. Sweep: one run per learning rate, all labelled with this sweep's id.
say "sweep $sweep over lr: $lrs"
run_ids=()
for lr in $lrs; do
    run_id="$(train "training lr=$lr" -p "lr=$lr" "${extra[@]}" --label "sweep=$sweep")"
    say "  lr=$lr -> run $run_id"
    run_ids+=("$run_id")
done

# 2. Pick the best succeeded run of this sweep by val_acc (ties: lower val_loss).
listing="$(step "listing the sweep" runs list --json --label "sweep=$sweep" --status succeeded --limit 0)"
best="$(printf '%s' "$listing" | python3 -c '
import json, sys
runs = [r for r in json.load(sys.stdin) if isinstance((r.get("metrics") or {}).get("val_acc"), (int, float))]
if runs:
    best = max(runs, key=lambda r: (r["metrics"]["val_acc"], -(r["metrics"].get("val_loss") or 0.0)))
    print(best["id"])
')"
[ -n "$best" ] || fail 2 "no run of sweep $sweep recorded val_acc (see: paddlectl runs list --label sweep=$sweep)"
say "best run: $best"

# 3. Gate the best run against the baseline.
if [ -z "$baseline" ]; then
    baseline="$(step "finding the baseline" runs list --json --label role=baseline --status succeeded --limit 1 |
        python3 -c 'import json, sys; runs = json.load(sys.stdin); print(runs[0]["id"] if runs else "")')"
    if [ -z "$baseline" ]; then
        say "no run labelled role=baseline: training one with the default params"
        baseline="$(train "training the baseline" "${extra[@]}" --label role=baseline)"
    fi
fi
say "gating $best against baseline $baseline: val_acc max drop $max_drop, require $require"
gate_code=0
"${paddlectl[@]}" runs gate "$best" --baseline "$baseline" --metric val_acc --max-drop "$max_drop" \
    --require "$require" >&2 || gate_code=$?
if [ "$gate_code" -ne 0 ]; then
    fail "$gate_code" "gate failed (exit $gate_code): $best is not exported or packaged"
fi

# 4. Export (static graph, equivalence-checked), package, verify.
step "export" export "$best" >&2
if [ -z "$out_dir" ]; then  # only now: a failed pipeline leaves no empty folder behind
    out_dir="$(mktemp -d "${TMPDIR:-/tmp}/paddlectl-pipeline.XXXXXX")"
fi
# `package` prints "<sha256>  <path>" on stdout.
packaged="$(step "package" package "$best" --name "$name" --version "$version" --task classification \
    -o "$out_dir" --force)"
read -r sha256 package <<<"$packaged"
if [ -z "${package:-}" ] || [ ! -f "$package" ]; then
    fail 2 "package printed no archive path (expected $out_dir/$name-$version.tar)"
fi
step "verify" verify "$package" >&2

cat <<EOF
sweep:    $sweep (runs: ${run_ids[*]})
best:     $best
baseline: $baseline
run:      $project/.paddlectl/runs/$best
export:   $project/.paddlectl/runs/$best/export
package:  $package (sha256 $sha256)
EOF
