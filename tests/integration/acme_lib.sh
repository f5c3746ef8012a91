# Shared by the ACME tests: a real DNS server (Knot) on loopback serving the zone acme.test,
# where every name resolves to 127.0.0.1 and TSIG-signed dynamic updates (RFC 2136) are
# allowed, so that lego's rfc2136 provider can publish dns-01 TXT records; and certward's
# [acme] configuration pointing its validator at that server and at the clients' ports.
# Source after lib.sh.

ZONE=acme.test
TSIG_NAME=certward-test
TSIG_SECRET=$(head -c 32 /dev/urandom | base64)

# start_dns: starts knotd on a free port; sets DNS_PORT and DNS_PID.
start_dns() {
  DNS_PORT=$(free_port)
  mkdir -p "$T/knot"
  cat >"$T/knot/$ZONE.zone" <<ZONEFILE
\$ORIGIN $ZONE.
\$TTL 5
@ SOA ns.$ZONE. admin.$ZONE. 1 3600 600 86400 5
@ NS ns.$ZONE.
ns A 127.0.0.1
@ A 127.0.0.1
* A 127.0.0.1
ZONEFILE
  cat >"$T/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$DNS_PORT
    rundir: "$T/knot"
    user: $(id -un):$(id -gn)
database:
    storage: "$T/knot"
log:
  - target: stderr
    any: warning
key:
  - id: $TSIG_NAME
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
acl:
  - id: update
    key: $TSIG_NAME
    action: update
zone:
  - domain: $ZONE
    file: "$T/knot/$ZONE.zone"
    acl: update
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
CONF
  knotd -c "$T/knot/knot.conf" >"$T/knot/knotd.log" 2>&1 &
  DNS_PID=$!
  CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $DNS_PID"
  local i
  for i in $(seq 1 100); do
    kdig +short +timeout=1 +retry=0 -p "$DNS_PORT" @127.0.0.1 "ns.$ZONE" A 2>/dev/null | grep -q 127.0.0.1 && return 0
    sleep 0.1
  done
  echo "knotd did not answer:" >&2
  cat "$T/knot/knotd.log" >&2
  return 1
}

# acme_config [extra TOML lines...]: writes $T/certward.toml with the [acme] table for the
# validator (http-01 on HTTP01_PORT, tls-alpn-01 on TLSALPN_PORT, DNS at DNS_PORT) and exports
# CERTWARD_CONFIG.
acme_config() {
  HTTP01_PORT=${HTTP01_PORT:-$(free_port)}
  TLSALPN_PORT=${TLSALPN_PORT:-$(free_port)}
  {
    echo "[acme]"
    echo "http01_port = $HTTP01_PORT"
    echo "tls_alpn01_port = $TLSALPN_PORT"
    echo "resolver = \"127.0.0.1:$DNS_PORT\""
    echo "validation_timeout = \"5s\""
    local line
    for line in "$@"; do echo "$line"; done
  } >"$T/certward.toml"
  export CERTWARD_CONFIG=$T/certward.toml
}

# The issued chain verifies up to certward's root, and the leaf names exactly these DNS names.
check_chain() {  # pem names...
  local pem=$1
  shift
  local leaf="$T/leaf.$$.pem" rest="$T/rest.$$.pem"
  awk 'n==0{print} /END CERTIFICATE/{n=1}' "$pem" >"$leaf"
  awk 'n==1{print} /END CERTIFICATE/{n=1}' "$pem" >"$rest"
  local out
  out=$(openssl verify -CAfile "$T/root.pem" -untrusted "$rest" "$leaf" 2>&1) || true
  assert_eq "$leaf: OK" "$out" "$pem verifies up to the root"
  local want got
  want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
  got=$(openssl x509 -in "$leaf" -noout -ext subjectAltName 2>/dev/null | tail -n +2 |
    tr ',' '\n' | sed -n 's/^ *DNS://p' | sort | tr '\n' ' ')
  assert_eq "$want" "$got" "$pem names exactly: $*"
}

# cross_sign_root CN: a root made here ($T/legacy.pem, its key $T/legacy.key, subject CN) and
# $T/cross.pem, certward's root's subject and key certified by it: a cross-certificate.
cross_sign_root() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/legacy.key" \
    -subj "/CN=$1/O=Elsewhere" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$T/legacy.pem" 2>/dev/null
  printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' \
    'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' >"$T/cross.ext"
  openssl x509 -in "$T/root.pem" -CA "$T/legacy.pem" -CAkey "$T/legacy.key" -set_serial 0x5a17 \
    -days 20 -extfile "$T/cross.ext" -out "$T/cross.pem" 2>/dev/null
}

# top_issuer PEM: the issuer of the last certificate of a chain file (RFC 2253).
top_issuer() {
  awk '/BEGIN CERTIFICATE/{b=""} {b=b $0 "\n"} END{printf "%s", b}' "$1" |
    openssl x509 -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//'
}

# verifies_to ANCHOR PEM: whether the chain file's leaf verifies to ANCHOR through the rest.
verifies_to() {
  local leaf="$T/vt-leaf.pem" rest="$T/vt-rest.pem"
  awk 'n==0{print} /END CERTIFICATE/{n=1}' "$2" >"$leaf"
  awk 'n==1{print} /END CERTIFICATE/{n=1}' "$2" >"$rest"
  [[ $(openssl verify -no-CApath -no-CAstore -CAfile "$1" -untrusted "$rest" "$leaf" 2>&1) == "$leaf: OK" ]]
}
