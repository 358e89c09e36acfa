#!/usr/bin/env bash
# One command: the operator against the local test cluster.
#   scripts/operator-quickstart.sh
# Starts the test registries and the real Kubernetes 1.20 cluster (shared/scripts; the first
# run compiles Kubernetes, ~10 min), builds sightline, pushes the sightline image the scan
# Jobs run (scripts/scanner-image.sh) and the fixture vulnerability DB, installs the report
# CRDs, and runs `sightline operator` in the foreground (Ctrl-C stops it). In another shell:
#   eval "$(../shared/scripts/k8s-cluster.sh env)"
#   kubectl create deployment vuln-demo --image=$SIGHTLINE_TEST_POD_REGISTRY/library/debian:bookworm-curl
#   kubectl get vulnerabilityreports -o wide
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
start_cluster
cd "$ROOT"
log "building sightline (release)"
cargo build -q --release -p sightline-cli
BIN="$ROOT/target/release/sightline"
TAG="$(sha256sum "$BIN" | cut -c1-16)"
log "pushing the scanner image"
"$ROOT/scripts/scanner-image.sh" "$BIN" "127.0.0.1:5000/sightline/sightline:$TAG" >/dev/null
DB_REPO=127.0.0.1:5000/aquasec/trivy-db
log "publishing the fixture vulnerability DB to $DB_REPO:2"
publish_fixture_db "$DB_REPO:2"
log "installing the report CRDs"
kubectl apply --server-side --force-conflicts -f "$ROOT/deploy/helm/sightline/crds" >/dev/null
kubectl get namespace sightline-system >/dev/null 2>&1 || kubectl create namespace sightline-system >/dev/null
log "running the operator (metrics on 127.0.0.1:8080/metrics, health on 127.0.0.1:8080/healthz)"
exec "$BIN" operator --namespace sightline-system \
  --scan-job-image "$SIGHTLINE_TEST_POD_REGISTRY/sightline/sightline:$TAG" \
  --db-repository "$DB_REPO" \
  --insecure-registry "$SIGHTLINE_TEST_POD_REGISTRY" --insecure-registry "$SIGHTLINE_TEST_POD_AUTH_REGISTRY" \
  --cache-dir "$ROOT/.sightline-cache/operator" \
  --metrics-bind-address 127.0.0.1:8080 --health-probe-bind-address 127.0.0.1:8080
