#!/usr/bin/env bash
# All tests, against the real parts: local OCI registries with real images
# (shared/scripts/test-images.sh), the real advisory data in shared/testdata, and the real
# Kubernetes cluster (shared/scripts/k8s-cluster.sh) for the operator tests.
# Also the lint gate: rustfmt and clippy with warnings denied.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
start_cluster
export SIGHTLINE_REQUIRE_REGISTRY=1   # a missing registry/image fails the tests instead of skipping
export SIGHTLINE_REQUIRE_CLUSTER=1    # likewise for the cluster
cd "$ROOT"
log "rustfmt"
cargo fmt --all -- --check
log "clippy"
cargo clippy -q --workspace --all-targets --all-features -- -D warnings
log "tests"
cargo test --workspace --all-features
