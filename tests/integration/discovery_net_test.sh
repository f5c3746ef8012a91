#!/usr/bin/env bash
# `certward scan net` against real TLS servers on loopback: openssl s_server and nginx serving
# known certificates (valid, expired, not yet valid, expiring, self-signed, wrong name,
# incomplete chain, RSA-1024, SHA-1 signed, TLS 1.0 only, TLS 1.0 to 1.3, revoked in the CRL it
# names; three server blocks on one port, by SNI, over IPv4 and IPv6), and places that fail: a
# closed port, a listener that never answers, one that answers garbage, nginx's plain HTTP on a
# TLS port, a name that does not resolve.
#
# Each place must be reported with exactly the expected findings (the set: an extra or a
# missing one fails) or the expected error, and the scan must end within its timeouts. The
# inventory must hold each certificate once with its sightings; a second scan adds and changes
# nothing; a certificate swapped behind one endpoint is reported as changed there, its old
# sighting gone. STARTTLS and SSH: discovery_net_mail_ssh_test.sh.
source "$(dirname "$0")/discovery_net_lib.sh"
require nginx

# ---------------------------------------------------------------------------------------------
# openssl s_server, one per case. -www answers without reading standard input. Security level
# 0 lets it serve an RSA-1024 key and a SHA-1 signature; TLS 1.0/1.1 stay off unless wanted.
declare -A SPID
s_server() {  # NAME CERT [extra options]
  local name=$1 cert=$2
  shift 2
  [[ -n ${PORT[$name]:-} ]] || PORT[$name]=$(new_port)
  local chain=(-cert_chain "$P/inter.crt")
  [[ $cert == self || $cert == incomplete ]] && chain=()
  local versions=(-no_tls1 -no_tls1_1)
  [[ $name == legacy ]] && versions=(-tls1)
  [[ $name == mixed ]] && versions=()
  start_peer "s_server-$name" "${PORT[$name]}" openssl s_server -www -quiet \
    -accept "127.0.0.1:${PORT[$name]}" -cert "$P/$cert.crt" -key "$P/$cert.key" "${chain[@]}" \
    "${versions[@]}" -cipher 'DEFAULT:@SECLEVEL=0' "$@"
  SPID[$name]=$LAST_PID
}
for name in valid expired future soon self elsewhere incomplete weak sha1 legacy mixed; do
  s_server "$name" "$name"
done

# nginx: three server blocks on one port (a default and two names), IPv4 and IPv6 when this
# host has ::1, and a plain HTTP server on another port.
PORT[sni]=$(new_port)
PORT[http]=$(new_port)

# A leaf whose CRL distribution point is nginx's plain HTTP server, revoked in the CRL served
# there.
(
  cd "$P"
  export SAN="DNS:revoked.test,IP:127.0.0.1,IP:::1" CRL_URL="http://127.0.0.1:${PORT[http]}/inter.crl"
  openssl req -config ca.cnf -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout revoked.key -out revoked.csr -subj "/CN=revoked.test" 2>/dev/null
  openssl ca -config ca.cnf -batch -notext -cert inter.crt -keyfile inter.key -in revoked.csr \
    -out revoked.crt -extensions leaf_crl 2>/dev/null
  openssl ca -config ca.cnf -batch -cert inter.crt -keyfile inter.key -revoke revoked.crt 2>/dev/null
  openssl ca -config ca.cnf -gencrl -cert inter.crt -keyfile inter.key -crldays 7 -out inter.crl.pem \
    2>/dev/null
  openssl crl -in inter.crl.pem -outform DER -out inter.crl
)
V6=0
python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null && V6=1
mkdir -p "$T/nginx"
ssl_server() {  # NAME [server_name]
  local default=" default_server"
  [[ -n ${2:-} ]] && default=""
  echo "  server {"
  echo "    listen 127.0.0.1:${PORT[sni]} ssl http2$default;"
  ((V6)) && echo "    listen [::1]:${PORT[sni]} ssl http2$default;"
  [[ -n ${2:-} ]] && echo "    server_name $2;"
  echo "    ssl_certificate $P/$1-chain.pem;"
  echo "    ssl_certificate_key $P/$1.key;"
  echo "    return 200 \"$1\\n\";"
  echo "  }"
}
{
  echo "daemon off;"
  echo "worker_processes 1;"
  echo "pid $T/nginx/nginx.pid;"
  echo "error_log $T/logs/nginx-error.log;"
  echo "events { worker_connections 64; }"
  echo "http {"
  echo "  access_log off;"
  for d in client_body proxy fastcgi uwsgi scgi; do echo "  ${d}_temp_path $T/nginx/$d;"; done
  echo "  ssl_protocols TLSv1.2 TLSv1.3;"
  ssl_server default
  ssl_server a a.test
  ssl_server b b.test
  echo "  server {"
  echo "    listen 127.0.0.1:${PORT[http]};"
  echo "    location = /inter.crl { root $P; }"
  echo "    location / { return 200 \"plain\\n\"; }"
  echo "  }"
  echo "}"
} >"$T/nginx/nginx.conf"
start_peer nginx "${PORT[sni]}" nginx -e "$T/logs/nginx-error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf"
AWAIT+=("nginx:${PORT[http]}")


s_server revoked revoked

# Listeners that fail: one that accepts and never answers, one that answers garbage at once,
# and (above) nginx's plain HTTP. A closed port: a free port nobody listens on.
cat >"$T/listener.py" <<'EOF'
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    if mode == "garbage":
        c.sendall(b"garbage, not a TLS record\r\n" * 4)
    held.append(c)
EOF
for mode in silent garbage; do
  PORT[$mode]=$(new_port)
  start_peer "$mode" "${PORT[$mode]}" python3 "$T/listener.py" "$mode" "${PORT[$mode]}"
done
PORT[closed]=$(new_port)
await_peers

await_peers

# ---------------------------------------------------------------------------------------------
tls_targets=()
for name in valid expired future soon self elsewhere incomplete weak sha1 legacy mixed revoked silent \
  garbage http closed; do
  tls_targets+=("127.0.0.1:${PORT[$name]}")
done
# A name that cannot resolve (RFC 6761 reserves .invalid).
tls_targets+=("no-such-host.invalid:443")
sni_targets=("127.0.0.1:${PORT[sni]}")
((V6)) && sni_targets+=("[::1]:${PORT[sni]}")
scan_main() { scan "$1" "${tls_targets[@]}"; }
scan_sni() { scan "$1" "${sni_targets[@]}" --sni a.test --sni b.test --sni wrong.test; }
main_places() {
  cat <<EOF
127.0.0.1:${PORT[valid]} -
127.0.0.1:${PORT[expired]} expired
127.0.0.1:${PORT[future]} not_yet_valid
127.0.0.1:${PORT[soon]} expiring
127.0.0.1:${PORT[self]} self_signed
127.0.0.1:${PORT[elsewhere]} hostname_mismatch
127.0.0.1:${PORT[incomplete]} incomplete_chain
127.0.0.1:${PORT[weak]} weak_key
127.0.0.1:${PORT[sha1]} sha1_signature
127.0.0.1:${PORT[legacy]} legacy_protocol
127.0.0.1:${PORT[revoked]} -
127.0.0.1:${PORT[mixed]} legacy_protocol
127.0.0.1:${PORT[silent]} error: handshake timed out (unavailable)
127.0.0.1:${PORT[garbage]} error: not TLS (unavailable)
127.0.0.1:${PORT[http]} error: not TLS (unavailable)
127.0.0.1:${PORT[closed]} error: connection refused (unavailable)
no-such-host.invalid:443#no-such-host.invalid error: could not resolve no-such-host.invalid (unavailable)
EOF
}
sni_places() {
  local a
  for a in "${sni_targets[@]}"; do
    printf '%s -\n%s#a.test -\n%s#b.test -\n%s#wrong.test hostname_mismatch\n' "$a" "$a" "$a" "$a"
  done
}

start=$(date +%s%N)
scan_main "$T/scan1.json"
elapsed=$((($(date +%s%N) - start) / 1000000))
scan_sni "$T/sni1.json"
expect_places "$T/scan1.json" < <(main_places)
expect_places "$T/sni1.json" < <(sni_places)
# The silent listener holds its connection for the whole handshake timeout (2 s), everything
# else answers at once: the scan as a whole ends soon after.
assert_below 8000 "$elapsed" "wall time of the first scan (ms)"
echo "first scan: ${elapsed} ms"

# ---------------------------------------------------------------------------------------------
# The inventory: each certificate served once, discovered, with a sighting at each place that
# served it, and nothing else.
leaves=(valid expired future soon self elsewhere incomplete weak sha1 legacy mixed revoked default a
  b)
declare -A FP
for name in "${leaves[@]}" inter valid2; do FP[$name]=$(fp "$name"); done
want_fps=$(for name in "${leaves[@]}" inter; do echo "${FP[$name]}"; done | sort)
# The inventory as `cert list` shows it; the database holds one row for each.
discovered() {
  "$CERTWARD_BIN" --json cert list --origin discovered --limit 1000 | jq -r '.items[].fingerprint' | sort
}
assert_eq "$want_fps" \
  "$(db_scalar "SELECT fingerprint FROM certificates WHERE origin = 'discovered' ORDER BY fingerprint")" \
  "the discovered certificates' rows"
assert_eq "$want_fps" "$(discovered)" "the discovered certificates"
new_fps=$(jq -r '.report.new_certificates[]' "$T/scan1.json" "$T/sni1.json" | sort)
assert_eq "$want_fps" "$new_fps" "new certificates of the first scans"

declare -A WHERE
for name in valid expired future soon self elsewhere incomplete weak sha1 legacy mixed revoked; do
  WHERE[$name]="127.0.0.1:${PORT[$name]}"
done
WHERE[default]=$(for a in "${sni_targets[@]}"; do echo "$a"; echo "$a#wrong.test"; done | sort)
WHERE[a]=$(for a in "${sni_targets[@]}"; do echo "$a#a.test"; done | sort)
WHERE[b]=$(for a in "${sni_targets[@]}"; do echo "$a#b.test"; done | sort)
# The intermediate: everywhere a chain was sent (not by the self-signed and incomplete ones).
WHERE[inter]=$(
  for name in valid expired future soon elsewhere weak sha1 legacy mixed revoked default a b; do
    echo "${WHERE[$name]}"
  done | sort
)
for name in "${leaves[@]}" inter; do
  assert_eq "${WHERE[$name]}" "$(sighted "${FP[$name]}")" "sightings of $name"
done
# The leaf of each TLS place is the certificate it was given.
for name in valid expired future soon self elsewhere incomplete weak sha1 legacy mixed revoked; do
  got=$(jq -r --arg l "${WHERE[$name]}" '.report.results[] | select(.location == $l) | .leaf' \
    "$T/scan1.json")
  assert_eq "${FP[$name]}" "$got" "leaf at $name"
done
# ALPN: nginx picks h2 from what the scanner offers; s_server takes none.
assert_eq "h2" "$(jq -r '.report.results[].alpn' "$T/sni1.json" | sort -u | xargs)" "ALPN at nginx"
assert_eq "" "$(jq -r '.report.results[] | select(.error == null) | .alpn' "$T/scan1.json" | sort -u | xargs)" \
  "ALPN at s_server"
# Legacy protocols: named where offered, whether alone (the handshake says so) or beside TLS
# 1.3 (the capped handshakes find them), and nowhere else.
assert_eq "$(printf '%s\n' "${WHERE[legacy]} TLSv1 TLSv1" "${WHERE[mixed]} TLSv1.3 TLSv1,TLSv1.1" | sort)" \
  "$(jq -r '.report.results[] | select(.error == null) |
    "\(.location) \(.tls_version) \(.legacy_protocols | join(","))"' "$T/scan1.json" | grep -v ' $' | sort)" \
  "where legacy protocols are offered"

# Revocation is checked when asked (the first scan did not): the CRL named in the leaf lists it;
# a leaf that names no CRL gets no finding.
scan "$T/revocation.json" "${WHERE[revoked]}" "${WHERE[valid]}" --check-revocation
expect_places "$T/revocation.json" <<EOF
${WHERE[revoked]} revoked
${WHERE[valid]} -
EOF

# ---------------------------------------------------------------------------------------------
# Again: nothing new, nothing changed, nothing gone, the same findings.
before=$(rows)
scan_main "$T/scan2.json"
scan_sni "$T/sni2.json"
expect_places "$T/scan2.json" < <(main_places)
expect_places "$T/sni2.json" < <(sni_places)
for f in scan2 sni2; do
  assert_eq "0 0 0 0" "$(news "$T/$f.json")" "$f: new certificates, new SSH keys, changed, gone"
done
assert_eq "$want_fps" "$(discovered)" "the discovered certificates after the second scan"
for name in "${leaves[@]}" inter; do
  assert_eq "${WHERE[$name]}" "$(sighted "${FP[$name]}")" "sightings of $name after the second scan"
done
assert_eq "$before" "$(rows)" "certificates, SSH keys, sightings, gone sightings"

# ---------------------------------------------------------------------------------------------
# The valid endpoint now serves another certificate: changed there, the old leaf's sighting
# gone, the new one sighted; the intermediate it still sends stays.
stop_pid "${SPID[valid]}"
s_server valid valid2
await_peers
scan_main "$T/scan3.json"
expect_places "$T/scan3.json" < <(main_places)
assert_eq "${WHERE[valid]} ${FP[valid]} ${FP[valid2]}" \
  "$(jq -r '.report.changed[] | "\(.location) \(.from) \(.to)"' "$T/scan3.json")" "changed after the swap"
assert_eq "${WHERE[valid]} ${FP[valid]}" \
  "$(jq -r '.report.gone[] | "\(.location) \(.fingerprint)"' "$T/scan3.json")" "gone after the swap"
assert_eq "${FP[valid2]}" "$(jq -r '.report.new_certificates | join(" ")' "$T/scan3.json")" \
  "new after the swap"
assert_eq "" "$(sighted "${FP[valid]}")" "the old leaf is sighted nowhere"
assert_eq "${WHERE[valid]} true" \
  "$("$CERTWARD_BIN" --json scan sightings "${FP[valid]}" | jq -r '.items[] | "\(.location) \(.gone_at != null)"')" \
  "the old leaf's sighting is marked gone"
assert_eq "${WHERE[valid]}" "$(sighted "${FP[valid2]}")" "sightings of the new leaf"
assert_eq "${WHERE[inter]}" "$(sighted "${FP[inter]}")" "the intermediate is still sighted"
assert_eq "$( (echo "$want_fps"; echo "${FP[valid2]}") | sort)" "$(discovered)" \
  "the discovered certificates after the swap"

finish
