#include "issuers/registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "issuers/acme_issuer.h"
#include "issuers/cfssl.h"
#include "x509/bundle.h"

namespace certward::issuers {
namespace {

using json = nlohmann::json;

// A secret named by `<what>_env` or `<what>_file`: a file must be this user's and closed to
// everyone else, as the master key's is.
Result<std::string> read_secret(const std::optional<std::string>& env_name,
                                const std::optional<std::string>& file,
                                const std::map<std::string, std::string>& env,
                                const std::string& what) {
  if (env_name) {
    // The configuration's environment holds CERTWARD_* only; a secret may be named anything.
    auto it = env.find(*env_name);
    const char* value = it != env.end() ? it->second.c_str() : std::getenv(env_name->c_str());
    if (value == nullptr || *value == '\0') {
      return fail(ErrorCode::kNotFound,
                  what + ": environment variable " + *env_name + " is not set");
    }
    return std::string(value);
  }
  if (file) {
    CW_ASSIGN_OR_RETURN(int fd, open_file_strict(*file, O_RDONLY));
    const Status private_file = check_private_file(fd, what + " file " + *file);
    ::close(fd);
    CW_RETURN_IF_ERROR(private_file);
    CW_ASSIGN_OR_RETURN(std::string text, read_file(*file));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
    if (text.empty()) return fail(ErrorCode::kMalformed, what + " file " + *file + " is empty");
    return text;
  }
  return std::string();
}

Result<std::vector<x509::Certificate>> read_anchors(const std::optional<std::string>& path,
                                                    const std::string& what) {
  if (!path) return std::vector<x509::Certificate>{};
  CW_ASSIGN_OR_RETURN(std::string pem, read_file(*path));
  auto certs = x509::parse_certificates(
      std::span(reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()));
  if (!certs || certs->empty()) {
    return fail(ErrorCode::kMalformed, what + ": trust_anchors " + *path + " holds no certificate");
  }
  return std::move(*certs);
}

// "[2001:db8::53]:53", "192.0.2.53:53", "192.0.2.53" (port 53): an address literal, since
// the DNS server is what names are resolved with. Errors: kMalformed.
Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text,
                                                              const std::string& what) {
  std::string host = text;
  std::string port = "53";
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string::npos) return fail(ErrorCode::kMalformed, what + ": a bad dns_server");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return fail(ErrorCode::kMalformed, what + ": a bad dns_server");
      port = text.substr(close + 2);
    }
  } else if (const auto colon = text.rfind(':');
             colon != std::string::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char buf[16];
  const bool address =
      ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int number = digits ? std::atoi(port.c_str()) : 0;
  if (!address || number < 1 || number > 65535) {
    return fail(ErrorCode::kMalformed,
                what + ": dns_server is an IP address with an optional port (1-65535): " + text);
  }
  return std::pair{host, static_cast<std::uint16_t>(number)};
}

// A file named in the configuration is there when the server starts, not at first use.
Status readable(const std::optional<std::string>& path, const std::string& what, int mode) {
  if (path && ::access(path->c_str(), mode) != 0) {
    return fail(ErrorCode::kNotFound, what + ": cannot use " + *path);
  }
  return ok();
}

Result<std::shared_ptr<UpstreamIssuer>> build(const IssuerSettings& s,
                                              const std::map<std::string, std::string>& env,
                                              const AccountVault& accounts, Http01Board& http01) {
  const std::string what = "issuers." + s.name;
  CW_RETURN_IF_ERROR(readable(s.ca_file, what + " ca_file", R_OK));
  CW_RETURN_IF_ERROR(readable(s.dns_hook, what + " dns_hook", X_OK));
  HttpOptions http;
  http.timeout = s.timeout;
  http.ca_file = s.ca_file;
  CW_ASSIGN_OR_RETURN(auto anchors, read_anchors(s.trust_anchors, what));
  if (s.type == "cfssl") {
    CfsslOptions o;
    o.name = s.name;
    o.url = s.url;
    while (o.url.ends_with("/")) o.url.pop_back();
    CW_ASSIGN_OR_RETURN(std::string key_hex,
                        read_secret(s.auth_key_env, s.auth_key_file, env, what + " auth key"));
    auto key = from_hex(key_hex);
    if (!key || key->empty())
      return fail(ErrorCode::kMalformed, what + ": the auth key is not hex");
    o.auth_key = crypto::SecretBytes(std::move(*key));
    o.profile = s.profile.value_or("");
    o.label = s.label.value_or("");
    o.http = http;
    o.trust_anchors = std::move(anchors);
    return make_cfssl_issuer(std::move(o));
  }
  AcmeIssuerOptions o;
  o.name = s.name;
  o.directory = s.directory;
  o.http = http;
  o.contact = s.contact;
  if (s.eab_kid) {
    CW_ASSIGN_OR_RETURN(std::string key64, read_secret(s.eab_hmac_key_env, s.eab_hmac_key_file, env,
                                                       what + " EAB key"));
    auto key = from_base64url(key64);
    if (!key || key->empty()) {
      return fail(ErrorCode::kMalformed, what + ": the EAB key is not base64url");
    }
    o.eab = ExternalAccountBinding{*s.eab_kid, crypto::SecretBytes(std::move(*key))};
  }
  o.profile = s.profile;
  o.challenge = s.challenge;
  o.preferred_chain = s.preferred_chain;
  o.trust_anchors = std::move(anchors);
  o.order_timeout = s.order_timeout;
  o.dns.propagation = s.dns_propagation;
  if (s.dns_hook) {
    if (!s.dns_hook->starts_with("/")) {
      return fail(ErrorCode::kMalformed, what + ": dns_hook is an absolute path");
    }
    o.dns.hook = s.dns_hook;
  }
  if (s.dns_server) {
    DnsUpdateServer server;
    CW_ASSIGN_OR_RETURN(auto host_port, split_host_port(*s.dns_server, what));
    std::tie(server.address, server.port) = host_port;
    server.zone = *s.dns_zone;
    server.key.name = *s.tsig_key_name;
    server.key.algorithm = s.tsig_algorithm;
    CW_ASSIGN_OR_RETURN(std::string secret64, read_secret(s.tsig_secret_env, s.tsig_secret_file,
                                                          env, what + " TSIG secret"));
    auto secret = from_base64(secret64);
    if (!secret || secret->empty()) {
      return fail(ErrorCode::kMalformed, what + ": the TSIG secret is not base64");
    }
    server.key.secret = crypto::SecretBytes(std::move(*secret));
    server.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.timeout);
    o.dns.rfc2136 = std::move(server);
  }
  return make_acme_issuer(std::move(o), accounts, http01);
}

// An upstream issuer whose every issuance counts toward its health.
class Tracked final : public ca::Issuer {
 public:
  Tracked(std::shared_ptr<UpstreamIssuer> inner, IssuerRegistry& registry)
      : inner_(std::move(inner)), registry_(registry) {}
  const std::string& name() const override { return inner_->name(); }
  Result<ca::IssuedChain> issue(const ca::Order& order) const override {
    Result<ca::IssuedChain> made = [&]() -> Result<ca::IssuedChain> {
      // A CA's answer must never take the request down with it, nor stop a failover list.
      try {
        return inner_->issue(order);
      } catch (const std::exception& e) {
        return fail(ErrorCode::kUnavailable,
                    "issuer '" + inner_->name() + "' failed on what its CA sent: " + e.what());
      }
    }();
    // An answer off the protocol is the CA being unusable, as an unreachable one is: the
    // request was fine (503, and a failover list moves on).
    if (!made && made.error().code == ErrorCode::kMalformed) {
      made = fail(ErrorCode::kUnavailable, made.error().message);
    }
    registry_.record(inner_->name(), made ? ok() : Status(std::unexpected(made.error())));
    return made;
  }
  Status revoke(const x509::Certificate& c, int reason) const override {
    try {
      return inner_->revoke(c, reason);
    } catch (const std::exception& e) {
      return fail(ErrorCode::kUnavailable,
                  "issuer '" + inner_->name() + "' failed on what its CA sent: " + e.what());
    }
  }

 private:
  std::shared_ptr<UpstreamIssuer> inner_;
  IssuerRegistry& registry_;
};

// A profile's list: each issuer in turn until one makes the certificate.
class Failover final : public ca::Issuer {
 public:
  Failover(std::vector<std::string> names, std::string profile, IssuerRegistry& registry)
      : names_(std::move(names)), profile_(std::move(profile)), registry_(registry) {}
  const std::string& name() const override { return names_.front(); }

  Result<ca::IssuedChain> issue(const ca::Order& order) const override {
    std::string errors;
    std::string first_error;
    std::optional<Error> last;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const std::string& n = names_[i];
      auto made = [&]() -> Result<ca::IssuedChain> {
        CW_ASSIGN_OR_RETURN(auto issuer, registry_.issuer(n));
        return issuer->issue(order);
      }();
      if (made) {
        if (made->issued_by.empty()) made->issued_by = n;
        if (i > 0) registry_.failed_over({profile_, names_.front(), first_error, n});
        return made;
      }
      if (i == 0) first_error = made.error().message;
      errors += (errors.empty() ? "" : "; ") + n + ": " + made.error().message;
      last = made.error();
    }
    if (names_.size() == 1) return std::unexpected(*last);
    return fail(last->code, "every issuer of profile '" + profile_ + "' failed: " + errors);
  }

 private:
  std::vector<std::string> names_;
  std::string profile_;
  IssuerRegistry& registry_;
};

json time_or_null(const std::optional<SysTime>& t) { return t ? json(format_time(*t)) : json(); }

}  // namespace

json issuer_json(const IssuerView& v) {
  json support{{"key_types", v.support.key_types},
               {"name_types", v.support.name_types},
               {"revocation", v.support.revocation},
               {"renewal_info", v.support.renewal_info}};
  return {{"name", v.name},
          {"type", v.type},
          {"endpoint", v.endpoint},
          {"supports", support},
          {"profiles", v.profiles},
          {"health",
           {{"state", v.health.state},
            {"checked_at", time_or_null(v.health.checked_at)},
            {"last_success", time_or_null(v.health.last_success)},
            {"last_failure", time_or_null(v.health.last_failure)},
            {"last_error", v.health.last_error ? json(*v.health.last_error) : json()}}}};
}

IssuerRegistry::IssuerRegistry(const Clock& clock, store::Database& db,
                               const crypto::KeyWrapper& wrapper, ca::AuthorityService& authorities,
                               const Config& config)
    : clock_(clock),
      authorities_(authorities),
      config_(config),
      accounts_(clock, db, wrapper),
      http01_(clock, db) {}

Result<std::unique_ptr<IssuerRegistry>> IssuerRegistry::create(
    const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
    ca::AuthorityService& authorities, const Config& config,
    const std::map<std::string, std::string>& env) {
  CW_RETURN_IF_ERROR(migrate_issuers(db));
  auto r = std::make_unique<IssuerRegistry>(clock, db, wrapper, authorities, config);
  for (const auto& s : config.issuers) {
    // One namespace: a profile's list or a request names an issuer without saying its kind.
    if (auto a = authorities.info(s.name); a) {
      return fail(ErrorCode::kMalformed, "issuers." + s.name +
                                             ": an authority of that name exists; name the "
                                             "upstream issuer differently");
    }
    CW_ASSIGN_OR_RETURN(auto issuer, build(s, env, r->accounts_, r->http01_));
    r->upstream_.emplace(s.name, std::move(issuer));
  }
  std::vector<std::string> names;
  for (const auto& [name, _] : r->upstream_) names.push_back(name);
  authorities.reserve_names(std::move(names));
  return r;
}

Result<std::shared_ptr<const ca::Issuer>> IssuerRegistry::issuer(std::string_view name) {
  if (auto it = upstream_.find(name); it != upstream_.end()) {
    return std::shared_ptr<const ca::Issuer>(std::make_shared<Tracked>(it->second, *this));
  }
  return authorities_.issuer(name);
}

Result<std::shared_ptr<const ca::Issuer>> IssuerRegistry::issuer_list(
    std::span<const std::string> names, std::string_view profile) {
  if (names.empty()) return issuer(default_issuer());
  // Names that exist nowhere are an operator's mistake: said at once, not as a failover.
  for (const auto& n : names) {
    if (upstream_.count(n) == 0) {
      auto a = authorities_.info(n);
      if (!a) {
        return fail(ErrorCode::kNotFound, "profile '" + std::string(profile) + "' lists issuer '" +
                                              n +
                                              "', which is "
                                              "neither an authority nor an [issuers." +
                                              n + "] of the configuration");
      }
    }
  }
  return std::shared_ptr<const ca::Issuer>(std::make_shared<Failover>(
      std::vector<std::string>(names.begin(), names.end()), std::string(profile), *this));
}

void IssuerRegistry::record(const std::string& name, const Status& outcome) {
  const SysTime now = clock_.now();
  common::MutexLock lock(mu_);
  IssuerHealth& h = health_[name];
  h.checked_at = now;
  if (outcome) {
    h.state = "ok";
    h.last_success = now;
  } else {
    h.state = "failing";
    h.last_failure = now;
    h.last_error = outcome.error().message;
  }
}

void IssuerRegistry::failed_over(const FailoverEvent& e) const {
  log::warn("issuers.failover",
            {{"profile", e.profile}, {"failed", e.failed}, {"used", e.used}, {"error", e.error}});
  if (observer_) observer_(e);
}

std::vector<std::string> IssuerRegistry::profiles_listing(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& p : config_.profiles) {
    if (!p.issuers) continue;
    if (std::find(p.issuers->begin(), p.issuers->end(), name) != p.issuers->end())
      out.push_back(p.name);
  }
  return out;
}

IssuerView IssuerRegistry::view_of(const UpstreamIssuer& u) const {
  IssuerView v;
  v.name = u.name();
  v.type = std::string(u.type());
  v.endpoint = u.endpoint();
  v.support = u.support();
  v.profiles = profiles_listing(u.name());
  common::MutexLock lock(mu_);
  if (auto it = health_.find(u.name()); it != health_.end()) v.health = it->second;
  return v;
}

Result<std::vector<IssuerView>> IssuerRegistry::list() const {
  std::vector<IssuerView> out;
  CW_ASSIGN_OR_RETURN(auto authorities, authorities_.list());
  for (const auto& a : authorities) {
    if (a.kind == ca::AuthorityKind::kRoot) continue;  // roots sign only CAs
    IssuerView v;
    v.name = a.name;
    v.type = "internal";
    v.endpoint = a.certificate.info().subject;
    v.support.key_types = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"};
    v.support.name_types = {"dns", "ip", "email", "uri"};
    v.support.revocation = true;
    v.health.state = a.status == "active" ? "ok" : "failing";
    if (a.status != "active") v.health.last_error = "authority is " + a.status;
    v.profiles = profiles_listing(a.name);
    out.push_back(std::move(v));
  }
  for (const auto& [name, u] : upstream_) out.push_back(view_of(*u));
  return out;
}

Result<IssuerView> IssuerRegistry::describe(std::string_view name) const {
  if (auto it = upstream_.find(name); it != upstream_.end()) return view_of(*it->second);
  CW_ASSIGN_OR_RETURN(auto all, list());
  for (auto& v : all)
    if (v.name == name) return std::move(v);
  return fail(ErrorCode::kNotFound, "unknown issuer '" + std::string(name) + "'");
}

Result<IssuerView> IssuerRegistry::check(std::string_view name) {
  if (auto it = upstream_.find(name); it != upstream_.end()) {
    record(it->second->name(), it->second->probe());
    return view_of(*it->second);
  }
  return describe(name);
}

bool IssuerRegistry::offers_renewal_info(std::string_view issuer) const {
  auto it = upstream_.find(issuer);
  return it != upstream_.end() && it->second->support().renewal_info;
}

Result<std::optional<SysTime>> IssuerRegistry::renewal_time(
    std::string_view issuer, const x509::Certificate& certificate) const {
  auto it = upstream_.find(issuer);
  if (it == upstream_.end()) return std::optional<SysTime>{};
  return it->second->renewal_time(certificate);
}

}  // namespace certward::issuers
