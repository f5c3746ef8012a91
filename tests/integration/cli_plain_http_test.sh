#!/usr/bin/env bash
# Client mode refuses a plain-HTTP server before connecting (the bearer token, and any key
# the server generates, would cross the network in clear text), unless --insecure-http or
# CERTWARD_INSECURE_HTTP=1 asks for it explicitly.
source "$(dirname "$0")/lib.sh"

# A listener that records every byte it receives and answers each request as a certward
# server would answer whoami.
cat >"$T/listener.py" <<'PY'
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.getsockname()[1]))
body = b'{"principal":"probe","role":"admin","team":null,"actor":"token:probe"}'
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
    except OSError:
        pass
    with open(sys.argv[2], "ab") as f:
        f.write(data)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    conn.close()
PY
: >"$T/received"
python3 "$T/listener.py" "$T/port" "$T/received" &
CW_BACKGROUND_PIDS="${CW_BACKGROUND_PIDS:-} $!"
for _ in $(seq 1 100); do [[ -s $T/port ]] && break; sleep 0.05; done
PORT=$(cat "$T/port")
URL="http://127.0.0.1:$PORT"
export CERTWARD_TOKEN=cwt_plaintextprobe_SECRET
unset CERTWARD_SERVER CERTWARD_INSECURE_HTTP || true

assert_fails 3 invalid_argument "--server http:// refused" cw --server "$URL" whoami
assert_fails 3 invalid_argument "CERTWARD_SERVER=http:// refused" env CERTWARD_SERVER="$URL" "$CERTWARD_BIN" whoami
assert_fails 3 invalid_argument "HTTP:// in capitals refused" cw --server "HTTP://127.0.0.1:$PORT" whoami
assert_fails 3 invalid_argument "issue with a generated key refused" cw --server "$URL" issue --profile tls-server --key-type ec-p256 --cn x.example.test
assert_fails 3 invalid_argument "a server URL without a scheme refused" cw --server "127.0.0.1:$PORT" whoami
msg=$(cw --server "$URL" whoami 2>&1 || true)
[[ $msg == *--insecure-http* ]] && pass || fail "the error names --insecure-http: $msg"
sleep 0.2
assert_eq 0 "$(wc -c <"$T/received")" "nothing reached the listener"

# Asked for explicitly, plain HTTP is used (the token goes out, as the user accepted).
assert_eq "probe (admin)" "$(cw --server "$URL" --insecure-http whoami)" "--insecure-http"
assert_eq "probe (admin)" "$(CERTWARD_INSECURE_HTTP=1 cw --server "$URL" whoami)" "CERTWARD_INSECURE_HTTP=1"
grep -q "Authorization: Bearer $CERTWARD_TOKEN" "$T/received" && pass || fail "the insecure request carried the token"
finish
