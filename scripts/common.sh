# Shared by the project's scripts: locations and the one-time machine setup.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SIGHTLINE_SHARED_DIR:-$(cd "$ROOT/../shared" 2>/dev/null && pwd || true)}"
[ -n "$SHARED" ] && [ -d "$SHARED/scripts" ] || { echo "error: ../shared not found next to $ROOT (set SIGHTLINE_SHARED_DIR)" >&2; exit 1; }
export SIGHTLINE_SHARED_DIR="$SHARED"

log() { echo "[sightline] $*" >&2; }

# Rust toolchain: cargo is on this kind of machine; make sure it is on PATH.
ensure_cargo() {
  [ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null || { echo "error: cargo not found (install Rust via rustup)" >&2; exit 1; }
}

# cargo-deny, pinned: the supply-chain gate (deny.toml). Installed from crates.io with its own
# lock file when missing or at another version (~5 min on 2 cores, once per machine).
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  ensure_cargo
  if [ "$(cargo deny --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
    log "installing cargo-deny $CARGO_DENY_VERSION (one time)"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
  fi
}

# Real test images and registries (installs its apt packages on first use).
start_registries() {
  "$SHARED/scripts/test-images.sh" build
  "$SHARED/scripts/test-images.sh" start
  eval "$("$SHARED/scripts/test-images.sh" env)"
}

# A trivy-db (schema v2) built from the real advisory fixtures in shared/testdata/vulndb,
# published as a trivy-db OCI artifact at REF (as an internal DB mirror serves it).
# The real single-node Kubernetes 1.20 cluster for the operator tests: installed once per
# machine (compiles Kubernetes, ~10 min, cached in /opt/sightline-k8s), started if down.
start_cluster() {
  local k8s="$SHARED/scripts/k8s-cluster.sh"
  if [ ! -x /opt/sightline-k8s/bin/kube-apiserver ]; then
    log "installing the test cluster (one time, ~10 min on 2 cores)"
    "$k8s" install
  fi
  "$k8s" start >&2
  eval "$("$k8s" env)"
  export KUBECONFIG PATH SIGHTLINE_TEST_POD_REGISTRY SIGHTLINE_TEST_POD_AUTH_REGISTRY SIGHTLINE_TEST_POD_DOCKER_CONFIG
}

publish_fixture_db() { # REF
  local tmp; tmp="$(mktemp -d)"
  cargo run -q --release -p sightline-vulndb --features fixture-writer --example write-fixture-db -- \
    --cache-dir "$tmp" --push "$1"
  rm -rf "$tmp"
}
