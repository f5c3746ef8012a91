#!/usr/bin/env bash
# Ctrl-C during `certward cert import` of a large tree: the import stops between batches, says
# what it did, exits 130, and every file is either fully in the inventory or not at all; the
# audit chain verifies. A malformed file in the middle of the tree is reported and skipped
# without stopping the rest. Then the same tree imported to the end: every certificate once.
# Both ways of writing: batched (--batched, rows visible as they commit) and bulk (the tree is
# large next to the inventory: one transaction, indexes built at the end, which a Ctrl-C
# still reaches and commits whole).
#
# The tree holds tens of thousands of distinct certificates made fast from one openssl
# certificate by rewriting its serial number (import records what it finds and checks no
# signature, as discovery does).
source "$(dirname "$0")/lib.sh"

cw init >/dev/null

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
  -subj "/CN=import.example" -days 30 -set_serial 0x7e7e7e7e7e7e7e7e7e7e7e7e \
  -outform DER -out "$T/template.der" 2>/dev/null

# 200 directories x 100 files: single PEM and DER files and 3-certificate PEM bundles, and
# one malformed file in the middle. Writes $T/manifest: "<file> <fingerprint>" per certificate.
python3 - "$T/template.der" "$T/tree" "$T/manifest" <<'EOF'
import base64, hashlib, os, sys
template = open(sys.argv[1], "rb").read()
marker = bytes([0x7e]) * 12
at = template.index(marker)
root, manifest = sys.argv[2], open(sys.argv[3], "w")
n = 0
def cert():
    global n
    n += 1
    der = template[:at] + (0x10 << 88 | n).to_bytes(12, "big") + template[at + 12:]
    return der
def pem(der):
    b = base64.encodebytes(der).decode().replace("\n", "")
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(b[i:i+64] for i in range(0, len(b), 64)) + "\n-----END CERTIFICATE-----\n"
for d in range(200):
    os.makedirs(f"{root}/d{d:03}")
    for f in range(100):
        path = f"{root}/d{d:03}/f{f:03}"
        if d == 150 and f == 50:
            open(path + "-broken.pem", "w").write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
        kind = f % 5
        certs = [cert() for _ in range(3 if kind == 4 else 1)]
        if kind == 3:
            path += ".der"
            open(path, "wb").write(certs[0])
        else:
            path += ".pem"
            open(path, "w").write("".join(pem(c) for c in certs))
        for c in certs:
            manifest.write(f"{path} {hashlib.sha256(c).hexdigest()}\n")
EOF
total=$(wc -l <"$T/manifest")

# The checks after a Ctrl-C ($1 names the run, $2 the importer's PID, $3 its output prefix):
# exit 130, what was done said on stderr and counted on stdout, stopped part way, and every
# file all in or all out. Leaves the stored fingerprints in $3.present.
check_interrupted() {
  local label=$1 pid=$2 out=$3 rc=0
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  assert_eq 130 "$rc" "$label: exit code 130"
  grep -q '^certward: interrupted: [0-9]* files done' "$out.err" && pass ||
    fail "$label: says what was done (stderr: $(head -c 300 "$out.err"))"
  grep -q '^imported [0-9]*, already present 0, failed [01]$' "$out.out" && pass ||
    fail "$label: final summary (stdout: $(cat "$out.out"))"
  db_scalar "SELECT fingerprint FROM certificates WHERE origin = 'imported'" | sort >"$out.present"
  stored=$(wc -l <"$out.present")
  assert_eq "$(sed -n 's/^imported \([0-9]*\),.*/\1/p' "$out.out")" "$stored" \
    "$label: the summary counts what is stored"
  if [[ $stored -gt 0 && $stored -lt $total ]]; then pass; else
    fail "$label: the import should have stopped part way ($stored of $total)"
  fi
  local split
  split=$(awk 'NR == FNR { have[$1] = 1; next }
               { n[$1]++; if ($2 in have) h[$1]++ }
               END { for (f in n) if (h[f] > 0 && h[f] < n[f]) print f }' "$out.present" "$T/manifest")
  assert_eq "" "$split" "$label: no file is half imported"
}

# Import in the background (with job control, so that it does not start with SIGINT ignored,
# as a non-interactive shell's background jobs do); interrupt once certificates are arriving.
set -m
"$CERTWARD_BIN" cert import --batched "$T/tree" >"$T/import.out" 2>"$T/import.err" &
pid=$!
set +m
for ((i = 0; i < 1200; i++)); do
  n=$(db_scalar "SELECT count(*) FROM certificates WHERE origin = 'imported'" 2>/dev/null || echo 0)
  [[ $n -gt 0 ]] && break
  sleep 0.02
done
check_interrupted "Ctrl-C" "$pid" "$T/import"
assert_exit 0 "audit verify after Ctrl-C" cw audit verify
cw --json cert list --limit 5 | jq -e '.items | length == 5' >/dev/null && pass ||
  fail "cert list after Ctrl-C"

# The rest, in bulk (20,000 files against a few thousand certificates): the broken file
# reported (exit 3, one line naming it), everything else once.
rc=0
cw --json cert import "$T/tree" >"$T/again.json" 2>"$T/again.err" || rc=$?
jq -e '.bulk == true' "$T/again.json" >/dev/null && pass || fail "second run: written in bulk"
jq -r '"imported \(.inserted), already present \(.duplicates), failed \(.failed)"' \
  "$T/again.json" >"$T/again.out"
assert_eq 3 "$rc" "second run: a malformed file exits 3"
jq -r '.items[] | select(.error) | .source' "$T/again.json" | grep -q 'f050-broken.pem' && pass ||
  fail "second run: names the malformed file"
assert_eq "imported $((total - stored)), already present $stored, failed 1" "$(cat "$T/again.out")" \
  "second run: imports the rest"
assert_eq "$total" "$(db_scalar "SELECT count(*) FROM certificates WHERE origin = 'imported'")" "every certificate once"
# One audit event per batch, not per certificate.
events=$(db_scalar "SELECT count(*) FROM audit_events WHERE action = 'certificate.import'")
if [[ $events -gt 0 && $events -lt 100 ]]; then pass; else
  fail "one audit event per batch: $events events for $total certificates"
fi
assert_exit 0 "audit verify at the end" cw audit verify
assert_eq ok "$(db_scalar "PRAGMA integrity_check")" "integrity after the bulk import"
indexes=$(db_scalar "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE tbl_name = 'certificates' ORDER BY name)")

# Ctrl-C during a bulk import, into a fresh inventory: its rows are invisible until the end, so
# the signal is sent once the importer has read a few MB of the ~20 MB tree.
export CERTWARD_DATA_DIR=$T/data2
cw init >/dev/null
set -m
"$CERTWARD_BIN" cert import --bulk "$T/tree" >"$T/bulk.out" 2>"$T/bulk.err" &
pid=$!
set +m
for ((i = 0; i < 1500; i++)); do
  read_bytes=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2>/dev/null || echo 0)
  [[ ${read_bytes:-0} -gt 3000000 ]] && break
  sleep 0.01
done
check_interrupted "bulk Ctrl-C" "$pid" "$T/bulk"
assert_exit 0 "audit verify after a bulk Ctrl-C" cw audit verify
assert_eq ok "$(db_scalar "PRAGMA integrity_check")" "integrity after a bulk Ctrl-C"
assert_eq "$indexes" "$(db_scalar "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE tbl_name = 'certificates' ORDER BY name)")" \
  "bulk Ctrl-C: every index is back"
first=$(head -n 1 "$T/bulk.present")
cw --json cert list --search "${first:0:12}" | jq -e --arg fp "$first" '[.items[].fingerprint] == [$fp]' >/dev/null &&
  pass || fail "bulk Ctrl-C: the imported rows are searchable"

echo "checks: $checks, failures: $failures"
[[ $failures == 0 ]]
