#pragma once
// What the upstream issuers keep in the database (migrations module "issuers"): each ACME
// issuer's account (its key sealed under the master key) and the http-01 answers being
// served, so that whichever replica the CA's validator reaches answers it.
//
// Thread-safe.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace certward::issuers {

Status migrate_issuers(store::Database& db);

struct StoredAccount {
  std::shared_ptr<const crypto::PrivateKey> key;
  std::string url;
};

// The ACME accounts, one per issuer and directory URL (a new directory: a new account).
class AccountVault {
 public:
  AccountVault(const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper)
      : clock_(clock), db_(db), wrapper_(wrapper) {}
  // Errors: kBadPassword (sealed under another master key), store errors.
  Result<std::optional<StoredAccount>> load(const std::string& issuer,
                                            const std::string& directory) const;
  // Replaces what was stored for the pair.
  Status save(const std::string& issuer, const std::string& directory,
              const StoredAccount& account) const;

 private:
  const Clock& clock_;
  store::Database& db_;
  const crypto::KeyWrapper& wrapper_;
};

// The http-01 key authorizations certward answers at /.well-known/acme-challenge/<token> on
// its plain-HTTP listener while an upstream order is being validated.
class Http01Board {
 public:
  Http01Board(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}
  // Errors: kInvalidArgument (a token that is not base64url, or longer than 256), store errors.
  Status publish(const std::string& token, const std::string& key_authorization,
                 std::chrono::seconds ttl);
  void withdraw(const std::string& token);
  // The key authorization for `token` while it is published and not expired.
  std::optional<std::string> lookup(std::string_view token) const;

 private:
  const Clock& clock_;
  store::Database& db_;
};

}  // namespace certward::issuers
