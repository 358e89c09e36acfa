#!/usr/bin/env bash
# Security advisories of the dependency tree: `cargo deny check advisories` against the
# RustSec advisory database (deny.toml's [advisories]).
#
# Exit codes:
#   0  the advisory database was fetched and no advisory applies (a real check)
#   1  advisories apply (or cargo deny failed for another reason): read its report above
#   3  advisories NOT checked: the database could not be fetched (e.g. no network beyond
#      the package registries). Never a pass.
#
# SIGHTLINE_ADVISORY_DB_URL: a git URL or local path of an advisory-db mirror to use instead
# of the default (for air-gapped machines).
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_cargo_deny
cd "$ROOT"

config="$ROOT/deny.toml"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -n "${SIGHTLINE_ADVISORY_DB_URL:-}" ]; then
  sed "s|^\[advisories\]$|[advisories]\ndb-urls = [\"${SIGHTLINE_ADVISORY_DB_URL}\"]|" "$config" >"$tmp/deny.toml"
  config="$tmp/deny.toml"
fi

log "fetching the advisory database"
if ! cargo deny --config "$config" fetch db >"$tmp/fetch.log" 2>&1; then
  reason="$(grep -iE 'error|failed|unable' "$tmp/fetch.log" | head -3 | tr '\n' ' ')"
  echo "advisories NOT checked: the RustSec advisory database could not be fetched: ${reason:-see below}" >&2
  sed 's/^/  | /' "$tmp/fetch.log" | tail -20 >&2
  echo "advisories NOT checked (exit 3): this is not a pass" >&2
  exit 3
fi

log "checking advisories"
cargo deny --offline --config "$config" check advisories
log "advisories checked: none apply"
