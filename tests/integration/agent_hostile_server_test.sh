#!/usr/bin/env bash
# `certward agent` receiving deployments from a server that was taken over: its answers are
# hostile input, a body of any length among them. An answer too long for what an agent asks is
# refused as it arrives (never held whole in memory), and nothing is written or reported.
source "$(dirname "$0")/lib.sh"

# A listener that answers every request with a 200 whose JSON body is padded to $3 bytes
# (valid JSON: white space, then an empty list), and records the requests' first lines.
cat >"$T/listener.py" <<'PY'
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.getsockname()[1]))
tail = b'{"items": []}'
size = int(sys.argv[3])
while True:
    conn, _ = srv.accept()
    data = b""
    conn.settimeout(5)
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        with open(sys.argv[2], "ab") as f:
            f.write(data.split(b"\r\n")[0] + b"\n")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
        pad = b" " * (1 << 20)
        left = size - len(tail)
        while left > 0:
            n = min(left, len(pad))
            conn.sendall(pad[:n])
            left -= n
        conn.sendall(tail)
    except OSError:
        pass
    conn.close()
PY
: >"$T/received"
mkdir -p "$T/deploy"
python3 "$T/listener.py" "$T/port" "$T/received" $((64 << 20)) &
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
for _ in $(seq 1 100); do [[ -s $T/port ]] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/port")"
export CERTWARD_TOKEN=cwt_hostileserverprobe_SECRET

# 64 MiB of list: refused, with a clear error, and nothing asked for after it.
assert_fails 3 malformed "a 64 MiB answer to the list is refused" \
  cw --server "$URL" --insecure-http agent --deploy-only --deploy-dir "$T/deploy" --once
grep -q "too long\|over " "$T/err" && pass || fail "the error says the answer is too long: $(cat "$T/err")"
assert_eq 0 "$(grep -c "outcome\|deployments/" "$T/received" || true)" "nothing fetched or reported"
assert_eq "" "$(ls -A "$T/deploy")" "nothing written"
finish
