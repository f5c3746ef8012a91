#include "issuers/state.h"

#include "common/log.h"
#include "store/schema.h"

namespace certward::issuers {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "upstream_issuers",
     R"sql(
CREATE TABLE upstream_acme_accounts (
  issuer TEXT NOT NULL,
  directory TEXT NOT NULL,
  account_url TEXT NOT NULL,
  sealed_key BLOB NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (issuer, directory)
);
CREATE TABLE upstream_http01 (
  token TEXT PRIMARY KEY,
  key_authorization TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
)sql"},
};

std::string aad(const std::string& issuer, const std::string& directory) {
  return "certward acme account " + issuer + " " + directory;
}

bool base64url_token(std::string_view t) {
  if (t.empty() || t.size() > 256) return false;
  for (char c : t) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const store::SchemaModule kSchema{"issuers", kMigrations};

Status migrate_issuers(store::Database& db) { return db.migrate("issuers", kMigrations); }

Result<std::optional<StoredAccount>> AccountVault::load(const std::string& issuer,
                                                        const std::string& directory) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT account_url, sealed_key FROM "
                                              "upstream_acme_accounts WHERE issuer = ? AND "
                                              "directory = ?",
                                              store::params(issuer, directory)));
  if (!row) return std::optional<StoredAccount>{};
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes der, wrapper_.open(row->blob(1), aad(issuer, directory)));
  CW_ASSIGN_OR_RETURN(auto key, crypto::parse_private_key(der.span()));
  return std::optional<StoredAccount>{
      StoredAccount{std::make_shared<const crypto::PrivateKey>(std::move(key)), row->text(0)}};
}

Status AccountVault::save(const std::string& issuer, const std::string& directory,
                          const StoredAccount& account) const {
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes der, account.key->to_pkcs8_der());
  CW_ASSIGN_OR_RETURN(Bytes sealed, wrapper_.seal(der.span(), aad(issuer, directory)));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(
      tx->execute("DELETE FROM upstream_acme_accounts WHERE issuer = ? AND directory = ?",
                  store::params(issuer, directory)));
  CW_RETURN_IF_ERROR(
      tx->execute("INSERT INTO upstream_acme_accounts (issuer, directory, "
                  "account_url, sealed_key, created_at) VALUES (?, ?, ?, ?, ?)",
                  store::params(issuer, directory, account.url, sealed, to_unix(clock_.now()))));
  return tx->commit();
}

Status Http01Board::publish(const std::string& token, const std::string& key_authorization,
                            std::chrono::seconds ttl) {
  if (!base64url_token(token)) {
    return fail(ErrorCode::kInvalidArgument,
                "the ACME CA sent an http-01 token that is not base64url");
  }
  const std::int64_t now = to_unix(clock_.now());
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  // Expired answers go as new ones come: the table holds only orders in flight.
  CW_RETURN_IF_ERROR(tx->execute("DELETE FROM upstream_http01 WHERE expires_at < ? OR token = ?",
                                 store::params(now, token)));
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO upstream_http01 (token, key_authorization, expires_at) VALUES (?, ?, ?)",
      store::params(token, key_authorization, now + ttl.count())));
  return tx->commit();
}

void Http01Board::withdraw(const std::string& token) {
  auto tx = db_.begin(store::TxMode::kWrite);
  if (tx && (*tx)->execute("DELETE FROM upstream_http01 WHERE token = ?", store::params(token)) &&
      (*tx)->commit()) {
    return;
  }
  // Left behind, it expires with its TTL and goes with the next publish.
  log::warn("issuers.http01_withdraw_failed");
}

std::optional<std::string> Http01Board::lookup(std::string_view token) const {
  if (!base64url_token(token)) return std::nullopt;
  auto tx = db_.begin(store::TxMode::kRead);
  if (!tx) return std::nullopt;
  auto row = (*tx)->query_one(
      "SELECT key_authorization FROM upstream_http01 WHERE token = ? AND expires_at >= ?",
      store::params(std::string(token), to_unix(clock_.now())));
  if (!row || !*row) return std::nullopt;
  return (**row).text(0);
}

}  // namespace certward::issuers
