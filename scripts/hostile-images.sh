#!/usr/bin/env bash
# The hostile-image corpus (issue 11): one image per attack on a scanner, each otherwise a
# valid Debian 12 image (os-release + a small dpkg status), built deterministically into a
# cache and pushed to the plain test registry as 127.0.0.1:5000/sightline-hostile/<case>:1.
#
#   scripts/hostile-images.sh build   # write every case as an OCI layout (cached; ~1 min once)
#   scripts/hostile-images.sh push    # build, start the test registries if down, push
#   scripts/hostile-images.sh run [CASE...]
#                                     # release build of sightline; scan each case under a
#                                     # 4 GiB address-space cap; print the outcome table
#                                     # (case, exit, peak RSS MiB, seconds, first error line)
#   scripts/hostile-images.sh list    # the cases and what each does
#   scripts/hostile-images.sh env     # export lines for tests
#
# Cases: traversal, abs-symlink-escape, chained-symlink-escape, hardlink-outside-root,
# device-files, gzip-bomb, gzip-bomb-kept, million-files, sparse-4g, hardlink-bomb,
# ten-thousand-layers, huge-config, digest-mismatch, size-mismatch, zip-bomb-jar,
# long-name, huge-pax (`list` says what each is).
#
# The gzip bombs: deflate's ratio tops out near 1032:1, so the issue's "1 KiB -> 10 GiB" is
# really ~10 MB -> 10 GiB here (one gzip member; zero runs are written as copies of one
# precompressed chunk, the diff_id is still the sha256 of all 10 GiB).
# digest-mismatch is a layer whose tar is not its config diff_id (a registry verifies blob
# digests on upload, so a corrupt blob cannot be pushed; bad_images.rs covers corruption in
# transit through the fault proxy). The registry accepts size-mismatch's manifest as it is.
# Disk: ~180 MB of layouts in $SIGHTLINE_HOSTILE_CACHE (default /var/tmp/sightline-hostile)
# and as much in the registry. Nothing here installs anything.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo
cd "$ROOT"

CACHE="${SIGHTLINE_HOSTILE_CACHE:-/var/tmp/sightline-hostile}"
export SIGHTLINE_HOSTILE_CACHE="$CACHE"

tool() { # ARGS...: the generator (a dev build: deps are optimized, the corpus is cached)
  cargo build -q -p sightline-testkit --bin hostile-images
  "${CARGO_TARGET_DIR:-$ROOT/target}/debug/hostile-images" "$@"
}

case "${1:-}" in
  build) tool build ;;
  list) tool list ;;
  push)
    start_registries
    tool push --registry "$SIGHTLINE_TEST_REGISTRY" ;;
  run)
    shift
    start_registries
    cargo build -q --release -p sightline-cli
    log "scanning the corpus with ${CARGO_TARGET_DIR:-$ROOT/target}/release/sightline"
    tool run --registry "$SIGHTLINE_TEST_REGISTRY" \
      --sightline "${CARGO_TARGET_DIR:-$ROOT/target}/release/sightline" "$@" ;;
  env) echo "export SIGHTLINE_HOSTILE_CACHE=$CACHE" ;;
  *) echo "usage: $0 build|push|run [CASE...]|list|env" >&2; exit 2 ;;
esac
