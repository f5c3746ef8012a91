#!/usr/bin/env bash
# `issue` writes its output files (and reads the key/PKCS#12 passwords in local mode) only after
# the certificate is committed. When an output cannot be written -- a directory that does not
# exist, a path that another user already holds in a shared sticky directory such as /tmp, a
# password variable that is not set -- the command fails (exit 7 or 3) but the certificate is
# already issued, valid and in the inventory and audit log, and the generated private key, of
# which certward keeps no copy, is thrown away. `token create --out` does the same with a new
# token's secret. This breaks "bad input changes nothing"; in a shared directory any local user
# can make another user's issuance burn a certificate and lose its key by planting the name.
# Expected: check the outputs (and read the passwords) before enrolling, or hand the key out
# on stdout / --json when the file cannot be written, and never leave an unusable certificate
# behind an error.
source "$(dirname "$0")/lib.sh"
cw init >/dev/null

no_change() {  # exit message command...
  local want=$1 msg=$2 s0 rc=0
  shift 2
  s0=$(state)
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  assert_eq "$want" "$rc" "$msg: exit ($(head -c 200 "$T/err"))"
  assert_eq "$s0" "$(state)" "$msg: a failed command changed the database (issued or created anyway)"
}

no_change 7 "--out-key into a missing directory" \
  cw issue --profile tls-server --key-type ec-p256 --cn a.example.test --out-key "$T/missing/k.pem" --out-cert "$T/a.pem"
no_change 7 "--out-cert into a missing directory" \
  cw issue --profile tls-server --key-type ec-p256 --cn b.example.test --out-key "$T/b.key" --out-cert "$T/missing/b.pem"
no_change 3 "--p12 with an unset password variable (local mode)" \
  env -u CW_UNSET_PW "$CERTWARD_BIN" issue --profile tls-server --key-type ec-p256 --cn c.example.test \
  --p12 "$T/c.p12" --p12-password-env CW_UNSET_PW
no_change 3 "--key-password-env unset (local mode)" \
  env -u CW_UNSET_PW "$CERTWARD_BIN" issue --profile tls-server --key-type ec-p256 --cn d.example.test \
  --out-key "$T/d.key" --key-password-env CW_UNSET_PW
cw principal create ops --role operator >/dev/null
no_change 7 "token create --out into a missing directory" \
  cw token create --principal ops --out "$T/missing/token"

# Another local user plants the --out-key name in a shared sticky directory first.
if [[ $(id -u) == 0 ]]; then
  chmod 711 "$T"
  mkdir "$T/shared" && chmod 1777 "$T/shared"
  setpriv --reuid=4002 --regid=4002 --clear-groups touch "$T/shared/web.key"
  chown -R 4001:4001 "$T/data"
  no_change 7 "--out-key name planted by another user in a sticky directory" \
    setpriv --reuid=4001 --regid=4001 --clear-groups env CERTWARD_DATA_DIR="$T/data" "$CERTWARD_BIN" issue \
    --profile tls-server --key-type ec-p256 --cn web.example.test --out-key "$T/shared/web.key" --out-cert "$T/shared/web.pem"
fi
finish
