# Shared by the network discovery tests (discovery_net_test.sh, discovery_net_mail_ssh_test.sh):
# real servers started from the test's temporary directory and stopped by PID, a test PKI, and
# `certward scan net` with its report reduced to one line per place.
#
# Trust for chain findings is the test root alone: SSL_CERT_FILE points OpenSSL's default store
# (which the scanner loads, [discovery] use_system_trust) at it; certward's own roots issued
# nothing here.
source "$(dirname "$0")/lib.sh"

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
  done
}
require openssl python3 ss jq sqlite3

# Peers that drop privileges (Postfix, Dovecot) must reach their directories under $T.
chmod 711 "$T"
mkdir -p "$T/pki" "$T/logs" "$T/empty"

# ---------------------------------------------------------------------------------------------
# Peers: started in the background, each PID kept; stopped by PID, and waited for, on exit.
PEER_PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
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
[leaf_crl]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
crlDistributionPoints = URI:$ENV::CRL_URL
[req]
distinguished_name = dn
[dn]
CNF
  mkdir issued
  : >index.txt
  echo 1000 >serial
  export SAN=DNS:unused CRL_URL=http://unused.invalid/
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
  leaf mixed "DNS:mixed.test,$here"
  # Within the 30 days of [discovery] expiring_window.
  leaf soon "DNS:soon.test,$here" -days 10
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
# Scans, with short timeouts so that a silent peer costs two seconds.
cat >"$T/certward.toml" <<'TOML'
[discovery]
connect_timeout = "2s"
handshake_timeout = "2s"
TOML
cw -c "$T/certward.toml" init >/dev/null
scan() {  # OUT TARGETS... [options]
  local out=$1
  shift
  SSL_CERT_FILE=$P/root.crt SSL_CERT_DIR=$T/empty \
    "$CERTWARD_BIN" -c "$T/certward.toml" --json scan net "$@" >"$out" 2>"$out.err" ||
    { fail "scan $*: $(head -c 300 "$out.err")"; echo '{}' >"$out"; }
}

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

# Active sightings of a certificate: its locations, sorted.
sighted() {
  "$CERTWARD_BIN" --json scan sightings "$1" |
    jq -r '.items[] | select(.active) | .location' | sort
}

# What a scan that finds nothing new must leave as it was.
rows() {
  db_scalar "SELECT (SELECT COUNT(*) FROM certificates) || ' ' || (SELECT COUNT(*) FROM ssh_keys)
    || ' ' || (SELECT COUNT(*) FROM sightings) || ' ' || (SELECT COUNT(*) FROM sightings WHERE gone_at IS NOT NULL)"
}

# The counts of what a scan found new, changed and gone: "0 0 0 0" for a scan that changed
# nothing.
news() {
  jq -r '.report | "\(.new_certificates | length) \(.new_ssh_keys | length) \(.changed | length) \(.gone | length)"' "$1"
}
