#include "protocols/cmp/service.h"

#include <openssl/cmperr.h>
#include <openssl/err.h>

#include "common/encoding.h"
#include "common/log.h"
#include "protocols/cmp/openssl_glue.h"
#include "protocols/enrollment/rules.h"
#include "store/schema.h"
#include "x509/cmp.h"

namespace certward::protocols::cmp {
namespace {

using x509::cmp::Body;

constexpr store::Migration kMigrations[] = {
    {1, "cmp_transactions",
     R"sql(
CREATE TABLE cmp_transactions (
  transaction_id TEXT PRIMARY KEY,
  request BLOB NOT NULL,
  certificate TEXT NOT NULL,
  server_nonce BLOB,
  state TEXT NOT NULL,
  credential TEXT,
  signer TEXT,
  created_at BIGINT NOT NULL
);
)sql"},
    {2, "cmp_holds",
     // A request held for approval: its approval request, and the certificate a held kur
     // replaces once the approved one is delivered. The endpoint ('' or the label) the
     // transaction began at, where alone it continues.
     R"sql(
ALTER TABLE cmp_transactions ADD COLUMN approval TEXT;
ALTER TABLE cmp_transactions ADD COLUMN replaces TEXT;
ALTER TABLE cmp_transactions ADD COLUMN endpoint TEXT;
)sql"},
};

// Every PasswordBasedMac iteration costs a hash: a client may not ask for more than this.
constexpr long kMaxPbmIterations = 10'000;

using SrvPtr = crypto::Handle<OSSL_CMP_SRV_CTX, OSSL_CMP_SRV_CTX_free>;

}  // namespace

struct Service::Call {
  Service& s;
  std::string authority;          // the endpoint's, or its label's
  const CmpLabelSettings* label;  // null: the unlabelled endpoint
  x509::cmp::Header header;
  std::string tid;  // transactionID, hex
  std::shared_ptr<const ca::RaCredential> ra;
  std::optional<auth::CredentialInfo> credential;  // the MAC was made with its secret
  bool replay = false;                             // priming for a certConf or pollReq
  std::optional<x509::Certificate> replayed;
  std::optional<std::string> issued;  // fingerprint of what this request issued or delivered
  bool own = false;                   // a certConf or pollReq from the transaction's own requester
  // A held transaction: its approval request, the request stored and the certificate a kur
  // replaces (pollReq); this request was held now (holding); what the poll refuses (refusal).
  std::optional<std::string> approval;
  x509::cmp::MessagePtr stored;
  std::optional<std::string> replaces;
  std::optional<std::string> holding;
  std::optional<std::string> refusal;
  bool claimed = false;  // this poll took the held transaction to deliver or refuse it

  std::string endpoint() const { return label != nullptr ? label->name : std::string(); }

  // The certificate that signed `req`, issued here and usable to sign requests: enrolled over
  // CMP, valid, unrevoked and not renewed. `why` says why not.
  std::optional<inventory::CertificateRecord> signer(const OSSL_CMP_MSG* req, std::string& why) {
    auto certs = x509::cmp::extra_certs(req);
    if (certs.empty() || !signed_by(req, certs.front())) {
      why = "the request is not signed by a certificate it carries";
      return std::nullopt;
    }
    auto record = s.d_.inventory.get(certs.front().info().sha256_hex);
    if (!record || !*record || (*record)->meta.origin != inventory::Origin::kIssued) {
      why = "the signer was not issued here";
      return std::nullopt;
    }
    const inventory::CertificateRecord& r = **record;
    const SysTime now = s.d_.clock.now();
    if (r.meta.channel != std::optional<std::string>(ca::channel_name(ca::Channel::kCmp)))
      why = "the signer was not enrolled over CMP";
    else if (r.revoked_at)
      why = "the signer is revoked";
    else if (r.not_after <= now || r.not_before > now)
      why = "the signer is not valid now";
    else if (r.is_ca || !r.meta.profile || !r.meta.authority)
      why = "the signer cannot request certificates";
    if (!why.empty()) return std::nullopt;
    return r;
  }

  Result<ca::Requester> team_requester(const std::optional<std::string>& team, std::string actor,
                                       std::string principal) const {
    ca::Requester r{.actor = std::move(actor), .team = std::nullopt, .scope = std::nullopt};
    if (team) {
      CW_ASSIGN_OR_RETURN(auto scope, s.d_.auth.team_scope(*team));
      r.team = team;
      r.scope = scope;
    }
    r.principal = std::move(principal);
    return r;
  }

  Result<bool> transaction_exists() const {
    CW_ASSIGN_OR_RETURN(auto tx, s.d_.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT 1 FROM cmp_transactions WHERE "
                                                "transaction_id = ?",
                                                store::params(tid)));
    return row.has_value();
  }

  OSSL_CMP_PKISI* cert_request(const OSSL_CMP_MSG* req, const OSSL_CRMF_MSG* crm,
                               const X509_REQ* p10cr, X509** cert_out, STACK_OF(X509) * *chain_out,
                               STACK_OF(X509) * *ca_pubs) {
    const Body body = x509::cmp::body_type(req);
    if (replay) {
      if (refusal) return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, *refusal);
      if (!replayed) return waiting();  // a held request, primed for its poll
      *cert_out = X509_dup(replayed->get());
      *chain_out = stack_of(ra->chain);
      if (body == Body::kIr && !ra->chain.empty())
        *ca_pubs = stack_of(std::span(&ra->chain.back(), 1));
      return accepted();
    }
    auto exists = transaction_exists();
    if (!exists) return rejected(OSSL_CMP_PKIFAILUREINFO_systemUnavail, "try again later");
    if (*exists)
      return rejected(OSSL_CMP_PKIFAILUREINFO_transactionIdInUse, "transactionID in use");

    ca::EnrollmentRequest request;
    std::optional<inventory::CertificateRecord> old;  // kur: the certificate updated
    std::optional<std::string> signer_fp;             // of a signed request
    std::string rate_key;
    if (credential) {
      const auth::CredentialInfo& c = *credential;
      if (body == Body::kKur)
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "a kur is signed by the certificate it updates");
      if (!c.usable(s.d_.clock.now()))
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the credential is " + std::string(c.state(s.d_.clock.now())));
      // A credential made for a label enrolls there only; at a label, only credentials for
      // its profile, so that the label's choice holds.
      if (c.label && (label == nullptr || *c.label != label->name))
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the credential is for another label");
      if (label != nullptr && c.profile != label->profile)
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the credential is for another profile than this label's");
      if (c.authority && *c.authority != authority)
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the credential is for another authority");
      auto requester = team_requester(c.team, "cmp:" + c.id, "enrollment-credential:" + c.id);
      if (!requester) return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, "the team is gone");
      request.requester = *requester;
      request.team = c.team;
      request.profile = c.profile;
      request.authority = authority;
      request.tags.push_back("credential:" + c.id);
      rate_key = "cmp:" + c.id;
    } else {
      std::string why;
      auto signer_record = signer(req, why);
      if (!signer_record) return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, why);
      if (body == Body::kIr || body == Body::kP10cr)
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "initial requests are protected by a shared secret");
      if (body == Body::kKur) {
        const OSSL_CRMF_CERTID* id = OSSL_CRMF_MSG_get0_regCtrl_oldCertID(crm);
        if (id == nullptr ||
            serial_hex(OSSL_CRMF_CERTID_get0_serialNumber(id)) != signer_record->serial)
          return rejected(OSSL_CMP_PKIFAILUREINFO_badCertId,
                          "a kur is signed by the certificate it updates");
        if (signer_record->superseded_by)
          return rejected(OSSL_CMP_PKIFAILUREINFO_badCertId, "the certificate was updated already");
        old = signer_record;
      } else if (signer_record->superseded_by) {
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, "the signer has been renewed");
      }
      if (*signer_record->meta.authority != authority ||
          (label != nullptr && *signer_record->meta.profile != label->profile))
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the signer's profile or authority is not this endpoint's");
      const std::string fp = signer_record->fingerprint;
      signer_fp = fp;
      auto requester = team_requester(signer_record->meta.team, "cmp-cert:" + fp.substr(0, 16),
                                      "certificate:" + fp);
      if (!requester) return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, "the team is gone");
      request.requester = *requester;
      request.team = signer_record->meta.team;
      request.profile = *signer_record->meta.profile;
      request.authority = signer_record->meta.authority;
      request.owner = signer_record->meta.owner;
      request.tags = signer_record->meta.tags;
      request.common_name = signer_record->common_name.empty()
                                ? std::nullopt
                                : std::optional(signer_record->common_name);
      request.sans = signer_record->sans;
      rate_key = "cmp-cert:" + fp;
      // Whatever the template asks, a signed request is for its signer's subject.
      std::string subject;
      if (crm != nullptr) {
        auto names = x509::cmp::template_names(crm);
        if (!names) return rejected(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, names.error().message);
        subject = names->subject;
      }
      if (!subject.empty() && subject != signer_record->subject)
        return rejected(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
                        "a signed request keeps its signer's subject");
    }

    std::string subject;
    std::vector<x509::SubjectAltName> sans;
    std::string common_name;
    if (crm != nullptr) {
      crypto::EvpPkeyPtr key = x509::cmp::template_public_key(crm);
      if (!key) return rejected(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "the template has no key");
      auto names = x509::cmp::template_names(crm);
      if (!names) return rejected(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, names.error().message);
      subject = names->subject;
      common_name = names->common_name;
      sans = names->sans;
      request.public_key = std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
    } else if (p10cr != nullptr) {
      unsigned char* buf = nullptr;
      const int n = i2d_X509_REQ(const_cast<X509_REQ*>(p10cr), &buf);
      if (n <= 0) return rejected(OSSL_CMP_PKIFAILUREINFO_badDataFormat, "unreadable PKCS#10");
      auto csr = x509::parse_csr(std::span<const std::uint8_t>(buf, std::size_t(n)));
      OPENSSL_free(buf);
      if (!csr) return rejected(OSSL_CMP_PKIFAILUREINFO_badPOP, csr.error().message);
      subject = csr->info().subject;
      common_name = csr->info().subject_cn;
      sans = csr->info().sans;
      request.csr = *csr;
    } else {
      return rejected(OSSL_CMP_PKIFAILUREINFO_badRequest, "no certificate request");
    }
    if (credential) {
      if (!enrollment::names_expected_device(*credential, common_name, sans))
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "the request names another device than the credential is for");
      if (common_name.empty() && sans.empty())
        return rejected(OSSL_CMP_PKIFAILUREINFO_badCertTemplate, "the request names nothing");
      request.common_name = common_name.empty() ? std::nullopt : std::optional(common_name);
      if (!request.csr) request.sans = sans;
    }
    if (auto d = s.limiter_.allow(rate_key); !d.allowed)
      return rejected(OSSL_CMP_PKIFAILUREINFO_systemUnavail, "too many requests; retry later");
    request.channel = ca::Channel::kCmp;

    auto der = x509::cmp::to_der(req);
    if (!der) return rejected(OSSL_CMP_PKIFAILUREINFO_systemFailure, "cannot keep the request");
    auth::EnrollmentCredentials* creds = s.d_.credentials;
    const inventory::Inventory& inventory = s.d_.inventory;
    const audit::AuditLog& audit = s.d_.audit;
    const std::optional<std::string> credential_id =
        credential ? std::optional(credential->id) : std::nullopt;
    const std::string actor = request.requester.actor;
    const std::int64_t now = to_unix(s.d_.clock.now());
    bool tid_taken = false;
    auto profile = s.d_.profiles.find(request.profile);
    if (profile && (*profile)->requires_approval) {
      if (s.d_.approvals == nullptr)
        return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                        "profile " + request.profile + " requires approval, not served here");
      const std::optional<std::string> old_fp =
          old ? std::optional(old->fingerprint) : std::nullopt;
      auto held = s.d_.approvals->hold(
          std::move(request), [&](store::Transaction& tx, const ca::ApprovalRequest& a) -> Status {
            // One update of a certificate at a time: a second kur waits for none.
            if (old_fp) {
              CW_ASSIGN_OR_RETURN(auto other,
                                  tx.query_one("SELECT 1 FROM cmp_transactions WHERE replaces = ? "
                                               "AND state IN ('held', 'delivering')",
                                               store::params(*old_fp)));
              if (other)
                return fail(ErrorCode::kConflict,
                            "an update of this certificate is already waiting for approval");
            }
            CW_ASSIGN_OR_RETURN(
                const std::int64_t added,
                tx.execute_count(
                    "INSERT INTO cmp_transactions (transaction_id, request, certificate, state, "
                    "credential, signer, approval, replaces, endpoint, created_at) VALUES (?, ?, "
                    "'', 'held', ?, ?, ?, ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING",
                    store::params(tid, *der, credential_id, signer_fp, a.id, old_fp, endpoint(),
                                  now)));
            if (added != 1) {
              tid_taken = true;
              return fail(ErrorCode::kConflict, "transactionID in use");
            }
            // The use names the approval request; the certificate comes when it is approved.
            if (credential_id)
              CW_RETURN_IF_ERROR(creds->consume(tx, *credential_id, "approval:" + a.id, "cmp"));
            return ok();
          });
      if (!held) {
        if (tid_taken)
          return rejected(OSSL_CMP_PKIFAILUREINFO_transactionIdInUse, "transactionID in use");
        if (held.error().code == ErrorCode::kConflict)
          return rejected(OSSL_CMP_PKIFAILUREINFO_badCertId, held.error().message);
        return rejected(fail_info_of(held.error()), held.error().message);
      }
      holding = held->id;
      log::info("cmp_held", {{"transaction", tid}, {"approval", held->id}});
      return waiting();
    }
    auto issued_now = s.d_.ra.enroll_and_record(
        std::move(request),
        [&](store::Transaction& tx, const x509::Certificate& cert,
            const crypto::PrivateKey*) -> Status {
          const std::string fp = cert.info().sha256_hex;
          // Of two requests racing with one transactionID, the second finds it taken here
          // and stores nothing. Who asked is kept: only they may confirm.
          CW_ASSIGN_OR_RETURN(
              const std::int64_t added,
              tx.execute_count(
                  "INSERT INTO cmp_transactions (transaction_id, request, "
                  "certificate, state, credential, signer, endpoint, created_at) "
                  "VALUES (?, ?, ?, 'waiting', ?, ?, ?, ?) ON CONFLICT "
                  "(transaction_id) DO NOTHING",
                  store::params(tid, *der, fp, credential_id, signer_fp, endpoint(), now)));
          if (added != 1) {
            tid_taken = true;
            return fail(ErrorCode::kConflict, "transactionID in use");
          }
          if (credential_id) CW_RETURN_IF_ERROR(creds->consume(tx, *credential_id, fp, "cmp"));
          if (old) {
            auto sup = inventory.mark_superseded(tx, old->fingerprint, fp);
            if (!sup && sup.error().code == ErrorCode::kConflict)
              return fail(ErrorCode::kConflict, "the certificate was updated already");
            CW_RETURN_IF_ERROR(sup);
            audit::Event e;
            e.actor = actor;
            e.action = "cmp.kur";
            e.target_type = "certificate";
            e.target_id = old->fingerprint;
            e.details = {{"replaced_by", fp}};
            CW_RETURN_IF_ERROR(audit.append(tx, e));
          }
          return ok();
        });
    if (!issued_now) {
      if (tid_taken)
        return rejected(OSSL_CMP_PKIFAILUREINFO_transactionIdInUse, "transactionID in use");
      if (issued_now.error().code == ErrorCode::kConflict)
        return rejected(OSSL_CMP_PKIFAILUREINFO_badCertId, issued_now.error().message);
      return rejected(fail_info_of(issued_now.error()), issued_now.error().message);
    }
    issued = issued_now->certificate.info().sha256_hex;
    *cert_out = X509_dup(issued_now->certificate.get());
    *chain_out = stack_of(issued_now->chain);
    if (body == Body::kIr && !issued_now->chain.empty())
      *ca_pubs = stack_of(std::span(&issued_now->chain.back(), 1));
    log::info("cmp_issued", {{"certificate", *issued}, {"transaction", tid}});
    return accepted();
  }

  OSSL_CMP_PKISI* revoke(const OSSL_CMP_MSG* req, const ASN1_INTEGER* serial) {
    std::string why;
    // A renewed (superseded) certificate may still be revoked by its holder.
    auto signer_record = signer(req, why);
    if (!signer_record) return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized, why);
    if (serial == nullptr || serial_hex(serial) != signer_record->serial)
      return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                      "an rr is signed by the certificate it revokes");
    if (*signer_record->meta.authority != authority ||
        (label != nullptr && *signer_record->meta.profile != label->profile))
      return rejected(OSSL_CMP_PKIFAILUREINFO_notAuthorized,
                      "the certificate's profile or authority is not this endpoint's");
    auto reason =
        ca::parse_revocation_reason(std::to_string(x509::cmp::revocation_reason(req).value_or(0)));
    if (!reason) return rejected(OSSL_CMP_PKIFAILUREINFO_badRequest, reason.error().message);
    ca::RevokeRequest r;
    r.id = signer_record->fingerprint;
    r.reason = *reason;
    r.requester = ca::Requester{
        .actor = "cmp-cert:" + r.id.substr(0, 16), .team = std::nullopt, .scope = std::nullopt};
    r.channel = ca::Channel::kCmp;
    auto done = s.d_.revocation.revoke(r);
    if (!done) {
      if (done.error().code == ErrorCode::kConflict)
        return rejected(OSSL_CMP_PKIFAILUREINFO_certRevoked, "already revoked");
      return rejected(fail_info_of(done.error()), done.error().message);
    }
    log::info("cmp_revoked", {{"certificate", r.id}});
    return accepted();
  }

  // What to ask for (RFC 9483 4.3.3): the subject the credential expects, or the signer's;
  // the first key type of its profile. nullopt: the requester is not known.
  std::optional<std::pair<std::optional<std::string>, crypto::KeyType>> template_for(
      const OSSL_CMP_MSG* req) {
    std::string profile;
    std::optional<std::string> cn;
    if (credential) {
      profile = credential->profile;
      cn = credential->expected_subject;
    } else {
      std::string why;
      auto r = signer(req, why);
      if (!r) return std::nullopt;
      profile = *r->meta.profile;
      if (!r->common_name.empty()) cn = r->common_name;
    }
    auto p = s.d_.profiles.find(profile);
    if (!p || (*p)->key_types.empty()) return std::nullopt;
    return std::pair(cn, (*p)->key_types.front());
  }

  // A poll for a held request: wait longer, or the approved certificate (or the refusal) in
  // the answer to the stored request, which OpenSSL processes again.
  int poll(OSSL_CMP_MSG** cert_req, int64_t* check_after) {
    *cert_req = nullptr;
    if (!own || !approval || !stored) return 0;  // no held transaction of the requester's
    auto held = s.d_.approvals->get(
        *approval, ca::Requester{.actor = "cmp", .team = std::nullopt, .scope = std::nullopt});
    if (!held && held.error().code != ErrorCode::kNotFound) {
      *check_after = s.d_.settings.check_after_seconds;  // the store is away: ask again
      return 1;
    }
    if (held && held->status == ca::ApprovalStatus::kPending) {
      *check_after = s.d_.settings.check_after_seconds;
      return 1;
    }
    // Decided: this poll takes the transaction, or another poll racing it did.
    if (!claim()) return 0;
    if (held && held->status == ca::ApprovalStatus::kIssued && held->certificate) {
      auto cert = s.d_.inventory.certificate(*held->certificate);
      if (!cert) {
        release();
        *check_after = s.d_.settings.check_after_seconds;
        return 1;
      }
      if (replaces && !supersede(*replaces, *held->certificate)) {
        // Updated meanwhile by another request: the certificate approved for this one
        // would be a second live replacement, so it is revoked and refused.
        withdraw(*held->certificate);
        refusal = "the certificate was updated already";
      } else {
        replayed = std::move(*cert);
        issued = *held->certificate;
      }
    } else {
      refusal = "approval request " + *approval + " was " +
                (held ? std::string(ca::approval_status_name(held->status)) : "removed");
    }
    replay = true;
    *cert_req = OSSL_CMP_MSG_dup(stored.get());
    return *cert_req != nullptr ? 1 : 0;
  }

  bool claim() {
    auto w = s.d_.db.begin();
    if (!w) return false;
    auto n = (*w)->execute_count(
        "UPDATE cmp_transactions SET state = 'delivering' WHERE transaction_id = ? AND state = "
        "'held'",
        store::params(tid));
    claimed = n && *n == 1 && (*w)->commit();
    return claimed;
  }

  // Puts a claimed transaction back to held: its answer could not be made.
  void release() {
    if (!claimed) return;
    if (auto w = s.d_.db.begin()) {
      if ((*w)->execute("UPDATE cmp_transactions SET state = 'held' WHERE transaction_id = ? AND "
                        "state = 'delivering'",
                        store::params(tid)))
        (void)(*w)->commit();
    }
    claimed = false;
  }

  void withdraw(const std::string& fp) {
    ca::RevokeRequest r;
    r.id = fp;
    r.reason = ca::RevocationReason::kSuperseded;
    r.requester = ca::Requester{.actor = "cmp", .team = std::nullopt, .scope = std::nullopt};
    r.channel = ca::Channel::kCmp;
    if (auto done = s.d_.revocation.revoke(r); !done)
      log::error("cmp_withdraw_failed", {{"certificate", fp}, {"error", done.error().message}});
  }

  // A held kur's old certificate gives way to the approved one when that is delivered. False:
  // it had given way to another already.
  bool supersede(const std::string& old_fp, const std::string& new_fp) {
    auto tx = s.d_.db.begin();
    Status done = tx ? s.d_.inventory.mark_superseded(**tx, old_fp, new_fp)
                     : Status(std::unexpected(tx.error()));
    if (!done && done.error().code == ErrorCode::kConflict) return false;
    if (done) {
      audit::Event e;
      e.actor = "cmp";
      e.action = "cmp.kur";
      e.target_type = "certificate";
      e.target_id = old_fp;
      e.details = {{"replaced_by", new_fp}};
      done = s.d_.audit.append(**tx, e);
    }
    if (done) done = (*tx)->commit();
    if (!done)
      log::error("cmp_supersede_failed",
                 {{"certificate", old_fp}, {"error", done.error().message}});
    return true;
  }

  int confirm(const ASN1_OCTET_STRING* hash, const OSSL_CMP_PKISI* si) {
    if (!own) return 0;  // not the transaction's requester (see handle())
    auto tx = s.d_.db.begin(store::TxMode::kRead);
    if (!tx) return 0;
    auto row = (*tx)->query_one(
        "SELECT certificate FROM cmp_transactions WHERE transaction_id = ? AND state = 'waiting'",
        store::params(tid));
    tx->reset();
    if (!row || !*row) return 0;
    const std::string fp = (*row)->text(0);
    auto cert = s.d_.inventory.certificate(fp);
    if (!cert) return 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(cert->der().data(), cert->der().size(), md, &len, cert_hash_digest(*cert),
                    nullptr) ||
        hash == nullptr || Bytes(md, md + len) != Bytes(hash->data, hash->data + hash->length)) {
      ERR_raise(ERR_LIB_CMP, CMP_R_CERTHASH_UNMATCHED);
      return 0;
    }
    const bool refused = si != nullptr && x509::cmp::status_of(si) == OSSL_CMP_PKISTATUS_rejection;
    if (refused) {
      // RFC 9483 4.1.1: a certificate its subject did not accept must not stay valid.
      ca::RevokeRequest r;
      r.id = fp;
      r.reason = ca::RevocationReason::kCessationOfOperation;
      r.requester = ca::Requester{.actor = "cmp", .team = std::nullopt, .scope = std::nullopt};
      r.channel = ca::Channel::kCmp;
      if (auto done = s.d_.revocation.revoke(r); !done)
        log::error("cmp_revoke_rejected_failed",
                   {{"certificate", fp}, {"error", done.error().message}});
    }
    auto w = s.d_.db.begin();
    if (!w) return 0;
    auto updated = (*w)->execute_count(
        "UPDATE cmp_transactions SET state = ? WHERE transaction_id = ? AND state = 'waiting'",
        store::params(std::string(refused ? "rejected" : "confirmed"), tid));
    if (!updated || *updated != 1 || !(*w)->commit()) return 0;
    return 1;
  }
};

namespace {

Service::Call* call_of(OSSL_CMP_SRV_CTX* srv) {
  return static_cast<Service::Call*>(OSSL_CMP_SRV_CTX_get0_custom_ctx(srv));
}

OSSL_CMP_PKISI* on_cert_request(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, int,
                                const OSSL_CRMF_MSG* crm, const X509_REQ* p10cr, X509** cert_out,
                                STACK_OF(X509) * *chain_out, STACK_OF(X509) * *ca_pubs) {
  return call_of(srv)->cert_request(req, crm, p10cr, cert_out, chain_out, ca_pubs);
}

OSSL_CMP_PKISI* on_rr(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const X509_NAME*,
                      const ASN1_INTEGER* serial) {
  return call_of(srv)->revoke(req, serial);
}

int on_genm(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG* req, const STACK_OF(OSSL_CMP_ITAV) * in,
            STACK_OF(OSSL_CMP_ITAV) * *out) {
  Service::Call* c = call_of(srv);
  *out = sk_OSSL_CMP_ITAV_new_null();
  if (*out == nullptr) return 0;
  for (int i = 0; i < sk_OSSL_CMP_ITAV_num(in); ++i) {
    const OSSL_CMP_ITAV* asked = sk_OSSL_CMP_ITAV_value(in, i);
    OSSL_CMP_ITAV* answer = nullptr;
    if (OBJ_obj2nid(OSSL_CMP_ITAV_get0_type(asked)) == NID_id_it_caCerts) {
      answer = x509::cmp::ca_certs_itav(c->ra->chain);
    } else if (OBJ_obj2nid(OSSL_CMP_ITAV_get0_type(asked)) == NID_id_it_rootCaKeyUpdate) {
      // RFC 9483 4.3.2: no update is an InfoTypeAndValue without a value. An authority's key
      // is not rolled over here (a new root is a new authority), so there never is one.
      answer = OSSL_CMP_ITAV_create(OBJ_nid2obj(NID_id_it_rootCaKeyUpdate), nullptr);
    } else if (x509::cmp::asks_cert_req_template(asked)) {
      auto what = c->template_for(req);
      if (!what) continue;  // an unknown requester is told nothing
      answer = x509::cmp::cert_req_template_itav(what->first, what->second);
    } else {
      continue;  // what is not offered is left out of the answer (RFC 9483 4.3)
    }
    if (answer == nullptr || !sk_OSSL_CMP_ITAV_push(*out, answer)) {
      OSSL_CMP_ITAV_free(answer);
      return 0;
    }
  }
  return 1;
}

void on_error(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG*, const OSSL_CMP_PKISI* si,
              const ASN1_INTEGER*, const OSSL_CMP_PKIFREETEXT*) {
  char buf[OSSL_CMP_PKISI_BUFLEN];
  log::info("cmp_client_error",
            {{"transaction", call_of(srv)->tid},
             {"status", si ? OSSL_CMP_snprint_PKIStatusInfo(si, buf, sizeof buf) : "-"}});
}

int on_cert_conf(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG*, int, const ASN1_OCTET_STRING* hash,
                 const OSSL_CMP_PKISI* si) {
  return call_of(srv)->confirm(hash, si);
}

int on_poll_req(OSSL_CMP_SRV_CTX* srv, const OSSL_CMP_MSG*, int, OSSL_CMP_MSG** cert_req,
                int64_t* check_after) {
  return call_of(srv)->poll(cert_req, check_after);
}

}  // namespace

Service::Service(Deps deps)
    : d_(deps),
      authority_(deps.settings.authority.empty() ? deps.ca.default_authority
                                                 : deps.settings.authority),
      limiter_(deps.settings.requests_per_second, deps.settings.burst) {}

const store::SchemaModule kSchema{"cmp", kMigrations};

Status Service::migrate(store::Database& db) { return db.migrate("cmp", kMigrations); }

Status Service::start() {
  for (const auto& [name, l] : d_.settings.labels) {
    CW_ASSIGN_OR_RETURN(const ca::Profile* profile, d_.profiles.find(l.profile));
    if (profile->ca || profile->internal)
      return fail(ErrorCode::kMalformed,
                  "cmp.labels." + name + ": profile '" + l.profile + "' is not for end entities");
    if (l.authority.empty()) continue;
    if (auto ra = d_.protocol_ra.current(l.authority); !ra)
      return fail_with_context(
          ra.error(), "cmp.labels." + name + ": the RA certificate of '" + l.authority + "'");
  }
  auto ra = d_.protocol_ra.current(authority_);
  if (!ra) return fail_with_context(ra.error(), "cmp: the RA certificate of '" + authority_ + "'");
  return ok();
}

Outcome<Bytes> Service::handle(const std::optional<std::string>& label_name,
                               std::span<const std::uint8_t> der) {
  const CmpLabelSettings* label = nullptr;
  if (label_name) {
    auto it = d_.settings.labels.find(*label_name);
    if (it == d_.settings.labels.end())
      return std::unexpected(Failure{Refusal::kNotFound, "unknown label", {}});
    label = &it->second;
  }
  const std::string authority =
      label != nullptr && !label->authority.empty() ? label->authority : authority_;
  auto msg = x509::cmp::parse_message(der);
  if (!msg) return std::unexpected(Failure{Refusal::kBadRequest, msg.error().message, {}});
  auto header = x509::cmp::read_header(msg->get());
  if (!header) return std::unexpected(Failure{Refusal::kBadRequest, header.error().message, {}});
  auto ra = d_.protocol_ra.current(authority);
  if (!ra) return std::unexpected(Failure{Refusal::kUnavailable, "the CMP RA is unavailable", {}});
  const Body body = x509::cmp::body_type(msg->get());

  Call call{*this,        authority,    label,        std::move(*header), "",    *ra,
            std::nullopt, false,        std::nullopt, std::nullopt,       false, std::nullopt,
            nullptr,      std::nullopt, std::nullopt, std::nullopt};
  call.tid = to_hex(call.header.transaction_id);
  SrvPtr srv(OSSL_CMP_SRV_CTX_new(nullptr, nullptr));
  if (!srv || !OSSL_CMP_SRV_CTX_init(srv.get(), &call, on_cert_request, on_rr, on_genm, on_error,
                                     on_cert_conf, on_poll_req))
    return std::unexpected(Failure{Refusal::kInternal, "CMP server setup failed", {}});
  OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv.get(), d_.settings.implicit_confirm ? 1 : 0);
  OSSL_CMP_CTX* ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv.get());
  OSSL_CMP_CTX_set_log_cb(ctx, log_cb);
  OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_WARNING);
  // Answers to MACed requests: OpenSSL would use HMAC-SHA1 whatever the request used.
  OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MAC_ALGNID, NID_hmacWithSHA256);
  const auto& chain = (*ra)->chain;
  crypto::X509StackPtr untrusted(stack_of(chain));
  crypto::X509StorePtr store(X509_STORE_new());
  if (chain.empty() || !store || !untrusted ||
      !X509_STORE_add_cert(store.get(), chain.back().get()) ||
      !OSSL_CMP_CTX_set1_cert(ctx, (*ra)->certificate.get()) ||
      !OSSL_CMP_CTX_set1_pkey(ctx, (*ra)->key->get()) ||
      !OSSL_CMP_CTX_set1_untrusted(ctx, untrusted.get()) ||
      !OSSL_CMP_CTX_set0_trustedStore(ctx, store.get()))
    return std::unexpected(Failure{Refusal::kInternal, "CMP server setup failed", {}});
  (void)store.release();  // the context owns it now

  // A shared secret is looked up by the reference (senderKID) before OpenSSL validates the
  // MAC; without one set, OpenSSL refuses the request with an error signed by the RA.
  // PBMAC1, which OpenSSL 3.0 does not know, is checked here; OpenSSL then gets the message
  // under PasswordBasedMac with the same secret, and its answer is put back under PBMAC1.
  const bool pbm = call.header.protection == x509::cmp::kPasswordBasedMac;
  const bool pbmac1 = call.header.protection == x509::cmp::kPbmac1 && call.header.pbmac1;
  std::optional<crypto::SecretBytes> pbmac1_secret;
  if ((pbm || pbmac1) && d_.credentials != nullptr &&
      call.header.pbm_iterations.value_or(kMaxPbmIterations + 1) <= kMaxPbmIterations) {
    const std::string kid(call.header.sender_kid.begin(), call.header.sender_kid.end());
    std::optional<auth::CredentialInfo> found;
    if (kid.starts_with("ec-")) {
      if (auto f = d_.credentials->get(kid)) found = std::move(*f);
    }
    if (found && found->kind == auth::CredentialKind::kCmp) {
      auto secret = d_.credentials->secret(kid);
      bool verified = false;
      if (secret && *secret && pbm) {
        verified = mac_ok(msg->get(), **secret);
      } else if (secret && *secret &&
                 x509::cmp::pbmac1_verifies(der, *call.header.pbmac1, (*secret)->span())) {
        auto as_pbm =
            x509::cmp::protect_pbm(der, (*secret)->span(), call.header.pbmac1->iterations);
        auto reparsed = as_pbm ? x509::cmp::parse_message(*as_pbm)
                               : Result<x509::cmp::MessagePtr>(std::unexpected(as_pbm.error()));
        if (reparsed) {
          msg = std::move(reparsed);
          pbmac1_secret = crypto::SecretBytes((*secret)->span());
          verified = true;
        }
      }
      if (verified) {
        OSSL_CMP_CTX_set1_secretValue(ctx, (*secret)->span().data(),
                                      static_cast<int>((*secret)->span().size()));
        call.credential = *found;
      } else {
        log::info("cmp_mac_refused", {{"reference", kid}});
      }
    }
  }

  // A certConf for a certificate issued earlier (by another replica, or before a restart), or
  // a pollReq for a held request: OpenSSL's server is brought back to the transaction by
  // processing its request again, which hands back the stored certificate (or "waiting"), and
  // by its own nonce of the last answer.
  if (body == Body::kCertConf || body == Body::kPollReq) {
    const bool poll = body == Body::kPollReq;
    auto tx = d_.db.begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(Failure{Refusal::kUnavailable, "try again later", {}});
    auto row = (*tx)->query_one(
        "SELECT request, certificate, server_nonce, credential, signer, approval, replaces "
        "FROM cmp_transactions WHERE transaction_id = ? AND state = ? AND COALESCE(endpoint, "
        "'') = ?",
        store::params(call.tid, std::string(poll ? "held" : "waiting"), call.endpoint()));
    tx->reset();
    // Only who asked may confirm, refuse or poll: the same credential's MAC, or a signature
    // by the same certificate. Anyone else finds no transaction open.
    if (row && *row) {
      const auto credential = (*row)->optional_text(3);
      const auto signer = (*row)->optional_text(4);
      if (credential) {
        call.own = call.credential && call.credential->id == *credential;
      } else if (signer) {
        auto certs = x509::cmp::extra_certs(msg->get());
        call.own = !certs.empty() && certs.front().info().sha256_hex == *signer &&
                   signed_by(msg->get(), certs.front());
      }
      if (!call.own) log::info("cmp_foreign_request", {{"transaction", call.tid}});
    }
    if (row && *row && call.own && !(*row)->is_null(2)) {
      auto stored = x509::cmp::parse_message((*row)->blob(0));
      std::optional<x509::Certificate> cert;
      if (!poll) {
        if (auto c = d_.inventory.certificate((*row)->text(1))) cert = std::move(*c);
      }
      if (stored && (poll || cert)) {
        call.replay = true;
        call.replayed = std::move(cert);
        x509::cmp::MessagePtr ignored(OSSL_CMP_SRV_process_request(srv.get(), stored->get()));
        call.replay = false;
        if (poll) {
          call.approval = (*row)->optional_text(5);
          call.replaces = (*row)->optional_text(6);
          call.stored = std::move(*stored);
        }
        const Bytes& nonce = (*row)->blob(2);
        crypto::Asn1OctetStringPtr n(ASN1_OCTET_STRING_new());
        if (n && ASN1_OCTET_STRING_set(n.get(), nonce.data(), static_cast<int>(nonce.size())))
          OSSL_CMP_CTX_set1_senderNonce(ctx, n.get());
      }
    }
    ERR_clear_error();
  }

  x509::cmp::MessagePtr response(OSSL_CMP_SRV_process_request(srv.get(), msg->get()));
  ERR_clear_error();
  if (!response) return std::unexpected(Failure{Refusal::kInternal, "no CMP answer", {}});
  // What the next message of the transaction is checked against: the nonce of this answer.
  // An issued certificate waits for its certConf, or for nothing when the client asked for,
  // and got, implicit confirmation; a held request for its next poll.
  std::optional<std::string> state;
  const bool implicit = OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM) == 1;
  if (call.issued)
    state = implicit ? "confirmed" : "waiting";
  else if (call.refusal)
    state = "refused";
  else if (call.holding || (body == Body::kPollReq && call.own && call.stored))
    state = "held";
  // An error answer (a replayed or foreign poll, a bad nonce) moves nothing: the client's next
  // message still answers the last good one.
  if (x509::cmp::body_type(response.get()) == Body::kError) {
    state.reset();
    call.release();
  }
  if (state) {
    auto rh = x509::cmp::read_header(response.get());
    auto w = d_.db.begin();
    if (w && rh) {
      auto s = (*w)->execute(
          "UPDATE cmp_transactions SET server_nonce = ?, state = ?, certificate = COALESCE(?, "
          "certificate) WHERE transaction_id = ?",
          store::params(rh->sender_nonce, *state, call.issued, call.tid));
      if (s) (void)(*w)->commit();
    }
  }
  auto out = x509::cmp::to_der(response.get());
  if (!out) return std::unexpected(Failure{Refusal::kInternal, "cannot encode the answer", {}});
  if (pbmac1_secret) {
    // The answer OpenSSL MACed goes back as the request came: under PBMAC1, its parameters
    // but a fresh salt. One it signed (an error for a request it refused) stays signed.
    auto rh = x509::cmp::read_header(response.get());
    if (rh && rh->protection == x509::cmp::kPasswordBasedMac) {
      out = x509::cmp::protect_pbmac1(*out, *call.header.pbmac1, pbmac1_secret->span());
      if (!out)
        return std::unexpected(Failure{Refusal::kInternal, "cannot protect the answer", {}});
    }
  }
  return std::move(*out);
}

}  // namespace certward::protocols::cmp
