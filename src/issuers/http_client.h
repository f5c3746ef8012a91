#pragma once
// The outbound HTTP(S) client the upstream issuers talk through (libcurl): one exchange per
// call, bounded in time and in the size of what it reads, never following redirects on its
// own (ACME and CFSSL answer at the URL asked), https and http only.
//
// Thread-safe: every call uses a handle of its own.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace certward::issuers {

struct HttpOptions {
  std::chrono::seconds timeout{30};  // connect and whole exchange
  // PEM bundle the server's certificate must chain to; absent: the system's trust store.
  std::optional<std::string> ca_file;
  std::size_t max_body = 1 << 20;  // a larger answer is an error, not truncated
};

struct HttpExchange {
  std::string method = "GET";  // GET, HEAD, POST
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string body;                                          // POST only
};

struct HttpReply {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  // First header with this (lower-case) name.
  std::optional<std::string> header(std::string_view name) const;
  // Every value of a header (Link appears several times).
  std::vector<std::string> headers_named(std::string_view name) const;
};

// Errors: kUnavailable (no connection, TLS failure, timeout: the message says which and names
// the URL's host), kMalformed (answer larger than max_body), kInvalidArgument (not an http or
// https URL).
Result<HttpReply> http_exchange(const HttpExchange& exchange, const HttpOptions& options);

}  // namespace certward::issuers
