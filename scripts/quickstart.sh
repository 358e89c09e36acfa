#!/usr/bin/env bash
# One command: set up this machine and scan a real image from the local test registry.
#   scripts/quickstart.sh [IMAGE]    (default 127.0.0.1:5000/library/debian:bookworm-curl)
# Builds the test images and starts the registries (shared/scripts/test-images.sh), builds
# sightline, writes a vulnerability DB from the real advisory fixtures into
# .sightline-cache/db, then runs `sightline image` on IMAGE.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
start_registries
cd "$ROOT"
log "building sightline (release)"
cargo build -q --release -p sightline-cli
CACHE="$ROOT/.sightline-cache"
log "writing the fixture vulnerability DB to $CACHE/db"
build_fixture_db "$CACHE"
IMAGE="${1:-127.0.0.1:5000/library/debian:bookworm-curl}"
log "scanning $IMAGE"
exec "$ROOT/target/release/sightline" image --cache-dir "$CACHE" --skip-db-update "$IMAGE"
