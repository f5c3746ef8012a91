#!/usr/bin/env bash
# Output files are always renamed into place, whatever is at the path. A character device, a
# FIFO or a symlink to a descriptor is replaced by a regular file. Run as root with the common
# idioms `--out-cert /dev/stdout` or `--out-key /dev/null` (to discard a key), this replaces the
# system's /dev/stdout symlink or the /dev/null device with a regular file -- /dev/null then
# holds a private key, mode 0600, and every unprivileged process that writes to /dev/null
# fails. (Reproduced here on a private device node, FIFO and symlink, never on /dev itself.)
# Expected: write into an existing device/FIFO (or refuse it, exit 3) instead of replacing the
# node; only regular files (and, as documented, symlinks to regular files) are replaced.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root for mknod"; exit 0; }
cw init >/dev/null
mknod "$T/null" c 1 3 && chmod 666 "$T/null"
mkfifo "$T/fifo"
ln -s /proc/self/fd/1 "$T/stdout"
cat "$T/fifo" >"$T/fifo.read" &
reader=$!
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $reader"
rc=0
cw issue --profile tls-server --key-type ec-p256 --cn a.example.test \
  --out-key "$T/null" --out-cert "$T/stdout" --out-chain "$T/fifo" >"$T/stdout.captured" 2>"$T/err" || rc=$?
if [[ $rc == 0 || $rc == 3 ]]; then pass; else fail "issue: exit $rc: $(cat "$T/err")"; fi
assert_eq "character special file" "$(stat -c %F "$T/null")" "--out-key onto a device node"
assert_eq "fifo" "$(stat -c %F "$T/fifo")" "--out-chain onto a FIFO"
assert_eq "symbolic link" "$(stat -c %F "$T/stdout")" "--out-cert onto a symlink to a descriptor (/dev/stdout)"
if [[ -f $T/null ]] && grep -q 'PRIVATE KEY' "$T/null"; then
  fail "the private key now sits in a regular file where the device was"
fi
kill "$reader" 2>/dev/null || true
finish
