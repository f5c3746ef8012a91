#!/usr/bin/env bash
# Builds the Debian package of certward from this checkout: the release preset (build/release),
# only what the package holds (the binary, its man pages and bash completion), then CPack.
# Prints the path of the .deb, build/release/certward_<version>_amd64.deb.
#
# Install it on Debian 12 with `apt-get install ./certward_<version>_amd64.deb` (apt resolves
# its dependencies); docs/operations.md, "Installing from the Debian package". Test it in a
# pristine root with tests/package/deb_test.sh (docs/development.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release --target certward certward_docs
log=build/release/cpack.log
(cd build/release && cpack -G DEB) >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
version=$(sed -n 's/^project(certward VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb=$PWD/build/release/certward_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || { echo "package.sh: $deb was not made" >&2; exit 1; }
echo "$deb"
