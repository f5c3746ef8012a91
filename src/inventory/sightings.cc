#include "inventory/sightings.h"

#include "crypto/crypto.h"

namespace certward::inventory {

namespace {

constexpr std::string_view kColumns =
    "id, fingerprint, kind, location, details, team, first_seen, last_seen, gone_at";

Sighting to_sighting(const store::Row& r) {
  Sighting s;
  s.id = r.text(0);
  s.fingerprint = r.text(1);
  s.kind = r.text(2);
  s.location = r.text(3);
  s.details = nlohmann::json::parse(r.text(4), nullptr, /*allow_exceptions=*/false);
  if (s.details.is_discarded()) s.details = nlohmann::json::object();
  s.team = r.optional_text(5);
  s.first_seen = from_unix(r.int64(6));
  s.last_seen = from_unix(r.int64(7));
  if (!r.is_null(8)) s.gone_at = from_unix(r.int64(8));
  return s;
}

std::vector<Sighting> to_sightings(const store::Rows& rows) {
  std::vector<Sighting> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out.push_back(to_sighting(rows[i]));
  return out;
}

store::Value opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return nullptr;
}

}  // namespace

Result<SeenAs> Sightings::seen(store::Transaction& tx, std::string_view kind,
                               std::string_view location, std::string_view fingerprint,
                               const nlohmann::json& details,
                               const std::optional<std::string>& team) const {
  if (kind.empty() || location.empty()) {
    return fail(ErrorCode::kInvalidArgument, "a sighting needs a kind and a location");
  }
  const std::int64_t now = to_unix(clock_.now());
  const std::string text = details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  CW_ASSIGN_OR_RETURN(
      auto row, tx.query_one("SELECT id, gone_at FROM sightings WHERE kind = ? AND location = ? "
                             "AND fingerprint = ?",
                             store::params(std::string(kind), std::string(location),
                                           std::string(fingerprint))));
  if (!row) {
    CW_RETURN_IF_ERROR(tx.execute(
        "INSERT INTO sightings (id, fingerprint, kind, location, details, team, first_seen, "
        "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        store::params(to_hex(crypto::random_bytes(16)), std::string(fingerprint), std::string(kind),
                      std::string(location), text, opt(team), now, now)));
    return SeenAs::kNew;
  }
  const bool was_gone = !row->is_null(1);
  CW_RETURN_IF_ERROR(tx.execute(
      "UPDATE sightings SET details = ?, team = ?, last_seen = ?, gone_at = NULL WHERE id = ?",
      store::params(text, opt(team), now, row->text(0))));
  return was_gone ? SeenAs::kReturned : SeenAs::kStill;
}

Result<std::vector<Sighting>> Sightings::active_at(store::Transaction& tx, std::string_view kind,
                                                   std::span<const std::string> locations) const {
  std::vector<Sighting> out;
  // In slices: a parameter list has limits on both drivers.
  constexpr std::size_t kSlice = 200;
  for (std::size_t at = 0; at < locations.size(); at += kSlice) {
    const auto slice = locations.subspan(at, std::min(kSlice, locations.size() - at));
    std::string sql = "SELECT " + std::string(kColumns) +
                      " FROM sightings WHERE gone_at IS NULL AND kind = ? AND location IN (";
    std::vector<store::Value> params{std::string(kind)};
    for (std::size_t i = 0; i < slice.size(); ++i) {
      sql += i ? ", ?" : "?";
      params.emplace_back(slice[i]);
    }
    sql += ")";
    CW_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
    for (auto& s : to_sightings(rows)) out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<Sighting>> Sightings::active_under(store::Transaction& tx, std::string_view kind,
                                                      std::string_view prefix) const {
  // substr() rather than LIKE: a path may hold LIKE's wildcards, and both drivers compare the
  // bytes exactly.
  CW_ASSIGN_OR_RETURN(
      auto rows, tx.query("SELECT " + std::string(kColumns) +
                              " FROM sightings WHERE gone_at IS NULL AND kind = ? AND "
                              "substr(location, 1, CAST(? AS INTEGER)) = ?",
                          store::params(std::string(kind), static_cast<std::int64_t>(prefix.size()),
                                        std::string(prefix))));
  return to_sightings(rows);
}

Result<std::vector<PlaceChange>> Sightings::first_seen_since(
    store::Transaction& tx, std::string_view kind, SysTime since,
    const std::optional<std::pair<SysTime, std::string>>& after, int limit) const {
  if (limit < 1 || limit > 1000) return fail(ErrorCode::kInvalidArgument, "limit must be 1..1000");
  // Columns qualified: the previous certificate is read from the same table.
  std::string sql =
      "SELECT s.id, s.fingerprint, s.kind, s.location, s.details, s.team, s.first_seen, "
      "s.last_seen, s.gone_at, (SELECT p.fingerprint FROM sightings p WHERE p.kind = s.kind AND "
      "p.location = s.location AND p.fingerprint <> s.fingerprint AND p.first_seen <= "
      "s.first_seen ORDER BY p.last_seen DESC, p.id LIMIT 1) FROM sightings s WHERE s.kind = ? "
      "AND s.first_seen >= ?";
  std::vector<store::Value> params{std::string(kind), to_unix(since)};
  if (after) {
    sql += " AND (s.first_seen > ? OR (s.first_seen = ? AND s.id > ?))";
    params.emplace_back(to_unix(after->first));
    params.emplace_back(to_unix(after->first));
    params.emplace_back(after->second);
  }
  sql += " ORDER BY s.first_seen, s.id LIMIT " + std::to_string(limit);
  CW_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
  std::vector<PlaceChange> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.push_back(PlaceChange{.sighting = to_sighting(rows[i]),
                              .previous = rows[i].optional_text(9)});
  }
  return out;
}

Status Sightings::mark_gone(store::Transaction& tx, std::span<const std::string> ids) const {
  const std::int64_t now = to_unix(clock_.now());
  for (const std::string& id : ids) {
    CW_RETURN_IF_ERROR(
        tx.execute("UPDATE sightings SET gone_at = ? WHERE id = ? AND gone_at IS NULL",
                   store::params(now, id)));
  }
  return ok();
}

Result<bool> Sightings::record_ssh_key(store::Transaction& tx, const SshKeyRecord& key) const {
  if (key.fingerprint.empty() || key.type.empty()) {
    return fail(ErrorCode::kInvalidArgument, "an SSH key needs a fingerprint and a type");
  }
  CW_ASSIGN_OR_RETURN(
      auto n,
      tx.execute_count(
          "INSERT INTO ssh_keys (fingerprint, type, bits, blob, certificate, first_seen) "
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
          store::params(key.fingerprint, key.type, static_cast<std::int64_t>(key.bits), key.blob,
                        key.certificate.is_null() ? store::Value(nullptr)
                                                  : store::Value(key.certificate.dump()),
                        to_unix(clock_.now()))));
  return n == 1;
}

Result<std::optional<SshKeyRecord>> Sightings::ssh_key(std::string_view fingerprint) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT fingerprint, type, bits, blob, certificate, "
                                              "first_seen FROM ssh_keys WHERE fingerprint = ?",
                                              store::params(std::string(fingerprint))));
  if (!row) return std::optional<SshKeyRecord>();
  SshKeyRecord k{.fingerprint = row->text(0),
                 .type = row->text(1),
                 .bits = static_cast<int>(row->int64(2)),
                 .blob = row->blob(3),
                 .certificate = nullptr,
                 .first_seen = from_unix(row->int64(5))};
  if (auto cert = row->optional_text(4)) {
    k.certificate = nlohmann::json::parse(*cert, nullptr, false);
    if (k.certificate.is_discarded()) k.certificate = nullptr;
  }
  return std::optional<SshKeyRecord>(std::move(k));
}

Result<std::vector<Sightings::SshKeySummary>> Sightings::ssh_keys_after(
    std::string_view after, int limit, const std::optional<std::string>& team) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql =
      "SELECT k.fingerprint, k.type, k.bits, k.first_seen, (SELECT MIN(s.team) FROM sightings s "
      "WHERE s.fingerprint = k.fingerprint) FROM ssh_keys k WHERE k.fingerprint > ?";
  std::vector<store::Value> params{std::string(after)};
  if (team) {
    sql += " AND EXISTS (SELECT 1 FROM sightings s WHERE s.fingerprint = k.fingerprint AND "
           "s.team = ?)";
    params.emplace_back(*team);
  }
  sql += " ORDER BY k.fingerprint LIMIT " + std::to_string(limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<SshKeySummary> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    SshKeySummary k;
    k.key.fingerprint = r.text(0);
    k.key.type = r.text(1);
    k.key.bits = static_cast<int>(r.int64(2));
    k.key.certificate = nullptr;
    k.key.first_seen = from_unix(r.int64(3));
    if (team) {
      k.team = *team;
    } else {
      k.team = r.optional_text(4);
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::vector<Sighting>> Sightings::list(const SightingFilter& filter, int limit) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM sightings WHERE 1 = 1";
  std::vector<store::Value> params;
  if (filter.fingerprint) {
    sql += " AND fingerprint = ?";
    params.emplace_back(*filter.fingerprint);
  }
  if (filter.kind) {
    sql += " AND kind = ?";
    params.emplace_back(*filter.kind);
  }
  if (filter.location_prefix) {
    sql += " AND substr(location, 1, CAST(? AS INTEGER)) = ?";
    params.emplace_back(static_cast<std::int64_t>(filter.location_prefix->size()));
    params.emplace_back(*filter.location_prefix);
  }
  if (filter.team) {
    sql += " AND team = ?";
    params.emplace_back(*filter.team);
  }
  if (filter.active_only) sql += " AND gone_at IS NULL";
  sql += " ORDER BY last_seen DESC, id LIMIT " + std::to_string(limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  return to_sightings(rows);
}

}  // namespace certward::inventory
