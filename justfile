# rotui — `just demo` runs it against the local sandbox, `just test` runs everything.

set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / ".venv"
export ROTUI_MOTO_SERVER := venv / "bin/moto_server"
export ROTUI_PG_ACTIVITY := venv / "bin/pg_activity"

# List recipes.
default:
    @just --list

# Build rotui, start the local sandbox and open the dashboard on it
# (`just demo account-api postgres` for the PostgreSQL app).
demo app="signon" engine="mysql": tools
    cargo build --release --workspace
    ./scripts/demo.sh {{app}} {{engine}}

# The sandbox estate (production, staging and integration as separate
# accounts and clusters, drifted names, workers, CronJobs, the data sync) and the
# dashboard on one of its apps: `just estate whitehall-admin mysql staging`.
estate app="signon" engine="mysql" env="production": tools
    cargo build --release --workspace
    ./scripts/demo.sh --estate {{app}} {{engine}} {{env}}

# The sandbox on its own, printing how to point rotui and kubectl at it.
sandbox *args: tools
    cargo run --release -p rotui-sandbox -- {{args}}

# Format check, lints and every test (real PostgreSQL, MySQL, MariaDB, moto,
# the sandbox cluster): see scripts/test.sh.
test: tools
    ./scripts/test.sh

# Benchmarks (watch_cpu compares against pg_activity); numbers go in README.md.
bench:
    ./scripts/tools.sh "{{venv}}" bench
    cargo bench --workspace

# Install what a fresh machine lacks; check the server binaries tests start.
tools:
    ./scripts/tools.sh "{{venv}}"

# Format the code.
fmt:
    cargo fmt --all
