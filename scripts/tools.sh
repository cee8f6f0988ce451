#!/usr/bin/env bash
# Install what a fresh machine lacks for tests and the demo, and check that the
# database server binaries the tests start are present.
set -euo pipefail
venv="${1:-.venv}"
# A second argument `bench` also installs what the benchmarks compare against.
purpose="${2:-}"

if [ ! -x "$venv/bin/moto_server" ]; then
  echo "tools: installing moto (Secrets Manager emulator) into $venv"
  python3 -m venv "$venv"
  # --no-compile: Python compiles what it imports, when it does; compiling
  # all of botocore up front was a third of the install (44 s -> 28 s here).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-compile "moto[server]>=5,<6"
fi
if [ "$purpose" = bench ] && [ ! -x "$venv/bin/pg_activity" ]; then
  echo "tools: installing pg_activity (benches/watch_cpu.rs compares against it) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pg_activity[psycopg]>=3,<4"
fi

missing=()
pg_bin=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  [ -x "$d/initdb" ] && { pg_bin="$d"; break; }
done
if [ -z "$pg_bin" ] && ! command -v initdb >/dev/null; then
  missing+=("PostgreSQL server binaries (initdb, pg_ctl, postgres): apt-get install postgresql")
fi
for b in mariadb-install-db mariadbd mariadb-admin; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || missing+=("$b: apt-get install mariadb-server")
done
command -v tmux >/dev/null || missing+=("tmux (end-to-end tests): apt-get install tmux")
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  missing+=("a 'postgres' system user (initdb refuses to run as root): apt-get install postgresql")
fi
"$(dirname "$0")/mysql-server.sh" || missing+=("MySQL 9.7 LTS: scripts/mysql-server.sh failed (see above)")
"$(dirname "$0")/postgres-server.sh" || missing+=("PostgreSQL 17: scripts/postgres-server.sh failed (see above)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "tools: missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
