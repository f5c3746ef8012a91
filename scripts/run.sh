#!/usr/bin/env bash
# Installs every dependency, builds certward (release) and runs the server on its embedded
# default: a data directory with a SQLite database, a 0600 master key, a development root and
# issuing CA, and a one-time admin token printed at first start. Stop it with Ctrl-C.
#
#   CERTWARD_DATA_DIR   where the data lives (default: ./certward-data)
#   CERTWARD_LISTEN     HTTPS address (default: 127.0.0.1:8443)
#   CERTWARD_HTTP_LISTEN  plain-HTTP address (default: 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target certward

export CERTWARD_DATA_DIR=${CERTWARD_DATA_DIR:-$PWD/certward-data}
exec build/release/src/certward serve
