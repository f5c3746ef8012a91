#!/usr/bin/env bash
# A certificate is handed out only once it is on disk. Under strace, a bulk `issue --count`
# run is checked call by call: for every "<serial> <sha256>" line written to stdout, the
# write-ahead-log page that first carried that serial was followed by an fdatasync/fsync of
# the WAL that finished before the line was written. A SIGKILL test cannot see a missing
# fsync (the kernel still has the pages); this can, e.g. with SQLite's synchronous=NORMAL,
# which syncs the WAL only at checkpoints.
source "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { echo "strace is required (scripts/setup.sh installs it)" >&2; exit 1; }

cw init >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
  -subj "/CN=synced.example.test" -out "$T/s.csr" 2>/dev/null

# -y names each descriptor's file, -x prints binary data as \x escapes, -s keeps whole pages.
# LeakSanitizer cannot run under ptrace: in the sanitizer pass, leaks go unchecked here only.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  strace -f -qq -y -x -s 70000 -e trace=write,pwrite64,pwritev,fsync,fdatasync -o "$T/trace" \
  "$CERTWARD_BIN" issue --profile tls-server --csr "$T/s.csr" --count 40 --concurrency 4 \
  >"$T/lines.txt"
assert_eq 40 "$(grep -cE '^[0-9a-f]+ [0-9a-f]{64}$' "$T/lines.txt")" "lines printed"

# Prints one line per printed certificate: "ok <serial>" or "unsynced <serial>: <why>".
perl -e '
  use strict;
  my $wal = qr/certward\.db-wal>$/;
  sub decode {  # an strace string literal back to its bytes
    my $s = shift;
    $s =~ s/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/
      my $e = $1;
      $e =~ m{^x} ? chr(hex(substr($e, 1))) : $e =~ m{^[0-7]} ? chr(oct($e)) :
      $e eq "n" ? "\n" : $e eq "t" ? "\t" : $e eq "r" ? "\r" : $e eq "v" ? "\x0b" :
      $e eq "f" ? "\f" : $e/ge;
    return $s;
  }
  my (@wal_writes, @syncs, @lines, %sync_start);
  my $i = 0;
  while (my $line = <>) {
    $i++;
    chomp $line;
    my ($pid, $rest) = $line =~ /^(\d+)\s+(.*)$/ or next;  # strace pads short pids
    if ($rest =~ /^(?:pwrite64|write|pwritev)\((\d+)<([^>]*)>, "((?:[^"\\]|\\.)*)"/) {
      my ($fd, $path, $data) = ($1, "$2>", $3);
      push @wal_writes, [$i, decode($data)] if $path =~ $wal;
      if ($fd == 1) { push @lines, [$i, $_] for split /\n/, decode($data); }
    } elsif ($rest =~ /^f(?:data)?sync\(\d+<([^>]*)>(.*)$/) {
      my ($path, $outcome) = ("$1>", $2);
      next unless $path =~ $wal;
      if ($outcome =~ /<unfinished \.\.\.>$/) { $sync_start{$pid} = $i; }
      elsif ($outcome =~ /^\) += 0$/) { push @syncs, [$i, $i]; }
    } elsif ($rest =~ /^<\.\.\. f(?:data)?sync resumed>\) += 0$/ && exists $sync_start{$pid}) {
      push @syncs, [delete $sync_start{$pid}, $i];
    }
  }
  for my $l (@lines) {
    my ($at, $text) = @$l;
    my ($serial) = split / /, $text;
    my ($w) = grep { index($_->[1], $serial) >= 0 } @wal_writes;
    if (!$w) { print "unsynced $serial: never written to the WAL\n"; next; }
    my $synced = grep { $_->[0] > $w->[0] && $_->[1] < $at } @syncs;
    print $synced ? "ok $serial\n" : "unsynced $serial: no WAL sync between its write and its line\n";
  }' "$T/trace" >"$T/verdicts.txt"

assert_eq 40 "$(grep -c '^ok ' "$T/verdicts.txt")" "certificates synced before their line was printed"
grep -v '^ok ' "$T/verdicts.txt" | head -5 >&2 || true
finish
