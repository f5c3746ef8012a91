#!/usr/bin/env python3
"""A hostile upstream ACME CA, for the tests of certward as an ACME client (upstream_hostile_test.sh).

Every URL is /<mode>/...; the mode picks the misbehaviour (see the handlers: off-origin URLs,
invalid UTF-8, endless polling, too many authorizations, authorizations for names the order
does not hold, certificates for other names or keys, broken chains, revocation answers...).
A canary HTTPS listener on CANARY_PORT logs every request it gets: certward must never talk
to it. Its TLS certificate and key are tls-cert.pem and tls-key.pem in WORKDIR; it writes
evil-root.pem (its root), evil.log and canary.log there.
Usage: acme_upstream_hostile.py PORT CANARY_PORT CERTWARD_HTTP_PORT WORKDIR
"""
import base64, datetime, json, os, ssl, sys, threading, time, urllib.request, hashlib
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PORT, CANARY, CW_HTTP, WD = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ORIGIN = f"https://127.0.0.1:{PORT}"
LOG = open(os.path.join(WD, "evil.log"), "a", buffering=1)
CLOG = open(os.path.join(WD, "canary.log"), "a", buffering=1)
lock = threading.Lock()
state = {"orders": {}, "authz": {}, "n": 0, "hits": {}}

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

NOW = datetime.datetime.now(datetime.timezone.utc)

def mkcert(subject_cn, pub, signer_key, issuer_name, ca=False, sans=None, nb=None, na=None,
           serial=None):
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(issuer_name).public_key(pub)
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(nb or NOW - datetime.timedelta(minutes=1))
         .not_valid_after(na or NOW + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                        critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(signer_key, hashes.SHA256())

root_key = ec.generate_private_key(ec.SECP256R1())
root = mkcert("Evil Root", root_key.public_key(), root_key,
              x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil Root")]), ca=True)
int_key = ec.generate_private_key(ec.SECP256R1())
inter = mkcert("Evil Intermediate", int_key.public_key(), root_key, root.subject, ca=True)
alt_root_key = ec.generate_private_key(ec.SECP256R1())
alt_root = mkcert("Evil Alt Root", alt_root_key.public_key(), alt_root_key,
                  x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil Alt Root")]), ca=True)
other_key = ec.generate_private_key(ec.SECP256R1())
with open(os.path.join(WD, "evil-root.pem"), "wb") as f:
    f.write(root.public_bytes(serialization.Encoding.PEM))

def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        LOG.write("%s %s\n" % (self.address_string(), fmt % a))

    def send(self, code, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        with lock:
            state["n"] += 1
            n = state["n"]
        if not any(h[0].lower() == "replay-nonce" for h in headers):
            if self.path.startswith("/nonceutf8/") and "/acct" in self.path:
                self.send_header("Replay-Nonce", "n\xff\xfe")
            else:
                self.send_header("Replay-Nonce", f"nonce{n}")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def problem(self, code, typ, detail, headers=()):
        self.send(code, {"type": "urn:ietf:params:acme:error:" + typ, "detail": detail},
                  "application/problem+json", headers)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        mode, rest = parts[0], parts[1:]
        with lock:
            state["hits"][mode] = state["hits"].get(mode, 0) + 1
        body = b""
        if self.command == "POST":
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
        self.payload = None
        self.jws_header = None
        if body:
            try:
                jws = json.loads(body)
                self.jws_header = json.loads(b64d(jws["protected"]))
                self.payload = json.loads(b64d(jws["payload"])) if jws["payload"] else None
            except Exception as e:
                LOG.write(f"bad jws {e}\n")
        LOG.write(f"{mode} {self.command} {'/'.join(rest)} payload={json.dumps(self.payload)[:300]}\n")
        if mode == "ctl":
            return self.send(200, {"hits": state["hits"]})
        base = f"{ORIGIN}/{mode}"
        try:
            getattr(self, "r_" + (rest[0] if rest else "none"))(mode, base, rest)
        except AttributeError:
            self.send(404, {"no": self.path})

    # ---- directory ---------------------------------------------------------------------
    def r_dir(self, mode, base, rest):
        d = {"newNonce": base + "/nonce", "newAccount": base + "/acct",
             "newOrder": base + "/order", "revokeCert": base + "/revoke", "meta": {}}
        if mode == "redirect":
            return self.send(302, "", headers=[("Location", f"https://127.0.0.1:{CANARY}/dir")])
        if mode == "nononce":
            del d["newNonce"]
        if mode == "offnonce":
            d["newNonce"] = f"https://127.0.0.1:{CANARY}/nonce"
        if mode == "offorder":
            d["newOrder"] = f"https://127.0.0.1:{CANARY}/order"
        if mode == "userinfo":
            d["newOrder"] = f"https://127.0.0.1:{PORT}\\@127.0.0.1:{CANARY}/order"
        if mode == "hugedir":
            return self.send(200, b"{" + b" " * (2 << 20) + b"}")
        if mode == "dirarray":
            return self.send(200, [1, 2, 3])
        if mode == "dirtypes":
            d = {"newNonce": 5, "newAccount": ["x"], "newOrder": {"a": 1}}
        if mode == "norevoke":
            del d["revokeCert"]
        if mode in ("ari", "arifar"):
            d["renewalInfo"] = base + "/ari"
        if mode == "slowdir":
            time.sleep(30)
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100000):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except Exception:
                    return
                time.sleep(0.05)
            return
        self.send(200, d)

    def r_nonce(self, mode, base, rest):
        if mode == "nonceless":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send(200, "", headers=[("Cache-Control", "no-store")])

    def r_acct(self, mode, base, rest):
        if mode == "acctinvalid":
            return self.send(201, {"status": "deactivated"}, headers=[("Location", base + "/acct/1")])
        if mode == "acctutf8":
            return self.send(201, {"status": "valid"}, headers=[("Location", base + "/acct/\xff1")])
        if mode == "acctoff":
            return self.send(201, {"status": "valid"},
                             headers=[("Location", f"https://127.0.0.1:{CANARY}/acct/1")])
        self.send(201, {"status": "valid"}, headers=[("Location", base + "/acct/1")])

    # ---- orders --------------------------------------------------------------------------
    def r_order(self, mode, base, rest):
        if mode == "badutf8" and len(rest) > 1:
            return self.problem(404, "malformed", "no such order")
        if mode == "badnonce":
            return self.problem(400, "badNonce", "bad nonce forever")
        if mode == "ratelimit":
            return self.problem(429, "rateLimited", "slow down", [("Retry-After", "120")])
        if mode == "ratelimit0":
            return self.problem(429, "rateLimited", "slow down", [("Retry-After", "0")])
        if mode == "problemctl":
            return self.send(400, {"type": "urn:ietf:params:acme:error:malformed",
                                   "detail": "line1\r\nFAKE-LOG-LINE level=error\x1b[31mred" + "A" * 5000,
                                   "subproblems": [{"detail": "x" * 100, "identifier": 5}] * 50},
                             "application/problem+json")
        if len(rest) == 1:  # new order
            ids = self.payload["identifiers"]
            with lock:
                oid = str(len(state["orders"]) + 1)
                authzs = []
                for i, ident in enumerate(ids):
                    aid = f"{oid}-{i}"
                    state["authz"][aid] = {"identifier": ident, "status": "pending",
                                           "token": b64e(os.urandom(16))}
                    authzs.append(aid)
                state["orders"][oid] = {"ids": ids, "authz": authzs, "status": "pending",
                                        "csr": None}
            o = self.order_json(mode, base, oid)
            loc = base + "/order/" + oid
            if mode == "offorderloc":
                loc = f"https://127.0.0.1:{CANARY}/order/{oid}"
            if mode == "httploc":
                loc = f"http://127.0.0.1:{PORT}/{mode}/order/{oid}"
            if mode == "badutf8":
                loc = base + "/order/\xff\xfe" + oid
            if mode == "hugeloc":
                loc = base + "/order/" + oid + "?" + "A" * 200000
            if mode == "noloc":
                return self.send(201, o)
            return self.send(201, o, headers=[("Location", loc)])
        oid = rest[1]
        if len(rest) == 3 and rest[2] == "finalize":
            return self.finalize(mode, base, oid)
        o = state["orders"][oid]
        if all(state["authz"][a]["status"] == "valid" for a in o["authz"]) and o["status"] == "pending":
            o["status"] = "ready"
        if mode == "processing":
            return self.send(200, dict(self.order_json(mode, base, oid), status="processing"),
                             headers=[("Retry-After", "0")])
        if mode == "processinghuge":
            return self.send(200, dict(self.order_json(mode, base, oid), status="pending"),
                             headers=[("Retry-After", "99999999999")])
        self.send(200, self.order_json(mode, base, oid))

    def order_json(self, mode, base, oid):
        o = state["orders"][oid]
        j = {"status": o["status"], "identifiers": o["ids"],
             "authorizations": [base + "/authz/" + a for a in o["authz"]],
             "finalize": base + "/order/" + oid + "/finalize"}
        if o["status"] == "valid":
            j["certificate"] = base + "/cert/" + oid
        if mode == "offauthz":
            j["authorizations"] = [f"https://127.0.0.1:{CANARY}/authz/x"]
        if mode == "localhostauthz":
            j["authorizations"] = [f"https://localhost:{PORT}/{mode}/authz/" + a for a in o["authz"]]
        if mode == "offfinalize":
            j["finalize"] = f"https://127.0.0.1:{CANARY}/finalize"
        if mode == "offcert" and o["status"] == "valid":
            j["certificate"] = f"https://127.0.0.1:{CANARY}/cert"
        if mode == "manyauthz":
            j["authorizations"] = [base + "/authz/x%d" % i for i in range(100000)]
        if mode == "slowauthz":
            j["authorizations"] = [base + "/authz/slow%d" % i for i in range(100)]
        if mode == "authztypes":
            j["authorizations"] = [1, None, {"a": 2}]
        if mode == "authzstr":
            j["authorizations"] = "https://x"
        if mode == "fakehttp":
            j["authorizations"] = [f"http://127.0.0.1:{CANARY}/authz/x"]
        if mode == "weirdport":
            j["authorizations"] = [f"https://127.0.0.1:{PORT}@127.0.0.1:{CANARY}/authz/x"]
        if mode == "backslash":
            j["authorizations"] = [f"https://127.0.0.1:{CANARY}\\.127.0.0.1:{PORT}/authz/x"]
        return j

    # ---- authorizations and challenges ---------------------------------------------------
    def r_authz(self, mode, base, rest):
        aid = rest[1]
        if aid.startswith("slow"):
            time.sleep(0.9)
            return self.send(200, {"status": "valid", "identifier": {"type": "dns", "value": "x"}})
        if aid.startswith("x"):
            return self.send(200, {"status": "valid", "identifier": {"type": "dns", "value": "x"}})
        a = state["authz"][aid]
        ident = dict(a["identifier"])
        if mode == "authzothername":
            ident["value"] = "victim.other.example"
        if mode == "authzweirdname":
            ident["value"] = "$(touch /tmp/hostile-w/pwned);`id`\n../../x y"
        if mode == "authzwild":
            ident["value"] = "*.acme.test"
        token = a["token"]
        if mode == "dottoken":
            token = "../../etc/passwd"
        if mode == "longtoken":
            token = "A" * 100000
        if mode == "emptytoken":
            token = ""
        chal_url = base + "/chall/" + aid
        if mode == "offchall":
            chal_url = f"https://127.0.0.1:{CANARY}/chall/{aid}"
        j = {"status": a["status"], "identifier": ident, "expires": "2099-01-01T00:00:00Z",
             "challenges": [{"type": "http-01", "url": chal_url, "token": token, "status": "pending"},
                            {"type": "dns-01", "url": chal_url, "token": token, "status": "pending"}]}
        if mode == "authzpendingforever":
            j["status"] = "pending"
            return self.send(200, j, headers=[("Retry-After", "0")])
        if mode == "authzinvalid" and a.get("answered"):
            j["status"] = "invalid"
            j["challenges"][0]["error"] = {"type": "urn:ietf:params:acme:error:unauthorized",
                                           "detail": "\u001b[2Jcleared screen\nnew line"}
        if mode == "chalstypes":
            j["challenges"] = {"type": "http-01"}
        self.send(200, j)

    def r_chall(self, mode, base, rest):
        aid = rest[1]
        a = state["authz"][aid]
        a["answered"] = True
        if mode in ("authzinvalid",):
            return self.send(200, {"status": "processing"})
        # validate like a real CA: fetch the key authorization from certward's listener
        ok = False
        got = None
        if mode in ("dns01",):
            ok = True
        else:
            try:
                url = f"http://127.0.0.1:{CW_HTTP}/.well-known/acme-challenge/{a['token']}"
                got = urllib.request.urlopen(url, timeout=5).read().decode()
                ok = got.startswith(a["token"] + ".")
            except Exception as e:
                got = str(e)
        LOG.write(f"validate {aid}: {ok} {got!r}\n")
        with open(os.path.join(WD, "keyauth.txt"), "a") as f:
            f.write(f"{a['token']} {got}\n")
        a["status"] = "valid" if ok else "invalid"
        self.send(200, {"type": "http-01", "status": "processing", "token": a["token"]})

    # ---- finalize and certificate ---------------------------------------------------------
    def finalize(self, mode, base, oid):
        o = state["orders"][oid]
        csr = x509.load_der_x509_csr(b64d(self.payload["csr"]))
        o["csr"] = csr
        o["status"] = "valid"
        self.send(200, self.order_json(mode, base, oid), headers=[("Location", base + "/order/" + oid)])

    def r_cert(self, mode, base, rest):
        oid = rest[1]
        o = state["orders"][oid]
        csr = o["csr"]
        names = []
        for i in o["ids"]:
            if i["type"] == "dns":
                names.append(x509.DNSName(i["value"]))
        pub = csr.public_key()
        kw = {}
        cn = o["ids"][0]["value"]
        if mode == "othernames":
            names = [x509.DNSName("evil.example.com")]
        if mode == "extraname":
            names = names + [x509.DNSName("extra.acme.test")]
        if mode == "otherkey":
            pub = other_key.public_key()
        if mode == "expired":
            kw = dict(nb=NOW - datetime.timedelta(days=30), na=NOW - datetime.timedelta(days=1))
        if mode == "future":
            kw = dict(nb=NOW + datetime.timedelta(days=1), na=NOW + datetime.timedelta(days=30))
        if mode == "toolong":
            kw = dict(na=NOW + datetime.timedelta(days=4000))
        leaf = mkcert(cn, pub, int_key, inter.subject, ca=(mode == "cacert"), sans=names, **kw)
        if mode == "ekucode":
            b = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(inter.subject)
                 .public_key(pub).serial_number(x509.random_serial_number())
                 .not_valid_before(NOW - datetime.timedelta(minutes=1)).not_valid_after(NOW + datetime.timedelta(days=30))
                 .add_extension(x509.SubjectAlternativeName(names), critical=False)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING, x509.ObjectIdentifier("2.5.29.37.0")]), critical=False)
                 .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True))
            leaf = b.sign(int_key, hashes.SHA256())
        chain = [leaf, inter, root]
        if mode == "outoforder":
            chain = [leaf, root, inter]
        if mode == "unsigned":
            bogus = mkcert("Evil Intermediate", int_key.public_key(), other_key, root.subject, ca=True)
            chain = [leaf, bogus]
        if mode == "leafonly":
            chain = [leaf]
        if mode == "selfsigned":
            leaf = mkcert(cn, other_key.public_key(), other_key,
                          x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), sans=names)
            chain = [leaf]
        if mode == "garbage":
            return self.send(200, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                             "application/pem-certificate-chain")
        if mode == "empty":
            return self.send(200, b"", "application/pem-certificate-chain")
        headers = []
        if mode == "altloop":
            headers = [("Link", f'<{base}/cert/{oid}>;rel="alternate"')] * 50
        if mode == "altoff":
            headers = [("Link", f'<https://127.0.0.1:{CANARY}/cert/alt>;rel="alternate"')]
        if mode == "altwrongname":
            # alternate chain whose leaf is for another name, signed by alt root
            if len(rest) > 2:
                leaf2 = mkcert("evil.example.com", pub, alt_root_key, alt_root.subject,
                               sans=[x509.DNSName("evil.example.com")])
                return self.send(200, pem(leaf2, alt_root), "application/pem-certificate-chain")
            headers = [("Link", f'<{base}/cert/{oid}/alt>;rel="alternate"')]
        self.send(200, pem(*chain), "application/pem-certificate-chain", headers)

    def r_revoke(self, mode, base, rest):
        if mode == "revokerefuse":
            return self.problem(403, "unauthorized", "no revocation for you")
        if mode == "revoke500":
            return self.problem(500, "serverInternal", "oops")
        if mode == "alreadyrevoked":
            return self.problem(400, "alreadyRevoked", "Certificate already revoked")
        LOG.write(f"REVOKED {json.dumps(self.payload)[:80]}\n")
        if mode == "revokejson":
            return self.send(200, "")  # empty body labelled application/json
        self.send_response(200)
        self.send_header("Replay-Nonce", "nrev%d" % time.time_ns())
        self.send_header("Content-Length", "0")
        self.end_headers()

    def r_ari(self, mode, base, rest):
        LOG.write(f"ARI asked {rest}\n")
        if mode == "arifar":
            return self.send(200, {"suggestedWindow": {"start": "9999-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}})
        self.send(200, {"suggestedWindow": {"start": "2000-01-01T00:00:00Z", "end": "2000-01-01T00:00:01Z"}},
                  headers=[("Retry-After", "1")])

    def r_none(self, mode, base, rest):
        self.send(404, {})


class Canary(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except Exception:
            pass

    def any(self):
        CLOG.write(f"CANARY HIT {self.command} {self.path} from {self.client_address}\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Replay-Nonce", "canarynonce")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_HEAD = any


def serve(port, handler):
    s = ThreadingHTTPServer(("127.0.0.1", port), handler)
    s.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(WD, "tls-cert.pem"), os.path.join(WD, "tls-key.pem"))
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.serve_forever()


threading.Thread(target=serve, args=(CANARY, Canary), daemon=True).start()
serve(PORT, H)
