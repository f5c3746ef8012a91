#include "api/body.h"

#include <algorithm>

#include "common/json_text.h"

namespace certward::api {
namespace {
Error type_error(std::string_view key, const char* want) {
  return Error{ErrorCode::kMalformed, "field '" + std::string(key) + "' must be " + want};
}
}  // namespace

bool is_json_content_type(const http::Request& r) {
  auto ct = r.header("content-type");
  if (!ct) return false;
  std::string v(ct->substr(0, ct->find(';')));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "application/json";
}

Result<Body> Body::parse(const http::Request& r, std::initializer_list<std::string_view> fields) {
  if (!is_json_content_type(r)) {
    return fail(ErrorCode::kInvalidArgument,
                "the body must be JSON (Content-Type: application/json)");
  }
  auto parsed = parse_json_strict(r.body);
  if (!parsed) return fail(ErrorCode::kMalformed, "the body is " + parsed.error().message);
  nlohmann::json j = *std::move(parsed);
  if (!j.is_object()) return fail(ErrorCode::kMalformed, "the body must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (std::find(fields.begin(), fields.end(), k) == fields.end()) {
      return fail(ErrorCode::kMalformed, "unknown field '" + k + "'");
    }
  }
  return Body(std::move(j));
}

const nlohmann::json* Body::find(std::string_view key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::optional<std::string>> Body::opt_string(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return std::unexpected(type_error(key, "a string"));
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::string> Body::string(std::string_view key) const {
  CW_ASSIGN_OR_RETURN(auto v, opt_string(key));
  if (!v || v->empty())
    return fail(ErrorCode::kMalformed, "field '" + std::string(key) + "' is required");
  return *v;
}

Result<std::optional<std::int64_t>> Body::opt_int(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return std::optional<std::int64_t>();
  if (!v->is_number_integer()) return std::unexpected(type_error(key, "an integer"));
  return std::optional<std::int64_t>(v->get<std::int64_t>());
}

Result<std::optional<bool>> Body::opt_bool(std::string_view key) const {
  const auto* v = find(key);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return std::unexpected(type_error(key, "true or false"));
  return std::optional<bool>(v->get<bool>());
}

Result<std::vector<std::string>> Body::strings(std::string_view key) const {
  CW_ASSIGN_OR_RETURN(auto v, opt_strings(key));
  return v.value_or(std::vector<std::string>());
}

Result<std::optional<crypto::SecretBytes>> Body::take_secret(std::string_view key) {
  auto it = j_.find(key);
  std::optional<crypto::SecretBytes> out;
  if (it == j_.end() || it->is_null()) return out;
  if (!it->is_string()) return std::unexpected(type_error(key, "a string"));
  out = crypto::SecretBytes::take(it->get_ref<std::string&>());
  return out;
}

bool Body::is_null(std::string_view key) const {
  auto it = j_.find(key);
  return it != j_.end() && it->is_null();
}

Result<std::optional<std::vector<std::string>>> Body::opt_strings(std::string_view key) const {
  const auto* v = find(key);
  std::optional<std::vector<std::string>> out;
  if (!v) return out;
  out.emplace();
  if (!v->is_array()) return std::unexpected(type_error(key, "an array of strings"));
  for (const auto& e : *v) {
    if (!e.is_string()) return std::unexpected(type_error(key, "an array of strings"));
    out->push_back(e.get<std::string>());
  }
  return out;
}

// key_store "pkcs11": the key in a token of [ca.pkcs11] (its library and PIN come from the
// configuration only). The token fields without it are an error, not silently a software key.
Result<std::optional<ca::TokenKeyRequest>> token_key_request(const Body& b) {
  CW_ASSIGN_OR_RETURN(auto store, b.opt_string("key_store"));
  CW_ASSIGN_OR_RETURN(auto token, b.opt_string("token"));
  CW_ASSIGN_OR_RETURN(auto label, b.opt_string("key_label"));
  CW_ASSIGN_OR_RETURN(auto key_id, b.opt_string("key_id"));
  CW_ASSIGN_OR_RETURN(auto existing, b.opt_bool("existing_key"));
  if (!store || *store == "software") {
    if (token || label || key_id || existing) {
      return fail(ErrorCode::kInvalidArgument,
                  "token, key_label, key_id and existing_key go with key_store \"pkcs11\"");
    }
    return std::optional<ca::TokenKeyRequest>();
  }
  if (*store != "pkcs11") {
    return fail(ErrorCode::kInvalidArgument, "key_store is \"software\" or \"pkcs11\"");
  }
  if (!token) return fail(ErrorCode::kInvalidArgument, "key_store \"pkcs11\" needs a token");
  ca::TokenKeyRequest t;
  t.token = *token;
  t.label = label.value_or("");
  t.id_hex = key_id.value_or("");
  t.existing = existing.value_or(false);
  return std::optional<ca::TokenKeyRequest>(std::move(t));
}

}  // namespace certward::api
