#!/usr/bin/env bash
# Installs every dependency, builds certward (release) and prepares the embedded default:
# a data directory with a SQLite database, a 0600 master key and a development root and
# issuing CA. Then shows the authorities and how to issue a first certificate.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target certward

bin=build/release/src/certward
export CERTWARD_DATA_DIR=${CERTWARD_DATA_DIR:-$PWD/certward-data}
"$bin" init
echo
echo "certward is ready in $CERTWARD_DATA_DIR. Try:"
echo "  $bin issue --profile tls-server --cn www.example.test --key-type ec-p256 --out-cert www.pem --out-key www.key"
echo "  $bin cert list"
echo "  $bin audit verify"
