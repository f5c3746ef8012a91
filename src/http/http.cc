// Request accessors and Response constructors.

#include "http/http.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "http/text_impl.h"

namespace certward::http {

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_value(std::string_view key) const {
  auto it = query.find(std::string(key));
  if (it == query.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::string_view Request::raw_path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

Result<std::string> decode_path(std::string_view raw) {
  auto decoded = percent_decode(raw, false);
  if (!decoded) return fail(ErrorCode::kMalformed, "malformed percent-escape in the path");
  return std::move(*decoded);
}

bool Response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

Response& Response::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (iequals(key, name)) {
      existing = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

Response Response::json(int status, std::string body) {
  return text(status, std::move(body), "application/json");
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::move(content_type));
  return r;
}

Response Response::problem(int status, std::string_view title, std::string_view detail,
                           std::string_view type, std::string_view code) {
  nlohmann::json doc = {{"type", std::string(type)},
                        {"title", std::string(title)},
                        {"status", status},
                        {"detail", std::string(detail)}};
  if (!code.empty()) doc["code"] = std::string(code);
  // Replace, not throw, on invalid UTF-8 in the detail (it may echo client input).
  return text(status, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              "application/problem+json");
}

std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() || header.size() > 4096) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  auto decoded = from_base64(header.substr(kScheme.size()));
  if (!decoded) return std::nullopt;
  const std::string text(decoded->begin(), decoded->end());
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair(text.substr(0, colon), text.substr(colon + 1));
}

}  // namespace certward::http
