#!/usr/bin/env bash
# Managed certificates deployed through an SSH target to a real sshd on 127.0.0.1 (a throwaway
# host key, a user key and known_hosts made here), into the directory a real nginx serves from:
#   1. certward copies the key and full chain over SSH, runs nginx's reload there, and verifies
#      by handshake; nginx serves the certificate (checked with `openssl s_client`).
#   2. With a lifetime of two minutes, the reconciler renews it on its own, through SSH again,
#      and nginx serves the new certificate before the old one expires.
#   3. An SSH host that cannot be reached (a closed port): the deployment fails with a clear
#      error, nothing on the host changed (files, no leftovers, nginx serves what it served),
#      the managed certificate is failed with last_error, the timeline and an alert say so.
#   4. A host that [lifecycle] allowed_ssh_hosts does not allow is refused at creation.
# About 60 s.
source "$(dirname "$0")/managed_peers_lib.sh"
command -v ssh-keygen >/dev/null && [[ -x /usr/sbin/sshd && -x /usr/bin/ssh && -x /usr/bin/scp ]] ||
  { echo "missing OpenSSH (ssh-keygen, /usr/sbin/sshd, /usr/bin/ssh, /usr/bin/scp)" >&2; exit 1; }

# The "remote" directory nginx reads (the SSH host is this machine).
R=$T/remote
mkdir -p "$R" "$T/client" "$T/sshd"
start_nginx "$T/nginx" edge.example.test="$R/edge" gone.example.test="$R/gone"

# --- sshd ------------------------------------------------------------------------------------
SSH_USER=$(id -un)
ssh-keygen -q -N '' -t ed25519 -C certward-it-host -f "$T/sshd/host_ed25519"
ssh-keygen -q -N '' -t ed25519 -C certward-it-user -f "$T/client/id_ed25519"
cp "$T/client/id_ed25519.pub" "$T/sshd/authorized_keys"
SSH_PORT=$(free_port)
echo "[127.0.0.1]:$SSH_PORT $(cat "$T/sshd/host_ed25519.pub")" >"$T/client/known_hosts"
cat >"$T/sshd/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $T/sshd/host_ed25519
PidFile $T/sshd/sshd.pid
UsePAM no
StrictModes no
AuthorizedKeysFile $T/sshd/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel ERROR
Subsystem sftp internal-sftp
EOF
# sshd started as root wants its privilege separation directory, which only the packaged
# service makes.
[[ $(id -u) != 0 ]] || mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd/sshd_config" >"$T/sshd/sshd.log" 2>&1 &
PEER_PIDS+=($!)
if ! wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT" 2>/dev/null; then
  echo "sshd did not start:" >&2
  cat "$T/sshd/sshd.log" >&2
  exit 1
fi
# The user key and known_hosts work, with the options certward uses.
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$T/client/known_hosts" \
  -o IdentitiesOnly=yes -i "$T/client/id_ed25519" -p "$SSH_PORT" "$SSH_USER@127.0.0.1" true ||
  { echo "ssh to the test sshd fails:" >&2; cat "$T/sshd/sshd.log" >&2; exit 1; }

start_managed_server 'allowed_ssh_hosts = ["127.0.0.1"]'

# ssh_target NAME FILES-PREFIX SNI [PORT] [HOST]
ssh_target() {
  jq -nc --arg n "$1" --arg f "$2" --arg sni "$3" --argjson port "${4:-$SSH_PORT}" \
    --arg host "${5:-127.0.0.1}" --arg user "$SSH_USER" --arg c "$T/client" \
    --argjson reload "$NGINX_RELOAD" --arg ep "127.0.0.1:$NGINX_PORT" \
    '{name: $n, kind: "ssh",
      ssh: {host: $host, port: $port, user: $user, identity_file: ($c + "/id_ed25519"),
            known_hosts: ($c + "/known_hosts"), timeout: "5s"},
      files: {key: ($f + ".key"), fullchain: ($f + ".crt")},
      reload: {argv: $reload, timeout: "20s"},
      verify: {endpoint: $ep, server_name: $sni, timeout: "5s"}}'
}
remote_listing() { ls -A "$R" | sort | tr '\n' ' ' | sed 's/ $//'; }

# --- 1. Deployed over SSH ------------------------------------------------------------------------
PRE=$(served_fp edge.example.test)
body=$(jq -nc --argjson t "$(ssh_target edge "$R/edge" edge.example.test)" \
  '{name: "edge", sans: ["edge.example.test"], validity: "2m", renew_before: "80s", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create edge"
wait_until 30 deployed edge || fail "edge: not deployed: $(cat "$T/resp") $(timeline_kinds edge)"
FP1=$(managed_field edge fingerprint)
NA1=$(managed_field edge not_after)
[[ $FP1 != "$PRE" && $FP1 != null ]] && pass || fail "edge: no new certificate"
serves edge.example.test "$FP1" && pass || fail "edge: nginx does not serve the certificate copied over SSH"
assert_eq "$FP1" "$(file_fp "$R/edge.crt")" "edge: the full chain on the host"
key_matches "$R/edge.key" "$R/edge.crt" && pass || fail "edge: the key on the host does not match"
assert_eq 600 "$(stat -c %a "$R/edge.key")" "edge: the key on the host is private"
timeline_json edge
assert_eq "copy write reload verify" \
  "$(jq -r '[.[] | select(.kind == "deployed")][0].detail.outcome.steps | map(.name) | join(" ")' "$T/timeline.json")" \
  "edge: deployment steps"
assert_eq "served SHA256:$FP1" \
  "$(jq -r '[.[] | select(.kind == "deployed")][0].detail.outcome.steps[] | select(.name == "verify") | .detail' "$T/timeline.json")" \
  "edge: certward's verification saw the new certificate"
assert_eq "edge.crt edge.key gone.crt gone.key" "$(remote_listing)" "edge: no copy or backup left on the host"

# --- 3. An unreachable SSH host (run while edge's renewal comes due) ----------------------------
GONE_CRT=$(sha256sum <"$R/gone.crt") GONE_KEY=$(sha256sum <"$R/gone.key")
GONE_SERVED=$(served_fp gone.example.test)
CLOSED=$(free_port)
body=$(jq -nc --argjson t "$(ssh_target gone "$R/gone" gone.example.test "$CLOSED")" \
  '{name: "gone", sans: ["gone.example.test"], validity: "1h", targets: [$t]}')
assert_eq 201 "$(api POST /api/v1/managed "$A" "$body")" "create gone (an SSH host that cannot be reached is found at deployment)"
wait_until 30 in_state gone failed || fail "gone: not failed: $(cat "$T/resp")"
err=$(managed_field gone last_error)
[[ $err == *"gone"* && $err == *"refused"* ]] && pass || fail "gone: last_error is not clear: $err"
echo "gone: last_error: $err"
assert_eq false "$(managed_field gone deployed)" "gone: not deployed"
timeline_json gone
failed=$(jq -c '[.[] | select(.kind == "deploy_failed")] | last' "$T/timeline.json")
assert_eq "copy" "$(jq -r '.detail.outcome.steps | map(.name) | join(" ")' <<<"$failed")" "gone: only the copy was tried"
assert_eq false "$(jq -r '.detail.outcome.rolled_back' <<<"$failed")" "gone: nothing to roll back"
assert_eq unavailable "$(jq -r '.detail.outcome.error.code' <<<"$failed")" "gone: error code"
assert_eq "$GONE_CRT" "$(sha256sum <"$R/gone.crt")" "gone: the certificate file on the host is unchanged"
assert_eq "$GONE_KEY" "$(sha256sum <"$R/gone.key")" "gone: the key file on the host is unchanged"
assert_eq "$GONE_SERVED" "$(served_fp gone.example.test)" "gone: nginx serves what it served"
alerts_for gone >"$T/alerts"
assert_eq 1 "$(jq -s 'map(select(.kind == "deploy_failed" and .severity == "critical")) | length' "$T/alerts")" "gone: a critical alert"

# --- 4. A host the policy does not allow ---------------------------------------------------------
n0=$(db_scalar "SELECT COUNT(*) FROM managed_certificates")
body=$(jq -nc --argjson t "$(ssh_target edge "$R/x" x.example.test "$SSH_PORT" localhost)" \
  '{name: "x", sans: ["x.example.test"], targets: [$t]}')
assert_eq 422 "$(api POST /api/v1/managed "$A" "$body")" "an SSH host outside allowed_ssh_hosts"
assert_eq policy_rejected "$(jq -r .code "$T/resp")" "an SSH host outside allowed_ssh_hosts (code)"
assert_eq "$n0" "$(db_scalar "SELECT COUNT(*) FROM managed_certificates")" "the refused one was not stored"

# --- 2. The renewal, on its own, through SSH --------------------------------------------------
wait_renewal_served edge.example.test "$FP1" "$NA1"
FP2=$RENEWED_FP
wait_until 10 deployed edge || fail "edge: not active after the renewal"
timeline_json edge
renewed=$(jq -c '[.[] | select(.kind == "renewed")][0]' "$T/timeline.json")
assert_eq due "$(jq -r .detail.reason <<<"$renewed")" "edge: renewed because it was due"
assert_eq "$FP1" "$(jq -r .detail.superseded <<<"$renewed")" "edge: the renewal supersedes the first"
[[ $(jq -r '[.[] | select(.kind == "deployed")] | map(.detail.fingerprint) | join(" ")' "$T/timeline.json") == *"$FP2"* ]] &&
  pass || fail "edge: the renewal's deployment is not in the timeline"
key_matches "$R/edge.key" "$R/edge.crt" && pass || fail "edge: the renewed key does not match"
[[ $(remote_listing) == "edge.crt edge.key gone.crt gone.key" ]] && pass || fail "edge: leftovers on the host: $(remote_listing)"
assert_eq 0 "$(alerts_for edge | wc -l)" "edge: no alert"

stop_server || fail "the server did not stop cleanly"
finish
