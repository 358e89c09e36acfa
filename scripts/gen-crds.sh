#!/usr/bin/env bash
# Regenerates the Helm chart's CRDs (deploy/helm/sightline/crds/) from the code
# (crates/api/src/crd), with `sightline crds --output-dir`. Run it after changing a CRD type;
# crates/api/tests/chart_crds.rs fails while the checked-in files differ from the code.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/deploy/helm/sightline/crds"
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
cd "$ROOT"
mkdir -p "$DIR"
rm -f "$DIR"/*.aquasecurity.github.io.yaml
cargo run --quiet -p sightline-cli --bin sightline -- crds --output-dir "$DIR"
echo "wrote $(ls "$DIR" | wc -l) CRDs to ${DIR#"$ROOT"/}"
