"""A small ACME client (RFC 8555, RFC 9773) for the integration tests, made to misbehave.

Everything a well-behaved client does is here (keys and JWK thumbprints, JWS signing with
ES256/ES384/ES512/RS256/EdDSA by kid or jwk, nonces, accounts, orders, http-01 answered by a
tiny HTTP server, finalization with a CSR, download, revocation, key rollover, ARI certIDs),
and every step can be bent: any protected header member added, changed or removed, any alg
named, any nonce, any url, any payload bytes, any body, any Content-Type, any Host header.

Run with Debian's /usr/bin/python3 (python3-cryptography, python3-requests).
"""

import base64
import hashlib
import hmac
import http.server
import ipaddress
import json
import threading
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtensionOID, NameOID

ERROR_PREFIX = "urn:ietf:params:acme:error:"

# As the value of a protected header member: leave the member out.
OMIT = object()


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")))


def _int_bytes(n, size=None):
    size = size or max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(size, "big")


class Key:
    """A key an account or a certificate signs with, and the JWS alg it signs under."""

    CURVES = {"ES256": (ec.SECP256R1, hashes.SHA256, 32, "P-256"),
              "ES384": (ec.SECP384R1, hashes.SHA384, 48, "P-384"),
              "ES512": (ec.SECP521R1, hashes.SHA512, 66, "P-521")}

    def __init__(self, private, alg):
        self.private = private
        self.alg = alg

    @classmethod
    def generate(cls, alg="ES256", rsa_bits=2048):
        if alg in cls.CURVES:
            return cls(ec.generate_private_key(cls.CURVES[alg][0]()), alg)
        if alg in ("RS256", "PS256"):
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits), alg)
        if alg == "EdDSA":
            return cls(ed25519.Ed25519PrivateKey.generate(), alg)
        raise ValueError("no key for alg " + alg)

    def public(self):
        return self.private.public_key()

    def jwk(self):
        pub = self.public()
        if isinstance(pub, ec.EllipticCurvePublicKey):
            _, _, size, crv = self.CURVES[{"secp256r1": "ES256", "secp384r1": "ES384",
                                           "secp521r1": "ES512"}[pub.curve.name]]
            nums = pub.public_numbers()
            return {"crv": crv, "kty": "EC", "x": b64u(_int_bytes(nums.x, size)),
                    "y": b64u(_int_bytes(nums.y, size))}
        if isinstance(pub, rsa.RSAPublicKey):
            nums = pub.public_numbers()
            return {"e": b64u(_int_bytes(nums.e)), "kty": "RSA", "n": b64u(_int_bytes(nums.n))}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64u(raw)}

    def thumbprint(self):
        canonical = json.dumps(self.jwk(), sort_keys=True, separators=(",", ":"))
        return b64u(hashlib.sha256(canonical.encode()).digest())

    def sign(self, data, alg=None):
        """The JWS signature of `data` under `alg` (default: the key's own)."""
        alg = alg or self.alg
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            digest = {"ES256": hashes.SHA256, "ES384": hashes.SHA384,
                      "ES512": hashes.SHA512}.get(alg, hashes.SHA256)
            size = (self.private.curve.key_size + 7) // 8
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(digest())))
            return _int_bytes(r, size) + _int_bytes(s, size)
        if isinstance(self.private, rsa.RSAPrivateKey):
            if alg == "PS256":
                return self.private.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                                         hashes.SHA256())
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private.sign(data)


def make_csr(key, names=(), cn=None, ca=False, ips=(), emails=(), extensions=()):
    """A DER CSR for `names` (DNS SANs) signed by `key` (a Key or a cryptography key);
    `extensions`: more (extension, critical) pairs to ask for."""
    private = key.private if isinstance(key, Key) else key
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    sans = ([x509.DNSName(n) for n in names] +
            [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] +
            [x509.RFC822Name(e) for e in emails])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(private, algorithm).public_bytes(serialization.Encoding.DER)


def cert_id(cert):
    """The RFC 9773 certID: base64url(AKI keyIdentifier) "." base64url(serial DER content)."""
    if isinstance(cert, (bytes, str)):
        cert = load_cert(cert)
    aki = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    serial = cert.serial_number
    # DER INTEGER content: big-endian, a leading 0x00 when the high bit would be set.
    serial_der = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return b64u(aki.value.key_identifier) + "." + b64u(serial_der)


def load_cert(data):
    if isinstance(data, str):
        data = data.encode()
    if data.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def first_cert_der(pem_chain):
    return load_cert(pem_chain.split("-----END CERTIFICATE-----")[0] +
                     "-----END CERTIFICATE-----\n").public_bytes(serialization.Encoding.DER)


class Http01Server:
    """Answers http-01 on 127.0.0.1:<port>: GET /.well-known/acme-challenge/<token>."""

    def __init__(self, port):
        self.tokens = {}
        tokens = self.tokens

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                prefix = "/.well-known/acme-challenge/"
                body = tokens.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/plain")
                data = (body or "not found").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Acme:
    """One ACME directory as seen by a client that may lie in any field."""

    def __init__(self, directory_url, verify):
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE and friends would override `verify`; nothing here needs a proxy.
        self.session.trust_env = False
        self.session.verify = verify
        self.directory_url = directory_url
        self.dir = self.session.get(directory_url, timeout=10).json()
        self.base = directory_url[: directory_url.index("/", len("https://"))]

    def url(self, name):
        return self.dir[name]

    def new_nonce(self):
        r = self.session.head(self.dir["newNonce"], timeout=10)
        return r.headers["Replay-Nonce"]

    def jws(self, url, payload, key, kid=None, nonce=None, alg=None, header=None,
            payload_raw=None, protected_raw=None, sign_key=None, sign_alg=None):
        """A flattened JWS. payload None is POST-as-GET; payload_raw (str) is sent as is.
        header: members added or replaced (OMIT removes one). kid None signs with jwk.
        sign_key/sign_alg: sign with another key or algorithm than the header says."""
        protected = {"alg": alg or key.alg, "nonce": nonce or self.new_nonce(), "url": url}
        if kid:
            protected["kid"] = kid
        else:
            protected["jwk"] = key.jwk()
        for name, value in (header or {}).items():
            if value is OMIT:
                protected.pop(name, None)
            else:
                protected[name] = value
        p64 = protected_raw if protected_raw is not None else b64u_json(protected)
        if payload_raw is not None:
            y64 = b64u(payload_raw)
        elif payload is None:
            y64 = ""
        else:
            y64 = b64u_json(payload)
        signer = sign_key or key
        signature = signer.sign(f"{p64}.{y64}".encode(), sign_alg or protected.get("alg"))
        return {"protected": p64, "payload": y64, "signature": b64u(signature)}

    def post(self, url, body, content_type="application/jose+json", headers=None):
        """POSTs `body` (a dict is JSON-encoded; str or bytes are sent as they are)."""
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        h = {"Content-Type": content_type}
        h.update(headers or {})
        return self.session.post(url, data=data, headers=h, timeout=30)

    def signed(self, url, payload, key, kid=None, **kw):
        headers = kw.pop("headers", None)
        return self.post(url, self.jws(url, payload, key, kid, **kw), headers=headers)


class Account:
    """An account: its key, its URL (kid) once created, and the requests it signs."""

    def __init__(self, acme, key=None, alg="ES256"):
        self.acme = acme
        self.key = key or Key.generate(alg)
        self.kid = None

    def create(self, **payload):
        payload.setdefault("termsOfServiceAgreed", True)
        r = self.acme.signed(self.acme.url("newAccount"), payload, self.key)
        if r.status_code in (200, 201):
            self.kid = r.headers["Location"]
        return r

    def post(self, url, payload, **kw):
        return self.acme.signed(url, payload, self.key, self.kid, **kw)

    def get(self, url, **kw):
        """POST-as-GET."""
        return self.post(url, None, **kw)

    def new_order(self, names=(), identifiers=None, **extra):
        ids = identifiers if identifiers is not None else [{"type": "dns", "value": n}
                                                           for n in names]
        payload = {"identifiers": ids}
        payload.update(extra)
        return self.post(self.acme.url("newOrder"), payload)

    def key_authorization(self, token):
        return token + "." + self.key.thumbprint()

    def poll(self, url, statuses, timeout=20):
        end = time.time() + timeout
        while True:
            r = self.get(url)
            body = r.json() if r.headers.get("Content-Type", "").endswith("json") else {}
            if body.get("status") in statuses or time.time() > end:
                return body
            time.sleep(0.1)

    def validate(self, order, http01):
        """Answers the http-01 challenge of every pending authorization of `order`."""
        for authz_url in order["authorizations"]:
            authz = self.get(authz_url).json()
            if authz["status"] == "valid":
                continue
            chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
            http01.tokens[chall["token"]] = self.key_authorization(chall["token"])
            self.post(chall["url"], {})
            self.poll(authz_url, ("valid", "invalid"))

    def ready_order(self, names, http01, **extra):
        """A new order for `names`, validated: returns (order URL, order JSON)."""
        r = self.new_order(names, **extra)
        if r.status_code != 201:
            raise RuntimeError(f"newOrder {names}: {r.status_code} {r.text}")
        url, order = r.headers["Location"], r.json()
        if order["status"] != "ready":
            self.validate(order, http01)
            order = self.poll(url, ("ready", "invalid"))
        if order["status"] != "ready":
            raise RuntimeError(f"order {url} is {order['status']}: {order}")
        return url, order

    def finalize(self, order, csr_der):
        return self.post(order["finalize"], {"csr": b64u(csr_der)})

    def issue(self, names, http01, cert_key=None, **extra):
        """Orders, validates, finalizes, downloads: returns (order URL, PEM chain, cert key)."""
        url, order = self.ready_order(names, http01, **extra)
        cert_key = cert_key or Key.generate("ES256")
        r = self.finalize(order, make_csr(cert_key, names))
        if r.status_code != 200:
            raise RuntimeError(f"finalize {url}: {r.status_code} {r.text}")
        order = self.poll(url, ("valid", "invalid"))
        if order["status"] != "valid":
            raise RuntimeError(f"order {url} is {order['status']}: {order}")
        pem = self.get(order["certificate"]).text
        return url, pem, cert_key

    def revoke(self, cert_der, reason=None, by_key=None):
        """revokeCert signed by this account (kid) or by `by_key` (jwk)."""
        payload = {"certificate": b64u(cert_der)}
        if reason is not None:
            payload["reason"] = reason
        url = self.acme.url("revokeCert")
        if by_key is not None:
            return self.acme.signed(url, payload, by_key)
        return self.post(url, payload)

    def key_change_body(self, new_key, old_jwk=None, account=None, inner_url=None,
                        inner_header=None, inner_sign_key=None):
        """The payload of a keyChange request: the inner JWS signed by the new key."""
        url = self.acme.url("keyChange")
        inner_payload = {"account": account or self.kid, "oldKey": old_jwk or self.key.jwk()}
        protected = {"alg": new_key.alg, "jwk": new_key.jwk(), "url": inner_url or url}
        for name, value in (inner_header or {}).items():
            if value is OMIT:
                protected.pop(name, None)
            else:
                protected[name] = value
        p64, y64 = b64u_json(protected), b64u_json(inner_payload)
        signer = inner_sign_key or new_key
        return {"protected": p64, "payload": y64,
                "signature": b64u(signer.sign(f"{p64}.{y64}".encode()))}


def hmac_sign(secret, data):
    return hmac.new(secret, data, hashlib.sha256).digest()
