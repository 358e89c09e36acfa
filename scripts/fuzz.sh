#!/usr/bin/env bash
# Fuzzes the parsers of untrusted bytes (fuzz/, cargo-fuzz + libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 600 s each, every target
#
# Seeds each target's corpus (fuzz/corpus/<target>) from the real test data (shared testdata,
# the repo's testdata, the test images' OCI layout, rootfs trees and docker config), builds all
# targets once, runs each for SECONDS with -rss_limit_mb=2048 -timeout=10, and prints a summary
# table. Exits non-zero when a target crashed, hit a timeout or an OOM (the input is under
# fuzz/artifacts/<target>/, the log under fuzz/logs/<target>.log).
#
# Environment: JOBS=2 runs two targets at once; FUZZ_SANITIZER=address builds with ASan
# (default none: the code is safe Rust, we look for panics, hangs and OOMs); FUZZ_RSS_MB,
# FUZZ_TIMEOUT override the limits; NICE=10 runs the fuzzers under nice.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

SECS="${1:-600}"
[ $# -gt 0 ] && shift
JOBS="${JOBS:-1}"
SANITIZER="${FUZZ_SANITIZER:-none}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
NICE="${NICE:-0}"
FUZZ="$ROOT/fuzz"
TRIPLE="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"

ensure_cargo
ensure_cargo_fuzz() {
  rustup toolchain list 2>/dev/null | grep -q '^nightly' \
    || { echo "error: the nightly toolchain is needed (rustup toolchain install nightly)" >&2; exit 1; }
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
  fi
}
ensure_cargo_fuzz

ALL_TARGETS=$(cd "$FUZZ" && cargo +nightly fuzz list)
if [ $# -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS <<<"$ALL_TARGETS"; fi
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$ALL_TARGETS" || { echo "error: no fuzz target $t (have: $(echo $ALL_TARGETS))" >&2; exit 2; }
done

# ---- seeds -------------------------------------------------------------------------------
# The test images' paths (only read here: nothing is built or started).
eval "$("$SHARED/scripts/test-images.sh" env)"
TI="${SIGHTLINE_TEST_CACHE:-/var/tmp/sightline-test}"
[ -d "$TI" ] || log "no test images at $TI (run $SHARED/scripts/test-images.sh build): fewer seeds"
SEP=$'\n--SIGHTLINE-FUZZ-LAYER--\n'   # fuzz/../crates/image/src/fuzzing.rs LAYER_SEPARATOR

# seed TARGET FILE...: copies each existing regular file (<= 1 MiB) into the corpus, named by
# content hash (so re-seeding adds nothing twice).
seed() {
  local t="$1" f h; shift
  mkdir -p "$FUZZ/corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 1048576 ] || continue
    h=$(sha1sum "$f" | cut -c1-40)
    cp -n "$f" "$FUZZ/corpus/$t/seed-$h"
  done
}

# Small layer tars built from the test images' real files: os-release symlinks, package DBs,
# a hardlink, whiteouts and an opaque directory, and two-layer inputs (upper layer deleting
# and replacing files of the lower one).
make_layer_seeds() {
  local out="$1" root="$TI/rootfs-bookworm" alpine="$TI/rootfs-alpine" w
  mkdir -p "$out"
  w=$(mktemp -d)
  if [ -d "$root" ]; then
    tar -C "$root" -cf "$out/bookworm-os.tar" etc/os-release usr/lib/os-release etc/debian_version 2>/dev/null || true
    tar -C "$root" -cf "$out/bookworm-dpkg.tar" etc/os-release usr/lib/os-release var/lib/dpkg/status 2>/dev/null || true
  fi
  if [ -d "$alpine" ]; then
    tar -C "$alpine" -cf "$out/alpine-apk.tar" etc/os-release etc/alpine-release lib/apk/db/installed 2>/dev/null || true
  fi
  mkdir -p "$w/up/etc/apt" "$w/up/var/lib/dpkg" "$w/up/usr/lib"
  : >"$w/up/etc/.wh.debian_version"
  : >"$w/up/etc/apt/.wh..wh..opq"
  : >"$w/up/usr/.wh.share"
  printf 'ID=debian\nVERSION_ID="13"\n' >"$w/up/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$w/up/etc/os-release"
  printf 'Package: x\nStatus: install ok installed\nVersion: 1.0-1\n' >"$w/up/var/lib/dpkg/status"
  ln "$w/up/var/lib/dpkg/status" "$w/up/var/lib/dpkg/status-old"
  ln -s /etc "$w/up/loop"
  tar -C "$w/up" -cf "$out/upper-whiteouts.tar" .
  for lower in "$out/bookworm-dpkg.tar" "$out/bookworm-os.tar"; do
    [ -f "$lower" ] || continue
    { cat "$lower"; printf '%s' "$SEP"; cat "$out/upper-whiteouts.tar"; } >"$out/two-layers-$(basename "$lower")"
  done
  for f in "$out"/*.tar; do gzip -c -n "$f" >"$out/$(basename "$f").gz"; done
  rm -rf "$w"
}

# An ImageScan result JSON and its framed log line (the format `job_result::encode` writes).
make_result_seeds() {
  local out="$1" f
  mkdir -p "$out"
  for f in "$FUZZ"/seeds/scan_result/*.json; do
    python3 - "$f" >"$out/$(basename "$f" .json).log" <<'PY'
import base64, gzip, hashlib, sys
j = open(sys.argv[1], "rb").read()
print("INFO scanning")
print("SIGHTLINE-RESULT v1 %d %s %s" % (len(j), hashlib.sha256(j).hexdigest(), base64.b64encode(gzip.compress(j)).decode()))
PY
  done
  printf 'SIGHTLINE-ERROR v1 image_not_found "manifest unknown"\n' >"$out/error.log"
}

seed_target() {
  local t="$1" tmp="$FUZZ/corpus/.gen/$1"
  mkdir -p "$tmp"
  case "$t" in
    image_manifest)
      seed "$t" "$TI/oci/index.json" $(find "$TI/oci/blobs" -type f -size -64k 2>/dev/null)
      [ -f "${SIGHTLINE_TEST_ARCHIVE:-}" ] && tar -xOf "$SIGHTLINE_TEST_ARCHIVE" manifest.json >"$tmp/docker-archive-manifest.json" 2>/dev/null || true
      seed "$t" "$tmp"/* "$FUZZ"/seeds/"$t"/* ;;
    layer_tar)
      make_layer_seeds "$tmp"; seed "$t" "$tmp"/*.tar ;;
    layer_gzip)
      make_layer_seeds "$tmp"; seed "$t" "$tmp"/*.gz ;;
    dpkg_status)
      seed "$t" "$TI"/rootfs-bookworm/var/lib/dpkg/status* "$FUZZ"/seeds/"$t"/* ;;
    apk_installed)
      seed "$t" "$TI/rootfs-alpine/lib/apk/db/installed" ;;
    os_release)
      seed "$t" "$TI"/rootfs-*/usr/lib/os-release "$TI"/rootfs-*/etc/os-release \
        "$TI/rootfs-bookworm/etc/debian_version" "$TI/rootfs-alpine/etc/alpine-release" "$FUZZ"/seeds/"$t"/* ;;
    trivy_db)
      seed "$t" "$ROOT/crates/vulndb/testdata/go-bbolt/trivy.db" ;;
    scan_result)
      make_result_seeds "$tmp"; seed "$t" "$tmp"/* "$FUZZ"/seeds/"$t"/* ;;
    docker_config)
      seed "$t" "${SIGHTLINE_TEST_DOCKER_CONFIG:-}" "$FUZZ"/seeds/"$t"/* ;;
    image_ref)
      grep -rhoE 'image: *"?[^" ]+' "$SHARED/testdata/k8s-manifests" 2>/dev/null | sed -E 's/image: *"?//' \
        | sort -u | head -100 | split -l 1 -a 3 - "$tmp/ref-" || true
      for f in "$tmp"/ref-*; do [ -f "$f" ] && truncate -s -1 "$f"; done
      seed "$t" "$tmp"/ref-* "$FUZZ"/seeds/"$t"/* ;;
    config_yaml)
      seed "$t" $(find "$SHARED/testdata/k8s-manifests" "$ROOT/crates/policy/testdata" \
        \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -size -32k 2>/dev/null | sort | head -200) ;;
    secret_config)
      seed "$t" "$ROOT/crates/secrets/rules/builtin.yaml" "$ROOT/crates/secrets/testdata/rule-cases.yaml" "$FUZZ"/seeds/"$t"/* ;;
  esac
  rm -rf "$tmp"
}

# ---- build -------------------------------------------------------------------------------
cd "$FUZZ"
log "building the fuzz targets (sanitizer: $SANITIZER, debug assertions on)"
cargo +nightly fuzz build -s "$SANITIZER" --debug-assertions
BIN="$FUZZ/target/$TRIPLE/release"

# ---- run ---------------------------------------------------------------------------------
mkdir -p "$FUZZ/logs" "$FUZZ/artifacts"
run_one() {
  local t="$1" start end rc
  mkdir -p "$FUZZ/artifacts/$t" "$FUZZ/corpus/$t"
  start=$(date +%s)
  set +e
  nice -n "$NICE" "$BIN/$t" "$FUZZ/corpus/$t" \
    -artifact_prefix="$FUZZ/artifacts/$t/" -max_total_time="$SECS" \
    -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -print_final_stats=1 \
    >"$FUZZ/logs/$t.log" 2>&1
  rc=$?
  set -e
  end=$(date +%s)
  echo "$rc $((end - start))" >"$FUZZ/logs/$t.rc"
}

for t in "${TARGETS[@]}"; do seed_target "$t"; done
rm -rf "$FUZZ/corpus/.gen"
log "running ${#TARGETS[@]} target(s), ${SECS} s each, $JOBS at a time"
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  log "fuzzing $t"
  run_one "$t" &
done
wait

# ---- summary -----------------------------------------------------------------------------
failed=0
printf '%-16s %8s %14s %10s %8s  %s\n' target seconds executions execs/s corpus result
for t in "${TARGETS[@]}"; do
  lf="$FUZZ/logs/$t.log"
  read -r rc secs <"$FUZZ/logs/$t.rc"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$lf" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$lf" | tail -1)
  corpus=$(find "$FUZZ/corpus/$t" -type f | wc -l)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$lf" | tail -1)
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    result=ok
  else
    failed=1
    kind=$(grep -m1 -oE 'ERROR: libFuzzer: [a-z-]+|deadly signal|panicked at' "$lf" || echo "exit $rc")
    result="FAIL ($kind) ${artifact:-see $lf}"
  fi
  printf '%-16s %8s %14s %10s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
exit "$failed"
