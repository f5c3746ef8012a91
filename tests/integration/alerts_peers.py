#!/usr/bin/python3
"""Receivers for the alert tests, on loopback.

webhook PORT LOG SECRET_FILE FAIL_FIRST
    An HTTP server. POST /hook answers 500 to the first FAIL_FIRST requests, then 204; POST
    /broken always answers 500. Every request is appended to LOG as one JSON line: path,
    status, the alert id header, whether the HMAC signature over "<timestamp>.<body>" is right
    and the timestamp recent, and the body.

smtp PORT DIR CERT KEY USER PASSWORD_FILE
    An SMTP server (aiosmtpd) that requires STARTTLS and then AUTH; each message is written to
    DIR as one file.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def webhook(port, log, secret_file, fail_first):
    secret = open(secret_file, "rb").read().strip()
    state = {"failed": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ts = self.headers.get("X-Certward-Timestamp", "")
            sig = self.headers.get("X-Certward-Signature", "")
            want = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
            if self.path == "/broken":
                status = 500
            elif state["failed"] < fail_first:
                state["failed"] += 1
                status = 500
            else:
                status = 204
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "status": status,
                                    "alert": self.headers.get("X-Certward-Alert"),
                                    "signed": hmac.compare_digest(sig, want) and fresh,
                                    "body": json.loads(body or b"null")}) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def smtp(port, directory, cert, key, user, password_file):
    import ssl
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    password = open(password_file).read().strip()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            name = os.path.join(directory, "%d-%d.eml" % (time.time_ns(), os.getpid()))
            with open(name, "wb") as f:
                f.write(envelope.content)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok)

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticator,
                            auth_required=True, auth_require_tls=True)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    if sys.argv[1] == "webhook":
        webhook(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        smtp(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7])
