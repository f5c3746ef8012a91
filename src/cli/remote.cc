#include "cli/remote.h"

#include <curl/curl.h>

#include <memory>

#include "crypto/secret_bytes.h"

namespace certward::cli {
namespace {

// Where an answer's body goes, up to `max` bytes; a longer one aborts the transfer.
struct Sink {
  std::string* body;
  std::size_t max;
  bool too_long = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  if (size * n > sink->max - sink->body->size()) {
    sink->too_long = true;
    return 0;  // anything but size * n: libcurl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, size * n);
  return size * n;
}

ErrorCode code_from_problem(const nlohmann::json& j, long status) {
  static const std::map<std::string, ErrorCode, std::less<>> kCodes = {
      {"malformed", ErrorCode::kMalformed},
      {"bad_signature", ErrorCode::kBadSignature},
      {"not_found", ErrorCode::kNotFound},
      {"conflict", ErrorCode::kConflict},
      {"policy_rejected", ErrorCode::kPolicyRejected},
      {"unauthorized", ErrorCode::kUnauthorized},
      {"unavailable", ErrorCode::kUnavailable},
      {"internal", ErrorCode::kInternal},
      {"bad_password", ErrorCode::kBadPassword},
      {"invalid_argument", ErrorCode::kInvalidArgument}};
  if (j.is_object() && j.contains("code") && j["code"].is_string()) {
    if (auto it = kCodes.find(j["code"].get<std::string>()); it != kCodes.end()) return it->second;
  }
  if (status == 401 || status == 403) return ErrorCode::kUnauthorized;
  if (status == 404) return ErrorCode::kNotFound;
  if (status == 409) return ErrorCode::kConflict;
  if (status == 413 || status == 415) return ErrorCode::kInvalidArgument;
  if (status == 422) return ErrorCode::kPolicyRejected;
  if (status == 429 || status >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kMalformed;
}

}  // namespace

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<Remote::Answer> Remote::call(const std::string& method, const std::string& path,
                                    const std::string* body,
                                    const std::map<std::string, std::string>& headers) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return fail(ErrorCode::kInternal, "cannot initialise libcurl");
  std::string url = settings_.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  Answer answer;
  curl_slist* list = nullptr;
  const std::string auth = "Authorization: Bearer " + settings_.token;
  list = curl_slist_append(list, auth.c_str());
  if (body) list = curl_slist_append(list, "Content-Type: application/json");
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list,
                                                                          curl_slist_free_all);
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &collect);
  Sink sink{&answer.body, settings_.max_answer};
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(settings_.max_answer));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, settings_.allow_plain_http ? "https,http" : "https");
  curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (settings_.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file->c_str());
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  const CURLcode rc = curl_easy_perform(h);
  if (sink.too_long || rc == CURLE_FILESIZE_EXCEEDED) {
    crypto::cleanse(answer.body);
    return fail(ErrorCode::kMalformed, "the server's answer is too long (over " +
                                           std::to_string(settings_.max_answer) + " bytes)");
  }
  if (rc != CURLE_OK) {
    return fail(ErrorCode::kUnavailable,
                "cannot reach " + settings_.server + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
  if (answer.status >= 400) {
    const auto j = nlohmann::json::parse(answer.body, nullptr, false);
    std::string detail = j.is_object() && j.contains("detail") && j["detail"].is_string()
                             ? j["detail"].get<std::string>()
                             : "HTTP " + std::to_string(answer.status);
    return fail(code_from_problem(j, answer.status), "server: " + detail);
  }
  return answer;
}

// An answer may carry a private key (an agent's deployment): its text is wiped once parsed.
Result<nlohmann::json> Remote::get(const std::string& path) const {
  CW_ASSIGN_OR_RETURN(auto a, call("GET", path, nullptr, {}));
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  crypto::cleanse(a.body);
  if (j.is_discarded()) return fail(ErrorCode::kMalformed, "the server's answer is not JSON");
  return j;
}

namespace {
Result<nlohmann::json> json_answer(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return fail(ErrorCode::kMalformed, "the server's answer is not JSON");
  return j;
}
}  // namespace

// A POST may carry passwords (issue) and its answer a generated private key: both texts are
// wiped once parsed, leaving the secrets only where the caller takes them from.
Result<nlohmann::json> Remote::post(const std::string& path, const nlohmann::json& body) const {
  std::string text = body.dump();
  auto a = call("POST", path, &text, {});
  crypto::cleanse(text);
  if (!a) return std::unexpected(std::move(a).error());
  auto answer = json_answer(a->body);
  crypto::cleanse(a->body);
  return answer;
}

Result<nlohmann::json> Remote::patch(const std::string& path, const nlohmann::json& body) const {
  const std::string text = body.dump();
  CW_ASSIGN_OR_RETURN(auto a, call("PATCH", path, &text, {}));
  return json_answer(a.body);
}

Result<nlohmann::json> Remote::put(const std::string& path, const nlohmann::json& body) const {
  const std::string text = body.dump();
  CW_ASSIGN_OR_RETURN(auto a, call("PUT", path, &text, {}));
  return json_answer(a.body);
}

Status Remote::del(const std::string& path) const {
  CW_ASSIGN_OR_RETURN(auto a, call("DELETE", path, nullptr, {}));
  return ok();
}

Result<std::string> Remote::get_raw(const std::string& path,
                                    const std::map<std::string, std::string>& headers) const {
  CW_ASSIGN_OR_RETURN(auto a, call("GET", path, nullptr, headers));
  return std::move(a.body);
}

}  // namespace certward::cli
