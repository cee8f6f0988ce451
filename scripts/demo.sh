#!/usr/bin/env bash
# `just demo`: start the sandbox, then open the dashboard on it.
# Usage: scripts/demo.sh [APP ENGINE]   (default: signon mysql; or account-api postgres)
set -euo pipefail
app="${1:-signon}"
engine="${2:-mysql}"
bin="${ROTUI_BIN:-./target/release/rotui}"
dir="$(mktemp -d -t rotui-demo-XXXXXX)"

"${ROTUI_SANDBOX_BIN:-./target/release/rotui-sandbox}" --dir "$dir" >"$dir/sandbox.log" 2>&1 &
sandbox=$!
cleanup() {
  kill -TERM "$sandbox" 2>/dev/null || true
  wait "$sandbox" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 600); do
  grep -q "ready in" "$dir/sandbox.log" 2>/dev/null && break
  kill -0 "$sandbox" 2>/dev/null || { cat "$dir/sandbox.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "ready in" "$dir/sandbox.log" || { echo "the sandbox did not start:" >&2; cat "$dir/sandbox.log" >&2; exit 1; }

# shellcheck disable=SC1091
source "$dir/sandbox.env"
# The demo's journal stays with the demo, apart from real rotations.
export ROTUI_STATE_DIR="$dir/state"
echo "sandbox: $(head -1 "$dir/sandbox.log") — files in $dir"
"$bin" --app "$app" --engine "$engine"
