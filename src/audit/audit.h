#pragma once
// The append-only, hash-chained audit log.
//
// Every state change in certward appends one event inside the same transaction as the change
// itself, so an event exists if and only if its change was committed. Each event's hash covers
// its own fields and the previous event's hash; the head (last seq and hash) is kept in its own
// row. verify() recomputes the chain and detects an altered, inserted, reordered or deleted
// event, including deletion of the newest events.
//
// Thread-safety: AuditLog is stateless besides its injected clock; appends are serialised by
// the database through the head row (SELECT ... FOR UPDATE).

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace certward::audit {

struct Event {
  std::string actor;        // "local:root", "token:<id>", "user:<name>", "system"
  std::string action;       // stable dotted verb: "certificate.issue", "authority.create", ...
  std::string target_type;  // "certificate", "authority", "profile", ...
  std::string target_id;    // fingerprint, authority name, ...
  nlohmann::json details = nlohmann::json::object();  // never secrets
};

struct RecordedEvent {
  std::int64_t seq = 0;
  SysTime time{};
  Event event;
  std::string prev_hash;  // hex
  std::string hash;       // hex
};

struct EventFilter {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> target_type;
  std::optional<std::string> target_id;
  std::optional<SysTime> since;
  std::optional<SysTime> until;
  std::optional<std::int64_t> after_seq;  // keyset pagination
  int limit = 100;                        // 1..1000
  bool newest_first = true;
};

// A (seq, hash) pair recorded outside certward's database: a chain rewritten from that event
// on, with every hash recomputed, verifies on its own but no longer matches the checkpoint.
struct Checkpoint {
  std::int64_t seq = 0;  // >= 1
  std::string hash;      // 64 lower-case hex digits
};
// "SEQ:HASH" as `audit verify` prints it. Errors: kMalformed.
Result<Checkpoint> parse_checkpoint(std::string_view text);

struct VerifyReport {
  bool ok = true;
  std::int64_t events_checked = 0;
  std::optional<std::int64_t> first_bad_seq;
  std::string problem;  // human-readable; empty when ok
  Checkpoint head;      // the newest event verified (seq 0 and the genesis hash when empty)
  bool checkpoint_matched = false;  // a checkpoint was given and the chain holds it
};

class AuditLog {
 public:
  // `db` is the log's own handle for reading; appends join the caller's transaction.
  AuditLog(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}

  static Status migrate(store::Database& db);

  // Appends events in order inside `tx`. Errors: those of the store.
  Status append(store::Transaction& tx, std::span<const Event> events) const;
  Status append(store::Transaction& tx, const Event& event) const {
    return append(tx, std::span<const Event>(&event, 1));
  }

  Result<std::vector<RecordedEvent>> list(const EventFilter& filter) const;
  // Reads the whole chain in pages; memory stays bounded whatever its length. With
  // `checkpoint`, the event at checkpoint.seq must exist and carry checkpoint.hash.
  Result<VerifyReport> verify(const std::optional<Checkpoint>& checkpoint = {}) const;

  // The hash of one event given its predecessor's hash (exposed for tests and tools).
  static std::string event_hash(std::int64_t seq, SysTime time, const Event& e,
                                std::string_view details_json, std::string_view prev_hash);

 private:
  const Clock& clock_;
  store::Database& db_;
};

}  // namespace certward::audit
