#include "issuers/acme_client.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "common/encoding.h"

namespace certward::issuers {
namespace {

using json = nlohmann::json;

// A CA may refuse any nonce (Pebble refuses a share of them on purpose): each is cheap to retry,
// and an order makes a dozen signed requests, each of which must get through.
constexpr int kNonceRetries = 6;
constexpr std::size_t kNoncePool = 16;

std::string member(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Bytes> ec_coordinate(const EVP_PKEY* key, const char* which) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &bn) != 1) {
    return fail(ErrorCode::kInternal, "account key: no EC coordinate");
  }
  Bytes out(32);
  const int rc = BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  BN_free(bn);
  if (rc != 32) return fail(ErrorCode::kInternal, "account key: coordinate too large");
  return out;
}

Result<std::string> es256(const crypto::PrivateKey& key, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return fail(ErrorCode::kInternal, "no digest context");
  std::size_t len = 0;
  Bytes der;
  bool good =
      EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1;
  if (good) {
    der.resize(len);
    good = EVP_DigestSign(ctx, der.data(), &len,
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    der.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!good) return fail(ErrorCode::kInternal, "account key: signing failed");
  // JWS wants r || s, each 32 octets (RFC 7518 3.4), not DER.
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return fail(ErrorCode::kInternal, "account key: bad ECDSA signature");
  Bytes raw(64);
  const bool sized = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32) == 32 &&
                     BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!sized) return fail(ErrorCode::kInternal, "account key: bad ECDSA signature");
  return to_base64url(raw);
}

std::string b64(std::string_view s) {
  return to_base64url(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

// "https://host:port" of a URL, lower-cased, with the default port made explicit.
std::string origin_of(std::string_view url) {
  if (!url.starts_with("https://")) return {};
  std::string_view rest = url.substr(8);
  std::string host(rest.substr(0, rest.find_first_of("/?#")));
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host.empty() || host.find('@') != std::string::npos) return {};
  const auto bracket = host.rfind(']');
  const auto colon = host.rfind(':');
  const bool has_port =
      colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  return "https://" + host + (has_port ? "" : ":443");
}

}  // namespace

namespace acme_jws {

Result<json> public_jwk(const crypto::PrivateKey& key) {
  const auto info = key.info();
  if (info.algorithm != crypto::KeyAlgorithm::kEcdsa || info.bits != 256) {
    return fail(ErrorCode::kInvalidArgument, "an ACME account key is ECDSA P-256");
  }
  CW_ASSIGN_OR_RETURN(Bytes x, ec_coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_X));
  CW_ASSIGN_OR_RETURN(Bytes y, ec_coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y));
  // Members in lexical order: the thumbprint (RFC 7638) hashes exactly this serialisation.
  return json{{"crv", "P-256"}, {"kty", "EC"}, {"x", to_base64url(x)}, {"y", to_base64url(y)}};
}

Result<std::string> thumbprint(const crypto::PrivateKey& key) {
  CW_ASSIGN_OR_RETURN(json jwk, public_jwk(key));
  const std::string text = jwk.dump();  // nlohmann orders object members lexically
  return to_base64url(
      crypto::sha256(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())));
}

Result<std::string> sign(const crypto::PrivateKey& key, const std::string& kid,
                         const std::string& nonce, const std::string& url,
                         const std::string& payload) {
  json header{{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
  if (kid.empty()) {
    CW_ASSIGN_OR_RETURN(header["jwk"], public_jwk(key));
  } else {
    header["kid"] = kid;
  }
  const std::string protected64 = b64(header.dump(-1, ' ', false, json::error_handler_t::replace));
  const std::string payload64 = payload.empty() ? std::string() : b64(payload);
  CW_ASSIGN_OR_RETURN(std::string signature, es256(key, protected64 + "." + payload64));
  return json{{"protected", protected64}, {"payload", payload64}, {"signature", signature}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Result<json> eab(const ExternalAccountBinding& binding, const json& jwk, const std::string& url) {
  if (binding.hmac_key.empty()) return fail(ErrorCode::kInvalidArgument, "an empty EAB key");
  const std::string protected64 =
      b64(json{{"alg", "HS256"}, {"kid", binding.kid}, {"url", url}}.dump());
  const std::string payload64 = b64(jwk.dump());
  const std::string input = protected64 + "." + payload64;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), binding.hmac_key.data(), static_cast<int>(binding.hmac_key.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &mac_len) == nullptr) {
    return fail(ErrorCode::kInternal, "EAB: HMAC failed");
  }
  return json{{"protected", protected64},
              {"payload", payload64},
              {"signature", to_base64url(std::span(mac, mac_len))}};
}

}  // namespace acme_jws

std::string said(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max));
  for (char c : text) {
    if (out.size() >= max) return out + "...";
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

std::string AcmeProblem::describe() const {
  std::string short_type = type;
  if (auto pos = short_type.rfind(':'); pos != std::string::npos) short_type.erase(0, pos + 1);
  std::string out = (short_type.empty() ? "HTTP " + std::to_string(status) : short_type);
  if (!detail.empty()) out += ": " + detail;
  for (std::size_t i = 0; i < subproblems.size() && i < 5; ++i) {
    out += (i == 0 ? " (" : "; ") + subproblems[i];
    if (i + 1 == subproblems.size() || i == 4) out += ")";
  }
  // A CA's text goes into messages, logs and JSON documents: one line of ASCII, bounded.
  return said(out, 600);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view v) {
  constexpr std::int64_t kMax = 86400;
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::seconds(kMax);
    return std::chrono::seconds(std::min<std::int64_t>(std::stoll(std::string(v)), kMax));
  }
  std::tm tm{};
  const std::string text(v);
  if (strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  const std::int64_t at = timegm(&tm);
  const std::int64_t now = std::time(nullptr);
  return std::chrono::seconds(std::clamp<std::int64_t>(at - now, 0, kMax));
}

AcmeProblem problem_of(long status, const std::string& body,
                       std::optional<std::chrono::seconds> retry_after) {
  AcmeProblem p;
  p.status = status;
  p.retry_after = retry_after;
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) {
    p.detail = "HTTP " + std::to_string(status) + " without a problem document";
    return p;
  }
  p.type = member(j, "type");
  p.detail = member(j, "detail");
  if (auto it = j.find("subproblems"); it != j.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (p.subproblems.size() >= 20) break;
      std::string who;
      if (auto id = s.find("identifier"); s.is_object() && id != s.end() && id->is_object()) {
        who = member(*id, "type") + ":" + member(*id, "value") + ": ";
      }
      p.subproblems.push_back(who + member(s, "detail"));
    }
  }
  return p;
}

Result<AcmeDirectory> AcmeClient::fetch_directory() const {
  CW_ASSIGN_OR_RETURN(HttpReply r, http_exchange({"GET", directory_url_, {}, {}}, http_));
  if (r.status != 200) {
    return fail(ErrorCode::kUnavailable,
                "ACME directory " + directory_url_ + ": HTTP " + std::to_string(r.status));
  }
  const json j = json::parse(r.body, nullptr, false);
  AcmeDirectory d;
  d.new_nonce = member(j, "newNonce");
  d.new_account = member(j, "newAccount");
  d.new_order = member(j, "newOrder");
  d.revoke_cert = member(j, "revokeCert");
  d.renewal_info = member(j, "renewalInfo");
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty()) {
    return fail(ErrorCode::kMalformed,
                directory_url_ + " is not an ACME directory (no newNonce, newAccount, newOrder)");
  }
  if (auto meta = j.find("meta"); meta != j.end() && meta->is_object()) {
    if (auto tos = member(*meta, "termsOfService"); !tos.empty()) d.terms_of_service = tos;
    if (auto ear = meta->find("externalAccountRequired"); ear != meta->end() && ear->is_boolean())
      d.external_account_required = ear->get<bool>();
    if (auto profiles = meta->find("profiles"); profiles != meta->end() && profiles->is_object()) {
      for (const auto& [name, _] : profiles->items()) d.profiles.push_back(name);
    }
  }
  return d;
}

void AcmeClient::set_account(std::shared_ptr<const crypto::PrivateKey> key, std::string kid) {
  key_ = std::move(key);
  kid_ = std::move(kid);
}

namespace {
// RFC 8555 6.5.1: a nonce is base64url. Anything else is not sent back to the CA.
bool valid_nonce(std::string_view n) {
  return !n.empty() && n.size() <= 256 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}
}  // namespace

void AcmeClient::keep_nonce(const HttpReply& reply) const {
  auto n = reply.header("replay-nonce");
  if (!n || !valid_nonce(*n)) return;
  common::MutexLock lock(mu_);
  if (nonces_.size() >= kNoncePool) nonces_.erase(nonces_.begin());
  nonces_.push_back(std::move(*n));
}

Result<std::string> AcmeClient::nonce(const AcmeDirectory& dir) const {
  {
    common::MutexLock lock(mu_);
    if (!nonces_.empty()) {
      std::string n = std::move(nonces_.back());
      nonces_.pop_back();
      return n;
    }
  }
  CW_RETURN_IF_ERROR(check_origin(dir.new_nonce));
  CW_ASSIGN_OR_RETURN(HttpReply r, http_exchange({"HEAD", dir.new_nonce, {}, {}}, http_));
  auto n = r.header("replay-nonce");
  if (!n || !valid_nonce(*n)) {
    return fail(ErrorCode::kUnavailable, "ACME CA gave no nonce at " + dir.new_nonce + " (HTTP " +
                                             std::to_string(r.status) + ")");
  }
  return *n;
}

Status AcmeClient::check_origin(const std::string& url) const {
  // Every URL the CA hands out (orders, authorizations, challenges, certificates) is where
  // certward sends signed requests: one off the directory's host could aim them, and the
  // account's authority, at any address the server can reach.
  const std::string want = origin_of(directory_url_);
  const bool printable = std::all_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (!printable || url.size() > 2048) {
    return fail(ErrorCode::kMalformed, "the ACME CA sent a URL that is not one: " + said(url));
  }
  if (want.empty() || origin_of(url) != want) {
    return fail(ErrorCode::kMalformed,
                "the ACME CA pointed to " + said(url) + ", off its directory's origin " + want);
  }
  return ok();
}

Result<AcmeReply> AcmeClient::signed_post(const AcmeDirectory& dir, const crypto::PrivateKey& key,
                                          const std::string& kid, const std::string& url,
                                          const std::string& payload, std::string_view accept,
                                          std::optional<AcmeProblem>& problem) const {
  problem.reset();
  CW_RETURN_IF_ERROR(check_origin(url));
  for (int attempt = 0;; ++attempt) {
    CW_ASSIGN_OR_RETURN(std::string n, nonce(dir));
    CW_ASSIGN_OR_RETURN(std::string body, acme_jws::sign(key, kid, n, url, payload));
    HttpExchange x{"POST", url, {{"Content-Type", "application/jose+json"}}, std::move(body)};
    if (!accept.empty()) x.headers.emplace_back("Accept", std::string(accept));
    CW_ASSIGN_OR_RETURN(HttpReply r, http_exchange(x, http_));
    keep_nonce(r);
    const auto retry_after = parse_retry_after(r.header("retry-after").value_or(""));
    if (r.status >= 400) {
      AcmeProblem p = problem_of(r.status, r.body, retry_after);
      if (p.type == "urn:ietf:params:acme:error:badNonce" && attempt + 1 < kNonceRetries) continue;
      const bool transient = r.status >= 500 || p.type == "urn:ietf:params:acme:error:rateLimited";
      std::string message = "ACME CA refused " + url + ": " + p.describe();
      if (p.retry_after)
        message += " (retry after " + std::to_string(p.retry_after->count()) + "s)";
      problem = std::move(p);
      return fail(transient ? ErrorCode::kUnavailable : ErrorCode::kPolicyRejected, message);
    }
    AcmeReply out;
    out.status = r.status;
    out.location = r.header("location").value_or("");
    out.retry_after = retry_after;
    for (const auto& link : r.headers_named("link")) {
      // <url>;rel="alternate": the CA's other chains for a certificate (RFC 8555 7.4.2).
      const auto open = link.find('<');
      const auto close = link.find('>');
      if (open != 0 || close == std::string::npos) continue;
      if (link.find("rel=\"alternate\"", close) == std::string::npos) continue;
      if (out.alternates.size() < 8) out.alternates.push_back(link.substr(1, close - 1));
    }
    out.body = std::move(r.body);
    // An empty body with a JSON type (a revokeCert's 200) is no document, not a broken one.
    if (auto type = r.header("content-type");
        type && type->find("json") != std::string::npos && !out.body.empty()) {
      out.json = json::parse(out.body, nullptr, false);
      if (out.json.is_discarded()) {
        return fail(ErrorCode::kMalformed, "ACME CA answered " + said(url) + " with broken JSON");
      }
    }
    return out;
  }
}

Result<AcmeReply> AcmeClient::post_or_problem(const AcmeDirectory& dir, const std::string& url,
                                              const std::optional<json>& payload,
                                              std::optional<AcmeProblem>& problem,
                                              std::string_view accept) const {
  if (!key_ || kid_.empty()) return fail(ErrorCode::kInternal, "ACME client has no account");
  return signed_post(
      dir, *key_, kid_, url,
      payload ? payload->dump(-1, ' ', false, json::error_handler_t::replace) : std::string(),
      accept, problem);
}

Result<AcmeReply> AcmeClient::post(const AcmeDirectory& dir, const std::string& url,
                                   const std::optional<json>& payload,
                                   std::string_view accept) const {
  std::optional<AcmeProblem> problem;
  return post_or_problem(dir, url, payload, problem, accept);
}

Result<std::string> AcmeClient::register_account(
    const AcmeDirectory& dir, std::shared_ptr<const crypto::PrivateKey> key,
    const std::vector<std::string>& contact,
    const std::optional<ExternalAccountBinding>& binding) const {
  json payload{{"termsOfServiceAgreed", true}};
  if (!contact.empty()) payload["contact"] = contact;
  if (binding) {
    CW_ASSIGN_OR_RETURN(json jwk, acme_jws::public_jwk(*key));
    CW_ASSIGN_OR_RETURN(payload["externalAccountBinding"],
                        acme_jws::eab(*binding, jwk, dir.new_account));
  } else if (dir.external_account_required) {
    return fail(ErrorCode::kPolicyRejected,
                "the ACME CA requires external account binding: set eab_kid and eab_hmac_key_*");
  }
  std::optional<AcmeProblem> problem;
  CW_ASSIGN_OR_RETURN(AcmeReply r,
                      signed_post(dir, *key, "", dir.new_account, payload.dump(), "", problem));
  if (r.location.empty() || !(r.status == 200 || r.status == 201)) {
    return fail(ErrorCode::kMalformed, "ACME CA created an account without a Location");
  }
  // Kept and sent back as the kid of every request: it must be an URL of the CA's.
  CW_RETURN_IF_ERROR(check_origin(r.location));
  if (member(r.json, "status") != "valid") {
    return fail(ErrorCode::kPolicyRejected,
                "ACME account " + r.location + " is " + said(member(r.json, "status")));
  }
  return r.location;
}

}  // namespace certward::issuers
