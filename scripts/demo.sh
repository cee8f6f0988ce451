#!/usr/bin/env bash
# Start the sandbox, then open the dashboard on it.
set -euo pipefail
echo "just demo: the sandbox and the dashboard are not built yet."
echo "It will start throwaway MariaDB and PostgreSQL, a Secrets Manager emulator and a"
echo "Kubernetes API server, then open: rotui --env sandbox --app signon --engine mysql"
