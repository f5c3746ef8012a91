#include "lifecycle/alerts/alert_store.h"

#include <fmt/format.h>

#include <map>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;

constexpr std::array<store::Migration, 3> kMigrations = {{
    {1, "alerts",
     R"sql(
ALTER TABLE managed_alerts ADD COLUMN fingerprint TEXT;
ALTER TABLE managed_alerts ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX managed_alerts_dedupe ON managed_alerts (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE TABLE alert_deliveries (
  alert_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (alert_id, channel)
);
CREATE TABLE alert_silences (
  id TEXT PRIMARY KEY,
  fingerprint TEXT,
  team TEXT,
  until_at BIGINT NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX alert_silences_until ON alert_silences (until_at);
)sql"},
    {2, "policy_and_discovery",
     // Which violations an alert has told of (one digest names many), and how far the
     // look-outs over new sightings have read.
     R"sql(
CREATE TABLE alert_policy_seen (
  rule TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (rule, subject_id)
);
CREATE TABLE alert_marks (
  name TEXT PRIMARY KEY,
  at BIGINT NOT NULL
);
)sql"},
    {3, "silence_reach",
     // A requester's silence holds back expiry alerts only (SilenceReach).
     R"sql(
ALTER TABLE alert_silences ADD COLUMN reach TEXT NOT NULL DEFAULT 'all';
)sql"},
}};

constexpr std::string_view kAlertColumns =
    "id, at, severity, kind, managed_id, managed_name, team, message, detail, channels, "
    "fingerprint, dedupe_key";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_json_text(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

Alert to_alert(const store::Row& r) {
  Alert a;
  a.id = r.text(0);
  a.at = from_unix(r.int64(1));
  a.severity = r.text(2);
  a.kind = r.text(3);
  a.managed_id = r.text(4);
  a.managed_name = r.text(5);
  a.team = r.optional_text(6);
  a.message = r.text(7);
  a.detail = parse_json_text(r.text(8));
  const json channels = parse_json_text(r.text(9));
  if (channels.is_array()) {
    for (const auto& c : channels) {
      if (c.is_string()) a.channels.push_back(c.get<std::string>());
    }
  }
  a.fingerprint = r.optional_text(10);
  a.dedupe_key = r.optional_text(11);
  return a;
}

std::string placeholders(std::size_t n) {
  std::string in = "(";
  for (std::size_t i = 0; i < n; ++i) in += i ? ", ?" : "?";
  return in + ")";
}

Silence to_silence(const store::Row& r) {
  return Silence{.id = r.text(0),
                 .fingerprint = r.optional_text(1),
                 .team = r.optional_text(2),
                 .until = from_unix(r.int64(3)),
                 .reason = r.text(4),
                 .created_by = r.text(5),
                 .created_at = from_unix(r.int64(6)),
                 .reach = r.text(7) == "expiry" ? SilenceReach::kExpiry : SilenceReach::kAll};
}

}  // namespace

std::string new_alert_id(SysTime at) {
  return fmt::format("{:016x}-{}", to_unix(at), to_hex(crypto::random_bytes(6)));
}

std::string_view silence_reach_name(SilenceReach r) {
  return r == SilenceReach::kExpiry ? "expiry" : "all";
}

std::string clip_text(std::string_view text, std::size_t max) {
  const bool cut = text.size() > max;
  if (cut) {
    std::size_t end = max >= 3 ? max - 3 : 0;
    // Back off continuation bytes (10xxxxxx): a character is kept whole or not at all.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
  }
  std::string out(text);
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  }
  if (cut) out += "...";
  return out;
}

json silence_json(const Silence& s) {
  return {{"id", s.id},
          {"fingerprint", s.fingerprint ? json(*s.fingerprint) : json(nullptr)},
          {"team", s.team ? json(*s.team) : json(nullptr)},
          {"until", format_time(s.until)},
          {"reason", s.reason},
          {"created_by", s.created_by},
          {"created_at", format_time(s.created_at)},
          {"reach", silence_reach_name(s.reach)}};
}

bool ActiveSilences::covers(std::string_view fingerprint,
                            const std::optional<std::string>& team) const {
  return fingerprints.contains(fingerprint) || (team && teams.contains(*team));
}

const store::SchemaModule kSchema{"alerts", kMigrations};

Status AlertStore::migrate(store::Database& db) { return db.migrate("alerts", kMigrations); }

Result<bool> AlertStore::insert(store::Transaction& tx, const Alert& a) const {
  // ON CONFLICT rather than look-then-insert: two replicas raising one alert at once get one
  // row; the second's RETURNING is empty.
  CW_ASSIGN_OR_RETURN(
      auto row,
      tx.query_one(
          "INSERT INTO managed_alerts (" + std::string(kAlertColumns) +
              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) WHERE "
              "dedupe_key IS NOT NULL DO NOTHING RETURNING id",
          store::params(a.id, to_unix(a.at), a.severity, a.kind, a.managed_id, a.managed_name,
                        a.team, a.message, dump(a.detail), dump(json(a.channels)), a.fingerprint,
                        a.dedupe_key)));
  return row.has_value();
}

Result<std::set<std::string>> AlertStore::existing_keys(store::Transaction& tx,
                                                        std::span<const std::string> keys) const {
  std::set<std::string> out;
  if (keys.empty()) return out;
  if (keys.size() > 1000) return fail(ErrorCode::kInvalidArgument, "at most 1000 keys at a time");
  std::vector<store::Value> params(keys.begin(), keys.end());
  CW_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT dedupe_key FROM managed_alerts WHERE "
                                          "dedupe_key IN " +
                                              placeholders(keys.size()),
                                          params));
  for (const auto& r : rows) out.insert(r.text(0));
  return out;
}

Status AlertStore::add_delivery(store::Transaction& tx, std::string_view alert_id,
                                std::string_view channel) const {
  return tx.execute(
      "INSERT INTO alert_deliveries (alert_id, channel, state, attempts, last_error, updated_at) "
      "VALUES (?, ?, 'pending', 0, '', ?) ON CONFLICT (alert_id, channel) DO NOTHING",
      store::params(alert_id, channel, to_unix(clock_.now())));
}

Status AlertStore::record_attempt(std::string_view alert_id, std::string_view channel,
                                  std::string_view state, std::string_view error) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(
      tx->execute("UPDATE alert_deliveries SET state = ?, attempts = attempts + 1, last_error = ?, "
                  "updated_at = ? WHERE alert_id = ? AND channel = ?",
                  store::params(state, error, to_unix(clock_.now()), alert_id, channel)));
  return tx->commit();
}

Status AlertStore::load_deliveries(store::Transaction& tx, std::vector<Alert>& alerts) const {
  if (alerts.empty()) return ok();
  std::map<std::string, Alert*> by_id;
  std::vector<store::Value> params;
  for (auto& a : alerts) {
    by_id[a.id] = &a;
    params.emplace_back(a.id);
  }
  CW_ASSIGN_OR_RETURN(auto rows,
                      tx.query("SELECT alert_id, channel, state, attempts, last_error, "
                               "updated_at FROM alert_deliveries WHERE alert_id IN " +
                                   placeholders(params.size()) + " ORDER BY alert_id, channel",
                               params));
  for (const auto& r : rows) {
    auto it = by_id.find(r.text(0));
    if (it == by_id.end()) continue;
    it->second->deliveries.push_back(AlertDelivery{.channel = r.text(1),
                                                   .state = r.text(2),
                                                   .attempts = static_cast<int>(r.int64(3)),
                                                   .last_error = r.text(4),
                                                   .updated_at = from_unix(r.int64(5))});
  }
  return ok();
}

Result<std::optional<Alert>> AlertStore::get(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kAlertColumns) +
                                                  " FROM managed_alerts WHERE id = ?",
                                              store::params(id)));
  if (!row) return std::optional<Alert>();
  std::vector<Alert> one{to_alert(*row)};
  CW_RETURN_IF_ERROR(load_deliveries(*tx, one));
  return std::optional<Alert>(std::move(one.front()));
}

Result<std::vector<Alert>> AlertStore::list(const std::optional<std::string>& team, int limit,
                                            const std::optional<std::string>& before) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kAlertColumns) + " FROM managed_alerts WHERE 1 = 1";
  std::vector<store::Value> params;
  if (team) {
    sql += " AND team = ?";
    params.emplace_back(*team);
  }
  if (before) {
    sql += " AND id < ?";
    params.emplace_back(*before);
  }
  sql += " ORDER BY id DESC LIMIT " + std::to_string(limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<Alert> out;
  for (const auto& r : rows) out.push_back(to_alert(r));
  CW_RETURN_IF_ERROR(load_deliveries(*tx, out));
  return out;
}

Status AlertStore::add_silence(store::Transaction& tx, const Silence& s) const {
  return tx.execute(
      "INSERT INTO alert_silences (id, fingerprint, team, until_at, reason, created_by, "
      "created_at, reach) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(s.id, s.fingerprint, s.team, to_unix(s.until), s.reason, s.created_by,
                    to_unix(s.created_at), std::string(silence_reach_name(s.reach))));
}

Status AlertStore::remove_silence(store::Transaction& tx, std::string_view id,
                                  const std::optional<std::string>& team) const {
  std::string sql = "DELETE FROM alert_silences WHERE id = ?";
  std::vector<store::Value> params = {std::string(id)};
  if (team) {
    sql += " AND team = ?";
    params.emplace_back(*team);
  }
  CW_ASSIGN_OR_RETURN(auto n, tx.execute_count(sql, params));
  if (n != 1) return fail(ErrorCode::kNotFound, "no silence " + std::string(id));
  return ok();
}

Result<std::vector<Silence>> AlertStore::silences(const std::optional<std::string>& team) const {
  std::string sql =
      "SELECT id, fingerprint, team, until_at, reason, created_by, created_at, reach FROM "
      "alert_silences WHERE until_at > ?";
  std::vector<store::Value> params = {to_unix(clock_.now())};
  if (team) {
    sql += " AND team = ?";
    params.emplace_back(*team);
  }
  sql += " ORDER BY until_at, id LIMIT 1000";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<Silence> out;
  for (const auto& r : rows) out.push_back(to_silence(r));
  return out;
}

Result<ActiveSilences> AlertStore::active_silences(SysTime now, LookOut look_out) const {
  std::string sql = "SELECT fingerprint, team FROM alert_silences WHERE until_at > ?";
  if (look_out != LookOut::kExpiry) sql += " AND reach = 'all'";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, store::params(to_unix(now))));
  ActiveSilences out;
  for (const auto& r : rows) {
    if (auto fp = r.optional_text(0)) {
      out.fingerprints.insert(*fp);
    } else if (auto team = r.optional_text(1)) {
      out.teams.insert(*team);
    }
  }
  return out;
}

Result<std::set<std::string>> AlertStore::policy_seen(store::Transaction& tx, std::string_view rule,
                                                      std::span<const std::string> subjects) const {
  std::set<std::string> out;
  constexpr std::size_t kSlice = 500;  // a parameter list has limits on both drivers
  for (std::size_t at = 0; at < subjects.size(); at += kSlice) {
    const auto slice = subjects.subspan(at, std::min(kSlice, subjects.size() - at));
    std::vector<store::Value> params{std::string(rule)};
    params.insert(params.end(), slice.begin(), slice.end());
    CW_ASSIGN_OR_RETURN(auto rows,
                        tx.query("SELECT subject_id FROM alert_policy_seen WHERE rule = ? AND "
                                 "subject_id IN " +
                                     placeholders(slice.size()),
                                 params));
    for (const auto& r : rows) out.insert(r.text(0));
  }
  return out;
}

Result<bool> AlertStore::mark_policy_seen(store::Transaction& tx, std::string_view rule,
                                          std::string_view subject,
                                          std::string_view alert_id) const {
  CW_ASSIGN_OR_RETURN(auto n, tx.execute_count(
                                  "INSERT INTO alert_policy_seen (rule, subject_id, alert_id, at) "
                                  "VALUES (?, ?, ?, ?) ON CONFLICT (rule, subject_id) DO NOTHING",
                                  store::params(rule, subject, alert_id, to_unix(clock_.now()))));
  return n == 1;
}

Result<std::optional<SysTime>> AlertStore::mark(store::Transaction& tx,
                                                std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT at FROM alert_marks WHERE name = ?",
                                             store::params(name)));
  if (!row) return std::optional<SysTime>();
  return std::optional<SysTime>(from_unix(row->int64(0)));
}

Status AlertStore::set_mark(store::Transaction& tx, std::string_view name, SysTime at) const {
  // Never backwards: a replica with an older view must not make the next one read again.
  return tx.execute(
      "INSERT INTO alert_marks (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = "
      "CASE WHEN excluded.at > alert_marks.at THEN excluded.at ELSE alert_marks.at END",
      store::params(name, to_unix(at)));
}

}  // namespace certward::lifecycle::alerts
