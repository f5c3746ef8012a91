#pragma once
// The ACME server's own tables (accounts, orders, authorizations, challenges) and the SQL that
// reads and writes them; nothing else touches these tables. Every function works inside the
// caller's transaction, so one ACME request is one transaction.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "protocols/acme/problem.h"
#include "store/store.h"

namespace certward::protocols::acme {

struct Account {
  std::string id;
  std::string directory;   // "" for the default directory
  std::string thumbprint;  // RFC 7638 of the account key
  nlohmann::json jwk;      // the public key, as the client sent it
  std::string status;      // valid | deactivated | revoked
  std::vector<std::string> contact;
  bool tos_agreed = false;
  std::optional<std::string> eab_kid;
  std::optional<std::string> team;  // from the EAB key: the account's grant
  SysTime created_at{};
};

struct Challenge {
  std::string id;
  std::string authz;
  std::string type;                   // http-01 | dns-01 | tls-alpn-01
  std::string token;                  // base64url, 128 bits
  std::string status;                 // pending | processing | valid | invalid
  std::optional<SysTime> started_at;  // when a response started its validation
  std::optional<SysTime> validated;
  std::optional<nlohmann::json> error;  // a problem document
  nlohmann::json records = nlohmann::json::array();
};

struct Authorization {
  std::string id;
  std::string account;
  Identifier identifier;  // without the "*." of a wildcard
  bool wildcard = false;
  std::string status;  // pending | valid | invalid | deactivated | expired | revoked
  SysTime expires{};
  std::vector<Challenge> challenges;
};

struct Order {
  std::string id;
  std::string account;
  std::string status;  // stored: pending | processing | valid | invalid (ready is derived)
  std::vector<Identifier> identifiers;
  std::vector<std::string> authorizations;  // ids, in the order of identifiers
  std::string profile;
  std::optional<SysTime> not_before;
  std::optional<SysTime> not_after;
  SysTime expires{};
  std::optional<nlohmann::json> error;
  std::optional<std::string> certificate;   // fingerprint
  std::optional<std::string> chain_pem;     // leaf first, as downloaded
  std::optional<std::string> replaces;      // fingerprint of the certificate it replaces
  std::optional<std::string> replaces_id;   // the same, as the client named it (RFC 9773 certID)
  std::optional<SysTime> processing_since;  // when a finalize claimed it
  SysTime created_at{};
};

Status migrate(store::Database& db);

// A fresh random id (base64url, 96 bits) for accounts, orders, authorizations, challenges.
std::string new_id();

Result<std::optional<Account>> find_account(store::Transaction& tx, std::string_view id);
Result<std::optional<Account>> find_account_by_key(store::Transaction& tx,
                                                   std::string_view directory,
                                                   std::string_view thumbprint);
Status insert_account(store::Transaction& tx, const Account& a, std::string_view from_address);
Status update_account(store::Transaction& tx, const Account& a);  // status, contact, key
// Accounts created from `address` since `since` (rate limit).
Result<std::int64_t> accounts_from(store::Transaction& tx, std::string_view address, SysTime since);

Result<std::optional<Order>> find_order(store::Transaction& tx, std::string_view id);
Status insert_order(store::Transaction& tx, const Order& o);
Status update_order(store::Transaction& tx, const Order& o);  // status, error, certificate
// How long an order or a challenge may stay "processing" before it is taken for abandoned (a
// process that stopped between claiming it and recording the outcome): a finalize or a
// challenge response may then start it again. Far above a validation's or an issuance's time.
inline constexpr std::chrono::minutes kStaleProcessing{10};

// Moves a ready order (or one abandoned in processing) to processing; false when another
// request did first.
Result<bool> claim_order(store::Transaction& tx, std::string_view id, SysTime now);
// Orders of an account, newest first, after the keyset cursor `before` (created_at, id).
Result<std::vector<Order>> account_orders(store::Transaction& tx, std::string_view account,
                                          std::size_t limit);
Result<std::int64_t> orders_since(store::Transaction& tx, std::string_view account, SysTime since);
Result<std::int64_t> pending_orders(store::Transaction& tx, std::string_view account, SysTime now);
// The orders that replaced or may still replace this certificate: not invalid, and pending
// ones unexpired (the caller checks their authorizations).
Result<std::vector<Order>> orders_replacing(store::Transaction& tx, std::string_view fingerprint,
                                            SysTime now);
// The order that produced this certificate.
Result<std::optional<Order>> order_for_certificate(store::Transaction& tx,
                                                   std::string_view fingerprint);
// Certificates issued through ACME for names under `registered_domain` since `since`.
Result<std::int64_t> certificates_for_domain(store::Transaction& tx,
                                             std::string_view registered_domain, SysTime since);
Status record_domain_issuance(store::Transaction& tx, std::string_view registered_domain,
                              std::string_view order, SysTime at);

Result<std::optional<Authorization>> find_authorization(store::Transaction& tx,
                                                        std::string_view id);
// A valid, unexpired authorization of `account` for the identifier, to reuse.
Result<std::optional<std::string>> reusable_authorization(store::Transaction& tx,
                                                          std::string_view account,
                                                          const Identifier& id, bool wildcard,
                                                          SysTime valid_until);
Status insert_authorization(store::Transaction& tx, const Authorization& a);
Status set_authorization_status(store::Transaction& tx, std::string_view id,
                                std::string_view status, std::optional<SysTime> expires);
Result<std::vector<Authorization>> authorizations(store::Transaction& tx,
                                                  const std::vector<std::string>& ids);

Result<std::optional<Challenge>> find_challenge(store::Transaction& tx, std::string_view id);
// Moves a pending challenge (or one abandoned in processing) to processing; false otherwise.
Result<bool> start_challenge(store::Transaction& tx, std::string_view id, SysTime now);
Status finish_challenge(store::Transaction& tx, const Challenge& c);

}  // namespace certward::protocols::acme
