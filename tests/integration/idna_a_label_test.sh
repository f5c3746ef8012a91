#!/usr/bin/env bash
# The name parser accepts any "xn--" label whose Punycode decodes canonically to something
# non-ASCII, without checking that the decoded label is a valid IDNA2008 U-label (RFC 5891 5.4;
# RFC 5892 DISALLOWED code points; NFC). So DNS names whose labels decode to a zero-width space,
# a fullwidth full stop ("www．bank" displays as "www.bank"), a soft hyphen, the replacement
# character, a right-to-left override or fullwidth letters are issued, to admins and to a
# requester inside its own domain alike. docs/profiles.md promises "international names as
# IDNA A-labels"; the CA/Browser Forum lints (zlint e_international_dns_name_not_valid /
# idn_malformed_unicode) reject such certificates; their display form can spoof other names.
# Expected: 400 malformed (exit 3), as for raw UTF-8; a valid A-label (xn--bcher-kva) passes.
source "$(dirname "$0")/lib.sh"

start_server
A=$ADMIN_TOKEN
api POST /api/v1/teams "$A" '{"name":"payments","allowed_profiles":["tls-server"],"allowed_domains":["payments.example.test"]}' >/dev/null
api POST /api/v1/principals "$A" '{"name":"alice","role":"requester","team":"payments"}' >/dev/null
api POST /api/v1/tokens "$A" '{"principal":"alice","ttl":"1d"}' >/dev/null
R=$(jq -r .token "$T/resp")

# label | what it decodes to
BAD="
xn--ab-g1t|a U+200B (zero width space) b
xn--wwwbank-gu93b|www U+FF0E (fullwidth full stop) bank
xn--payments-xla|pay U+00AD (soft hyphen) ments
xn--zn7c|U+FFFD (replacement character)
xn--gnpexe-9l0c|U+202E (right-to-left override) gnpexe
xn--mi7ccd|fullwidth abc (U+FF41..U+FF43)
"
while IFS='|' read -r label what; do
  [[ -z $label ]] && continue
  s0=$(state)
  got=$(api POST /api/v1/certificates "$R" "{\"profile\":\"tls-server\",\"key_type\":\"ec-p256\",\"sans\":[\"dns:$label.payments.example.test\"]}")
  assert_eq "400 malformed" "$got $(jq -r .code "$T/resp")" "requester: $label ($what)"
  assert_eq "$s0" "$(state)" "requester: $label changed the database"
  assert_fails 3 malformed "admin CLI: $label ($what)" \
    cw issue --profile tls-server --key-type ec-p256 --san "dns:$label.example.test"
done <<<"$BAD"
assert_eq 201 "$(api POST /api/v1/certificates "$R" '{"profile":"tls-server","key_type":"ec-p256","sans":["dns:xn--bcher-kva.payments.example.test"]}')" "a valid A-label (bücher)"
stop_server || true
finish
