#!/usr/bin/env bash
# All tests, against the real parts: local OCI registries with real images
# (shared/scripts/test-images.sh), the real advisory data in shared/testdata.
# Also the lint gate: rustfmt and clippy with warnings denied.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
export SIGHTLINE_REQUIRE_REGISTRY=1   # a missing registry/image fails the tests instead of skipping
cd "$ROOT"
log "rustfmt"
cargo fmt --all -- --check
log "clippy"
cargo clippy -q --workspace --all-targets --all-features -- -D warnings
log "tests"
cargo test --workspace --all-features
