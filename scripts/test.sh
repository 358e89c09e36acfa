#!/usr/bin/env bash
# All tests, against the real parts: local OCI registries with real images
# (shared/scripts/test-images.sh), the real advisory data in shared/testdata, and the real
# Kubernetes cluster (shared/scripts/k8s-cluster.sh) for the operator tests.
# Also the lint gate: rustfmt and clippy with warnings denied, and the supply-chain gate
# (cargo deny: licenses, duplicate versions, sources; see deny.toml).
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
log "layering: the scanning core does not depend on Kubernetes crates"
for crate in version vulndb image inventory detect secrets policy scan report; do
  k8s=$(cargo tree -q -p "sightline-$crate" -e normal --prefix none \
    | grep -E '^(kube|k8s-openapi)( |-)' | sort -u || true)
  if [ -n "$k8s" ]; then
    echo "layering: sightline-$crate depends on Kubernetes crates:" >&2
    echo "$k8s" >&2
    echo "the scanning core must use sightline-report (the report schema), not sightline-api" >&2
    exit 1
  fi
done
log "supply chain: cargo deny (licenses, duplicate versions, sources; advisories: scripts/audit.sh)"
ensure_cargo_deny
cargo deny --log-level error check licenses bans sources
log "clippy"
cargo clippy -q --workspace --all-targets --all-features -- -D warnings
log "tests"
cargo test --workspace --all-features
