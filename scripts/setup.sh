#!/usr/bin/env bash
# Installs everything certward needs to build, run and test on Debian 12 (bookworm).
# Idempotent: re-running it installs nothing new. Must run as root (or through sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ clang cmake ninja-build pkg-config git ca-certificates ccache
  # fuzzing (fuzz/, docs/fuzzing.md): clang 14 cannot compile libstdc++ 12's <expected>
  clang-16 libclang-rt-16-dev
  # libraries (DESIGN.md "Dependencies")
  libssl-dev openssl libsqlite3-dev libpq-dev
  libboost-dev libboost-system-dev libcurl4-openssl-dev libidn2-dev
  # HSM-held CA keys (src/crypto/pkcs11*.cc): the PKCS#11 header; the tests and benchmark run
  # against SoftHSM2 and look into the token as another application would (OpenSC's
  # pkcs11-tool, PyKCS11)
  libp11-kit-dev softhsm2 opensc python3-pykcs11
  nlohmann-json3-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  # the Debian package (scripts/package.sh): dpkg-shlibdeps computes its dependencies; groff
  # checks the man pages it generates (tests/integration/cli_manual_test.sh)
  dpkg-dev groff-base
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  postgresql postgresql-contrib sqlite3 curl procps jq python3
  # integration.fsync_before_print_test: watches fsync and write order
  strace
  # load benchmark (bench/load/run.sh): HTTP load generator and the CFSSL peer; instruction
  # counts per issuance (bench/load/instructions.sh)
  wrk golang-cfssl valgrind
  # OCSP benchmark (bench/ocsp/run.sh): nginx as the static-file ceiling; ip brings up the
  # loopback of the network namespace the benchmark runs in
  nginx-light iproute2
  # ACME interoperability tests (tests/integration/acme_*_test.sh): the clients, and an
  # authoritative DNS server with dynamic updates for dns-01 (knotd, kdig); the test's own
  # JWS requests use python3-cryptography and python3-requests
  certbot lego knot knot-dnsutils python3-cryptography python3-requests
  # Upstream issuers (tests/integration/upstream_*_test.sh, bench/acme): Pebble, the ACME test
  # CA certward issues through as a client; CFSSL (above) as a remote signer
  pebble
  # Discovery tests and benchmark (tests/integration/discovery_*_test.sh, bench/discovery): the
  # servers the scanner reads (nginx above, sshd, postfix for SMTP STARTTLS, dovecot for IMAP
  # and POP3), keystores made with Java's keytool, and the scanners it is measured against
  openssh-server openssh-client postfix dovecot-imapd dovecot-pop3d openjdk-17-jre-headless
  sslscan nmap
  # Lifecycle benchmark (bench/lifecycle/run.sh): the server restarted later in time, so that
  # every managed certificate falls due at once
  faketime
  # Alert tests (tests/integration/alerts_*_test.sh): an SMTP server requiring STARTTLS and
  # AUTH on loopback, which keeps each message it receives
  python3-aiosmtpd
  # Reports test (tests/integration/reports_test.sh): the CBOM is validated against the official
  # CycloneDX 1.6 schema (npm, tests/schemas/) with python3-jsonschema; the HTML report is
  # rendered by headless Chromium
  nodejs python3-jsonschema chromium
  # SCEP interoperability tests (tests/integration/scep_*_test.sh): certmonger's scep-submit,
  # run hermetically without D-Bus, and strongSwan's pki --scep, whose HTTP fetcher (curl
  # plugin) and crypto (openssl plugin) come with the plugin packages, not with pki itself
  certmonger strongswan-pki libstrongswan-standard-plugins libstrongswan-extra-plugins
)
# Debian's nodejs comes without npm; a nodejs that brings its own (NodeSource's) conflicts
# with Debian's npm.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # Packages installed here are tools the tests and benchmarks start themselves (nginx, knotd, on a
  # free loopback port): no service may start on install, e.g. nginx on port 80.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 0755 "$policy"
    trap '"${sudo_cmd[@]}" rm -f "$policy"' EXIT
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Nor at the next boot.
  if command -v systemctl >/dev/null; then
    for pair in nginx-light:nginx knot:knot openssh-server:ssh postfix:postfix dovecot-imapd:dovecot; do
      if [[ " ${missing[*]} " == *" ${pair%%:*} "* ]]; then
        "${sudo_cmd[@]}" systemctl disable --quiet "${pair#*:}" 2>/dev/null || true
      fi
    done
  fi
fi
# npm packages, each folder pinned by its package-lock.json; installed again only when the lock
# file changed since the last install.
npm_install() {
  local dir=$1
  if [[ ! -f $dir/node_modules/.package-lock.json ]] ||
    ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.source" 2>/dev/null; then
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.source"
  fi
}
root="$(cd "$(dirname "$0")/.." && pwd)"
# The JSON schemas the tests validate against.
npm_install "$root/tests/schemas"
# The dashboard's build (TypeScript, Vite, Preact) and its browser tests' driver
# (playwright-core, which drives Debian's chromium and downloads no browser).
npm_install "$root/web"
echo "setup: all dependencies present"
