#pragma once
// CMP's operations over the one RA (RFC 9483, the lightweight CMP profile), for the endpoint's
// authority (`[cmp] authority`). OpenSSL's CMP server (OSSL_CMP_SRV_CTX) checks each message's
// protection, proof of possession and place in its transaction and builds the answers; this
// service decides who may do what, issues, revokes and keeps the transactions. Thread-safe:
// every request gets a server context of its own.
//
// Who may do what:
// - ir, cr and p10cr protected by a shared secret (PasswordBasedMac): an enrollment
//   credential of kind cmp, its id the senderKID (the reference), bound to a team, profile,
//   optional authority and expected subject, its use recorded in the certificate's
//   transaction;
// - cr signed by a certificate enrolled here over CMP, valid, unrevoked and not renewed: an
//   additional certificate for the same subject, team and profile;
// - kur signed by the certificate it updates (its oldCertID): a new key for the same names,
//   the old certificate superseded in the same transaction;
// - rr signed by the certificate it revokes;
// - genm id-it-caCerts: the authority's chain, to anyone whose message verifies.
//
// Labels ([cmp.labels.<name>], /.well-known/cmp/p/<name>) select a profile and an authority:
// there, only credentials for that profile (and made for that label or for none) and
// certificates of that profile enroll, and the label's authority issues and signs answers.
//
// Approval: a request for a profile that requires approval is held (PKIStatus waiting, the
// credential's use recorded with it); the client polls (pollReq, answered with pollRep and
// `[cmp] check_after_seconds`) until an approver issues the certificate (delivered in the
// ip/cp/kup the poll gets, a kur's old certificate superseded then) or rejects it.
//
// Transactions: an issued certificate waits for the client's certConf unless implicit
// confirmation was asked for and granted (`[cmp] implicit_confirm`); a certConf that rejects
// the certificate revokes it. A transactionID is used once. The certConf may reach another
// replica, or this one after a restart: the transaction (request, certificate, the server's
// nonce) is stored, and OpenSSL's server is brought back to it by replaying the request.

#include <optional>
#include <span>
#include <string>

#include "api/rate_limit.h"
#include "auth/auth.h"
#include "auth/enrollment_credentials.h"
#include "ca/approval.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/protocol_ra.h"
#include "ca/revocation.h"
#include "common/config.h"
#include "inventory/inventory.h"
#include "store/store.h"

namespace certward::protocols::cmp {

struct Deps {
  const Clock& clock;
  const CmpSettings& settings;
  const CaSettings& ca;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  ca::ProtocolRa& protocol_ra;
  ca::RevocationService& revocation;
  const inventory::Inventory& inventory;
  const audit::AuditLog& audit;
  auth::AuthService& auth;
  auth::EnrollmentCredentials* credentials;  // null: only signature-protected requests
  store::Database& db;                       // transactions
  ca::ApprovalService* approvals;            // null: profiles that require approval refused
};

// What cannot be answered with a CMP message, as HTTP: kBadRequest → 400 (no PKIMessage),
// kNotFound → 404 (no such label), kRateLimited → 429 with Retry-After, kUnavailable → 503,
// kInternal → 500.
enum class Refusal : std::uint8_t { kBadRequest, kNotFound, kRateLimited, kUnavailable, kInternal };

struct Failure {
  Refusal refusal = Refusal::kInternal;
  std::string message;
  std::chrono::seconds retry_after{0};
};

template <typename T>
using Outcome = std::expected<T, Failure>;

class Service {
 public:
  explicit Service(Deps deps);

  static Status migrate(store::Database& db);
  // Checks the labels' profiles and that the endpoint's and the labels' authorities may issue
  // their RA certificates, issuing them now.
  Status start();

  // One PKIMessage in, one out (an error message for what is refused), at the unlabelled
  // endpoint or at `label` (/.well-known/cmp/p/<label>).
  Outcome<Bytes> handle(const std::optional<std::string>& label,
                        std::span<const std::uint8_t> request);

  // The callbacks' view of this service; defined in service.cc.
  struct Call;

 private:
  friend struct Call;
  Deps d_;
  std::string authority_;
  api::RateLimiter limiter_;
};

}  // namespace certward::protocols::cmp
