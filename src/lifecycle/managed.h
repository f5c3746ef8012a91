#pragma once
// Managed certificates: the desired state of a certificate that certward keeps issued, renewed
// and deployed (like a cert-manager Certificate), and what the reconciler (reconciler.h) has
// made of it so far.
//
// A ManagedSpec comes from outside (a REST body, the CLI, a [[managed]] table of the
// configuration): parse_managed_spec() refuses unknown members and bad shapes. What only the
// server can judge (the caller's scope, profiles and authorities, the deployment policy) is
// checked by ManagedService (service.h) before anything is stored.
//
// Plain values and pure functions; thread-compatible.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "lifecycle/deploy/target.h"
#include "x509/certificate.h"

namespace certward::lifecycle {

enum class ManagedState : std::uint8_t {
  kPending,   // created, not issued yet
  kIssuing,   // the first certificate is being issued or deployed
  kActive,    // issued and deployed to every target
  kRenewing,  // a renewal (or re-issue) is being issued or deployed
  kFailed,    // the last reconciliation failed (last_error); retried with backoff
  kDeleted,   // deleted: kept for its history, never reconciled again
};
std::string_view managed_state_name(ManagedState s);  // "pending", "issuing", ...
Result<ManagedState> parse_managed_state(std::string_view s);

struct KeyPolicy {
  crypto::KeyType type = crypto::KeyType::kEcP256;
  bool rotate = true;  // a new key at every renewal; false: the sealed key is reused
};

// Kept simple until alert rules and channels exist: whether a failure raises an alert, and the
// channels it is meant for (stored, used once channels exist).
struct AlertPolicy {
  bool notify_on_failure = true;
  std::vector<std::string> channels;
};

// The desired state. As JSON (REST bodies, [[managed]] tables, stored rows):
//   {"name": "web", "common_name": "www.example.com",
//    "sans": ["dns:www.example.com", "dns:example.com"], "profile": "tls-server",
//    "authority": "issuing", "key": {"type": "ec-p256", "rotate": true},
//    "renew_before": "30d", "validity": "90d",
//    "targets": [ {deploy::TargetSpec as JSON}, ... ],
//    "owner": "alice", "team": "web", "tags": ["prod"],
//    "alerts": {"notify_on_failure": true, "channels": ["ops"]},
//    "adopt": "<fingerprint>"}
// "sans" entries are "dns:", "ip:", "email:" or "uri:" names, or bare DNS names; the common
// name defaults to the first DNS name and is one of the SANs. "adopt" (creation only) takes
// over the renewal of an inventory certificate.
struct ManagedSpec {
  std::string name;  // unique; [a-z0-9][a-z0-9._-]{0,62}
  std::string common_name;
  std::vector<x509::SubjectAltName> sans;
  std::string profile = "tls-server";
  std::optional<std::string> authority;  // default: the default authority
  KeyPolicy key;
  // How long before expiry renewal starts; default: when a third of the lifetime remains.
  std::optional<std::chrono::seconds> renew_before;
  std::optional<std::chrono::seconds> validity;  // default: the profile's
  std::vector<deploy::TargetSpec> targets;
  std::optional<std::string> owner;
  std::optional<std::string> team;
  std::vector<std::string> tags;
  AlertPolicy alerts;
  std::optional<std::string> adopt;  // creation only
};

// Errors: kInvalidArgument (shape, unknown member, bad name, no names, bad SAN, duration, key
// type, target). patch_managed_spec() applies a change (a PATCH): the members it names replace
// those of `base`; "name" and "adopt" cannot change.
Result<ManagedSpec> parse_managed_spec(const nlohmann::json& j);
Result<ManagedSpec> patch_managed_spec(const ManagedSpec& base, const nlohmann::json& patch);
nlohmann::json managed_spec_json(const ManagedSpec& s);
bool valid_managed_name(std::string_view name);

// What the certificate is issued for: names, profile, authority, key type, validity. A change
// of any of them re-issues; a change of targets, labels or renew_before does not.
std::string desired_hash(const ManagedSpec& s);
// What the targets are: a change redeploys the current certificate.
std::string targets_hash(const ManagedSpec& s);

// A renewal the operator asked for (renew now).
enum class RenewRequest : std::uint8_t { kNone, kRenew, kRotateKey };

struct ManagedCertificate {
  std::string id;
  ManagedSpec spec;
  ManagedState state = ManagedState::kPending;
  // Bumped by every change of the row's desired or recorded state: a reconciliation records
  // its certificate only if the generation is still the one it started from.
  std::int64_t generation = 0;
  std::optional<std::string> fingerprint;  // the current certificate
  std::optional<SysTime> not_before;
  std::optional<SysTime> not_after;
  std::optional<SysTime> renew_at;       // when renewal is due (before jitter)
  std::optional<SysTime> next_check_at;  // when the reconciler looks at it next
  std::string issued_hash;               // desired_hash() the current certificate was issued for
  std::optional<std::string> deployed_fingerprint;  // deployed to every target
  std::string deployed_hash;                        // targets_hash() of that deployment
  RenewRequest renew_request = RenewRequest::kNone;
  int attempts = 0;  // failed reconciliations in a row
  std::string last_error;
  std::string created_by;
  // The creator: a team-scoped creator's managed certificates are issued as their team, within
  // its grant as it is at each issuance; unscoped ones as an operator's.
  std::optional<std::string> creator_team;
  bool creator_scoped = false;
  bool declared = false;  // declared in the configuration: not deleted through the API
  SysTime created_at{};
  SysTime updated_at{};
};
nlohmann::json managed_json(const ManagedCertificate& m);

// When a certificate valid over [not_before, not_after] is due for renewal: `renew_before`
// before its end, or when a third of its lifetime remains; never before a tenth of the
// lifetime has passed (so that a renew_before longer than the lifetime cannot renew at every
// run).
SysTime renewal_due(SysTime not_before, SysTime not_after,
                    std::optional<std::chrono::seconds> renew_before);
// How much earlier than renewal_due() the reconciler starts, spread by `id` over [0, percent%
// of the renew-before window]: the same for one id, different across ids.
std::chrono::seconds renewal_jitter(std::string_view id, SysTime not_before, SysTime not_after,
                                    std::optional<std::chrono::seconds> renew_before, int percent);

// One entry of a managed certificate's timeline.
struct ManagedEvent {
  std::int64_t seq = 0;  // per managed certificate, from 1
  SysTime at{};
  // "created", "updated", "issued", "renewed", "deployed", "deploy_failed", "rolled_back",
  // "failed", "adopted", "deleted", "renew_requested"
  std::string kind;
  std::string actor;
  nlohmann::json detail = nlohmann::json::object();  // never secrets
};
nlohmann::json managed_event_json(const ManagedEvent& e);

// One alert's delivery on one channel (alerts/evaluator.h delivers it as a durable job).
struct AlertDelivery {
  std::string channel;
  std::string state;  // "pending", "retrying", "sent", "failed"
  int attempts = 0;
  std::string last_error;  // never secrets
  SysTime updated_at{};
};

// Something someone must look at: a failure of a managed certificate (a deployment that failed
// and was rolled back, a renewal that keeps failing), or a certificate of the inventory that
// reached an expiry threshold (alerts/evaluator.h). Sent on its channels, one delivery each.
struct Alert {
  std::string id;
  SysTime at{};
  std::string severity;      // "info", "warning", "critical"
  std::string kind;          // "deploy_failed", "reconcile_failed", "expiry"
  std::string managed_id;    // empty when no managed certificate is concerned
  std::string managed_name;  // likewise
  std::optional<std::string> team;
  std::string message;
  nlohmann::json detail = nlohmann::json::object();
  std::vector<std::string> channels;       // where it is sent
  std::optional<std::string> fingerprint;  // the certificate concerned, if one is
  // At most one alert has a given key, however often and by however many replicas it is
  // raised (alerts::expiry_dedupe_key()).
  std::optional<std::string> dedupe_key;
  std::vector<AlertDelivery> deliveries;  // filled when read
};
nlohmann::json alert_json(const Alert& a);

}  // namespace certward::lifecycle
