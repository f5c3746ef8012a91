#pragma once
// certward as an ACME client (RFC 8555) of an upstream CA: the directory, nonces, the account
// and its JWS-signed requests, and the CA's problem documents. The order flow that uses it
// (authorizations, challenges, finalize, download) is acme_issuer.cc's.
//
// Every byte the CA sends is hostile until parsed: each JSON member is type-checked, sizes
// are bounded by the HTTP client, and a CA that answers off the protocol gets an error that
// says what it sent, never a crash or a hang (each request has the issuer's timeout).
//
// Thread-safe: the account is set once before use; nonces are pooled under a lock.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "crypto/crypto.h"
#include "issuers/http_client.h"

namespace certward::issuers {

struct AcmeDirectory {
  std::string new_nonce, new_account, new_order, revoke_cert, renewal_info;
  std::optional<std::string> terms_of_service;
  bool external_account_required = false;
  std::vector<std::string> profiles;  // draft-ietf-acme-profiles: meta.profiles' names
};

// An RFC 7807 problem document from the CA (or a failure to reach it, as a problem of our own).
struct AcmeProblem {
  std::string type;  // "urn:ietf:params:acme:error:rateLimited", ...
  std::string detail;
  long status = 0;
  std::optional<std::chrono::seconds> retry_after;
  std::vector<std::string> subproblems;  // "dns:www.example.com: detail"
  std::string describe() const;          // "rateLimited: detail (www: ...)"
};

struct AcmeReply {
  long status = 0;
  std::string location;  // Location header
  std::optional<std::chrono::seconds> retry_after;
  std::vector<std::string> alternates;  // Link: <url>;rel="alternate"
  std::string body;
  nlohmann::json json;  // when the body is JSON (else null)
};

struct ExternalAccountBinding {
  std::string kid;
  crypto::SecretBytes hmac_key;  // decoded from base64url
};

// The JWS pieces, apart for tests and the fuzzer.
namespace acme_jws {
// The account key's public JWK (EC P-256 only: ES256) and its RFC 7638 thumbprint.
Result<nlohmann::json> public_jwk(const crypto::PrivateKey& key);
Result<std::string> thumbprint(const crypto::PrivateKey& key);
// A flattened JWS (RFC 7515 7.2.2) with ES256 over `payload` ("" for POST-as-GET); `kid` or,
// when empty, the JWK in the protected header.
Result<std::string> sign(const crypto::PrivateKey& key, const std::string& kid,
                         const std::string& nonce, const std::string& url,
                         const std::string& payload);
// RFC 8555 7.3.4: the account JWK signed with the EAB key (HS256).
Result<nlohmann::json> eab(const ExternalAccountBinding& binding, const nlohmann::json& jwk,
                           const std::string& url);
}  // namespace acme_jws

// What a CA said, fit for a message, a log line and a JSON document: printable ASCII only
// (anything else, invalid UTF-8 included, becomes '?'), at most `max` bytes.
std::string said(std::string_view text, std::size_t max = 200);

// Reads a problem document out of an answer (any status >= 400).
AcmeProblem problem_of(long status, const std::string& body,
                       std::optional<std::chrono::seconds> retry_after);
// Retry-After as seconds or an HTTP date, capped at a day. nullopt when absent or unreadable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

class AcmeClient {
 public:
  AcmeClient(std::string directory_url, HttpOptions http)
      : directory_url_(std::move(directory_url)), http_(std::move(http)) {}

  // GET the directory (again: a CA may move its endpoints). Errors: kUnavailable, kMalformed.
  Result<AcmeDirectory> fetch_directory() const;

  // The account every signed request is made as. REQUIRES: before any post().
  void set_account(std::shared_ptr<const crypto::PrivateKey> key, std::string kid);
  const std::string& account_url() const { return kid_; }
  const crypto::PrivateKey& account_key() const { return *key_; }

  // newAccount with the key in the header (kid empty): returns the account URL.
  // onlyReturnExisting finds an account the CA already has for this key.
  Result<std::string> register_account(const AcmeDirectory& dir,
                                       std::shared_ptr<const crypto::PrivateKey> key,
                                       const std::vector<std::string>& contact,
                                       const std::optional<ExternalAccountBinding>& eab) const;

  // A signed POST as the account (`payload` nullopt: POST-as-GET), retried with a fresh nonce
  // on badNonce (at most 6 attempts). An answer >= 400 is an error carrying the CA's problem.
  // Errors: kUnavailable (unreachable, 5xx, rateLimited: the problem in the message),
  // kPolicyRejected (the CA refused: its problem), kMalformed (not ACME).
  Result<AcmeReply> post(const AcmeDirectory& dir, const std::string& url,
                         const std::optional<nlohmann::json>& payload,
                         std::string_view accept = "") const;
  // As post(), and a failure's problem document in `problem` (for callers that act on its
  // type: an unknown account, a rate limit).
  Result<AcmeReply> post_or_problem(const AcmeDirectory& dir, const std::string& url,
                                    const std::optional<nlohmann::json>& payload,
                                    std::optional<AcmeProblem>& problem,
                                    std::string_view accept = "") const;

  // Whether `url` is on the directory's origin (scheme, host and port). Errors: kMalformed.
  Status check_origin(const std::string& url) const;

  const HttpOptions& http() const { return http_; }
  const std::string& directory_url() const { return directory_url_; }

 private:
  Result<std::string> nonce(const AcmeDirectory& dir) const;
  void keep_nonce(const HttpReply& reply) const;
  Result<AcmeReply> signed_post(const AcmeDirectory& dir, const crypto::PrivateKey& key,
                                const std::string& kid, const std::string& url,
                                const std::string& payload, std::string_view accept,
                                std::optional<AcmeProblem>& problem) const;

  std::string directory_url_;
  HttpOptions http_;
  std::shared_ptr<const crypto::PrivateKey> key_;
  std::string kid_;
  mutable common::Mutex mu_;
  mutable std::vector<std::string> nonces_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::issuers
