#!/usr/bin/env bash
# certward's name-constraint decision against `openssl verify`'s, case by case. Issuing CAs
# with name constraints are made by openssl and imported into certward. For each case, the RA
# is asked for the names (`certward issue`), and openssl signs a leaf with the same names and
# verifies it. The two decisions must agree, except where certward is stricter on purpose: a
# wildcard is refused when openssl would reject a host it matches (the "witness" column), which
# `openssl verify` itself does not check.
source "$(dirname "$0")/lib.sh"

cat >"$T/certward.toml" <<'EOF'
[profiles.nc-test]
description = "every name type, for the name-constraints table"
extended_key_usage = ["serverAuth", "clientAuth", "emailProtection"]
allow_wildcards = true
allow_ip_sans = true
allow_email_sans = true
allow_uri_sans = true
require_san = false
EOF
export CERTWARD_CONFIG=$T/certward.toml
cw init >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/root.key" -out "$T/root.pem" \
  -days 365 -subj "/CN=NC Table Root" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# name "constraints" (openssl nameConstraints syntax)
make_ca() {
  local name=$1 nc=$2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$name.key" \
    -subj "/CN=NC $name" -out "$T/$name.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nnameConstraints=critical,%s\n' "$nc" >"$T/$name.ext"
  openssl x509 -req -in "$T/$name.csr" -CA "$T/root.pem" -CAkey "$T/root.key" -CAcreateserial \
    -days 300 -extfile "$T/$name.ext" -out "$T/$name.pem" 2>/dev/null
  cw ca import --name "$name" --cert "$T/$name.pem" --key "$T/$name.key" --chain "$T/root.pem" >/dev/null
}
make_ca dns "permitted;DNS:corp.test,excluded;DNS:secret.corp.test"
make_ca dot "permitted;DNS:.corp.test"
make_ca ip "permitted;IP:10.0.0.0/255.0.0.0,permitted;IP:2001:db8::/ffff:ffff::,excluded;IP:10.9.0.0/255.255.0.0"
make_ca email "permitted;email:corp.test,permitted;email:.mail.test,permitted;email:boss@ceo.test"
make_ca uri "permitted;URI:corp.test,permitted;URI:.svc.test"
make_ca excl "excluded;DNS:bad.test,excluded;email:bad.test,excluded;IP:192.168.0.0/255.255.0.0"
make_ca wild "excluded;DNS:secret.corp2.test"

# openssl's decision for a leaf under CA $1 with subject CN $2 ("" for none) and SAN text $3
# ("" for no SAN extension): "accept" or "reject".
openssl_decision() {
  local ca=$1 cn=$2 san=$3 subj="/O=NC Table"
  [[ -n $cn ]] && subj="/CN=$cn"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/leaf.key" \
    -subj "$subj" -out "$T/leaf.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$T/leaf.ext"
  [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san" >>"$T/leaf.ext"
  openssl x509 -req -in "$T/leaf.csr" -CA "$T/$ca.pem" -CAkey "$T/$ca.key" -CAcreateserial \
    -days 30 -extfile "$T/leaf.ext" -out "$T/leaf.pem" 2>/dev/null
  if openssl verify -CAfile "$T/root.pem" -untrusted "$T/$ca.pem" "$T/leaf.pem" >/dev/null 2>&1; then
    echo accept
  else
    echo reject
  fi
}

# certward's decision for the same request: `issue` with --cn and --san.
certward_decision() {
  local ca=$1 cn=$2 names=$3 args=() n rc=0
  [[ -n $cn ]] && args+=(--cn "$cn")
  for n in $names; do args+=(--san "$n"); done
  cw issue --profile nc-test --authority "$ca" --key-type ec-p256 "${args[@]}" >/dev/null 2>"$T/cw.err" || rc=$?
  case $rc in
    0) echo accept ;;
    6) echo reject ;;
    *) echo "error $rc: $(head -c 200 "$T/cw.err")" ;;
  esac
}

# certward's SAN arguments ("dns:a ip:b") as openssl's subjectAltName value ("DNS:a,IP:b").
openssl_sans() {
  local out="" n type value
  for n in $1; do
    type=${n%%:*}
    value=${n#*:}
    case $type in dns) type=DNS ;; ip) type=IP ;; email) type=email ;; uri) type=URI ;; esac
    out+="${out:+,}$type:$value"
  done
  echo "$out"
}

# ca | CN ("-": none) | SANs (space separated, "-": none) | witness host for a wildcard ("-")
CASES="
dns|-|dns:www.corp.test|-
dns|-|dns:corp.test|-
dns|-|dns:a.b.corp.test|-
dns|-|dns:xcorp.test|-
dns|-|dns:www.other.test|-
dns|-|dns:secret.corp.test|-
dns|-|dns:a.secret.corp.test|-
dns|-|dns:notsecret.corp.test|-
dns|www.corp.test|-|-
dns|www.other.test|-|-
dns|-|dns:www.corp.test dns:www.other.test|-
dns|-|dns:www.corp.test ip:10.1.2.3|-
dns|-|dns:www.corp.test email:a@other.test|-
dns|-|dns:WWW.Corp.TEST|-
dns|-|dns:*.app.corp.test|-
dns|-|dns:*.corp.test|secret.corp.test
dns|-|dns:*.other.test|-
dot|-|dns:corp.test|-
dot|-|dns:www.corp.test|-
dot|www.corp.test|-|-
ip|-|ip:10.1.2.3|-
ip|-|ip:10.9.1.1|-
ip|-|ip:192.168.1.1|-
ip|-|ip:2001:db8::1|-
ip|-|ip:2001:db9::1|-
ip|-|dns:anything.test|-
ip|-|dns:anything.test ip:10.255.0.1|-
email|-|email:u@corp.test|-
email|-|email:u@sub.corp.test|-
email|-|email:u@x.mail.test|-
email|-|email:u@mail.test|-
email|-|email:boss@ceo.test|-
email|-|email:other@ceo.test|-
email|-|email:u@other.test|-
email|-|email:U@CORP.test|-
uri|-|uri:https://corp.test/x|-
uri|-|uri:https://www.corp.test/|-
uri|-|uri:spiffe://a.svc.test/workload|-
uri|-|uri:https://svc.test/|-
uri|-|uri:https://corp.test:8443/p|-
uri|-|uri:urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e|-
excl|-|dns:good.test|-
excl|-|dns:www.bad.test|-
excl|-|dns:bad.test|-
excl|-|email:u@bad.test|-
excl|-|ip:192.168.3.4|-
excl|-|ip:10.0.0.1|-
excl|www.bad.test|-|-
excl|-|dns:*.bad.test|-
excl|-|dns:*.good.test|-
wild|-|dns:*.corp2.test|secret.corp2.test
wild|-|dns:*.x.corp2.test|-
wild|-|dns:secret.corp2.test|-
"

cases=0
while IFS='|' read -r ca cn names witness; do
  [[ -z $ca ]] && continue
  [[ $cn == - ]] && cn=""
  [[ $names == - ]] && names=""
  cases=$((cases + 1))
  want=$(openssl_decision "$ca" "$cn" "$(openssl_sans "$names")")
  if [[ $witness != - && $want == accept ]]; then
    # The wildcard matches the witness host: openssl's answer for that host decides.
    want=$(openssl_decision "$ca" "$witness" "DNS:$witness")
  fi
  got=$(certward_decision "$ca" "$cn" "$names")
  [[ -n ${NC_TRACE:-} ]] && echo "$ca | CN '$cn' | $names: openssl $want, certward $got"
  assert_eq "$want" "$got" "under '$ca': CN '$cn', names '$names'"
done <<<"$CASES"
[[ $cases -ge 40 ]] && pass || fail "only $cases cases"
echo "$cases cases compared"
cw audit verify >/dev/null && pass || fail "audit verify"
finish
