// The inventory's side of revocation: which certificates a revocation may touch, marking them,
// and the entries of an authority's CRL. The decisions (who may revoke what) and the audit
// events belong to the revocation service in src/ca.

#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "inventory/internal.h"

namespace certward::inventory {

namespace internal {

std::string key_sha256(const x509::Certificate& cert) { return cert.info().spki_sha256_hex; }

}  // namespace internal

Result<std::vector<RevocationTarget>> Inventory::revocable(store::Transaction& tx,
                                                           const Filter& filter, std::size_t max,
                                                           std::int64_t* total) const {
  std::string where =
      " FROM certificates WHERE authority IS NOT NULL AND origin = 'issued' AND revoked_at IS NULL "
      "AND is_ca = 0";
  std::vector<store::Value> params;
  internal::append_filter(filter, db_.dialect(), clock_.now(), where, params);
  if (total) {
    CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT COUNT(*)" + where, params));
    *total = row ? row->int64(0) : 0;
  }
  // Locked, so that a concurrent revocation or relabel cannot change the set under us.
  CW_ASSIGN_OR_RETURN(
      auto rows, tx.query("SELECT fingerprint, serial, authority, team, is_ca" + where +
                              " ORDER BY fingerprint LIMIT " + std::to_string(max) + " FOR UPDATE",
                          params));
  std::vector<RevocationTarget> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({r.text(0), r.text(1), r.text(2), r.optional_text(3), r.int64(4) != 0});
  }
  return out;
}

Status Inventory::mark_revoked(store::Transaction& tx, std::span<const std::string> fingerprints,
                               const RevocationMark& mark) const {
  const std::int64_t now = to_unix(clock_.now());
  for (const auto& fp : fingerprints) {
    CW_ASSIGN_OR_RETURN(
        std::int64_t n,
        tx.execute_count(
            "UPDATE certificates SET revoked_at = ?, revocation_reason = ?, "
            "invalidity_date = ?, updated_at = ? WHERE fingerprint = ? AND "
            "revoked_at IS NULL",
            store::params(to_unix(mark.revoked_at), mark.reason,
                          mark.invalidity_date ? store::Value(to_unix(*mark.invalidity_date))
                                               : store::Value(nullptr),
                          now, fp)));
    if (n != 1) return fail(ErrorCode::kConflict, "certificate " + fp + " is already revoked");
  }
  return ok();
}

Status Inventory::mark_for_replacement(store::Transaction& tx,
                                       std::span<const std::string> fingerprints,
                                       SysTime replace_by, std::optional<SysTime> revoke_at,
                                       int reason) const {
  const std::int64_t now = to_unix(clock_.now());
  // What was asked before stands: the earliest replacement time, and the earliest scheduled
  // revocation with its reason. A replacement request (no revoke_at) leaves any scheduled
  // revocation as it is; a later schedule never postpones an earlier one.
  for (const auto& fp : fingerprints) {
    if (!revoke_at) {
      CW_RETURN_IF_ERROR(
          tx.execute("UPDATE certificates SET replace_by = COALESCE(replace_by, ?), "
                     "updated_at = ? WHERE fingerprint = ?",
                     store::params(to_unix(replace_by), now, fp)));
      continue;
    }
    const std::int64_t at = to_unix(*revoke_at);
    CW_RETURN_IF_ERROR(tx.execute(
        "UPDATE certificates SET replace_by = COALESCE(replace_by, ?), "
        "scheduled_reason = CASE WHEN revoke_at IS NOT NULL AND revoke_at <= ? "
        "THEN scheduled_reason ELSE ? END, "
        "revoke_at = CASE WHEN revoke_at IS NOT NULL AND revoke_at <= ? THEN revoke_at ELSE ? END, "
        "updated_at = ? WHERE fingerprint = ?",
        store::params(to_unix(replace_by), at, std::int64_t{reason}, at, at, now, fp)));
  }
  return ok();
}

Result<std::vector<std::pair<RevocationTarget, int>>> Inventory::due_revocations(
    store::Transaction& tx, SysTime now, std::size_t max, bool lock) const {
  CW_ASSIGN_OR_RETURN(
      auto rows,
      tx.query("SELECT fingerprint, serial, authority, team, is_ca, scheduled_reason FROM "
               "certificates WHERE revoke_at <= ? AND revoked_at IS NULL ORDER BY revoke_at, "
               "fingerprint LIMIT " +
                   std::to_string(max) + (lock ? " FOR UPDATE" : ""),
               store::params(to_unix(now))));
  std::vector<std::pair<RevocationTarget, int>> out;
  for (const auto& r : rows) {
    out.push_back({{r.text(0), r.text(1), r.text(2), r.optional_text(3), r.int64(4) != 0},
                   static_cast<int>(r.optional_int64(5).value_or(0))});
  }
  return out;
}

Status Inventory::mark_superseded(store::Transaction& tx, std::string_view fingerprint,
                                  std::string_view replacement) const {
  CW_ASSIGN_OR_RETURN(
      std::int64_t n,
      tx.execute_count(
          "UPDATE certificates SET superseded_by = ?, updated_at = ? WHERE "
          "fingerprint = ? AND (superseded_by IS NULL OR superseded_by = ?)",
          store::params(replacement, to_unix(clock_.now()), fingerprint, replacement)));
  if (n == 1) return ok();
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT fingerprint FROM certificates WHERE "
                                             "fingerprint = ?",
                                             store::params(fingerprint)));
  if (!row) return fail(ErrorCode::kNotFound, "no certificate " + std::string(fingerprint));
  return fail(ErrorCode::kConflict,
              "certificate " + std::string(fingerprint) + " is already superseded by another");
}

Result<std::vector<RevokedSerial>> Inventory::revoked_by(
    std::string_view authority, SysTime not_after_from,
    std::optional<SysTime> revoked_since) const {
  std::string sql =
      "SELECT serial, revoked_at, revocation_reason, invalidity_date FROM certificates WHERE "
      "authority = ? AND revoked_at IS NOT NULL AND not_after >= ?";
  std::vector<store::Value> params = {std::string(authority), to_unix(not_after_from)};
  if (revoked_since) {
    sql += " AND revoked_at >= ?";
    params.emplace_back(to_unix(*revoked_since));
  }
  sql += " ORDER BY serial";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<RevokedSerial> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    RevokedSerial e;
    e.serial = r.text(0);
    e.revoked_at = from_unix(r.int64(1));
    e.reason = static_cast<int>(r.optional_int64(2).value_or(0));
    if (!r.is_null(3)) e.invalidity_date = from_unix(r.int64(3));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::int64_t> Inventory::revoked_count(std::string_view authority) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT COUNT(*) FROM certificates WHERE "
                                              "authority = ? AND revoked_at IS NOT NULL",
                                              store::params(authority)));
  return row ? row->int64(0) : 0;
}

Result<std::optional<SerialStatus>> Inventory::serial_status(std::string_view authority,
                                                             std::string_view serial_hex) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(
      auto row,
      tx->query_one("SELECT fingerprint, not_after, revoked_at, revocation_reason, "
                    "invalidity_date FROM certificates WHERE authority = ? AND serial = ?",
                    store::params(authority, serial_hex)));
  if (!row) return std::nullopt;
  SerialStatus s;
  s.fingerprint = row->text(0);
  s.not_after = from_unix(row->int64(1));
  if (!row->is_null(2)) {
    RevocationMark m;
    m.revoked_at = from_unix(row->int64(2));
    m.reason = static_cast<int>(row->optional_int64(3).value_or(0));
    if (!row->is_null(4)) m.invalidity_date = from_unix(row->int64(4));
    s.revocation = m;
  }
  return s;
}

Result<std::vector<RevokedRef>> Inventory::revoked_since(SysTime since, std::size_t max,
                                                         const RevokedRef* after) const {
  std::string sql =
      "SELECT authority, serial, revoked_at, fingerprint FROM certificates WHERE "
      "revoked_at >= ? AND authority IS NOT NULL";
  std::vector<store::Value> params = {to_unix(since)};
  if (after) {
    sql += " AND (revoked_at > ? OR (revoked_at = ? AND fingerprint > ?))";
    params.emplace_back(to_unix(after->revoked_at));
    params.emplace_back(to_unix(after->revoked_at));
    params.emplace_back(after->fingerprint);
  }
  sql += " ORDER BY revoked_at, fingerprint LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(max));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<RevokedRef> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({r.text(0), r.text(1), from_unix(r.int64(2)), r.text(3)});
  }
  return out;
}

Result<bool> Inventory::is_revoked(std::string_view fingerprint) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT revoked_at FROM certificates WHERE fingerprint = ?",
                                    store::params(fingerprint)));
  return row && !row->is_null(0);
}

}  // namespace certward::inventory
