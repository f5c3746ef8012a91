#pragma once
// Approvals: certificate requests for a profile with requires_approval, held until an approver
// decides (docs/governance.md "Approvals").
//
// A request is judged by the RA in full when it is made (profile, scope, names, key, validity,
// compliance rules): one that could never be issued is refused then, so approvers only ever see
// requests that can be. It is then stored pending (table approval_requests, migrations module
// "approvals") with its CSR, its names and the requester's scope as they were, and audited.
//
// Approving judges it again (the rules may have changed since) and issues it through the RA.
// The decision and the certificate are one transaction: the request's row moves from pending
// to issued by a conditional UPDATE inside the RA's commit of the certificate, so of two
// approvals racing (two approvers, two replicas, a replayed request) exactly one stores a
// certificate and the other gets kConflict; a failed issuance leaves the request pending.
// Within one process a second approval of a request being approved is refused at once, so it
// costs no signature.
//
// Nobody decides their own request: the requester's principal (whatever token it uses, and
// whatever its role) can neither approve nor reject it (kUnauthorized). A team-scoped caller
// (Requester::scope set) sees and acts on its team's requests only; another team's are
// kNotFound, as if they did not exist. A request past its expiry can no longer be approved,
// whether or not anything swept it: the check is made at approval, in the UPDATE itself.
//
// Server-side key generation is refused for a profile that requires approval: the key would
// have to be kept until an approver acts and then handed to the requester, and certward keeps
// no leaf keys. Send a CSR.
//
// Thread-safe.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "audit/audit.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "common/clock.h"
#include "store/store.h"

namespace certward::ca {
namespace approval_detail {
struct Held;
}

// kExpired is never stored: a pending request past its expires_at reads as expired.
enum class ApprovalStatus : std::uint8_t { kPending, kIssued, kRejected, kCancelled, kExpired };
std::string_view approval_status_name(ApprovalStatus s);
// Errors: kInvalidArgument.
Result<ApprovalStatus> parse_approval_status(std::string_view s);

struct ApprovalRequest {
  std::string id;  // 16 hex digits
  ApprovalStatus status = ApprovalStatus::kPending;
  std::string profile;
  std::optional<std::string> authority;
  std::optional<std::string> team;  // the team the certificate will carry (and who sees it)
  std::optional<std::string> owner;
  std::vector<std::string> tags;
  std::optional<std::string> common_name;
  std::vector<std::string> sans;  // as requested ("dns:..."); empty: the CSR's
  std::optional<std::chrono::seconds> validity;
  std::string csr_pem;       // empty for a CMP request made without a CSR (CRMF)
  std::string subject;       // the CSR's subject (CRMF: "CN=" and the name), for approvers
  std::string key;           // the request's key ("ECDSA P-256")
  std::string requested_by;  // actor
  std::string requester;     // principal
  std::string channel;
  SysTime created_at{};
  SysTime expires_at{};
  std::optional<std::string> decided_by;  // actor of the approval, rejection or cancellation
  std::optional<SysTime> decided_at;
  std::optional<std::string> reason;       // of a rejection or cancellation
  std::optional<std::string> certificate;  // fingerprint, once issued
};

struct ApprovalFilter {
  std::optional<ApprovalStatus> status;
  std::optional<std::string> team;
  int limit = 50;                     // 1..1000
  std::optional<std::string> cursor;  // next_cursor of the previous page
};

struct ApprovalPage {
  std::vector<ApprovalRequest> items;  // newest first
  std::optional<std::string> next_cursor;
};

// What enroll() did with a request: issued it, or holds it for approval.
using EnrollOutcome = std::variant<IssuedCertificate, ApprovalRequest>;

struct Approved {
  ApprovalRequest request;
  IssuedCertificate issued;
};

// Whether the requester of a held request still stands: its principal not disabled, the token
// it asked with not revoked. ca keeps no principals, so their owner answers, reading inside
// `tx`. An error refuses the approval with that error; the request stays pending.
using RequesterCheck = std::function<Status(store::Transaction& tx, const Requester& requester)>;

// Longest rejection or cancellation reason, in bytes.
inline constexpr std::size_t kMaxApprovalReason = 1024;

class ApprovalService {
 public:
  // `ra`, `profiles`, `audit` and `db` outlive this service.
  ApprovalService(const Clock& clock, store::Database& db, Enrollment& ra,
                  const ProfileSet& profiles, const audit::AuditLog& audit,
                  std::chrono::seconds ttl);

  static Status migrate(store::Database& db);

  // approve() asks `check` about the request's requester, before signing and again in the
  // transaction that records the certificate: a requester disabled or revoked since it asked
  // has nothing issued. Without one every requester stands (a data directory with no
  // principals). REQUIRES: set before approve() runs; not changed while it does.
  void set_requester_check(RequesterCheck check) { requester_check_ = std::move(check); }

  // The front-ends' enrollment: a request whose profile requires approval is judged, stored
  // pending and returned; any other goes to the RA at once. Errors: as Enrollment::enroll(),
  // and kInvalidArgument for a server-side key on a profile that requires approval.
  Result<EnrollOutcome> enroll(EnrollmentRequest request);

  // What a front-end records with a request it holds (SCEP: the enrollment credential's use
  // and its transaction), in the transaction that stores the request: both or neither.
  using HoldStep = std::function<Status(store::Transaction& tx, const ApprovalRequest& held)>;
  // Holds a request for a profile that requires approval, as enroll() does, running `step` in
  // its transaction. Errors: as enroll(), kInvalidArgument when the profile does not require
  // approval, and the step's.
  Result<ApprovalRequest> hold(EnrollmentRequest request, const HoldStep& step);

  // Errors: kNotFound (no such request, or not the caller's team's).
  Result<ApprovalRequest> get(std::string_view id, const Requester& who) const;
  // Errors: kInvalidArgument (limit, cursor), kUnauthorized (a scoped caller naming another
  // team).
  Result<ApprovalPage> list(const ApprovalFilter& filter, const Requester& who) const;

  // Issues the request as its requester asked, judged by today's rules. Errors: kNotFound,
  // kUnauthorized (the caller is its requester), kConflict (not pending: decided, cancelled,
  // expired, or being approved right now), the requester check's errors and the RA's (the
  // request stays pending).
  Result<Approved> approve(std::string_view id, const Requester& approver);
  // Errors: kNotFound, kUnauthorized (its requester), kConflict (not pending), kInvalidArgument
  // (reason empty, longer than kMaxApprovalReason, not UTF-8 or with control characters).
  Result<ApprovalRequest> reject(std::string_view id, std::string_view reason,
                                 const Requester& approver);
  // The requester withdraws its own pending request. Errors: kNotFound, kUnauthorized
  // (someone else's request), kConflict (not pending), kInvalidArgument (reason, as reject;
  // an empty one is allowed).
  Result<ApprovalRequest> cancel(std::string_view id, std::string_view reason,
                                 const Requester& who);

 private:
  Result<ApprovalRequest> submit(EnrollmentRequest request, const Profile& profile,
                                 const HoldStep& step = {});
  // The request if `who` may see it. Errors: kNotFound.
  Result<approval_detail::Held> visible(store::Transaction& tx, std::string_view id,
                                        const Requester& who) const;
  // Moves a pending, unexpired request to `to` with its audit event, in one transaction.
  Result<ApprovalRequest> decide(std::string_view id, ApprovalStatus to, std::string_view reason,
                                 const Requester& who);
  // Marks `id` as being approved, in the database so that every replica sees it; false if
  // another approval holds it. `token` names this approval's claim.
  Result<bool> claim(const std::string& id, const std::string& token) const;
  void release(const std::string& id, const std::string& token) const;

  const Clock& clock_;
  store::Database& db_;
  Enrollment& ra_;
  const ProfileSet& profiles_;
  const audit::AuditLog& audit_;
  const std::chrono::seconds ttl_;
  RequesterCheck requester_check_;  // set before serving
};

// The request as the API shows it (its CSR included).
nlohmann::json approval_json(const ApprovalRequest& r);

}  // namespace certward::ca
