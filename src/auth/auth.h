#pragma once
// Who may do what: teams, principals, API tokens, TLS client-certificate mappings and roles.
//
// Tokens are long random secrets ("cwt_<id>_<secret>"); only their SHA-256 is stored, and a
// request is authenticated by one hash lookup (a slow password hash per request would cap the
// whole server). The plain token exists only in the create_token() result, shown once.
// Every mutation is audited in the same transaction. Thread-safe.

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit.h"
#include "ca/enrollment.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "store/store.h"

namespace certward::auth {

// kAgent: a discovery agent on another host, which may only report what it found and receive
// the deployments made to it. kApprover: decides its team's approval requests and reads its
// team's inventory, nothing more.
enum class Role : std::uint8_t { kAdmin, kOperator, kRequester, kAuditor, kAgent, kApprover };
std::string_view role_name(Role r);  // "admin", "operator", "requester", "auditor", ...
Result<Role> parse_role(std::string_view s);

// What a route needs. The role matrix (docs/api.md) maps roles to permissions.
enum class Permission : std::uint8_t {
  kReadCatalog,         // profiles, authorities (public material)
  kReadInventory,       // certificates (requesters: their team's only)
  kIssue,               // issue certificates (requesters: within their team's scope)
  kImport,              // import certificates into the inventory
  kManageAuthorities,   // create/import authorities
  kReadAudit,           // audit events
  kReadPrincipals,      // list teams, principals, tokens (never secrets)
  kManagePrincipals,    // create/disable teams, principals, tokens, certificate mappings
  kEditInventory,       // owner, team and tags of certificates (requesters: their team's only)
  kRevoke,              // revoke certificates (requesters: their team's only)
  kScan,                // run discovery scans and manage recurring ones
  kReportDiscovery,     // send what an agent found on its host
  kManage,              // create, change, renew and delete managed certificates (requesters:
                        // their team's only, within its issuance scope)
  kCampaign,            // plan, run and finish replacement campaigns (organisation-wide: no
                        // team-scoped role has it)
  kReceiveDeployments,  // an agent: fetch and report the deployments made to it (its own only)
  kReadPolicy,          // compliance rules (violations are read with kReadInventory)
  kManagePolicy,        // create, change and delete compliance rules
  kApproveRequests,     // approve or reject approval requests, never one's own (approvers:
                        // their team's only)
};
bool role_allows(Role role, Permission p);

// A certificate's SHA-256 fingerprint as given (hex, any case, ':' separators allowed) in
// the lower-case form certificate mappings use. Errors: kInvalidArgument.
Result<std::string> certificate_fingerprint(std::string_view text);

struct Team {
  std::string name;
  std::string description;
  std::vector<std::string> allowed_profiles;  // empty: none (requesters can issue nothing)
  std::vector<std::string> allowed_domains;   // DNS suffixes; empty: none
  // Authorities its requesters may name; empty: only the default authority.
  std::vector<std::string> allowed_authorities;
  SysTime created_at{};
};

struct Principal {
  std::string name;  // unique: "alice", "ci-deployer"
  Role role = Role::kRequester;
  std::optional<std::string> team;
  bool disabled = false;
  SysTime created_at{};
};

struct TokenInfo {
  std::string id;  // public, 16 hex digits; appears in audit as "token:<id>"
  std::string principal;
  Role role = Role::kRequester;  // never above the principal's role
  std::optional<std::string> team;
  std::string description;
  SysTime created_at{};
  std::optional<SysTime> expires_at;
  std::optional<SysTime> revoked_at;
};

// A TLS client certificate that logs in as a principal.
struct CertificateMapping {
  std::string fingerprint;  // SHA-256 of the certificate's DER, lower-case hex
  SysTime created_at{};
};

struct NewToken {
  TokenInfo info;
  std::string secret;  // the whole token; shown once, never stored, never logged
};

// The authenticated caller of one request.
struct Identity {
  std::string principal;
  Role role = Role::kRequester;
  std::optional<std::string> team;
  std::optional<std::string> token_id;
  std::string actor;  // audit identity: "token:<id>" or "cert:<principal>" or "local:<user>"
  // A requester's or approver's scope from its team; nullopt for other roles (unrestricted).
  std::optional<ca::Scope> scope;

  // The requester the RA sees for this caller, scope included: the one translation every
  // front-end (REST, ACME, EST, SCEP, CMP) uses, so none can drop a part of the scope.
  ca::Requester requester() const {
    return {.actor = actor, .team = team, .scope = scope, .principal = principal};
  }
};

struct TokenRequest {
  std::string principal;
  std::optional<Role> role;         // default: the principal's role
  std::optional<std::string> team;  // default: the principal's team
  std::string description;
  std::optional<std::chrono::seconds> ttl;  // default 90 days; nullopt via no_expiry
  bool no_expiry = false;
};

class AuthService {
 public:
  // With `inventory`, a client certificate the inventory holds as revoked no longer
  // authenticates (certificates certward issued; others are not revocation-checked).
  AuthService(const Clock& clock, store::Database& db, const audit::AuditLog& audit,
              const inventory::Inventory* inventory = nullptr)
      : clock_(clock), db_(db), audit_(audit), inventory_(inventory) {}

  static Status migrate(store::Database& db);

  // Errors: kInvalidArgument (bad name), kConflict (exists), kNotFound (team).
  Result<Team> create_team(const Team& team, std::string_view actor);
  Result<std::vector<Team>> list_teams() const;
  // Errors: kInvalidArgument when no team has this name (a name given in a request).
  Status require_team(std::string_view name) const;
  Result<Principal> create_principal(const Principal& p, std::string_view actor);
  Result<std::vector<Principal>> list_principals() const;
  Result<Principal> principal(std::string_view name) const;
  // The issuance scope a requester of `team` has now (its team's grant): what the renewal
  // engine issues a team's managed certificates with. Errors: kNotFound (no such team).
  Result<ca::Scope> team_scope(std::string_view team) const;
  Status set_principal_disabled(std::string_view name, bool disabled, std::string_view actor);

  // Errors: kNotFound (principal/team), kPolicyRejected (role above the principal's,
  // or a requester token without a team).
  Result<NewToken> create_token(const TokenRequest& request, std::string_view actor);
  Result<std::vector<TokenInfo>> list_tokens(std::optional<std::string> principal) const;
  Status revoke_token(std::string_view id, std::string_view actor);

  // Maps a TLS client certificate (by SHA-256 fingerprint of its DER, see
  // certificate_fingerprint) to a principal.
  Status map_certificate(std::string_view fingerprint, std::string_view principal,
                         std::string_view actor);
  // A principal's mapped certificates, oldest first. Errors: kNotFound (no such principal).
  Result<std::vector<CertificateMapping>> certificate_mappings(std::string_view principal) const;
  // Removes such a mapping: the certificate stops authenticating at once (certificate logins
  // are not cached). Errors: kInvalidArgument (not a fingerprint), kNotFound (no such mapping
  // for this principal).
  Status unmap_certificate(std::string_view fingerprint, std::string_view principal,
                           std::string_view actor);

  // Whether `who`, recorded when it asked for something (an approval request), still stands:
  // its principal exists, is not disabled and has a role that issues, and the token it used
  // (actor "token:<id>") is not revoked and has such a role. An expired token does not
  // matter: what it asked was asked while it was valid. A requester without a principal (the
  // local operator) always stands. Reads inside `tx`. Errors: kPolicyRejected naming what
  // changed.
  Status requester_stands(store::Transaction& tx, const ca::Requester& who) const;

  // Errors: kUnauthorized for anything that does not authenticate (unknown, malformed,
  // expired, revoked, disabled principal) — one code, so callers learn nothing more.
  Result<Identity> authenticate_token(std::string_view token);
  Result<Identity> authenticate_certificate(std::span<const std::uint8_t> der);

  // First start of a server: creates principal "admin" (role admin) and a token for it if
  // no principal exists yet; returns the token's secret, or nullopt if principals exist.
  Result<std::optional<std::string>> bootstrap_admin(std::string_view actor);

 private:
  Result<Identity> identity_for(const Principal& p, Role role, std::optional<std::string> team,
                                std::optional<std::string> token_id, std::string actor) const;

  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
  const inventory::Inventory* inventory_;

  // Positive authentications cached briefly (keyed by token hash) so a busy client costs
  // one database lookup per few seconds, not one per request. revoke_token() and
  // set_principal_disabled() clear it, so they take effect at once in this process, and
  // within kCacheTtl in other processes sharing the database.
  static constexpr std::chrono::seconds kCacheTtl{5};
  struct Cached {
    Identity identity;
    SysTime until;
  };
  mutable common::Mutex mu_;
  std::unordered_map<std::string, Cached> cache_ CW_GUARDED_BY(mu_);
  // Bumped (with cache_ cleared) after every revocation or principal change, so a lookup that
  // raced with it does not put a stale result back into the cache.
  std::uint64_t cache_generation_ CW_GUARDED_BY(mu_) = 0;
};

}  // namespace certward::auth
