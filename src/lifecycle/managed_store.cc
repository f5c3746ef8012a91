#include "lifecycle/managed_store.h"

#include <set>

#include "common/encoding.h"
#include "lifecycle/alerts/alert_store.h"
#include "store/schema.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::array<store::Migration, 1> kMigrations = {{
    {1, "managed",
     R"sql(
CREATE TABLE managed_certificates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  team TEXT,
  state TEXT NOT NULL,
  generation BIGINT NOT NULL,
  fingerprint TEXT,
  not_before BIGINT,
  not_after BIGINT,
  renew_at BIGINT,
  next_check_at BIGINT,
  issued_hash TEXT NOT NULL,
  deployed_fingerprint TEXT,
  deployed_hash TEXT NOT NULL,
  renew_request TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  created_by TEXT NOT NULL,
  creator_team TEXT,
  creator_scoped INTEGER NOT NULL,
  declared INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX managed_certificates_name ON managed_certificates (name) WHERE state <> 'deleted';
CREATE INDEX managed_certificates_list ON managed_certificates (name, id);
CREATE INDEX managed_certificates_team ON managed_certificates (team, name, id);
CREATE INDEX managed_certificates_fingerprint ON managed_certificates (fingerprint);
CREATE TABLE managed_target_files (
  location TEXT PRIMARY KEY,
  managed_id TEXT NOT NULL
);
CREATE INDEX managed_target_files_owner ON managed_target_files (managed_id);
CREATE TABLE managed_keys (
  managed_id TEXT PRIMARY KEY,
  key_type TEXT NOT NULL,
  sealed BLOB NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE managed_events (
  managed_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (managed_id, seq)
);
CREATE TABLE managed_alerts (
  id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  managed_id TEXT NOT NULL,
  managed_name TEXT NOT NULL,
  team TEXT,
  message TEXT NOT NULL,
  detail TEXT NOT NULL,
  channels TEXT NOT NULL
);
CREATE INDEX managed_alerts_team ON managed_alerts (team, id);
)sql"},
}};

constexpr std::string_view kColumns =
    "id, name, spec, team, state, generation, fingerprint, not_before, not_after, renew_at, "
    "next_check_at, issued_hash, deployed_fingerprint, deployed_hash, renew_request, attempts, "
    "last_error, created_by, creator_team, creator_scoped, declared, created_at, updated_at";

json parse_json_text(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string_view request_name(RenewRequest r) {
  switch (r) {
    case RenewRequest::kRenew:
      return "renew";
    case RenewRequest::kRotateKey:
      return "rotate_key";
    case RenewRequest::kNone:
      break;
  }
  return "";
}

std::optional<SysTime> time_at(const store::Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_unix(r.int64(i));
}

store::Value time_value(const std::optional<SysTime>& t) {
  return t ? store::Value(to_unix(*t)) : store::Value(nullptr);
}

// A stored spec was written by managed_spec_json(); one that no longer parses (a rule got
// stricter) keeps its name so the row can still be listed, changed or deleted.
ManagedSpec stored_spec(const std::string& text, const std::string& name) {
  auto spec = parse_managed_spec(parse_json_text(text));
  if (spec) return *std::move(spec);
  ManagedSpec s;
  s.name = name;
  return s;
}

Result<ManagedCertificate> to_managed(const store::Row& r) {
  ManagedCertificate m;
  m.id = r.text(0);
  m.spec = stored_spec(r.text(2), r.text(1));
  CW_ASSIGN_OR_RETURN(m.state, parse_managed_state(r.text(4)));
  m.generation = r.int64(5);
  m.fingerprint = r.optional_text(6);
  m.not_before = time_at(r, 7);
  m.not_after = time_at(r, 8);
  m.renew_at = time_at(r, 9);
  m.next_check_at = time_at(r, 10);
  m.issued_hash = r.text(11);
  m.deployed_fingerprint = r.optional_text(12);
  m.deployed_hash = r.text(13);
  const std::string& request = r.text(14);
  m.renew_request = request == "rotate_key" ? RenewRequest::kRotateKey
                    : request == "renew"    ? RenewRequest::kRenew
                                            : RenewRequest::kNone;
  m.attempts = static_cast<int>(r.int64(15));
  m.last_error = r.text(16);
  m.created_by = r.text(17);
  m.creator_team = r.optional_text(18);
  m.creator_scoped = r.int64(19) != 0;
  m.declared = r.int64(20) != 0;
  m.created_at = from_unix(r.int64(21));
  m.updated_at = from_unix(r.int64(22));
  return m;
}

Result<std::vector<ManagedCertificate>> to_list(const store::Rows& rows) {
  std::vector<ManagedCertificate> out;
  for (const auto& row : rows) {
    CW_ASSIGN_OR_RETURN(auto m, to_managed(row));
    out.push_back(std::move(m));
  }
  return out;
}

std::string make_cursor(const ManagedCertificate& m) {
  return to_base64url(as_bytes(json::array({m.spec.name, m.id}).dump()));
}

Result<std::pair<std::string, std::string>> read_cursor(std::string_view cursor) {
  auto raw = from_base64url(cursor);
  if (raw) {
    auto j = json::parse(as_chars(*raw), nullptr, false);
    if (j.is_array() && j.size() == 2 && j[0].is_string() && j[1].is_string()) {
      return std::pair{j[0].get<std::string>(), j[1].get<std::string>()};
    }
  }
  return fail(ErrorCode::kInvalidArgument, "bad cursor");
}

}  // namespace

std::string managed_key_aad(std::string_view id) { return "managed-key:" + std::string(id); }

const store::SchemaModule kSchema{"managed", kMigrations};

Status ManagedStore::migrate(store::Database& db) {
  CW_RETURN_IF_ERROR(db.migrate("managed", kMigrations));
  // The alerts' own tables extend managed_alerts, so they come after it.
  return alerts::AlertStore::migrate(db);
}

Status ManagedStore::insert(store::Transaction& tx, const ManagedCertificate& m) const {
  auto inserted = tx.execute(
      "INSERT INTO managed_certificates (" + std::string(kColumns) +
          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(m.id, m.spec.name, dump(managed_spec_json(m.spec)), m.spec.team,
                    managed_state_name(m.state), m.generation, m.fingerprint,
                    time_value(m.not_before), time_value(m.not_after), time_value(m.renew_at),
                    time_value(m.next_check_at), m.issued_hash, m.deployed_fingerprint,
                    m.deployed_hash, request_name(m.renew_request), m.attempts, m.last_error,
                    m.created_by, m.creator_team, m.creator_scoped, m.declared,
                    to_unix(m.created_at), to_unix(m.updated_at)));
  if (!inserted && inserted.error().code == ErrorCode::kConflict) {
    return fail(ErrorCode::kConflict, "a managed certificate '" + m.spec.name + "' exists");
  }
  return inserted;
}

Result<std::optional<ManagedCertificate>> ManagedStore::find(store::Transaction& tx,
                                                             std::string_view id, bool lock) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kColumns) +
                                                 " FROM managed_certificates WHERE id = ?" +
                                                 (lock ? " FOR UPDATE" : ""),
                                             store::params(id)));
  if (!row) return std::optional<ManagedCertificate>();
  CW_ASSIGN_OR_RETURN(auto m, to_managed(*row));
  return std::optional<ManagedCertificate>(std::move(m));
}

Result<std::optional<ManagedCertificate>> ManagedStore::find_by_name(store::Transaction& tx,
                                                                     std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT " + std::string(kColumns) +
                                       " FROM managed_certificates WHERE name = ? AND state <> "
                                       "'deleted'",
                                   store::params(name)));
  if (!row) return std::optional<ManagedCertificate>();
  CW_ASSIGN_OR_RETURN(auto m, to_managed(*row));
  return std::optional<ManagedCertificate>(std::move(m));
}

Result<std::optional<std::string>> ManagedStore::managing(store::Transaction& tx,
                                                          std::string_view fingerprint) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT name FROM managed_certificates WHERE "
                                             "fingerprint = ? AND state <> 'deleted' LIMIT 1",
                                             store::params(fingerprint)));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(row->text(0));
}

Result<ManagedCertificate> ManagedStore::get(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto m, find(*tx, id));
  if (!m) return fail(ErrorCode::kNotFound, "no managed certificate " + std::string(id));
  return *std::move(m);
}

Result<ManagedPage> ManagedStore::list(const ManagedFilter& f) const {
  if (f.limit < 1 || f.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM managed_certificates WHERE 1 = 1";
  std::vector<store::Value> params;
  if (f.state) {
    sql += " AND state = ?";
    params.emplace_back(std::string(managed_state_name(*f.state)));
  } else if (!f.include_deleted) {
    sql += " AND state <> 'deleted'";
  }
  if (f.team) {
    sql += " AND team = ?";
    params.emplace_back(*f.team);
  }
  if (f.fingerprint) {
    sql += " AND fingerprint = ?";
    params.emplace_back(*f.fingerprint);
  }
  if (f.cursor) {
    CW_ASSIGN_OR_RETURN(auto after, read_cursor(*f.cursor));
    sql += " AND (name > ? OR (name = ? AND id > ?))";
    params.emplace_back(after.first);
    params.emplace_back(after.first);
    params.emplace_back(after.second);
  }
  sql += " ORDER BY name, id LIMIT " + std::to_string(f.limit + 1);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  ManagedPage page;
  CW_ASSIGN_OR_RETURN(page.items, to_list(rows));
  if (page.items.size() > static_cast<std::size_t>(f.limit)) {
    page.items.pop_back();
    page.next_cursor = make_cursor(page.items.back());
  }
  return page;
}

Result<std::vector<ManagedCertificate>> ManagedStore::live_after(const std::string& after_id,
                                                                 int max) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT " + std::string(kColumns) +
                                               " FROM managed_certificates WHERE state <> "
                                               "'deleted' AND id > ? ORDER BY id LIMIT " +
                                               std::to_string(max),
                                           store::params(after_id)));
  return to_list(rows);
}

Result<std::vector<ManagedStore::Due>> ManagedStore::due_after(const std::string& after_id,
                                                               int max) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT id, next_check_at FROM managed_certificates "
                                           "WHERE state <> 'deleted' AND id > ? ORDER BY id "
                                           "LIMIT " +
                                               std::to_string(max),
                                           store::params(after_id)));
  std::vector<Due> out;
  for (const auto& r : rows) out.push_back({r.text(0), time_at(r, 1)});
  return out;
}

Result<bool> ManagedStore::update(store::Transaction& tx, ManagedCertificate& m) const {
  const SysTime now = clock_.now();
  CW_ASSIGN_OR_RETURN(
      auto n,
      tx.execute_count(
          "UPDATE managed_certificates SET spec = ?, team = ?, state = ?, generation = ?, "
          "fingerprint = ?, not_before = ?, not_after = ?, renew_at = ?, next_check_at = ?, "
          "issued_hash = ?, deployed_fingerprint = ?, deployed_hash = ?, renew_request = ?, "
          " attempts = ?, last_error = ?, declared = ?, updated_at = ? WHERE "
          "id = ? AND generation = ?",
          store::params(dump(managed_spec_json(m.spec)), m.spec.team, managed_state_name(m.state),
                        m.generation + 1, m.fingerprint, time_value(m.not_before),
                        time_value(m.not_after), time_value(m.renew_at),
                        time_value(m.next_check_at), m.issued_hash, m.deployed_fingerprint,
                        m.deployed_hash, request_name(m.renew_request), m.attempts, m.last_error,
                        m.declared, to_unix(now), m.id, m.generation)));
  if (n != 1) return false;
  m.generation += 1;
  m.updated_at = now;
  return true;
}

Status ManagedStore::add_event(store::Transaction& tx, std::string_view managed_id,
                               std::string_view kind, std::string_view actor,
                               const json& detail) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT COALESCE(MAX(seq), 0) FROM managed_events "
                                             "WHERE managed_id = ?",
                                             store::params(managed_id)));
  const std::int64_t seq = (row ? row->int64(0) : 0) + 1;
  return tx.execute(
      "INSERT INTO managed_events (managed_id, seq, at, kind, actor, detail) VALUES (?, ?, ?, ?, "
      "?, ?)",
      store::params(managed_id, seq, to_unix(clock_.now()), kind, actor, dump(detail)));
}

Result<std::vector<ManagedEvent>> ManagedStore::events(std::string_view managed_id,
                                                       int limit) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows,
                      tx->query("SELECT seq, at, kind, actor, detail FROM managed_events WHERE "
                                "managed_id = ? ORDER BY seq DESC LIMIT " +
                                    std::to_string(limit),
                                store::params(managed_id)));
  std::vector<ManagedEvent> out;
  for (const auto& r : rows) {
    out.push_back(ManagedEvent{.seq = r.int64(0),
                               .at = from_unix(r.int64(1)),
                               .kind = r.text(2),
                               .actor = r.text(3),
                               .detail = parse_json_text(r.text(4))});
  }
  std::ranges::reverse(out);
  return out;
}

Status ManagedStore::add_alert(store::Transaction& tx, const Alert& a) const {
  CW_ASSIGN_OR_RETURN(auto inserted, alerts::AlertStore(clock_, db_).insert(tx, a));
  (void)inserted;  // a failure's alert has no dedupe key: always inserted
  return ok();
}

Result<std::vector<Alert>> ManagedStore::alerts(const std::optional<std::string>& team, int limit,
                                                const std::optional<std::string>& before) const {
  return alerts::AlertStore(clock_, db_).list(team, limit, before);
}

Status ManagedStore::claim_target_files(store::Transaction& tx, const ManagedCertificate& m) const {
  std::set<std::string> locations;
  if (m.state != ManagedState::kDeleted) {
    for (const auto& t : m.spec.targets) {
      const std::string where = t.ssh
                                    ? "ssh:" + t.ssh->host + ":" + std::to_string(t.ssh->port) + ":"
                                : t.agent ? "agent:" + *t.agent + ":"
                                          : "file:";
      for (const auto* path : {&t.files.key, &t.files.certificate, &t.files.chain,
                               &t.files.fullchain, &t.files.pkcs12}) {
        if (*path) locations.insert(where + **path);
      }
    }
  }
  CW_RETURN_IF_ERROR(
      tx.execute("DELETE FROM managed_target_files WHERE managed_id = ?", store::params(m.id)));
  for (const auto& location : locations) {
    // Looked up first: on PostgreSQL a failed INSERT would end the caller's transaction.
    CW_ASSIGN_OR_RETURN(auto taken,
                        tx.query_one("SELECT c.name FROM managed_target_files f JOIN "
                                     "managed_certificates c ON c.id = f.managed_id WHERE "
                                     "f.location = ?",
                                     store::params(location)));
    if (taken) {
      return fail(ErrorCode::kConflict,
                  location + " is written by managed certificate '" + taken->text(0) + "'");
    }
    CW_RETURN_IF_ERROR(
        tx.execute("INSERT INTO managed_target_files (location, managed_id) VALUES (?, ?)",
                   store::params(location, m.id)));
  }
  return ok();
}

Status ManagedStore::put_key(store::Transaction& tx, std::string_view managed_id,
                             const SealedKey& key) const {
  return tx.execute(
      "INSERT INTO managed_keys (managed_id, key_type, sealed, created_at) VALUES (?, ?, ?, ?) ON "
      "CONFLICT (managed_id) DO UPDATE SET key_type = excluded.key_type, sealed = "
      "excluded.sealed, created_at = excluded.created_at",
      store::params(managed_id, crypto::key_type_name(key.type), key.sealed,
                    to_unix(clock_.now())));
}

Result<std::optional<SealedKey>> ManagedStore::key(std::string_view managed_id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT key_type, sealed FROM managed_keys WHERE "
                                              "managed_id = ?",
                                              store::params(managed_id)));
  if (!row) return std::optional<SealedKey>();
  CW_ASSIGN_OR_RETURN(auto type, crypto::parse_key_type(row->text(0)));
  return std::optional<SealedKey>(SealedKey{type, row->blob(1)});
}

}  // namespace certward::lifecycle
