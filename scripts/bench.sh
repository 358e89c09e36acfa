#!/usr/bin/env bash
# Benchmarks (release build), each printing its figure beside a floor measured in the same run.
#   scripts/bench.sh [scan-image]
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
cd "$ROOT"
cargo build -q --release -p sightline-cli -p sightline-benches
for b in "${@:-scan-image}"; do
  log "bench $b"
  "$ROOT/target/release/$b"
done
