#pragma once
// The OCSP responder (RFC 6960, in RFC 5019's lightweight profile): answers for the
// certificates of every authority that is not revoked, from responses signed ahead and kept in
// memory.
//
// Who signs: with revocation.ocsp_signer = "delegated" (the default), a responder certificate
// per authority (profile ocsp-responder: id-kp-OCSPSigning, ocsp-nocheck, short-lived), issued
// through the RA to this process the first time it answers for that authority, with a key
// that is generated here and never leaves this process's memory; it is renewed once two thirds
// of its validity have passed, and the responses it signed are signed again by the new one.
// A root, which signs only CA certificates, and a disabled authority, whose RA refuses to
// issue, answer with their own key; so does every authority with ocsp_signer = "ca".
//
// The cache: a response for one certificate (issuer, serial) is signed the first time it is
// asked for, kept, and signed again in the background once half of its validity
// (revocation.ocsp_validity) has passed, and at once when the certificate is revoked, here or
// by another replica (each replica looks for revocations every refresh_interval; revoked()
// makes this one look now). A request the cache answers is a hash lookup: one CertID with
// SHA-1 hashes (what RFC 5019 clients send) and no nonce. Anything else (a nonce, SHA-256
// CertIDs, several CertIDs) is answered by a response signed for it, one signature. Answers
// for certificates that have expired are signed when asked for, never kept.
//
// Thread-safe. answer() may run on any number of threads while the refresher runs.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ca/authority.h"
#include "ca/enrollment.h"
#include "common/config.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "x509/ocsp.h"

namespace certward::ca {

// One answer, with what HTTP caching needs to know of it.
struct OcspReply {
  std::string body;  // the DER OCSPResponse
  x509::OcspResponseStatus status = x509::OcspResponseStatus::kSuccessful;
  // A successful response that HTTP caches may keep until next_update: no nonce, no
  // "unknown".
  bool cacheable = false;
  SysTime produced_at{};
  SysTime this_update{};
  std::optional<SysTime> next_update;
  std::string etag;  // for cacheable replies: "\"<hex>\""
};

class OcspResponder {
 public:
  OcspResponder(const Clock& clock, AuthorityService& authorities, Enrollment& ra,
                const inventory::Inventory& inventory, const RevocationSettings& settings);
  ~OcspResponder();  // stop()
  OcspResponder(const OcspResponder&) = delete;
  OcspResponder& operator=(const OcspResponder&) = delete;

  // Loads the authorities it answers for and starts the refresher thread.
  // Errors: those of listing the authorities.
  Status start() CW_EXCLUDES(mu_);
  // Stops the refresher. Idempotent.
  void stop() CW_EXCLUDES(mu_);

  // Answers a DER OCSPRequest: a signed response, or an unsigned error response
  // (malformedRequest, unauthorized, internalError, tryLater) as x509/ocsp.h describes.
  // Never fails otherwise.
  std::shared_ptr<const OcspReply> answer(std::span<const std::uint8_t> request) CW_EXCLUDES(mu_);

  // The cached answer to `request`, if it has one; nullptr otherwise (answer() then signs, or
  // answers with an error). Never signs, never touches the database: cheap enough for an I/O
  // thread.
  std::shared_ptr<const OcspReply> cached_answer(std::span<const std::uint8_t> request) const
      CW_EXCLUDES(mu_);

  // Certificates of `authority` were revoked through this process: looks for revocations and
  // signs the answers it holds for them again, on the calling thread, before returning.
  void revoked(const std::string& authority) CW_EXCLUDES(mu_);

  // One refresher pass on the calling thread: authorities, revocations, responses due to be
  // signed again, responder certificates due to be renewed. For tests; start() runs it too.
  Status refresh() CW_EXCLUDES(mu_);

  // How many responses the cache holds (metrics, tests).
  std::size_t cached() const CW_EXCLUDES(mu_);

  // What an operator checks of the responder for one authority: whether it answers for it, who
  // signed its answers so far (its delegated responder, whose certificate is given, or the
  // authority itself; unknown before the first answer), and up to when revocations were seen.
  struct AuthorityStatus {
    bool answered = false;
    std::optional<bool> delegated;  // unset: nothing signed yet
    std::optional<x509::Certificate> responder;
    std::optional<SysTime> responder_renew_at;
    std::optional<SysTime> revocations_seen_at;
  };
  AuthorityStatus status(std::string_view authority) const CW_EXCLUDES(mu_);

  // For tests, before start(): how many revocations one query of a look for revocations reads;
  // something to run while an answer is signed and not yet cached.
  void TEST_set_poll_page(std::size_t n) { poll_page_ = n; }
  void TEST_set_before_caching(std::function<void()> f) { before_caching_ = std::move(f); }

 private:
  struct Signing;      // who signs for one authority, now
  struct IssuerEntry;  // one authority answered for: its CertID hashes and its signing
  struct CacheEntry {
    std::shared_ptr<const OcspReply> reply;
    x509::OcspCertStatus status = x509::OcspCertStatus::kGood;
    SysTime refresh_at{};  // signed again from then on
  };

  std::shared_ptr<const IssuerEntry> find_issuer(const x509::OcspCertId& id) const CW_EXCLUDES(mu_);
  // The signing of `issuer`, making (issuing) the delegated responder first when needed.
  Result<std::shared_ptr<const Signing>> signing_for(const IssuerEntry& issuer) CW_EXCLUDES(mu_);
  Result<std::shared_ptr<const Signing>> make_signing(const std::string& authority);
  // What sign_answer found for the first CertID.
  struct FirstStatus {
    x509::OcspCertStatus status = x509::OcspCertStatus::kGood;
    bool expired = false;  // the certificate has expired: its answer is not worth keeping
  };
  // Looks up each CertID's status and signs one response for all of them.
  Result<std::shared_ptr<const OcspReply>> sign_answer(const IssuerEntry& issuer,
                                                       const std::vector<x509::OcspCertId>& ids,
                                                       const std::optional<Bytes>& nonce,
                                                       FirstStatus* first);
  // Signs the cached response for (issuer, serial) again and stores it.
  Status resign(const std::string& key) CW_EXCLUDES(mu_);
  Status reload_authorities() CW_EXCLUDES(mu_);
  Status poll_revocations() CW_EXCLUDES(mu_);
  // Forgets the delegated responder of r.authority if `r` is its certificate.
  void drop_if_responder(const inventory::RevokedRef& r) CW_REQUIRES(mu_);
  void run() CW_EXCLUDES(mu_);

  const Clock& clock_;
  AuthorityService& authorities_;
  Enrollment& ra_;
  const inventory::Inventory& inventory_;
  const RevocationSettings& settings_;
  const x509::OcspLimits limits_;
  std::size_t poll_page_;                 // constant once started
  std::function<void()> before_caching_;  // constant once started

  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::vector<std::shared_ptr<const IssuerEntry>> issuers_ CW_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<const Signing>> signing_ CW_GUARDED_BY(mu_);
  // Key: authority name, '\n', the serial's octets.
  std::unordered_map<std::string, CacheEntry> cache_ CW_GUARDED_BY(mu_);
  std::optional<SysTime> polled_at_ CW_GUARDED_BY(mu_);  // revocations seen up to then
  // Counts the pages of revocations read: an answer signed while it changed is not cached.
  std::uint64_t looks_ CW_GUARDED_BY(mu_) = 0;
  bool wake_ CW_GUARDED_BY(mu_) = false;
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  // Serialises making delegated responders: one issuance per authority, not one per request.
  common::Mutex issuing_;
  std::thread thread_;
};

}  // namespace certward::ca
