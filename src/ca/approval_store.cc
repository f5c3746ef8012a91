#include "ca/approval_store.h"

#include <openssl/x509.h>

#include <array>
#include <charconv>

#include "store/schema.h"
#include "x509/names.h"

namespace certward::ca::approval_detail {
namespace {

using nlohmann::json;

constexpr std::array<store::Migration, 2> kMigrations = {{
    {1, "approval_requests",
     R"sql(
CREATE TABLE approval_requests (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  profile TEXT NOT NULL,
  team TEXT,
  requester TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_by TEXT,
  decided_at BIGINT,
  reason TEXT,
  certificate TEXT,
  request TEXT NOT NULL,
  csr BLOB NOT NULL
);
CREATE INDEX approval_requests_created ON approval_requests (created_at, id);
CREATE INDEX approval_requests_team ON approval_requests (team, created_at, id);
)sql"},
    {2, "approval_claims",
     // Who is approving a request now, across replicas: the loser of two concurrent approvals
     // is refused before it signs (claim()).
     R"sql(
ALTER TABLE approval_requests ADD COLUMN claimed_by TEXT;
ALTER TABLE approval_requests ADD COLUMN claimed_until BIGINT;
)sql"},
}};

constexpr std::string_view kColumns =
    "id, status, profile, team, requester, requested_by, created_at, expires_at, decided_by, "
    "decided_at, reason, certificate, request, csr";

// Stored statuses; kExpired is derived.
std::string_view stored_name(ApprovalStatus s) { return approval_status_name(s); }

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::optional<std::string> optional_string(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<std::string>();
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array()) {
    for (const auto& v : j[key]) out.push_back(v.get<std::string>());
  }
  return out;
}

Channel parse_channel(std::string_view name) {
  for (Channel c : {Channel::kCli, Channel::kRest, Channel::kAcme, Channel::kEst, Channel::kScep,
                    Channel::kCmp, Channel::kRenewal, Channel::kDashboard, Channel::kSystem}) {
    if (channel_name(c) == name) return c;
  }
  return Channel::kRest;
}

// What of the request and its requester the row keeps besides its columns.
json request_json(const EnrollmentRequest& r) {
  json key = nullptr;
  if (!r.csr && r.public_key) {
    // A CRMF request (CMP) has no CSR: its key, whose possession the front-end has checked.
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(r.public_key.get(), &der);
    if (n > 0) key = to_base64(std::span<const std::uint8_t>(der, static_cast<std::size_t>(n)));
    OPENSSL_free(der);
  }
  json sans = json::array();
  for (const auto& s : r.sans) sans.push_back(x509::format_san(s));
  json scope = nullptr;
  if (r.requester.scope) {
    scope = {{"profiles", r.requester.scope->profiles},
             {"domains", r.requester.scope->domains},
             {"authorities", r.requester.scope->authorities}};
  }
  return {{"common_name", optional_json(r.common_name)},
          {"sans", std::move(sans)},
          {"authority", optional_json(r.authority)},
          {"validity", r.validity ? json(r.validity->count()) : json(nullptr)},
          {"owner", optional_json(r.owner)},
          {"team", optional_json(r.team)},
          {"tags", r.tags},
          {"channel", channel_name(r.channel)},
          {"public_key", std::move(key)},
          {"requester",
           {{"actor", r.requester.actor},
            {"principal", r.requester.principal},
            {"team", optional_json(r.requester.team)},
            {"scope", std::move(scope)}}}};
}

EnrollmentRequest request_from(const json& j) {
  EnrollmentRequest r;
  r.common_name = optional_string(j, "common_name");
  for (const auto& text : strings(j, "sans")) {
    if (auto san = x509::parse_formatted_san(text)) r.sans.push_back(*san);
  }
  r.authority = optional_string(j, "authority");
  if (j.contains("validity") && j["validity"].is_number_integer()) {
    r.validity = std::chrono::seconds(j["validity"].get<std::int64_t>());
  }
  r.owner = optional_string(j, "owner");
  r.team = optional_string(j, "team");
  r.tags = strings(j, "tags");
  r.channel = parse_channel(j.value("channel", "rest"));
  const json& who = j.at("requester");
  r.requester.actor = who.value("actor", "");
  r.requester.principal = who.value("principal", "");
  r.requester.team = optional_string(who, "team");
  if (who.contains("scope") && who["scope"].is_object()) {
    r.requester.scope = Scope{strings(who["scope"], "profiles"), strings(who["scope"], "domains"),
                              strings(who["scope"], "authorities")};
  }
  return r;
}

std::string csr_pem(const Bytes& der) {
  const std::string b64 = to_base64(der);
  std::string out = "-----BEGIN CERTIFICATE REQUEST-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE REQUEST-----\n";
}

Result<Held> from_row(const store::Row& row, SysTime now) {
  Held h;
  ApprovalRequest& v = h.view;
  v.id = row.text(0);
  CW_ASSIGN_OR_RETURN(v.status, parse_approval_status(row.text(1)));
  v.profile = row.text(2);
  v.team = row.optional_text(3);
  v.requester = row.text(4);
  v.requested_by = row.text(5);
  v.created_at = from_unix(row.int64(6));
  v.expires_at = from_unix(row.int64(7));
  if (v.status == ApprovalStatus::kPending && v.expires_at <= now) {
    v.status = ApprovalStatus::kExpired;
  }
  v.decided_by = row.optional_text(8);
  if (auto t = row.optional_int64(9)) v.decided_at = from_unix(*t);
  v.reason = row.optional_text(10);
  v.certificate = row.optional_text(11);
  const json spec = json::parse(row.text(12), nullptr, false);
  if (spec.is_discarded() || !spec.is_object() || !spec.contains("requester")) {
    return fail(ErrorCode::kInternal, "approval request " + v.id + " has an unreadable row");
  }
  try {
    h.request = request_from(spec);
  } catch (const json::exception& e) {
    return fail(ErrorCode::kInternal, "approval request " + v.id + ": " + e.what());
  }
  h.request.profile = v.profile;
  if (!row.blob(13).empty()) {
    CW_ASSIGN_OR_RETURN(auto csr, x509::parse_csr(row.blob(13)));
    h.request.csr = csr;
    v.csr_pem = csr_pem(row.blob(13));
    v.subject = csr.info().subject;
    v.key = csr.info().key.name();
  } else {
    // A request without a CSR (CMP's CRMF) keeps its key; approvers read the names asked for.
    auto key = from_base64(spec.value("public_key", ""));
    const unsigned char* p = key ? key->data() : nullptr;
    EVP_PKEY* pkey = key ? d2i_PUBKEY(nullptr, &p, static_cast<long>(key->size())) : nullptr;
    if (pkey == nullptr)
      return fail(ErrorCode::kInternal, "approval request " + v.id + " has no readable key");
    h.request.public_key = std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
    v.subject = h.request.common_name ? "CN=" + *h.request.common_name : "";
    v.key = crypto::describe_key(pkey).name();
  }
  v.authority = h.request.authority;
  v.owner = h.request.owner;
  v.tags = h.request.tags;
  v.common_name = h.request.common_name;
  for (const auto& s : h.request.sans) v.sans.push_back(x509::format_san(s));
  v.validity = h.request.validity;
  v.channel = std::string(channel_name(h.request.channel));
  return h;
}

// "<created_at>.<id>" of the last item of a page.
std::string cursor_of(const ApprovalRequest& r) {
  return std::to_string(to_unix(r.created_at)) + "." + r.id;
}

Result<std::pair<std::int64_t, std::string>> parse_cursor(std::string_view c) {
  const auto dot = c.find('.');
  std::int64_t t = 0;
  if (dot == std::string_view::npos || c.size() > 64) {
    return fail(ErrorCode::kInvalidArgument, "bad cursor");
  }
  auto [end, ec] = std::from_chars(c.data(), c.data() + dot, t);
  if (ec != std::errc() || end != c.data() + dot) {
    return fail(ErrorCode::kInvalidArgument, "bad cursor");
  }
  return std::pair{t, std::string(c.substr(dot + 1))};
}

}  // namespace

const store::SchemaModule kSchema{"approvals", kMigrations};

Status migrate(store::Database& db) { return db.migrate("approvals", kMigrations); }

Status insert(store::Transaction& tx, const ApprovalRequest& v, const EnrollmentRequest& r) {
  return tx.execute(
      "INSERT INTO approval_requests (" + std::string(kColumns) +
          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?)",
      store::params(v.id, stored_name(ApprovalStatus::kPending), v.profile, v.team, v.requester,
                    v.requested_by, to_unix(v.created_at), to_unix(v.expires_at),
                    request_json(r).dump(-1, ' ', false, json::error_handler_t::replace),
                    r.csr ? r.csr->der() : Bytes{}));
}

Result<std::optional<Held>> find(store::Transaction& tx, std::string_view id, SysTime now) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kColumns) +
                                                 " FROM approval_requests WHERE id = ?",
                                             store::params(id)));
  if (!row) return std::optional<Held>();
  CW_ASSIGN_OR_RETURN(auto held, from_row(*row, now));
  return std::optional<Held>(std::move(held));
}

Result<ApprovalPage> list(store::Transaction& tx, const ApprovalFilter& f,
                          const std::optional<std::string>& team, SysTime now) {
  if (f.limit < 1 || f.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM approval_requests WHERE 1 = 1";
  std::vector<store::Value> params;
  if (f.status) {
    const bool expired = *f.status == ApprovalStatus::kExpired;
    sql += " AND status = ?";
    params.emplace_back(std::string(stored_name(expired ? ApprovalStatus::kPending : *f.status)));
    if (expired) sql += " AND expires_at <= ?";
    if (*f.status == ApprovalStatus::kPending) sql += " AND expires_at > ?";
    if (expired || *f.status == ApprovalStatus::kPending) params.emplace_back(to_unix(now));
  }
  if (team) {
    if (team->empty()) {
      sql += " AND team IS NULL";
    } else {
      sql += " AND team = ?";
      params.emplace_back(*team);
    }
  }
  if (f.cursor) {
    CW_ASSIGN_OR_RETURN(auto after, parse_cursor(*f.cursor));
    sql += " AND (created_at < ? OR (created_at = ? AND id < ?))";
    params.emplace_back(after.first);
    params.emplace_back(after.first);
    params.emplace_back(std::move(after.second));
  }
  sql += " ORDER BY created_at DESC, id DESC LIMIT " + std::to_string(f.limit + 1);
  CW_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
  ApprovalPage page;
  for (const auto& row : rows) {
    if (page.items.size() == static_cast<std::size_t>(f.limit)) {
      page.next_cursor = cursor_of(page.items.back());
      break;
    }
    CW_ASSIGN_OR_RETURN(auto held, from_row(row, now));
    page.items.push_back(std::move(held.view));
  }
  return page;
}

Result<bool> transition(store::Transaction& tx, std::string_view id, ApprovalStatus to,
                        std::string_view actor, SysTime now,
                        const std::optional<std::string>& reason,
                        const std::optional<std::string>& certificate) {
  CW_ASSIGN_OR_RETURN(
      auto n,
      tx.execute_count("UPDATE approval_requests SET status = ?, decided_by = ?, "
                       "decided_at = ?, reason = ?, certificate = ? "
                       "WHERE id = ? AND status = ? AND expires_at > ?",
                       store::params(stored_name(to), actor, to_unix(now), reason, certificate, id,
                                     stored_name(ApprovalStatus::kPending), to_unix(now))));
  return n == 1;
}

Result<bool> claim(store::Transaction& tx, std::string_view id, std::string_view token,
                   SysTime now, SysTime until) {
  CW_ASSIGN_OR_RETURN(
      auto n, tx.execute_count("UPDATE approval_requests SET claimed_by = ?, claimed_until = ? "
                               "WHERE id = ? AND status = ? AND expires_at > ? AND "
                               "(claimed_until IS NULL OR claimed_until <= ?)",
                               store::params(token, to_unix(until), id,
                                             stored_name(ApprovalStatus::kPending), to_unix(now),
                                             to_unix(now))));
  return n == 1;
}

Status release_claim(store::Transaction& tx, std::string_view id, std::string_view token) {
  return tx.execute(
      "UPDATE approval_requests SET claimed_by = NULL, claimed_until = NULL "
      "WHERE id = ? AND claimed_by = ?",
      store::params(id, token));
}

}  // namespace certward::ca::approval_detail
