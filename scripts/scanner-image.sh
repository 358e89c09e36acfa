#!/usr/bin/env bash
# scanner-image.sh BINARY REF: the sightline image (operator + scan Jobs) from a built binary:
# bookworm-minbase + /usr/local/bin/sightline (debug info stripped) + the host's CA bundle
# (scan Jobs pull from https registries), user 65534, pushed to REF on the test registry.
# Prints REF. Reuses test-images.sh's image builder; no container engine needed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/common.sh"
bin="$1" ref="$2"
cache="${SIGHTLINE_TEST_CACHE:-/var/tmp/sightline-test}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/scanner-image.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
objcopy --strip-debug "$bin" "$tmp/sightline"
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] || { echo "scanner-image.sh: $ca missing (apt-get install ca-certificates)" >&2; exit 1; }
python3 "$SHARED/scripts/lib/oci-image.py" "$tmp/oci" image --base "$cache/oci:bookworm-minbase" \
  --add "$tmp/sightline:/usr/local/bin/sightline" --add "$ca:/etc/ssl/certs/ca-certificates.crt" \
  --entrypoint /usr/local/bin/sightline --user 65534:65534 \
  --comment "sightline scanner image" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:image" "docker://$ref"
echo "$ref"
