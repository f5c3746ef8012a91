#!/usr/bin/env bash
# `certward scan net` against real servers on loopback: openssl s_server and nginx serving
# known certificates (valid, expired, not yet valid, self-signed, wrong name, incomplete chain,
# RSA-1024, SHA-1 signed, TLS 1.0 only, several SNI names on one port over IPv4 and IPv6),
# Postfix (SMTP STARTTLS), Dovecot (IMAP and POP3 STARTTLS), OpenSSH's sshd (three host keys
# and a host certificate), and listeners that fail: a closed port, one that never answers, one
# that answers garbage, plain HTTP on a TLS port.
#
# Each endpoint must be reported with exactly the expected findings (the set, so an extra or a
# missing one fails) or the expected error, within the timeouts. The inventory must hold each
# certificate once with its sightings; a second scan adds and changes nothing; a certificate
# swapped behind one endpoint is reported as changed there and its old sighting as gone.
#
# Every peer runs from this test's temporary directory with its own configuration, on free
# loopback ports, and is stopped by PID. Trust for chain findings is the test root alone:
# SSL_CERT_FILE points OpenSSL's default store (which the scanner loads) at it.
source "$(dirname "$0")/lib.sh"

for tool in nginx openssl python3 ss ssh-keygen /usr/sbin/sshd /usr/sbin/dovecot \
  /usr/lib/postfix/sbin/master; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

# Postfix and Dovecot drop privileges and must reach their directories under $T.
chmod 711 "$T"
mkdir -p "$T/pki" "$T/logs" "$T/empty"

# ---------------------------------------------------------------------------------------------
# Peers: started in the background, each PID kept; stopped by PID, and waited for, on exit.
PEER_PIDS=()
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_peers() {
  local pid
  for pid in "${PEER_PIDS[@]}"; do stop_pid "$pid"; done
}
trap 'stop_peers; cleanup' EXIT

# A free port not yet handed out: peers start at once, so a port is not bound when the next
# is picked.
declare -A PORT
new_port() {
  local p
  while :; do
    p=$(free_port)
    [[ " ${PORT[*]} " == *" $p "* ]] || break
  done
  echo "$p"
}

listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }

# start_peer NAME PORT COMMAND...: runs it with its output in $T/logs/NAME.log; await_peers
# then waits until every port started so listens. LAST_PID is its PID.
AWAIT=()
start_peer() {
  local name=$1 port=$2
  shift 2
  "$@" >"$T/logs/$name.log" 2>&1 &
  LAST_PID=$!
  PEER_PIDS+=("$LAST_PID")
  AWAIT+=("$name:$port")
}
await_peers() {
  local p
  for p in "${AWAIT[@]}"; do
    if ! wait_until 20 listening "${p#*:}"; then
      echo "${p%%:*} did not listen on ${p#*:}:" >&2
      cat "$T/logs/${p%%:*}.log" >&2
      exit 1
    fi
  done
  AWAIT=()
}

# ---------------------------------------------------------------------------------------------
# Certificates: a root and an intermediate, and one leaf per case.
(
  cd "$T/pki"
  cat >ca.cnf <<'CNF'
[ca]
default_ca = inter
[inter]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
default_days = 365
policy = any
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
[req]
distinguished_name = dn
[dn]
CNF
  mkdir issued
  : >index.txt
  echo 1000 >serial
  export SAN=DNS:unused
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -config ca.cnf -x509 "${ec[@]}" -keyout root.key -out root.crt \
    -subj "/CN=Discovery Test Root" -days 3650 -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -config ca.cnf -new "${ec[@]}" -keyout inter.key -out inter.csr \
    -subj "/CN=Discovery Test Intermediate" 2>/dev/null
  openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key -set_serial 2 -days 3650 \
    -extfile ca.cnf -extensions ca_ext -out inter.crt 2>/dev/null
  # leaf NAME SAN [openssl ca options]: NAME.key, NAME.crt issued by the intermediate, and
  # NAME-chain.pem (leaf, intermediate). The leaf named "weak" gets an RSA-1024 key.
  leaf() {
    local name=$1 key=("${ec[@]}")
    export SAN=$2
    shift 2
    [[ $name == weak ]] && key=(-newkey rsa:1024 -nodes)
    openssl req -config ca.cnf -new "${key[@]}" -keyout "$name.key" -out "$name.csr" \
      -subj "/CN=$name.test" 2>/dev/null
    openssl ca -config ca.cnf -batch -notext -cert inter.crt -keyfile inter.key -in "$name.csr" \
      -out "$name.crt" -extensions leaf "$@" 2>/dev/null
    cat "$name.crt" inter.crt >"$name-chain.pem"
  }
  # Leaves name the loopback addresses: a certificate that lists addresses is checked against
  # the address dialled, so each one below is right about its name unless it is the "elsewhere".
  here="IP:127.0.0.1,IP:::1"
  leaf valid "DNS:valid.test,$here"
  leaf valid2 "DNS:valid.test,$here"
  leaf expired "DNS:expired.test,$here" -startdate 20200101000000Z -enddate 20210101000000Z
  leaf future "DNS:future.test,$here" -startdate 20400101000000Z -enddate 20410101000000Z
  leaf elsewhere "DNS:elsewhere.test,IP:192.0.2.7"
  leaf incomplete "DNS:incomplete.test,$here"
  leaf weak "DNS:weak.test,$here"
  leaf sha1 "DNS:sha1.test,$here" -md sha1
  leaf legacy "DNS:legacy.test,$here"
  leaf default "DNS:default.test,$here"
  leaf a "DNS:a.test"
  leaf b "DNS:b.test"
  leaf mail "DNS:mail.test,$here"
  # Self-signed as `openssl req -x509` makes one for a server: no CA, issued by nobody.
  openssl req -config ca.cnf -x509 "${ec[@]}" -keyout self.key -out self.crt -subj "/CN=self.test" \
    -days 365 -addext "subjectAltName=DNS:self.test,$here" 2>/dev/null
)
P=$T/pki
fp() { openssl x509 -in "$P/$1.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }

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
  start_peer "s_server-$name" "${PORT[$name]}" openssl s_server -www -quiet \
    -accept "127.0.0.1:${PORT[$name]}" -cert "$P/$cert.crt" -key "$P/$cert.key" "${chain[@]}" \
    "${versions[@]}" -cipher 'DEFAULT:@SECLEVEL=0' "$@"
  SPID[$name]=$LAST_PID
}
for name in valid expired future self elsewhere incomplete weak sha1 legacy; do
  s_server "$name" "$name"
done

# nginx: three server blocks on one port (a default and two names), IPv4 and IPv6 when this
# host has ::1, and a plain HTTP server on another port.
PORT[sni]=$(new_port)
PORT[http]=$(new_port)
V6=0
python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null && V6=1
mkdir -p "$T/nginx"
ssl_server() {  # NAME [server_name]
  local default=" default_server"
  [[ -n ${2:-} ]] && default=""
  echo "  server {"
  echo "    listen 127.0.0.1:${PORT[sni]} ssl$default;"
  ((V6)) && echo "    listen [::1]:${PORT[sni]} ssl$default;"
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
  echo "  server { listen 127.0.0.1:${PORT[http]}; return 200 \"plain\\n\"; }"
  echo "}"
} >"$T/nginx/nginx.conf"
start_peer nginx "${PORT[sni]}" nginx -e "$T/logs/nginx-error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf"
AWAIT+=("nginx:${PORT[http]}")

# Postfix: its master in the foreground (-d) as the leader of its own process group, so that
# stopping it stops its children; only the services smtpd needs.
PORT[smtp]=$(new_port)
pf=$T/postfix
mkdir -p "$pf/conf" "$pf/queue/pid" "$pf/queue/private" "$pf/queue/public" "$pf/data"
chown postfix "$pf/queue/private" "$pf/data"
chown postfix:postdrop "$pf/queue/public"
cat >"$pf/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.test
mydestination =
local_recipient_maps =
notify_classes =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = /dev/stdout
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_chain_files = $P/mail.key, $P/mail-chain.pem
smtpd_tls_session_cache_database =
EOF
cat >"$pf/conf/master.cf" <<EOF
127.0.0.1:${PORT[smtp]} inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
tlsmgr unix - - n 1000? 1 tlsmgr
EOF
start_peer postfix "${PORT[smtp]}" setsid /usr/lib/postfix/sbin/master -c "$pf/conf" -d

# Dovecot: IMAP and POP3 with STARTTLS, its runtime and state directories under $T.
PORT[imap]=$(new_port)
PORT[pop3]=$(new_port)
dc=$T/dovecot
mkdir -p "$dc/run" "$dc/state"
cat >"$dc/dovecot.conf" <<EOF
base_dir = $dc/run
state_dir = $dc/state
log_path = $T/logs/dovecot-log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$P/mail-chain.pem
ssl_key = <$P/mail.key
ssl_min_protocol = TLSv1.2
mail_location = maildir:$dc/mail/%u
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dc/mail/%u
}
service imap-login {
  inet_listener imap {
    port = ${PORT[imap]}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${PORT[pop3]}
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
start_peer dovecot "${PORT[imap]}" /usr/sbin/dovecot -F -c "$dc/dovecot.conf"
AWAIT+=("dovecot:${PORT[pop3]}")

# sshd: Ed25519, ECDSA P-256 and RSA-3072 host keys, and a certificate for the Ed25519 one
# signed by a test SSH CA.
PORT[ssh]=$(new_port)
sd=$T/sshd
mkdir -p "$sd"
for k in ed25519:256 ecdsa:256 rsa:3072; do
  ssh-keygen -q -t "${k%%:*}" -b "${k##*:}" -N '' -C '' -f "$sd/host_${k%%:*}"
done
ssh-keygen -q -t ed25519 -N '' -C 'test ssh ca' -f "$sd/ssh_ca"
ssh-keygen -q -s "$sd/ssh_ca" -I host-id-1 -h -n ssh.test,127.0.0.1 -z 42 -V -1d:+52w \
  "$sd/host_ed25519.pub"
cat >"$sd/sshd_config" <<EOF
ListenAddress 127.0.0.1:${PORT[ssh]}
HostKey $sd/host_ed25519
HostKey $sd/host_ecdsa
HostKey $sd/host_rsa
HostCertificate $sd/host_ed25519-cert.pub
PidFile $sd/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
EOF
start_peer sshd "${PORT[ssh]}" /usr/sbin/sshd -D -e -f "$sd/sshd_config"

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

# ---------------------------------------------------------------------------------------------
# The scans. Short timeouts so that the silent listener costs two seconds; trust is the test
# root alone (certward's own roots issued nothing here).
cat >"$T/certward.toml" <<'EOF'
[discovery]
connect_timeout = "2s"
handshake_timeout = "2s"
EOF
cw -c "$T/certward.toml" init >/dev/null
scan() {  # OUT TARGETS... [options]
  local out=$1
  shift
  SSL_CERT_FILE=$P/root.crt SSL_CERT_DIR=$T/empty \
    "$CERTWARD_BIN" -c "$T/certward.toml" --json scan net "$@" >"$out" 2>"$out.err" ||
    { fail "scan $*: $(head -c 300 "$out.err")"; echo '{}' >"$out"; }
}
tls_targets=()
for name in valid expired future self elsewhere incomplete weak sha1 legacy silent garbage http \
  closed; do
  tls_targets+=("127.0.0.1:${PORT[$name]}")
done
other_targets=("127.0.0.1:${PORT[smtp]}/smtp" "127.0.0.1:${PORT[imap]}/imap"
  "127.0.0.1:${PORT[pop3]}/pop3" "127.0.0.1:${PORT[ssh]}/ssh")
sni_targets=("127.0.0.1:${PORT[sni]}")
((V6)) && sni_targets+=("[::1]:${PORT[sni]}")
scan_main() { scan "$1" "${tls_targets[@]}" "${other_targets[@]}"; }
scan_sni() { scan "$1" "${sni_targets[@]}" --sni a.test --sni b.test --sni wrong.test; }

# One line per place: "LOCATION codes" (the finding codes sorted, "-" for none) or
# "LOCATION error: MESSAGE (code)".
places() {
  jq -r '.report.results[] | .location + " " + (if .error then "error: \(.error) (\(.error_code))"
    else ([.findings[].code] | sort | join(",") | if . == "" then "-" else . end) end)' "$1" | sort
}
expect_places() {  # FILE, then "LOCATION what" lines on stdin
  local want got
  want=$(sort)
  got=$(places "$1")
  if [[ $want == "$got" ]]; then pass; else
    fail "$1: places differ (< want, > got):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
  fi
}
main_places() {
  cat <<EOF
127.0.0.1:${PORT[valid]} -
127.0.0.1:${PORT[expired]} expired
127.0.0.1:${PORT[future]} not_yet_valid
127.0.0.1:${PORT[self]} self_signed
127.0.0.1:${PORT[elsewhere]} hostname_mismatch
127.0.0.1:${PORT[incomplete]} incomplete_chain
127.0.0.1:${PORT[weak]} weak_key
127.0.0.1:${PORT[sha1]} sha1_signature
127.0.0.1:${PORT[legacy]} legacy_protocol
127.0.0.1:${PORT[smtp]} -
127.0.0.1:${PORT[imap]} -
127.0.0.1:${PORT[pop3]} -
127.0.0.1:${PORT[ssh]} -
127.0.0.1:${PORT[silent]} error: handshake timed out (unavailable)
127.0.0.1:${PORT[garbage]} error: not TLS (unavailable)
127.0.0.1:${PORT[http]} error: not TLS (unavailable)
127.0.0.1:${PORT[closed]} error: connection refused (unavailable)
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
leaves=(valid expired future self elsewhere incomplete weak sha1 legacy mail default a b)
declare -A FP
for name in "${leaves[@]}" inter valid2; do FP[$name]=$(fp "$name"); done
want_fps=$(for name in "${leaves[@]}" inter; do echo "${FP[$name]}"; done | sort)
discovered() { db_scalar "SELECT fingerprint FROM certificates WHERE origin = 'discovered' ORDER BY fingerprint"; }
assert_eq "$want_fps" "$(discovered)" "the discovered certificates"
new_fps=$(jq -r '.report.new_certificates[]' "$T/scan1.json" "$T/sni1.json" | sort)
assert_eq "$want_fps" "$new_fps" "new certificates of the first scans"

# Active sightings of a certificate: its locations, sorted.
sighted() {
  "$CERTWARD_BIN" --json scan sightings "$1" |
    jq -r '.items[] | select(.active) | .location' | sort
}
declare -A WHERE
for name in valid expired future self elsewhere incomplete weak sha1 legacy; do
  WHERE[$name]="127.0.0.1:${PORT[$name]}"
done
WHERE[mail]=$(printf '127.0.0.1:%s\n' "${PORT[smtp]}" "${PORT[imap]}" "${PORT[pop3]}" | sort)
WHERE[default]=$(for a in "${sni_targets[@]}"; do echo "$a"; echo "$a#wrong.test"; done | sort)
WHERE[a]=$(for a in "${sni_targets[@]}"; do echo "$a#a.test"; done | sort)
WHERE[b]=$(for a in "${sni_targets[@]}"; do echo "$a#b.test"; done | sort)
# The intermediate: everywhere a chain was sent (not by the self-signed and incomplete ones).
WHERE[inter]=$(
  for name in valid expired future elsewhere weak sha1 legacy mail default a b; do
    echo "${WHERE[$name]}"
  done | sort
)
for name in "${leaves[@]}" inter; do
  assert_eq "${WHERE[$name]}" "$(sighted "${FP[$name]}")" "sightings of $name"
done
# The leaf of each TLS place is the certificate it was given.
for name in valid expired future self elsewhere incomplete weak sha1 legacy; do
  got=$(jq -r --arg l "${WHERE[$name]}" '.report.results[] | select(.location == $l) | .leaf' \
    "$T/scan1.json")
  assert_eq "${FP[$name]}" "$got" "leaf at $name"
done
# Legacy protocols are named, and only where offered.
assert_eq "TLSv1" "$(jq -r --arg l "${WHERE[legacy]}" \
  '.report.results[] | select(.location == $l) | "\(.tls_version) \(.legacy_protocols | join(","))"' \
  "$T/scan1.json" | sed 's/ TLSv1$//')" "the TLS 1.0 server"
assert_eq "" "$(jq -r '.report.results[] | select(.legacy_protocols != null and (.legacy_protocols | length) > 0) | .location' \
  "$T/scan1.json" | grep -v "^${WHERE[legacy]}$" || true)" "no legacy protocols elsewhere"
# STARTTLS places say so.
assert_eq "smtp imap pop3" "$(for p in smtp imap pop3; do
  jq -r --arg l "127.0.0.1:${PORT[$p]}" '.report.results[] | select(.location == $l) | .starttls' "$T/scan1.json"
done | xargs)" "STARTTLS protocols"

# ---------------------------------------------------------------------------------------------
# SSH: the host keys ssh-keygen made, and the host certificate as ssh-keygen reads it.
ssh_loc="127.0.0.1:${PORT[ssh]}"
ssh_fp() { ssh-keygen -l -E sha256 -f "$1" | awk '{print $2}'; }
# A certificate's own fingerprint: of its whole blob, as the scanner reports it.
cert_fp() { echo "SHA256:$(awk '{print $2}' "$1" | base64 -d | openssl dgst -sha256 -binary | base64 | tr -d '=')"; }
want_ssh=$(
  for k in ed25519 ecdsa rsa; do echo "$(ssh_fp "$sd/host_$k.pub") $k"; done
  echo "$(cert_fp "$sd/host_ed25519-cert.pub") cert"
)
got_fps=$(jq -r --arg l "$ssh_loc" '.report.results[] | select(.location == $l) | .fingerprints[]' \
  "$T/scan1.json" | sort)
assert_eq "$(awk '{print $1}' <<<"$want_ssh" | sort)" "$got_fps" "SSH host keys and certificate served"
ssh_row() { db_scalar "SELECT type || ' ' || bits FROM ssh_keys WHERE fingerprint = '$1'"; }
assert_eq "ssh-ed25519 256" "$(ssh_row "$(ssh_fp "$sd/host_ed25519.pub")")" "Ed25519 host key"
assert_eq "ecdsa-sha2-nistp256 256" "$(ssh_row "$(ssh_fp "$sd/host_ecdsa.pub")")" "ECDSA host key"
assert_eq "ssh-rsa 3072" "$(ssh_row "$(ssh_fp "$sd/host_rsa.pub")")" "RSA host key"
cert_json=$(db_scalar "SELECT certificate FROM ssh_keys WHERE fingerprint = '$(cert_fp "$sd/host_ed25519-cert.pub")'")
keygen=$(ssh-keygen -L -f "$sd/host_ed25519-cert.pub")
want_principals=$(sed -n '/Principals:/,/Critical Options:/p' <<<"$keygen" | sed '1d;$d' | xargs)
want_ca=$(sed -n 's/.*Signing CA: [A-Z0-9]* \(SHA256:[^ ]*\).*/\1/p' <<<"$keygen")
assert_eq "$want_ca" "$(ssh_fp "$sd/ssh_ca.pub")" "ssh-keygen's view of the CA"
assert_eq "true 42 host-id-1 $want_principals $want_ca" \
  "$(jq -r '"\(.host) \(.serial) \(.key_id) \(.principals | join(" ")) \(.ca_fingerprint)"' <<<"$cert_json")" \
  "the host certificate"
assert_eq "SSH-2.0-OpenSSH" "$(jq -r --arg l "$ssh_loc" '.report.results[] | select(.location == $l) | .banner' \
  "$T/scan1.json" | cut -d_ -f1)" "the SSH banner"

# ---------------------------------------------------------------------------------------------
# Again: nothing new, nothing changed, nothing gone, the same findings.
rows() {
  db_scalar "SELECT (SELECT COUNT(*) FROM certificates) || ' ' || (SELECT COUNT(*) FROM ssh_keys)
    || ' ' || (SELECT COUNT(*) FROM sightings) || ' ' || (SELECT COUNT(*) FROM sightings WHERE gone_at IS NOT NULL)"
}
before=$(rows)
scan_main "$T/scan2.json"
scan_sni "$T/sni2.json"
expect_places "$T/scan2.json" < <(main_places)
expect_places "$T/sni2.json" < <(sni_places)
for f in scan2 sni2; do
  assert_eq "0 0 0 0" "$(jq -r '.report | "\(.new_certificates | length) \(.new_ssh_keys | length) \(.changed | length) \(.gone | length)"' \
    "$T/$f.json")" "$f: new certificates, new SSH keys, changed, gone"
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
