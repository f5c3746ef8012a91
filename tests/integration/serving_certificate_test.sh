#!/usr/bin/env bash
# The server keeps its own HTTPS certificate current while it runs: an issued one is renewed
# before expiry without a restart, configured files are reloaded on SIGHUP (or at the next
# check), and broken replacement files leave the current certificate serving.
source "$(dirname "$0")/lib.sh"

# serial_of HOST:PORT -> the serial of the certificate a new TLS connection is given, after
# checking it chains to the root.
serial_of() {
  openssl s_client -connect "$1" -CAfile "$T/root.pem" -verify_return_error </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
# wait_for_serial_change HOST:PORT OLD -> prints the new serial, or nothing after ~10 s.
wait_for_serial_change() {
  local i s
  for i in $(seq 1 100); do
    s=$(serial_of "$1")
    if [[ -n $s && $s != "$2" ]]; then echo "$s"; return; fi
    sleep 0.1
  done
}

# 1. Issued by certward: renewed while running. A renewal window longer than the profile's
#    maximum validity makes every check renew, so the test need not wait for weeks.
cat >"$T/renew.toml" <<TOML
[server]
certificate_check_interval = "1s"
serving_renew_before = "400d"
TOML
start_server CERTWARD_CONFIG="$T/renew.toml"
addr=${BASE#https://}
first=$(serial_of "$addr")
[[ -n $first ]] && pass || fail "no serving certificate at start"
second=$(wait_for_serial_change "$addr" "$first")
[[ -n $second ]] && pass || fail "serving certificate not renewed while running"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/root.pem" "$BASE/healthz")" "healthz after renewal"
grep -q '"event":"serving_certificate_reloaded"' "$T/serve.err" && pass || fail "no serving_certificate_reloaded log"
[[ $(db_scalar "SELECT COUNT(*) FROM certificates WHERE tags LIKE '%certward-serving%'") -ge 2 ]] && pass || fail "renewed certificates not in the inventory"
# The renewed pair is on disk for the next start, and its certificate is in the inventory.
file_serial=$(openssl x509 -in "$CERTWARD_DATA_DIR/serving-cert.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)
assert_eq 1 "$(db_scalar "SELECT COUNT(*) FROM certificates WHERE serial = '$file_serial' AND tags LIKE '%certward-serving%'")" "serving-cert.pem is an inventoried serving certificate"
assert_eq 600 "$(stat -c %a "$CERTWARD_DATA_DIR/serving-key.pem")" "serving key mode"
stop_server

# 2. Configured files, replaced by another tool: loaded on SIGHUP, not before (check hourly).
issue_to() {  # issue_to NAME -> $T/NAME.pem (leaf + issuers), $T/NAME.key
  cw issue --profile tls-server --cn localhost --san dns:localhost --san ip:127.0.0.1 \
    --key-type ec-p256 --out-chain "$T/$1.pem" --out-key "$T/$1.key" >/dev/null 2>&1
}
issue_to one
issue_to two
cp "$T/one.pem" "$T/live.pem"; cp "$T/one.key" "$T/live.key"
cat >"$T/files.toml" <<TOML
[server]
tls_cert_file = "$T/live.pem"
tls_key_file = "$T/live.key"
certificate_check_interval = "1h"
TOML
start_server CERTWARD_CONFIG="$T/files.toml"
addr=${BASE#https://}
one=$(openssl x509 -in "$T/one.pem" -noout -serial | cut -d= -f2)
two=$(openssl x509 -in "$T/two.pem" -noout -serial | cut -d= -f2)
assert_eq "$one" "$(serial_of "$addr")" "configured certificate served"
cp "$T/two.pem" "$T/live.pem"; cp "$T/two.key" "$T/live.key"
sleep 0.3
assert_eq "$one" "$(serial_of "$addr")" "files are not reloaded before a check"
kill -HUP "$SERVER_PID"
assert_eq "$two" "$(wait_for_serial_change "$addr" "$one")" "SIGHUP loads the replaced files"
# A half-written replacement (certificate of one pair, key of the other) and garbage are
# refused; the current certificate keeps serving and the server stays up.
cp "$T/one.pem" "$T/live.pem"
kill -HUP "$SERVER_PID"
for i in $(seq 1 50); do grep -q 'serving_certificate_reload_failed' "$T/serve.err" && break; sleep 0.1; done
grep -q '"event":"serving_certificate_reload_failed"' "$T/serve.err" && pass || fail "mismatched pair not reported"
assert_eq "$two" "$(serial_of "$addr")" "mismatched pair leaves the current certificate"
printf 'garbage\n' >"$T/live.pem"
kill -HUP "$SERVER_PID"
for i in $(seq 1 50); do grep -q 'serving_certificate_check_failed' "$T/serve.err" && break; sleep 0.1; done
grep -q '"event":"serving_certificate_check_failed"' "$T/serve.err" && pass || fail "garbage file not reported"
assert_eq "$two" "$(serial_of "$addr")" "garbage leaves the current certificate"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/root.pem" "$BASE/healthz")" "healthz after refused reloads"
if grep -q 'BEGIN .*PRIVATE KEY' "$T/serve.err" "$T/serve.out"; then fail "a private key reached the logs"; else pass; fi
stop_server && pass || fail "server did not stop cleanly after SIGHUPs"

# 3. Configuration checks.
printf '[server]\ncertificate_check_interval = "0s"\n' >"$T/bad1.toml"
assert_fails 3 malformed "zero check interval" cw -c "$T/bad1.toml" cert list
printf '[server]\ncertificate_check_interval = "2d"\n' >"$T/bad2.toml"
assert_fails 3 malformed "check interval over a day" cw -c "$T/bad2.toml" cert list
printf '[server]\nserving_renew_before = "soon"\n' >"$T/bad3.toml"
assert_fails 3 malformed "renew window not a duration" cw -c "$T/bad3.toml" cert list
finish
