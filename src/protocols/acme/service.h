#pragma once
// The ACME server's operations (RFC 8555 section 7, RFC 9773 renewal information, the ACME
// profiles extension), over its own tables and the domain services. The HTTP layer
// (routes.cc) has already checked the JWS, the nonce, the URL and the account; everything
// here is about the resources. Issuance goes through the one RA (Channel::kAcme) and
// revocation through the revocation service: profile, policy and audit of certificates happen
// there; what is audited here are the ACME account and order changes.
//
// Thread-safe.

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/eab.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/revocation.h"
#include "common/config.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "protocols/acme/directories.h"
#include "protocols/acme/jws.h"
#include "protocols/acme/problem.h"
#include "protocols/acme/store.h"
#include "protocols/acme/validator.h"
#include "store/group_writer.h"

namespace certward::protocols::acme {

// Where the request came from and which directory it addressed: URLs are built from the
// scheme and host the client used.
struct Context {
  const Directory& directory;
  std::string base;  // "https://acme.example.com:8443"
  std::string remote_address;
  // Keeps `directory` alive while the request runs: an API change replaces it meanwhile.
  std::shared_ptr<const Directory> held;

  std::string url(std::string_view path) const;  // base + prefix + path
};

// What an operation answers: a JSON resource (or a PEM chain), its status and headers.
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::optional<std::string> raw;  // instead of body: the certificate chain
  std::string content_type = "application/json";
  std::optional<std::string> location;
  std::vector<std::string> links;  // full Link header values
  std::optional<int> retry_after;
};

// Who signed an account-less request (newAccount, revokeCert with the certificate's key), or
// the new key of a keyChange.
struct SignerKey {
  Jwk key;
  const std::string& thumbprint() const { return key.thumbprint(); }
  const nlohmann::json& jwk() const { return key.json(); }
};

struct Services {
  const Clock& clock;
  store::Database& db;
  const AcmeSettings& settings;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  ca::RevocationService& revocation;
  const inventory::Inventory& inventory;
  auth::EabKeys& eab;
  auth::AuthService& auth;
  const audit::AuditLog& audit;
};

class Service {
 public:
  Service(Services services, Validator& validator);
  ~Service();  // stops the completion thread after storing what it holds
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  static Status migrate(store::Database& db);

  nlohmann::json directory(const Context& ctx) const;

  // The valid account `id` of the directory with its parsed key. Served from a per-replica
  // cache for kAccountCacheTtl (a deactivation or key change made through another replica
  // takes effect within it; through this one, at once).
  struct KeyedAccount {
    Account account;
    Jwk key;
  };
  static constexpr std::chrono::seconds kAccountCacheTtl{5};
  Outcome<std::shared_ptr<const KeyedAccount>> account(const Context& ctx, std::string_view id);

  // `eab_verified`: the EAB key id whose binding the HTTP layer verified (its MAC and key).
  Outcome<Reply> new_account(const Context& ctx, const SignerKey& key,
                             const nlohmann::json& payload,
                             const std::optional<std::string>& eab_verified);
  // The EAB key with its MAC key, for the HTTP layer to verify a binding; nullopt if unknown.
  Outcome<std::optional<auth::EabSecret>> eab_secret(std::string_view kid);
  Outcome<Reply> get_account(const Context& ctx, const Account& account);
  Outcome<Reply> update_account(const Context& ctx, Account account, const nlohmann::json& payload);
  Outcome<Reply> account_orders(const Context& ctx, const Account& account);
  Outcome<Reply> key_change(const Context& ctx, Account account, const SignerKey& new_key);

  Outcome<Reply> new_order(const Context& ctx, const Account& account,
                           const nlohmann::json& payload);
  Outcome<Reply> get_order(const Context& ctx, const Account& account, std::string_view id);
  Outcome<Reply> finalize(const Context& ctx, const Account& account, std::string_view id,
                          const nlohmann::json& payload);
  // The chain the order was issued with (`alternate` 0) or, from 1, one of its alternate
  // chains through cross-certificates (RFC 8555 7.4.2); each answer links to the others.
  Outcome<Reply> certificate(const Context& ctx, const Account& account, std::string_view id,
                             std::size_t alternate = 0);

  Outcome<Reply> get_authorization(const Context& ctx, const Account& account, std::string_view id,
                                   const nlohmann::json* payload);
  Outcome<Reply> challenge(const Context& ctx, const Account& account, std::string_view id,
                           const nlohmann::json* payload);

  // `account` or `key`: who signed (the account, or the certificate's own key).
  Outcome<Reply> revoke(const Context& ctx, const Account* account, const SignerKey* key,
                        const nlohmann::json& payload);

  Outcome<Reply> renewal_info(const Context& ctx, std::string_view cert_id);

  // Waits until every validation result received so far is stored (tests, shutdown).
  void flush();

 private:
  struct Completion {
    std::string challenge;
    std::string authz;
    std::string account;
    ValidationRequest request;
    ValidationResult result;
    int attempt = 0;
  };
  void completion_loop();
  void store_completions(std::vector<Completion> batch);
  void submit(ValidationRequest request, std::string challenge, std::string authz,
              std::string account, int attempt);

  Outcome<nlohmann::json> order_json(const Context& ctx, store::Transaction& tx, Order& order);
  nlohmann::json authz_json(const Context& ctx, const Authorization& a) const;
  nlohmann::json challenge_json(const Context& ctx, const Challenge& c) const;
  Outcome<std::optional<ca::Scope>> scope_of(const Account& account) const;
  ca::Requester requester_of(const Account& account, const std::optional<ca::Scope>& scope) const;
  // The fingerprint of the certificate a newOrder's "replaces" names (RFC 9773 5): one this
  // account was issued, sharing an identifier with the order, not replaced yet.
  Outcome<std::string> replaced_certificate(const Context& ctx, store::Transaction& tx,
                                            const Account& account, std::string_view cert_id,
                                            const std::vector<Identifier>& identifiers);
  // The certificate an ARI certID names, as the inventory has it.
  Outcome<inventory::CertificateRecord> find_by_cert_id(std::string_view cert_id);
  Outcome<Order> issue(const Context& ctx, const Account& account, Order order,
                       const x509::Csr& csr);

  // Runs `body` as one unit of the group writer (store::GroupWriter): the ACME writes of
  // concurrent requests share a transaction and its commit. A refusal from `body` rolls back
  // what it wrote. `body` may run more than once; side effects belong after write() returns.
  template <typename T>
  Outcome<T> write(const std::function<Outcome<T>(store::Transaction&)>& body) {
    std::optional<Outcome<T>> result;
    const Status s = writer_.run([&](store::Transaction& tx) -> Status {
      result = body(tx);
      if (!*result) return fail(ErrorCode::kConflict, "refused");
      return ok();
    });
    if (result && !*result) return std::move(*result);
    if (!s) return std::unexpected(problem_for(s.error()));
    return std::move(*result);
  }

  void forget_account(const std::string& id) CW_EXCLUDES(cache_mu_);
  // externalAccountRequired when the directory requires EAB and `account` is not bound.
  Outcome<void> binding_required(const Context& ctx, const Account& account) const;

  Services s_;
  Validator& validator_;
  store::GroupWriter writer_;

  struct CachedAccount {
    std::shared_ptr<const KeyedAccount> value;
    SysTime loaded;
  };
  mutable common::Mutex cache_mu_;
  std::unordered_map<std::string, CachedAccount> accounts_ CW_GUARDED_BY(cache_mu_);

  mutable common::Mutex mu_;
  common::CondVar cv_;
  std::deque<Completion> done_ CW_GUARDED_BY(mu_);
  std::size_t storing_ CW_GUARDED_BY(mu_) = 0;
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  std::thread completer_;
};

// An RFC 3339 time as ACME clients write it: fractions of a second and offsets allowed
// (common/clock.h's parse_time takes UTC only). Times are written with format_time.
Result<SysTime> parse_rfc3339(std::string_view text);
// The registered domain a rate limit counts by: the last two labels ("a.b.example.com" ->
// "example.com"); an IP address is its own.
std::string registered_domain(const Identifier& id);

}  // namespace certward::protocols::acme
