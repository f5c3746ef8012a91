#include "protocols/acme/store.h"

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::protocols::acme {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "acme",
     R"sql(
CREATE TABLE acme_accounts (
  id TEXT PRIMARY KEY,
  directory TEXT NOT NULL,
  thumbprint TEXT NOT NULL,
  jwk TEXT NOT NULL,
  status TEXT NOT NULL,
  contact TEXT NOT NULL,
  tos_agreed INTEGER NOT NULL,
  eab_kid TEXT,
  team TEXT,
  created_from TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX acme_accounts_key ON acme_accounts (directory, thumbprint);
CREATE INDEX acme_accounts_from ON acme_accounts (created_from, created_at);
CREATE TABLE acme_orders (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  status TEXT NOT NULL,
  identifiers TEXT NOT NULL,
  authorizations TEXT NOT NULL,
  profile TEXT NOT NULL,
  not_before BIGINT,
  not_after BIGINT,
  expires BIGINT NOT NULL,
  error TEXT,
  certificate TEXT,
  chain_pem TEXT,
  replaces TEXT,
  replaces_id TEXT,
  processing_since BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX acme_orders_account ON acme_orders (account, created_at);
CREATE INDEX acme_orders_certificate ON acme_orders (certificate);
CREATE INDEX acme_orders_replaces ON acme_orders (replaces);
CREATE TABLE acme_authorizations (
  id TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  identifier_type TEXT NOT NULL,
  identifier_value TEXT NOT NULL,
  wildcard INTEGER NOT NULL,
  status TEXT NOT NULL,
  expires BIGINT NOT NULL
);
CREATE INDEX acme_authorizations_reuse
  ON acme_authorizations (account, identifier_value, identifier_type, wildcard, status);
CREATE TABLE acme_challenges (
  id TEXT PRIMARY KEY,
  authz TEXT NOT NULL,
  type TEXT NOT NULL,
  token TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at BIGINT,
  validated BIGINT,
  error TEXT,
  records TEXT NOT NULL
);
CREATE INDEX acme_challenges_authz ON acme_challenges (authz);
CREATE TABLE acme_domain_issuance (
  registered_domain TEXT NOT NULL,
  order_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  PRIMARY KEY (registered_domain, order_id)
);
CREATE INDEX acme_domain_issuance_time ON acme_domain_issuance (registered_domain, issued_at);
)sql"},
    // Directories made through the API (directories.h); the configuration file's are not here.
    {2, "directories",
     R"sql(
CREATE TABLE acme_directories (
  name TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL
);
)sql"},
};

constexpr std::string_view kAccountColumns =
    "id, directory, thumbprint, jwk, status, contact, tos_agreed, eab_kid, team, created_at";
constexpr std::string_view kOrderColumns =
    "id, account, status, identifiers, authorizations, profile, not_before, not_after, expires, "
    "error, certificate, chain_pem, replaces, created_at, replaces_id, processing_since";
constexpr std::string_view kAuthzColumns =
    "id, account, identifier_type, identifier_value, wildcard, status, expires";
constexpr std::string_view kChallengeColumns =
    "id, authz, type, token, status, validated, error, records, started_at";

std::optional<SysTime> opt_time(const store::Row& r, std::size_t i) {
  if (auto v = r.optional_int64(i)) return from_unix(*v);
  return std::nullopt;
}
std::optional<std::int64_t> opt_unix(const std::optional<SysTime>& t) {
  if (t) return to_unix(*t);
  return std::nullopt;
}
std::optional<std::string> opt_dump(const std::optional<nlohmann::json>& j) {
  if (j) return j->dump();
  return std::nullopt;
}
// What this module wrote: a failure to parse it back is a bug, not bad input.
nlohmann::json parse_own(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

Account account_from(const store::Row& r) {
  Account a;
  a.id = r.text(0);
  a.directory = r.text(1);
  a.thumbprint = r.text(2);
  a.jwk = parse_own(r.text(3));
  a.status = r.text(4);
  for (const auto& c : parse_own(r.text(5))) {
    if (c.is_string()) a.contact.push_back(c.get<std::string>());
  }
  a.tos_agreed = r.int64(6) != 0;
  a.eab_kid = r.optional_text(7);
  a.team = r.optional_text(8);
  a.created_at = from_unix(r.int64(9));
  return a;
}

nlohmann::json identifiers_json(const std::vector<Identifier>& ids) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& i : ids) j.push_back(i.json());
  return j;
}

Order order_from(const store::Row& r) {
  Order o;
  o.id = r.text(0);
  o.account = r.text(1);
  o.status = r.text(2);
  for (const auto& i : parse_own(r.text(3))) {
    o.identifiers.push_back({i.value("type", ""), i.value("value", "")});
  }
  for (const auto& a : parse_own(r.text(4))) {
    if (a.is_string()) o.authorizations.push_back(a.get<std::string>());
  }
  o.profile = r.text(5);
  o.not_before = opt_time(r, 6);
  o.not_after = opt_time(r, 7);
  o.expires = from_unix(r.int64(8));
  if (auto e = r.optional_text(9)) o.error = parse_own(*e);
  o.certificate = r.optional_text(10);
  o.chain_pem = r.optional_text(11);
  o.replaces = r.optional_text(12);
  o.created_at = from_unix(r.int64(13));
  o.replaces_id = r.optional_text(14);
  o.processing_since = opt_time(r, 15);
  return o;
}

Authorization authz_from(const store::Row& r) {
  Authorization a;
  a.id = r.text(0);
  a.account = r.text(1);
  a.identifier = {r.text(2), r.text(3)};
  a.wildcard = r.int64(4) != 0;
  a.status = r.text(5);
  a.expires = from_unix(r.int64(6));
  return a;
}

Challenge challenge_from(const store::Row& r) {
  Challenge c;
  c.id = r.text(0);
  c.authz = r.text(1);
  c.type = r.text(2);
  c.token = r.text(3);
  c.status = r.text(4);
  c.validated = opt_time(r, 5);
  if (auto e = r.optional_text(6)) c.error = parse_own(*e);
  c.records = parse_own(r.text(7));
  c.started_at = opt_time(r, 8);
  return c;
}

Result<std::int64_t> count(store::Transaction& tx, std::string_view sql,
                           std::span<const store::Value> params) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one(sql, params));
  return row ? row->int64(0) : 0;
}

}  // namespace

const store::SchemaModule kSchema{"acme", kMigrations};

Status migrate(store::Database& db) { return db.migrate("acme", kMigrations); }

std::string new_id() { return to_base64url(crypto::random_bytes(12)); }

Result<std::optional<Account>> find_account(store::Transaction& tx, std::string_view id) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kAccountColumns) +
                                                 " FROM acme_accounts WHERE id = ?",
                                             store::params(id)));
  if (!row) return std::optional<Account>();
  return std::optional<Account>(account_from(*row));
}

Result<std::optional<Account>> find_account_by_key(store::Transaction& tx,
                                                   std::string_view directory,
                                                   std::string_view thumbprint) {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT " + std::string(kAccountColumns) +
                                       " FROM acme_accounts WHERE directory = ? AND thumbprint = ?",
                                   store::params(directory, thumbprint)));
  if (!row) return std::optional<Account>();
  return std::optional<Account>(account_from(*row));
}

Status insert_account(store::Transaction& tx, const Account& a, std::string_view from) {
  return tx.execute(
      "INSERT INTO acme_accounts (id, directory, thumbprint, jwk, status, contact, tos_agreed, "
      "eab_kid, team, created_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(a.id, a.directory, a.thumbprint, a.jwk.dump(), a.status,
                    nlohmann::json(a.contact).dump(), a.tos_agreed, a.eab_kid, a.team, from,
                    to_unix(a.created_at)));
}

Status update_account(store::Transaction& tx, const Account& a) {
  return tx.execute(
      "UPDATE acme_accounts SET status = ?, contact = ?, thumbprint = ?, jwk = ? WHERE id = ?",
      store::params(a.status, nlohmann::json(a.contact).dump(), a.thumbprint, a.jwk.dump(), a.id));
}

Result<std::int64_t> accounts_from(store::Transaction& tx, std::string_view address,
                                   SysTime since) {
  return count(tx, "SELECT COUNT(*) FROM acme_accounts WHERE created_from = ? AND created_at >= ?",
               store::params(address, to_unix(since)));
}

Result<std::optional<Order>> find_order(store::Transaction& tx, std::string_view id) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kOrderColumns) +
                                                 " FROM acme_orders WHERE id = ?",
                                             store::params(id)));
  if (!row) return std::optional<Order>();
  return std::optional<Order>(order_from(*row));
}

Status insert_order(store::Transaction& tx, const Order& o) {
  return tx.execute(
      "INSERT INTO acme_orders (id, account, status, identifiers, authorizations, profile, "
      "not_before, not_after, expires, error, certificate, chain_pem, replaces, created_at, "
      "replaces_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(o.id, o.account, o.status, identifiers_json(o.identifiers).dump(),
                    nlohmann::json(o.authorizations).dump(), o.profile, opt_unix(o.not_before),
                    opt_unix(o.not_after), to_unix(o.expires), opt_dump(o.error), o.certificate,
                    o.chain_pem, o.replaces, to_unix(o.created_at), o.replaces_id));
}

Status update_order(store::Transaction& tx, const Order& o) {
  return tx.execute(
      "UPDATE acme_orders SET status = ?, error = ?, certificate = ?, chain_pem = ? WHERE id = ?",
      store::params(o.status, opt_dump(o.error), o.certificate, o.chain_pem, o.id));
}

Result<bool> claim_order(store::Transaction& tx, std::string_view id, SysTime now) {
  CW_ASSIGN_OR_RETURN(
      auto n, tx.execute_count("UPDATE acme_orders SET status = 'processing', processing_since = ? "
                               "WHERE id = ? AND (status = 'pending' OR (status = 'processing' "
                               "AND processing_since < ?))",
                               store::params(to_unix(now), id, to_unix(now - kStaleProcessing))));
  return n == 1;
}

Result<std::vector<Order>> account_orders(store::Transaction& tx, std::string_view account,
                                          std::size_t limit) {
  CW_ASSIGN_OR_RETURN(auto rows,
                      tx.query("SELECT " + std::string(kOrderColumns) +
                                   " FROM acme_orders WHERE account = ? ORDER BY created_at DESC, "
                                   "id DESC LIMIT ?",
                               store::params(account, static_cast<std::int64_t>(limit))));
  std::vector<Order> out;
  for (const auto& r : rows) out.push_back(order_from(r));
  return out;
}

Result<std::int64_t> orders_since(store::Transaction& tx, std::string_view account, SysTime since) {
  return count(tx, "SELECT COUNT(*) FROM acme_orders WHERE account = ? AND created_at >= ?",
               store::params(account, to_unix(since)));
}

Result<std::int64_t> pending_orders(store::Transaction& tx, std::string_view account, SysTime now) {
  return count(tx,
               "SELECT COUNT(*) FROM acme_orders WHERE account = ? AND status = 'pending' AND "
               "expires > ?",
               store::params(account, to_unix(now)));
}

Result<std::vector<Order>> orders_replacing(store::Transaction& tx, std::string_view fingerprint,
                                            SysTime now) {
  CW_ASSIGN_OR_RETURN(
      auto rows,
      tx.query("SELECT " + std::string(kOrderColumns) +
                   " FROM acme_orders WHERE replaces = ? AND (status IN ('processing', 'valid') "
                   "OR (status = 'pending' AND expires > ?))",
               store::params(fingerprint, to_unix(now))));
  std::vector<Order> out;
  for (const auto& r : rows) out.push_back(order_from(r));
  return out;
}

Result<std::optional<Order>> order_for_certificate(store::Transaction& tx,
                                                   std::string_view fingerprint) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kOrderColumns) +
                                                 " FROM acme_orders WHERE certificate = ?",
                                             store::params(fingerprint)));
  if (!row) return std::optional<Order>();
  return std::optional<Order>(order_from(*row));
}

Result<std::int64_t> certificates_for_domain(store::Transaction& tx,
                                             std::string_view registered_domain, SysTime since) {
  return count(tx,
               "SELECT COUNT(*) FROM acme_domain_issuance WHERE registered_domain = ? AND "
               "issued_at >= ?",
               store::params(registered_domain, to_unix(since)));
}

Status record_domain_issuance(store::Transaction& tx, std::string_view registered_domain,
                              std::string_view order, SysTime at) {
  return tx.execute(
      "INSERT INTO acme_domain_issuance (registered_domain, order_id, issued_at) VALUES (?, ?, ?) "
      "ON CONFLICT DO NOTHING",
      store::params(registered_domain, order, to_unix(at)));
}

Result<std::optional<Authorization>> find_authorization(store::Transaction& tx,
                                                        std::string_view id) {
  CW_ASSIGN_OR_RETURN(auto v, authorizations(tx, {std::string(id)}));
  if (v.empty()) return std::optional<Authorization>();
  return std::optional<Authorization>(std::move(v.front()));
}

Result<std::optional<std::string>> reusable_authorization(store::Transaction& tx,
                                                          std::string_view account,
                                                          const Identifier& id, bool wildcard,
                                                          SysTime valid_until) {
  CW_ASSIGN_OR_RETURN(
      auto row,
      tx.query_one("SELECT id FROM acme_authorizations WHERE account = ? AND "
                   "identifier_value = ? AND identifier_type = ? AND wildcard = ? AND "
                   "status = 'valid' AND expires > ? ORDER BY expires DESC LIMIT 1",
                   store::params(account, id.value, id.type, wildcard, to_unix(valid_until))));
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(row->text(0));
}

Status insert_authorization(store::Transaction& tx, const Authorization& a) {
  CW_RETURN_IF_ERROR(tx.execute(
      "INSERT INTO acme_authorizations (id, account, identifier_type, identifier_value, wildcard, "
      "status, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
      store::params(a.id, a.account, a.identifier.type, a.identifier.value, a.wildcard, a.status,
                    to_unix(a.expires))));
  for (const auto& c : a.challenges) {
    CW_RETURN_IF_ERROR(tx.execute(
        "INSERT INTO acme_challenges (id, authz, type, token, status, validated, error, records) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        store::params(c.id, a.id, c.type, c.token, c.status, opt_unix(c.validated),
                      opt_dump(c.error), c.records.dump())));
  }
  return ok();
}

Status set_authorization_status(store::Transaction& tx, std::string_view id,
                                std::string_view status, std::optional<SysTime> expires) {
  if (expires) {
    return tx.execute("UPDATE acme_authorizations SET status = ?, expires = ? WHERE id = ?",
                      store::params(status, to_unix(*expires), id));
  }
  return tx.execute("UPDATE acme_authorizations SET status = ? WHERE id = ?",
                    store::params(status, id));
}

Result<std::vector<Authorization>> authorizations(store::Transaction& tx,
                                                  const std::vector<std::string>& ids) {
  std::vector<Authorization> out;
  if (ids.empty()) return out;
  std::string in = "?";
  for (std::size_t i = 1; i < ids.size(); ++i) in += ", ?";
  std::vector<store::Value> params(ids.begin(), ids.end());
  CW_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT " + std::string(kAuthzColumns) +
                                              " FROM acme_authorizations WHERE id IN (" + in + ")",
                                          params));
  CW_ASSIGN_OR_RETURN(
      auto chals, tx.query("SELECT " + std::string(kChallengeColumns) +
                               " FROM acme_challenges WHERE authz IN (" + in + ") ORDER BY type",
                           params));
  // In the order asked for: an order lists its authorizations in identifier order.
  for (const auto& id : ids) {
    for (const auto& r : rows) {
      if (r.text(0) != id) continue;
      Authorization a = authz_from(r);
      for (const auto& c : chals) {
        if (c.text(1) == a.id) a.challenges.push_back(challenge_from(c));
      }
      out.push_back(std::move(a));
    }
  }
  return out;
}

Result<std::optional<Challenge>> find_challenge(store::Transaction& tx, std::string_view id) {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kChallengeColumns) +
                                                 " FROM acme_challenges WHERE id = ?",
                                             store::params(id)));
  if (!row) return std::optional<Challenge>();
  return std::optional<Challenge>(challenge_from(*row));
}

Result<bool> start_challenge(store::Transaction& tx, std::string_view id, SysTime now) {
  CW_ASSIGN_OR_RETURN(
      auto n, tx.execute_count("UPDATE acme_challenges SET status = 'processing', started_at = ? "
                               "WHERE id = ? AND (status = 'pending' OR (status = 'processing' "
                               "AND started_at < ?))",
                               store::params(to_unix(now), id, to_unix(now - kStaleProcessing))));
  return n == 1;
}

Status finish_challenge(store::Transaction& tx, const Challenge& c) {
  return tx.execute(
      "UPDATE acme_challenges SET status = ?, validated = ?, error = ?, records = ? WHERE id = ?",
      store::params(c.status, opt_unix(c.validated), opt_dump(c.error), c.records.dump(), c.id));
}

}  // namespace certward::protocols::acme
