#!/usr/bin/env bash
# `just demo` / `just estate`: start the sandbox (or the sandbox estate),
# then open the dashboard on it.
# Usage: scripts/demo.sh [APP ENGINE]            (default: signon mysql; or account-api postgres)
#        scripts/demo.sh --estate [APP ENGINE ENV] (default: signon mysql production)
set -euo pipefail
estate=""
if [ "${1:-}" = "--estate" ]; then
  estate=1
  shift
fi
app="${1:-signon}"
engine="${2:-mysql}"
env="${3:-production}"
bin="${ROTUI_BIN:-./target/release/rotui}"
# Everything the demo writes (kubeconfig, AWS config, the log, the journal,
# definer backups) lives in one 0700 directory, removed when the demo ends:
# its servers end with it, so nothing in it is of use after. Set
# ROTUI_DEMO_KEEP=1 to keep it (the path is printed).
dir="$(mktemp -d -t rotui-demo-XXXXXX)"
chmod 700 "$dir"
log="$dir/sandbox.log"

"${ROTUI_SANDBOX_BIN:-./target/release/rotui-sandbox}" ${estate:+--estate} --dir "$dir" >"$log" 2>&1 &
sandbox=$!
cleanup() {
  kill -TERM "$sandbox" 2>/dev/null || true
  wait "$sandbox" 2>/dev/null || true
  # What the demo did, before its directory goes.
  if [ -d "$dir/state" ]; then
    ROTUI_STATE_DIR="$dir/state" "$bin" journal || true
  fi
  if [ -n "${ROTUI_DEMO_KEEP:-}" ]; then
    echo "demo files kept in $dir (0700; ROTUI_STATE_DIR=$dir/state $bin journal reads its journal)"
  else
    rm -rf "$dir"
    echo "demo files removed ($dir); ROTUI_DEMO_KEEP=1 keeps them"
  fi
}
trap cleanup EXIT

# An estate starts six servers: allow it three minutes.
for _ in $(seq 1800); do
  grep -q "ready in" "$log" 2>/dev/null && break
  kill -0 "$sandbox" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
grep -q "ready in" "$log" || { echo "the sandbox did not start:" >&2; cat "$log" >&2; exit 1; }

# The demo's journal stays with the demo, apart from real rotations; it is
# printed when the dashboard quits.
export ROTUI_STATE_DIR="$dir/state"
echo "its journal, from another shell: ROTUI_STATE_DIR=$dir/state $bin journal"
if [ -n "$estate" ]; then
  # shellcheck disable=SC1091
  source "$dir/estate.env"
  echo "estate: $(head -1 "$log") — files in $dir (kill -USR1 $sandbox runs the data sync; see rotui-sandbox --help)"
  "$bin" --env "$env" --app "$app" --engine "$engine"
else
  # shellcheck disable=SC1091
  source "$dir/sandbox.env"
  echo "sandbox: $(head -1 "$log") — files in $dir"
  "$bin" --app "$app" --engine "$engine"
fi
