#!/usr/bin/python3
"""A hostile SCEP (RFC 8894) client against a running certward (scep_hostile_test.sh starts it).

The pkiMessages are built by hand, the way certmonger builds them, by the small client in
scep_client.py; this file holds the attacks, what the server's state must look like after each,
and the run.

Each check prints one line ("ok" or "FAIL", its name, and on failure what was wrong); the
last line is "N passed, N failed", and the exit status is 1 if any failed. A request the server
must refuse is checked for its exact answer (a CertRep FAILURE with the right failInfo, or HTTP
400) and for changing nothing: the certificates (rows, revocation, supersession), the
enrollment credentials' uses and the SCEP transactions are the same before and after it.

Environment: HTTP_BASE (plain-HTTP listener), BASE (HTTPS, REST API), ADMIN_TOKEN, ROOT (root CA
file), ISSUING (issuing CA file), CERTWARD_DATA_DIR.
"""

import base64
import concurrent.futures
import datetime
import os
import sqlite3
import subprocess
import sys
import tempfile
import traceback

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AttributeOID, NameOID

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scep_client import (BAD_ALG, BAD_CERT_ID, BAD_MESSAGE_CHECK, BAD_REQUEST,  # noqa: E402
                         CERT_POLL, CERT_REP, FAILURE, GET_CERT, GET_CRL, MESSAGE_TYPE,
                         PKCS_REQ, RENEWAL_REQ, SUCCESS, TIMEOUT, CertRep, Device, attribute,
                         configure, credential, der_of, envelope, fingerprint, get, get_ca_cert,
                         integer, issuer_and_serial, make_csr, name_of, new_key, pki_message,
                         post, printable, rest, self_signed, send, seq, set_ra, setup, spki,
                         uses)

ROOT = os.environ["ROOT"]
ISSUING = os.environ["ISSUING"]
DB = os.path.join(os.environ["CERTWARD_DATA_DIR"], "certward.db")
WORK = tempfile.mkdtemp(prefix="scep-hostile.")
configure(os.environ["HTTP_BASE"] + "/scep", os.environ["BASE"] + "/api/v1",
          os.environ["ADMIN_TOKEN"], ROOT)

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
        print(f"ok   {name}", flush=True)
    else:
        results["failed"] += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def section(fn):
    """Runs one group of checks; an exception fails the group instead of the whole run."""
    try:
        fn()
    except Exception:
        check(f"{fn.__name__} ran to its end", False, traceback.format_exc().replace("\n", " | "))


# --- the server's state --------------------------------------------------------------------

def db_rows(query, *args):
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def snapshot():
    """What a refused request must leave alone."""
    return {
        "certificates": db_rows("SELECT fingerprint, revoked_at, superseded_by FROM certificates "
                                "ORDER BY fingerprint"),
        "credentials": db_rows("SELECT id, uses, last_used_at, revoked_at FROM "
                               "enrollment_credentials ORDER BY id"),
        "transactions": db_rows("SELECT transaction_id, certificate FROM scep_transactions "
                                "ORDER BY transaction_id, certificate"),
    }


def changes(before, after):
    return [f"{t} changed ({len(before[t])} -> {len(after[t])} rows)"
            for t in before if before[t] != after[t]]


def certificate_count():
    return db_rows("SELECT COUNT(*) FROM certificates")[0][0]


def verifies(cert):
    path = os.path.join(WORK, "leaf.pem")
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-CAfile", ROOT, "-untrusted", ISSUING, path],
                         capture_output=True, text=True, timeout=TIMEOUT)
    return out.returncode == 0, (out.stdout + out.stderr).strip()


# --- the checks --------------------------------------------------------------------------

def refused(name, act, fail_info, cred=None):
    """`act()` (-> Exchange) must get a CertRep FAILURE with `fail_info` and change nothing;
    with `cred`, that credential's uses (REST) must not move either."""
    before, uses_before = snapshot(), uses(cred) if cred else None
    try:
        x = act()
    except Exception as e:
        return check(name, False, f"no answer: {e!r}")
    errs = x.problems()
    if x.rep and (x.rep.status, x.rep.fail_info) != (FAILURE, fail_info):
        errs.append(f"pkiStatus {x.rep.status} failInfo {x.rep.fail_info}, "
                    f"want {FAILURE} failInfo {fail_info}")
    if x.rep and x.rep.status == FAILURE and x.rep.econtent:
        errs.append("a FAILURE carries an envelope")
    errs += changes(before, snapshot())
    if cred and uses(cred) != uses_before:
        errs.append(f"credential uses {uses_before} -> {uses(cred)}")
    return check(name, not errs, "; ".join(errs) + " " + x.describe())


def rejected(name, act, status=400, media="text/plain"):
    """`act()` (-> requests.Response) must be answered with HTTP `status`, text/plain, no
    CertRep, and change nothing."""
    before = snapshot()
    try:
        r = act()
    except Exception as e:
        return check(name, False, f"no answer: {e!r}")
    errs = []
    statuses = status if isinstance(status, tuple) else (status,)
    if r.status_code not in statuses:
        errs.append(f"HTTP {r.status_code}, want {status}")
    if media and not r.headers.get("Content-Type", "").startswith(media):
        errs.append(f"Content-Type {r.headers.get('Content-Type')!r}")
    errs += changes(before, snapshot())
    return check(name, not errs, "; ".join(errs) + f" [{r.content[:200]!r}]")


def issued(name, x, device=None, cn=None):
    """`x` must be a SUCCESS with one certificate for `device`'s key that verifies."""
    errs = x.problems()
    if x.rep and x.rep.status != SUCCESS:
        errs.append(f"pkiStatus {x.rep.status} failInfo {x.rep.fail_info}, want SUCCESS")
    elif x.rep and not x.cert:
        errs.append("no certificate in the answer")
    elif x.rep:
        ok, out = verifies(x.cert)
        if not ok:
            errs.append(f"openssl verify: {out}")
        if device and spki(x.cert) != spki(device.key):
            errs.append("the certificate is not for the request's key")
        want_cn = cn or (device.cn if device else None)
        got_cn = x.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if want_cn and (not got_cn or got_cn[0].value != want_cn):
            errs.append(f"subject {x.cert.subject.rfc4514_string()}, want CN={want_cn}")
    return check(name, not errs, "; ".join(errs) + " " + x.describe())


# ---------------------------------------------------------------------------------------
r, CA_CERTS = get_ca_cert()
RA, ISSUING_CA, ROOT_CA = CA_CERTS[0], CA_CERTS[1], CA_CERTS[-1]
set_ra(RA)  # requests are enveloped to it, CertReps verified with it
check("GetCACert: the RA certificate first, then the issuing CA and the root",
      r.status_code == 200 and len(CA_CERTS) == 3 and
      r.headers.get("Content-Type") == "application/x-x509-ca-ra-cert" and
      "Enrollment RA" in RA.subject.rfc4514_string() and RA.issuer == ISSUING_CA.subject and
      ISSUING_CA.issuer == ROOT_CA.subject,
      f"{r.status_code} {[c.subject.rfc4514_string() for c in CA_CERTS]}")

for team in ("alpha", "beta"):
    setup("POST", "/teams", {"name": team, "allowed_profiles": ["device"],
                             "allowed_domains": [f"{team}.scep.test"]}, 201)
A, B = "alpha.scep.test", "beta.scep.test"
state = {}  # what later groups take from earlier ones


def client_works():
    cred, secret = credential("alpha", expected=f"dev1.{A}")
    dev = Device(f"dev1.{A}")
    count = certificate_count()
    x = dev.enroll(secret)
    issued("a PKCSReq with a valid challenge gets SUCCESS and a certificate that verifies", x, dev)
    check("the reply is enveloped with the request's cipher (AES-256-CBC)",
          x.rep is not None and getattr(x.rep, "cipher", None) == "aes256",
          getattr(x.rep, "cipher", None))
    check("one certificate was added and the one-time challenge is used",
          certificate_count() == count + 1 and uses(cred) == 1,
          f"{count} -> {certificate_count()} certificates, uses {uses(cred)}")
    state.update(dev1=dev, dev1_cred=cred, dev1_secret=secret, dev1_x=x)

    # The same message over GET, base64, from another device: the GET transport works too.
    cred2, secret2 = credential("alpha", expected=f"dev2.{A}")
    dev2 = Device(f"dev2.{A}")
    issued("a PKCSReq over GET (base64 in the query) gets SUCCESS",
           dev2.enroll(secret2, via="GET"), dev2)
    state.update(dev2=dev2)

    cred3, secret3 = credential("alpha", expected=f"dev3.{A}")
    dev3 = Device(f"dev3.{A}")
    x = dev3.enroll(secret3, cipher="des3")
    issued("a 3DES envelope is accepted", x, dev3)
    check("and answered with 3DES", x.rep is not None and getattr(x.rep, "cipher", "") == "des3",
          getattr(x.rep, "cipher", None))


def transport():
    cred, secret = credential("alpha", expected=f"transport.{A}")
    dev = Device(f"transport.{A}")
    good = pki_message(PKCS_REQ, "T1", os.urandom(16),
                       envelope(make_csr(dev.key, dev.cn, secret), RA), dev.signer, dev.key)
    rejected("GET: a message that is not base64", lambda: get("not*base64!@#$"))
    rejected("GET: base64 of nothing", lambda: get(""))
    rejected("GET: base64 of a truncated pkiMessage",
             lambda: get(base64.b64encode(good[:len(good) // 2]).decode()))
    rejected("POST: a truncated pkiMessage", lambda: post(good[:-40]))
    rejected("POST: a pkiMessage with one byte missing", lambda: post(good[:-1]))
    rejected("POST: an empty body", lambda: post(b""))
    rejected("POST: garbage", lambda: post(os.urandom(2000)))
    rejected("POST: a body over 64 KiB", lambda: post(good + b"\0" * (65 * 1024)))
    rejected("POST: a DER SEQUENCE claiming 64 KiB + 1",
             lambda: post(b"\x30\x83\x01\x00\x01" + b"\0" * (64 * 1024 + 1)))
    rejected("GET: a message over 64 KiB is refused (400, 414 or 431)",
             lambda: get(base64.b64encode(os.urandom(70 * 1024)).decode()),
             status=(400, 414, 431), media=None)
    rejected("POST: an EnvelopedData where a SignedData belongs",
             lambda: post(envelope(make_csr(dev.key, dev.cn, secret), RA)))
    check("the credential of the transport checks is unused", uses(cred) == 0, uses(cred))


def message_types():
    cred, secret = credential("alpha", expected=f"types.{A}")
    dev = Device(f"types.{A}")
    env = envelope(make_csr(dev.key, dev.cn, secret), RA)
    for t, what in ((CERT_REP, "a CertRep (messageType 3) sent as a request"),
                    (99, "an unknown messageType (99)"), ("0", "messageType 0"),
                    ("abc", "a messageType that is not a number"),
                    ("-19", "messageType -19"), ("19 ", "messageType '19 '")):
        msg = pki_message(t, "TYPES" + str(t).strip(), os.urandom(16), env, dev.signer, dev.key)
        rejected(f"{what} is HTTP 400", lambda msg=msg: post(msg))
    msg = pki_message(PKCS_REQ, "SHORT", os.urandom(4), env, dev.signer, dev.key)
    rejected("a 4-byte senderNonce is HTTP 400", lambda: post(msg))
    msg = pki_message(PKCS_REQ, "x" * 200, os.urandom(16), env, dev.signer, dev.key)
    rejected("a 200-character transactionID is HTTP 400", lambda: post(msg))
    msg = pki_message(PKCS_REQ, "TWICE", os.urandom(16), env, dev.signer, dev.key,
                      extra_attrs=[attribute(MESSAGE_TYPE, printable("3"))])
    rejected("two messageType attributes are HTTP 400", lambda: post(msg))
    nonce = os.urandom(16)
    msg = pki_message(PKCS_REQ, "DETACHED", nonce, env, dev.signer, dev.key, detached=True)
    # Its signature cannot be checked over content that is not there: HTTP 400, or a CertRep
    # saying badMessageCheck, and nothing more.
    before = snapshot()
    x = send(None, None, None, dev.key, tid="DETACHED", nonce=nonce, message=msg)
    check("a SignedData without its content (detached): HTTP 400 or badMessageCheck",
          (x.r.status_code == 400 or not x.problems() and
           (x.rep.status, x.rep.fail_info) == (FAILURE, BAD_MESSAGE_CHECK)) and
          snapshot() == before, x.describe())
    check("the credential of the messageType checks is unused", uses(cred) == 0, uses(cred))


def signatures():
    cred, secret = credential("alpha", expected=f"sig.{A}")
    dev = Device(f"sig.{A}")
    csr = make_csr(dev.key, dev.cn, secret)
    refused("an outer signature that fails (a content byte flipped) is badMessageCheck",
            lambda: send(PKCS_REQ, csr, dev.signer, dev.key, flip=True), BAD_MESSAGE_CHECK, cred)
    other_key = new_key()
    other = self_signed(other_key, "not-the-ra.example")
    refused("an envelope to another recipient is badMessageCheck",
            lambda: send(PKCS_REQ, csr, dev.signer, dev.key, to=other), BAD_MESSAGE_CHECK, cred)
    # The RA's name and serial, but the key of another: it names the RA and does not decrypt.
    fake_ra = (x509.CertificateBuilder().subject_name(RA.subject).issuer_name(RA.issuer)
               .public_key(other_key.public_key()).serial_number(RA.serial_number)
               .not_valid_before(RA.not_valid_before).not_valid_after(RA.not_valid_after)
               .sign(other_key, hashes.SHA256()))
    refused("an envelope naming the RA, its key encrypted to another key, is badMessageCheck",
            lambda: send(PKCS_REQ, csr, dev.signer, dev.key, to=fake_ra), BAD_MESSAGE_CHECK, cred)
    bad_csr = csr[:-1] + bytes([csr[-1] ^ 0x01])
    refused("a CSR whose self-signature fails is badMessageCheck",
            lambda: send(PKCS_REQ, bad_csr, dev.signer, dev.key), BAD_MESSAGE_CHECK, cred)
    # Signed by one key, carrying the certificate of another.
    impostor = self_signed(new_key(), dev.cn)
    refused("a message signed by a key that is not its certificate's is badMessageCheck",
            lambda: send(PKCS_REQ, csr, impostor, dev.key), BAD_MESSAGE_CHECK, cred)
    refused("an envelope holding no CSR is badRequest",
            lambda: send(PKCS_REQ, b"\x30\x03\x02\x01\x00", dev.signer, dev.key), BAD_REQUEST, cred)
    refused("a single-DES envelope is badAlg",
            lambda: send(PKCS_REQ, csr, dev.signer, dev.key, cipher="des"), BAD_ALG, cred)
    issued("after all that, the credential still enrolls", dev.enroll(secret, csr=csr), dev)


def challenges():
    # A wrong challenge, and an EST credential's secret.
    dev = Device(f"chal.{A}")
    refused("a wrong challenge is badRequest", lambda: dev.enroll("not-a-challenge"), BAD_REQUEST)
    refused("no challenge is badRequest",
            lambda: dev.enroll(None, csr=make_csr(dev.key, dev.cn)), BAD_REQUEST)
    est_id, est = credential("alpha", kind="est", max_uses=0)
    refused("an EST password is not a SCEP challenge", lambda: dev.enroll(est), BAD_REQUEST, est_id)
    # A used one-time challenge (dev1's), from another device with the same name.
    again = Device(f"dev1.{A}")
    refused("a used one-time challenge is badRequest",
            lambda: again.enroll(state["dev1_secret"]), BAD_REQUEST, state["dev1_cred"])
    # An expired one.
    exp_id, exp = credential("alpha", expected=f"old.{A}")
    db = sqlite3.connect(DB, timeout=10)
    with db:
        db.execute("UPDATE enrollment_credentials SET expires_at = ? WHERE id = ?",
                   (int(datetime.datetime.now().timestamp()) - 1, exp_id))
    db.close()
    refused("an expired challenge is badRequest",
            lambda: Device(f"old.{A}").enroll(exp), BAD_REQUEST, exp_id)
    # A revoked one.
    rev_id, rev = credential("alpha", max_uses=0)
    setup("DELETE", f"/enrollment/credentials/{rev_id}", None, 200)
    refused("a revoked challenge is badRequest",
            lambda: Device(f"rev.{A}").enroll(rev), BAD_REQUEST, rev_id)
    # A dynamic challenge names one device and nothing else.
    dyn_id, dyn = credential("alpha", expected=f"laptop7.{A}")
    refused("a challenge for another expected subject is badRequest",
            lambda: Device(f"laptop8.{A}").enroll(dyn), BAD_REQUEST, dyn_id)
    d7 = Device(f"laptop7.{A}")
    refused("a SAN outside the expected subject is badRequest",
            lambda: d7.enroll(dyn, csr=make_csr(d7.key, d7.cn, dyn, [d7.cn, f"laptop8.{A}"])),
            BAD_REQUEST, dyn_id)
    refused("only a SAN outside the expected subject is badRequest",
            lambda: d7.enroll(dyn, csr=make_csr(d7.key, d7.cn, dyn, [f"laptop8.{A}"])),
            BAD_REQUEST, dyn_id)
    refused("the expected subject in another case is badRequest",
            lambda: d7.enroll(dyn, csr=make_csr(d7.key, f"LAPTOP7.{A}", dyn)), BAD_REQUEST, dyn_id)
    # Subjects with more in them than the one name: another CN first is refused; another CN
    # after the expected one, or other attributes, must at least not reach the certificate.
    def subject_csr(key, attrs, challenge):
        return (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
                .add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
                .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))

    cn = lambda v: x509.NameAttribute(NameOID.COMMON_NAME, v)
    sub_id, sub = credential("alpha", expected=f"laptop9.{A}")
    d9 = Device(f"laptop9.{A}")
    refused("a subject whose first CN is another device's is badRequest",
            lambda: d9.enroll(sub, csr=subject_csr(d9.key, [cn(f"laptop8.{A}"), cn(d9.cn)], sub)),
            BAD_REQUEST, sub_id)
    for what, attrs in (
            ("a second CN for another device", [cn(d9.cn), cn(f"laptop8.{A}")]),
            ("an organization and an email address",
             [cn(d9.cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Beta Corp"),
              x509.NameAttribute(NameOID.EMAIL_ADDRESS, f"boss@{B}")])):
        cred_id, secret = credential("alpha", expected=d9.cn)
        count = certificate_count()
        x = d9.enroll(secret, csr=subject_csr(d9.key, attrs, secret))
        got = x.cert
        names = []
        if got is not None:
            names = [a.rfc4514_string() for a in got.subject]
            try:
                names += [str(n.value) for n in got.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName).value]
            except x509.ExtensionNotFound:
                pass
        check(f"a dynamic challenge with {what} after the expected CN: refused, or a "
              f"certificate naming the expected device only",
              not x.problems() and (
                  (x.rep.status, x.rep.fail_info) == (FAILURE, BAD_REQUEST) and
                  certificate_count() == count and uses(cred_id) == 0 or
                  x.rep.status == SUCCESS and names == [f"CN={d9.cn}", d9.cn]),
              f"{x.describe()} {names}")
    # A static challenge still keeps to its team's names.
    st_id, st = credential("alpha", max_uses=0)
    refused("a static alpha challenge for a beta name is badRequest",
            lambda: Device(f"x.{B}").enroll(st), BAD_REQUEST, st_id)
    dx = Device(f"ok.{A}")
    refused("a static alpha challenge with a beta SAN is badRequest",
            lambda: dx.enroll(st, csr=make_csr(dx.key, dx.cn, st, [dx.cn, f"x.{B}"])),
            BAD_REQUEST, st_id)
    issued("the dynamic challenge still enrolls its own device", d7.enroll(dyn), d7)


def replays():
    dev, first = state["dev1"], state["dev1_x"]
    cred = state["dev1_cred"]
    refused("an exact replay of a successful message is refused (badRequest)",
            lambda: send(None, None, None, dev.key, tid=first.tid, nonce=first.nonce,
                         message=first.message), BAD_REQUEST, cred)
    before, count = uses(cred), certificate_count()
    csr = make_csr(dev.key, dev.cn, state["dev1_secret"])
    x = send(PKCS_REQ, csr, dev.signer, dev.key, tid=first.tid)
    issued("the same transactionID, a new nonce, the same CSR: SUCCESS", x, dev)
    check("with the same certificate",
          x.cert is not None and first.cert is not None and der_of(x.cert) == der_of(first.cert),
          "a different certificate" if x.cert else "none")
    check("and no credential use and no new certificate",
          uses(cred) == before and certificate_count() == count,
          f"uses {before} -> {uses(cred)}, certificates {count} -> {certificate_count()}")
    other = new_key()
    refused("the same transactionID with a different CSR is badRequest",
            lambda: send(PKCS_REQ, make_csr(other, dev.cn, state["dev1_secret"]),
                         self_signed(other, dev.cn), other, tid=first.tid), BAD_REQUEST, cred)
    # Another team's fresh credential cannot take over a transactionID either.
    cred_b, secret_b = credential("beta", expected=f"t.{B}")
    db_ = Device(f"t.{B}")
    refused("a transactionID already used, with another team's valid challenge, is badRequest",
            lambda: send(PKCS_REQ, make_csr(db_.key, db_.cn, secret_b), db_.signer, db_.key,
                         tid=first.tid), BAD_REQUEST, cred_b)
    # A nonce replayed under another transactionID, in an otherwise new message.
    cred_n, secret_n = credential("alpha", expected=f"nonce.{A}")
    dn = Device(f"nonce.{A}")
    refused("a senderNonce seen before, in a new message, is badRequest",
            lambda: send(PKCS_REQ, make_csr(dn.key, dn.cn, secret_n), dn.signer, dn.key,
                         nonce=first.nonce), BAD_REQUEST, cred_n)


def renewals():
    # A RenewalReq from a self-signed signer, even with a valid challenge.
    cred, secret = credential("alpha", expected=f"ren0.{A}")
    d0 = Device(f"ren0.{A}")
    refused("a RenewalReq signed by a self-signed certificate is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(d0.key, d0.cn, secret), d0.signer, d0.key),
            BAD_REQUEST, cred)

    # A certificate issued over SCEP, then revoked.
    cred, secret = credential("alpha", expected=f"ren1.{A}")
    d1 = Device(f"ren1.{A}")
    issued("ren1 enrolls", d1.enroll(secret), d1)
    setup("POST", f"/certificates/{fingerprint(d1.cert)}/revoke", {"reason": "keyCompromise"}, 200)
    k = new_key()
    refused("a renewal (PKCSReq) signed by a revoked certificate is badRequest",
            lambda: send(PKCS_REQ, make_csr(k, d1.cn), d1.cert, d1.key), BAD_REQUEST, cred)
    refused("a RenewalReq signed by a revoked certificate is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(k, d1.cn), d1.cert, d1.key), BAD_REQUEST, cred)
    refused("a same-key renewal signed by a revoked certificate is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(d1.key, d1.cn), d1.cert, d1.key), BAD_REQUEST, cred)

    # A renewal keeps the subject and names.
    cred, secret = credential("alpha", expected=f"ren2.{A}")
    d2 = Device(f"ren2.{A}")
    issued("ren2 enrolls", d2.enroll(secret), d2)
    old = d2.cert
    k = new_key()
    refused("a renewal that changes the subject is badRequest",
            lambda: send(PKCS_REQ, make_csr(k, f"other.{A}"), old, d2.key), BAD_REQUEST, cred)
    refused("a renewal that adds a SAN is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(k, d2.cn, sans=[d2.cn, f"other.{A}"]), old, d2.key),
            BAD_REQUEST, cred)
    refused("a renewal signed by the old certificate but by another key is badMessageCheck",
            lambda: send(PKCS_REQ, make_csr(k, d2.cn), old, k), BAD_MESSAGE_CHECK, cred)

    # The one that works: PKCSReq signed by the issued certificate, a new key.
    count, uses_before = certificate_count(), uses(cred)
    new = Device(d2.cn)
    x = send(PKCS_REQ, make_csr(new.key, new.cn), old, d2.key)
    issued("a renewal with a new key, signed by the issued certificate, gets SUCCESS", x, new)
    renewed = x.cert
    superseded = db_rows("SELECT superseded_by FROM certificates WHERE fingerprint = ?",
                         fingerprint(old))
    check("the old certificate is superseded by the new one",
          renewed is not None and superseded == [(fingerprint(renewed),)], superseded)
    check("one certificate was added and no credential used",
          certificate_count() == count + 1 and uses(cred) == uses_before,
          f"certificates {count} -> {certificate_count()}, uses {uses_before} -> {uses(cred)}")
    code, doc = rest("GET", f"/certificates/{fingerprint(renewed)}")
    check("the renewal keeps the team and the channel",
          code == 200 and doc.get("team") == "alpha" and doc.get("channel") == "scep",
          f"{code} team={doc.get('team')} channel={doc.get('channel')}")
    # A retry of that renewal (an answer lost): the same certificate, nothing new.
    count = certificate_count()
    x = send(PKCS_REQ, make_csr(new.key, new.cn), old, d2.key)
    check("a retry of the renewal (the same new key) gets the same certificate, nothing added",
          not x.problems() and x.rep.status == SUCCESS and x.cert is not None and
          renewed is not None and der_of(x.cert) == der_of(renewed) and
          certificate_count() == count, x.describe())
    # The old certificate renews no more, with yet another key.
    k3 = new_key()
    refused("renewing the superseded certificate again with another new key is badRequest",
            lambda: send(PKCS_REQ, make_csr(k3, d2.cn), old, d2.key), BAD_REQUEST, cred)
    refused("a RenewalReq of the superseded certificate with its old key is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(d2.key, d2.cn), old, d2.key), BAD_REQUEST, cred)
    # The new one renews with RenewalReq, same key.
    x = send(RENEWAL_REQ, make_csr(new.key, new.cn), renewed, new.key)
    issued("a same-key RenewalReq signed by the renewed certificate gets SUCCESS", x, new)

    # Team A's certificate cannot be renewed into team B's names.
    cred, secret = credential("alpha", expected=f"ren3.{A}")
    d3 = Device(f"ren3.{A}")
    issued("ren3 (team alpha) enrolls", d3.enroll(secret), d3)
    k = new_key()
    refused("renewing an alpha certificate into a beta name is badRequest",
            lambda: send(PKCS_REQ, make_csr(k, f"ren3.{B}"), d3.cert, d3.key), BAD_REQUEST, cred)
    refused("renewing an alpha certificate with a beta SAN added is badRequest",
            lambda: send(RENEWAL_REQ, make_csr(d3.key, d3.cn, sans=[d3.cn, f"ren3.{B}"]),
                         d3.cert, d3.key), BAD_REQUEST, cred)
    # A signer past its notAfter (the inventory's, moved back).
    cred, secret = credential("alpha", expected=f"ren4.{A}")
    d4 = Device(f"ren4.{A}")
    issued("ren4 enrolls", d4.enroll(secret), d4)
    db = sqlite3.connect(DB, timeout=10)
    with db:
        db.execute("UPDATE certificates SET not_after = ? WHERE fingerprint = ?",
                   (int(datetime.datetime.now().timestamp()) - 60, fingerprint(d4.cert)))
    db.close()
    refused("a renewal signed by an expired certificate is badRequest",
            lambda: send(PKCS_REQ, make_csr(new_key(), d4.cn), d4.cert, d4.key), BAD_REQUEST, cred)

    # A certificate issued here, but through the REST API: it renews the way it was issued.
    k = new_key()
    csr_pem = x509.load_der_x509_csr(make_csr(k, f"rest.{A}")).public_bytes(
        serialization.Encoding.PEM).decode()
    doc = setup("POST", "/certificates", {"profile": "device", "csr": csr_pem, "team": "alpha"},
                201)
    rest_cert = x509.load_pem_x509_certificate(doc["certificate_pem"].encode())
    refused("a renewal signed by a certificate issued through the REST API is badRequest",
            lambda: send(PKCS_REQ, make_csr(k, f"rest.{A}"), rest_cert, k), BAD_REQUEST)


def non_rsa():
    """SCEP envelopes answers to the signer's RSA key: a signer with another key cannot be
    answered with a certificate, so nothing may be issued or renewed for it."""
    cred, secret = credential("alpha", expected=f"ec1.{A}")
    key = ec.generate_private_key(ec.SECP256R1())
    signer = self_signed(key, f"ec1.{A}")
    refused("a PKCSReq signed by an EC key is badAlg, and nothing is issued",
            lambda: send(PKCS_REQ, make_csr(key, f"ec1.{A}", secret), signer, key), BAD_ALG, cred)

    # An EC certificate, enrolled by an RSA signer, then renewing itself.
    cred, secret = credential("alpha", expected=f"ec2.{A}")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = new_key()
    x = send(PKCS_REQ, make_csr(ec_key, f"ec2.{A}", secret), self_signed(rsa_key, f"ec2.{A}"),
             rsa_key)
    ok = not x.problems() and x.rep.status == SUCCESS and x.cert is not None
    check("an EC key's certificate, asked for by an RSA signer, gets SUCCESS", ok, x.describe())
    if ok:
        ec_cert = x.cert
        refused("a renewal signed by that EC certificate is badAlg, and nothing is renewed",
                lambda: send(PKCS_REQ, make_csr(new_key(), f"ec2.{A}"), ec_cert, ec_key),
                BAD_ALG, cred)


def races():
    """Requests that may each succeed alone, sent at once: one wins."""
    # One one-time challenge, four devices (four keys, four transactions).
    cred, secret = credential("alpha", expected=f"race.{A}")
    devs = [Device(f"race.{A}") for _ in range(4)]
    msgs = [pki_message(PKCS_REQ, os.urandom(8).hex(), os.urandom(16),
                        envelope(make_csr(d.key, d.cn, secret), RA), d.signer, d.key)
            for d in devs]
    count = certificate_count()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(post, msgs))
    statuses = []
    for r, d in zip(rs, devs):
        try:
            rep = CertRep(r.content, d.key) if r.status_code == 200 else None
            statuses.append((rep.status, rep.fail_info) if rep else r.status_code)
        except Exception as e:
            statuses.append(repr(e))
    check("one one-time challenge used four times at once: one SUCCESS, three badRequest",
          sorted(map(str, statuses)) == sorted(map(str, [(SUCCESS, None)] +
                                                    [(FAILURE, BAD_REQUEST)] * 3)) and
          certificate_count() == count + 1 and uses(cred) == 1,
          f"{statuses}, certificates +{certificate_count() - count}, uses {uses(cred)}")
    # One certificate renewed four times at once, four new keys.
    cred, secret = credential("alpha", expected=f"race2.{A}")
    d = Device(f"race2.{A}")
    issued("race2 enrolls", d.enroll(secret), d)
    keys = [new_key() for _ in range(4)]
    msgs = [pki_message(PKCS_REQ, os.urandom(8).hex(), os.urandom(16),
                        envelope(make_csr(k, d.cn), RA), d.cert, d.key) for k in keys]
    count = certificate_count()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(post, msgs))
    statuses = []
    for r in rs:
        try:
            rep = CertRep(r.content, None) if r.status_code == 200 else None
            statuses.append((rep.status, rep.fail_info) if rep else r.status_code)
        except Exception as e:
            statuses.append(repr(e))
    superseded = db_rows("SELECT superseded_by FROM certificates WHERE fingerprint = ?",
                         fingerprint(d.cert))
    check("one certificate renewed four times at once: one SUCCESS, three badRequest",
          sorted(map(str, statuses)) == sorted(map(str, [(SUCCESS, None)] +
                                                    [(FAILURE, BAD_REQUEST)] * 3)) and
          certificate_count() == count + 1 and superseded and superseded[0][0],
          f"{statuses}, certificates +{certificate_count() - count}, superseded {superseded}")


def lookups():
    dev1, dev2 = state["dev1"], state["dev2"]
    other = dev2.cert
    refused("GetCert for another device's certificate is badCertId",
            lambda: send(GET_CERT, issuer_and_serial(other), dev1.signer, dev1.key), BAD_CERT_ID)
    refused("GetCert for another device's certificate, signed by an issued certificate, is "
            "badCertId",
            lambda: send(GET_CERT, issuer_and_serial(other), dev1.cert, dev1.key), BAD_CERT_ID)
    refused("GetCert for an unknown serial is badCertId",
            lambda: send(GET_CERT, seq(other.issuer.public_bytes(), integer(12345)),
                         dev1.signer, dev1.key), BAD_CERT_ID)
    refused("GetCert naming another issuer is badCertId",
            lambda: send(GET_CERT, seq(ROOT_CA.subject.public_bytes(),
                                       integer(other.serial_number)), dev1.signer, dev1.key),
            BAD_CERT_ID)
    refused("GetCert with content that is no IssuerAndSerialNumber is badRequest",
            lambda: send(GET_CERT, b"\x04\x02ab", dev1.signer, dev1.key), BAD_REQUEST)
    x = send(GET_CERT, issuer_and_serial(dev1.cert), dev1.signer, dev1.key)
    check("GetCert for its own certificate gets SUCCESS with that certificate",
          not x.problems() and x.rep.status == SUCCESS and x.cert is not None and
          der_of(x.cert) == der_of(dev1.cert), "; ".join(x.problems()) + " " + x.describe())
    x = send(GET_CERT, issuer_and_serial(dev1.cert), dev1.signer, dev1.key, via="GET")
    check("and over GET", not x.problems() and x.rep.status == SUCCESS and x.cert is not None,
          x.describe())

    x = send(GET_CRL, issuer_and_serial(dev1.cert), dev1.signer, dev1.key)
    crls = x.rep.inner_crls if x.rep else []
    check("GetCRL naming the issuing CA gets SUCCESS with its CRL",
          not x.problems() and x.rep.status == SUCCESS and len(crls) == 1 and
          crls[0].issuer == ISSUING_CA.subject and
          crls[0].is_signature_valid(ISSUING_CA.public_key()),
          "; ".join(x.problems()) + " " + x.describe() + f" {len(crls)} CRLs")
    refused("GetCRL naming the root is badCertId",
            lambda: send(GET_CRL, seq(ROOT_CA.subject.public_bytes(), integer(1)),
                         dev1.signer, dev1.key), BAD_CERT_ID)

    ias = seq(ISSUING_CA.subject.public_bytes(), name_of(dev1.cn).public_bytes())
    refused("CertPoll for an unknown transactionID is badCertId",
            lambda: send(CERT_POLL, ias, dev1.signer, dev1.key, tid="NO-SUCH-TRANSACTION"),
            BAD_CERT_ID)
    first = state["dev1_x"]
    x = send(CERT_POLL, ias, dev1.signer, dev1.key, tid=first.tid)
    check("CertPoll for its own transaction gets its certificate",
          not x.problems() and x.rep.status == SUCCESS and x.cert is not None and
          der_of(x.cert) == der_of(dev1.cert), x.describe())
    k = new_key()
    refused("CertPoll for another key's transaction is badCertId",
            lambda: send(CERT_POLL, ias, self_signed(k, dev1.cn), k, tid=first.tid), BAD_CERT_ID)


for group in (client_works, transport, message_types, signatures, challenges, replays,
              renewals, non_rsa, races, lookups):
    section(group)

print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
