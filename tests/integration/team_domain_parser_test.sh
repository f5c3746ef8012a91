#!/usr/bin/env bash
# A team's allowed_domains do not go through the one name parser (x509's normalize_dns_name,
# which profiles' allowed_domains, name constraints, SANs and common names use) but through a
# looser copy in auth (normalise_domain). It accepts "10.0.0.1" (an address written as a
# domain: the parser refuses an all-digit top-level label, so the grant can never match
# anything), "xn--zz.test" (not canonical Punycode) and "ab--cd.test" (a reserved "??--"
# label that is not an A-label) -- names that every other input refuses. The administrator
# gets 201 and a grant that silently allows nothing (or something other than what was meant).
# Expected: 400 invalid_argument for each, as a profile's allowed_domains would be refused.
source "$(dirname "$0")/lib.sh"
start_server
A=$ADMIN_TOKEN
i=0
for d in 10.0.0.1 xn--zz.test ab--cd.test; do
  i=$((i + 1))
  got=$(api POST /api/v1/teams "$A" "$(jq -nc --arg d "$d" --arg n "t$i" '{name:$n,allowed_profiles:["tls-server"],allowed_domains:[$d]}')")
  assert_eq "400 invalid_argument" "$got $(jq -r '.code // "none"' "$T/resp")" "team allowed_domains '$d'"
done
# The same texts as a name in a request are refused by the one parser:
for d in 10.0.0.1 xn--zz.test ab--cd.test; do
  got=$(api POST /api/v1/certificates "$A" "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"sans\":[\"dns:a.$d\"]}")
  assert_eq 400 "$got" "dns:a.$d as a SAN (control: the name parser refuses it)"
done
stop_server || true
finish
