#!/usr/bin/env bash
# Benchmarks (release build), each printing its figure beside a floor measured in the same run.
#   scripts/bench.sh [BENCH...]     (default: all of BENCHES below)
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
cd "$ROOT"
BENCHES=(scan-image db-update secret-scan config-audit operator-scale)
cargo build -q --release -p sightline-cli -p sightline-benches
# secret-scan compares with detect-secrets (PyPI), pinned, in a venv of the bench dir.
BENCH_DIR="${SIGHTLINE_BENCH_DIR:-/var/tmp/sightline-bench}"
if [[ " ${*:-${BENCHES[*]}} " == *" secret-scan "* ]] && [ ! -x "$BENCH_DIR/venv/bin/detect-secrets" ]; then
  log "installing detect-secrets 1.5.0 in $BENCH_DIR/venv"
  mkdir -p "$BENCH_DIR"
  python3 -m venv "$BENCH_DIR/venv"
  "$BENCH_DIR/venv/bin/pip" install -q detect-secrets==1.5.0
fi
# config-audit compares with checkov (PyPI), pinned, in its own venv of the bench dir.
if [[ " ${*:-${BENCHES[*]}} " == *" config-audit "* ]] && [ ! -x "$BENCH_DIR/checkov-venv/bin/checkov" ]; then
  log "installing checkov 3.3.30 in $BENCH_DIR/checkov-venv"
  mkdir -p "$BENCH_DIR"
  python3 -m venv "$BENCH_DIR/checkov-venv"
  "$BENCH_DIR/checkov-venv/bin/pip" install -q checkov==3.3.30
fi
# operator-scale runs `sightline operator` against the real test cluster. It is started only
# when no API server answers: `k8s-cluster.sh start` takes a cluster whose recorded PIDs are
# gone (e.g. an API server restarted by a fault test) for a crashed one and stops it first.
if [[ " ${*:-${BENCHES[*]}} " == *" operator-scale "* ]]; then
  eval "$("$SHARED/scripts/k8s-cluster.sh" env)"
  kubectl get --raw /readyz >/dev/null 2>&1 || "$SHARED/scripts/k8s-cluster.sh" start
fi
export SIGHTLINE_BENCH_DIR="$BENCH_DIR"
for b in "${@:-${BENCHES[@]}}"; do
  log "bench $b"
  "$ROOT/target/release/$b"
done
