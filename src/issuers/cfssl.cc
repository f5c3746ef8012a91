// Written against golang-cfssl 1.2.0+git20160825 (Debian 12). What is sent and read follows its
// api/, auth/ and signer/local/ packages:
// - authsign takes {"token", "request"}, both base64 (Go's []byte in JSON); the token is
//   HMAC-SHA256 under the profile's auth key over exactly the decoded request bytes, so the
//   bytes signed here are the bytes sent;
// - a sign request's "hosts", when present (even empty), replaces every SAN of the CSR;
// - every answer is {"success", "result", "errors": [{"code", "message"}], "messages"}; a
//   refusal comes as HTTP 400 (code 400, or CFSSL's own category code such as 5xxx for policy),
//   an internal failure as HTTP 500.
// Nothing CFSSL sends is trusted: its JSON is parsed strictly, each member type-checked, and
// what it signed goes through check_upstream_result before anyone sees it.

#include "issuers/cfssl.h"

#include <openssl/hmac.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/json_text.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "issuers/verify.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::issuers {
namespace {

using nlohmann::json;

// The subject keys certward sends to CFSSL: RSA and ECDSA, the ones its 2016 signer was made for.
constexpr std::array<std::string_view, 5> kKeyTypes = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072",
                                                       "rsa-4096"};
constexpr std::size_t kMaxQuoted = 300;

// Text from CFSSL, made safe to show and bounded: a hostile server could send anything, and
// messages end up in JSON answers, which need valid UTF-8. A JSON string is (the parser checked
// it), so it is cut only between characters; any other body keeps ASCII alone.
std::string quoted(std::string_view text, bool utf8) {
  std::size_t n = std::min(text.size(), kMaxQuoted);
  while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) --n;
  std::string out = terminal_text(text.substr(0, n));
  if (!utf8) {
    std::ranges::replace_if(
        out, [](char c) { return static_cast<unsigned char>(c) >= 0x80; }, '?');
  }
  if (n < text.size()) out += "...";
  return out;
}

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string pem_block(std::string_view label, std::span<const std::uint8_t> der) {
  const std::string b64 = to_base64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

// auth.Standard's token, with no additional data (cfssl serve passes none).
Result<Bytes> hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr) {
    return fail(ErrorCode::kInternal, "HMAC-SHA256 failed: " + crypto::openssl_error_string());
  }
  out.resize(len);
  return out;
}

bool issued_by(const x509::Certificate& issuer, const x509::Certificate& subject) {
  return X509_check_issued(issuer.get(), subject.get()) == X509_V_OK;
}

// Refusals (4xx) are the CA's decision and retrying will not change them; anything else —
// a 5xx, a redirect, garbage behind a 200 — says the CA is not working as it should.
ErrorCode code_for_status(long status) {
  return status >= 400 && status < 500 ? ErrorCode::kPolicyRejected : ErrorCode::kUnavailable;
}

class CfsslIssuer final : public UpstreamIssuer {
 public:
  explicit CfsslIssuer(CfsslOptions options) : o_(std::move(options)) {
    while (o_.url.ends_with('/')) o_.url.pop_back();
  }

  const std::string& name() const override { return o_.name; }
  std::string_view type() const override { return "cfssl"; }
  const std::string& endpoint() const override { return o_.url; }

  IssuerSupport support() const override {
    IssuerSupport s;
    s.key_types.assign(kKeyTypes.begin(), kKeyTypes.end());
    s.name_types = {"dns", "ip"};
    return s;
  }

  Status probe() const override {
    CW_RETURN_IF_ERROR(fetch_ca());
    return ok();
  }

  Status revoke(const x509::Certificate& certificate, int reason) const override {
    (void)certificate;
    (void)reason;
    return refuse(ErrorCode::kPolicyRejected,
                  "CFSSL's remote signer cannot revoke; revoke at the CFSSL CA (cfssl revoke with "
                  "its database)");
  }

  Result<ca::IssuedChain> issue(const ca::Order& order) const override;

 private:
  std::unexpected<Error> refuse(ErrorCode code, std::string_view why) const {
    return fail(code, "cfssl issuer '" + o_.name + "': " + std::string(why));
  }
  Result<json> call(std::string_view path, const json& request) const;
  Result<json> call_raw(std::string_view path, std::string body) const;
  Result<std::vector<x509::Certificate>> fetch_ca() const;
  Result<std::vector<x509::Certificate>> chain_for(const x509::Certificate& leaf) const;
  Result<std::string> csr_pem(const ca::Order& order) const;

  CfsslOptions o_;
  mutable common::Mutex mu_;
  // CFSSL's CA as its info endpoint last gave it, nearest first.
  mutable std::vector<x509::Certificate> ca_ CW_GUARDED_BY(mu_);
};

Result<json> CfsslIssuer::call(std::string_view path, const json& request) const {
  // Replacing rather than throwing on invalid UTF-8 (a profile name from configuration):
  // CFSSL then names the profile it does not know.
  return call_raw(path, request.dump(-1, ' ', false, json::error_handler_t::replace));
}

// POSTs `body` to the API endpoint `path` and returns the answer's "result" object.
Result<json> CfsslIssuer::call_raw(std::string_view path, std::string body) const {
  HttpExchange exchange;
  exchange.method = "POST";
  exchange.url = o_.url + "/api/v1/cfssl/" + std::string(path);
  exchange.headers = {{"Content-Type", "application/json"}};
  exchange.body = std::move(body);
  auto reply = http_exchange(exchange, o_.http);
  if (!reply) {
    // A URL that is not http(s) is configuration and stays so; anything else (no connection, a
    // timeout, an answer too large to read) is the CA not answering as it should.
    const ErrorCode code = reply.error().code == ErrorCode::kInvalidArgument
                               ? ErrorCode::kInvalidArgument
                               : ErrorCode::kUnavailable;
    return refuse(code, reply.error().message);
  }
  const long status = reply->status;
  const bool http_ok = status >= 200 && status < 300;
  const std::string where = "HTTP " + std::to_string(status) + " from " + exchange.url;
  auto doc = parse_json_strict(reply->body);
  if (!doc || !doc->is_object()) {
    return refuse(http_ok ? ErrorCode::kUnavailable : code_for_status(status),
                  where + ", not a CFSSL answer: " + quoted(trimmed(reply->body), false));
  }
  const auto success = doc->find("success");
  const bool has_success = success != doc->end() && success->is_boolean();
  if (http_ok && !has_success) {
    return refuse(ErrorCode::kUnavailable, where + ", an answer without \"success\"");
  }
  if (http_ok && success->get<bool>()) {
    const auto result = doc->find("result");
    if (result == doc->end() || !result->is_object()) {
      return refuse(ErrorCode::kUnavailable, where + ", a success without a result");
    }
    return std::move(*result);
  }

  // A refusal: CFSSL's own words, and its code for what kind of failure it was.
  std::string message;
  std::optional<long long> first_code;
  const auto errors = doc->find("errors");
  if (errors != doc->end() && errors->is_array()) {
    for (const json& e : *errors) {
      if (!e.is_object()) continue;
      const auto text = e.find("message");
      const auto code = e.find("code");
      if (text == e.end() || !text->is_string()) continue;
      if (!message.empty()) message += "; ";
      message += quoted(text->get_ref<const std::string&>(), true);
      if (code != e.end() && code->is_number_integer()) {
        message += " (code " + std::to_string(code->get<long long>()) + ")";
        if (!first_code) first_code = code->get<long long>();
      }
      if (message.size() > 2 * kMaxQuoted) break;
    }
  }
  if (message.empty()) message = where + ", a failure without a message";
  ErrorCode code = code_for_status(status);
  // A failure behind a 2xx: CFSSL's code (an HTTP status, or a category code such as 5xxx
  // for policy) tells a server fault from a refusal.
  if (http_ok) {
    code = first_code && *first_code >= 500 && *first_code < 600 ? ErrorCode::kUnavailable
                                                                 : ErrorCode::kPolicyRejected;
  }
  return refuse(code, message);
}

Result<std::vector<x509::Certificate>> CfsslIssuer::fetch_ca() const {
  CW_ASSIGN_OR_RETURN(json result,
                      call("info", json{{"label", o_.label}, {"profile", o_.profile}}));
  const auto pem = result.find("certificate");
  if (pem == result.end() || !pem->is_string()) {
    return refuse(ErrorCode::kUnavailable, "its info answer carries no certificate");
  }
  auto certs = x509::parse_certificates(as_bytes(pem->get_ref<const std::string&>()));
  if (!certs || certs->empty()) {
    return refuse(ErrorCode::kUnavailable,
                  "its info answer's certificate does not parse" +
                      (certs ? std::string() : ": " + certs.error().message));
  }
  common::MutexLock lock(mu_);
  ca_ = *certs;
  return std::move(*certs);
}

// The chain for `leaf`: the cached CA when it issued the leaf, else CFSSL's current one (its CA
// may have been rotated since), completed with the trust anchor above it when CFSSL's CA is an
// intermediate, so that the chain ends at a root as IssuedChain promises.
Result<std::vector<x509::Certificate>> CfsslIssuer::chain_for(const x509::Certificate& leaf) const {
  std::vector<x509::Certificate> chain;
  {
    common::MutexLock lock(mu_);
    chain = ca_;
  }
  if (chain.empty() || !issued_by(chain.front(), leaf)) {
    // Fetched without the lock held: a slow CA must not hold up issuances already answered.
    CW_ASSIGN_OR_RETURN(chain, fetch_ca());
  }
  const x509::Certificate& top = chain.back();
  if (!top.info().self_issued) {
    for (const x509::Certificate& anchor : o_.trust_anchors) {
      if (anchor.der() != top.der() && issued_by(anchor, top)) {
        chain.push_back(anchor);
        break;
      }
    }
  }
  return chain;
}

Result<std::string> CfsslIssuer::csr_pem(const ca::Order& order) const {
  if (order.csr != nullptr) return pem_block("CERTIFICATE REQUEST", order.csr->der());
  if (order.private_key == nullptr) {
    return refuse(ErrorCode::kPolicyRejected,
                  "CFSSL signs CSRs: it needs a CSR or a key generated by certward, not a bare "
                  "public key");
  }
  // CFSSL copies the subject from the CSR, so the CSR carries the RA's.
  std::string subject = order.subject != nullptr ? x509::format_name(order.subject) : "";
  if (subject.empty() && !order.sans.empty()) subject = "CN=" + order.sans.front().value;
  auto der = x509::make_csr_der(*order.private_key, subject, order.sans);
  if (!der) return refuse(ErrorCode::kInternal, "making the CSR: " + der.error().message);
  return pem_block("CERTIFICATE REQUEST", *der);
}

Result<ca::IssuedChain> CfsslIssuer::issue(const ca::Order& order) const {
  if (o_.auth_key.empty() && !o_.allow_unauthenticated) {
    return refuse(ErrorCode::kPolicyRejected,
                  "no auth key configured; signing without one is refused unless "
                  "allow_unauthenticated is set");
  }
  if (order.is_ca) {
    return refuse(ErrorCode::kPolicyRejected, "CA certificates are not issued through CFSSL");
  }
  if (order.public_key == nullptr) return refuse(ErrorCode::kInternal, "the order has no key");
  const crypto::KeyInfo key = crypto::describe_key(order.public_key);
  const auto key_type = key.key_type();
  if (!key_type ||
      std::ranges::find(kKeyTypes, crypto::key_type_name(*key_type)) == kKeyTypes.end()) {
    return refuse(ErrorCode::kPolicyRejected, "CFSSL does not sign " + key.name() + " keys");
  }
  // "hosts" is what CFSSL puts in the certificate: exactly the names the RA decided.
  json hosts = json::array();
  for (const x509::SubjectAltName& san : order.sans) {
    if (san.type != x509::SanType::kDns && san.type != x509::SanType::kIp) {
      return refuse(ErrorCode::kPolicyRejected, "CFSSL cannot carry the name " +
                                                    x509::format_san(san) +
                                                    " (DNS names and IP addresses only)");
    }
    hosts.push_back(san.value);
  }
  CW_ASSIGN_OR_RETURN(std::string csr, csr_pem(order));

  const json sign_request = {{"certificate_request", std::move(csr)},
                             {"hosts", std::move(hosts)},
                             {"profile", o_.profile},
                             {"label", o_.label}};
  Result<json> result;
  if (o_.auth_key.empty()) {
    result = call("sign", sign_request);
  } else {
    const std::string request = sign_request.dump(-1, ' ', false, json::error_handler_t::replace);
    CW_ASSIGN_OR_RETURN(Bytes token, hmac_sha256(o_.auth_key.span(), request));
    result = call("authsign",
                  json{{"token", to_base64(token)}, {"request", to_base64(as_bytes(request))}});
  }
  if (!result) return std::unexpected(std::move(result).error());

  const auto pem = result->find("certificate");
  if (pem == result->end() || !pem->is_string()) {
    return refuse(ErrorCode::kUnavailable, "its sign answer carries no certificate");
  }
  auto certs = x509::parse_certificates(as_bytes(pem->get_ref<const std::string&>()));
  if (!certs || certs->size() != 1) {
    return refuse(ErrorCode::kUnavailable,
                  "its sign answer is not one certificate" +
                      (certs ? std::string() : ": " + certs.error().message));
  }
  x509::Certificate leaf = std::move(certs->front());
  CW_ASSIGN_OR_RETURN(std::vector<x509::Certificate> chain, chain_for(leaf));
  CW_RETURN_IF_ERROR(check_upstream_result(order, leaf, chain, o_.trust_anchors, o_.name));

  // CFSSL's signing profile, not the order, decides the validity: check_upstream_result has
  // refused one that outlives the RA's profile.
  return ca::IssuedChain{std::move(leaf), std::move(chain), /*issued_by=*/"", /*upstream=*/true};
}

}  // namespace

std::shared_ptr<UpstreamIssuer> make_cfssl_issuer(CfsslOptions options) {
  return std::make_shared<CfsslIssuer>(std::move(options));
}

}  // namespace certward::issuers
