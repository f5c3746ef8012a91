// Accounts, orders, authorizations and challenges (RFC 8555 7.1-7.5), and the validation
// results coming back from the validator. Finalization, certificates, revocation and renewal
// information are in certificates.cc.

#include "protocols/acme/service.h"

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "crypto/crypto.h"
#include "x509/names.h"

namespace certward::protocols::acme {
namespace {

constexpr std::size_t kMaxIdentifiers = 100;
constexpr std::size_t kMaxContacts = 4;
constexpr std::size_t kOrdersPage = 1000;

audit::Event event(const Account& account, std::string action, std::string type, std::string id) {
  audit::Event e;
  e.actor = "acme:" + account.id;
  e.action = std::move(action);
  e.target_type = std::move(type);
  e.target_id = std::move(id);
  return e;
}

// A boolean member of a payload: absent is false, anything but true/false is malformed.
Outcome<bool> flag(const nlohmann::json& payload, const char* key) {
  if (!payload.contains(key)) return false;
  if (!payload[key].is_boolean())
    return refuse("malformed", std::string(key) + " is true or false");
  return payload[key].get<bool>();
}

// RFC 8555 7.3: mailto: URLs, one address each, no hfields; anything else is refused.
Outcome<std::vector<std::string>> parse_contacts(const nlohmann::json& payload) {
  std::vector<std::string> out;
  if (!payload.contains("contact")) return out;
  const auto& c = payload["contact"];
  if (!c.is_array()) return refuse("malformed", "contact must be an array of URLs");
  if (c.size() > kMaxContacts)
    return refuse("invalidContact", "at most " + std::to_string(kMaxContacts) + " contacts");
  for (const auto& v : c) {
    if (!v.is_string()) return refuse("malformed", "contact must be an array of URLs");
    const std::string url = v.get<std::string>();
    if (!url.starts_with("mailto:"))
      return refuse("unsupportedContact", "only mailto: contacts are supported");
    const std::string address = url.substr(7);
    const auto at = address.find('@');
    const bool shape = !address.empty() && address.size() <= 254 && at != std::string::npos &&
                       at > 0 && at + 1 < address.size() &&
                       address.find_first_of(",?%<> \t\r\n\"") == std::string::npos &&
                       address.find('@', at + 1) == std::string::npos;
    if (!shape) return refuse("invalidContact", "'" + url + "' is not a mailto: address");
    auto domain = x509::check_san({x509::SanType::kDns, address.substr(at + 1)});
    if (!domain || domain->value.find('.') == std::string::npos || domain->value.starts_with("*"))
      return refuse("invalidContact", "'" + url + "' has no valid domain");
    out.push_back(url);
  }
  return out;
}

// One identifier of a newOrder, checked and in canonical form.
Outcome<std::pair<Identifier, bool>> parse_identifier(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("type") || !j.contains("value") || !j["type"].is_string() ||
      !j["value"].is_string())
    return refuse("malformed", "an identifier is {\"type\", \"value\"}");
  Identifier id{j["type"].get<std::string>(), j["value"].get<std::string>()};
  if (id.type == "dns") {
    std::string value = id.value;
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto san = x509::check_san({x509::SanType::kDns, value});
    if (!san) return refuse("rejectedIdentifier", san.error().message);
    const bool wildcard = san->value.starts_with("*.");
    return std::pair{Identifier{"dns", san->value}, wildcard};
  }
  if (id.type == "ip") {
    auto san = x509::check_san({x509::SanType::kIp, id.value});
    if (!san) return refuse("rejectedIdentifier", san.error().message);
    return std::pair{Identifier{"ip", san->value}, false};
  }
  return refuse("unsupportedIdentifier", "identifier type '" + id.type + "' is not supported");
}

x509::SubjectAltName san_of(const Identifier& id) {
  return {id.type == "ip" ? x509::SanType::kIp : x509::SanType::kDns, id.value};
}

// The identifier an authorization is about: without the "*." of a wildcard (RFC 8555 7.1.4).
Identifier authz_identifier(const Identifier& id) {
  if (id.type == "dns" && id.value.starts_with("*.")) return {"dns", id.value.substr(2)};
  return id;
}

std::vector<Challenge> challenges_for(const Identifier& id, bool wildcard) {
  std::vector<std::string> types;
  if (wildcard) {
    types = {"dns-01"};  // RFC 8555 8.4: only DNS proves control of a whole zone
  } else if (id.type == "ip") {
    types = {"http-01", "tls-alpn-01"};  // RFC 8738 7: no dns-01 for addresses
  } else {
    types = {"http-01", "dns-01", "tls-alpn-01"};
  }
  std::vector<Challenge> out;
  for (auto& t : types) {
    Challenge c;
    c.id = new_id();
    c.type = t;
    c.token = to_base64url(crypto::random_bytes(16));
    c.status = "pending";
    out.push_back(std::move(c));
  }
  return out;
}

bool authz_dead(const Authorization& a, SysTime now) {
  return a.status == "invalid" || a.status == "deactivated" || a.status == "revoked" ||
         a.expires <= now;
}

std::string effective_authz_status(const Authorization& a, SysTime now) {
  if ((a.status == "pending" || a.status == "valid") && a.expires <= now) return "expired";
  return a.status;
}

// RFC 8555 8.3 and 8.4's validationRecord.
nlohmann::json record_json(const ValidationRecord& r) {
  nlohmann::json j = {{"hostname", r.hostname}};
  if (!r.url.empty()) j["url"] = r.url;
  if (r.port != 0) j["port"] = std::to_string(r.port);
  if (!r.addresses_resolved.empty()) j["addressesResolved"] = r.addresses_resolved;
  if (!r.address_used.empty()) j["addressUsed"] = r.address_used;
  if (!r.addresses_tried.empty()) j["addressesTried"] = r.addresses_tried;
  return j;
}

ChallengeType challenge_type(std::string_view t) {
  if (t == "dns-01") return ChallengeType::kDns01;
  if (t == "tls-alpn-01") return ChallengeType::kTlsAlpn01;
  return ChallengeType::kHttp01;
}

}  // namespace

std::string Context::url(std::string_view path) const {
  return base + directory.prefix + std::string(path);
}

Service::Service(Services services, Validator& validator)
    : s_(std::move(services)), validator_(validator), writer_(s_.db) {
  completer_ = std::thread([this] {
    common::name_this_thread("acme-completer");
    completion_loop();
  });
}

Service::~Service() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  completer_.join();
}

Status Service::migrate(store::Database& db) { return acme::migrate(db); }

nlohmann::json Service::directory(const Context& ctx) const {
  const auto& d = ctx.directory.settings;
  nlohmann::json meta = {{"externalAccountRequired", d.external_account_required}};
  if (!d.terms_of_service.empty()) meta["termsOfService"] = d.terms_of_service;
  if (!d.website.empty()) meta["website"] = d.website;
  if (!d.caa_identities.empty()) meta["caaIdentities"] = d.caa_identities;
  nlohmann::json profiles = nlohmann::json::object();
  for (const auto& name : d.profiles) {
    auto p = s_.profiles.find(name);
    profiles[name] = p ? (*p)->description : std::string();
  }
  meta["profiles"] = profiles;
  return {{"newNonce", ctx.url("/new-nonce")},
          {"newAccount", ctx.url("/new-account")},
          {"newOrder", ctx.url("/new-order")},
          {"revokeCert", ctx.url("/revoke-cert")},
          {"keyChange", ctx.url("/key-change")},
          {"renewalInfo", ctx.url("/renewal-info")},
          {"meta", meta}};
}

Outcome<std::shared_ptr<const Service::KeyedAccount>> Service::account(const Context& ctx,
                                                                       std::string_view id) {
  const SysTime now = s_.clock.now();
  std::shared_ptr<const KeyedAccount> found;
  {
    common::MutexLock lock(cache_mu_);
    auto it = accounts_.find(std::string(id));
    if (it != accounts_.end() && now - it->second.loaded < kAccountCacheTtl)
      found = it->second.value;
  }
  if (!found) {
    auto tx = s_.db.begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(problem_for(tx.error()));
    auto a = find_account(**tx, id);
    if (!a) return std::unexpected(problem_for(a.error()));
    if (!*a) return refuse("accountDoesNotExist", "no such account");
    auto key = parse_jwk((*a)->jwk);
    if (!key) return refuse("serverInternal", "the account's stored key does not parse");
    found = std::make_shared<const KeyedAccount>(KeyedAccount{std::move(**a), std::move(*key)});
    common::MutexLock lock(cache_mu_);
    // Bounded: a flood of distinct accounts empties it rather than growing it.
    if (accounts_.size() >= 100'000) accounts_.clear();
    accounts_[found->account.id] = {found, now};
  }
  if (found->account.directory != ctx.directory.settings.name)
    return refuse("accountDoesNotExist", "no such account");
  if (found->account.status != "valid")
    return refuse("unauthorized", "the account is " + found->account.status);
  if (auto r = binding_required(ctx, found->account); !r) return std::unexpected(r.error());
  return found;
}

Outcome<void> Service::binding_required(const Context& ctx, const Account& account) const {
  // A directory that requires EAB since after the account was made (changed, or deleted and
  // made again under its name) serves none of its unbound accounts: they would order under a
  // grant nobody gave them.
  if (ctx.directory.settings.external_account_required && !account.eab_kid)
    return refuse("externalAccountRequired",
                  "this directory requires external account binding, and this account has none: "
                  "register a new one with an EAB key");
  return {};
}

void Service::forget_account(const std::string& id) {
  common::MutexLock lock(cache_mu_);
  accounts_.erase(id);
}

namespace {

nlohmann::json account_json(const Context& ctx, const Account& a) {
  nlohmann::json j = {{"status", a.status},
                      {"contact", a.contact},
                      {"termsOfServiceAgreed", a.tos_agreed},
                      {"orders", ctx.url("/account/" + a.id + "/orders")},
                      {"key", a.jwk},
                      {"createdAt", format_time(a.created_at)}};
  if (a.eab_kid) j["externalAccountBinding"] = {{"kid", *a.eab_kid}};
  return j;
}

Reply account_reply(const Context& ctx, const Account& a, int status) {
  Reply r;
  r.status = status;
  r.body = account_json(ctx, a);
  r.location = ctx.url("/account/" + a.id);
  return r;
}

}  // namespace

Outcome<Reply> Service::new_account(const Context& ctx, const SignerKey& key,
                                    const nlohmann::json& payload,
                                    const std::optional<std::string>& eab_verified) {
  const auto& d = ctx.directory.settings;
  if (!payload.is_object()) return refuse("malformed", "the payload must be a JSON object");
  auto only_existing = flag(payload, "onlyReturnExisting");
  if (!only_existing) return std::unexpected(only_existing.error());
  auto agreed = flag(payload, "termsOfServiceAgreed");
  if (!agreed) return std::unexpected(agreed.error());
  return write<Reply>([&](store::Transaction& tx) -> Outcome<Reply> {
    auto existing = find_account_by_key(tx, d.name, key.thumbprint());
    if (!existing) return std::unexpected(problem_for(existing.error()));
    if (*existing) {
      // RFC 8555 7.3.1: the key's account, 200, whatever else the request says.
      if ((*existing)->status != "valid")
        return refuse("unauthorized", "the account is " + (*existing)->status);
      if (auto r = binding_required(ctx, **existing); !r) return std::unexpected(r.error());
      return account_reply(ctx, **existing, 200);
    }
    if (*only_existing) return refuse("accountDoesNotExist", "no account for this key");
    auto contacts = parse_contacts(payload);
    if (!contacts) return std::unexpected(contacts.error());
    if (!d.terms_of_service.empty() && !*agreed)
      return refuse("userActionRequired", "agree to the terms of service: " + d.terms_of_service);
    if (d.external_account_required && !eab_verified)
      return refuse("externalAccountRequired", "this directory requires external account binding");

    const SysTime now = s_.clock.now();
    if (const int limit = s_.settings.new_accounts_per_address_per_hour; limit > 0) {
      const std::string host = ctx.remote_address.substr(0, ctx.remote_address.rfind(':'));
      auto n = accounts_from(tx, host, now - std::chrono::hours(1));
      if (!n) return std::unexpected(problem_for(n.error()));
      if (*n >= limit) {
        Problem p = problem("rateLimited", "too many new accounts from this address; retry later");
        p.retry_after = 3600;
        return std::unexpected(p);
      }
    }
    Account a;
    a.id = new_id();
    a.directory = d.name;
    a.thumbprint = key.thumbprint();
    a.jwk = key.jwk();
    a.status = "valid";
    a.contact = std::move(*contacts);
    a.tos_agreed = *agreed;
    a.created_at = now;
    if (eab_verified) {
      auto secret = s_.eab.secret(*eab_verified);
      if (!secret) return std::unexpected(problem_for(secret.error()));
      if (!*secret) return refuse("unauthorized", "unknown external account key");
      const auto& info = (*secret)->info;
      if (info.directory && *info.directory != d.name)
        return refuse("unauthorized", "the external account key is for another directory");
      a.eab_kid = info.kid;
      a.team = info.team;
      if (auto s = s_.eab.bind(tx, info.kid, a.id); !s)
        return refuse("unauthorized", "the external account key is already bound or revoked");
    }
    const std::string host = ctx.remote_address.substr(0, ctx.remote_address.rfind(':'));
    if (auto s = insert_account(tx, a, host); !s) return std::unexpected(problem_for(s.error()));
    audit::Event e = event(a, "acme.account.create", "acme_account", a.id);
    e.details = {{"directory", d.name}, {"thumbprint", a.thumbprint}};
    if (a.team) e.details["team"] = *a.team;
    if (a.eab_kid) e.details["eab_kid"] = *a.eab_kid;
    if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
    return account_reply(ctx, a, 201);
  });
}

Outcome<std::optional<auth::EabSecret>> Service::eab_secret(std::string_view kid) {
  auto secret = s_.eab.secret(kid);
  if (!secret) return std::unexpected(problem_for(secret.error()));
  return std::move(*secret);
}

Outcome<Reply> Service::get_account(const Context& ctx, const Account& account) {
  return account_reply(ctx, account, 200);
}

Outcome<Reply> Service::update_account(const Context& ctx, Account account,
                                       const nlohmann::json& payload) {
  if (!payload.is_object()) return refuse("malformed", "the payload must be a JSON object");
  bool changed = false;
  nlohmann::json details = nlohmann::json::object();
  if (payload.contains("contact")) {
    auto contacts = parse_contacts(payload);
    if (!contacts) return std::unexpected(contacts.error());
    if (*contacts != account.contact) {
      account.contact = std::move(*contacts);
      details["contact"] = account.contact;
      changed = true;
    }
  }
  std::string action = "acme.account.update";
  if (payload.contains("status")) {
    if (payload["status"] != "deactivated")
      return refuse("malformed", "an account's status can only be set to \"deactivated\"");
    account.status = "deactivated";
    action = "acme.account.deactivate";
    changed = true;
  }
  if (payload.contains("termsOfServiceAgreed") && payload["termsOfServiceAgreed"] == true &&
      !account.tos_agreed) {
    account.tos_agreed = true;
    changed = true;
  }
  if (!changed) return account_reply(ctx, account, 200);
  auto out = write<Reply>([&](store::Transaction& tx) -> Outcome<Reply> {
    auto current = find_account(tx, account.id);
    if (!current) return std::unexpected(problem_for(current.error()));
    if (!*current || (*current)->status != "valid")
      return refuse("unauthorized", "the account is not valid");
    if (auto s = acme::update_account(tx, account); !s)
      return std::unexpected(problem_for(s.error()));
    audit::Event e = event(account, action, "acme_account", account.id);
    e.details = details;
    if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
    return account_reply(ctx, account, 200);
  });
  // The next request reads the account afresh, here; other replicas within the cache TTL.
  forget_account(account.id);
  return out;
}

Outcome<Reply> Service::account_orders(const Context& ctx, const Account& account) {
  auto tx = s_.db.begin(store::TxMode::kRead);
  if (!tx) return std::unexpected(problem_for(tx.error()));
  auto orders = acme::account_orders(**tx, account.id, kOrdersPage);
  if (!orders) return std::unexpected(problem_for(orders.error()));
  nlohmann::json urls = nlohmann::json::array();
  for (const auto& o : *orders) urls.push_back(ctx.url("/order/" + o.id));
  Reply r;
  r.body = {{"orders", urls}};
  return r;
}

Outcome<Reply> Service::key_change(const Context& ctx, Account account, const SignerKey& new_key) {
  // Outside the unit, which may run more than once: the second run sees account changed.
  const std::string old = account.thumbprint;
  auto out = write<Reply>([&](store::Transaction& tx) -> Outcome<Reply> {
    auto taken = find_account_by_key(tx, account.directory, new_key.thumbprint());
    if (!taken) return std::unexpected(problem_for(taken.error()));
    if (*taken) {
      // RFC 8555 7.3.5: say which account holds the key.
      Problem p = problem("conflict", "the new key already belongs to an account");
      p.location = ctx.url("/account/" + (*taken)->id);
      return std::unexpected(p);
    }
    account.thumbprint = new_key.thumbprint();
    account.jwk = new_key.jwk();
    if (auto s = acme::update_account(tx, account); !s)
      return std::unexpected(problem_for(s.error()));
    audit::Event e = event(account, "acme.account.key_change", "acme_account", account.id);
    e.details = {{"old_thumbprint", old}, {"new_thumbprint", account.thumbprint}};
    if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
    return account_reply(ctx, account, 200);
  });
  // The next request reads the account afresh, here; other replicas within the cache TTL.
  forget_account(account.id);
  return out;
}

Outcome<std::optional<ca::Scope>> Service::scope_of(const Account& account) const {
  if (!account.team) return std::optional<ca::Scope>();
  auto teams = s_.auth.list_teams();
  if (!teams) return std::unexpected(problem_for(teams.error()));
  for (const auto& t : *teams) {
    if (t.name == *account.team) {
      return std::optional<ca::Scope>(
          ca::Scope{t.allowed_profiles, t.allowed_domains, t.allowed_authorities});
    }
  }
  // The team is gone: the account can issue nothing.
  return std::optional<ca::Scope>(ca::Scope{});
}

ca::Requester Service::requester_of(const Account& account,
                                    const std::optional<ca::Scope>& scope) const {
  return ca::Requester{.actor = "acme:" + account.id, .team = account.team, .scope = scope};
}

Outcome<Reply> Service::new_order(const Context& ctx, const Account& account,
                                  const nlohmann::json& payload) {
  const auto& d = ctx.directory;
  if (!payload.is_object() || !payload.contains("identifiers") ||
      !payload["identifiers"].is_array())
    return refuse("malformed", "newOrder needs an array of identifiers");
  const auto& ids = payload["identifiers"];
  if (ids.empty() || ids.size() > kMaxIdentifiers)
    return refuse("malformed",
                  "an order has 1 to " + std::to_string(kMaxIdentifiers) + " identifiers");

  // The profile (draft-ietf-acme-profiles): one the directory offers.
  std::string profile_name = d.default_profile;
  if (payload.contains("profile")) {
    if (!payload["profile"].is_string()) return refuse("malformed", "profile must be a string");
    profile_name = payload["profile"].get<std::string>();
    if (std::find(d.settings.profiles.begin(), d.settings.profiles.end(), profile_name) ==
        d.settings.profiles.end())
      return refuse("invalidProfile", "this directory offers no profile '" + profile_name + "'");
  }
  auto profile = s_.profiles.find(profile_name);
  if (!profile) return refuse("invalidProfile", "profile '" + profile_name + "' is unknown");

  Problem rejected = problem("rejectedIdentifier", "some identifiers cannot be issued for");
  std::vector<Identifier> identifiers;
  std::vector<bool> wildcard;
  auto scope = scope_of(account);
  if (!scope) return std::unexpected(scope.error());
  for (const auto& j : ids) {
    auto id = parse_identifier(j);
    if (!id) {
      if (id.error().type == "malformed") return std::unexpected(id.error());
      Identifier shown{j.value("type", ""), j.value("value", "")};
      rejected.subproblems.push_back({id.error().type, id.error().detail, shown});
      continue;
    }
    if (std::find(identifiers.begin(), identifiers.end(), id->first) != identifiers.end()) continue;
    const x509::SubjectAltName san = san_of(id->first);
    if (auto s = (*profile)->check_names({&san, 1}); !s) {
      rejected.subproblems.push_back({"rejectedIdentifier", s.error().message, id->first});
      continue;
    }
    if (*scope && id->first.type == "dns") {
      const std::string base = authz_identifier(id->first).value;
      const bool within =
          std::any_of((*scope)->domains.begin(), (*scope)->domains.end(),
                      [&](const std::string& suffix) { return ca::name_within(base, suffix); });
      if (!within) {
        rejected.subproblems.push_back(
            {"rejectedIdentifier", "outside the account's team's domains", id->first});
        continue;
      }
    }
    identifiers.push_back(id->first);
    wildcard.push_back(id->second);
  }
  if (!rejected.subproblems.empty()) {
    if (rejected.subproblems.size() == 1) rejected.type = rejected.subproblems.front().type;
    return std::unexpected(rejected);
  }

  const SysTime now = s_.clock.now();
  Order order;
  order.id = new_id();
  order.account = account.id;
  order.status = "pending";
  order.identifiers = identifiers;
  order.profile = profile_name;
  order.created_at = now;
  order.expires = now + s_.settings.order_lifetime;
  for (const char* field : {"notBefore", "notAfter"}) {
    if (!payload.contains(field)) continue;
    if (!payload[field].is_string()) return refuse("malformed", std::string(field) + " is a time");
    auto t = parse_rfc3339(payload[field].get<std::string>());
    if (!t) return refuse("malformed", std::string(field) + " is not an RFC 3339 time");
    (std::string_view(field) == "notBefore" ? order.not_before : order.not_after) = *t;
  }
  // Certificates start when they are issued (backdated a little by the RA): a notBefore in
  // the future would need the order kept until then, which no client asks for.
  if (order.not_before && (*order.not_before > now + std::chrono::minutes(5) ||
                           *order.not_before < now - std::chrono::hours(24)))
    return refuse("malformed", "notBefore must be now (certificates start when issued)");
  if (order.not_after) {
    if (*order.not_after <= now + std::chrono::minutes(10))
      return refuse("malformed", "notAfter must be in the future");
    if (*order.not_after - now > (*profile)->max_validity)
      return refuse("malformed", "notAfter is beyond the profile's longest validity");
  }

  return write<Reply>([&](store::Transaction& tx) -> Outcome<Reply> {
    // The unit may run again (a neighbour in its batch failed): start from no authorizations.
    order.authorizations.clear();
    if (const int limit = s_.settings.orders_per_account_per_hour; limit > 0) {
      auto n = orders_since(tx, account.id, now - std::chrono::hours(1));
      if (!n) return std::unexpected(problem_for(n.error()));
      if (*n >= limit) {
        Problem p = problem("rateLimited", "too many new orders for this account; retry later");
        p.retry_after = 3600;
        return std::unexpected(p);
      }
    }
    if (const int limit = s_.settings.pending_orders_per_account; limit > 0) {
      auto n = pending_orders(tx, account.id, now);
      if (!n) return std::unexpected(problem_for(n.error()));
      if (*n >= limit) {
        Problem p = problem("rateLimited", "too many pending orders for this account");
        p.retry_after = 600;
        return std::unexpected(p);
      }
    }
    if (const int limit = s_.settings.certificates_per_domain_per_week; limit > 0) {
      std::set<std::string> domains;
      for (const auto& id : identifiers) domains.insert(registered_domain(id));
      for (const auto& domain : domains) {
        auto n = certificates_for_domain(tx, domain, now - std::chrono::days(7));
        if (!n) return std::unexpected(problem_for(n.error()));
        if (*n >= limit) {
          Problem p = problem("rateLimited",
                              "too many certificates for " + domain + " this week; retry later");
          p.retry_after = 86400;
          p.subproblems.push_back(
              {"rateLimited", "certificates per registered domain", Identifier{"dns", domain}});
          return std::unexpected(p);
        }
      }
    }
    if (payload.contains("replaces")) {
      if (!payload["replaces"].is_string()) return refuse("malformed", "replaces is a certID");
      auto old = replaced_certificate(ctx, tx, account, payload["replaces"].get<std::string>(),
                                      identifiers);
      if (!old) return std::unexpected(old.error());
      order.replaces = *old;
      order.replaces_id = payload["replaces"].get<std::string>();
    }

    for (std::size_t i = 0; i < identifiers.size(); ++i) {
      const Identifier base = authz_identifier(identifiers[i]);
      auto reuse = reusable_authorization(tx, account.id, base, wildcard[i], order.expires);
      if (!reuse) return std::unexpected(problem_for(reuse.error()));
      if (*reuse) {
        order.authorizations.push_back(**reuse);
        continue;
      }
      Authorization a;
      a.id = new_id();
      a.account = account.id;
      a.identifier = base;
      a.wildcard = wildcard[i];
      a.status = "pending";
      a.expires = std::min(order.expires, now + s_.settings.pending_authorization_lifetime);
      a.challenges = challenges_for(base, wildcard[i]);
      if (auto s = insert_authorization(tx, a); !s) return std::unexpected(problem_for(s.error()));
      order.authorizations.push_back(a.id);
    }
    if (auto s = insert_order(tx, order); !s) {
      if (s.error().code == ErrorCode::kConflict)
        return refuse("alreadyReplaced", "another order already replaces that certificate");
      return std::unexpected(problem_for(s.error()));
    }
    audit::Event e = event(account, "acme.order.create", "acme_order", order.id);
    nlohmann::json names = nlohmann::json::array();
    for (const auto& id : identifiers) names.push_back(id.value);
    e.details = {{"identifiers", names}, {"profile", profile_name}};
    if (order.replaces) e.details["replaces"] = *order.replaces;
    if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
    auto body = order_json(ctx, tx, order);
    if (!body) return std::unexpected(body.error());
    Reply r;
    r.status = 201;
    r.body = std::move(*body);
    r.location = ctx.url("/order/" + order.id);
    return r;
  });
}

Outcome<nlohmann::json> Service::order_json(const Context& ctx, store::Transaction& tx,
                                            Order& order) {
  const SysTime now = s_.clock.now();
  std::string status = order.status;
  // An abandoned finalize: the order is ready again (claim_order takes it back).
  if (status == "processing" && order.processing_since &&
      *order.processing_since < now - kStaleProcessing)
    status = "pending";
  if (status == "pending") {
    auto authzs = authorizations(tx, order.authorizations);
    if (!authzs) return std::unexpected(problem_for(authzs.error()));
    const bool dead = order.expires <= now ||
                      std::any_of(authzs->begin(), authzs->end(),
                                  [&](const Authorization& a) { return authz_dead(a, now); });
    const bool ready = std::all_of(authzs->begin(), authzs->end(), [&](const Authorization& a) {
      return a.status == "valid" && a.expires > now;
    });
    status = dead ? "invalid" : ready ? "ready" : "pending";
  }
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& id : order.identifiers) ids.push_back(id.json());
  nlohmann::json authz_urls = nlohmann::json::array();
  for (const auto& a : order.authorizations) authz_urls.push_back(ctx.url("/authz/" + a));
  nlohmann::json j = {{"status", status},
                      {"expires", format_time(order.expires)},
                      {"identifiers", ids},
                      {"authorizations", authz_urls},
                      {"finalize", ctx.url("/order/" + order.id + "/finalize")},
                      {"profile", order.profile}};
  if (order.not_before) j["notBefore"] = format_time(*order.not_before);
  if (order.not_after) j["notAfter"] = format_time(*order.not_after);
  if (order.error) j["error"] = *order.error;
  if (order.replaces_id) j["replaces"] = *order.replaces_id;
  if (status == "valid" && order.certificate) j["certificate"] = ctx.url("/cert/" + order.id);
  order.status = status;
  return j;
}

Outcome<Reply> Service::get_order(const Context& ctx, const Account& account, std::string_view id) {
  auto tx = s_.db.begin(store::TxMode::kRead);
  if (!tx) return std::unexpected(problem_for(tx.error()));
  auto order = find_order(**tx, id);
  if (!order) return std::unexpected(problem_for(order.error()));
  if (!*order || (*order)->account != account.id) return refuse("notFound", "no such order");
  auto body = order_json(ctx, **tx, **order);
  if (!body) return std::unexpected(body.error());
  Reply r;
  r.body = std::move(*body);
  if ((*order)->status == "processing") r.retry_after = 1;
  return r;
}

nlohmann::json Service::challenge_json(const Context& ctx, const Challenge& c) const {
  nlohmann::json j = {{"type", c.type},
                      {"url", ctx.url("/chall/" + c.id)},
                      {"status", c.status},
                      {"token", c.token}};
  if (c.validated) j["validated"] = format_time(*c.validated);
  if (c.error) j["error"] = *c.error;
  if (!c.records.empty()) j["validationRecord"] = c.records;
  return j;
}

nlohmann::json Service::authz_json(const Context& ctx, const Authorization& a) const {
  nlohmann::json chals = nlohmann::json::array();
  for (const auto& c : a.challenges) {
    // RFC 8555 7.1.4: a valid authorization lists the challenge that validated it.
    if (a.status == "valid" && c.status != "valid") continue;
    chals.push_back(challenge_json(ctx, c));
  }
  nlohmann::json j = {{"identifier", a.identifier.json()},
                      {"status", effective_authz_status(a, s_.clock.now())},
                      {"expires", format_time(a.expires)},
                      {"challenges", chals}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

Outcome<Reply> Service::get_authorization(const Context& ctx, const Account& account,
                                          std::string_view id, const nlohmann::json* payload) {
  const bool deactivate = payload && payload->is_object() && payload->contains("status");
  if (deactivate && (*payload)["status"] != "deactivated")
    return refuse("malformed", "an authorization's status can only be set to \"deactivated\"");
  auto find = [&](store::Transaction& tx) -> Outcome<Authorization> {
    auto a = find_authorization(tx, id);
    if (!a) return std::unexpected(problem_for(a.error()));
    if (!*a || (*a)->account != account.id) return refuse("notFound", "no such authorization");
    return std::move(**a);
  };
  Outcome<Authorization> a = refuse("notFound", "no such authorization");
  if (deactivate) {
    a = write<Authorization>([&](store::Transaction& tx) -> Outcome<Authorization> {
      auto found = find(tx);
      if (!found) return found;
      if (found->status != "pending" && found->status != "valid")
        return refuse("malformed", "only a pending or valid authorization can be deactivated");
      if (auto s = set_authorization_status(tx, found->id, "deactivated", std::nullopt); !s)
        return std::unexpected(problem_for(s.error()));
      found->status = "deactivated";
      audit::Event e =
          event(account, "acme.authorization.deactivate", "acme_authorization", found->id);
      e.details = {{"identifier", found->identifier.value}};
      if (auto s = s_.audit.append(tx, e); !s) return std::unexpected(problem_for(s.error()));
      return found;
    });
  } else {
    auto tx = s_.db.begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(problem_for(tx.error()));
    a = find(**tx);
  }
  if (!a) return std::unexpected(a.error());
  Reply r;
  r.body = authz_json(ctx, *a);
  const bool validating = std::any_of(a->challenges.begin(), a->challenges.end(),
                                      [](const Challenge& c) { return c.status == "processing"; });
  if (a->status == "pending" && validating) r.retry_after = 1;
  return r;
}

Outcome<Reply> Service::challenge(const Context& ctx, const Account& account, std::string_view id,
                                  const nlohmann::json* payload) {
  std::optional<Challenge> c;
  std::optional<Authorization> a;
  {
    auto tx = s_.db.begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(problem_for(tx.error()));
    auto found = find_challenge(**tx, id);
    if (!found) return std::unexpected(problem_for(found.error()));
    if (!*found) return refuse("notFound", "no such challenge");
    c = std::move(**found);
    auto authz = find_authorization(**tx, c->authz);
    if (!authz) return std::unexpected(problem_for(authz.error()));
    // Another account's challenge is as absent as one that does not exist.
    if (!*authz || (*authz)->account != account.id) return refuse("notFound", "no such challenge");
    a = std::move(**authz);
  }
  Reply r;
  r.links.push_back("<" + ctx.url("/authz/" + a->id) + ">;rel=\"up\"");
  const SysTime now = s_.clock.now();
  const bool abandoned =
      c->status == "processing" && c->started_at && *c->started_at < now - kStaleProcessing;
  if (payload && (c->status == "pending" || abandoned) && a->status == "pending" &&
      a->expires > now) {
    // Only the request that moves it to processing starts a validation.
    auto started = write<bool>([&](store::Transaction& tx) -> Outcome<bool> {
      auto moved = start_challenge(tx, c->id, now);
      if (!moved) return std::unexpected(problem_for(moved.error()));
      return *moved;
    });
    if (!started) return std::unexpected(started.error());
    if (*started) {
      c->status = "processing";
      ValidationRequest req;
      req.type = challenge_type(c->type);
      req.identifier_type = a->identifier.type;
      req.identifier_value = a->identifier.value;
      req.token = c->token;
      req.key_authorization = c->token + "." + account.thumbprint;
      submit(std::move(req), c->id, a->id, account.id, 0);
    }
  }
  r.body = challenge_json(ctx, *c);
  // A client polls a challenge being validated; a second is about what validation takes.
  if (c->status == "processing") r.retry_after = 1;
  return r;
}

void Service::submit(ValidationRequest request, std::string challenge, std::string authz,
                     std::string account, int attempt) {
  ValidationRequest copy = request;
  validator_.validate(std::move(request), [this, copy = std::move(copy), challenge, authz, account,
                                           attempt](ValidationResult result) mutable {
    // On the validator's thread: hand over, never touch the database here.
    {
      common::MutexLock lock(mu_);
      done_.push_back({std::move(challenge), std::move(authz), std::move(account), std::move(copy),
                       std::move(result), attempt});
    }
    cv_.notify_all();
  });
}

void Service::completion_loop() {
  common::MutexLock lock(mu_);
  while (true) {
    cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return stopping_ || !done_.empty(); });
    if (done_.empty() && stopping_) return;
    std::vector<Completion> batch(std::make_move_iterator(done_.begin()),
                                  std::make_move_iterator(done_.end()));
    done_.clear();
    storing_ = batch.size();
    lock.unlock();
    store_completions(std::move(batch));
    lock.lock();
    storing_ = 0;
    cv_.notify_all();
  }
}

void Service::flush() {
  common::MutexLock lock(mu_);
  cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return done_.empty() && storing_ == 0; });
}

void Service::store_completions(std::vector<Completion> batch) {
  const SysTime now = s_.clock.now();
  std::vector<Completion> stored;
  for (auto& c : batch) {
    // A connection or DNS failure may be passing: try again, a bounded number of times.
    const bool transient = c.result.problem_type == "connection" || c.result.problem_type == "dns";
    if (!c.result.valid && transient && c.attempt < s_.settings.validation_retries) {
      submit(std::move(c.request), std::move(c.challenge), std::move(c.authz), std::move(c.account),
             c.attempt + 1);
      continue;
    }
    stored.push_back(std::move(c));
  }
  if (stored.empty()) return;
  // One transaction for every result that arrived together: validations finishing at once
  // cost one commit.
  auto write_all = [&](store::Transaction& tx_ref) -> Status {
    store::Transaction* tx = &tx_ref;
    std::vector<audit::Event> events;
    for (const auto& c : stored) {
      Challenge ch;
      ch.id = c.challenge;
      ch.status = c.result.valid ? "valid" : "invalid";
      if (c.result.valid) ch.validated = now;
      if (!c.result.valid) {
        ch.error = problem(c.result.problem_type, c.result.detail).json();
      }
      ch.records = nlohmann::json::array();
      for (const auto& rec : c.result.records) ch.records.push_back(record_json(rec));
      CW_RETURN_IF_ERROR(finish_challenge(*tx, ch));
      CW_ASSIGN_OR_RETURN(auto a, find_authorization(*tx, c.authz));
      if (!a || a->status != "pending") continue;
      if (c.result.valid) {
        CW_RETURN_IF_ERROR(set_authorization_status(*tx, c.authz, "valid",
                                                    now + s_.settings.authorization_lifetime));
      } else {
        CW_RETURN_IF_ERROR(set_authorization_status(*tx, c.authz, "invalid", std::nullopt));
      }
      audit::Event e;
      e.actor = "acme:" + c.account;
      e.action = c.result.valid ? "acme.authorization.valid" : "acme.authorization.invalid";
      e.target_type = "acme_authorization";
      e.target_id = c.authz;
      e.details = {{"identifier", a->identifier.value}, {"challenge", ch.id}};
      if (!c.result.valid) e.details["problem"] = c.result.problem_type;
      events.push_back(std::move(e));
    }
    return s_.audit.append(*tx, events);
  };
  if (Status s = writer_.run(write_all); !s) {
    // The challenges stay "processing": the client sees no result and its authorization
    // expires; it can order again. Nothing half-written: the transaction rolled back.
    log::error("acme_validation_not_stored",
               {{"error", s.error().message}, {"count", stored.size()}});
  }
}

}  // namespace certward::protocols::acme
