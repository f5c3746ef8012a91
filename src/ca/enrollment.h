#pragma once
// The enrollment service (the RA): the one path by which certward issues a certificate.
//
// Every front-end (CLI, REST, ACME, EST, SCEP, CMP, the renewal engine) fills in one
// EnrollmentRequest and calls enroll(). The RA authorises the requester for the profile,
// enforces the profile (keys, names, validity), builds the certificate, lints it, has the
// authority sign it, and records it in the inventory together with its audit event in one
// transaction. enroll() returns only after that transaction is durable: a certificate handed to
// a caller is never lost and its serial is never reused.
//
// Durable and fast at once: signing happens on the caller's thread; a single writer thread
// gathers every signed certificate waiting to be stored into one transaction (group commit),
// commits it once, and then releases all their callers.
//
// When a batch cannot be stored: an entry that fails on its own (its certificate is already
// recorded, its in_transaction step refuses) fails alone with its error and the rest of the
// batch is stored without it; a failure of the database itself (no connection within the busy
// timeout, a failed statement or COMMIT) fails every caller of the batch at once with that
// error (kUnavailable), never after one timeout per entry. The transaction rolled back, so
// none of them has a certificate; the writer goes on with the next batch.
//
// Thread-safe: call enroll() from any number of threads.

#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ca/authority.h"
#include "ca/issuer.h"
#include "ca/profile.h"
#include "common/mutex.h"
#include "policy/service.h"
#include "x509/csr.h"

namespace certward::ca {

// kSystem: certward itself (its OCSP responder certificates), the only channel that may use an
// internal profile.
enum class Channel : std::uint8_t {
  kCli,
  kRest,
  kAcme,
  kEst,
  kScep,
  kCmp,
  kRenewal,
  kDashboard,
  kSystem,
  kSsh,  // the SSH certificate authority (src/ssh/): OpenSSH certificates, not X.509
};
std::string_view channel_name(Channel c);

// What a team-scoped requester may issue (its team's grant). The RA enforces it for every
// Channel: front-ends only translate their caller into a Requester.
struct Scope {
  std::vector<std::string> profiles;     // empty: none; CA profiles are never granted
  std::vector<std::string> domains;      // DNS suffixes its DNS and email names stay within
  std::vector<std::string> authorities;  // empty: the default authority only
};

// Who asks, as the authentication layer resolved it.
struct Requester {
  std::string actor;                // audit identity: "local:root", "token:<id>", ...
  std::optional<std::string> team;  // recorded on what it issues (scoped: always, and only it)
  std::optional<Scope> scope;       // nullopt: unrestricted (operators, administrators, local)
  // The person or service behind the credential, the same for every token of one principal
  // (empty: the actor is the principal). Approvals compare it: nobody approves their own.
  std::string principal{};
};

struct EnrollmentRequest {
  // Exactly one of csr (the subject holds the key), server_key (the key is generated here and
  // returned with the certificate) and public_key: a key whose possession the front-end has
  // proven itself (CMP's CRMF requests carry a proof of possession, not a PKCS#10), with the
  // names in common_name and sans.
  std::optional<x509::Csr> csr;
  std::optional<crypto::KeyType> server_key;
  std::shared_ptr<EVP_PKEY> public_key;
  std::optional<std::string> common_name;  // default: the CSR's CN, else the first name
  std::vector<x509::SubjectAltName> sans;  // empty: the CSR's requested names
  std::string profile;
  std::optional<std::string> authority;          // default: ca.default_authority
  std::optional<std::chrono::seconds> validity;  // default: the profile's
  Requester requester;
  Channel channel = Channel::kCli;
  std::optional<std::string> owner;
  std::optional<std::string> team;
  std::vector<std::string> tags;
  // CA profiles only.
  std::optional<std::string> subject;  // a full DN instead of the profile's template
  std::optional<int> path_length;
  std::optional<x509::NameConstraints> name_constraints;
};

struct IssuedCertificate {
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;           // issuers, nearest first, root last
  std::optional<crypto::PrivateKey> private_key;  // server-side generation only
  std::string authority;
  std::string profile;
};

struct SubordinateOptions;
class ApprovalService;

struct EnrollmentOptions {
  std::size_t max_batch = 1024;  // most certificates stored by one group commit
};

// Told of every certificate issued, after it is durable, on the enrolling thread (the server
// counts issuance here, whatever the channel). Must be thread-safe and cheap.
using IssuedObserver = std::function<void(const IssuedCertificate&, Channel)>;

class Enrollment {
 public:
  Enrollment(const Clock& clock, store::Database& db, IssuerDirectory& issuers,
             const ProfileSet& profiles, const inventory::Inventory& inventory,
             const audit::AuditLog& audit, EnrollmentOptions options = {});
  ~Enrollment();  // stores what is queued, then stops the writer
  Enrollment(const Enrollment&) = delete;
  Enrollment& operator=(const Enrollment&) = delete;

  // Errors: kInvalidArgument (request shape), kNotFound (unknown profile or authority),
  // kUnauthorized (requester scope), kPolicyRejected (profile, lint), kConflict (serial or
  // fingerprint collision), kUnavailable (database).
  Result<IssuedCertificate> enroll(EnrollmentRequest request);

  // What enroll() would refuse of `request` before anything is signed, with the same rules:
  // an unknown profile or authority, a profile no requester may use (internal, approval), the
  // requester's scope (profile, authority, team, names), the profile's name rules, a
  // server_key type or CSR key the profile does not allow, a validity above the profile's
  // maximum, the compliance rules judged before signing. For
  // front-ends that store a request to be enrolled later (managed certificates), so that a
  // request that could never be issued is refused when it is made. Nothing is written.
  // Errors: as enroll().
  Status check(const EnrollmentRequest& request) const;

  // Counted before the callers of a commit are released: once enroll() returned, its
  // certificate is in `certificates`.
  struct Stats {
    std::uint64_t commits = 0;       // transactions that stored certificates
    std::uint64_t certificates = 0;  // certificates stored
    std::uint64_t waiting = 0;       // signed requests queued for the writer right now
  };
  Stats stats() const;

  // Runs inside the commit transaction after the certificate is recorded: create_subordinate
  // stores the new authority atomically with its certificate. `key` is set for server-side
  // keys. Not part of EnrollmentRequest: no front-end writes to the store through the RA.
  using InTransaction = std::function<Status(store::Transaction&, const x509::Certificate&,
                                             const crypto::PrivateKey* key)>;
  // The renewal engine's enrollment: as enroll(), and `step` runs in the transaction that
  // stores the certificate, after it is recorded, so that what the engine records of it (its
  // managed certificate's row, the certificate it supersedes) commits with it or not at all.
  // A step that fails fails this enrollment alone, with the step's error: its certificate is
  // not stored and not returned.
  Result<IssuedCertificate> enroll_and_record(EnrollmentRequest request, InTransaction step) {
    return enroll_with(std::move(request), std::move(step));
  }
  // For tests of the writer only: an entry whose in-transaction step fails on its own.
  Result<IssuedCertificate> TEST_enroll_with(EnrollmentRequest request, InTransaction step) {
    return enroll_with(std::move(request), std::move(step));
  }

  // REQUIRES: no enroll() is running (the observer is read without a lock): set it before
  // serving, clear it after.
  void set_observer(IssuedObserver observer) { observer_ = std::move(observer); }

  // The compliance rules every enrollment must meet (nullptr: none). The names, key, validity,
  // owner and usages are judged before anything is signed; the issuer and its chain (allowed
  // issuers, SHA-1 in the chain) once the issuer has made the certificate, before it is stored
  // or returned. A broken rule refuses the request with kPolicyRejected naming the rule.
  // REQUIRES: as set_observer; `policy` outlives this Enrollment.
  void set_policy(const policy::PolicyService* policy) { policy_ = policy; }

 private:
  struct Pending;
  // Whether a profile with requires_approval may be used: only ApprovalService grants it, for
  // a request it holds and an approver approved.
  enum class ApprovalGate : std::uint8_t { kRefuse, kGranted };
  friend class ApprovalService;
  friend Result<AuthorityInfo> create_subordinate(Enrollment&, AuthorityService&,
                                                  const SubordinateOptions&, const Requester&);
  Result<IssuedCertificate> enroll_with(EnrollmentRequest request, InTransaction in_transaction,
                                        ApprovalGate gate = ApprovalGate::kRefuse);
  Status check_with(const EnrollmentRequest& request, ApprovalGate gate) const;
  // The request's profile and issuer, once the profile may be used on its channel and the
  // requester's scope allows both: what enroll() and check() decide first.
  struct Admitted {
    const Profile* profile;
    std::shared_ptr<const Issuer> issuer;
  };
  Result<Admitted> admit(const EnrollmentRequest& request, ApprovalGate gate) const;
  // Applies the profile and the requester's scope to the names, key and validity, and has
  // `issuer` make the certificate. `key` receives a server-side key.
  Result<IssuedChain> decide_and_issue(EnrollmentRequest& request, const Profile& profile,
                                       const Issuer& issuer, const inventory::RecordMeta& meta,
                                       std::optional<crypto::PrivateKey>& key);
  // Why a batch was not stored: `entry` (an index into the batch) when one entry failed on
  // its own, nullopt when the database failed the batch as a whole.
  struct BatchFailure {
    Error error;
    std::optional<std::size_t> entry;
  };
  Status store_durably(std::shared_ptr<Pending> pending) CW_EXCLUDES(mu_);
  void writer_loop() CW_EXCLUDES(mu_);
  void store_batch(std::vector<std::shared_ptr<Pending>> batch) CW_EXCLUDES(mu_);
  std::expected<void, BatchFailure> commit_batch(
      const std::vector<std::shared_ptr<Pending>>& batch);

  const Clock& clock_;
  store::Database& db_;
  IssuerDirectory& issuers_;
  const ProfileSet& profiles_;
  const inventory::Inventory& inventory_;
  const audit::AuditLog& audit_;
  const EnrollmentOptions options_;
  IssuedObserver observer_;
  const policy::PolicyService* policy_ = nullptr;

  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::deque<std::shared_ptr<Pending>> queue_ CW_GUARDED_BY(mu_);
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  Stats stats_ CW_GUARDED_BY(mu_);
  std::thread writer_;
};

// Whether a team may be granted these profiles and authorities (REST and CLI ask before they
// create a team): each must exist, and neither a CA profile nor a root, which signs only CAs,
// can be granted. Errors: kInvalidArgument.
Status check_grant(const ProfileSet& profiles, const AuthorityService& authorities,
                   std::span<const std::string> profile_names,
                   std::span<const std::string> authority_names);

struct SubordinateOptions {
  std::string name;
  AuthorityKind kind = AuthorityKind::kIssuing;
  std::string parent;
  std::string subject;  // "CN=Example Issuing CA,O=Example"
  crypto::KeyType key_type = crypto::KeyType::kEcP256;
  std::optional<std::chrono::seconds> validity;  // default: intermediate-ca profile's
  std::optional<int> path_length;
  std::optional<x509::NameConstraints> name_constraints;
  Channel channel = Channel::kCli;
  std::optional<TokenKeyRequest> token_key;  // none: generated here, sealed at rest
};

// Creates an intermediate or issuing CA under `parent`: its key is generated here (or in a
// token, or found there: token_key), its
// certificate issued through the RA with the intermediate-ca profile, and the new authority
// stored with its sealed key in the same transaction as the certificate.
Result<AuthorityInfo> create_subordinate(Enrollment& ra, AuthorityService& authorities,
                                         const SubordinateOptions& options,
                                         const Requester& requester);

}  // namespace certward::ca
