#include "auth/auth.h"

#include <algorithm>
#include <array>

#include "auth/validate.h"
#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::auth {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kDefaultTokenTtl = 90 * 24h;
constexpr std::chrono::seconds kMaxTokenTtl = 2 * 365 * 24h;
constexpr std::size_t kMaxDescription = 1024;
// Positive cache entries are bounded by the number of live tokens in use; past this many,
// expired entries are dropped, and if that is not enough the cache starts over.
constexpr std::size_t kCacheMaxEntries = 10'000;
constexpr std::string_view kBootstrapPrincipal = "admin";

constexpr store::Migration kMigrations[] = {
    {1, "teams_principals_tokens",
     R"sql(
CREATE TABLE teams (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  allowed_profiles TEXT NOT NULL,
  allowed_domains TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE principals (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  team TEXT REFERENCES teams (name),
  disabled INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT UNIQUE NOT NULL,
  principal TEXT NOT NULL REFERENCES principals (name),
  role TEXT NOT NULL,
  team TEXT REFERENCES teams (name),
  description TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX tokens_principal ON tokens (principal);
CREATE TABLE cert_mappings (
  fingerprint TEXT PRIMARY KEY,
  principal TEXT NOT NULL REFERENCES principals (name),
  created_at BIGINT NOT NULL
);
CREATE INDEX cert_mappings_principal ON cert_mappings (principal);
)sql"},
    {2, "team_authorities",
     R"sql(
ALTER TABLE teams ADD COLUMN allowed_authorities TEXT NOT NULL DEFAULT '';
)sql"},
};

// The role matrix (docs/api.md). Each role is a fixed set of permissions:
//
//   permission          admin  operator  requester  auditor
//   kReadCatalog          x       x          x         x
//   kReadInventory        x       x          x         x
//   kIssue                x       x          x
//   kImport               x       x
//   kManageAuthorities    x       x
//   kReadAudit            x       x                    x
//   kReadPrincipals       x       x                    x
//   kManagePrincipals     x
//   kEditInventory        x       x          x
//   kRevoke               x       x          x
//   kScan                 x       x
//   kReportDiscovery      x       x                               x (agent)
//   kManage               x       x          x
//   kCampaign             x       x
//   kReceiveDeployments                                           x (agent)
//   kReadPolicy           x       x                    x
//   kManagePolicy         x
//   kApproveRequests      x                                       x (approver)
//
// An agent (role "agent") has kReportDiscovery and kReceiveDeployments (its own deployments
// only) and nothing else: its token lives on a host certward does not control. No other role
// receives deployments: a deployment's key goes to the agent it names and to no one else.
//
// A requester's kReadInventory, kIssue, kEditInventory, kRevoke and kManage are further limited
// to its team: its issuance scope (Identity::scope) is enforced by the RA, its revocations by the
// revocation service, the rest by the callers.
//
// kApproveRequests belongs to admin and approver: approving is a decision apart from
// operating the CA. An approver (role "approver", always in a team) reads its team's inventory
// and approval requests and decides them; it issues nothing itself.
constexpr std::size_t kPermissionCount = 18;
constexpr std::array<std::array<bool, kPermissionCount>, 6> kMatrix = {{
    // catalog inventory issue import authorities audit r.princ m.princ edit revoke scan report
    // manage campaign deployments r.policy m.policy approve
    {true, true, true, true, true, true, true, true, true, true, true, true, true, true, false,
     true, true, true},  // admin
    {true, true, true, true, true, true, true, false, true, true, true, true, true, true, false,
     true, false, false},  // operator
    {true, true, true, false, false, false, false, false, true, true, false, false, true, false,
     false, false, false, false},  // requester
    {true, true, false, false, false, true, true, false, false, false, false, false, false, false,
     false, true, false, false},  // auditor
    {false, false, false, false, false, false, false, false, false, false, false, true, false,
     false, true, false, false, false},  // agent
    {true, true, false, false, false, false, false, false, false, false, false, false, false, false,
     false, false, false, true},  // approver
}};

// True if a token of role `token` stays within what `principal` may do. admin > operator >
// requester; auditor is its own branch, below admin only.
bool role_within(Role token, Role principal) {
  switch (principal) {
    case Role::kAdmin:
      return true;
    case Role::kOperator:
      return token == Role::kOperator || token == Role::kRequester;
    case Role::kRequester:
      return token == Role::kRequester;
    case Role::kAuditor:
      return token == Role::kAuditor;
    case Role::kAgent:
      return token == Role::kAgent;
    case Role::kApprover:
      return token == Role::kApprover;
  }
  return false;
}

std::unexpected<Error> unauthorized() {
  return fail(ErrorCode::kUnauthorized, "authentication failed");
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t nl = s.find('\n');
    const std::string_view line = s.substr(0, nl);
    if (!line.empty()) out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

nlohmann::json optional_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string token_hash(std::string_view token) { return to_hex(crypto::sha256(as_bytes(token))); }

Status check_description(std::string_view d) {
  if (d.size() > kMaxDescription) {
    return fail(ErrorCode::kInvalidArgument, "description is longer than 1024 characters");
  }
  return ok();
}

Result<Team> team_from_row(const store::Row& r) {
  Team t;
  t.name = r.text(0);
  t.description = r.text(1);
  t.allowed_profiles = split_lines(r.text(2));
  t.allowed_domains = split_lines(r.text(3));
  t.created_at = from_unix(r.int64(4));
  t.allowed_authorities = split_lines(r.text(5));
  return t;
}
constexpr std::string_view kTeamColumns =
    "name, description, allowed_profiles, allowed_domains, created_at, allowed_authorities";

Result<Principal> principal_from_row(const store::Row& r) {
  Principal p;
  p.name = r.text(0);
  CW_ASSIGN_OR_RETURN(p.role, parse_role(r.text(1)));
  p.team = r.optional_text(2);
  p.disabled = r.int64(3) != 0;
  p.created_at = from_unix(r.int64(4));
  return p;
}
constexpr std::string_view kPrincipalColumns = "name, role, team, disabled, created_at";

Result<TokenInfo> token_from_row(const store::Row& r) {
  TokenInfo t;
  t.id = r.text(0);
  t.principal = r.text(1);
  CW_ASSIGN_OR_RETURN(t.role, parse_role(r.text(2)));
  t.team = r.optional_text(3);
  t.description = r.text(4);
  t.created_at = from_unix(r.int64(5));
  if (auto e = r.optional_int64(6)) t.expires_at = from_unix(*e);
  if (auto v = r.optional_int64(7)) t.revoked_at = from_unix(*v);
  return t;
}
constexpr std::string_view kTokenColumns =
    "id, principal, role, team, description, created_at, expires_at, revoked_at";

enum class RowLock { kNone, kForUpdate };

// kForUpdate holds the row until the transaction ends, for callers that decide on what they
// read (a disabled principal gets no token) and must not race a concurrent change of it.
Result<std::optional<Principal>> find_principal(store::Transaction& tx, std::string_view name,
                                                RowLock lock = RowLock::kNone) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kPrincipalColumns) +
                                                 " FROM principals WHERE name = ?" +
                                                 (lock == RowLock::kForUpdate ? " FOR UPDATE" : ""),
                                             store::params(name)));
  if (!row) return std::optional<Principal>();
  CW_ASSIGN_OR_RETURN(auto p, principal_from_row(*row));
  return std::optional<Principal>(std::move(p));
}

Result<bool> team_exists(store::Transaction& tx, std::string_view name) {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT name FROM teams WHERE name = ?", store::params(name)));
  return row.has_value();
}

// A team's grant as an issuance scope; nullopt when there is no such team.
Result<std::optional<ca::Scope>> team_grant(store::Transaction& tx, std::string_view team) {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT allowed_profiles, allowed_domains, allowed_authorities "
                                   "FROM teams WHERE name = ?",
                                   store::params(team)));
  if (!row) return std::optional<ca::Scope>();
  return std::optional<ca::Scope>(ca::Scope{.profiles = split_lines(row->text(0)),
                                            .domains = split_lines(row->text(1)),
                                            .authorities = split_lines(row->text(2))});
}

// Builds the identity of a caller acting as `p` with `role`; a requester's issuance scope
// comes from `team` (none: an empty scope, so it can issue nothing).
Result<Identity> identity_in(store::Transaction& tx, const Principal& p, Role role,
                             std::optional<std::string> team, std::optional<std::string> token_id,
                             std::string actor) {
  Identity id;
  id.principal = p.name;
  id.role = role;
  id.team = std::move(team);
  id.token_id = std::move(token_id);
  id.actor = std::move(actor);
  if (role == Role::kRequester || role == Role::kApprover) {
    id.scope.emplace();
    if (id.team) {
      CW_ASSIGN_OR_RETURN(auto grant, team_grant(tx, *id.team));
      if (grant) id.scope = std::move(*grant);
    }
  }
  return id;
}

// Inserts a fresh token for `principal` and audits it, inside `tx`. The caller has checked
// the role and team.
Result<NewToken> insert_token(store::Transaction& tx, const audit::AuditLog& audit, SysTime now,
                              const Principal& principal, Role role,
                              std::optional<std::string> team, std::string description,
                              std::optional<SysTime> expires_at, std::string_view actor) {
  NewToken out;
  out.info.id = to_hex(crypto::random_bytes(8));
  out.info.principal = principal.name;
  out.info.role = role;
  out.info.team = std::move(team);
  out.info.description = std::move(description);
  out.info.created_at = now;
  out.info.expires_at = expires_at;
  out.secret = std::string(detail::kTokenPrefix) + out.info.id + "_" +
               to_base64url(crypto::random_bytes(32));
  CW_CHECK(detail::well_formed_token(out.secret));

  std::optional<std::int64_t> expires_unix;
  if (expires_at) expires_unix = to_unix(*expires_at);
  CW_RETURN_IF_ERROR(tx.execute(
      "INSERT INTO tokens (id, hash, principal, role, team, description, created_at, "
      "expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
      store::params(out.info.id, token_hash(out.secret), out.info.principal, role_name(role),
                    out.info.team, out.info.description, to_unix(now), expires_unix)));

  audit::Event e;
  e.actor = std::string(actor);
  e.action = "token.create";
  e.target_type = "token";
  e.target_id = out.info.id;
  e.details = {{"id", out.info.id},
               {"principal", out.info.principal},
               {"role", std::string(role_name(role))},
               {"team", optional_json(out.info.team)},
               {"expires_at",
                expires_at ? nlohmann::json(format_time(*expires_at)) : nlohmann::json(nullptr)}};
  CW_RETURN_IF_ERROR(audit.append(tx, e));
  return out;
}

audit::Event principal_event(std::string_view actor, const Principal& p) {
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "principal.create";
  e.target_type = "principal";
  e.target_id = p.name;
  e.details = {{"role", std::string(role_name(p.role))},
               {"team", optional_json(p.team)},
               {"disabled", p.disabled}};
  return e;
}

}  // namespace

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kRequester:
      return "requester";
    case Role::kAuditor:
      return "auditor";
    case Role::kAgent:
      return "agent";
    case Role::kApprover:
      return "approver";
  }
  return "requester";
}

Result<Role> parse_role(std::string_view s) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kRequester, Role::kAuditor, Role::kAgent,
                 Role::kApprover}) {
    if (role_name(r) == s) return r;
  }
  return fail(ErrorCode::kInvalidArgument, "unknown role '" + std::string(s) +
                                               "' (admin, operator, requester, auditor, agent, "
                                               "approver)");
}

bool role_allows(Role role, Permission p) {
  const auto r = static_cast<std::size_t>(role);
  const auto i = static_cast<std::size_t>(p);
  if (r >= kMatrix.size() || i >= kPermissionCount) return false;
  return kMatrix[r][i];
}

const store::SchemaModule kSchema{"auth", kMigrations};

Status AuthService::migrate(store::Database& db) { return db.migrate("auth", kMigrations); }

// ---- teams and principals ----

Result<Team> AuthService::create_team(const Team& team, std::string_view actor) {
  CW_RETURN_IF_ERROR(detail::check_name(team.name, "team"));
  CW_RETURN_IF_ERROR(check_description(team.description));
  Team t;
  t.name = team.name;
  t.description = team.description;
  for (const auto& profile : team.allowed_profiles) {
    CW_RETURN_IF_ERROR(detail::check_name(profile, "profile"));
    if (std::find(t.allowed_profiles.begin(), t.allowed_profiles.end(), profile) ==
        t.allowed_profiles.end()) {
      t.allowed_profiles.push_back(profile);
    }
  }
  for (const auto& domain : team.allowed_domains) {
    CW_ASSIGN_OR_RETURN(auto d, detail::normalise_domain(domain));
    if (std::find(t.allowed_domains.begin(), t.allowed_domains.end(), d) ==
        t.allowed_domains.end()) {
      t.allowed_domains.push_back(std::move(d));
    }
  }
  for (const auto& authority : team.allowed_authorities) {
    CW_RETURN_IF_ERROR(detail::check_name(authority, "authority"));
    if (std::find(t.allowed_authorities.begin(), t.allowed_authorities.end(), authority) ==
        t.allowed_authorities.end()) {
      t.allowed_authorities.push_back(authority);
    }
  }
  t.created_at = clock_.now();

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(
      tx->execute("INSERT INTO teams (name, description, allowed_profiles, allowed_domains, "
                  "allowed_authorities, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                  store::params(t.name, t.description, join_lines(t.allowed_profiles),
                                join_lines(t.allowed_domains), join_lines(t.allowed_authorities),
                                to_unix(t.created_at))));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "team.create";
  e.target_type = "team";
  e.target_id = t.name;
  e.details = {{"allowed_profiles", t.allowed_profiles},
               {"allowed_domains", t.allowed_domains},
               {"allowed_authorities", t.allowed_authorities}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return t;
}

Status AuthService::require_team(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const store::Value params[] = {std::string(name)};
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT 1 FROM teams WHERE name = ?", params));
  if (!row) return fail(ErrorCode::kInvalidArgument, "no team '" + std::string(name) + "'");
  return ok();
}

Result<std::vector<Team>> AuthService::list_teams() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(
      auto rows, tx->query("SELECT " + std::string(kTeamColumns) + " FROM teams ORDER BY name"));
  std::vector<Team> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto t, team_from_row(r));
    out.push_back(std::move(t));
  }
  return out;
}

Result<Principal> AuthService::create_principal(const Principal& principal,
                                                std::string_view actor) {
  CW_RETURN_IF_ERROR(detail::check_name(principal.name, "principal"));
  if (principal.team) {
    CW_RETURN_IF_ERROR(detail::check_name(*principal.team, "team"));
  }
  if (principal.role == Role::kRequester && !principal.team) {
    // A requester's scope is its team's; without one it could never issue anything.
    return fail(ErrorCode::kInvalidArgument, "a requester needs a team");
  }
  if (principal.role == Role::kApprover && !principal.team) {
    // An approver decides its team's requests; an organisation-wide approver is an admin.
    return fail(ErrorCode::kInvalidArgument, "an approver needs a team");
  }
  Principal p = principal;
  p.created_at = clock_.now();

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  if (p.team) {
    CW_ASSIGN_OR_RETURN(const bool exists, team_exists(*tx, *p.team));
    if (!exists) return fail(ErrorCode::kNotFound, "team '" + *p.team + "' does not exist");
  }
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO principals (name, role, team, disabled, created_at) VALUES (?, ?, ?, ?, ?)",
      store::params(p.name, role_name(p.role), p.team, p.disabled, to_unix(p.created_at))));
  CW_RETURN_IF_ERROR(audit_.append(*tx, principal_event(actor, p)));
  CW_RETURN_IF_ERROR(tx->commit());
  return p;
}

Result<std::vector<Principal>> AuthService::list_principals() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT " + std::string(kPrincipalColumns) +
                                           " FROM principals ORDER BY name"));
  std::vector<Principal> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto p, principal_from_row(r));
    out.push_back(std::move(p));
  }
  return out;
}

Result<Principal> AuthService::principal(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto p, find_principal(*tx, name));
  if (!p) return fail(ErrorCode::kNotFound, "principal '" + std::string(name) + "' not found");
  return *std::move(p);
}

Result<ca::Scope> AuthService::team_scope(std::string_view team) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto grant, team_grant(*tx, team));
  if (!grant) return fail(ErrorCode::kNotFound, "team '" + std::string(team) + "' not found");
  return *std::move(grant);
}

Status AuthService::set_principal_disabled(std::string_view name, bool disabled,
                                           std::string_view actor) {
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto n,
                        tx->execute_count("UPDATE principals SET disabled = ? WHERE name = ?",
                                          store::params(disabled, name)));
    if (n == 0)
      return fail(ErrorCode::kNotFound, "principal '" + std::string(name) + "' not found");
    audit::Event e;
    e.actor = std::string(actor);
    e.action = disabled ? "principal.disable" : "principal.enable";
    e.target_type = "principal";
    e.target_id = std::string(name);
    CW_RETURN_IF_ERROR(audit_.append(*tx, e));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  common::MutexLock lock(mu_);
  cache_.clear();
  ++cache_generation_;
  return ok();
}

// ---- tokens ----

Result<NewToken> AuthService::create_token(const TokenRequest& request, std::string_view actor) {
  CW_RETURN_IF_ERROR(check_description(request.description));
  if (request.no_expiry && request.ttl) {
    return fail(ErrorCode::kInvalidArgument, "a token has either a ttl or no expiry, not both");
  }
  const std::chrono::seconds ttl = request.ttl.value_or(kDefaultTokenTtl);
  if (!request.no_expiry && (ttl <= 0s || ttl > kMaxTokenTtl)) {
    return fail(ErrorCode::kInvalidArgument, "token ttl must be between 1 second and 2 years");
  }
  const SysTime now = clock_.now();
  std::optional<SysTime> expires_at;
  if (!request.no_expiry) expires_at = now + ttl;

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto found, find_principal(*tx, request.principal, RowLock::kForUpdate));
  if (!found) {
    return fail(ErrorCode::kNotFound, "principal '" + request.principal + "' not found");
  }
  const Principal& p = *found;
  if (p.disabled) {
    return fail(ErrorCode::kPolicyRejected, "principal '" + p.name + "' is disabled");
  }
  const Role role = request.role.value_or(p.role);
  if (!role_within(role, p.role)) {
    return fail(ErrorCode::kPolicyRejected, "a " + std::string(role_name(p.role)) +
                                                " principal cannot hold a " +
                                                std::string(role_name(role)) + " token");
  }
  std::optional<std::string> team = request.team ? request.team : p.team;
  if (team != p.team && p.role != Role::kAdmin && p.role != Role::kOperator) {
    // Only principals with unrestricted scope may hand out another team's scope.
    return fail(ErrorCode::kPolicyRejected,
                "principal '" + p.name + "' may only create tokens for its own team");
  }
  if (team) {
    CW_ASSIGN_OR_RETURN(const bool exists, team_exists(*tx, *team));
    if (!exists) return fail(ErrorCode::kNotFound, "team '" + *team + "' does not exist");
  }
  if ((role == Role::kRequester || role == Role::kApprover) && !team) {
    return fail(ErrorCode::kPolicyRejected,
                "a " + std::string(role_name(role)) + " token needs a team");
  }
  CW_ASSIGN_OR_RETURN(auto out, insert_token(*tx, audit_, now, p, role, std::move(team),
                                             request.description, expires_at, actor));
  CW_RETURN_IF_ERROR(tx->commit());
  return out;
}

Result<std::vector<TokenInfo>> AuthService::list_tokens(
    std::optional<std::string> principal) const {
  std::string sql = "SELECT " + std::string(kTokenColumns) + " FROM tokens";
  std::vector<store::Value> params;
  if (principal) {
    sql += " WHERE principal = ?";
    params.emplace_back(*principal);
  }
  sql += " ORDER BY created_at, id";
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<TokenInfo> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto t, token_from_row(r));
    out.push_back(std::move(t));
  }
  return out;
}

Status AuthService::revoke_token(std::string_view id, std::string_view actor) {
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT principal, revoked_at FROM tokens "
                                                "WHERE id = ? FOR UPDATE",
                                                store::params(id)));
    if (!row) return fail(ErrorCode::kNotFound, "token '" + std::string(id) + "' not found");
    if (!row->is_null(1)) return ok();  // already revoked; the first revocation was audited
    const SysTime now = clock_.now();
    CW_RETURN_IF_ERROR(tx->execute("UPDATE tokens SET revoked_at = ? WHERE id = ?",
                                   store::params(to_unix(now), id)));
    audit::Event e;
    e.actor = std::string(actor);
    e.action = "token.revoke";
    e.target_type = "token";
    e.target_id = std::string(id);
    e.details = {{"principal", row->text(0)}};
    CW_RETURN_IF_ERROR(audit_.append(*tx, e));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  common::MutexLock lock(mu_);
  cache_.clear();
  ++cache_generation_;
  return ok();
}

// ---- certificate mappings ----

Result<std::string> certificate_fingerprint(std::string_view text) {
  auto raw = from_hex(text);
  if (!raw || raw->size() != 32) {
    return fail(ErrorCode::kInvalidArgument,
                "a certificate fingerprint is the SHA-256 of its DER in hex (64 digits)");
  }
  return to_hex(*raw);
}

namespace {
audit::Event mapping_event(std::string_view action, std::string_view actor, std::string fp,
                           std::string_view principal) {
  return audit::Event{std::string(actor),
                      std::string(action),
                      "certificate_mapping",
                      std::move(fp),
                      {{"principal", std::string(principal)}}};
}
}  // namespace

Status AuthService::map_certificate(std::string_view fingerprint, std::string_view principal,
                                    std::string_view actor) {
  CW_ASSIGN_OR_RETURN(const std::string fp, certificate_fingerprint(fingerprint));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto p, find_principal(*tx, principal));
  if (!p) return fail(ErrorCode::kNotFound, "principal '" + std::string(principal) + "' not found");
  CW_RETURN_IF_ERROR(
      tx->execute("INSERT INTO cert_mappings (fingerprint, principal, created_at) VALUES (?, ?, ?)",
                  store::params(fp, principal, to_unix(clock_.now()))));
  CW_RETURN_IF_ERROR(
      audit_.append(*tx, mapping_event("certificate_mapping.create", actor, fp, principal)));
  return tx->commit();
}

Result<std::vector<CertificateMapping>> AuthService::certificate_mappings(
    std::string_view principal) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto p, find_principal(*tx, principal));
  if (!p) return fail(ErrorCode::kNotFound, "principal '" + std::string(principal) + "' not found");
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT fingerprint, created_at FROM cert_mappings "
                                           "WHERE principal = ? ORDER BY created_at, fingerprint",
                                           store::params(principal)));
  std::vector<CertificateMapping> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back({r.text(0), from_unix(r.int64(1))});
  return out;
}

Status AuthService::unmap_certificate(std::string_view fingerprint, std::string_view principal,
                                      std::string_view actor) {
  CW_ASSIGN_OR_RETURN(const std::string fp, certificate_fingerprint(fingerprint));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto removed,
                      tx->execute_count("DELETE FROM cert_mappings WHERE fingerprint = ? AND "
                                        "principal = ?",
                                        store::params(fp, principal)));
  if (removed == 0) {
    return fail(ErrorCode::kNotFound,
                "principal '" + std::string(principal) + "' has no certificate mapping " + fp);
  }
  CW_RETURN_IF_ERROR(
      audit_.append(*tx, mapping_event("certificate_mapping.delete", actor, fp, principal)));
  return tx->commit();
}

// ---- authentication ----

Result<Identity> AuthService::authenticate_token(std::string_view token) {
  if (!detail::well_formed_token(token)) return unauthorized();
  const std::string hash = token_hash(token);
  const SysTime now = clock_.now();
  std::uint64_t generation = 0;
  {
    common::MutexLock lock(mu_);
    if (auto it = cache_.find(hash); it != cache_.end()) {
      if (now < it->second.until) return it->second.identity;
      cache_.erase(it);
    }
    generation = cache_generation_;
  }

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT t.id, t.role, t.team, t.expires_at, t.revoked_at, "
                                    "p.name, p.role, p.team, p.disabled, p.created_at "
                                    "FROM tokens t JOIN principals p ON p.name = t.principal "
                                    "WHERE t.hash = ?",
                                    store::params(hash)));
  if (!row) return unauthorized();
  const std::string id = row->text(0);
  // The hash covers the id; this only guards against a corrupted row.
  if (token.substr(detail::kTokenPrefix.size(), detail::kTokenIdLength) != id) {
    return unauthorized();
  }
  auto token_role = parse_role(row->text(1));
  const std::optional<std::int64_t> expires_at = row->optional_int64(3);
  if (!token_role || (expires_at && from_unix(*expires_at) <= now) || !row->is_null(4)) {
    return unauthorized();
  }
  Principal p;
  p.name = row->text(5);
  auto principal_role = parse_role(row->text(6));
  p.team = row->optional_text(7);
  p.disabled = row->int64(8) != 0;
  p.created_at = from_unix(row->int64(9));
  // A token never acts above its principal's current role; if the principal was demoted
  // below the token's role, the token no longer authenticates.
  if (!principal_role || p.disabled || !role_within(*token_role, *principal_role)) {
    return unauthorized();
  }
  p.role = *principal_role;
  CW_ASSIGN_OR_RETURN(auto identity,
                      identity_in(*tx, p, *token_role, row->optional_text(2), id, "token:" + id));

  SysTime until = now + kCacheTtl;
  if (expires_at) until = std::min(until, from_unix(*expires_at));
  common::MutexLock lock(mu_);
  if (generation == cache_generation_) {
    if (cache_.size() >= kCacheMaxEntries) {
      std::erase_if(cache_, [&](const auto& kv) { return kv.second.until <= now; });
      if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    }
    cache_.insert_or_assign(hash, Cached{identity, until});
  }
  return identity;
}

Result<Identity> AuthService::authenticate_certificate(std::span<const std::uint8_t> der) {
  if (der.empty()) return unauthorized();
  const std::string fp = to_hex(crypto::sha256(der));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT p.name, p.role, p.team, p.disabled, "
                                              "p.created_at FROM cert_mappings m "
                                              "JOIN principals p ON p.name = m.principal "
                                              "WHERE m.fingerprint = ?",
                                              store::params(fp)));
  if (!row) return unauthorized();
  auto p = principal_from_row(*row);
  if (!p || p->disabled) return unauthorized();
  if (inventory_) {
    // Asked at every login (certificate logins are not cached), so a revocation counts at once.
    CW_ASSIGN_OR_RETURN(bool revoked, inventory_->is_revoked(fp));
    if (revoked) return unauthorized();
  }
  return identity_in(*tx, *p, p->role, p->team, std::nullopt, "cert:" + p->name);
}

Result<Identity> AuthService::identity_for(const Principal& p, Role role,
                                           std::optional<std::string> team,
                                           std::optional<std::string> token_id,
                                           std::string actor) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  return identity_in(*tx, p, role, std::move(team), std::move(token_id), std::move(actor));
}

// ---- bootstrap ----

Result<std::optional<std::string>> AuthService::bootstrap_admin(std::string_view actor) {
  const SysTime now = clock_.now();
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto any, tx->query_one("SELECT name FROM principals LIMIT 1"));
  if (any) return std::optional<std::string>();

  Principal admin;
  admin.name = std::string(kBootstrapPrincipal);
  admin.role = Role::kAdmin;
  admin.created_at = now;
  auto inserted = tx->execute(
      "INSERT INTO principals (name, role, team, disabled, created_at) VALUES (?, ?, NULL, 0, ?)",
      store::params(admin.name, role_name(admin.role), to_unix(now)));
  // Another process bootstrapped first (PostgreSQL: both saw an empty table).
  if (!inserted && inserted.error().code == ErrorCode::kConflict) {
    return std::optional<std::string>();
  }
  CW_RETURN_IF_ERROR(inserted);
  CW_RETURN_IF_ERROR(audit_.append(*tx, principal_event(actor, admin)));
  CW_ASSIGN_OR_RETURN(auto token, insert_token(*tx, audit_, now, admin, Role::kAdmin, std::nullopt,
                                               "bootstrap admin token", std::nullopt, actor));
  auto committed = tx->commit();
  if (!committed && committed.error().code == ErrorCode::kConflict) {
    return std::optional<std::string>();
  }
  CW_RETURN_IF_ERROR(committed);
  return std::optional<std::string>(std::move(token.secret));
}

}  // namespace certward::auth
