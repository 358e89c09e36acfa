#!/usr/bin/env bash
# Benchmarks (release build), each printing its figure beside a floor measured in the same run.
#   scripts/bench.sh [BENCH...]     (default: all of BENCHES below)
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
cd "$ROOT"
BENCHES=(scan-image db-update)
cargo build -q --release -p sightline-cli -p sightline-benches
for b in "${@:-${BENCHES[@]}}"; do
  log "bench $b"
  "$ROOT/target/release/$b"
done
