"""A small SCEP (RFC 8894) client for the integration tests, built by hand the way certmonger
builds its messages, and made to misbehave when asked.

Debian's python3-cryptography 38 signs and encrypts but builds no CMS with custom attributes,
so the pkiMessages are put together by hand here: a SignedData (version 1, SHA-256, one
SignerInfo with contentType, messageDigest, signingTime, messageType, transactionID and
senderNonce, signed by a self-signed RSA-2048 certificate over the request's key, or by the
certificate being renewed) around an EnvelopedData (version 0, one KeyTransRecipientInfo to the
RA certificate, AES-256-CBC). CertReps are read here too: the RA's signature checked, the
attributes read, the envelope opened with the requester's key. There are also the HTTP requests
(GetCACert, PKIOperation by POST or GET) and the REST calls that make enrollment credentials.

Call configure() with where the server is, then set_ra() with the RA certificate from
get_ca_cert(): requests are enveloped to it and CertReps checked against it.

Run with Debian's /usr/bin/python3 (python3-cryptography, python3-requests).
"""

import base64
import datetime
import hashlib
import os

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding as sympad, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, NameOID

TIMEOUT = 30

# Where the server is (configure) and the RA certificate (set_ra).
SCEP = API = TOKEN = ROOT = None
RA = None


def configure(scep, api, token, root):
    """`scep`: the SCEP URL; `api`: the REST API's base URL, with `token` for it; `root`: the
    CA file the REST API's TLS certificate verifies to."""
    global SCEP, API, TOKEN, ROOT
    SCEP, API, TOKEN, ROOT = scep, api, token, root


def set_ra(cert):
    global RA
    RA = cert


# --- DER, by hand --------------------------------------------------------------------------

def _length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + _length(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):  # DER: a SET OF's elements in the order of their encodings
    return tlv(0x31, b"".join(sorted(items)))


def integer(n):
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = b""
    for v in [40 * parts[0] + parts[1]] + parts[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.insert(0, 0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(chunk)
    return tlv(0x06, out)


def octets(b):
    return tlv(0x04, b)


def printable(s):
    return tlv(0x13, s.encode())


def utc_time(t):
    return tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())


def explicit(n, content):  # [n], constructed
    return tlv(0xA0 + n, content)


NULL = b"\x05\x00"


def parse(data, pos=0):
    """One element at `pos`: (tag, content, position after it). Definite lengths only."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4:
            raise ValueError("indefinite or huge length")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos:pos + n], pos + n


def children(content):
    """The elements in a constructed element's content: [(tag, content, raw TLV)]."""
    out, pos = [], 0
    while pos < len(content):
        tag, c, nxt = parse(content, pos)
        out.append((tag, c, content[pos:nxt]))
        pos = nxt
    return out


def octet_value(tag, content):
    """An OCTET STRING's bytes, primitive or constructed (BER)."""
    if tag in (0x04, 0x80):
        return content
    return b"".join(octet_value(t, c) for t, c, _ in children(content))


# OIDs
DATA = "1.2.840.113549.1.7.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
ENVELOPED_DATA = "1.2.840.113549.1.7.3"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SHA256 = "2.16.840.1.101.3.4.2.1"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
PKI_STATUS = "2.16.840.1.113733.1.9.3"
FAIL_INFO = "2.16.840.1.113733.1.9.4"
SENDER_NONCE = "2.16.840.1.113733.1.9.5"
RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
CIPHERS = {  # name: (OID, key bytes, block bytes)
    "aes256": ("2.16.840.1.101.3.4.1.42", 32, 16),
    "aes128": ("2.16.840.1.101.3.4.1.2", 16, 16),
    "des3": ("1.2.840.113549.3.7", 24, 8),
    "des": ("1.3.14.3.2.7", 8, 8),
}
CIPHER_BY_OID = {oid(v[0]): k for k, v in CIPHERS.items()}

PKCS_REQ, RENEWAL_REQ, CERT_POLL, GET_CERT, GET_CRL, CERT_REP = 19, 17, 20, 21, 22, 3
SUCCESS, FAILURE = "0", "2"
BAD_ALG, BAD_MESSAGE_CHECK, BAD_REQUEST, BAD_CERT_ID = "0", "1", "2", "4"


# --- keys, certificates, requests ----------------------------------------------------------

def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name_of(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def self_signed(key, cn):
    """The signer a client makes for its first request: its own key, its own name."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name_of(cn)).issuer_name(name_of(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def make_csr(key, cn, challenge=None, sans=None):
    b = x509.CertificateSigningRequestBuilder().subject_name(name_of(cn))
    sans = [cn] if sans is None else sans
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]),
                            critical=False)
    if challenge is not None:
        b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def issuer_and_serial(cert):
    return seq(cert.issuer.public_bytes(), integer(cert.serial_number))


def der_of(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert):
    return hashlib.sha256(der_of(cert)).hexdigest()


def spki(key_or_cert):
    pub = key_or_cert.public_key()
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# --- pkiMessages -------------------------------------------------------------------------

def envelope(content, recipient, cipher="aes256"):
    """EnvelopedData v0: one KeyTransRecipientInfo (rsaEncryption) to `recipient`."""
    alg, key_len, block = CIPHERS[cipher]
    key, iv = os.urandom(key_len), os.urandom(block)
    # An 8-byte key makes TripleDES single DES (K1 = K2 = K3), which is what "des" is here.
    algo = algorithms.AES(key) if cipher.startswith("aes") else algorithms.TripleDES(key)
    padder = sympad.PKCS7(block * 8).padder()
    enc = Cipher(algo, modes.CBC(iv)).encryptor()
    body = enc.update(padder.update(content) + padder.finalize()) + enc.finalize()
    encrypted_key = recipient.public_key().encrypt(key, padding.PKCS1v15())
    ktri = seq(integer(0), issuer_and_serial(recipient), seq(oid(RSA_ENCRYPTION), NULL),
               octets(encrypted_key))
    eci = seq(oid(DATA), seq(oid(alg), octets(iv)), tlv(0x80, body))
    return seq(oid(ENVELOPED_DATA), explicit(0, seq(integer(0), set_of(ktri), eci)))


def attribute(kind, value):
    return seq(oid(kind), set_of(value))


def pki_message(msg_type, tid, nonce, econtent, signer, key, flip=False, extra_attrs=(),
                detached=False):
    """SignedData v1 over `econtent`, signed by `signer` with `key` (SHA-256; rsaEncryption,
    or ecdsa-with-SHA256 for an EC key). `msg_type` is put in as given (a number or any
    string); `flip` changes one byte of the content after signing; `extra_attrs` are more
    signed attributes; `detached` leaves the content out."""
    signed_attrs = set_of(
        attribute(CONTENT_TYPE, oid(DATA)),
        attribute(MESSAGE_DIGEST, octets(hashlib.sha256(econtent).digest())),
        attribute(SIGNING_TIME, utc_time(datetime.datetime.now(datetime.timezone.utc))),
        attribute(MESSAGE_TYPE, printable(str(msg_type))),
        attribute(TRANSACTION_ID, printable(tid)),
        attribute(SENDER_NONCE, octets(nonce)), *extra_attrs)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signature_alg = seq(oid(ECDSA_SHA256))
    else:
        signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        signature_alg = seq(oid(RSA_ENCRYPTION), NULL)
    signer_info = seq(integer(1), issuer_and_serial(signer), seq(oid(SHA256), NULL),
                      b"\xa0" + signed_attrs[1:], signature_alg, octets(signature))
    if flip:
        econtent = econtent[:-1] + bytes([econtent[-1] ^ 0x01])
    signed = seq(integer(1), set_of(seq(oid(SHA256), NULL)),
                 seq(oid(DATA)) if detached else seq(oid(DATA), explicit(0, octets(econtent))),
                 explicit(0, der_of(signer)), set_of(signer_info))
    return seq(oid(SIGNED_DATA), explicit(0, signed))


# --- CertReps ----------------------------------------------------------------------------

class CertRep:
    """What a CertRep says. `signed_by_ra` says its signature verified with the RA's key."""

    def __init__(self, der, key):
        _, ci, _ = parse(der)
        ct, wrapped = children(ci)[:2]
        if ct[2] != oid(SIGNED_DATA):
            raise ValueError("not a SignedData")
        parts = children(children(wrapped[1])[0][1])
        encap = children(parts[2][1])
        self.econtent = b""
        if len(encap) > 1:
            inner = children(encap[1][1])[0]
            self.econtent = octet_value(inner[0], inner[1])
        self.certs = [x509.load_der_x509_certificate(raw)
                      for t, c, _ in parts if t == 0xA0 for _, _, raw in children(c)]
        signer_infos = children(parts[-1][1])
        if len(signer_infos) != 1:
            raise ValueError(f"{len(signer_infos)} SignerInfos")
        si = children(signer_infos[0][1])
        signed = next(x for x in si if x[0] == 0xA0)
        attrs = {}
        for _, a, _ in children(signed[1]):
            (_, _, kind), (_, values, _) = children(a)
            attrs[kind] = children(values)[0]
        self.attrs = attrs
        text = lambda k: attrs[oid(k)][1].decode() if oid(k) in attrs else None
        raw = lambda k: attrs[oid(k)][1] if oid(k) in attrs else None
        self.message_type = text(MESSAGE_TYPE)
        self.status = text(PKI_STATUS)
        self.fail_info = text(FAIL_INFO)
        self.transaction_id = text(TRANSACTION_ID)
        self.recipient_nonce = raw(RECIPIENT_NONCE)
        self.sender_nonce = raw(SENDER_NONCE)
        signature = si[-1][1]
        to_verify = b"\x31" + signed[2][1:]
        self.signed_by_ra = False
        if RA is not None and raw(MESSAGE_DIGEST) == hashlib.sha256(self.econtent).digest():
            try:
                RA.public_key().verify(signature, to_verify, padding.PKCS1v15(), hashes.SHA256())
                self.signed_by_ra = any(der_of(c) == der_of(RA) for c in self.certs)
            except Exception:
                pass
        self.inner_certs, self.inner_crls = [], []
        if self.status == SUCCESS and key is not None:
            self._open(key)

    def _open(self, key):
        _, ci, _ = parse(self.econtent)
        ct, wrapped = children(ci)[:2]
        if ct[2] != oid(ENVELOPED_DATA):
            raise ValueError("the success content is not an EnvelopedData")
        env = children(children(wrapped[1])[0][1])
        ktri = children(children(env[1][1])[0][1])
        cek = key.decrypt(ktri[3][1], padding.PKCS1v15())
        eci = children(env[2][1])
        alg = children(eci[1][1])
        self.cipher = CIPHER_BY_OID.get(alg[0][2])
        iv = alg[1][1]
        body = octet_value(eci[2][0], eci[2][1])
        algo = algorithms.AES(cek) if self.cipher.startswith("aes") else algorithms.TripleDES(cek)
        dec = Cipher(algo, modes.CBC(iv)).decryptor()
        unpadder = sympad.PKCS7(len(iv) * 8).unpadder()
        inner = unpadder.update(dec.update(body) + dec.finalize()) + unpadder.finalize()
        _, ci, _ = parse(inner)
        parts = children(children(children(ci)[1][1])[0][1])
        for t, c, _ in parts:
            if t == 0xA0:
                self.inner_certs = [x509.load_der_x509_certificate(raw)
                                    for _, _, raw in children(c)]
            if t == 0xA1:
                self.inner_crls = [x509.load_der_x509_crl(raw) for _, _, raw in children(c)]


class Exchange:
    """One PKIOperation: what was sent, the HTTP answer and the CertRep in it, if any."""

    def __init__(self, message, tid, nonce, r, key):
        self.message, self.tid, self.nonce, self.r = message, tid, nonce, r
        self.rep, self.error = None, None
        if r.status_code == 200:
            try:
                self.rep = CertRep(r.content, key)
            except Exception as e:
                self.error = f"unreadable CertRep: {e!r}"

    def describe(self):
        r = self.rep
        if r is None:
            body = self.r.content[:200] if not self.r.headers.get("Content-Type", "").startswith(
                "application/x-pki") else b"(binary)"
            return f"[HTTP {self.r.status_code} {body!r} {self.error or ''}]"
        return f"[HTTP 200 pkiStatus={r.status} failInfo={r.fail_info}]"

    def problems(self):
        """What is wrong with the CertRep whatever it says."""
        r, out = self.rep, []
        if r is None:
            return [f"no CertRep {self.describe()}"]
        if self.r.headers.get("Content-Type") != "application/x-pki-message":
            out.append(f"Content-Type {self.r.headers.get('Content-Type')!r}")
        if not r.signed_by_ra:
            out.append("the CertRep is not signed by the RA certificate")
        if r.message_type != "3":
            out.append(f"messageType {r.message_type!r}")
        if r.transaction_id != self.tid:
            out.append(f"transactionID {r.transaction_id!r}, sent {self.tid!r}")
        if r.recipient_nonce != self.nonce:
            out.append("recipientNonce is not the senderNonce")
        if not r.sender_nonce or len(r.sender_nonce) < 8:
            out.append("no senderNonce of its own")
        return out

    @property
    def cert(self):
        return self.rep.inner_certs[0] if self.rep and self.rep.inner_certs else None


def post(body, timeout=TIMEOUT):
    return requests.post(SCEP, params={"operation": "PKIOperation"}, data=body,
                         headers={"Content-Type": "application/x-pki-message"}, timeout=timeout)


def get(message_text):
    return requests.get(SCEP, params={"operation": "PKIOperation", "message": message_text},
                        timeout=TIMEOUT)


def get_ca_cert():
    """GetCACert: the HTTP answer and the certificates in it, in their order."""
    r = requests.get(SCEP, params={"operation": "GetCACert"}, timeout=TIMEOUT)
    return r, pkcs7.load_der_pkcs7_certificates(r.content)


def send(msg_type, content, signer, key, tid=None, nonce=None, cipher="aes256", to=None,
         flip=False, via="POST", message=None):
    """Builds and sends one pkiMessage; the answer is read with `key`."""
    tid = tid or os.urandom(16).hex().upper()
    nonce = nonce or os.urandom(16)
    if message is None:
        message = pki_message(msg_type, tid, nonce, envelope(content, to or RA, cipher),
                              signer, key, flip)
    r = post(message) if via == "POST" else get(base64.b64encode(message).decode())
    return Exchange(message, tid, nonce, r, key)


class Device:
    """A client: a key, a name and the certificate it signs with (self-signed at first)."""

    def __init__(self, cn):
        self.cn = cn
        self.key = new_key()
        self.signer = self_signed(self.key, cn)
        self.cert = None

    def enroll(self, challenge, csr=None, **kw):
        csr = csr or make_csr(self.key, self.cn, challenge)
        x = send(PKCS_REQ, csr, self.signer, self.key, **kw)
        if x.rep and x.rep.status == SUCCESS and x.cert:
            self.cert = x.cert
        return x


# --- the REST API: enrollment credentials ------------------------------------------------

def rest(method, path, body=None):
    r = requests.request(method, API + path, json=body, verify=ROOT, timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {TOKEN}"})
    return r.status_code, (r.json() if r.content else {})


def setup(method, path, body, want):
    code, doc = rest(method, path, body)
    if code != want:
        raise RuntimeError(f"setup {method} {path} -> {code}: {doc}")
    return doc


def credential(team, expected=None, max_uses=1, lifetime="1h", kind="scep"):
    body = {"kind": kind, "team": team, "profile": "device", "max_uses": max_uses,
            "lifetime": lifetime}
    if expected:
        body["expected_subject"] = expected
    doc = setup("POST", "/enrollment/credentials", body, 201)
    return doc["id"], doc["secret"]


def uses(cred_id):
    return setup("GET", f"/enrollment/credentials/{cred_id}", None, 200).get("uses")
