#pragma once
// Test helpers: a blocking raw-socket HTTP/1.1 client, shell commands, and an in-memory
// EC P-256 PKI built with OpenSSL.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "http/http.h"

namespace certward::http::testing {

struct Reply {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One TCP connection to 127.0.0.1:port; reads time out after 5 s.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int connect_errno() const { return connect_errno_; }
  bool send(std::string_view data);
  // The next response (Content-Length framed); nullopt if the connection closed or timed out.
  std::optional<Reply> read_reply();
  // True if the server closes the connection (EOF or reset) within the read timeout.
  bool wait_closed();

 private:
  bool fill();  // reads more into buffer_; false on EOF/error/timeout
  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  std::string buffer_;
};

// One request on a new connection.
std::optional<Reply> fetch(std::uint16_t port, std::string_view raw_request);
std::string get_request(std::string_view target, std::string_view extra_headers = "");

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult run_command(const std::string& command);

// A key and certificate in PEM, and the certificate's DER.
struct Credential {
  std::string key_pem;
  std::string cert_pem;
  Bytes cert_der;
};

enum class CertKind { kCa, kServer, kClient };
// An EC P-256 certificate for `cn`, self-signed when `issuer` is null.
Credential make_credential(std::string_view cn, CertKind kind, const Credential* issuer);

inline ServerOptions test_options() {
  using namespace std::chrono_literals;
  ServerOptions o;
  o.io_threads = 2;
  o.worker_threads = 2;
  o.read_timeout = 5s;
  o.idle_timeout = 5s;
  o.drain_timeout = 5s;
  return o;
}

// A started server with one listener; the router is filled before start().
class ServerHarness {
 public:
  explicit ServerHarness(ServerOptions options = test_options(), Observer observer = {})
      : options_(options), observer_(std::move(observer)) {}

  Router& router() { return *router_; }

  std::uint16_t start(ListenerSettings listener = {}) {
    server_ = std::make_unique<Server>(options_, router_, observer_);
    auto port = server_->listen(listener);
    EXPECT_TRUE(port.has_value()) << (port ? "" : port.error().message);
    auto started = server_->start();
    EXPECT_TRUE(started.has_value());
    return port.value_or(0);
  }
  Server& server() { return *server_; }

 private:
  ServerOptions options_;
  Observer observer_;
  std::shared_ptr<Router> router_ = std::make_shared<Router>();
  std::unique_ptr<Server> server_;
};

// A fresh temporary directory, and a file written into it.
std::string make_temp_dir();
std::string write_file(const std::string& dir, const std::string& name, const std::string& data);

}  // namespace certward::http::testing
