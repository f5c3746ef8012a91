#include "issuers/acme_issuer.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <random>
#include <thread>

#include "common/config.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/process.h"
#include "issuers/verify.h"
#include "x509/bundle.h"
#include "x509/csr.h"
#include "x509/names.h"

namespace certward::issuers {
namespace {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

std::string member(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Runs `f` when it goes out of scope: a published challenge answer is withdrawn whatever
// happens to the order.
template <class F>
class Finally {
 public:
  explicit Finally(F f) : f_(std::move(f)) {}
  ~Finally() { f_(); }
  Finally(const Finally&) = delete;
  Finally& operator=(const Finally&) = delete;

 private:
  F f_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

class AcmeIssuer final : public UpstreamIssuer {
 public:
  AcmeIssuer(AcmeIssuerOptions o, const AccountVault& accounts, Http01Board& http01)
      : o_(std::move(o)), accounts_(accounts), http01_(http01), client_(o_.directory, o_.http) {}

  const std::string& name() const override { return o_.name; }
  std::string_view type() const override { return "acme"; }
  const std::string& endpoint() const override { return o_.directory; }

  IssuerSupport support() const override {
    IssuerSupport s;
    s.key_types = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"};
    s.name_types = {"dns", "ip"};
    s.revocation = true;
    s.renewal_info = true;
    return s;
  }

  Status probe() const override {
    auto dir = client_.fetch_directory();
    if (!dir) return std::unexpected(dir.error());
    return ok();
  }

  Result<ca::IssuedChain> issue(const ca::Order& order) const override;
  Status revoke(const x509::Certificate& certificate, int reason) const override;
  Result<std::optional<SysTime>> renewal_time(const x509::Certificate& certificate) const override;

 private:
  Result<AcmeDirectory> ready() const;  // the directory, with the account set
  Status refuse_if_backing_off() const;
  void back_off(const std::optional<AcmeProblem>& problem) const;
  // `ordered`: the order's identifiers as "dns:name" / "ip:address", lower-case: the only ones
  // an authorization may be for.
  Status authorize(const AcmeDirectory& dir, const std::string& url, Steady::time_point deadline,
                   const std::vector<std::string>& ordered) const;
  // kUnavailable once the order's deadline has passed, naming the step it stops.
  Status before(Steady::time_point deadline, std::string_view step) const;
  Result<json> poll(const AcmeDirectory& dir, const std::string& url,
                    std::initializer_list<std::string_view> pending, Steady::time_point deadline,
                    std::string_view what) const;
  Status publish_dns(const std::string& record, const std::string& value, bool add) const;
  Result<Bytes> csr_for(const ca::Order& order) const;
  Result<std::vector<x509::Certificate>> pick_chain(const AcmeDirectory& dir,
                                                    const AcmeReply& download) const;

  AcmeIssuerOptions o_;
  const AccountVault& accounts_;
  Http01Board& http01_;
  mutable AcmeClient client_;
  mutable common::Mutex mu_;
  mutable bool account_ready_ CW_GUARDED_BY(mu_) = false;
  mutable std::optional<AcmeDirectory> directory_ CW_GUARDED_BY(mu_);
  mutable Steady::time_point directory_at_ CW_GUARDED_BY(mu_){};
  mutable Steady::time_point backoff_until_ CW_GUARDED_BY(mu_){};
  mutable std::string thumbprint_ CW_GUARDED_BY(mu_);
};

Status AcmeIssuer::refuse_if_backing_off() const {
  common::MutexLock lock(mu_);
  const auto now = Steady::now();
  if (now < backoff_until_) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(backoff_until_ - now);
    return fail(ErrorCode::kUnavailable, "ACME issuer '" + o_.name + "' is rate-limited for " +
                                             std::to_string(left.count() + 1) + "s more");
  }
  return ok();
}

void AcmeIssuer::back_off(const std::optional<AcmeProblem>& problem) const {
  if (!problem || problem->type != "urn:ietf:params:acme:error:rateLimited") return;
  const auto wait = problem->retry_after.value_or(std::chrono::seconds(60));
  common::MutexLock lock(mu_);
  backoff_until_ = std::max(backoff_until_, Steady::now() + wait);
}

Result<AcmeDirectory> AcmeIssuer::ready() const {
  // One account registration at a time: two first orders must not make two accounts.
  common::MutexLock lock(mu_);
  // The directory is read again now and then: a CA may move its endpoints or change its meta.
  if (!directory_ || Steady::now() - directory_at_ > std::chrono::minutes(10)) {
    CW_ASSIGN_OR_RETURN(AcmeDirectory dir, client_.fetch_directory());
    directory_ = std::move(dir);
    directory_at_ = Steady::now();
  }
  if (!account_ready_) {
    CW_ASSIGN_OR_RETURN(auto stored, accounts_.load(o_.name, o_.directory));
    if (!stored) {
      CW_ASSIGN_OR_RETURN(crypto::PrivateKey fresh, crypto::generate_key(crypto::KeyType::kEcP256));
      auto key = std::make_shared<const crypto::PrivateKey>(std::move(fresh));
      CW_ASSIGN_OR_RETURN(std::string url,
                          client_.register_account(*directory_, key, o_.contact, o_.eab));
      stored = StoredAccount{key, url};
      CW_RETURN_IF_ERROR(accounts_.save(o_.name, o_.directory, *stored));
      log::info("issuers.acme_account_created", {{"issuer", o_.name}, {"account", url}});
    }
    CW_ASSIGN_OR_RETURN(thumbprint_, acme_jws::thumbprint(*stored->key));
    // Set once, before account_ready_: every other user of client_ came through this lock.
    client_.set_account(stored->key, stored->url);
    account_ready_ = true;
  }
  return *directory_;
}

Result<json> AcmeIssuer::poll(const AcmeDirectory& dir, const std::string& url,
                              std::initializer_list<std::string_view> pending,
                              Steady::time_point deadline, std::string_view what) const {
  for (;;) {
    CW_RETURN_IF_ERROR(before(deadline, std::string(what) + " was decided"));
    CW_ASSIGN_OR_RETURN(AcmeReply r, client_.post(dir, url, std::nullopt));
    const std::string status = member(r.json, "status");
    if (std::find(pending.begin(), pending.end(), status) == pending.end()) return r.json;
    // The CA's Retry-After, within bounds of our own: at least a moment, at most ten seconds.
    auto wait = std::chrono::milliseconds(500);
    if (r.retry_after) {
      wait = std::clamp<std::chrono::milliseconds>(*r.retry_after, std::chrono::milliseconds(200),
                                                   std::chrono::seconds(10));
    }
    if (Steady::now() + wait > deadline) {
      return fail(ErrorCode::kUnavailable, "ACME issuer '" + o_.name + "': " + std::string(what) +
                                               " still " + said(status) +
                                               " when the order timed out");
    }
    std::this_thread::sleep_for(wait);
  }
}

Status AcmeIssuer::publish_dns(const std::string& record, const std::string& value,
                               bool add) const {
  if (o_.dns.rfc2136) {
    return add ? dns_add_txt(*o_.dns.rfc2136, record, value)
               : dns_delete_txt(*o_.dns.rfc2136, record, value);
  }
  common::RunOptions run;
  run.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o_.http.timeout);
  CW_ASSIGN_OR_RETURN(
      auto result, common::run_process({*o_.dns.hook, add ? "add" : "delete", record, value}, run));
  if (!result.succeeded()) {
    return fail(ErrorCode::kUnavailable, "dns hook " + *o_.dns.hook + " " +
                                             (add ? "add" : "delete") + " " + record + ": " +
                                             result.describe());
  }
  return ok();
}

Status AcmeIssuer::before(Steady::time_point deadline, std::string_view step) const {
  if (Steady::now() < deadline) return ok();
  return fail(ErrorCode::kUnavailable, "ACME issuer '" + o_.name + "': the order timed out (" +
                                           format_duration(o_.order_timeout) + ") before " +
                                           std::string(step));
}

Status AcmeIssuer::authorize(const AcmeDirectory& dir, const std::string& url,
                             Steady::time_point deadline,
                             const std::vector<std::string>& ordered) const {
  CW_RETURN_IF_ERROR(before(deadline, "an authorization"));
  CW_ASSIGN_OR_RETURN(AcmeReply r, client_.post(dir, url, std::nullopt));
  const json& authz = r.json;
  const std::string status = member(authz, "status");
  const json identifier = authz.is_object() ? authz.value("identifier", json()) : json();
  const std::string type = member(identifier, "type");
  const std::string value = lower(member(identifier, "value"));
  const bool wildcard = authz.is_object() && authz.value("wildcard", json()) == json(true);
  // An authorization answers for one of the order's names and nothing else: what certward
  // publishes (a DNS record, a hook's arguments) is never a name the CA chose.
  const std::string claimed = type + ":" + (wildcard ? "*." : "") + value;
  if (std::find(ordered.begin(), ordered.end(), claimed) == ordered.end()) {
    return fail(ErrorCode::kMalformed, "ACME issuer '" + o_.name + "' sent an authorization for " +
                                           said(claimed) + ", which the order does not name");
  }
  const std::string& who = claimed;
  if (status == "valid") return ok();  // the CA reuses an earlier validation
  if (status != "pending") {
    return fail(ErrorCode::kPolicyRejected,
                "ACME issuer '" + o_.name + "': authorization for " + who + " is " + said(status));
  }
  const json* challenge = nullptr;
  if (auto it = authz.find("challenges"); it != authz.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (member(c, "type") == o_.challenge) challenge = &c;
    }
  }
  if (challenge == nullptr) {
    return fail(ErrorCode::kPolicyRejected, "ACME issuer '" + o_.name + "' offers no " +
                                                o_.challenge + " challenge for " + who);
  }
  const std::string token = member(*challenge, "token");
  const std::string challenge_url = member(*challenge, "url");
  if (token.empty() || challenge_url.empty()) {
    return fail(ErrorCode::kMalformed,
                "ACME issuer '" + o_.name + "': a challenge without token or url");
  }
  std::string thumbprint;
  {
    common::MutexLock lock(mu_);
    thumbprint = thumbprint_;
  }
  const std::string key_authorization = token + "." + thumbprint;

  std::function<void()> cleanup;
  if (o_.challenge == "http-01") {
    CW_RETURN_IF_ERROR(http01_.publish(token, key_authorization, o_.order_timeout));
    cleanup = [this, token] { http01_.withdraw(token); };
  } else {
    if (type != "dns") {
      return fail(ErrorCode::kPolicyRejected,
                  "ACME issuer '" + o_.name + "': dns-01 validates DNS names, not " + who);
    }
    // RFC 8555 8.4: a wildcard's record is its base domain's, which `value` already is.
    const std::string record = "_acme-challenge." + value;
    const Bytes digest = crypto::sha256(std::span(
        reinterpret_cast<const std::uint8_t*>(key_authorization.data()), key_authorization.size()));
    const std::string txt = to_base64url(digest);
    CW_RETURN_IF_ERROR(publish_dns(record, txt, true));
    cleanup = [this, record, txt] {
      if (auto s = publish_dns(record, txt, false); !s) {
        log::warn("issuers.dns01_cleanup_failed",
                  {{"issuer", o_.name}, {"record", record}, {"error", s.error().message}});
      }
    };
  }
  Finally withdraw([&] { cleanup(); });
  if (o_.challenge == "dns-01" && o_.dns.propagation.count() > 0) {
    CW_RETURN_IF_ERROR(before(deadline - o_.dns.propagation, "waiting for DNS propagation"));
    std::this_thread::sleep_for(o_.dns.propagation);
  }

  CW_RETURN_IF_ERROR(before(deadline, "answering the challenge"));
  CW_ASSIGN_OR_RETURN(AcmeReply answered, client_.post(dir, challenge_url, json::object()));
  (void)answered;
  CW_ASSIGN_OR_RETURN(json done, poll(dir, url, {"pending"}, deadline, "authorization for " + who));
  if (member(done, "status") == "valid") return ok();
  std::string why = said(member(done, "status"));
  if (auto it = done.find("challenges"); it != done.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (member(c, "type") == o_.challenge && c.contains("error")) {
        why = problem_of(400, c["error"].dump(-1, ' ', false, json::error_handler_t::replace),
                         std::nullopt)
                  .describe();
      }
    }
  }
  return fail(ErrorCode::kPolicyRejected,
              "ACME issuer '" + o_.name + "' could not validate " + who + ": " + why);
}

Result<Bytes> AcmeIssuer::csr_for(const ca::Order& order) const {
  if (order.csr) {
    // The CA issues for the CSR's names: they must be the ones the RA decided.
    std::vector<std::string> want, got;
    for (const auto& s : order.sans) want.push_back(lower(x509::format_san(s)));
    for (const auto& s : order.csr->info().sans) got.push_back(lower(x509::format_san(s)));
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    if (want != got) {
      return fail(ErrorCode::kPolicyRejected,
                  "ACME issuer '" + o_.name +
                      "' signs the CSR's names as they are: request exactly the CSR's names");
    }
    return order.csr->der();
  }
  if (order.private_key) {
    std::string cn;
    for (const auto& s : order.sans) {
      if (s.type == x509::SanType::kDns && s.value.size() <= 64) {
        cn = s.value;
        break;
      }
    }
    return x509::make_csr_der(*order.private_key, cn.empty() ? "" : "CN=" + cn, order.sans);
  }
  return fail(ErrorCode::kPolicyRejected,
              "ACME issuer '" + o_.name +
                  "' needs a CSR or a key generated by certward, not a bare public key");
}

Result<std::vector<x509::Certificate>> AcmeIssuer::pick_chain(const AcmeDirectory& dir,
                                                              const AcmeReply& download) const {
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(std::span(
                                      reinterpret_cast<const std::uint8_t*>(download.body.data()),
                                      download.body.size())));
  if (certs.empty()) return fail(ErrorCode::kMalformed, "ACME CA sent no certificate");
  if (!o_.preferred_chain) return certs;
  auto matches = [&](const std::vector<x509::Certificate>& chain) {
    // The chain's top: its issuer's common name, as certbot's --preferred-chain reads it.
    const auto& top = chain.back().info();
    return top.issuer.find("CN=" + *o_.preferred_chain) != std::string::npos ||
           top.subject_cn == *o_.preferred_chain;
  };
  if (matches(certs)) return certs;
  for (const auto& url : download.alternates) {
    auto alt = client_.post(dir, url, std::nullopt, "application/pem-certificate-chain");
    if (!alt) continue;
    auto parsed = x509::parse_certificates(
        std::span(reinterpret_cast<const std::uint8_t*>(alt->body.data()), alt->body.size()));
    if (parsed && !parsed->empty() && matches(*parsed)) return std::move(*parsed);
  }
  return certs;  // as certbot does: the default chain when none matches
}

Result<ca::IssuedChain> AcmeIssuer::issue(const ca::Order& order) const {
  if (order.is_ca) {
    return fail(ErrorCode::kPolicyRejected,
                "ACME issuer '" + o_.name + "' issues no CA certificates");
  }
  if (order.sans.empty()) {
    return fail(ErrorCode::kPolicyRejected,
                "ACME issuer '" + o_.name + "' needs at least one name");
  }
  json identifiers = json::array();
  std::vector<std::string> ordered;
  for (const auto& s : order.sans) {
    if (s.type != x509::SanType::kDns && s.type != x509::SanType::kIp) {
      return fail(ErrorCode::kPolicyRejected, "ACME issuer '" + o_.name +
                                                  "' certifies DNS names "
                                                  "and IP addresses only, not " +
                                                  x509::format_san(s));
    }
    identifiers.push_back(
        {{"type", s.type == x509::SanType::kDns ? "dns" : "ip"}, {"value", s.value}});
    ordered.push_back(std::string(s.type == x509::SanType::kDns ? "dns:" : "ip:") + lower(s.value));
  }
  CW_ASSIGN_OR_RETURN(Bytes csr, csr_for(order));
  CW_RETURN_IF_ERROR(refuse_if_backing_off());
  CW_ASSIGN_OR_RETURN(AcmeDirectory dir, ready());
  const auto deadline = Steady::now() + o_.order_timeout;

  json request{{"identifiers", identifiers}};
  if (o_.profile) request["profile"] = *o_.profile;
  std::optional<AcmeProblem> problem;
  auto created = client_.post_or_problem(dir, dir.new_order, request, problem);
  if (!created) {
    back_off(problem);
    return std::unexpected(created.error());
  }
  const std::string order_url = created->location;
  json state = created->json;
  if (order_url.empty() || !state.is_object()) {
    return fail(ErrorCode::kMalformed,
                "ACME issuer '" + o_.name + "': an order without a Location");
  }
  if (auto it = state.find("authorizations"); it != state.end() && it->is_array()) {
    // One per identifier at most (RFC 8555 7.1.3): more is a CA making us work for nothing.
    if (it->size() > ordered.size()) {
      return fail(ErrorCode::kMalformed, "ACME issuer '" + o_.name + "' sent " +
                                             std::to_string(it->size()) + " authorizations for " +
                                             std::to_string(ordered.size()) + " names");
    }
    for (const auto& a : *it) {
      if (!a.is_string())
        return fail(ErrorCode::kMalformed, "ACME CA sent a bad authorization URL");
      CW_RETURN_IF_ERROR(authorize(dir, a.get<std::string>(), deadline, ordered));
    }
  }
  CW_ASSIGN_OR_RETURN(state, poll(dir, order_url, {"pending"}, deadline, "order"));
  if (member(state, "status") != "ready") {
    return fail(ErrorCode::kPolicyRejected, "ACME issuer '" + o_.name + "': the order is " +
                                                said(member(state, "status")) +
                                                " instead of ready");
  }
  const std::string finalize = member(state, "finalize");
  if (finalize.empty()) return fail(ErrorCode::kMalformed, "ACME CA: an order without finalize");
  CW_RETURN_IF_ERROR(before(deadline, "finalize"));
  auto finalized =
      client_.post_or_problem(dir, finalize, json{{"csr", to_base64url(csr)}}, problem);
  if (!finalized) {
    back_off(problem);
    return std::unexpected(finalized.error());
  }
  CW_ASSIGN_OR_RETURN(state, poll(dir, order_url, {"processing", "ready"}, deadline, "order"));
  if (member(state, "status") != "valid") {
    std::string why = said(member(state, "status"));
    if (state.contains("error")) {
      why +=
          ": " +
          problem_of(400, state["error"].dump(-1, ' ', false, json::error_handler_t::replace), {})
              .describe();
    }
    return fail(ErrorCode::kPolicyRejected, "ACME issuer '" + o_.name + "': the order is " + why);
  }
  const std::string certificate_url = member(state, "certificate");
  if (certificate_url.empty())
    return fail(ErrorCode::kMalformed, "ACME CA: a valid order without certificate");
  CW_RETURN_IF_ERROR(before(deadline, "the certificate's download"));
  CW_ASSIGN_OR_RETURN(AcmeReply download, client_.post(dir, certificate_url, std::nullopt,
                                                       "application/pem-certificate-chain"));
  CW_ASSIGN_OR_RETURN(auto certs, pick_chain(dir, download));
  x509::Certificate leaf = certs.front();
  std::vector<x509::Certificate> chain(certs.begin() + 1, certs.end());
  CW_RETURN_IF_ERROR(check_upstream_result(order, leaf, chain, o_.trust_anchors, o_.name));
  log::info("issuers.acme_issued",
            {{"issuer", o_.name}, {"serial", leaf.info().serial_hex}, {"order", order_url}});
  return ca::IssuedChain{std::move(leaf), std::move(chain), "", true};
}

Status AcmeIssuer::revoke(const x509::Certificate& certificate, int reason) const {
  CW_ASSIGN_OR_RETURN(AcmeDirectory dir, ready());
  if (dir.revoke_cert.empty()) {
    return fail(ErrorCode::kPolicyRejected, "ACME issuer '" + o_.name + "' offers no revokeCert");
  }
  json payload{{"certificate", to_base64url(certificate.der())}};
  if (reason != 0) payload["reason"] = reason;
  std::optional<AcmeProblem> problem;
  auto r = client_.post_or_problem(dir, dir.revoke_cert, payload, problem);
  // Revoked there already (an earlier attempt whose answer was lost): what was asked for.
  if (!r && !(problem && problem->type == "urn:ietf:params:acme:error:alreadyRevoked")) {
    return std::unexpected(r.error());
  }
  log::info("issuers.acme_revoked",
            {{"issuer", o_.name}, {"serial", certificate.info().serial_hex}, {"reason", reason}});
  return ok();
}

Result<std::optional<SysTime>> AcmeIssuer::renewal_time(
    const x509::Certificate& certificate) const {
  CW_ASSIGN_OR_RETURN(AcmeDirectory dir, ready());
  if (dir.renewal_info.empty()) return std::optional<SysTime>{};
  CW_ASSIGN_OR_RETURN(std::string id, ari_certificate_id(certificate));
  CW_RETURN_IF_ERROR(client_.check_origin(dir.renewal_info));
  CW_ASSIGN_OR_RETURN(HttpReply r,
                      http_exchange({"GET", dir.renewal_info + "/" + id, {}, {}}, o_.http));
  if (r.status != 200) {
    return fail(
        ErrorCode::kUnavailable,
        "ACME issuer '" + o_.name + "': renewalInfo answered HTTP " + std::to_string(r.status));
  }
  const json j = json::parse(r.body, nullptr, false);
  const json window = j.is_object() ? j.value("suggestedWindow", json()) : json();
  auto when = [&](const char* key) -> Result<SysTime> {
    std::string text = member(window, key);
    // Fractions of a second mean nothing to a renewal schedule.
    if (auto dot = text.find('.'); dot != std::string::npos) {
      auto end = text.find_first_not_of("0123456789", dot + 1);
      text.erase(dot, end == std::string::npos ? std::string::npos : end - dot);
    }
    return parse_time(text);
  };
  auto start = when("start");
  auto end = when("end");
  if (!start || !end || *end < *start) {
    return fail(ErrorCode::kMalformed,
                "ACME issuer '" + o_.name + "': a renewalInfo without a window");
  }
  // A moment chosen at random within the window (RFC 9773 4.2), so that many certificates
  // with one window do not all renew at its first second.
  const auto span = std::chrono::duration_cast<std::chrono::seconds>(*end - *start).count();
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(span, 0));
  std::random_device rd;
  return std::optional<SysTime>{*start + std::chrono::seconds(pick(rd))};
}

}  // namespace

Result<std::string> ari_certificate_id(const x509::Certificate& certificate) {
  const auto* akid = static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(certificate.get(), NID_authority_key_identifier, nullptr, nullptr));
  if (akid == nullptr || akid->keyid == nullptr) {
    if (akid) AUTHORITY_KEYID_free(const_cast<AUTHORITY_KEYID*>(akid));
    return fail(ErrorCode::kInvalidArgument, "the certificate has no authority key identifier");
  }
  const std::string key_id =
      to_base64url(std::span(ASN1_STRING_get0_data(akid->keyid),
                             static_cast<std::size_t>(ASN1_STRING_length(akid->keyid))));
  AUTHORITY_KEYID_free(const_cast<AUTHORITY_KEYID*>(akid));
  // The serial's DER content octets, with the leading zero a positive high-bit value has.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(certificate.get());
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_INTEGER(serial, &der);
  if (len < 3) {
    OPENSSL_free(der);
    return fail(ErrorCode::kInvalidArgument, "the certificate's serial cannot be encoded");
  }
  // Tag, then a short or long length form.
  std::size_t header = 2;
  if (der[1] & 0x80) header += der[1] & 0x7f;
  const std::string serial64 =
      to_base64url(std::span(der + header, static_cast<std::size_t>(len) - header));
  OPENSSL_free(der);
  return key_id + "." + serial64;
}

std::shared_ptr<UpstreamIssuer> make_acme_issuer(AcmeIssuerOptions options,
                                                 const AccountVault& accounts,
                                                 Http01Board& http01) {
  return std::make_shared<AcmeIssuer>(std::move(options), accounts, http01);
}

}  // namespace certward::issuers
