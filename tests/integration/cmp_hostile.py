#!/usr/bin/env python3
"""Rewrites PKIMessages (RFC 4210) for cmp_hostile_test.sh: what `openssl cmp` will not send.

  cmp_hostile.py IN OUT [edits...]

reads the DER PKIMessage IN, applies the edits in order and writes OUT. Edits:
  --tid HEX             the header's transactionID
  --sender-nonce HEX    the header's senderNonce
  --recip-nonce HEX     the header's recipNonce ('-' removes it)
  --kid TEXT            the header's senderKID ('-' removes it)
  --iterations N        PasswordBasedMac's iterationCount
  --cert-hash HEX       a certConf's certHash
  --reject              a certConf's status: rejection (replaces any statusInfo)
  --body-type N         the body's choice tag (its content unchanged)
  --replace OLD NEW     hex bytes OLD, once, in the body, become NEW (same length)
  --csr FILE            a p10cr's body becomes this DER CSR
  --body HEX            the body's content (its choice tag unchanged)
  --sign KEY            sign the message again with this EC key (PEM), ECDSA with SHA-256
  --signer CERT KEY     sender, senderKID and extraCerts from CERT (PEM), signed with KEY
  --secret TEXT         MAC the message again with PasswordBasedMac keyed by TEXT
  --mac-garbage         the protection bits become zeros (no MAC computed)
  --pbmac1 TEXT N PRF   protect with PBMAC1 (RFC 9481 6.1.1) keyed by TEXT: PBKDF2 with N
                        iterations, a 16-byte salt, key length 32 and the PRF hmacWithPRF
                        (sha1: the default, left out; sha256, sha512), HMAC-SHA256

`cmp_hostile.py pbmac1 IN SECRET` prints "ok" when IN is protected with PBMAC1 that verifies
with SECRET, else "bad"; and `cmp_hostile.py show IN` prints, one `name=value` a line, the header's senderKID,
transactionID and nonces (hex), the PBM iteration count, the body type; for a genp the number
of InfoTypeAndValues (items); for an error, ip, cp, kup or rp its (first) PKIStatusInfo: status,
failInfo bit numbers, text.
"""
import hashlib
import hmac
import os
import sys


# --- DER ------------------------------------------------------------------------------------------
class Node:
    """A TLV; constructed ones keep their children, primitive ones their content."""

    def __init__(self, tag, content=b"", children=None):
        self.tag = tag
        self.content = content
        self.children = children

    def encode(self):
        body = b"".join(c.encode() for c in self.children) if self.children is not None else self.content
        return bytes([self.tag]) + enc_len(len(body)) + body


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def read_tlv(data, i):
    tag = data[i]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not supported")
    i += 1
    n = data[i]
    i += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    return tag, data[i:i + n], i + n


def parse(data, raw=False):
    tag, content, end = read_tlv(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return parse_node(tag, content, raw)


def parse_node(tag, content, raw):
    # Constructed: its children parsed, unless raw (the content kept as it is).
    if tag & 0x20 and not raw:
        children, i = [], 0
        while i < len(content):
            t, c, i = read_tlv(content, i)
            children.append(parse_node(t, c, raw))
        return Node(tag, children=children)
    return Node(tag, content)


def integer(n):
    b = n.to_bytes((n.bit_length() + 8) // 8 or 1, "big")
    return Node(0x02, b)


def octets(b):
    return Node(0x04, b)


def oid_text(content):
    first = content[0]
    parts, v = [str(min(first // 40, 2)), str(first - 40 * min(first // 40, 2))], 0
    for b in content[1:]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(str(v))
            v = 0
    return ".".join(parts)


OWF = {
    "1.3.14.3.2.26": hashlib.sha1,
    "2.16.840.1.101.3.4.2.1": hashlib.sha256,
    "2.16.840.1.101.3.4.2.2": hashlib.sha384,
    "2.16.840.1.101.3.4.2.3": hashlib.sha512,
}
MAC = {
    "1.3.6.1.5.5.8.1.2": hashlib.sha1,
    "1.2.840.113549.2.7": hashlib.sha1,
    "1.2.840.113549.2.9": hashlib.sha256,
    "1.2.840.113549.2.10": hashlib.sha384,
    "1.2.840.113549.2.11": hashlib.sha512,
}
PBM = "1.2.840.113533.7.66.13"
PBMAC1 = "1.2.840.113549.1.5.14"
PBKDF2 = "1.2.840.113549.1.5.12"
HMAC_OIDS = {"sha1": "1.2.840.113549.2.7", "sha256": "1.2.840.113549.2.9", "sha512": "1.2.840.113549.2.11"}

# How many values each edit takes.
ARITY = {"--tid": 1, "--sender-nonce": 1, "--recip-nonce": 1, "--kid": 1, "--iterations": 1,
         "--cert-hash": 1, "--reject": 0, "--body-type": 1, "--replace": 2, "--csr": 1, "--body": 1,
         "--sign": 1, "--signer": 2, "--secret": 1, "--mac-garbage": 0, "--pbmac1": 3}


def oid(text):
    parts = [int(x) for x in text.split(".")]
    out = bytes([parts[0] * 40 + parts[1]])
    for v in parts[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(chunk))
    return Node(0x06, out)


def alg_id(text):
    return Node(0x30, children=[oid(text), Node(0x05, b"")])


# --- PKIMessage -----------------------------------------------------------------------------------
class Message:
    def __init__(self, der):
        self.top = parse(der)

    @property
    def header(self):
        return self.top.children[0]

    @property
    def body(self):
        return self.top.children[1]

    @body.setter
    def body(self, node):
        self.top.children[1] = node

    # PKIHeader ::= SEQUENCE { pvno, sender, recipient, [0] messageTime, ... }: the tagged
    # fields follow the first three (sender and recipient are GeneralNames, [4] too).
    def field(self, n):
        for c in self.header.children[3:]:
            if c.tag == 0xA0 + n:
                return c
        return None

    def set_field(self, n, node):
        """Header field [n] EXPLICIT; node None removes it. Fields stay in tag order."""
        first, kids = self.header.children[:3], [c for c in self.header.children[3:] if c.tag != 0xA0 + n]
        if node is not None:
            new = Node(0xA0 + n, children=[node])
            at = next((i for i, c in enumerate(kids) if c.tag > 0xA0 + n), len(kids))
            kids.insert(at, new)
        self.header.children = first + kids

    def pbm(self):
        """The PBMParameter SEQUENCE node of protectionAlg, or None."""
        alg = self.field(1)
        if alg is None:
            return None
        seq = alg.children[0]
        if oid_text(seq.children[0].content) != PBM:
            return None
        return seq.children[1]

    def protection(self):
        for c in self.top.children[2:]:
            if c.tag == 0xA0:
                return c
        return None

    def set_protection(self, mac):
        bits = Node(0x03, b"\x00" + mac)
        kids = [c for c in self.top.children[2:] if c.tag != 0xA0]
        self.top.children = self.top.children[:2] + [Node(0xA0, children=[bits])] + kids

    def protected_part(self):
        return Node(0x30, children=[self.header, self.body]).encode()

    def remac(self, secret):
        p = self.pbm()
        if p is None:
            raise SystemExit("the message is not protected by PasswordBasedMac")
        salt = p.children[0].content
        owf = OWF[oid_text(p.children[1].children[0].content)]
        count = int.from_bytes(p.children[2].content, "big")
        mac = MAC[oid_text(p.children[3].children[0].content)]
        key = owf(secret + salt).digest()
        for _ in range(count - 1):
            key = owf(key).digest()
        self.set_protection(hmac.new(key, self.protected_part(), mac).digest())

    def pbmac1(self, secret, iterations, prf):
        salt = os.urandom(16)
        pbkdf2 = [Node(0x04, salt), integer(iterations), integer(32)]
        if prf != "sha1":
            pbkdf2.append(alg_id(HMAC_OIDS[prf]))
        params = Node(0x30, children=[
            Node(0x30, children=[oid(PBKDF2), Node(0x30, children=pbkdf2)]),
            alg_id(HMAC_OIDS["sha256"])])
        self.set_field(1, Node(0x30, children=[oid(PBMAC1), params]))
        key = hashlib.pbkdf2_hmac(prf, secret, salt, iterations, 32)
        self.set_protection(hmac.new(key, self.protected_part(), hashlib.sha256).digest())

    def pbmac1_ok(self, secret):
        alg = self.field(1)
        if alg is None or oid_text(alg.children[0].children[0].content) != PBMAC1:
            return False
        params = alg.children[0].children[1]
        kdf, scheme = params.children[0].children[1], params.children[1]
        salt = kdf.children[0].content
        count = int.from_bytes(kdf.children[1].content, "big")
        length = int.from_bytes(kdf.children[2].content, "big")
        names = {v: k for k, v in HMAC_OIDS.items()}
        prf = names[oid_text(kdf.children[3].children[0].content)] if len(kdf.children) > 3 else "sha1"
        mac = names[oid_text(scheme.children[0].content)]
        key = hashlib.pbkdf2_hmac(prf, secret, salt, count, length)
        want = hmac.new(key, self.protected_part(), mac).digest()
        return self.protection().children[0].content[1:] == want

    def sign(self, key_file):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = serialization.load_pem_private_key(open(key_file, "rb").read(), None)
        sig = key.sign(self.protected_part(), ec.ECDSA(hashes.SHA256()))
        self.set_protection(sig)

    def signer(self, cert_file, key_file):
        """Sender, senderKID and extraCerts become those of this certificate; signed by its key."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding
        cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
        self.header.children[1] = Node(0xA4, children=[parse(cert.subject.public_bytes(), raw=True)])
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        self.set_field(2, octets(ski))
        extra = Node(0xA1, children=[Node(0x30, children=[parse(cert.public_bytes(Encoding.DER), raw=True)])])
        self.top.children = [c for c in self.top.children if c.tag != 0xA1] + [extra]
        self.sign(key_file)

    def status(self):
        """(status, failInfo bits, text) of an error, ip/cp/kup, rp; None for other bodies."""
        kind, content = self.body.tag - 0xA0, self.body.children[0]
        if kind == 23:
            si = content.children[0]
        elif kind in (1, 3, 8):
            rest = [c for c in content.children if c.tag == 0x30]
            si = rest[0].children[0].children[1]
        elif kind == 12:
            si = content.children[0].children[0]
        else:
            return None
        status = int.from_bytes(si.children[0].content, "big")
        bits, text = [], ""
        for c in si.children[1:]:
            if c.tag == 0x03:
                unused, raw = c.content[0], c.content[1:]
                bits = [i for i in range(len(raw) * 8 - unused) if raw[i // 8] & (0x80 >> (i % 8))]
            elif c.tag == 0x30:
                text = "; ".join(s.content.decode("utf-8", "replace") for s in c.children)
        return status, bits, text

    def cert_status(self):
        # body [24] CertConfirmContent ::= SEQUENCE OF CertStatus
        if self.body.tag != 0xA0 + 24:
            raise SystemExit("not a certConf")
        return self.body.children[0].children[0]


def main(argv):
    if argv and argv[0] == "pbmac1":
        print("ok" if Message(open(argv[1], "rb").read()).pbmac1_ok(argv[2].encode()) else "bad")
        return 0
    if argv and argv[0] == "show":
        m = Message(open(argv[1], "rb").read())
        for name, n in (("kid", 2), ("tid", 4), ("sender_nonce", 5), ("recip_nonce", 6)):
            f = m.field(n)
            print(f"{name}={f.children[0].content.hex() if f is not None else ''}")
        p = m.pbm()
        print(f"iterations={int.from_bytes(p.children[2].content, 'big') if p else ''}")
        print(f"body={m.body.tag - 0xA0}")
        if m.body.tag == 0xA0 + 22:
            print(f"items={len(m.body.children[0].children)}")
        st = m.status()
        if st is not None:
            print(f"status={st[0]}")
            print(f"failinfo={','.join(map(str, st[1]))}")
            print(f"text={st[2]}")
        return 0
    src, dst, args = argv[0], argv[1], argv[2:]
    m = Message(open(src, "rb").read())
    i = 0
    while i < len(args):
        a = args[i]
        n = ARITY.get(a)
        if n is None or i + n >= len(args):
            raise SystemExit(f"unknown edit or missing value: {a}")
        v = args[i + 1:i + 1 + n]
        i += 1 + n
        if a == "--tid":
            m.set_field(4, octets(bytes.fromhex(v[0])))
        elif a == "--sender-nonce":
            m.set_field(5, octets(bytes.fromhex(v[0])))
        elif a == "--recip-nonce":
            m.set_field(6, None if v[0] == "-" else octets(bytes.fromhex(v[0])))
        elif a == "--kid":
            m.set_field(2, None if v[0] == "-" else octets(v[0].encode()))
        elif a == "--iterations":
            m.pbm().children[2] = integer(int(v[0]))
        elif a == "--cert-hash":
            m.cert_status().children[0] = octets(bytes.fromhex(v[0]))
        elif a == "--reject":
            st = m.cert_status()
            # PKIStatusInfo { status rejection(2), statusString, failInfo badRequest (bit 2) }
            si = Node(0x30, children=[integer(2), Node(0x30, children=[Node(0x0C, b"refused")]),
                                      Node(0x03, b"\x05\x20")])
            st.children = st.children[:2] + [si]
        elif a == "--body-type":
            m.body.tag = 0xA0 + int(v[0])
        elif a == "--replace":
            old, new = bytes.fromhex(v[0]), bytes.fromhex(v[1])
            enc = m.body.encode()
            if old not in enc or len(old) != len(new):
                raise SystemExit(f"--replace: {v[0]} not in the body, or not as long as {v[1]}")
            m.body = parse(enc.replace(old, new, 1))
        elif a == "--csr":
            m.body = Node(0xA4, children=[parse(open(v[0], "rb").read(), raw=True)])
        elif a == "--body":
            m.body = Node(m.body.tag, children=[parse(bytes.fromhex(v[0]), raw=True)])
        elif a == "--sign":
            m.sign(v[0])
        elif a == "--signer":
            m.signer(v[0], v[1])
        elif a == "--secret":
            m.remac(v[0].encode())
        elif a == "--pbmac1":
            m.pbmac1(v[0].encode(), int(v[1]), v[2])
        elif a == "--mac-garbage":
            old = m.protection()
            m.set_protection(b"\x00" * (len(old.children[0].content) - 1 if old else 32))
    open(dst, "wb").write(m.top.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
