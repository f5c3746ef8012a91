#include <fmt/format.h>

#include "inventory/internal.h"

namespace certward::inventory {
namespace {

// The status rule: the first condition that holds, in this order, names a certificate's
// status. Each is written three ways, kept side by side: as SQL that holds, as SQL that fails
// (so that filters can use the not_after index instead of NOT (...)), and as C++.
struct Moment {
  SysTime now;
  SysTime soon;  // now + the expiring window
};
enum class Param : std::uint8_t { kNone, kNow, kSoon };
struct StatusRule {
  CertStatus status;
  std::string_view holds;
  std::string_view fails;
  Param param;
  bool (*test)(const CertificateRecord&, const Moment&);
};

constexpr StatusRule kRules[] = {
    {CertStatus::kRevoked, "revoked_at IS NOT NULL", "revoked_at IS NULL", Param::kNone,
     [](const CertificateRecord& c, const Moment&) { return c.revoked_at.has_value(); }},
    {CertStatus::kExpired, "not_after <= ?", "not_after > ?", Param::kNow,
     [](const CertificateRecord& c, const Moment& m) { return c.not_after <= m.now; }},
    {CertStatus::kSuperseded, "superseded_by IS NOT NULL", "superseded_by IS NULL", Param::kNone,
     [](const CertificateRecord& c, const Moment&) { return c.superseded_by.has_value(); }},
    {CertStatus::kNotYetValid, "not_before > ?", "not_before <= ?", Param::kNow,
     [](const CertificateRecord& c, const Moment& m) { return c.not_before > m.now; }},
    {CertStatus::kExpiring, "not_after <= ?", "not_after > ?", Param::kSoon,
     [](const CertificateRecord& c, const Moment& m) { return c.not_after <= m.soon; }},
    {CertStatus::kValid, "1 = 1", "1 = 0", Param::kNone,
     [](const CertificateRecord&, const Moment&) { return true; }},
};

void add_param(const StatusRule& rule, SysTime now, SysTime soon,
               std::vector<store::Value>& params) {
  if (rule.param == Param::kNow) params.emplace_back(to_unix(now));
  if (rule.param == Param::kSoon) params.emplace_back(to_unix(soon));
}

SysTime soon_after(SysTime now) { return now + kDefaultExpiringWindow; }

}  // namespace

CertStatus CertificateRecord::status(SysTime now, std::chrono::seconds window) const {
  const Moment m{now, now + window};
  for (const StatusRule& rule : kRules)
    if (rule.test(*this, m)) return rule.status;
  return CertStatus::kValid;
}

namespace internal {

void append_status_filter(CertStatus status, SysTime now, std::string& sql,
                          std::vector<store::Value>& params) {
  const SysTime soon = soon_after(now);
  for (const StatusRule& rule : kRules) {
    sql += " AND ";
    if (rule.status == status) {
      sql += rule.holds;
      add_param(rule, now, soon, params);
      return;
    }
    sql += rule.fails;
    add_param(rule, now, soon, params);
  }
}

}  // namespace internal

Result<std::map<CertStatus, std::int64_t>> Inventory::status_counts() const {
  const SysTime now = clock_.now();
  const SysTime soon = soon_after(now);
  std::string sql = "SELECT CASE";
  std::vector<store::Value> params;
  for (std::size_t i = 0; i < std::size(kRules); ++i) {
    sql += fmt::format(" WHEN {} THEN {}", kRules[i].holds, i);
    add_param(kRules[i], now, soon, params);
  }
  sql += " END AS s, COUNT(*) FROM certificates GROUP BY s";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::map<CertStatus, std::int64_t> out;
  for (const StatusRule& rule : kRules) out[rule.status] = 0;
  for (const auto& row : rows) {
    const auto i = static_cast<std::size_t>(row.int64(0));
    if (i < std::size(kRules)) out[kRules[i].status] = row.int64(1);
  }
  return out;
}

Result<std::vector<std::int64_t>> Inventory::expiry_histogram(
    std::span<const std::chrono::seconds> bounds) const {
  const std::int64_t now = to_unix(clock_.now());
  std::string sql = "SELECT COUNT(*)";
  std::vector<store::Value> params;
  for (const auto bound : bounds) {
    sql += ", SUM(CASE WHEN not_after <= ? THEN 1 ELSE 0 END)";
    params.emplace_back(now + bound.count());
  }
  sql += " FROM certificates WHERE revoked_at IS NULL AND not_after > ?";
  params.emplace_back(now);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one(sql, params));
  std::vector<std::int64_t> out;
  if (!row) return out;
  for (std::size_t i = 0; i <= bounds.size(); ++i)
    out.push_back(row->optional_int64(i).value_or(0));
  return out;
}

}  // namespace certward::inventory
