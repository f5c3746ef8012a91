#!/usr/bin/env bash
# `certward scan net` against a real mail server and a real sshd on loopback: Postfix (SMTP
# STARTTLS) and Dovecot (IMAP and POP3 STARTTLS) serving a certificate with its chain, and
# OpenSSH's sshd with Ed25519, ECDSA and RSA host keys and a host certificate signed by a test
# SSH CA. Each runs from this test's temporary directory with its own configuration, on free
# loopback ports, and is stopped by PID.
#
# The STARTTLS places must be reported with the certificate and no finding; the SSH place with
# exactly the host keys and certificate ssh-keygen made, read as ssh-keygen reads them; a
# second sshd with an RSA-1024 key and an expired host certificate with those findings. Scanning
# again adds and changes nothing. A dialogue spoken to the wrong server fails with its error.
source "$(dirname "$0")/discovery_net_lib.sh"
require /usr/lib/postfix/sbin/master /usr/sbin/dovecot /usr/sbin/sshd ssh-keygen setsid

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
# sshd refuses to start without its privilege separation directory, which only the packaged
# service (never started here) would create.
[[ $(id -u) == 0 ]] && mkdir -p -m 0755 /run/sshd
start_peer sshd "${PORT[ssh]}" /usr/sbin/sshd -D -e -f "$sd/sshd_config"

# A second sshd with what an SSH scan must flag: an RSA-1024 host key, and an Ed25519 host key
# whose certificate expired.
PORT[oldssh]=$(new_port)
od=$T/sshd-old
mkdir -p "$od"
ssh-keygen -q -t rsa -b 1024 -N '' -C '' -f "$od/host_rsa"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$od/host_ed25519"
ssh-keygen -q -s "$sd/ssh_ca" -I host-id-old -h -n old.test -z 7 -V 20200101:20210101 \
  "$od/host_ed25519.pub"
sed -e "s|$sd/|$od/|; s|:${PORT[ssh]}|:${PORT[oldssh]}|; /HostKey .*ecdsa/d" "$sd/sshd_config" \
  >"$od/sshd_config"
start_peer sshd-old "${PORT[oldssh]}" /usr/sbin/sshd -D -e -f "$od/sshd_config"

await_peers

# ---------------------------------------------------------------------------------------------
mail=("127.0.0.1:${PORT[smtp]}/smtp" "127.0.0.1:${PORT[imap]}/imap" "127.0.0.1:${PORT[pop3]}/pop3")
ssh_loc="127.0.0.1:${PORT[ssh]}"
old_loc="127.0.0.1:${PORT[oldssh]}"
scan_all() { scan "$1" "${mail[@]}" "$ssh_loc/ssh" "$old_loc/ssh"; }
all_places() {
  printf '%s -\n' "${mail[@]}" "$ssh_loc"
  echo "$old_loc expired,weak_ssh_key"
}
scan_all "$T/scan1.json"
expect_places "$T/scan1.json" < <(all_places)
assert_eq "smtp imap pop3" "$(for p in smtp imap pop3; do
  jq -r --arg l "127.0.0.1:${PORT[$p]}/$p" '.report.results[] | select(.location == $l) | .starttls' "$T/scan1.json"
done | xargs)" "STARTTLS protocols"
assert_eq "TLSv1.3 TLSv1.3 TLSv1.3" "$(jq -r '.report.results[] | select(.kind == "tls") | .tls_version' \
  "$T/scan1.json" | xargs)" "TLS versions after STARTTLS"

# The inventory: the mail certificate and its intermediate, once, sighted at the three places.
mail_fp=$(fp mail)
inter_fp=$(fp inter)
assert_eq "$(printf '%s\n' "$mail_fp" "$inter_fp" | sort)" \
  "$(db_scalar "SELECT fingerprint FROM certificates WHERE origin = 'discovered' ORDER BY fingerprint")" \
  "the discovered certificates"
mail_where=$(printf '%s\n' "${mail[@]}" | sort)
assert_eq "$mail_where" "$(sighted "$mail_fp")" "sightings of the mail certificate"
assert_eq "$mail_where" "$(sighted "$inter_fp")" "sightings of the intermediate"
for p in smtp imap pop3; do
  assert_eq "$mail_fp $inter_fp" "$(jq -r --arg l "127.0.0.1:${PORT[$p]}/$p" \
    '.report.results[] | select(.location == $l) | .fingerprints | join(" ")' "$T/scan1.json")" \
    "the chain served over $p"
done

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

# The old sshd's findings name what they are about: the certificate, the RSA key.
assert_eq "expired $(cert_fp "$od/host_ed25519-cert.pub") weak_ssh_key $(ssh_fp "$od/host_rsa.pub")" \
  "$(jq -r --arg l "$old_loc" '.report.results[] | select(.location == $l) | .findings |
    sort_by(.code)[] | "\(.code) \(.fingerprint)"' "$T/scan1.json" | xargs)" "findings of the old sshd"
# Each key and the certificate are sighted at the sshd, once.
assert_eq "$(awk '{print $1}' <<<"$want_ssh" | sort)" \
  "$(db_scalar "SELECT fingerprint FROM sightings WHERE kind = 'ssh' AND location = '$ssh_loc' AND gone_at IS NULL ORDER BY fingerprint")" \
  "SSH sightings"

# ---------------------------------------------------------------------------------------------
# Again: nothing new, nothing changed, nothing gone.
before=$(rows)
scan_all "$T/scan2.json"
expect_places "$T/scan2.json" < <(all_places)
assert_eq "0 0 0 0" "$(news "$T/scan2.json")" "second scan: new certificates, new SSH keys, changed, gone"
assert_eq "$before" "$(rows)" "certificates, SSH keys, sightings, gone sightings"

# ---------------------------------------------------------------------------------------------
# The wrong dialogue for the server: each ends with its error, within the timeouts, and
# leaves the sightings of these places alone.
start=$(date +%s%N)
scan "$T/wrong.json" "127.0.0.1:${PORT[smtp]}" "127.0.0.1:${PORT[pop3]}/imap" \
  "127.0.0.1:${PORT[smtp]}/ssh" "127.0.0.1:${PORT[ssh]}/tls" "127.0.0.1:${PORT[imap]}/smtp"
elapsed=$((($(date +%s%N) - start) / 1000000))
# An SSH client waits for the version line (RFC 4253 4.2 lets a server send other lines first),
# so an SMTP greeting costs the handshake timeout. A reply quoted in an error is cut here.
want_wrong=$(sort <<EOF
127.0.0.1:${PORT[smtp]} tls not TLS (unavailable)
127.0.0.1:${PORT[pop3]}/imap imap STARTTLS failed: unexpected response: +OK (unavailable)
127.0.0.1:${PORT[smtp]} ssh handshake timed out (unavailable)
127.0.0.1:${PORT[ssh]} tls not TLS (unavailable)
127.0.0.1:${PORT[imap]}/smtp smtp STARTTLS failed: unexpected response: * (unavailable)
EOF
)
assert_eq "$want_wrong" "$(jq -r '.report.results[] | "\(.location) \(.starttls // "tls") \(.error |
  sub("(?<r>response: \\S+).*"; "\(.r)")) (\(.error_code))"' "$T/wrong.json" | sort)" \
  "errors of the wrong dialogues"
assert_below 8000 "$elapsed" "wall time of the wrong dialogues (ms)"
assert_eq "$before" "$(rows)" "nothing recorded for the wrong dialogues"

finish
