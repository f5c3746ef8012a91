#pragma once
// Alerts as the server raises and sends them (docs/governance.md "Alerts").
//
// evaluate() is the recurring job kEvaluateJob (leased: one replica evaluates at a time). It
// walks the inventory's certificates that expire within the largest threshold, a page at a
// time in not_after order (so a million certificates cost memory for one page), computes the
// threshold each has reached (rules.h), leaves out the revoked, the superseded and the
// silenced, and raises each new alert with its dedupe key in one transaction per page, the
// same transaction that creates one delivery per channel and enqueues its job: an alert exists
// exactly when its deliveries are scheduled, and exists once, across restarts and replicas.
//
// deliver() runs one delivery job (kDeliverJob): it sends the alert on its channel once and
// records the attempt; a failure is retried by the job queue with backoff until the attempts
// ([alerts] max_attempts) are used, then the delivery is recorded "failed".
//
// Who sees what: a team-scoped caller sees, silences and unsilences only its own team's.
//
// Thread-safe; stateless besides its collaborators.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/enrollment.h"
#include "inventory/inventory.h"
#include "lifecycle/alerts/alert_store.h"
#include "lifecycle/alerts/rules.h"
#include "lifecycle/jobs.h"
#include "policy/service.h"

namespace certward::lifecycle::alerts {

inline constexpr std::string_view kEvaluateJob = "alerts.evaluate";
inline constexpr std::string_view kDeliverJob = "alerts.deliver";
inline constexpr std::string_view kPolicyJob = "alerts.policy";

// One certificate that reached a threshold.
struct ExpiryCandidate {
  const inventory::CertificateRecord* record = nullptr;
  int threshold_days = 0;
};

// The expiry alerts `records` call for at `now`: each certificate's reached threshold, unless
// it is revoked, superseded or silenced. Pure; the evaluator's and the benchmark's core.
std::vector<ExpiryCandidate> expiry_candidates(
    const AlertSettings& s, std::span<const inventory::CertificateRecord> records, SysTime now,
    const ActiveSilences& silences);

// "info" above 14 days, "warning" down to 2 days, "critical" at 1 day or less.
std::string_view severity_for(int threshold_days);

// Creates `a`'s deliveries (one per channel) and enqueues their jobs, in the caller's
// transaction, which inserted `a`.
Status schedule_deliveries(store::Transaction& tx, const JobQueue& jobs, const AlertStore& store,
                           const Alert& a, int max_attempts);

struct EvaluationReport {
  std::int64_t examined = 0;  // certificates within the largest threshold
  std::int64_t reached = 0;   // of them, at a threshold (silenced ones excluded)
  std::int64_t raised = 0;    // new alerts
};

struct AlertDeps {
  const Clock& clock;
  store::Database& db;
  const inventory::Inventory& inventory;
  const audit::AuditLog& audit;  // silences are audited
  const JobQueue& jobs;
  const AlertSettings& settings;
  // Policy-violation alerts need the rules, discovery-change alerts the sightings; without
  // them those alerts are not raised.
  const policy::PolicyService* policy = nullptr;
  const inventory::Sightings* sightings = nullptr;
};

struct SilenceRequest {
  std::optional<std::string> certificate;  // a fingerprint, prefix or serial (Inventory::resolve)
  std::optional<std::string> team;
  SysTime until{};
  std::string reason;
};

class AlertService {
 public:
  explicit AlertService(AlertDeps deps) : d_(deps), store_(deps.clock, deps.db) {}

  const AlertSettings& settings() const { return d_.settings; }

  // One evaluation over the whole inventory: expiry alerts, then the discovery changes since
  // the last one (watch.cc). Errors: store errors (what was raised before stays raised and
  // scheduled).
  Result<EvaluationReport> evaluate() const;
  // kPolicyJob: the violations of rules of at least [alerts] policy_min_severity that no alert
  // told of yet, one digest alert per rule and team (silenced certificates and teams left for
  // later). Returns the violations newly told of. Errors: the listing's, store errors.
  Result<std::int64_t> evaluate_policy() const;
  // The TLS endpoints that showed one certificate and now show one that only discovery knows
  // (origin "discovered"), since the last look (read again with a minute's overlap: a scan's
  // transaction may commit after a later one's); one alert per place and certificate.
  Result<std::int64_t> evaluate_discovery(SysTime now) const;
  // One delivery job. Errors: the send's (the attempt is retried), kMalformed (a bad payload).
  Status deliver(const Job& job) const;

  // A profile's first issuer failed and a later one of its list issued (issuers::
  // IssuerRegistry tells): one warning to the failure channels, at most one per pair of
  // issuers and profile an hour, however many issuances fail over meanwhile. Returns whether
  // it was new. Errors: store errors.
  Result<bool> issuer_failover(std::string_view profile, std::string_view failed,
                               std::string_view used, std::string_view error) const;

  Result<std::vector<Alert>> list(int limit, const std::optional<std::string>& before,
                                  const ca::Requester& caller) const;
  // Errors: kInvalidArgument (neither or both of certificate and team, until not in the
  // future or more than a year ahead, reason too long), kNotFound (no such certificate, or
  // for a team-scoped caller, not its team's), kUnauthorized (a team-scoped caller naming
  // another team).
  Result<Silence> silence(const SilenceRequest& r, const ca::Requester& caller) const;
  Status unsilence(std::string_view id, const ca::Requester& caller) const;
  Result<std::vector<Silence>> silences(const ca::Requester& caller) const;

 private:
  // Inserts the alerts no alert has the key of yet, each with its deliveries, in one
  // transaction (with `also`, run in it before commit). Returns how many were new.
  Result<std::int64_t> raise(std::vector<Alert> alerts,
                             const std::function<Status(store::Transaction&)>& also = {}) const;
  Result<EvaluationReport> evaluate_expiry(SysTime now) const;
  struct PolicyDigest;
  Result<std::int64_t> flush_policy(std::vector<PolicyDigest>& digests, SysTime now) const;
  Alert expiry_alert(const ExpiryCandidate& c, SysTime now) const;

  AlertDeps d_;
  AlertStore store_;
};

}  // namespace certward::lifecycle::alerts
