#!/usr/bin/env bash
# Output files in a directory shared with other users (mode 1777, like /tmp): whatever another
# user planted there under guessable temporary names -- world-writable files of theirs,
# symlinks to their files -- `issue --out-key` writes a key that is a regular file of mode 0600
# owned by the caller, and never writes through or renames anything planted.
source "$(dirname "$0")/lib.sh"

cw init >/dev/null
shared="$T/shared"
mkdir "$shared"
chmod 1777 "$shared"
victim="$T/victim"
echo "another user's file" >"$victim"
chmod 0666 "$victim"
owner=$(id -u)
planter=$owner
[[ $owner == 0 ]] && planter=$(id -u nobody)

# Plants "<file>.tmp-<pid>" for the next 2000 process ids (certward once used exactly that
# name): world-writable files owned by the planting user, and symlinks to $victim. One
# process does it all, so that planting consumes no process ids itself.
plant() {
  perl -e '
    my ($victim, $uid, @files) = @ARGV;
    open(my $f, "<", "/proc/sys/kernel/ns_last_pid") or die;
    my $last = <$f>;
    for my $pid ($last + 1 .. $last + 2000) {
      for my $file (@files) {
        my $name = "$file.tmp-$pid";
        if ($pid % 2) {
          open(my $o, ">", $name) or die "$name: $!";
          print $o "planted\n";
          close($o);
          chmod(0666, $name);
          chown($uid, -1, $name);
        } else {
          symlink($victim, $name) or die "$name: $!";
        }
      }
    }' "$victim" "$planter" "$@"
}
snapshot() { (cd "$shared" && find . -name '*.tmp-*' -printf '%p %U %m %l\n' | sort | sha256sum); }

# Checks that $1 is a regular file of mode $2 owned by the caller.
check_file() {
  local file=$1 mode=$2
  if [[ -f $file && ! -L $file ]]; then pass; else fail "$file is not a regular file"; fi
  assert_eq "$mode $owner" "$(stat -c '%a %u' "$file")" "mode and owner of $(basename "$file")"
}

plant "$shared/app.key" "$shared/app.pem"
before=$(snapshot)
cw issue --profile tls-server --cn app.example.test --key-type ec-p256 \
  --out-key "$shared/app.key" --out-cert "$shared/app.pem" 2>/dev/null
check_file "$shared/app.key" 600
check_file "$shared/app.pem" 644
if grep -q 'BEGIN PRIVATE KEY' "$shared/app.key"; then pass; else fail "no key in app.key"; fi
assert_eq "another user's file" "$(cat "$victim")" "the planted symlinks' target is untouched"
assert_eq "$before" "$(snapshot)" "planted files and symlinks are untouched"
assert_eq 4000 "$(find "$shared" -name '*.tmp-*' | wc -l)" "no temporary file left behind"

# A symlink at the destination itself.
ln -s "$victim" "$shared/linked.key"
# A symlink at the destination is refused before anything is issued: neither followed to its
# target nor replaced.
s0=$(state)
assert_exit 3 "a symlink at --out-key" cw issue --profile tls-server --cn linked.example.test \
  --key-type ec-p256 --out-key "$shared/linked.key" --out-cert "$T/linked.pem"
assert_eq "$s0" "$(state)" "a refused --out-key issued a certificate"
assert_eq "symbolic link" "$(stat -c %F "$shared/linked.key")" "the symlink is left as it was"
assert_eq "another user's file" "$(cat "$victim")" "a symlinked destination's target is untouched"

# With a restrictive umask the certificate is still 0644 and the key still 0600.
(umask 0077 && cw issue --profile tls-server --cn umask.example.test --key-type ec-p256 \
  --out-key "$shared/umask.key" --out-cert "$shared/umask.pem" 2>/dev/null)
check_file "$shared/umask.key" 600
check_file "$shared/umask.pem" 644

finish
