#pragma once
// The CLI as a client of a running certward server (--server URL): HTTPS through libcurl,
// bearer-token authentication, and problem+json mapped back to ErrorCodes so that remote
// and local commands fail with the same exit codes.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/error.h"

namespace certward::cli {

struct RemoteSettings {
  std::string server;                  // "https://certward.example:8443"
  std::string token;                   // secret: never printed
  std::optional<std::string> ca_file;  // trust anchors for the server certificate
  // Whether an http:// server may be used (only by explicit request: the token and generated
  // keys would travel in clear text). Otherwise libcurl is allowed nothing but HTTPS.
  bool allow_plain_http = false;
  // The longest answer taken, in bytes: a server's answer is hostile input, and one longer is
  // refused as it arrives (kMalformed) rather than held in memory. Default 1 GiB (exports).
  std::size_t max_answer = std::size_t{1} << 30;
};

class Remote {
 public:
  explicit Remote(RemoteSettings settings) : settings_(std::move(settings)) {}

  // Lowers RemoteSettings::max_answer for what this client still asks (an agent's answers
  // are small).
  void limit_answers(std::size_t max_bytes) { settings_.max_answer = max_bytes; }

  // Errors: the problem's code for 4xx/5xx answers, kUnavailable when the server cannot be
  // reached, kMalformed when the answer is not the JSON we expect.
  Result<nlohmann::json> get(const std::string& path) const;
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body) const;
  Result<nlohmann::json> patch(const std::string& path, const nlohmann::json& body) const;
  Result<nlohmann::json> put(const std::string& path, const nlohmann::json& body) const;
  Status del(const std::string& path) const;
  // A non-JSON resource (PEM, DER, PKCS#7...).
  Result<std::string> get_raw(const std::string& path,
                              const std::map<std::string, std::string>& headers = {}) const;

 private:
  struct Answer {
    long status = 0;
    std::string body;
  };
  Result<Answer> call(const std::string& method, const std::string& path, const std::string* body,
                      const std::map<std::string, std::string>& headers) const;

  RemoteSettings settings_;
};

// Percent-encodes a query value.
std::string url_encode(std::string_view value);

}  // namespace certward::cli
