#!/usr/bin/python3
"""A hostile ACME client against a running certward (acme_hostile_test.sh starts it).

Each check prints one line ("ok" or "FAIL", its name, and on failure what was wrong); the
last line is "N passed, N failed", and the exit status is 1 if any failed. A request the
server must refuse is checked for its ACME problem type, its HTTP status, a problem+json
body and a fresh Replay-Nonce, and for changing nothing: the ACME tables, the inventory and
the audit log are the same before and after it.

Environment: DIRECTORY (the directory URL), ROOT (CA file), HTTP01_PORT, CERTWARD_DATA_DIR,
CERTWARD_BIN (for `certward cert show`).
"""

import concurrent.futures
import datetime
import hashlib
import json
import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import traceback
import urllib.parse

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme_client import (ERROR_PREFIX, OMIT, Account, Acme, Http01Server, Key,  # noqa: E402
                         b64u, b64u_decode, b64u_json, cert_id, first_cert_der, hmac_sign,
                         load_cert, make_csr)

DIRECTORY = os.environ["DIRECTORY"]
ROOT = os.environ["ROOT"]
DB = os.path.join(os.environ["CERTWARD_DATA_DIR"], "certward.db")
CW = os.environ["CERTWARD_BIN"]
ZONE = "acme.test"

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
        print(f"ok   {name}", flush=True)
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def snapshot():
    """What a refused request must leave alone, table by table."""
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, timeout=10)
    try:
        queries = {
            "accounts": "SELECT id, status, thumbprint, jwk, contact, tos_agreed "
                        "FROM acme_accounts",
            "orders": "SELECT id, status, certificate, replaces, error FROM acme_orders",
            "authorizations": "SELECT id, status, expires FROM acme_authorizations",
            "challenges": "SELECT id, status, validated, error FROM acme_challenges",
            "certificates": "SELECT fingerprint, revoked_at, revocation_reason, superseded_by "
                            "FROM certificates",
            "audit": "SELECT seq, action FROM audit_events WHERE action LIKE 'acme.%' "
                     "OR action LIKE 'certificate.%'",
        }
        return {t: sorted(db.execute(q).fetchall(), key=repr) for t, q in queries.items()}
    finally:
        db.close()


def changes(before, after):
    return [f"{t} changed ({len(before[t])} -> {len(after[t])} rows)"
            for t in before if before[t] != after[t]]


def db_value(query, *args):
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, timeout=10)
    try:
        row = db.execute(query, args).fetchone()
        return row[0] if row else None
    finally:
        db.close()


def body_of(r):
    try:
        return r.json()
    except ValueError:
        return {}


def brief(r):
    return f"[{r.status_code} {r.text[:300]}]"


def raw_exchange(head, body=b""):
    """Sends a hand-made HTTP/1.1 request over TLS; returns (status, raw reply). The server
    may stop reading a body it refuses: what it answered is read all the same."""
    split = urllib.parse.urlsplit(DIRECTORY)
    ctx = ssl.create_default_context(cafile=ROOT)
    with socket.create_connection((split.hostname, split.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=split.hostname) as s:
            s.sendall(head)
            try:
                s.sendall(body)
            except (ssl.SSLError, OSError):
                pass
            reply = b""
            try:
                while chunk := s.recv(65536):
                    reply += chunk
            except (ssl.SSLError, OSError):
                pass
    line = reply.split(b"\r\n", 1)[0].decode(errors="replace").split()
    return (int(line[1]) if len(line) > 1 and line[1].isdigit() else 0), reply


def refused(name, send, types, statuses, extra=None, nonce=True):
    """`send` must be refused with one of `types` (ACME error names) and `statuses`, with a
    problem document and a Replay-Nonce, and change nothing."""
    types = (types,) if isinstance(types, str) else types
    statuses = (statuses,) if isinstance(statuses, int) else statuses
    before = snapshot()
    try:
        r = send()
    except Exception as e:  # a reset connection is no answer
        return check(name, False, f"no response: {e!r}")
    after = snapshot()
    errs = []
    p = body_of(r)
    if p.get("type") not in [ERROR_PREFIX + t for t in types]:
        errs.append(f"type {p.get('type')!r}, want {' or '.join(types)}")
    if r.status_code not in statuses:
        errs.append(f"status {r.status_code}, want {statuses}")
    if not r.headers.get("Content-Type", "").startswith("application/problem+json"):
        errs.append(f"Content-Type {r.headers.get('Content-Type')!r}")
    if nonce and not r.headers.get("Replay-Nonce"):
        errs.append("no Replay-Nonce")
    errs += changes(before, after)
    if extra:
        errs += extra(r, p) or []
    return check(name, not errs, "; ".join(errs) + " " + brief(r))


def section(fn):
    """Runs one group of checks; an exception fails the group instead of the whole run."""
    try:
        fn()
    except Exception:
        check(f"{fn.__name__} ran to its end", False, traceback.format_exc().replace("\n", " | "))


class MacKey:
    """Signs like a JWS MAC algorithm would: no account key can verify it."""

    def __init__(self, alg="HS256"):
        self.alg = alg
        self.secret = os.urandom(32)

    def sign(self, data, alg=None):
        return hmac_sign(self.secret, data)


def fingerprint(pem_or_der):
    cert = load_cert(pem_or_der)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def cert_status(fp):
    out = subprocess.run([CW, "cert", "show", fp, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        return f"cert show failed: {out.stderr.strip()}"
    return json.loads(out.stdout).get("status")


def order_count():
    return db_value("SELECT COUNT(*) FROM acme_orders")


def leaf(pem):
    return load_cert(pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------------------------------
acme = Acme(DIRECTORY, ROOT)
http01 = Http01Server(int(os.environ["HTTP01_PORT"]))
NEW_ORDER = acme.url("newOrder")
NEW_ACCOUNT = acme.url("newAccount")
ORDER_IDS = [{"type": "dns", "value": "www." + ZONE}]

alice = Account(acme, alg="ES256")  # the victim: owns orders, authorizations, certificates
bob = Account(acme, alg="RS256")  # the attacker, with an account of his own
for who in (alice, bob):
    r = who.create(contact=["mailto:ops@" + ZONE])
    if r.status_code != 201:
        sys.exit(f"setup: newAccount answered {r.status_code} {r.text}")


def accounts_with_every_algorithm():
    for alg in ("ES256", "ES384", "ES512", "RS256", "EdDSA"):
        a = Account(acme, alg=alg)
        r = a.create()
        ok = r.status_code == 201 and body_of(r).get("key") == a.key.jwk()
        if ok:
            ok = a.get(a.kid).status_code == 200
        check(f"an account signed with {alg} is created and answers its kid requests", ok, brief(r))


def malformed_jws():
    def order_jws(**kw):
        return acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS}, alice.key, alice.kid, **kw)

    refused("a body that is not JSON is malformed",
            lambda: acme.post(NEW_ORDER, "this is not a JWS"), "malformed", 400)
    j = order_jws()
    refused("the compact serialization is malformed",
            lambda: acme.post(NEW_ORDER, f"{j['protected']}.{j['payload']}.{j['signature']}"),
            "malformed", 400)
    refused("the general serialization (signatures array) is malformed",
            lambda: acme.post(NEW_ORDER, {"payload": j["payload"], "signatures": [
                {"protected": j["protected"], "signature": j["signature"]}]}), "malformed", 400)
    for member in ("signature", "protected", "payload"):
        j = order_jws()
        del j[member]
        refused(f"a JWS without \"{member}\" is malformed",
                lambda j=j: acme.post(NEW_ORDER, j), "malformed", 400)
    j = order_jws()
    refused("an empty signature is malformed",
            lambda: acme.post(NEW_ORDER, dict(j, signature="")), "malformed", 400)
    refused("a signature that is not base64url is malformed",
            lambda: acme.post(NEW_ORDER, dict(order_jws(), signature="*not+base64/url=")),
            "malformed", 400)
    refused("a padded base64url protected header is malformed",
            lambda: acme.post(NEW_ORDER, dict(order_jws(),
                                              protected=order_jws()["protected"] + "=")),
            "malformed", 400)
    refused("a payload that is not base64url is malformed",
            lambda: acme.post(NEW_ORDER, dict(order_jws(), payload="$$$")), "malformed", 400)
    j = order_jws()
    refused("an unprotected \"header\" is malformed",
            lambda: acme.post(NEW_ORDER, dict(j, header={"kid": alice.kid})), "malformed", 400)
    refused("a JSON array as the whole JWS is malformed",
            lambda: acme.post(NEW_ORDER, [order_jws()]), "malformed", 400)
    protected = {"alg": "ES256", "nonce": acme.new_nonce(), "url": NEW_ORDER, "kid": alice.kid}
    dup = json.dumps(protected)[:-1] + ', "alg": "none"}'
    refused("a protected header repeating a member is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(protected_raw=b64u(dup))), "malformed", 400)
    refused("a protected header that is not an object is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(protected_raw=b64u('["ES256"]'))),
            "malformed", 400)
    refused("\"b64\": false in the protected header is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(header={"b64": False, "crit": ["b64"]})),
            "malformed", 400)
    refused("\"crit\" in the protected header is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(header={"crit": ["exp"], "exp": 1})),
            "malformed", 400)
    refused("a payload repeating a member is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(payload_raw=(
                '{"identifiers": [{"type": "dns", "value": "www.acme.test"}],'
                ' "identifiers": [{"type": "dns", "value": "evil.example"}]}'))),
            "malformed", 400)
    refused("a payload that is a JSON array is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(payload_raw='[{"identifiers": []}]')),
            "malformed", 400)
    refused("a payload that is not JSON is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(payload_raw="identifiers=www.acme.test")),
            "malformed", 400)
    refused("a payload that is JSON null is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(payload_raw="null")), "malformed", 400)
    refused("a JWS sent as application/json is refused (415)",
            lambda: acme.post(NEW_ORDER, order_jws(), content_type="application/json"),
            "malformed", 415)
    refused("a signature by another key than the account's is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(sign_key=Key.generate("ES256"))),
            "malformed", 400)
    j = order_jws()
    short = b64u(b64u_decode(j["signature"])[:63])
    refused("a truncated ES256 signature is malformed",
            lambda: acme.post(NEW_ORDER, dict(j, signature=short)), "malformed", 400)
    refused("an ES384 alg over a P-256 account key is badSignatureAlgorithm",
            lambda: acme.post(NEW_ORDER, order_jws(alg="ES384", sign_alg="ES384")),
            "badSignatureAlgorithm", 400)
    refused("an RS256 alg over a P-256 account key is badSignatureAlgorithm",
            lambda: acme.post(NEW_ORDER, order_jws(alg="RS256")), "badSignatureAlgorithm", 400)


def unsupported_algorithms():
    def has_algorithms(r, p):
        algs = p.get("algorithms")
        if not isinstance(algs, list) or "ES256" not in algs or "RS256" not in algs:
            return [f"\"algorithms\" {algs!r} does not list ES256 and RS256"]
        bad = [a for a in algs if a in ("none", "HS256", "PS256")]
        return [f"\"algorithms\" lists {bad}"] if bad else []

    def order_jws(**kw):
        return acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS}, alice.key, alice.kid, **kw)

    refused("alg none with a signature is badSignatureAlgorithm, listing the algorithms",
            lambda: acme.post(NEW_ORDER, order_jws(alg="none", sign_key=MacKey())),
            "badSignatureAlgorithm", 400, has_algorithms)
    j = order_jws(alg="none")
    refused("alg none without a signature is refused",
            lambda: acme.post(NEW_ORDER, dict(j, signature="")),
            ("badSignatureAlgorithm", "malformed"), 400)
    refused("HS256 (a MAC) is badSignatureAlgorithm, listing the algorithms",
            lambda: acme.post(NEW_ORDER, order_jws(alg="HS256", sign_key=MacKey())),
            "badSignatureAlgorithm", 400, has_algorithms)
    refused("PS256 by an RSA account is badSignatureAlgorithm, listing the algorithms",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS},
                                                  bob.key, bob.kid, alg="PS256")),
            "badSignatureAlgorithm", 400, has_algorithms)
    psk = Key.generate("PS256")
    refused("newAccount signed PS256 is badSignatureAlgorithm, listing the algorithms",
            lambda: acme.signed(NEW_ACCOUNT, {"termsOfServiceAgreed": True}, psk),
            "badSignatureAlgorithm", 400, has_algorithms)
    refused("an alg that is not a string is malformed",
            lambda: acme.post(NEW_ORDER, order_jws(header={"alg": 256}, sign_alg="ES256")),
            ("malformed", "badSignatureAlgorithm"), 400)


def bad_account_keys():
    def new_account_jwk(jwk, key=None):
        key = key or Key.generate("ES256")
        return acme.post(NEW_ACCOUNT, acme.jws(NEW_ACCOUNT, {"termsOfServiceAgreed": True}, key,
                                               header={"jwk": jwk}))

    k = Key.generate("ES256")
    nums = k.private.private_numbers()
    with_d = dict(k.jwk(), d=b64u(nums.private_value.to_bytes(32, "big")))
    refused("a jwk carrying its private key is badPublicKey",
            lambda: new_account_jwk(with_d, k), "badPublicKey", 400)
    small = Key(rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256")
    refused("a 1024-bit RSA account key is badPublicKey",
            lambda: new_account_jwk(small.jwk(), small), "badPublicKey", 400)
    off = dict(k.jwk(), y=b64u(bytes(31) + b"\x01"))
    refused("an EC point off its curve is badPublicKey",
            lambda: new_account_jwk(off, k), "badPublicKey", 400)
    short_x = dict(k.jwk(), x=b64u(b64u_decode(k.jwk()["x"])[1:]))
    refused("an EC jwk whose x is shorter than its curve's size is refused",
            lambda: new_account_jwk(short_x, k), ("badPublicKey", "malformed"), 400)
    rk = Key.generate("RS256")
    refused("an RSA jwk with exponent 1 is badPublicKey",
            lambda: new_account_jwk(dict(rk.jwk(), e=b64u(b"\x01")), rk), "badPublicKey", 400)
    refused("a symmetric (kty oct) jwk is refused",
            lambda: new_account_jwk({"kty": "oct", "k": b64u(os.urandom(32))}),
            ("badPublicKey", "malformed"), 400)
    refused("a jwk that is a string is malformed",
            lambda: new_account_jwk("not a key"), "malformed", 400)


def nonces():
    before = order_count()
    j = acme.jws(NEW_ORDER, {"identifiers": [{"type": "dns", "value": "replay." + ZONE}]},
                 alice.key, alice.kid)
    first = acme.post(NEW_ORDER, j)
    check("an order request is accepted once", first.status_code == 201, brief(first))

    sent = json.loads(b64u_decode(j["protected"]))["nonce"]
    # Not through refused(): trying the fresh nonce creates an order, counted below.
    r = acme.post(NEW_ORDER, j)
    errs = []
    if body_of(r).get("type") != ERROR_PREFIX + "badNonce" or r.status_code != 400:
        errs.append(f"{body_of(r).get('type')} {r.status_code}")
    fresh = r.headers.get("Replay-Nonce")
    if not fresh or fresh == sent:
        errs.append(f"Replay-Nonce {fresh!r}")
    else:
        retry = acme.post(NEW_ORDER, acme.jws(
            NEW_ORDER, {"identifiers": [{"type": "dns", "value": "retry." + ZONE}]},
            alice.key, alice.kid, nonce=fresh))
        if retry.status_code != 201:
            errs.append(f"its Replay-Nonce does not work: {brief(retry)}")
    check("the same request replayed is badNonce (400) with a fresh, usable Replay-Nonce",
          not errs, "; ".join(errs) + " " + brief(r))
    check("the replay created no order (one order, and one from the retry)",
          order_count() == before + 2, f"{order_count() - before} orders created")

    def order(**kw):
        return acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS}, alice.key,
                                             alice.kid, **kw))

    refused("an unknown nonce is badNonce", lambda: order(nonce=b64u(os.urandom(16))),
            "badNonce", 400)
    refused("no nonce is badNonce", lambda: order(header={"nonce": OMIT}), "badNonce", 400)
    refused("an empty nonce is badNonce", lambda: order(header={"nonce": ""}), "badNonce", 400)
    refused("a 4 KiB nonce is badNonce", lambda: order(header={"nonce": "A" * 4096}),
            "badNonce", 400)
    refused("a nonce that is a number is refused", lambda: order(header={"nonce": 12345}),
            ("badNonce", "malformed"), 400)
    r = acme.session.head(acme.url("newNonce"))
    r2 = acme.session.get(acme.url("newNonce"))
    check("newNonce answers HEAD 200 and GET 204, each with a distinct nonce and no-store",
          r.status_code == 200 and r2.status_code == 204 and
          r.headers.get("Replay-Nonce") and r.headers.get("Replay-Nonce") !=
          r2.headers.get("Replay-Nonce") and "no-store" in r.headers.get("Cache-Control", ""),
          f"HEAD {r.status_code} {dict(r.headers)} GET {r2.status_code}")


def urls_and_hosts():
    def order(url, **kw):
        return acme.jws(url, {"identifiers": ORDER_IDS}, alice.key, alice.kid, **kw)

    refused("a JWS whose url is another resource is unauthorized",
            lambda: acme.post(NEW_ORDER, order(NEW_ACCOUNT)), "unauthorized", 403)
    evil = NEW_ORDER.replace(urllib.parse.urlsplit(NEW_ORDER).netloc, "evil.example")
    refused("a JWS whose url names another host is unauthorized",
            lambda: acme.post(NEW_ORDER, order(evil)), "unauthorized", 403)
    refused("a JWS whose url adds a query is unauthorized",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER + "?x=1")), "unauthorized", 403)
    refused("a JWS whose url is http:// is unauthorized",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER.replace("https://", "http://"))),
            "unauthorized", 403)
    refused("a JWS with a trailing slash on its url is unauthorized",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER + "/")), "unauthorized", 403)
    refused("a JWS with no url is malformed",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER, header={"url": OMIT})), "malformed", 400)
    refused("a Host header naming another server, url naming this one: unauthorized",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER), headers={"Host": "evil.example"}),
            "unauthorized", 403)
    refused("a Host header with '@' is malformed",
            lambda: acme.post(NEW_ORDER, order(NEW_ORDER), headers={"Host": "evil@127.0.0.1"}),
            "malformed", 400, nonce=False)
    # An absolute-form request target naming another host, over the same TLS connection.
    before = snapshot()
    body = json.dumps(order(NEW_ORDER)).encode()
    status, reply = raw_exchange(
        b"POST https://evil.example/acme/new-order HTTP/1.1\r\nHost: evil.example\r\n"
        b"Content-Type: application/jose+json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n", body)
    errs = changes(before, snapshot())
    check("an absolute-form target naming another host is refused and changes nothing",
          400 <= status < 500 and not errs, f"{reply[:200]!r}; {errs}")


def key_identification():
    def order(**kw):
        return acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS}, alice.key,
                                             alice.kid, **kw))

    refused("kid and jwk together are malformed",
            lambda: order(header={"jwk": alice.key.jwk()}), "malformed", 400)
    refused("neither kid nor jwk is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS},
                                                  alice.key, header={"jwk": OMIT})),
            "malformed", 400)
    refused("an empty kid is malformed", lambda: order(header={"kid": ""}), "malformed", 400)
    prefix = alice.kid[: alice.kid.rindex("/") + 1]
    refused("an unknown account kid is accountDoesNotExist",
            lambda: order(header={"kid": prefix + "doesNotExist12345"}), "accountDoesNotExist",
            (400, 404))
    refused("a kid outside the account URLs is accountDoesNotExist",
            lambda: order(header={"kid": prefix + "../account/" + alice.kid.rsplit("/", 1)[1]}),
            ("accountDoesNotExist", "malformed"), (400, 404))
    refused("a kid that is not a URL at all is accountDoesNotExist",
            lambda: order(header={"kid": alice.kid.rsplit("/", 1)[1]}),
            ("accountDoesNotExist", "malformed"), (400, 404))
    refused("newOrder signed with a jwk instead of a kid is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS},
                                                  alice.key)), "malformed", 400)
    refused("newAccount signed with a kid instead of a jwk is malformed",
            lambda: acme.post(NEW_ACCOUNT, acme.jws(NEW_ACCOUNT, {"termsOfServiceAgreed": True},
                                                    alice.key, alice.kid)), "malformed", 400)
    # Another directory of the same server: its URLs, and this directory's account.
    other = Acme(DIRECTORY.replace("/acme/directory", "/acme/eab/directory"), ROOT)
    other_new_order = other.url("newOrder")
    refused("a kid of another directory is accountDoesNotExist there",
            lambda: acme.post(other_new_order, acme.jws(other_new_order,
                                                        {"identifiers": ORDER_IDS}, alice.key,
                                                        alice.kid)),
            "accountDoesNotExist", (400, 404))
    moved = other_new_order.replace("new-order", "account/" + alice.kid.rsplit("/", 1)[1])
    refused("this directory's account id under another directory's URL is accountDoesNotExist",
            lambda: acme.post(other_new_order, acme.jws(other_new_order,
                                                        {"identifiers": ORDER_IDS}, alice.key,
                                                        moved)),
            "accountDoesNotExist", (400, 404))
    refused("a directory requiring EAB refuses newAccount without one (externalAccountRequired)",
            lambda: other.signed(other.url("newAccount"), {"termsOfServiceAgreed": True},
                                 Key.generate("ES256")), "externalAccountRequired", (400, 403))
    k = Key.generate("ES256")
    eab_p = b64u_json({"alg": "HS256", "kid": "no-such-eab-key", "url": other.url("newAccount")})
    eab_y = b64u_json(k.jwk())
    eab = {"protected": eab_p, "payload": eab_y,
           "signature": b64u(hmac_sign(os.urandom(32), f"{eab_p}.{eab_y}".encode()))}
    refused("an EAB naming an unknown key is unauthorized",
            lambda: other.signed(other.url("newAccount"), {"termsOfServiceAgreed": True,
                                                           "externalAccountBinding": eab}, k),
            ("unauthorized", "malformed"), (400, 403))


def oversized():
    big = {"identifiers": ORDER_IDS, "padding": "x" * (100 * 1024)}
    refused("a 100 KiB JWS is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, big, alice.key, alice.kid)),
            "malformed", (400, 413))
    many = [{"type": "dns", "value": f"n{i}.{ZONE}"} for i in range(10000)]
    refused("10000 identifiers are refused",
            lambda: alice.new_order(identifiers=many), ("malformed", "rejectedIdentifier"),
            (400, 413))
    before = snapshot()
    body = json.dumps(acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS,
                                           "padding": "x" * (2 * 1024 * 1024)},
                               alice.key, alice.kid)).encode()
    host = urllib.parse.urlsplit(DIRECTORY).netloc.encode()
    status, reply = raw_exchange(
        b"POST /acme/new-order HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"Content-Type: application/jose+json\r\nContent-Length: " +
        str(len(body)).encode() + b"\r\n\r\n", body)
    errs = changes(before, snapshot())
    check("a 2 MiB body is refused (413) and changes nothing",
          status == 413 and not errs, f"{reply[:300]!r} {errs}")
    deep_array = "[" * 20000 + "]" * 20000
    deep_object = '{"a":' * 7000 + "1" + "}" * 7000
    refused("a payload of 20000 nested arrays is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, None, alice.key, alice.kid,
                                                  payload_raw=deep_array)), "malformed", 400)
    refused("a payload of 7000 nested objects is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, None, alice.key, alice.kid,
                                                  payload_raw=deep_object)), "malformed", 400)
    refused("a protected header of 7000 nested objects is malformed",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, None, alice.key, alice.kid,
                                                  protected_raw=b64u(deep_object))),
            "malformed", 400)
    refused("a whole body of 30000 nested arrays is malformed",
            lambda: acme.post(NEW_ORDER, "[" * 30000 + "]" * 30000), "malformed", 400)
    d = acme.session.get(DIRECTORY)
    r = alice.get(alice.kid)
    check("the server keeps serving after the 2 MiB body",
          d.status_code == 200 and r.status_code == 200, f"{d.status_code} {brief(r)}")


def identifiers():
    def rejected(name, ids, types, statuses=400, subproblems=None, **extra):
        def subs(r, p):
            if subproblems is None:
                return []
            got = p.get("subproblems") or []
            want = sorted(json.dumps(i, sort_keys=True) for i in subproblems)
            have = sorted(json.dumps(s.get("identifier"), sort_keys=True) for s in got)
            errs = [] if want == have else [f"subproblems name {have}, want {want}"]
            if any(not str(s.get("type", "")).startswith(ERROR_PREFIX) for s in got):
                errs.append("a subproblem has no ACME type")
            return errs
        refused(name, lambda: alice.new_order(identifiers=ids, **extra), types, statuses, subs)

    def dns(v):
        return {"type": "dns", "value": v}

    ip = {"type": "ip", "value": "127.0.0.1"}
    rejected("an IP identifier the profile forbids is rejectedIdentifier, with its subproblem",
             [ip], "rejectedIdentifier", subproblems=[ip])
    rejected("a DNS name with an empty label (a..b.acme.test) is rejected",
             [dns("a..b." + ZONE)], ("rejectedIdentifier", "malformed"))
    rejected("a wildcard the profile forbids is rejectedIdentifier, with its subproblem",
             [dns("*." + ZONE)], "rejectedIdentifier", subproblems=[dns("*." + ZONE)])
    email = {"type": "email", "value": "ops@" + ZONE}
    rejected("an email identifier is unsupportedIdentifier",
             [email], ("unsupportedIdentifier", "rejectedIdentifier"), subproblems=[email])
    rejected("an unknown identifier type is unsupportedIdentifier",
             [{"type": "dnsname", "value": "www." + ZONE}], "unsupportedIdentifier")
    mixed = [dns("ok." + ZONE), dns("*." + ZONE), ip, email, dns("evil.example")]
    rejected("several bad identifiers: one subproblem for each, none for the good one",
             mixed, "rejectedIdentifier", subproblems=mixed[1:])
    almost = {
        "a name that merely ends in the allowed domain (evilacme.test)": "evil" + ZONE,
        "the allowed domain under another one (acme.test.evil.example)": ZONE + ".evil.example",
        "a trailing dot (www.acme.test.)": "www." + ZONE + ".",
        "a U-label (bücher.acme.test)": "bücher." + ZONE,
        "a leading space": " www." + ZONE,
        "an embedded NUL": "www." + ZONE + "\u0000.evil.example",
        "a port (www.acme.test:443)": "www." + ZONE + ":443",
        "a label starting with '-'": "-www." + ZONE,
        "a 64-octet label": "a" * 64 + "." + ZONE,
        "a 314-octet name": ".".join(["a" * 60] * 5) + "." + ZONE,
        "a double wildcard (*.*.acme.test)": "*.*." + ZONE,
        "a wildcard not leftmost (www.*.acme.test)": "www.*." + ZONE,
        "a partial wildcard (w*.acme.test)": "w*." + ZONE,
        "an address as a dns identifier (127.0.0.1)": "127.0.0.1",
        "the bare TLD (test)": "test",
        "a URL (https://www.acme.test/)": "https://www." + ZONE + "/",
        "an underscore label (_acme-challenge.acme.test)": "_acme-challenge." + ZONE,
    }
    for what, value in almost.items():
        rejected(f"{what} is rejected", [dns(value)], ("rejectedIdentifier", "malformed"))
    rejected("an identifier value that is a number is malformed",
             [{"type": "dns", "value": 42}], ("malformed", "rejectedIdentifier"))
    rejected("an identifier without a value is malformed", [{"type": "dns"}],
             ("malformed", "rejectedIdentifier"))
    rejected("an empty identifiers list is malformed", [], "malformed")
    rejected("101 identifiers are refused",
             [dns(f"n{i}.{ZONE}") for i in range(101)], ("malformed", "rejectedIdentifier"))
    refused("identifiers that are an object are malformed",
            lambda: alice.post(NEW_ORDER, {"identifiers": dns("www." + ZONE)}), "malformed", 400)
    refused("a newOrder without identifiers is malformed",
            lambda: alice.post(NEW_ORDER, {"profile": "hostile-web"}), "malformed", 400)
    rejected("a profile the directory does not offer (tls-server) is invalidProfile",
             ORDER_IDS, "invalidProfile", profile="tls-server")
    rejected("an unknown profile is invalidProfile", ORDER_IDS, "invalidProfile",
             profile="no-such-profile")
    rejected("a profile that is not a string is malformed", ORDER_IDS,
             ("malformed", "invalidProfile"), profile=["hostile-web"])
    rejected("a notAfter in the past is malformed", ORDER_IDS, "malformed",
             notAfter="2001-01-01T00:00:00Z")
    rejected("a notAfter beyond the profile's longest validity is malformed", ORDER_IDS,
             "malformed", notAfter="2099-01-01T00:00:00Z")
    rejected("a notBefore that is not a time is malformed", ORDER_IDS, "malformed",
             notBefore="tomorrow")
    rejected("\"replaces\" that is not a certID is malformed", ORDER_IDS, "malformed",
             replaces="not-a-cert-id")
    r = alice.new_order(identifiers=[dns("MiXeD." + ZONE.upper()), dns("mixed." + ZONE)])
    ids = body_of(r).get("identifiers")
    check("an upper-case name is ordered in lower case, once",
          r.status_code == 201 and ids == [dns("mixed." + ZONE)], brief(r))


def methods():
    order_url, _ = alice.ready_order(["methods." + ZONE], http01)
    for name, url in (("newOrder", NEW_ORDER), ("newAccount", NEW_ACCOUNT),
                      ("revokeCert", acme.url("revokeCert")), ("keyChange", acme.url("keyChange")),
                      ("an order", order_url), ("an account", alice.kid)):
        r = acme.session.get(url)
        check(f"GET on {name} is 405 with Allow: POST",
              r.status_code == 405 and "POST" in r.headers.get("Allow", ""),
              f"{r.status_code} Allow={r.headers.get('Allow')!r}")
    refused("POST-as-GET to newOrder is malformed", lambda: alice.get(NEW_ORDER), "malformed", 400)
    refused("POST-as-GET to newAccount is malformed",
            lambda: acme.signed(NEW_ACCOUNT, None, Key.generate("ES256")), "malformed", 400)
    refused("POST-as-GET to revokeCert is malformed",
            lambda: alice.get(acme.url("revokeCert")), "malformed", 400)
    refused("POST-as-GET to finalize is malformed",
            lambda: alice.get(order_url + "/finalize"), "malformed", 400)


def cross_account_and_challenges():
    r = alice.new_order(["victim." + ZONE])
    order_url, order = r.headers["Location"], r.json()
    authz_url = order["authorizations"][0]
    authz = alice.get(authz_url).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
    # Serve the right answer: only the server's refusal keeps the challenge pending.
    http01.tokens[chall["token"]] = alice.key_authorization(chall["token"])

    def status(url):
        return alice.get(url).json().get("status")

    refused("another account's POST {} to a challenge is refused (404)",
            lambda: bob.post(chall["url"], {}), ("notFound", "unauthorized"), (403, 404))
    time.sleep(0.5)
    check("that challenge and its authorization stay pending",
          status(chall["url"]) == "pending" and status(authz_url) == "pending",
          f"{status(chall['url'])} {status(authz_url)}")
    refused("another account cannot read the order", lambda: bob.get(order_url),
            ("notFound", "unauthorized"), (403, 404))
    refused("another account cannot read the authorization", lambda: bob.get(authz_url),
            ("notFound", "unauthorized"), (403, 404))
    refused("another account cannot read the challenge", lambda: bob.get(chall["url"]),
            ("notFound", "unauthorized"), (403, 404))
    refused("another account cannot deactivate the authorization",
            lambda: bob.post(authz_url, {"status": "deactivated"}), ("notFound", "unauthorized"),
            (403, 404))
    refused("another account cannot read this account", lambda: bob.get(alice.kid),
            ("unauthorized", "notFound"), (403, 404))
    refused("another account cannot update this account",
            lambda: bob.post(alice.kid, {"contact": ["mailto:evil@evil.example"]}),
            ("unauthorized", "notFound"), (403, 404))
    refused("another account cannot list this account's orders",
            lambda: bob.get(alice.kid + "/orders"), ("unauthorized", "notFound"), (403, 404))
    refused("another account cannot finalize the order",
            lambda: bob.finalize(order, make_csr(Key.generate(), ["victim." + ZONE])),
            ("notFound", "unauthorized"), (403, 404))
    for name, url in (("an order", order_url), ("an order list", alice.kid + "/orders")):
        refused(f"{name} is read with POST-as-GET: a payload is malformed",
                lambda url=url: alice.post(url, {}), "malformed", 400)
    refused("an authorization cannot be set to valid",
            lambda: alice.post(authz_url, {"status": "valid"}), "malformed", 400)
    refused("finalizing an order that is not ready is orderNotReady (403)",
            lambda: alice.finalize(order, make_csr(Key.generate(), ["victim." + ZONE])),
            "orderNotReady", 403)
    # POST-as-GET reads the challenge; only {} starts its validation.
    r = alice.get(chall["url"])
    time.sleep(1)
    check("POST-as-GET to a challenge does not start its validation",
          r.status_code == 200 and status(chall["url"]) == "pending", f"{brief(r)}")
    r = alice.post(chall["url"], {})
    final = alice.poll(authz_url, ("valid", "invalid"))
    check("POST {} to the challenge starts it, and the authorization becomes valid",
          r.status_code == 200 and final.get("status") == "valid", f"{brief(r)} {final}")
    bob_orders = bob.get(bob.kid + "/orders").json().get("orders", [])
    check("another account's order list does not show this account's order",
          order_url not in bob_orders, str(bob_orders))
    # Bob's own order for the same name gets its own challenge; Alice's validation is
    # not his, and answering with Alice's key authorization fails.
    r = bob.new_order(["victim." + ZONE])
    b_authz = bob.get(r.json()["authorizations"][0]).json()
    check("another account's order for the name does not reuse this account's authorization",
          b_authz.get("status") == "pending", str(b_authz))
    b_chall = next(c for c in b_authz["challenges"] if c["type"] == "http-01")
    http01.tokens[b_chall["token"]] = alice.key_authorization(b_chall["token"])
    bob.post(b_chall["url"], {})
    b_final = bob.poll(r.json()["authorizations"][0], ("valid", "invalid"))
    check("http-01 answered with another account's key authorization fails (unauthorized)",
          b_final.get("status") == "invalid" and
          any(c.get("error", {}).get("type") == ERROR_PREFIX + "unauthorized"
              for c in b_final.get("challenges", [])), str(b_final))
    # Deactivated authorizations stay dead: {} to their challenge starts nothing.
    r = alice.new_order(["deact." + ZONE])
    d_authz_url = r.json()["authorizations"][0]
    d = alice.post(d_authz_url, {"status": "deactivated"})
    d_chall = next(c for c in alice.get(d_authz_url).json()["challenges"]
                   if c["type"] == "http-01")
    http01.tokens[d_chall["token"]] = alice.key_authorization(d_chall["token"])
    alice.post(d_chall["url"], {})
    time.sleep(1)
    check("a deactivated authorization stays deactivated when its challenge is answered",
          d.status_code == 200 and status(d_authz_url) == "deactivated" and
          status(d_chall["url"]) == "pending", f"{brief(d)} {status(d_authz_url)}")
    check("the order of a deactivated authorization is invalid",
          alice.get(r.headers["Location"]).json().get("status") == "invalid", "")


def finalize():
    names = ["f1." + ZONE, "f2." + ZONE]
    order_url, order = alice.ready_order(names, http01)

    def still_ready():
        s = alice.get(order_url).json().get("status")
        return [] if s == "ready" else [f"the order is {s} afterwards"]

    def bad(name, csr, types=("badCSR",), statuses=(400,), payload=None):
        refused(name, lambda: alice.post(order["finalize"], payload or {"csr": b64u(csr)}),
                types, statuses, lambda r, p: still_ready())

    k = Key.generate("ES256")
    bad("a CSR with a name beyond the order's is badCSR; the order stays ready",
        make_csr(k, names + ["extra." + ZONE]))
    bad("a CSR missing one of the order's names is badCSR; the order stays ready",
        make_csr(k, names[:1]))
    bad("a CSR with a common name outside the order is badCSR; the order stays ready",
        make_csr(k, names, cn="other." + ZONE))
    bad("a CSR with an IP address beyond the order is badCSR; the order stays ready",
        make_csr(k, names, ips=["127.0.0.1"]))
    bad("a CSR with only a different common name is badCSR; the order stays ready",
        make_csr(k, [], cn="other." + ZONE))
    bad("a CSR with an email address beyond the order is badCSR; the order stays ready",
        make_csr(k, names, emails=["ops@" + ZONE]))
    bad("a CSR asking for a CA certificate is badCSR; the order stays ready",
        make_csr(k, names, ca=True))
    good = bytearray(make_csr(k, names))
    good[-1] ^= 0x01
    bad("a CSR whose signature does not verify is badCSR; the order stays ready", bytes(good))
    bad("a CSR that is not DER is badCSR; the order stays ready", b"not a CSR at all")
    bad("a CSR that is not base64url is refused; the order stays ready", None,
        ("badCSR", "malformed"), payload={"csr": "+++not base64url+++"})
    bad("finalize without a csr is malformed; the order stays ready", None, ("malformed",),
        payload={"certificate": "x"})
    bad("a csr that is a number is malformed; the order stays ready", None, ("malformed",),
        payload={"csr": 12345})
    bad("a CSR in PEM instead of base64url DER is refused; the order stays ready", None,
        ("badCSR", "malformed"),
        payload={"csr": x509.load_der_x509_csr(make_csr(k, names)).public_bytes(
            serialization.Encoding.PEM).decode()})
    r = alice.finalize(order, make_csr(k, names))
    done = alice.poll(order_url, ("valid", "invalid"))
    check("after all that, the right CSR finalizes the order",
          r.status_code == 200 and done.get("status") == "valid" and "certificate" in done,
          f"{brief(r)} {done}")
    refused("finalizing a valid order again is orderNotReady (403)",
            lambda: alice.finalize(order, make_csr(Key.generate(), names)), "orderNotReady", 403)
    pem = alice.get(done["certificate"]).text
    got = sorted(leaf(pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    check("the certificate names exactly the order's names", got == sorted(names), str(got))
    refused("another account cannot download the certificate",
            lambda: bob.get(done["certificate"]), ("notFound", "unauthorized"), (403, 404))

    # What a CSR asks for beyond its names is not granted: the profile decides.
    e_url, e_order = alice.ready_order(["ext." + ZONE], http01)
    asks = [(x509.KeyUsage(True, False, False, False, False, True, True, False, False), True),
            (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING,
                                    x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]), False),
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"),
                                        b"\x05\x00"), False)]
    r = alice.finalize(e_order, make_csr(Key.generate(), ["ext." + ZONE], extensions=asks))
    errs = []
    if r.status_code == 200:
        e_done = alice.poll(e_url, ("valid", "invalid"))
        cert = leaf(alice.get(e_done["certificate"]).text)
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        if ku.key_cert_sign or ku.crl_sign:
            errs.append("keyCertSign or cRLSign granted")
        if eku != [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]:
            errs.append(f"extended key usage {eku}")
        if any(e.oid.dotted_string == "1.3.6.1.4.1.99999.1" for e in cert.extensions):
            errs.append("the unknown extension was copied")
    elif body_of(r).get("type") != ERROR_PREFIX + "badCSR":
        errs.append(f"neither issued nor badCSR: {brief(r)}")
    check("a CSR asking for keyCertSign, OCSPSigning and an unknown extension gets none of them",
          not errs, "; ".join(errs))

    # Each on an order of its own: a server that spoils the order spoils only that one.
    o_url, o = alice.ready_order(["edkey." + ZONE], http01)
    refused("a CSR with a key the profile refuses (Ed25519) is badCSR; the order stays ready",
            lambda: alice.finalize(o, make_csr(Key.generate("EdDSA"), ["edkey." + ZONE])),
            "badCSR", 400,
            lambda r, p: [] if alice.get(o_url).json().get("status") == "ready" else
            [f"the order is {alice.get(o_url).json().get('status')} afterwards"])
    o_url, o = alice.ready_order(["rsa1024." + ZONE], http01)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    refused("a CSR with a 1024-bit RSA key is badCSR; the order stays ready",
            lambda: alice.finalize(o, make_csr(weak, ["rsa1024." + ZONE])), "badCSR", 400,
            lambda r, p: [] if alice.get(o_url).json().get("status") == "ready" else
            [f"the order is {alice.get(o_url).json().get('status')} afterwards"])
    o_url, o = alice.ready_order(["late." + ZONE], http01)
    alice.post(o["authorizations"][0], {"status": "deactivated"})
    refused("finalizing an order whose authorization was deactivated is orderNotReady",
            lambda: alice.finalize(o, make_csr(Key.generate(), ["late." + ZONE])),
            "orderNotReady", 403)
    o_url, o = alice.ready_order(["acctkey." + ZONE], http01)
    refused("a CSR for the account's own key is refused (badCSR); the order stays ready",
            lambda: alice.finalize(o, make_csr(alice.key, ["acctkey." + ZONE])),
            ("badCSR", "malformed"), 400,
            lambda r, p: [] if alice.get(o_url).json().get("status") == "ready" else
            [f"the order is {alice.get(o_url).json().get('status')} afterwards"])


def accounts():
    stranger = Key.generate("ES256")
    refused("onlyReturnExisting for an unknown key is accountDoesNotExist",
            lambda: acme.signed(NEW_ACCOUNT, {"onlyReturnExisting": True}, stranger),
            "accountDoesNotExist", (400, 404))
    before = db_value("SELECT COUNT(*) FROM acme_accounts")
    r = acme.signed(NEW_ACCOUNT, {"onlyReturnExisting": True}, alice.key)
    check("onlyReturnExisting for a known key answers 200 with its account URL",
          r.status_code == 200 and r.headers.get("Location") == alice.kid, brief(r))
    r = acme.signed(NEW_ACCOUNT, {"termsOfServiceAgreed": True,
                                  "contact": ["mailto:changed@" + ZONE]}, alice.key)
    check("newAccount with a known key answers 200 with the account, unchanged, and adds none",
          r.status_code == 200 and r.headers.get("Location") == alice.kid and
          body_of(r).get("contact") == ["mailto:ops@" + ZONE] and
          db_value("SELECT COUNT(*) FROM acme_accounts") == before, brief(r))

    def new_account(**payload):
        payload.setdefault("termsOfServiceAgreed", True)
        return acme.signed(NEW_ACCOUNT, payload, Key.generate("ES256"))

    refused("a tel: contact is unsupportedContact",
            lambda: new_account(contact=["tel:+15555550100"]), "unsupportedContact", 400)
    refused("a mailto: with hfields is invalidContact",
            lambda: new_account(contact=["mailto:a@acme.test?cc=evil@evil.example"]),
            "invalidContact", 400)
    refused("a mailto: with two addresses is invalidContact",
            lambda: new_account(contact=["mailto:a@acme.test,b@evil.example"]),
            "invalidContact", 400)
    refused("a mailto: without a domain is invalidContact",
            lambda: new_account(contact=["mailto:root"]), "invalidContact", 400)
    refused("a contact that is a string, not a list, is malformed",
            lambda: new_account(contact="mailto:a@acme.test"), "malformed", 400)
    refused("five contacts are refused",
            lambda: new_account(contact=[f"mailto:a{i}@acme.test" for i in range(5)]),
            ("invalidContact", "malformed", "rateLimited"), 400)
    refused("an account update to status valid is malformed",
            lambda: alice.post(alice.kid, {"status": "valid"}), "malformed", 400)
    refused("an account update with a tel: contact is unsupportedContact",
            lambda: alice.post(alice.kid, {"contact": ["tel:+15555550100"]}),
            "unsupportedContact", 400)

    # Deactivation (RFC 8555 7.3.6) is final.
    dora = Account(acme, alg="EdDSA")
    dora.create()
    o = dora.new_order(["dora." + ZONE])
    r = dora.post(dora.kid, {"status": "deactivated"})
    check("an account deactivates itself", r.status_code == 200 and
          body_of(r).get("status") == "deactivated", brief(r))
    refused("a deactivated account's newOrder is unauthorized (403)",
            lambda: dora.new_order(["dora2." + ZONE]), "unauthorized", 403)
    refused("a deactivated account's POST-as-GET of its order is unauthorized",
            lambda: dora.get(o.headers["Location"]), "unauthorized", 403)
    refused("a deactivated account cannot reactivate itself",
            lambda: dora.post(dora.kid, {"status": "valid"}), "unauthorized", 403)
    refused("newAccount with a deactivated account's key is unauthorized",
            lambda: dora.create(), "unauthorized", 403)
    refused("onlyReturnExisting with a deactivated account's key is refused",
            lambda: acme.signed(NEW_ACCOUNT, {"onlyReturnExisting": True}, dora.key),
            ("unauthorized", "accountDoesNotExist"), (400, 403))


def key_change():
    kim = Account(acme, alg="ES256")
    kim.create()
    url = acme.url("keyChange")
    new = Key.generate("ES256")

    def roll(body):
        return kim.post(url, body)

    refused("keyChange whose inner url differs is malformed",
            lambda: roll(kim.key_change_body(new, inner_url=NEW_ORDER)), "malformed", 400)
    refused("keyChange whose inner JWS has a nonce is malformed",
            lambda: roll(kim.key_change_body(new, inner_header={"nonce": acme.new_nonce()})),
            "malformed", 400)
    refused("keyChange whose inner JWS is not signed by its jwk is malformed",
            lambda: roll(kim.key_change_body(new, inner_sign_key=Key.generate("ES256"))),
            "malformed", 400)
    refused("keyChange whose inner JWS uses a kid is malformed",
            lambda: roll(kim.key_change_body(new, inner_header={"jwk": OMIT, "kid": kim.kid})),
            "malformed", 400)
    refused("keyChange with a wrong oldKey is malformed",
            lambda: roll(kim.key_change_body(new, old_jwk=Key.generate("ES256").jwk())),
            "malformed", 400)
    refused("keyChange naming another account is malformed",
            lambda: roll(kim.key_change_body(new, account=alice.kid)), "malformed", 400)
    refused("keyChange to the same key is refused",
            lambda: roll(kim.key_change_body(kim.key)), ("malformed", "conflict"), (400, 409))
    refused("keyChange to a key with private members is badPublicKey",
            lambda: roll(kim.key_change_body(new, inner_header={"jwk": dict(
                new.jwk(), d=b64u(new.private.private_numbers().private_value.to_bytes(
                    32, "big")))})), ("badPublicKey", "malformed"), 400)
    refused("bob cannot roll alice's key (outer kid bob, inner account alice)",
            lambda: bob.post(url, Account.key_change_body(bob, new, account=alice.kid)),
            "malformed", 400)
    refused("keyChange to a key another account holds is conflict (409) with its Location",
            lambda: roll(kim.key_change_body(alice.key)), "conflict", 409,
            lambda r, p: [] if r.headers.get("Location") == alice.kid else
            [f"Location {r.headers.get('Location')!r}, want the account holding the key"])
    old = kim.key
    r = roll(kim.key_change_body(new))
    check("keyChange rolls the account over to the new key",
          r.status_code == 200 and body_of(r).get("key") == new.jwk(), brief(r))
    kim.key = new
    check("the new key signs for the account",
          kim.get(kim.kid).status_code == 200, "")
    refused("the old key is refused afterwards",
            lambda: acme.post(NEW_ORDER, acme.jws(NEW_ORDER, {"identifiers": ORDER_IDS}, old,
                                                  kim.kid)),
            ("malformed", "unauthorized"), (400, 403))
    refused("onlyReturnExisting with the old key finds no account",
            lambda: acme.signed(NEW_ACCOUNT, {"onlyReturnExisting": True}, old),
            "accountDoesNotExist", (400, 404))


def revocation():
    _, pem, cert_key = alice.issue(["rv." + ZONE], http01)
    der = first_cert_der(pem)
    fp = fingerprint(der)

    def revoked():
        return db_value("SELECT revoked_at FROM certificates WHERE fingerprint = ?", fp)

    # Bob orders the name too, but has not validated it.
    bob.new_order(["rv." + ZONE])
    refused("revokeCert by an unrelated account (its order for the name pending) is unauthorized",
            lambda: bob.revoke(der), "unauthorized", 403)
    refused("revokeCert signed by an unrelated key (jwk) is unauthorized (403)",
            lambda: bob.revoke(der, by_key=Key.generate("ES256")), "unauthorized", 403)
    for reason in (7, 2, 6, 8, 10, -1, 99):
        refused(f"revokeCert with reason {reason} is badRevocationReason",
                lambda reason=reason: alice.revoke(der, reason=reason), "badRevocationReason", 400)
    refused("revokeCert with a reason that is a string is refused",
            lambda: alice.revoke(der, reason="1"), ("badRevocationReason", "malformed"), 400)
    refused("revokeCert with a certificate that is not base64url is malformed",
            lambda: alice.post(acme.url("revokeCert"), {"certificate": "***"}), "malformed", 400)
    refused("revokeCert with bytes that are no certificate is malformed",
            lambda: alice.post(acme.url("revokeCert"), {"certificate": b64u(b"garbage")}),
            "malformed", 400)
    # A certificate certward never issued, for the same name, signed by the same key.
    self_signed = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rv." + ZONE)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rv." + ZONE)]))
                   .public_key(cert_key.public()).serial_number(x509.random_serial_number())
                   .not_valid_before(datetime.datetime(2026, 1, 1))
                   .not_valid_after(datetime.datetime(2027, 1, 1))
                   .sign(cert_key.private, hashes.SHA256()))
    refused("revokeCert of a certificate certward did not issue is refused",
            lambda: alice.revoke(self_signed.public_bytes(serialization.Encoding.DER),
                                 by_key=cert_key), ("unauthorized", "notFound", "malformed"),
            (400, 403, 404))
    check("none of that revoked the certificate", revoked() is None, str(revoked()))
    # RFC 8555 7.6: an account holding valid authorizations for every name may revoke; one
    # holding them for some of the names may not.
    _, pem2, _ = alice.issue(["rv2a." + ZONE, "rv2b." + ZONE], http01)
    der2 = first_cert_der(pem2)
    bob.ready_order(["rv2a." + ZONE], http01)
    refused("an account that validated one of the certificate's two names cannot revoke it",
            lambda: bob.revoke(der2), "unauthorized", 403)
    bob.ready_order(["rv2b." + ZONE], http01)
    r = bob.revoke(der2, reason=4)
    check("an account that validated every name of the certificate may revoke it (RFC 8555 7.6)",
          r.status_code == 200 and cert_status(fingerprint(der2)) == "revoked", brief(r))
    r = alice.revoke(der, reason=1, by_key=cert_key)
    check("revokeCert signed by the certificate's own key (jwk) revokes it",
          r.status_code == 200 and revoked() is not None, brief(r))
    check("the inventory says revoked", cert_status(fp) == "revoked", cert_status(fp))
    refused("revoking it again is alreadyRevoked", lambda: alice.revoke(der), "alreadyRevoked",
            400)
    refused("revoking it again with its key is alreadyRevoked",
            lambda: alice.revoke(der, by_key=cert_key), "alreadyRevoked", 400)


# RFC 9773 Appendix A: its certID is aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE (a serial whose high
# bit is set, so its DER carries a leading 0x00).
RFC9773_EXAMPLE = """-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
"""


def renewal_information():
    info = acme.url("renewalInfo")
    example = cert_id(RFC9773_EXAMPLE)
    check("the client computes RFC 9773's example certID",
          example == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", example)
    r1_url, pem, _ = alice.issue(["ari." + ZONE], http01)
    r1 = leaf(pem)
    r1_id = cert_id(r1)
    r = acme.session.get(f"{info}/{r1_id}")
    window = body_of(r).get("suggestedWindow", {})
    errs = []
    try:
        start, end = parse_time(window["start"]), parse_time(window["end"])
        life = r1.not_valid_after - r1.not_valid_before
        want = (r1.not_valid_after - life / 3).replace(tzinfo=datetime.timezone.utc)
        if abs((start - want).total_seconds()) > 60:
            errs.append(f"start {start}, want about {want}")
        if not start < end <= r1.not_valid_after.replace(tzinfo=datetime.timezone.utc):
            errs.append(f"end {end} not after start, before notAfter")
    except Exception as e:
        errs.append(repr(e))
    if not r.headers.get("Retry-After", "").isdigit():
        errs.append(f"Retry-After {r.headers.get('Retry-After')!r}")
    check("renewalInfo answers a window starting at notAfter - lifetime/3, with Retry-After",
          r.status_code == 200 and not errs, "; ".join(errs) + " " + brief(r))
    aki, _ = r1_id.split(".")
    r = acme.session.get(f"{info}/{aki}.{b64u(os.urandom(16))}")
    check("renewalInfo for an unknown serial is 404", r.status_code == 404, brief(r))
    r = acme.session.get(f"{info}/{b64u(os.urandom(20))}.{r1_id.split('.')[1]}")
    check("renewalInfo for an unknown AKI is 404", r.status_code == 404, brief(r))
    for bad in ("not-a-cert-id", "....", "%00", "a" * 600):
        r = acme.session.get(f"{info}/{bad}")
        check(f"renewalInfo for {bad[:20]!r} is refused with a problem",
              400 <= r.status_code < 500 and
              r.headers.get("Content-Type", "").startswith("application/problem+json"),
              brief(r))

    refused("another account's order replacing the certificate is refused",
            lambda: bob.new_order(["ari." + ZONE], replaces=r1_id),
            ("unauthorized", "malformed"), (400, 403))
    refused("replaces with no identifier in common is refused",
            lambda: alice.new_order(["other." + ZONE], replaces=r1_id), "malformed", 400)
    r2_url, pem2, _ = alice.issue(["ari." + ZONE], http01, replaces=r1_id)
    r2 = leaf(pem2)
    o = alice.get(r2_url).json()
    check("the replacing order shows its \"replaces\" (RFC 9773 5)",
          o.get("replaces") == r1_id, json.dumps(o))
    check("the replaced certificate is superseded in the inventory",
          cert_status(fingerprint(pem)) == "superseded", cert_status(fingerprint(pem)))
    check("the replacement is valid in the inventory",
          cert_status(fingerprint(pem2)) == "valid", cert_status(fingerprint(pem2)))
    refused("a second order replacing the same certificate is alreadyReplaced (409)",
            lambda: alice.new_order(["ari." + ZONE], replaces=r1_id), "alreadyReplaced", 409)

    # An abandoned (invalid) replacing order does not use up the certificate (RFC 9773 5:
    # "replaced by a different Order that is not invalid").
    _, pem3, _ = alice.issue(["ari3." + ZONE], http01)
    r3_id = cert_id(leaf(pem3))
    r = alice.new_order(["ari3." + ZONE], replaces=r3_id)
    created = r.status_code == 201
    if created:
        alice.post(r.json()["authorizations"][0], {"status": "deactivated"})
        created = alice.get(r.headers["Location"]).json().get("status") == "invalid"
    check("an order replacing a certificate can be abandoned (made invalid)", created, brief(r))
    r = alice.new_order(["ari3." + ZONE], replaces=r3_id)
    check("after the replacing order went invalid, a new order may replace the certificate",
          r.status_code == 201 and body_of(r).get("replaces") == r3_id, brief(r))

    # A revoked certificate should be renewed at once: its window lies in the past.
    alice.revoke(first_cert_der(pem2))
    r = acme.session.get(f"{info}/{cert_id(r2)}")
    window = body_of(r).get("suggestedWindow", {})
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        past = parse_time(window["end"]) < now and parse_time(window["start"]) < parse_time(
            window["end"])
    except Exception:
        past = False
    check("after revocation the renewal window lies in the past", r.status_code == 200 and past,
          brief(r))


def external_account_binding():
    def cli(*args):
        out = subprocess.run([CW, *args], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"certward {' '.join(args)}: {out.stderr.strip()}")
        return json.loads(out.stdout) if "--json" in args else out.stdout

    cli("team", "create", "web", "--profile", "hostile-web", "--domain", "web." + ZONE)
    keys = [cli("acme", "eab", "create", "--team", "web", "--directory", "eab", "--json")
            for _ in range(3)]
    other = Acme(DIRECTORY.replace("/acme/directory", "/acme/eab/directory"), ROOT)
    new_account = other.url("newAccount")

    def binding(account_key, eab_key, url=new_account, payload_key=None, header=None,
                mac_key=None):
        p = {"alg": "HS256", "kid": eab_key["kid"], "url": url}
        for name, value in (header or {}).items():
            if value is OMIT:
                p.pop(name, None)
            else:
                p[name] = value
        p64, y64 = b64u_json(p), b64u_json((payload_key or account_key).jwk())
        secret = mac_key or b64u_decode(eab_key["hmac_key"])
        return {"protected": p64, "payload": y64,
                "signature": b64u(hmac_sign(secret, f"{p64}.{y64}".encode()))}

    def create(directory, key, eab):
        return directory.signed(directory.url("newAccount"),
                                {"termsOfServiceAgreed": True, "externalAccountBinding": eab}, key)

    k = Key.generate("ES256")
    refused("an EAB MACed with another key is unauthorized",
            lambda: create(other, k, binding(k, keys[0], mac_key=os.urandom(32))),
            "unauthorized", (400, 403))
    refused("an EAB binding another account key is malformed",
            lambda: create(other, k, binding(k, keys[0], payload_key=Key.generate())),
            "malformed", 400)
    refused("an EAB made for another URL is malformed",
            lambda: create(other, k, binding(k, keys[0], url=NEW_ACCOUNT)), "malformed", 400)
    refused("an EAB with a nonce is malformed",
            lambda: create(other, k, binding(k, keys[0], header={"nonce": acme.new_nonce()})),
            "malformed", 400)
    refused("an EAB with alg ES256 is malformed",
            lambda: create(other, k, binding(k, keys[0], header={"alg": "ES256"})),
            "malformed", 400)
    refused("an EAB key of the eab directory is refused by the default directory",
            lambda: create(acme, k, binding(k, keys[0], url=NEW_ACCOUNT)),
            "unauthorized", (400, 403))
    r = create(other, k, binding(k, keys[0]))
    check("a right EAB creates the account, bound to its key id",
          r.status_code == 201 and
          body_of(r).get("externalAccountBinding", {}).get("kid") == keys[0]["kid"], brief(r))
    eve = Account(other, key=k)
    eve.kid = r.headers.get("Location")
    k2 = Key.generate("ES256")
    refused("an EAB key already bound binds no second account",
            lambda: create(other, k2, binding(k2, keys[0])), "unauthorized", (400, 403))
    cli("acme", "eab", "revoke", keys[1]["kid"])
    refused("a revoked EAB key binds no account",
            lambda: create(other, k2, binding(k2, keys[1])), "unauthorized", (400, 403))
    refused("the bound account cannot order outside its team's domains",
            lambda: eve.new_order(["www." + ZONE]), "rejectedIdentifier", (400, 403))
    refused("nor a name that merely ends like its team's domain (evilweb.acme.test)",
            lambda: eve.new_order(["evilweb." + ZONE]), "rejectedIdentifier", (400, 403))
    r = eve.new_order(["a.web." + ZONE])
    check("the bound account orders inside its team's domains", r.status_code == 201, brief(r))


def type_confusion():
    """Members of the wrong JSON type are malformed, never a server error."""
    def new_account(**payload):
        return acme.signed(NEW_ACCOUNT, payload, Key.generate("ES256"))

    refused("onlyReturnExisting as a string is malformed",
            lambda: new_account(onlyReturnExisting="yes"), "malformed", 400)
    refused("termsOfServiceAgreed as a string is malformed",
            lambda: new_account(termsOfServiceAgreed="yes"), "malformed", 400)
    refused("onlyReturnExisting as a number, for a known key, is malformed",
            lambda: acme.signed(NEW_ACCOUNT, {"onlyReturnExisting": 1}, alice.key),
            "malformed", 400)
    refused("a contact list holding a number is malformed",
            lambda: new_account(contact=[1]), "malformed", 400)
    refused("an identifier that is a string is malformed",
            lambda: alice.new_order(identifiers=["www." + ZONE]), "malformed", 400)
    refused("a profile that is null is malformed",
            lambda: alice.new_order(["www." + ZONE], profile=None), "malformed", 400)
    refused("replaces that is a number is malformed",
            lambda: alice.new_order(["www." + ZONE], replaces=5), "malformed", 400)
    # A reason that overflows an int must not wrap around to an allowed one. One certificate
    # each: a server that wraps revokes it.
    wraps = [first_cert_der(alice.issue([f"wrap{i}." + ZONE], http01)[1]) for i in range(2)]
    refused("revokeCert with reason 1.0 is badRevocationReason",
            lambda: alice.revoke(wraps[0], reason=1.0), ("badRevocationReason", "malformed"), 400)
    refused("revokeCert with reason 2^32 + 1 is badRevocationReason (not keyCompromise)",
            lambda: alice.revoke(wraps[0], reason=2 ** 32 + 1), "badRevocationReason", 400)
    refused("revokeCert with reason 2^63 + 3 is badRevocationReason (not affiliationChanged)",
            lambda: alice.revoke(wraps[1], reason=2 ** 63 + 3), "badRevocationReason", 400)

def parallel_post(url, bodies):
    """POSTs each body at once, each on a connection of its own."""
    def post(body):
        session = requests.Session()
        session.trust_env = False
        return session.post(url, data=json.dumps(body), verify=ROOT, timeout=30,
                            headers={"Content-Type": "application/jose+json"})
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def races():
    before = order_count()
    j = acme.jws(NEW_ORDER, {"identifiers": [{"type": "dns", "value": "race." + ZONE}]},
                 alice.key, alice.kid)
    rs = parallel_post(NEW_ORDER, [j] * 8)
    codes = sorted(r.status_code for r in rs)
    nonce_errors = [r for r in rs if body_of(r).get("type") == ERROR_PREFIX + "badNonce"]
    check("one request sent 8 times at once: one order, seven badNonce",
          codes.count(201) == 1 and len(nonce_errors) == 7 and order_count() == before + 1,
          f"{codes}, {order_count() - before} orders")

    key = Key.generate("ES256")
    accounts_before = db_value("SELECT COUNT(*) FROM acme_accounts")
    rs = parallel_post(NEW_ACCOUNT, [acme.jws(NEW_ACCOUNT, {"termsOfServiceAgreed": True}, key)
                                     for _ in range(6)])
    locations = {r.headers.get("Location") for r in rs if r.status_code in (200, 201)}
    codes = sorted(r.status_code for r in rs)
    check("one new key in 6 newAccount requests at once: one account, every answer names it",
          db_value("SELECT COUNT(*) FROM acme_accounts") == accounts_before + 1 and
          len(locations) == 1 and None not in locations and
          all(c in (200, 201) for c in codes) and codes.count(201) == 1,
          f"{codes} {[body_of(r).get('type') for r in rs]}")

    url, order = alice.ready_order(["racefin." + ZONE], http01)
    certs_before = db_value("SELECT COUNT(*) FROM certificates")
    rs = parallel_post(order["finalize"], [
        acme.jws(order["finalize"], {"csr": b64u(make_csr(Key.generate(), ["racefin." + ZONE]))},
                 alice.key, alice.kid) for _ in range(4)])
    codes = sorted(r.status_code for r in rs)
    issued = db_value("SELECT COUNT(*) FROM certificates") - certs_before
    check("4 finalize requests at once for one order: one certificate, the others refused",
          issued == 1 and codes.count(200) == 1 and
          all(body_of(r).get("type") == ERROR_PREFIX + "orderNotReady" for r in rs
              if r.status_code != 200), f"{codes}, {issued} certificates")

    r = alice.new_order(["racechall." + ZONE])
    authz_url = r.json()["authorizations"][0]
    authz_id = authz_url.rsplit("/", 1)[1]
    chall = next(c for c in alice.get(authz_url).json()["challenges"] if c["type"] == "http-01")
    http01.tokens[chall["token"]] = alice.key_authorization(chall["token"])
    parallel_post(chall["url"], [acme.jws(chall["url"], {}, alice.key, alice.kid)
                                 for _ in range(5)])
    final = alice.poll(authz_url, ("valid", "invalid"))
    time.sleep(0.5)
    n = db_value("SELECT COUNT(*) FROM audit_events WHERE target_id = ? AND action LIKE "
                 "'acme.authorization.%'", authz_id)
    check("a challenge answered 5 times at once is validated once",
          final.get("status") == "valid" and n == 1, f"{final.get('status')}, {n} results")

    # Orders refused inside the shared write transaction (replaces naming another account's
    # certificate) among good ones sent at once: the good ones' transaction is run again
    # without the refused ones, and every order must still name exactly its own, existing
    # authorizations.
    _, bob_pem, _ = bob.issue(["bobrace." + ZONE], http01)
    bob_id = cert_id(leaf(bob_pem))
    bodies = []
    for i in range(40):
        payload = {"identifiers": [{"type": "dns", "value": f"mix{i}-a.{ZONE}"},
                                   {"type": "dns", "value": f"mix{i}-b.{ZONE}"}]}
        if i % 2 == 0:
            payload["replaces"] = bob_id
        bodies.append(acme.jws(NEW_ORDER, payload, alice.key, alice.kid))
    rs = parallel_post(NEW_ORDER, bodies)
    good = [r for r in rs if r.status_code == 201]
    problems = []
    for r in good:
        urls = r.json()["authorizations"]
        names = sorted(str(alice.get(u).json().get("identifier", {}).get("value")) for u in urls)
        wanted = sorted(i["value"] for i in r.json()["identifiers"])
        if len(urls) != 2 or len(set(urls)) != 2 or names != wanted:
            problems.append(f"{len(urls)} authorizations for {wanted}: {names}")
    check("good and refused newOrders at once: each order names exactly its own authorizations",
          len(good) == 20 and not problems and
          all(body_of(r).get("type") == ERROR_PREFIX + "unauthorized" for r in rs
              if r.status_code != 201),
          f"{sorted(r.status_code for r in rs)} {problems[:2]}")


def unknown_resources():
    prefix = alice.kid[: alice.kid.index("/acme/") + len("/acme/")]
    for kind in ("order", "authz", "chall", "cert"):
        refused(f"an unknown {kind} is notFound (404)",
                lambda kind=kind: alice.get(prefix + kind + "/doesNotExist0000"), "notFound", 404)
    refused("an unknown order's finalize is notFound (404)",
            lambda: alice.post(prefix + "order/doesNotExist0000/finalize",
                               {"csr": b64u(make_csr(Key.generate(), ["www." + ZONE]))}),
            "notFound", 404)


for group in (accounts_with_every_algorithm, malformed_jws, unsupported_algorithms,
              bad_account_keys, nonces, urls_and_hosts, key_identification, oversized,
              identifiers, methods, cross_account_and_challenges, finalize, accounts, key_change,
              revocation, renewal_information, external_account_binding, type_confusion,
              races, unknown_resources):
    section(group)

http01.close()
print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
