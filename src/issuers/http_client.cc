#include "issuers/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace certward::issuers {
namespace {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

struct Sink {
  HttpReply* reply;
  std::size_t max_body;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t len = size * n;
  if (sink->reply->body.size() + len > sink->max_body) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->reply->body.append(data, len);
  return len;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  const std::string_view line(data, size * n);
  // A new status line starts a new set (a 100 Continue before the answer).
  if (line.starts_with("HTTP/")) {
    reply->headers.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || reply->headers.size() >= 200) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  reply->headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return size * n;
}

// The URL's host and port, for messages: never its path or query, nor credentials before '@'.
std::string host_of(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return "?";
  url.remove_prefix(start + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  return std::string(url);
}

}  // namespace

std::optional<std::string> HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

std::vector<std::string> HttpReply::headers_named(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (k == name) out.push_back(v);
  return out;
}

Result<HttpReply> http_exchange(const HttpExchange& x, const HttpOptions& options) {
  if (!x.url.starts_with("https://") && !x.url.starts_with("http://")) {
    return fail(ErrorCode::kInvalidArgument, "not an http(s) URL: " + host_of(x.url));
  }
  init_curl();
  CurlPtr h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return fail(ErrorCode::kInternal, "libcurl: no handle");
  HttpReply reply;
  Sink sink{&reply, options.max_body};
  const long timeout = static_cast<long>(options.timeout.count());
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT, timeout);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(h.get(), CURLOPT_URL, x.url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  // ACME and CFSSL answer at the URL asked; a redirect would be the CA's mistake or an attack.
  curl_easy_setopt(h.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h.get(), CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "certward");
  if (options.ca_file) curl_easy_setopt(h.get(), CURLOPT_CAINFO, options.ca_file->c_str());
  curl_slist* list = nullptr;
  for (const auto& [k, v] : x.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  SlistPtr headers(list, curl_slist_free_all);
  if (headers) curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  if (x.method == "POST") {
    curl_easy_setopt(h.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, x.body.data());
    curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(x.body.size()));
  } else if (x.method == "HEAD") {
    curl_easy_setopt(h.get(), CURLOPT_NOBODY, 1L);
  } else if (x.method != "GET") {
    return fail(ErrorCode::kInvalidArgument, "unsupported HTTP method " + x.method);
  }
  const CURLcode rc = curl_easy_perform(h.get());
  if (sink.too_large) {
    return fail(ErrorCode::kMalformed, host_of(x.url) + " answered with more than " +
                                           std::to_string(options.max_body) + " bytes");
  }
  if (rc != CURLE_OK) {
    return fail(ErrorCode::kUnavailable, host_of(x.url) + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace certward::issuers
