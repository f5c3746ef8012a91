#pragma once
// Strict reading of JSON request bodies: the content type must be JSON, the body an object,
// every field of the expected type, and no field unknown (a typo must not be ignored).

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ca/authority.h"
#include "common/error.h"
#include "crypto/secret_bytes.h"
#include "http/http.h"

namespace certward::api {

class Body {
 public:
  // Errors: kInvalidArgument "unsupported media type" is reported as code kMalformed with
  // media_type_error() true, so the caller can answer 415.
  static Result<Body> parse(const http::Request& request,
                            std::initializer_list<std::string_view> fields);

  Result<std::optional<std::string>> opt_string(std::string_view key) const;
  Result<std::string> string(std::string_view key) const;  // required
  Result<std::optional<std::int64_t>> opt_int(std::string_view key) const;
  Result<std::optional<bool>> opt_bool(std::string_view key) const;
  Result<std::vector<std::string>> strings(std::string_view key) const;  // absent: empty
  // Absent or null: nullopt (for fields where an empty list means something).
  Result<std::optional<std::vector<std::string>>> opt_strings(std::string_view key) const;
  // Present with the value null: a PATCH clearing the field.
  bool is_null(std::string_view key) const;
  // The whole body, for a service that decodes a document of its own (a scan's spec).
  const nlohmann::json& json() const { return j_; }
  // A secret string (a private key, a passphrase) moved into SecretBytes; the body's own copy
  // is cleansed, so take each secret before the Body goes. Absent or null: nullopt.
  Result<std::optional<crypto::SecretBytes>> take_secret(std::string_view key);

 private:
  explicit Body(nlohmann::json j) : j_(std::move(j)) {}
  const nlohmann::json* find(std::string_view key) const;
  nlohmann::json j_;
};

// True for "application/json" with or without parameters.
bool is_json_content_type(const http::Request& request);

// The fields of a request that puts a new CA's key in a PKCS#11 token: key_store ("software",
// the default, or "pkcs11"), token, key_label, key_id, existing_key. Never a library or a PIN
// source: those are the server's [ca.pkcs11]. Errors: kInvalidArgument, and the Body's.
Result<std::optional<ca::TokenKeyRequest>> token_key_request(const Body& b);

}  // namespace certward::api
