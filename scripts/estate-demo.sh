#!/usr/bin/env bash
# `just estate`: start the sandbox estate (production and staging as separate
# accounts and clusters), then open the dashboard on one of its apps.
# Usage: scripts/estate-demo.sh [APP ENGINE ENV [ESTATE.toml]]
#   (default: signon mysql production assets/sandbox/estate.toml)
set -euo pipefail
app="${1:-signon}"
engine="${2:-mysql}"
env="${3:-production}"
file="${4:-}"
bin="${ROTUI_BIN:-./target/release/rotui}"
dir="$(mktemp -d -t rotui-estate-XXXXXX)"

"${ROTUI_SANDBOX_BIN:-./target/release/rotui-sandbox}" --estate ${file:+"$file"} --dir "$dir" >"$dir/estate.log" 2>&1 &
estate=$!
cleanup() {
  kill -TERM "$estate" 2>/dev/null || true
  wait "$estate" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1800); do
  grep -q "ready in" "$dir/estate.log" 2>/dev/null && break
  kill -0 "$estate" 2>/dev/null || { cat "$dir/estate.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "ready in" "$dir/estate.log" || { echo "the estate did not start:" >&2; cat "$dir/estate.log" >&2; exit 1; }

# shellcheck disable=SC1091
source "$dir/estate.env"
export ROTUI_STATE_DIR="$dir/state"
echo "estate: $(head -1 "$dir/estate.log") — files in $dir (kill -USR1 $estate runs the nightly restore)"
"$bin" --env "$env" --app "$app" --engine "$engine"
