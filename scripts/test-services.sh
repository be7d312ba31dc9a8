#!/usr/bin/env bash
# Runs the given test command with the services the tests need started, and stops them after.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pgdir=$(mktemp -d /tmp/windmaker-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'bash "$root/scripts/postgres.sh" stop "$pgdir"; rm -rf "$pgdir"' EXIT
WINDMAKER_TEST_POSTGRES_URL=$(bash "$root/scripts/postgres.sh" start "$pgdir" "$port")
export WINDMAKER_TEST_POSTGRES_URL
echo "PostgreSQL for the tests: $WINDMAKER_TEST_POSTGRES_URL"
"$@"
