// ACME load generator: N clients run complete http-01 orders (RFC 8555) against one ACME server
// for a fixed time, and the run reports completed orders, orders/s, the latency of a whole
// order and the errors by type. bench/acme/run.sh runs it against certward and Pebble in turn.
//
// Each client is one thread with one keep-alive HTTPS connection (the server's certificate is
// verified against --ca-file and its name or address), one ES256 account made before the
// clock starts, and one P-256 key its CSRs carry. An order, timed from the newOrder POST to
// the downloaded certificate:
//   newOrder (1 to --max-names names <random>.<domain>, in turn) -> POST-as-GET each authz ->
//   register the http-01 key authorizations -> POST {} to each challenge -> poll each authz
//   until valid -> finalize with a fresh CSR -> poll the order until valid (if it is not
//   already) -> POST-as-GET the certificate, whose leaf must carry the CSR's key.
// Polls wait 5, 10, 20, ... ms, at most --poll-cap-ms; a Retry-After is honoured up to that
// cap too, so both servers are polled alike. Every response's Replay-Nonce is used for the
// next request; a badNonce answer is retried once with the nonce it carries.
//
// One http-01 server on 127.0.0.1:--http01-port answers every client's challenges from a
// shared map (token -> key authorization); a token is registered before its challenge is
// POSTed and removed once its authorization is done.
//
// Output: one "ACME_RESULT key=value ..." line, then one "ACME_REQUEST ..." line per kind of
// request (count and latency), then "ACME_ERROR ..." lines with a sample detail per error type.
// Exits 0 when the run completed (errors are reported, not fatal), 2 on bad arguments or when
// no client could create its account.

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <expected>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/encoding.h"
#include "crypto/handles.h"

namespace certward::bench {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::duration<double, std::milli>;

// A server that has not answered one request in this long is stuck (Pebble 2.4 can deadlock
// under concurrent orders; see docs/benchmarks.md).
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::string_view kProblemPrefix = "urn:ietf:params:acme:error:";

struct Options {
  std::string directory;  // https://host:port/path
  std::string ca_file;
  std::uint16_t http01_port = 0;
  int clients = 16;
  double duration_s = 20;
  std::string domain = "acme.test";
  int max_names = 2;
  int poll_start_ms = 5;
  int poll_cap_ms = 50;
  double order_timeout_s = 30;
  int http01_threads = 1;
  std::string label = "server";
  std::string save_chain;  // the first certificate chain downloaded, as PEM
};

// Why an order (or an account) did not complete: an error type for the report ("acme.badCSR",
// "http.500", "transport.read", "timeout.authz", ...) and a human detail.
struct Failure {
  std::string type;
  std::string detail;
};
template <typename T>
using Step = std::expected<T, Failure>;
std::unexpected<Failure> failure(std::string type, std::string detail) {
  return std::unexpected(Failure{std::move(type), std::move(detail)});
}
// The deadline passed in the middle of an order: neither a completed order nor an error.
constexpr std::string_view kAbandoned = "abandoned";

// --- crypto -------------------------------------------------------------------------------

crypto::EvpPkeyPtr new_p256_key() { return crypto::EvpPkeyPtr(EVP_EC_gen("P-256")); }

Bytes sha256(std::string_view data) {
  Bytes out(32);
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string b64url(std::string_view s) { return to_base64url(as_bytes(s)); }

// ES256 (RFC 7518 3.4): ECDSA P-256 with SHA-256, the signature as r || s of 32 octets each.
Step<Bytes> sign_es256(EVP_PKEY* key, std::string_view input) {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    return failure("client.sign", "EVP_DigestSign failed");
  Bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return failure("client.sign", "EVP_DigestSign failed");
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  if (!sig) return failure("client.sign", "bad ECDSA signature encoding");
  Bytes raw(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32);
  return raw;
}

// The public JWK of a P-256 key, members in lexicographic order: its dump() is the RFC 7638
// canonical form the thumbprint hashes.
json p256_jwk(EVP_PKEY* key) {
  auto coordinate = [key](const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key, name, &bn);
    crypto::BignumPtr owned(bn);
    Bytes out(32);
    if (bn) BN_bn2binpad(bn, out.data(), 32);
    return to_base64url(out);
  };
  return json{{"crv", "P-256"},
              {"kty", "EC"},
              {"x", coordinate(OSSL_PKEY_PARAM_EC_PUB_X)},
              {"y", coordinate(OSSL_PKEY_PARAM_EC_PUB_Y)}};
}

// A PKCS#10 request for `names` (the first also as CN), signed by `key`, as base64url DER.
Step<std::string> make_csr(EVP_PKEY* key, const std::vector<std::string>& names) {
  crypto::X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1)
    return failure("client.csr", "X509_REQ set-up failed");
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  std::string sans;
  for (const auto& n : names) sans += (sans.empty() ? "DNS:" : ",DNS:") + n;
  crypto::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, sans.c_str()));
  crypto::ExtStackPtr exts(sk_X509_EXTENSION_new_null());
  if (!ext || !exts || !sk_X509_EXTENSION_push(exts.get(), ext.get()))
    return failure("client.csr", "subjectAltName failed");
  static_cast<void>(ext.release());  // the stack owns it now
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1 ||
      X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    return failure("client.csr", "X509_REQ signing failed");
  unsigned char* der = nullptr;
  const int n = i2d_X509_REQ(req.get(), &der);
  if (n <= 0) return failure("client.csr", "i2d_X509_REQ failed");
  std::string out = to_base64url(std::span<const std::uint8_t>(der, static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return out;
}

std::string random_label() {
  Bytes b(6);
  RAND_bytes(b.data(), static_cast<int>(b.size()));
  return to_hex(b);
}

// --- the http-01 server -------------------------------------------------------------------

class Http01Server {
 public:
  Http01Server(std::uint16_t port, int threads) : acceptor_(ioc_) {
    tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    beast::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      error_ = "http-01 server on 127.0.0.1:" + std::to_string(port) + ": " + ec.message();
      return;
    }
    accept();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~Http01Server() { stop(); }
  Http01Server(const Http01Server&) = delete;
  Http01Server& operator=(const Http01Server&) = delete;

  const std::string& error() const { return error_; }
  void put(const std::string& token, std::string key_authorization) {
    std::lock_guard lock(mu_);
    keys_[token] = std::move(key_authorization);
  }
  void erase(const std::string& token) {
    std::lock_guard lock(mu_);
    keys_.erase(token);
  }
  void stop() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  long served() const { return served_; }
  long not_found() const { return not_found_; }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(tcp::socket socket, Http01Server& server)
        : stream_(std::move(socket)), server_(server) {}
    void read() {
      request_ = {};
      stream_.expires_after(kIoTimeout);
      bhttp::async_read(stream_, buffer_, request_,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (!ec) self->answer();
                        });
    }

   private:
    void answer() {
      constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
      const std::string_view target(request_.target().data(), request_.target().size());
      std::optional<std::string> body;
      if (request_.method() == bhttp::verb::get && target.starts_with(kPrefix))
        body = server_.lookup(std::string(target.substr(kPrefix.size())));
      response_ = {};
      response_.version(request_.version());
      response_.keep_alive(request_.keep_alive());
      response_.result(body ? bhttp::status::ok : bhttp::status::not_found);
      response_.set(bhttp::field::content_type, "text/plain");
      response_.body() = body.value_or("");
      response_.prepare_payload();
      bhttp::async_write(stream_, response_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                           if (ec) return;
                           if (self->response_.need_eof()) {
                             beast::error_code ignored;
                             self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                             return;
                           }
                           self->read();
                         });
    }

    beast::tcp_stream stream_;
    Http01Server& server_;
    beast::flat_buffer buffer_;
    bhttp::request<bhttp::empty_body> request_;
    bhttp::response<bhttp::string_body> response_;
  };

  std::optional<std::string> lookup(const std::string& token) {
    std::lock_guard lock(mu_);
    auto it = keys_.find(token);
    if (it == keys_.end()) {
      ++not_found_;
      return std::nullopt;
    }
    ++served_;
    return it->second;
  }

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), *this)->read();
      }
      accept();
    });
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::string error_;
  std::mutex mu_;
  std::unordered_map<std::string, std::string> keys_;  // guarded by mu_
  std::atomic<long> served_{0};
  std::atomic<long> not_found_{0};
};

// --- HTTPS with keep-alive ----------------------------------------------------------------

struct Url {
  std::string host, port, target;
  std::string authority() const { return host + ":" + port; }
};

std::optional<Url> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  Url u;
  u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  std::string_view host = authority, port = "443";
  if (host.starts_with("[")) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty() || port.empty()) return std::nullopt;
  u.host = std::string(host);
  u.port = std::string(port);
  return u;
}

struct Response {
  int status = 0;
  std::string body;
  std::string content_type;
  std::optional<std::string> nonce;
  std::optional<std::string> location;
  std::optional<int> retry_after_s;

  // The ACME problem type without its URN prefix, if the body is a problem document.
  std::optional<std::string> problem_type() const {
    if (!content_type.starts_with("application/problem+json")) return std::nullopt;
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return std::nullopt;
    std::string type = j["type"];
    if (type.starts_with(kProblemPrefix)) type = type.substr(kProblemPrefix.size());
    return type;
  }
};

// Whatever answer a step did not expect, as a Failure: the problem type, else the status.
Failure unexpected_answer(const Response& r, std::string_view what) {
  const std::string detail =
      std::string(what) + " answered " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
  if (auto type = r.problem_type()) return {"acme." + *type, detail};
  return {"http." + std::to_string(r.status), detail};
}

// One keep-alive HTTPS connection to one server, reopened after an error. Every step
// (connect, handshake, write, read) is bounded by kIoTimeout: the operations are asynchronous,
// run to completion on the connection's own io_context, because Asio's blocking calls ignore
// tcp_stream's timeouts and a server that stops answering would hang the client for good.
// Not thread-safe.
class Https {
 public:
  Https(ssl::context& tls, Url server) : tls_(tls), server_(std::move(server)) {}

  Step<Response> exchange(bhttp::verb method, const std::string& target, std::string body = {}) {
    if (!stream_) {
      if (auto c = connect(); !c) return std::unexpected(c.error());
    }
    bhttp::request<bhttp::string_body> req(method, target, 11);
    req.set(bhttp::field::host, server_.authority());
    req.set(bhttp::field::user_agent, "certward-acme-load");
    if (method == bhttp::verb::post) req.set(bhttp::field::content_type, "application/jose+json");
    req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code ec = run([&](auto done) { bhttp::async_write(*stream_, req, done); });
    if (ec) return broken("transport.write", ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1 << 20);
    if (method == bhttp::verb::head) parser.skip(true);
    ec = run([&](auto done) { bhttp::async_read(*stream_, buffer_, parser, done); });
    if (ec) return broken("transport.read", ec);
    const auto& msg = parser.get();
    Response r;
    r.status = static_cast<int>(msg.result_int());
    r.body = msg.body();
    auto header = [&msg](std::string_view name) -> std::optional<std::string> {
      auto it = msg.find(beast::string_view(name.data(), name.size()));
      if (it == msg.end()) return std::nullopt;
      return std::string(it->value());
    };
    r.content_type = header("Content-Type").value_or("");
    r.nonce = header("Replay-Nonce");
    r.location = header("Location");
    if (auto ra = header("Retry-After")) {
      // Seconds; an HTTP-date counts as "later", which the poll cap bounds anyway.
      try {
        r.retry_after_s = std::stoi(*ra);
      } catch (...) {
        r.retry_after_s = 1;
      }
    }
    if (!msg.keep_alive()) close();
    return r;
  }

  const Url& server() const { return server_; }

 private:
  Step<void> connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(server_.host, server_.port, ec);
    if (ec) return failure("transport.resolve", ec.message());
    auto stream = std::make_unique<ssl::stream<beast::tcp_stream>>(ioc_, tls_);
    SSL* ssl = stream->native_handle();
    beast::error_code not_ip;
    net::ip::make_address(server_.host, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_.host.c_str());
    } else {
      // SSL_set_tlsext_host_name, without the macro's C cast.
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(server_.host.c_str()));
      SSL_set1_host(ssl, server_.host.c_str());
    }
    stream_ = std::move(stream);
    buffer_.clear();
    auto& tcp_layer = beast::get_lowest_layer(*stream_);
    ec = run([&](auto done) { tcp_layer.async_connect(endpoints, done); });
    if (ec) return broken("transport.connect", ec);
    tcp_layer.socket().set_option(tcp::no_delay(true), ec);
    ec = run([&](auto done) { stream_->async_handshake(ssl::stream_base::client, done); });
    if (ec) return broken("transport.tls", ec);
    return {};
  }
  // Starts one asynchronous operation with `start(handler)` and runs it to completion (or to
  // kIoTimeout, which ends it with beast::error::timeout).
  template <typename Start>
  beast::error_code run(Start start) {
    beast::error_code result;
    beast::get_lowest_layer(*stream_).expires_after(kIoTimeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }
  void close() {
    stream_.reset();
    buffer_.clear();
  }
  std::unexpected<Failure> broken(std::string type, const beast::error_code& ec) {
    close();
    if (ec == beast::error::timeout) type = "transport.timeout";
    return failure(std::move(type), ec.message());
  }

  net::io_context ioc_;
  ssl::context& tls_;
  Url server_;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

// --- statistics ---------------------------------------------------------------------------

// The kinds of request an order makes, for the per-request report.
enum Kind : int {
  kNewNonce,
  kNewAccount,
  kNewOrder,
  kAuthz,
  kChallenge,
  kPollAuthz,
  kFinalize,
  kPollOrder,
  kCertificate,
  kKinds
};
constexpr const char* kKindNames[kKinds] = {"newNonce", "newAccount", "newOrder",
                                            "authz",    "challenge",  "pollAuthz",
                                            "finalize", "pollOrder",  "certificate"};

struct Stats {
  std::vector<double> order_ms;
  std::vector<double> order_end_s;  // when each completed, from the start of the clock
  std::vector<double> request_ms[kKinds];
  std::map<std::string, long> errors;
  std::map<std::string, std::string> error_sample;
  long authorizations = 0;
  long badnonce_retries = 0;
  long abandoned = 0;
  long late = 0;  // completed after the deadline: not counted

  void error(const Failure& f) {
    ++errors[f.type];
    error_sample.try_emplace(f.type, f.detail);
  }
  void merge(const Stats& o) {
    order_ms.insert(order_ms.end(), o.order_ms.begin(), o.order_ms.end());
    order_end_s.insert(order_end_s.end(), o.order_end_s.begin(), o.order_end_s.end());
    for (int k = 0; k < kKinds; ++k)
      request_ms[k].insert(request_ms[k].end(), o.request_ms[k].begin(), o.request_ms[k].end());
    for (const auto& [t, n] : o.errors) errors[t] += n;
    for (const auto& [t, d] : o.error_sample) error_sample.try_emplace(t, d);
    authorizations += o.authorizations;
    badnonce_retries += o.badnonce_retries;
    abandoned += o.abandoned;
    late += o.late;
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Every client makes its account, then waits here; the clock starts when all are ready.
class StartGate {
 public:
  explicit StartGate(int clients) : waiting_(clients) {}
  void ready() {
    std::lock_guard lock(mu_);
    if (--waiting_ == 0) cv_.notify_all();
  }
  void wait_all_ready() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return waiting_ == 0; });
  }
  void open(Clock::time_point start, Clock::time_point deadline) {
    std::lock_guard lock(mu_);
    start_ = start;
    deadline_ = deadline;
    open_ = true;
    cv_.notify_all();
  }
  // The start of the clock and the deadline.
  std::pair<Clock::time_point, Clock::time_point> wait_open() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
    return {start_, deadline_};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
  bool open_ = false;
  Clock::time_point start_{};
  Clock::time_point deadline_{};
};

// --- one ACME client ----------------------------------------------------------------------

struct Directory {
  std::string new_nonce, new_account, new_order;
};

class Client {
 public:
  Client(int index, const Options& options, ssl::context& tls, const Url& server,
         Http01Server& http01, StartGate& gate)
      : index_(index), o_(options), https_(tls, server), http01_(http01), gate_(gate) {}

  void run() {
    auto account = set_up();
    if (!account) {
      stats_.error(Failure{"account." + account.error().type, account.error().detail});
      gate_.ready();
      gate_.wait_open();
      return;
    }
    has_account_ = true;
    gate_.ready();
    std::tie(start_, deadline_) = gate_.wait_open();
    for (int n = 0; Clock::now() < deadline_; ++n) {
      const auto start = Clock::now();
      auto done = order(n);
      const auto end = Clock::now();
      if (done) {
        if (end <= deadline_) {
          stats_.order_ms.push_back(Ms(end - start).count());
          stats_.order_end_s.push_back(std::chrono::duration<double>(end - start_).count());
        } else {
          ++stats_.late;
        }
      } else if (done.error().type == kAbandoned) {
        ++stats_.abandoned;
      } else {
        stats_.error(done.error());
      }
    }
  }

  const Stats& stats() const { return stats_; }
  bool has_account() const { return has_account_; }
  const std::string& first_chain() const { return first_chain_; }

 private:
  Step<void> set_up() {
    account_key_ = new_p256_key();
    csr_key_ = new_p256_key();
    if (!account_key_ || !csr_key_) return failure("client.keygen", "EVP_EC_gen failed");
    jwk_ = p256_jwk(account_key_.get());
    thumbprint_ = to_base64url(sha256(jwk_.dump()));
    auto dir = https_.exchange(bhttp::verb::get, https_.server().target);
    if (!dir) return std::unexpected(dir.error());
    if (dir->status != 200) return std::unexpected(unexpected_answer(*dir, "directory"));
    auto j = json::parse(dir->body, nullptr, false);
    if (!j.is_object() || !j.contains("newNonce") || !j.contains("newAccount") ||
        !j.contains("newOrder"))
      return failure("acme.directory", "the directory lacks newNonce/newAccount/newOrder");
    directory_ = {j["newNonce"], j["newAccount"], j["newOrder"]};
    auto r = post(directory_.new_account, R"({"termsOfServiceAgreed":true})", kNewAccount);
    if (!r) return std::unexpected(r.error());
    if (r->status != 201 && r->status != 200)
      return std::unexpected(unexpected_answer(*r, "newAccount"));
    if (!r->location) return failure("acme.noLocation", "newAccount gave no Location");
    kid_ = *r->location;
    return {};
  }

  std::optional<std::string> target_of(const std::string& url) const {
    auto u = parse_url(url);
    if (!u || u->host != https_.server().host || u->port != https_.server().port)
      return std::nullopt;
    return u->target;
  }

  Step<Response> timed(Kind kind, bhttp::verb method, const std::string& target,
                       std::string body = {}) {
    const auto t0 = Clock::now();
    auto r = https_.exchange(method, target, std::move(body));
    stats_.request_ms[kind].push_back(Ms(Clock::now() - t0).count());
    return r;
  }

  // A JWS POST (RFC 8555 6.2): kid once the account exists, jwk before; `payload` "" is a
  // POST-as-GET. badNonce is retried once with the nonce it carried.
  Step<Response> post(const std::string& url, const std::string& payload, Kind kind) {
    auto target = target_of(url);
    if (!target) return failure("client.url", "not a URL of the server: " + url);
    for (int attempt = 0;; ++attempt) {
      if (!nonce_) {
        auto target_nonce = target_of(directory_.new_nonce);
        if (!target_nonce) return failure("client.url", "bad newNonce URL");
        auto n = timed(kNewNonce, bhttp::verb::head, *target_nonce);
        if (!n) return std::unexpected(n.error());
        if (!n->nonce) return failure("acme.noNonce", "newNonce gave no Replay-Nonce");
        nonce_ = n->nonce;
      }
      json header = {{"alg", "ES256"}, {"nonce", *nonce_}, {"url", url}};
      if (kid_.empty()) {
        header["jwk"] = jwk_;
      } else {
        header["kid"] = kid_;
      }
      nonce_.reset();
      const std::string protected_b64 = b64url(header.dump());
      const std::string payload_b64 = b64url(payload);
      auto sig = sign_es256(account_key_.get(), protected_b64 + "." + payload_b64);
      if (!sig) return std::unexpected(sig.error());
      json body = {{"protected", protected_b64},
                   {"payload", payload_b64},
                   {"signature", to_base64url(*sig)}};
      auto r = timed(kind, bhttp::verb::post, *target, body.dump());
      if (!r) return r;
      if (r->nonce) nonce_ = r->nonce;
      if (attempt == 0 && r->status == 400 && r->problem_type() == "badNonce") {
        ++stats_.badnonce_retries;
        continue;
      }
      return r;
    }
  }

  // Waits before the next poll: the backoff, or the server's Retry-After, never more than the
  // cap. Fails with kAbandoned when the wait would end past the deadline, and with
  // "timeout.order" past the order's own timeout.
  struct Backoff {
    int next_ms;
  };
  Step<void> pause(Backoff& b, const Response& last, Clock::time_point order_start) {
    int ms = b.next_ms;
    if (last.retry_after_s) ms = std::max(ms, *last.retry_after_s * 1000);
    ms = std::min(ms, o_.poll_cap_ms);
    b.next_ms = std::min(b.next_ms * 2, o_.poll_cap_ms);
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    if (until >= deadline_) return failure(std::string(kAbandoned), "");
    if (until - order_start > std::chrono::duration<double>(o_.order_timeout_s))
      return failure("timeout.order", "the order took longer than the order timeout");
    std::this_thread::sleep_until(until);
    return {};
  }

  Step<json> json_of(const Response& r, int want, std::string_view what) {
    if (r.status != want) return std::unexpected(unexpected_answer(r, what));
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) return failure("acme.notJson", std::string(what) + " is not JSON");
    return j;
  }

  Step<void> order(int n) {
    const auto start = Clock::now();
    const int count = 1 + n % std::max(1, o_.max_names);
    std::vector<std::string> names;
    json identifiers = json::array();
    for (int i = 0; i < count; ++i) {
      names.push_back("c" + std::to_string(index_) + "-" + std::to_string(n) + "-" +
                      std::to_string(i) + "-" + random_label() + "." + o_.domain);
      identifiers.push_back({{"type", "dns"}, {"value", names.back()}});
    }
    auto created = post(directory_.new_order, json{{"identifiers", identifiers}}.dump(), kNewOrder);
    if (!created) return std::unexpected(created.error());
    auto order = json_of(*created, 201, "newOrder");
    if (!order) return std::unexpected(order.error());
    if (!created->location) return failure("acme.noLocation", "newOrder gave no Location");
    const std::string order_url = *created->location;
    if (!order->contains("authorizations") || !(*order)["authorizations"].is_array() ||
        !order->contains("finalize"))
      return failure("acme.badOrder", "the order has no authorizations or finalize");

    // Answer every pending authorization's http-01 challenge, then wait for all of them.
    std::vector<std::string> pending, tokens;
    struct TokenGuard {
      Http01Server& server;
      std::vector<std::string>& tokens;
      ~TokenGuard() {
        for (const auto& t : tokens) server.erase(t);
      }
    } guard{http01_, tokens};
    std::vector<std::string> challenge_urls;
    for (const auto& url : (*order)["authorizations"]) {
      ++stats_.authorizations;
      auto r = post(url.get<std::string>(), "", kAuthz);
      if (!r) return std::unexpected(r.error());
      auto authz = json_of(*r, 200, "authz");
      if (!authz) return std::unexpected(authz.error());
      const std::string status = authz->value("status", "");
      if (status == "valid") continue;
      if (status != "pending") return failure("invalid.authz", "a new authz is " + status);
      const json* http01 = nullptr;
      for (const auto& c : (*authz)["challenges"])
        if (c.value("type", "") == "http-01") http01 = &c;
      if (!http01) return failure("acme.noHttp01", "the authz offers no http-01 challenge");
      const std::string token = http01->value("token", "");
      http01_.put(token, token + "." + thumbprint_);
      tokens.push_back(token);
      challenge_urls.push_back(http01->value("url", ""));
      pending.push_back(url.get<std::string>());
    }
    for (const auto& url : challenge_urls) {
      auto r = post(url, "{}", kChallenge);
      if (!r) return std::unexpected(r.error());
      if (auto j = json_of(*r, 200, "challenge"); !j) return std::unexpected(j.error());
    }
    for (const auto& url : pending) {
      Backoff backoff{o_.poll_start_ms};
      Response last;
      while (true) {
        if (auto p = pause(backoff, last, start); !p) return std::unexpected(p.error());
        auto r = post(url, "", kPollAuthz);
        if (!r) return std::unexpected(r.error());
        auto authz = json_of(*r, 200, "authz poll");
        if (!authz) return std::unexpected(authz.error());
        const std::string status = authz->value("status", "");
        if (status == "valid") break;
        if (status != "pending" && status != "processing") {
          std::string why;
          for (const auto& c : (*authz)["challenges"])
            if (c.contains("error")) why = c["error"].dump();
          return failure("invalid.authz", "authz " + status + ": " + why.substr(0, 300));
        }
        last = std::move(*r);
      }
    }
    for (const auto& t : tokens) http01_.erase(t);
    tokens.clear();

    // Finalize; poll the order until valid if the server finishes in the background.
    auto csr = make_csr(csr_key_.get(), names);
    if (!csr) return std::unexpected(csr.error());
    const std::string payload = json{{"csr", *csr}}.dump();
    auto fin = post((*order)["finalize"].get<std::string>(), payload, kFinalize);
    if (!fin) return std::unexpected(fin.error());
    auto state = json_of(*fin, 200, "finalize");
    if (!state) return std::unexpected(state.error());
    Backoff backoff{o_.poll_start_ms};
    Response last = *fin;
    while (state->value("status", "") != "valid") {
      const std::string status = state->value("status", "");
      if (status != "processing" && status != "ready" && status != "pending")
        return failure("invalid.order", "order " + status + ": " + state->dump().substr(0, 300));
      if (auto p = pause(backoff, last, start); !p) return std::unexpected(p.error());
      auto r = post(order_url, "", kPollOrder);
      if (!r) return std::unexpected(r.error());
      state = json_of(*r, 200, "order poll");
      if (!state) return std::unexpected(state.error());
      last = std::move(*r);
    }
    if (!state->contains("certificate"))
      return failure("acme.badOrder", "a valid order without a certificate URL");

    auto cert = post((*state)["certificate"].get<std::string>(), "", kCertificate);
    if (!cert) return std::unexpected(cert.error());
    if (cert->status != 200) return std::unexpected(unexpected_answer(*cert, "certificate"));
    if (auto c = check_chain(cert->body); !c) return c;
    if (first_chain_.empty()) first_chain_ = cert->body;
    return {};
  }

  // The leaf of the downloaded chain must certify the key of our CSR.
  Step<void> check_chain(const std::string& pem) {
    crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    crypto::X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!leaf) return failure("bad.certificate", "the chain's first PEM block is no certificate");
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), csr_key_.get()) != 1)
      return failure("bad.certificate", "the leaf does not certify the CSR's key");
    return {};
  }

  int index_;
  const Options& o_;
  Https https_;
  Http01Server& http01_;
  StartGate& gate_;
  Clock::time_point start_{};
  Clock::time_point deadline_{};
  crypto::EvpPkeyPtr account_key_;
  crypto::EvpPkeyPtr csr_key_;
  json jwk_;
  std::string thumbprint_;
  Directory directory_;
  std::string kid_;
  std::optional<std::string> nonce_;
  Stats stats_;
  bool has_account_ = false;
  std::string first_chain_;
};

// --- main ---------------------------------------------------------------------------------

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

void usage() {
  std::cerr
      << "usage: certward_acme_load --directory https://HOST:PORT/PATH --ca-file PEM\n"
         "         --http01-port PORT [--clients N=16] [--duration SECONDS=20]\n"
         "         [--domain acme.test] [--max-names 2] [--poll-start-ms 5] [--poll-cap-ms 50]\n"
         "         [--order-timeout SECONDS=30] [--http01-threads 1] [--label NAME]\n"
         "         [--save-chain FILE]\n";
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return std::nullopt;
    const std::string value = argv[++i];
    try {
      if (flag == "--directory") {
        o.directory = value;
      } else if (flag == "--ca-file") {
        o.ca_file = value;
      } else if (flag == "--http01-port") {
        o.http01_port = static_cast<std::uint16_t>(std::stoi(value));
      } else if (flag == "--clients") {
        o.clients = std::stoi(value);
      } else if (flag == "--duration") {
        o.duration_s = std::stod(value);
      } else if (flag == "--domain") {
        o.domain = value;
      } else if (flag == "--max-names") {
        o.max_names = std::stoi(value);
      } else if (flag == "--poll-start-ms") {
        o.poll_start_ms = std::stoi(value);
      } else if (flag == "--poll-cap-ms") {
        o.poll_cap_ms = std::stoi(value);
      } else if (flag == "--order-timeout") {
        o.order_timeout_s = std::stod(value);
      } else if (flag == "--http01-threads") {
        o.http01_threads = std::stoi(value);
      } else if (flag == "--label") {
        o.label = value;
      } else if (flag == "--save-chain") {
        o.save_chain = value;
      } else {
        return std::nullopt;
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (o.directory.empty() || o.ca_file.empty() || o.http01_port == 0 || o.clients < 1 ||
      o.duration_s <= 0 || o.max_names < 1 || o.poll_start_ms < 1 ||
      o.poll_cap_ms < o.poll_start_ms || o.http01_threads < 1)
    return std::nullopt;
  return o;
}

int run(const Options& o) {
  auto server = parse_url(o.directory);
  if (!server) {
    std::cerr << "acme_load: --directory must be an https:// URL\n";
    return 2;
  }
  ssl::context tls(ssl::context::tls_client);
  beast::error_code ec;
  tls.load_verify_file(o.ca_file, ec);
  if (ec) {
    std::cerr << "acme_load: cannot read " << o.ca_file << ": " << ec.message() << "\n";
    return 2;
  }
  tls.set_verify_mode(ssl::verify_peer);

  Http01Server http01(o.http01_port, o.http01_threads);
  if (!http01.error().empty()) {
    std::cerr << "acme_load: " << http01.error() << "\n";
    return 2;
  }
  StartGate gate(o.clients);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < o.clients; ++i)
    clients.push_back(std::make_unique<Client>(i, o, tls, *server, http01, gate));
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&c] { c->run(); });
  gate.wait_all_ready();
  const double cpu0 = cpu_seconds();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.duration_s));
  gate.open(start, deadline);
  for (auto& t : threads) t.join();
  const double cpu = cpu_seconds() - cpu0;
  const double secs = std::chrono::duration<double>(deadline - start).count();
  http01.stop();

  Stats all;
  int accounts = 0;
  bool saved = o.save_chain.empty();
  for (auto& c : clients) {
    all.merge(c->stats());
    accounts += c->has_account() ? 1 : 0;
    if (!saved && !c->first_chain().empty()) {
      std::ofstream(o.save_chain) << c->first_chain();
      saved = true;
    }
  }
  long errors = 0;
  for (const auto& [type, n] : all.errors) errors += n;
  long requests = 0;
  for (int k = 0; k < kKinds; ++k) requests += static_cast<long>(all.request_ms[k].size());
  const auto orders = static_cast<long>(all.order_ms.size());

  std::printf(
      "ACME_RESULT label=%s clients=%d accounts=%d duration_s=%.2f orders=%ld orders_per_s=%.1f "
      "p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f max_ms=%.2f errors=%ld authorizations=%ld "
      "requests=%ld badnonce_retries=%ld abandoned=%ld late=%ld http01_served=%ld "
      "http01_not_found=%ld client_cpu_s=%.2f last_order_s=%.2f",
      o.label.c_str(), o.clients, accounts, secs, orders, static_cast<double>(orders) / secs,
      percentile(all.order_ms, 0.50), percentile(all.order_ms, 0.99), mean(all.order_ms),
      percentile(all.order_ms, 1.0), errors, all.authorizations, requests, all.badnonce_retries,
      all.abandoned, all.late, http01.served(), http01.not_found(), cpu,
      all.order_end_s.empty() ? 0.0
                              : *std::max_element(all.order_end_s.begin(), all.order_end_s.end()));
  for (const auto& [type, n] : all.errors) std::printf(" err_%s=%ld", type.c_str(), n);
  std::printf("\n");
  // Orders completed in each second of the run: shows a server slowing down or stalling.
  std::vector<long> per_second(static_cast<std::size_t>(std::ceil(secs)), 0);
  for (double t : all.order_end_s)
    ++per_second[std::min(per_second.size() - 1, static_cast<std::size_t>(t))];
  std::printf("ACME_TIMELINE label=%s clients=%d orders_per_second=", o.label.c_str(), o.clients);
  for (std::size_t i = 0; i < per_second.size(); ++i)
    std::printf("%s%ld", i ? "," : "", per_second[i]);
  std::printf("\n");
  for (int k = 0; k < kKinds; ++k) {
    const auto& v = all.request_ms[k];
    if (v.empty()) continue;
    std::printf(
        "ACME_REQUEST label=%s clients=%d kind=%s count=%zu per_order=%.2f mean_ms=%.2f "
        "p50_ms=%.2f p99_ms=%.2f\n",
        o.label.c_str(), o.clients, kKindNames[k], v.size(),
        orders ? static_cast<double>(v.size()) / static_cast<double>(orders) : 0.0, mean(v),
        percentile(v, 0.5), percentile(v, 0.99));
  }
  for (const auto& [type, detail] : all.error_sample)
    std::printf("ACME_ERROR label=%s type=%s count=%ld sample=%s\n", o.label.c_str(), type.c_str(),
                all.errors[type], detail.substr(0, 400).c_str());
  std::fflush(stdout);
  return accounts == 0 ? 2 : 0;
}

}  // namespace
}  // namespace certward::bench

int main(int argc, char** argv) {
  auto options = certward::bench::parse_options(argc, argv);
  if (!options) {
    certward::bench::usage();
    return 2;
  }
  return certward::bench::run(*options);
}
