#!/usr/bin/env bash
# One command: set up this machine and scan a real image from the local test registry.
#   scripts/quickstart.sh [IMAGE]    (default 127.0.0.1:5000/library/debian:bookworm-curl)
# Builds the test images and starts the local registries (shared/scripts/test-images.sh),
# builds sightline, publishes a trivy-db built from the real advisory fixtures as an OCI
# artifact at 127.0.0.1:5000/aquasec/trivy-db:2 (the stand-in for an internal DB mirror),
# then runs `sightline image`, which downloads that DB into .sightline-cache and scans IMAGE.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
cd "$ROOT"
log "building sightline (release)"
cargo build -q --release -p sightline-cli
DB_REPO=127.0.0.1:5000/aquasec/trivy-db
log "publishing the fixture vulnerability DB to $DB_REPO:2"
publish_fixture_db "$DB_REPO:2"
IMAGE="${1:-127.0.0.1:5000/library/debian:bookworm-curl}"
log "scanning $IMAGE"
exec "$ROOT/target/release/sightline" image --cache-dir "$ROOT/.sightline-cache" --db-repository "$DB_REPO" "$IMAGE"
