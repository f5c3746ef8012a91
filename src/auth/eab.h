#pragma once
// External Account Binding keys (RFC 8555 7.3.4): the credentials an ACME client presents
// when it creates its account, so that the account belongs to a team and inherits the team's
// grant (profiles, domains, authorities). An operator creates one per client (REST
// /api/v1/acme/eab, `certward acme eab create --team T`), hands over its key id and HMAC key
// once, and the key binds exactly one account.
//
// The HMAC key is a secret: it is sealed with the master key at rest, returned once at
// creation, and never logged or listed. Thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/clock.h"
#include "crypto/crypto.h"
#include "crypto/secret_bytes.h"
#include "store/store.h"

namespace certward::auth {

struct EabKeyInfo {
  std::string kid;
  std::string team;
  std::optional<std::string> directory;  // the ACME directory it is for; nullopt: any
  std::string description;
  std::string created_by;  // audit actor
  SysTime created_at{};
  std::optional<std::string> account;  // the account it bound
  std::optional<SysTime> bound_at;
  std::optional<SysTime> revoked_at;
};

struct NewEabKey {
  EabKeyInfo info;
  std::string hmac_key;  // base64url, as ACME clients take it; shown once
};

struct EabKeyRequest {
  std::string team;
  std::optional<std::string> directory;
  std::string description;
};

// What the ACME server needs to check a binding.
struct EabSecret {
  EabKeyInfo info;
  crypto::SecretBytes key;
};

class EabKeys {
 public:
  EabKeys(const Clock& clock, store::Database& db, const audit::AuditLog& audit,
          const crypto::KeyWrapper& wrapper)
      : clock_(clock), db_(db), audit_(audit), wrapper_(wrapper) {}

  static Status migrate(store::Database& db);

  // Errors: kInvalidArgument (bad team or directory name, description too long), kNotFound
  // (no such team).
  Result<NewEabKey> create(const EabKeyRequest& request, std::string_view actor);
  // `team`: only that team's keys.
  Result<std::vector<EabKeyInfo>> list(const std::optional<std::string>& team) const;
  // A revoked key binds no further account; the account it bound stays. Errors: kNotFound,
  // kConflict (already revoked).
  Result<EabKeyInfo> revoke(std::string_view kid, std::string_view actor);

  // The key with its secret, for verifying a binding; nullopt when there is none.
  Result<std::optional<EabSecret>> secret(std::string_view kid) const;
  // Binds the key to `account` inside the caller's transaction (the account's creation): it
  // must be unrevoked and unbound. Errors: kConflict (bound or revoked meanwhile).
  Status bind(store::Transaction& tx, std::string_view kid, std::string_view account) const;

 private:
  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
  const crypto::KeyWrapper& wrapper_;
};

}  // namespace certward::auth
