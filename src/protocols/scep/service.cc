#include "protocols/scep/service.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"
#include "protocols/enrollment/rules.h"
#include "store/schema.h"
#include "x509/bundle.h"

namespace certward::protocols::scep {
namespace {

using x509::scep::FailInfo;
using x509::scep::MessageType;
using x509::scep::PkiStatus;

constexpr store::Migration kMigrations[] = {
    {1, "scep_transactions",
     R"sql(
CREATE TABLE scep_transactions (
  id TEXT PRIMARY KEY,
  authority TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  request_sha256 TEXT NOT NULL,
  key_sha256 TEXT NOT NULL,
  subject TEXT NOT NULL,
  certificate TEXT,
  approval TEXT,
  renewal BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX scep_transactions_tx ON scep_transactions (authority, transaction_id);
CREATE TABLE scep_nonces (
  nonce TEXT PRIMARY KEY,
  seen_at BIGINT NOT NULL
);
CREATE INDEX scep_nonces_seen ON scep_nonces (seen_at);
)sql"},
};

// How long a senderNonce is remembered: longer than any client retries one message.
constexpr auto kNonceMemory = std::chrono::days(7);

using Answer = Service::Answer;

Answer refuse(std::string reason, FailInfo f = FailInfo::kBadRequest) {
  Answer a;
  a.fail_info = f;
  a.reason = std::move(reason);
  return a;
}

Answer success(x509::Certificate cert) {
  Answer a;
  a.status = PkiStatus::kSuccess;
  a.certificate = std::move(cert);
  return a;
}

Answer pending() {
  Answer a;
  a.status = PkiStatus::kPending;
  return a;
}

// Not a CertRep: an HTTP 429 or 503 the client retries after.
Answer busy(std::string reason, std::chrono::seconds retry_after = {}) {
  Answer a;
  a.reason = std::move(reason);
  a.retry_after = retry_after;
  a.unavailable = true;
  return a;
}

}  // namespace

Service::Service(Deps deps)
    : d_(deps),
      authority_(deps.settings.authority.empty() ? deps.ca.default_authority
                                                 : deps.settings.authority),
      limiter_(deps.settings.requests_per_second, deps.settings.burst) {}

const store::SchemaModule kSchema{"scep", kMigrations};

Status Service::migrate(store::Database& db) { return db.migrate("scep", kMigrations); }

Status Service::start() {
  auto ra = d_.protocol_ra.current(authority_);
  if (!ra) return fail_with_context(ra.error(), "scep: the RA certificate of '" + authority_ + "'");
  return ok();
}

std::string_view Service::capabilities() {
  return "AES\nDES3\nGetNextCACert-not\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\n"
         "SHA-512\nSCEPStandard\n";
}

Outcome<std::vector<x509::Certificate>> Service::ca_certificates() {
  auto ra = d_.protocol_ra.current(authority_);
  if (!ra) {
    log::error("scep_ra_unavailable", {{"authority", authority_}, {"error", ra.error().message}});
    return std::unexpected(Failure{Refusal::kUnavailable, "the SCEP RA is unavailable", {}});
  }
  std::vector<x509::Certificate> out{(*ra)->certificate};
  out.insert(out.end(), (*ra)->chain.begin(), (*ra)->chain.end());
  return out;
}

Outcome<ca::Requester> Service::team_requester(const std::string& team, std::string actor) const {
  auto scope = d_.auth.team_scope(team);
  if (!scope) return std::unexpected(Failure{Refusal::kInternal, scope.error().message, {}});
  return ca::Requester{.actor = std::move(actor), .team = team, .scope = *scope};
}

Service::Answer Service::from_error(const Error& e) const {
  Answer a;
  a.reason = e.message;
  switch (e.code) {
    case ErrorCode::kBadSignature:
      a.fail_info = FailInfo::kBadMessageCheck;
      break;
    case ErrorCode::kUnavailable:
      a.unavailable = true;
      break;
    default:
      a.fail_info = FailInfo::kBadRequest;
  }
  return a;
}

Result<bool> Service::fresh_nonce(std::span<const std::uint8_t> nonce) {
  const std::int64_t now = to_unix(d_.clock.now());
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin());
  if (++nonces_seen_ % 1024 == 0) {
    CW_RETURN_IF_ERROR(
        tx->execute("DELETE FROM scep_nonces WHERE seen_at < ?",
                    store::params(now - std::chrono::seconds(kNonceMemory).count())));
  }
  CW_ASSIGN_OR_RETURN(const std::int64_t added,
                      tx->execute_count("INSERT INTO scep_nonces (nonce, seen_at) VALUES (?, ?) "
                                        "ON CONFLICT (nonce) DO NOTHING",
                                        store::params(to_hex(nonce), now)));
  CW_RETURN_IF_ERROR(tx->commit());
  return added == 1;
}

Result<std::vector<Service::Transaction>> Service::transactions(const std::string& transaction_id,
                                                                bool initial_only) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(
      auto rows,
      tx->query(std::string("SELECT request_sha256, key_sha256, subject, "
                            "certificate, approval FROM scep_transactions WHERE "
                            "authority = ? AND transaction_id = ?") +
                    (initial_only ? " AND renewal = 0" : "") + " ORDER BY created_at DESC, id",
                store::params(authority_, transaction_id)));
  std::vector<Transaction> out;
  for (const auto& row : rows) {
    out.push_back(Transaction{row.text(0), row.text(1), row.text(2), row.optional_text(3),
                              row.optional_text(4)});
  }
  return out;
}

Service::Answer Service::settle(const Transaction& t) const {
  std::optional<std::string> fingerprint = t.certificate;
  if (!fingerprint && t.approval) {
    if (d_.approvals == nullptr) return refuse("approvals are not served");
    auto held = d_.approvals->get(
        *t.approval, ca::Requester{.actor = "scep", .team = std::nullopt, .scope = std::nullopt});
    if (!held) return from_error(held.error());
    switch (held->status) {
      case ca::ApprovalStatus::kPending:
        return pending();
      case ca::ApprovalStatus::kIssued:
        fingerprint = held->certificate;
        break;
      default:
        return refuse("approval request " + held->id + " was " +
                      std::string(ca::approval_status_name(held->status)));
    }
  }
  if (!fingerprint) return refuse("the request has no certificate", FailInfo::kBadCertId);
  auto cert = d_.inventory.certificate(*fingerprint);
  if (!cert) return from_error(cert.error());
  return success(std::move(*cert));
}

Service::Answer Service::enroll(const Request& r) {
  auto csr = x509::parse_csr(r.content);
  if (!csr) {
    Answer a = from_error(csr.error());
    if (csr.error().code == ErrorCode::kMalformed) a.fail_info = FailInfo::kBadRequest;
    return a;
  }
  // A certificate issued here signs its own renewal; anything else is a self-signed signer
  // made for the occasion and proves nothing but the key.
  auto record = d_.inventory.get(r.message.signer.info().sha256_hex);
  if (!record) return from_error(record.error());
  if (*record && (*record)->meta.origin == inventory::Origin::kIssued)
    return renew(r, *csr, **record);
  if (r.message.type == MessageType::kRenewalReq)
    return refuse("a RenewalReq must be signed by the certificate being renewed");
  return with_challenge(r, *csr);
}

Service::Answer Service::with_challenge(const Request& r, const x509::Csr& csr) {
  const x509::CsrInfo& info = csr.info();
  const std::string request_sha256 = to_hex(crypto::sha256(csr.der()));
  // A retry of a request already answered gets its answer again (the certificate, or where
  // its approval stands), using no credential; another request under its transactionID none.
  // A retry is the same key (which signed it: the CSR's proof of possession) asking for the
  // same subject; clients rebuild the CSR itself for each attempt (certmonger does).
  const std::string key_sha256 = x509::scep::spki_sha256_hex(csr);
  auto before = transactions(r.message.transaction_id, true);
  if (!before) return from_error(before.error());
  for (const Transaction& t : *before) {
    if (t.key_sha256 == key_sha256 && t.subject == info.subject) return settle(t);
  }
  if (!before->empty()) return refuse("the transactionID was used for another request");

  if (!info.challenge_password || d_.credentials == nullptr)
    return refuse("the request carries no challenge password");
  auto found =
      d_.credentials->find_by_secret(auth::CredentialKind::kScep, *info.challenge_password);
  if (!found) return from_error(found.error());
  if (!*found) return refuse("unknown challenge password");
  const auth::CredentialInfo& c = **found;
  const SysTime now = d_.clock.now();
  if (!c.usable(now)) return refuse("challenge " + c.id + " is " + std::string(c.state(now)));
  if (c.label || (c.authority && *c.authority != authority_))
    return refuse("challenge " + c.id + " is for another endpoint or authority");
  if (!enrollment::names_expected_device(c, info.subject_cn, info.sans))
    return refuse("the request names another device than challenge " + c.id + " is for");
  if (auto d = limiter_.allow("scep:" + c.id); !d.allowed)
    return busy("rate limited", d.retry_after);
  auto requester = team_requester(c.team, "scep:" + c.id);
  if (!requester) return busy(requester.error().message);
  requester->principal = "enrollment-credential:" + c.id;

  ca::EnrollmentRequest request;
  request.csr = csr;
  request.profile = c.profile;
  request.authority = authority_;
  request.requester = *requester;
  request.channel = ca::Channel::kScep;
  request.team = c.team;
  request.tags.push_back("credential:" + c.id);
  auth::EnrollmentCredentials* creds = d_.credentials;
  const std::string id = c.id;
  const std::string authority = authority_;
  const std::string transaction_id = r.message.transaction_id;
  const std::string subject = info.subject;
  const std::int64_t created = to_unix(now);
  auto record = [&](store::Transaction& tx, const std::optional<std::string>& certificate,
                    const std::optional<std::string>& approval) -> Status {
    // A held request's use names its approval request; the certificate comes later.
    CW_RETURN_IF_ERROR(creds->consume(
        tx, id, certificate ? *certificate : "approval:" + approval.value_or(""), "scep"));
    return tx.execute(
        "INSERT INTO scep_transactions (id, authority, transaction_id, request_sha256, "
        "key_sha256, subject, certificate, approval, renewal, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        store::params(to_hex(crypto::random_bytes(8)), authority, transaction_id, request_sha256,
                      key_sha256, subject, certificate, approval, created));
  };
  auto profile = d_.profiles.find(c.profile);
  if (profile && (*profile)->requires_approval) {
    if (d_.approvals == nullptr)
      return refuse("profile " + c.profile + " requires approval, which is not served here");
    auto held = d_.approvals->hold(std::move(request),
                                   [&](store::Transaction& tx, const ca::ApprovalRequest& h) {
                                     return record(tx, std::nullopt, h.id);
                                   });
    if (!held) return from_error(held.error());
    log::info("scep_held", {{"transaction", transaction_id}, {"approval", held->id}});
    return pending();
  }
  auto issued = d_.ra.enroll_and_record(std::move(request),
                                        [&](store::Transaction& tx, const x509::Certificate& cert,
                                            const crypto::PrivateKey*) -> Status {
                                          return record(tx, cert.info().sha256_hex, std::nullopt);
                                        });
  if (!issued) return from_error(issued.error());
  return success(issued->certificate);
}

Service::Answer Service::renew(const Request& r, const x509::Csr& csr,
                               const inventory::CertificateRecord& old) {
  const SysTime now = d_.clock.now();
  const std::string fp = old.fingerprint;
  // Only what was enrolled over SCEP renews over SCEP: a certificate issued through the API,
  // ACME or EST is renewed the way it was issued.
  if (old.meta.channel != std::optional<std::string>(ca::channel_name(ca::Channel::kScep)))
    return refuse("the signer was not enrolled over SCEP");
  if (old.revoked_at) return refuse("the signer is revoked");
  if (old.not_after <= now || old.not_before > now) return refuse("the signer is not valid now");
  if (old.superseded_by) {
    // A retry of a renewal already made, after a lost answer: its result, when it is for the
    // key now asked for.
    auto renewed = d_.inventory.certificate(*old.superseded_by);
    if (renewed && renewed->info().spki_sha256_hex == x509::scep::spki_sha256_hex(csr) &&
        renewed->info().subject == csr.info().subject)
      return success(*renewed);
    return refuse("the signer has been renewed already");
  }
  if (!old.meta.profile || !old.meta.authority || old.is_ca)
    return refuse("the signer cannot be renewed over SCEP");
  auto profile = d_.profiles.find(*old.meta.profile);
  if (!profile || (*profile)->ca || (*profile)->internal)
    return refuse("the signer cannot be renewed over SCEP");
  if (!enrollment::keeps_names(csr.info().subject, csr.info().sans, old))
    return refuse("a renewal keeps the certificate's subject and names");
  if (auto d = limiter_.allow("scep-renewal:" + fp); !d.allowed)
    return busy("rate limited", d.retry_after);

  ca::Requester requester{
      .actor = "scep-renewal:" + fp.substr(0, 16), .team = std::nullopt, .scope = std::nullopt};
  if (old.meta.team) {
    auto t = team_requester(*old.meta.team, requester.actor);
    if (!t) return busy(t.error().message);
    requester = *t;
  }
  requester.principal = "certificate:" + fp;
  ca::EnrollmentRequest request;
  request.csr = csr;
  request.common_name = old.common_name.empty() ? std::nullopt : std::optional(old.common_name);
  request.sans = old.sans;
  request.owner = old.meta.owner;
  request.tags = old.meta.tags;
  request.profile = *old.meta.profile;
  request.authority = old.meta.authority;
  request.requester = requester;
  request.channel = ca::Channel::kScep;
  request.team = old.meta.team;

  const inventory::Inventory& inventory = d_.inventory;
  const audit::AuditLog& audit = d_.audit;
  const std::string authority = authority_;
  const std::string transaction_id = r.message.transaction_id;
  const std::string request_sha256 = to_hex(crypto::sha256(csr.der()));
  const std::string key_sha256 = x509::scep::spki_sha256_hex(csr);
  const std::string subject = csr.info().subject;
  const std::string actor = requester.actor;
  const std::int64_t created = to_unix(now);
  auto issued = d_.ra.enroll_and_record(
      std::move(request),
      [&](store::Transaction& tx, const x509::Certificate& cert,
          const crypto::PrivateKey*) -> Status {
        // Of two renewals of one certificate racing, the second finds it superseded.
        auto s = inventory.mark_superseded(tx, fp, cert.info().sha256_hex);
        if (!s && s.error().code == ErrorCode::kConflict)
          return fail(ErrorCode::kConflict, "the signer has been renewed already");
        CW_RETURN_IF_ERROR(s);
        audit::Event e;
        e.actor = actor;
        e.action = "scep.renew";
        e.target_type = "certificate";
        e.target_id = fp;
        e.details = {{"replaced_by", cert.info().sha256_hex}};
        CW_RETURN_IF_ERROR(audit.append(tx, e));
        return tx.execute(
            "INSERT INTO scep_transactions (id, authority, transaction_id, request_sha256, "
            "key_sha256, subject, certificate, renewal, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            store::params(to_hex(crypto::random_bytes(8)), authority, transaction_id,
                          request_sha256, key_sha256, subject, cert.info().sha256_hex, created));
      });
  if (!issued) return from_error(issued.error());
  return success(issued->certificate);
}

Service::Answer Service::poll(const Request& r) {
  auto ias = x509::scep::parse_issuer_and_subject(r.content);
  if (!ias) return from_error(ias.error());
  auto rows = transactions(r.message.transaction_id, false);
  if (!rows) return from_error(rows.error());
  // Only the key that asked may collect: the request's own self-signed signer, or the old
  // certificate of a renewal whose new key signed nothing yet.
  const std::string& signer_key = r.message.signer.info().spki_sha256_hex;
  for (const Transaction& t : *rows) {
    if (t.key_sha256 != signer_key) {
      auto old = d_.inventory.get(r.message.signer.info().sha256_hex);
      if (!old || !*old || !t.certificate || (*old)->superseded_by != t.certificate) continue;
    }
    Answer a = settle(t);
    if (a.certificate &&
        !x509::scep::same_name(ias->subject, x509::scep::subject_der(*a.certificate)))
      continue;
    return a;
  }
  return refuse("no such request", FailInfo::kBadCertId);
}

std::optional<Service::Answer> Service::other_issuer(std::span<const std::uint8_t> issuer) {
  auto authority = d_.authorities.load(authority_);
  if (!authority) return from_error(authority.error());
  if (!x509::scep::same_name(issuer, x509::scep::subject_der((*authority)->certificate())))
    return refuse("another issuer", FailInfo::kBadCertId);
  return std::nullopt;
}

Service::Answer Service::get_cert(const Request& r) {
  auto ias = x509::scep::parse_issuer_and_serial(r.content);
  if (!ias) return from_error(ias.error());
  if (auto other = other_issuer(ias->issuer)) return *other;
  auto status = d_.inventory.serial_status(authority_, ias->serial_hex);
  if (!status) return from_error(status.error());
  if (!*status) return refuse("no such certificate", FailInfo::kBadCertId);
  auto cert = d_.inventory.certificate((*status)->fingerprint);
  if (!cert) return from_error(cert.error());
  // A client fetches its own certificate: the inventory is not a directory for anyone who can
  // make a key.
  if (cert->info().spki_sha256_hex != r.message.signer.info().spki_sha256_hex)
    return refuse("not the signer's certificate", FailInfo::kBadCertId);
  return success(*cert);
}

Service::Answer Service::get_crl(const Request& r) {
  auto ias = x509::scep::parse_issuer_and_serial(r.content);
  if (!ias) return from_error(ias.error());
  if (auto other = other_issuer(ias->issuer)) return *other;
  auto crl = d_.crls.current(authority_, false);
  if (!crl) return from_error(crl.error());
  if (!*crl) return refuse("no CRL published yet", FailInfo::kBadCertId);
  auto p7 = x509::scep::make_crls_only((*crl)->der);
  if (!p7) return from_error(p7.error());
  Answer a;
  a.status = PkiStatus::kSuccess;
  a.crls = std::move(*p7);
  return a;
}

Outcome<Bytes> Service::reply(const x509::scep::ReplyTo& to,
                              std::optional<x509::scep::Cipher> cipher, const Answer& a) {
  if (a.unavailable) {
    log::info("scep_unavailable", {{"transaction", to.transaction_id}, {"reason", a.reason}});
    return std::unexpected(Failure{
        a.retry_after.count() > 0 ? Refusal::kRateLimited : Refusal::kUnavailable,
        a.retry_after.count() > 0 ? "too many requests; retry later" : "the service is unavailable",
        a.retry_after});
  }
  auto ra = d_.protocol_ra.current(authority_);
  if (!ra) return std::unexpected(Failure{Refusal::kUnavailable, "the SCEP RA is unavailable", {}});
  x509::scep::Reply out;
  out.status = a.status;
  out.transaction_id = to.transaction_id;
  out.recipient_nonce = to.sender_nonce;
  out.digest = to.digest;
  out.cipher = cipher.value_or(x509::scep::Cipher::kAes256);
  out.recipient = &to.signer;
  if (a.status == PkiStatus::kSuccess) {
    if (a.certificate) {
      auto p7 = x509::make_pkcs7(std::span(&*a.certificate, 1));
      if (!p7) return std::unexpected(Failure{Refusal::kInternal, "cannot encode the answer", {}});
      out.content = std::move(*p7);
    } else {
      out.content = a.crls;
    }
  } else if (a.status == PkiStatus::kFailure) {
    out.fail_info = a.fail_info;
    log::info("scep_refused", {{"transaction", to.transaction_id}, {"reason", a.reason}});
  }
  auto der = x509::scep::make_cert_rep(out, (*ra)->certificate, *(*ra)->key);
  if (!der) {
    log::error("scep_reply_failed", {{"error", der.error().message}});
    return std::unexpected(Failure{Refusal::kInternal, "cannot encode the answer", {}});
  }
  return std::move(*der);
}

Outcome<Bytes> Service::pki_operation(std::span<const std::uint8_t> der) {
  auto message = x509::scep::parse_pki_message(der);
  if (!message) {
    // A message whose signature fails is answered, as far as it can be, so that the client
    // learns why; one that cannot be read is not a SCEP message.
    auto to = x509::scep::reply_to(der);
    if (message.error().code == ErrorCode::kBadSignature && to)
      return reply(*to, std::nullopt, refuse(message.error().message, FailInfo::kBadMessageCheck));
    return std::unexpected(Failure{Refusal::kBadRequest, message.error().message, {}});
  }
  const x509::scep::ReplyTo to{message->transaction_id, message->sender_nonce, message->signer,
                               message->digest};
  // Every answer worth having is encrypted to the signer's key, which SCEP requires to be RSA:
  // refused before anything is issued, renewed or recorded.
  if (EVP_PKEY_get_base_id(message->signer.public_key()) != EVP_PKEY_RSA)
    return reply(
        to, std::nullopt,
        refuse("the signer's key is not RSA; SCEP answers are encrypted to it", FailInfo::kBadAlg));
  auto fresh = fresh_nonce(message->sender_nonce);
  if (!fresh) return reply(to, std::nullopt, from_error(fresh.error()));
  if (!*fresh) return reply(to, std::nullopt, refuse("replayed senderNonce"));

  auto decryptors = d_.protocol_ra.decryptors(authority_);
  if (!decryptors) return reply(to, std::nullopt, from_error(decryptors.error()));
  std::vector<x509::scep::Decryptor> keys;
  for (const auto& c : *decryptors) keys.push_back({&c->certificate, c->key.get()});
  auto opened = x509::scep::open_envelope(message->envelope, keys);
  if (!opened) {
    Answer a = refuse(opened.error().message, FailInfo::kBadMessageCheck);
    if (opened.error().code == ErrorCode::kPolicyRejected) a.fail_info = FailInfo::kBadAlg;
    if (opened.error().code == ErrorCode::kMalformed) a.fail_info = FailInfo::kBadRequest;
    return reply(to, std::nullopt, a);
  }
  const Request r{*message, std::move(opened->content)};
  Answer a;
  switch (message->type) {
    case MessageType::kPkcsReq:
    case MessageType::kRenewalReq:
      a = enroll(r);
      break;
    case MessageType::kCertPoll:
      a = poll(r);
      break;
    case MessageType::kGetCert:
      a = get_cert(r);
      break;
    case MessageType::kGetCrl:
      a = get_crl(r);
      break;
    case MessageType::kCertRep:
      a = refuse("a CertRep is not a request");
      break;
  }
  if (a.status == PkiStatus::kSuccess && a.certificate)
    log::info("scep_answered", {{"type", std::string(x509::scep::message_type_name(message->type))},
                                {"certificate", a.certificate->info().sha256_hex}});
  return reply(to, opened->cipher, a);
}

}  // namespace certward::protocols::scep
