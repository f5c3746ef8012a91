#pragma once
// SCEP's operations over the one RA (RFC 8894), for the endpoint's authority (`[scep]
// authority`): the capabilities, the CA certificates with the RA certificate clients encrypt
// to, and PKIOperation — PKCSReq and RenewalReq (enrollment, renewal), CertPoll, GetCert and
// GetCRL. Encoding and HTTP are routes.cc's and x509/scep's. Thread-safe.
//
// Who may enroll:
// - a request whose CSR carries the challenge password of a usable SCEP enrollment credential
//   (a static one, max_uses 0, typed into a device's profile; or a one-time dynamic one an
//   MDM minted for one device's expected subject), enrolling for the credential's team and
//   profile, the credential's use recorded in the certificate's transaction;
// - a request signed by a certificate enrolled here over SCEP, valid, unrevoked and not yet
//   renewed: its renewal (PKCSReq or RenewalReq, same key or a new one), with the subject and
//   names kept, the old certificate superseded in the same transaction. certmonger sends its
//   renewals as PKCSReq signed by the old certificate, so the signer decides, not the type.
//
// A request for a profile that requires approval is held (the credential's use recorded with
// it) and answered PENDING; the client polls with CertPoll (strongSwan) or sends its PKCSReq
// again (certmonger), and gets the certificate once an approver issued it, or FAILURE once
// the request was rejected, cancelled or expired.
//
// Replays: a message's senderNonce is accepted once. A transactionID names one request: sent
// again by the same key for the same subject (a client retrying after a lost answer, or
// asking whether its held request was approved) it gets the certificate
// issued for it (or where its approval stands), and no credential is used again; for another
// key or subject it is refused.

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api/rate_limit.h"
#include "auth/auth.h"
#include "auth/enrollment_credentials.h"
#include "ca/approval.h"
#include "ca/authority.h"
#include "ca/crl_publisher.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/protocol_ra.h"
#include "common/config.h"
#include "inventory/inventory.h"
#include "store/store.h"
#include "x509/scep.h"

namespace certward::protocols::scep {

struct Deps {
  const Clock& clock;
  const ScepSettings& settings;
  const CaSettings& ca;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  ca::ProtocolRa& protocol_ra;
  ca::CrlPublisher& crls;
  const inventory::Inventory& inventory;
  const audit::AuditLog& audit;  // renewals: which certificate replaced which
  auth::AuthService& auth;
  auth::EnrollmentCredentials* credentials;  // null: only renewals
  store::Database& db;                       // transactions and nonces
  // Requests for a profile that requires approval are held here and answered PENDING until an
  // approver decides (null: such requests are refused).
  ca::ApprovalService* approvals;
};

// What cannot be answered with a CertRep, as HTTP: kBadRequest → 400 (no message to answer),
// kRateLimited → 429 with Retry-After, kUnavailable → 503, kInternal → 500.
enum class Refusal : std::uint8_t { kBadRequest, kRateLimited, kUnavailable, kInternal };

struct Failure {
  Refusal refusal = Refusal::kInternal;
  std::string message;  // for the client: names no secret
  std::chrono::seconds retry_after{0};
};

template <typename T>
using Outcome = std::expected<T, Failure>;

class Service {
 public:
  explicit Service(Deps deps);

  static Status migrate(store::Database& db);

  // Checks the endpoint's authority exists and may issue the RA certificate, issuing it now
  // rather than on a client's first request. Errors stop the server's start.
  Status start();

  // GetCACaps: what every client in the field needs to hear to use AES, SHA-2, POST and
  // renewal (strongSwan 5.9 reads SHA-384 as "AES", certmonger any 7-character line as
  // "Renewal").
  static std::string_view capabilities();
  // GetCACert: the RA certificate, then the issuing authority's, up to its root.
  Outcome<std::vector<x509::Certificate>> ca_certificates();
  // PKIOperation: a CertRep for every message whose signer can be answered (FAILURE with the
  // reason's failInfo included), a Failure for one that cannot even be read.
  Outcome<Bytes> pki_operation(std::span<const std::uint8_t> message);

  // What an operation decided, before it is encoded.
  struct Answer {
    x509::scep::PkiStatus status = x509::scep::PkiStatus::kFailure;
    x509::scep::FailInfo fail_info = x509::scep::FailInfo::kBadRequest;
    std::string reason;  // logged, never sent: a CertRep has no text
    std::optional<x509::Certificate> certificate;
    Bytes crls;  // GetCRL: a degenerate SignedData with the CRL
    std::chrono::seconds retry_after{0};
    bool unavailable = false;  // answered with 503, not a CertRep: retrying may help
  };

 private:
  struct Request {
    const x509::scep::PkiMessage& message;
    Bytes content;
  };

  Answer enroll(const Request& r);
  Answer renew(const Request& r, const x509::Csr& csr, const inventory::CertificateRecord& old);
  Answer with_challenge(const Request& r, const x509::Csr& csr);
  Answer poll(const Request& r);
  // A refusal when `issuer` (a Name, DER) is not the endpoint's authority.
  std::optional<Answer> other_issuer(std::span<const std::uint8_t> issuer);
  Answer get_cert(const Request& r);
  Answer get_crl(const Request& r);
  // A request answered before (table scep_transactions).
  struct Transaction {
    std::string request_sha256;
    std::string key_sha256;  // of the CSR's key
    std::string subject;     // the CSR's
    std::optional<std::string> certificate;
    std::optional<std::string> approval;  // held for approval
  };
  Result<std::vector<Transaction>> transactions(const std::string& transaction_id,
                                                bool initial_only) const;
  // Where a request answered before stands now: issued, held, or refused by an approver.
  Answer settle(const Transaction& t) const;
  // Records the nonce; false when it was seen before.
  Result<bool> fresh_nonce(std::span<const std::uint8_t> nonce);
  Outcome<ca::Requester> team_requester(const std::string& team, std::string actor) const;
  Answer from_error(const Error& e) const;
  Outcome<Bytes> reply(const x509::scep::ReplyTo& to, std::optional<x509::scep::Cipher> cipher,
                       const Answer& a);

  Deps d_;
  std::string authority_;  // the endpoint's
  api::RateLimiter limiter_;
  std::atomic<std::uint64_t> nonces_seen_{0};
};

}  // namespace certward::protocols::scep
