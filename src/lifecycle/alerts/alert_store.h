#pragma once
// The alerts' tables (migrations module "alerts", on top of the "managed" module's
// managed_alerts): every alert raised, its delivery on each channel, and the silences.
// SQL only; the evaluator (evaluator.h) and the services decide.
//
// Exactly once: an alert with a dedupe key is inserted only if no alert has that key (a unique
// index, insert-if-absent), inside the transaction that also creates its deliveries and
// enqueues their jobs, so a restart or a second replica never raises it twice and never
// raises it without sending it.
//
// Thread-safe; stateless besides its collaborators.

#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "lifecycle/managed.h"
#include "store/store.h"

namespace certward::lifecycle::alerts {

// Alerts for a certificate (by fingerprint) or a team are not raised until `until`.
struct Silence {
  std::string id;
  // With a fingerprint, that certificate only (`team` then records its team, for who may see
  // the silence); without, every certificate of `team`.
  std::optional<std::string> fingerprint;
  std::optional<std::string> team;
  SysTime until{};
  std::string reason;
  std::string created_by;
  SysTime created_at{};
};
nlohmann::json silence_json(const Silence& s);

// The silences in force at one moment, for evaluating many certificates against them.
struct ActiveSilences {
  std::set<std::string, std::less<>> fingerprints;
  std::set<std::string, std::less<>> teams;
  bool covers(std::string_view fingerprint, const std::optional<std::string>& team) const;
};

class AlertStore {
 public:
  AlertStore(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}

  // REQUIRES: the "managed" module migrated first (ManagedStore::migrate).
  static Status migrate(store::Database& db);

  // Inserts `a` unless an alert has its dedupe key; returns whether it was inserted. One with
  // no key is always inserted.
  Result<bool> insert(store::Transaction& tx, const Alert& a) const;
  // Which of `keys` (at most 1000) some alert already has.
  Result<std::set<std::string>> existing_keys(store::Transaction& tx,
                                              std::span<const std::string> keys) const;
  Status add_delivery(store::Transaction& tx, std::string_view alert_id,
                      std::string_view channel) const;
  // Records an attempt's outcome ("sent", "retrying", "failed"), in a transaction of its own.
  Status record_attempt(std::string_view alert_id, std::string_view channel, std::string_view state,
                        std::string_view error) const;

  Result<std::optional<Alert>> get(std::string_view id) const;
  // Newest first, with their deliveries; with `team`, that team's only; with `before` (an
  // alert id from a previous page), those older than it. Errors: kInvalidArgument (limit).
  Result<std::vector<Alert>> list(const std::optional<std::string>& team, int limit,
                                  const std::optional<std::string>& before) const;

  Status add_silence(store::Transaction& tx, const Silence& s) const;
  // Errors: kNotFound (none, or with `team`, not that team's).
  Status remove_silence(store::Transaction& tx, std::string_view id,
                        const std::optional<std::string>& team) const;
  // Those not yet ended; with `team`, that team's (by team or by its certificates').
  Result<std::vector<Silence>> silences(const std::optional<std::string>& team) const;
  Result<ActiveSilences> active_silences(SysTime now) const;

  // Which of `subjects` (fingerprints) an alert has already told of breaking `rule`.
  Result<std::set<std::string>> policy_seen(store::Transaction& tx, std::string_view rule,
                                            std::span<const std::string> subjects) const;
  // Records that `alert_id` tells of `subject` breaking `rule`; false if one already did.
  Result<bool> mark_policy_seen(store::Transaction& tx, std::string_view rule,
                                std::string_view subject, std::string_view alert_id) const;
  // How far the look-out `name` has read (nullopt: never), and moving it on (never back).
  Result<std::optional<SysTime>> mark(store::Transaction& tx, std::string_view name) const;
  Status set_mark(store::Transaction& tx, std::string_view name, SysTime at) const;

 private:
  Status load_deliveries(store::Transaction& tx, std::vector<Alert>& alerts) const;

  const Clock& clock_;
  store::Database& db_;
};

// "<unix seconds, hex>-<random>": ids that sort by time, as the alert list pages by id.
std::string new_alert_id(SysTime at);

}  // namespace certward::lifecycle::alerts
