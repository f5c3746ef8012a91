#!/usr/bin/env bash
# Ctrl-C during `certward cert import` of a large tree: the import stops between batches, says
# what it did, exits 130, and every file is either fully in the inventory or not at all; the
# audit chain verifies. A malformed file in the middle of the tree is reported and skipped
# without stopping the rest. Then the same tree imported to the end: every certificate once.
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

# Import in the background (with job control, so that it does not start with SIGINT ignored,
# as a non-interactive shell's background jobs do); interrupt once certificates are arriving.
set -m
"$CERTWARD_BIN" cert import "$T/tree" >"$T/import.out" 2>"$T/import.err" &
pid=$!
set +m
for ((i = 0; i < 1200; i++)); do
  n=$(db_scalar "SELECT count(*) FROM certificates WHERE origin = 'imported'" 2>/dev/null || echo 0)
  [[ $n -gt 0 ]] && break
  sleep 0.02
done
kill -INT "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
assert_eq 130 "$rc" "Ctrl-C: exit code 130"
grep -q '^certward: interrupted: [0-9]* files done' "$T/import.err" && pass ||
  fail "Ctrl-C: says what was done (stderr: $(head -c 300 "$T/import.err"))"
grep -q '^imported [0-9]*, already present 0, failed [01]$' "$T/import.out" && pass ||
  fail "Ctrl-C: final summary (stdout: $(cat "$T/import.out"))"

# Every file all in or all out.
db_scalar "SELECT fingerprint FROM certificates WHERE origin = 'imported'" | sort >"$T/present"
stored=$(wc -l <"$T/present")
reported=$(sed -n 's/^imported \([0-9]*\),.*/\1/p' "$T/import.out")
assert_eq "$reported" "$stored" "Ctrl-C: the summary counts what is stored"
if [[ $stored -gt 0 && $stored -lt $total ]]; then pass; else
  fail "Ctrl-C: the import should have stopped part way ($stored of $total)"
fi
split=$(awk 'NR == FNR { have[$1] = 1; next }
             { n[$1]++; if ($2 in have) h[$1]++ }
             END { for (f in n) if (h[f] > 0 && h[f] < n[f]) print f }' "$T/present" "$T/manifest")
assert_eq "" "$split" "Ctrl-C: no file is half imported"
assert_exit 0 "audit verify after Ctrl-C" cw audit verify
cw --json cert list --limit 5 | jq -e '.items | length == 5' >/dev/null && pass ||
  fail "cert list after Ctrl-C"

# The rest: the broken file reported (exit 3, one line naming it), everything else once.
rc=0
cw cert import "$T/tree" >"$T/again.out" 2>"$T/again.err" || rc=$?
assert_eq 3 "$rc" "second run: a malformed file exits 3"
grep -q 'f050-broken.pem' "$T/again.err" && pass || fail "second run: names the malformed file"
assert_eq "imported $((total - stored)), already present $stored, failed 1" "$(cat "$T/again.out")" \
  "second run: imports the rest"
assert_eq "$total" "$(db_scalar "SELECT count(*) FROM certificates WHERE origin = 'imported'")" "every certificate once"
# One audit event per batch, not per certificate.
events=$(db_scalar "SELECT count(*) FROM audit_events WHERE action = 'certificate.import'")
if [[ $events -gt 0 && $events -lt 100 ]]; then pass; else
  fail "one audit event per batch: $events events for $total certificates"
fi
assert_exit 0 "audit verify at the end" cw audit verify

echo "checks: $checks, failures: $failures"
[[ $failures == 0 ]]
