#pragma once
// The tables of managed certificates (migrations module "managed"): the rows, their sealed
// keys, their timelines and the alerts they raised. SQL only; ManagedService (service.h) and
// the Reconciler (reconciler.h) decide and audit.
//
// Every change of a row goes through update(), which writes it only if its generation is still
// the one the caller read, and bumps it: two writers (an API change and a reconciliation, or
// two replicas' reconciliations) never overwrite each other unnoticed.
//
// Thread-safe; stateless besides its collaborators.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "crypto/crypto.h"
#include "lifecycle/managed.h"
#include "store/store.h"

namespace certward::lifecycle {

struct ManagedFilter {
  std::optional<ManagedState> state;
  std::optional<std::string> team;
  std::optional<std::string> fingerprint;  // its current certificate (SHA-256, lower-case hex)
  bool include_deleted = false;
  int limit = 50;                     // 1..1000
  std::optional<std::string> cursor;  // opaque; from ManagedPage::next_cursor
};

struct ManagedPage {
  std::vector<ManagedCertificate> items;  // by name, then id
  std::optional<std::string> next_cursor;
};

struct SealedKey {
  crypto::KeyType type = crypto::KeyType::kEcP256;
  Bytes sealed;  // crypto::KeyWrapper::seal of the PKCS#8 DER, aad managed_key_aad(id)
};
std::string managed_key_aad(std::string_view id);  // "managed-key:<id>"

class ManagedStore {
 public:
  ManagedStore(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}

  static Status migrate(store::Database& db);

  store::Database& db() const { return db_; }

  // Errors: kConflict (a live managed certificate has this name), store errors.
  Status insert(store::Transaction& tx, const ManagedCertificate& m) const;
  // With `lock`, the row is locked for the caller's write transaction.
  Result<std::optional<ManagedCertificate>> find(store::Transaction& tx, std::string_view id,
                                                 bool lock = false) const;
  // A live (not deleted) managed certificate by name.
  Result<std::optional<ManagedCertificate>> find_by_name(store::Transaction& tx,
                                                         std::string_view name) const;
  // The live managed certificate whose current certificate this is, if any.
  Result<std::optional<std::string>> managing(store::Transaction& tx,
                                              std::string_view fingerprint) const;
  // In a transaction of its own. Errors: kNotFound.
  Result<ManagedCertificate> get(std::string_view id) const;
  Result<ManagedPage> list(const ManagedFilter& filter) const;
  // Live managed certificates after `after_id` (by id), at most `max`.
  Result<std::vector<ManagedCertificate>> live_after(const std::string& after_id, int max) const;
  // The same as (id, next_check_at) only, for the sweep over every managed certificate.
  struct Due {
    std::string id;
    std::optional<SysTime> next_check_at;
  };
  Result<std::vector<Due>> due_after(const std::string& after_id, int max) const;

  // Writes every mutable field of `m` if the row's generation is still `m.generation`, and
  // sets m.generation and m.updated_at to their new values. Returns false (nothing written)
  // when another writer changed the row first.
  Result<bool> update(store::Transaction& tx, ManagedCertificate& m) const;

  // Appends to the timeline; `seq` is the next of this managed certificate.
  Status add_event(store::Transaction& tx, std::string_view managed_id, std::string_view kind,
                   std::string_view actor, const nlohmann::json& detail) const;
  // The newest `limit` events, oldest first.
  Result<std::vector<ManagedEvent>> events(std::string_view managed_id, int limit) const;

  Status add_alert(store::Transaction& tx, const Alert& alert) const;
  // Newest first; with `team`, that team's only; with `before` (an alert id from a previous
  // page), those older than it.
  Result<std::vector<Alert>> alerts(const std::optional<std::string>& team, int limit,
                                    const std::optional<std::string>& before) const;

  // Claims the files `m`'s targets write ("file:<path>", "ssh:<host>:<port>:<path>",
  // "agent:<agent>:<path>") for it
  // alone, releasing those it no longer writes (all of them once it is deleted): two managed
  // certificates never overwrite each other's files. Errors: kConflict naming the file and the
  // managed certificate that writes it.
  Status claim_target_files(store::Transaction& tx, const ManagedCertificate& m) const;

  Status put_key(store::Transaction& tx, std::string_view managed_id, const SealedKey& key) const;
  Result<std::optional<SealedKey>> key(std::string_view managed_id) const;

 private:
  const Clock& clock_;
  store::Database& db_;
};

}  // namespace certward::lifecycle
