// The Beast server: listeners, connection sessions (plain and TLS), the handler pool and the
// graceful stop.
//
// Threading: every session runs on its own strand of the one io_context; handlers run on the
// worker pool and hand their Response back to the session's strand. Server state shared
// across threads (the session registry, the lifecycle state) is guarded by Core::mu_.

// Optimised builds inline Asio's scheduler, whose null checks -Wnull-dereference misreads;
// the diagnostic then lands in Boost code instantiated from here.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <ctime>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "common/log.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "http/http.h"
#include "http/problem.h"
#include "http/text_impl.h"
#include "http/tls_impl.h"
#include "http/wire_impl.h"

namespace certward::http {
namespace server_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

using PlainStream = beast::tcp_stream;
using TlsStream = ssl::stream<beast::tcp_stream>;

// How long a closing connection may take to say goodbye (TLS close_notify, lingering reads).
constexpr std::chrono::seconds kCloseGrace{1};
constexpr std::size_t kFirstReadBytes = 4096;

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto address = ep.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(ep.port());
}

std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }

Response invoke_handler(const Handler& handler, Request& request, std::string_view listener,
                        std::string_view route) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    log::error(
        "http_handler_exception",
        {{"listener", listener}, {"method", request.method}, {"route", route}, {"what", e.what()}});
  } catch (...) {
    log::error("http_handler_exception", {{"listener", listener},
                                          {"method", request.method},
                                          {"route", route},
                                          {"what", "unknown"}});
  }
  return problem(500, "Internal Server Error", "internal", "the request handler failed");
}

struct ListenerConfig {
  std::string name;
  std::shared_ptr<ssl::context> tls;  // null: plain HTTP
  bool client_certificates = false;   // asked for (TlsSettings)
  bool verified_client_certificates = false;  // verified against client_ca_pem
};

class Core;

// A connection. Lives as long as an operation (or a queued handler) holds it.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  explicit SessionBase(Core& core) : core_(core) {}
  virtual ~SessionBase();
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  virtual void run() = 0;
  // Thread-safe: closes the connection if it is idle between requests.
  virtual void drain() = 0;
  // Closes the socket at once. Only while no I/O thread runs.
  virtual void close_now() = 0;

  void set_id(std::uint64_t id) { id_ = id; }

 protected:
  Core& core_;

 private:
  std::uint64_t id_ = 0;  // 0: not registered
};

class Core {
 public:
  Core(ServerOptions options, std::shared_ptr<const Router> router, Observer observer)
      : options_(std::move(options)),
        router_(std::move(router)),
        observer_(std::move(observer)),
        ioc_(std::max(1, options_.io_threads)) {}
  ~Core() { stop(); }
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  Result<std::uint16_t> listen(const ListenerSettings& settings);
  Status reload_tls(std::string_view listener_name, const TlsSettings& tls);
  Status start();
  void stop();
  void wait();

  // For sessions.
  const ServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // Reserves a place in the handler queue; false when it is full.
  bool try_enqueue() {
    if (queued_.fetch_add(1) >= options_.max_queued) {
      queued_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void dequeued() { queued_.fetch_sub(1); }
  net::thread_pool& workers() { return *workers_; }
  const std::string& worker_thread_name() const { return worker_thread_name_; }
  void observe(const Exchange& exchange) const;
  void unregister_session(std::uint64_t id);

 private:
  enum class State { kIdle, kRunning, kStopping, kStopped };
  struct Listener {
    Listener(std::shared_ptr<const ListenerConfig> c, tcp::acceptor a)
        : config_(std::move(c)), acceptor(std::move(a)) {}
    // New connections take the current configuration; a session keeps the one it started
    // with (and its TLS context) to the end.
    std::shared_ptr<const ListenerConfig> config() const {
      common::MutexLock lock(mu);
      return config_;
    }
    void set_config(std::shared_ptr<const ListenerConfig> c) {
      common::MutexLock lock(mu);
      config_ = std::move(c);
    }

    mutable common::Mutex mu;
    std::shared_ptr<const ListenerConfig> config_ CW_GUARDED_BY(mu);
    tcp::acceptor acceptor;
  };

  void accept_next(const std::shared_ptr<Listener>& listener);
  void start_session(const std::shared_ptr<const ListenerConfig>& config, tcp::socket socket);
  void run_io();
  void drain_sessions();

  // Constant after construction.
  const ServerOptions options_;
  const std::shared_ptr<const Router> router_;
  const Observer observer_;

  common::Mutex mu_;
  common::CondVar cv_;
  State state_ CW_GUARDED_BY(mu_) = State::kIdle;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions_ CW_GUARDED_BY(mu_);
  std::uint64_t next_session_id_ CW_GUARDED_BY(mu_) = 1;

  std::atomic<bool> draining_{false};
  std::atomic<std::size_t> queued_{0};

  // Declared after the registry: destroying the io_context destroys the sessions it still
  // holds, and they unregister themselves.
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::shared_ptr<Listener>> listeners_;  // set before start()
  std::unique_ptr<net::thread_pool> workers_;         // created by start()
  std::string worker_thread_name_;                    // set by start(), before any request
  std::vector<std::thread> threads_;                  // created by start(), joined by stop()
};

SessionBase::~SessionBase() {
  if (id_ != 0) core_.unregister_session(id_);
}

template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Core& core, std::shared_ptr<const ListenerConfig> listener, tcp::socket socket,
          std::string remote)
      : SessionBase(core),
        listener_(std::move(listener)),
        stream_(make_stream(std::move(socket), *listener_)),
        executor_(stream_.get_executor()),
        remote_(std::move(remote)) {}

  void run() override {
    net::dispatch(executor_, [self = self()] { self->on_start(); });
  }

  // Closes the connection if it waits between keep-alive requests. A connection that has not
  // yet sent its first request is not idle: its client is about to send one, so it is served
  // (with Connection: close) like any request in flight.
  void drain() override {
    net::post(executor_, [self = self()] {
      if (self->idle_ && !self->first_request_) self->close_socket();
    });
  }

  void close_now() override { close_socket(); }

 private:
  static Stream make_stream(tcp::socket&& socket, const ListenerConfig& listener) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *listener.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerOptions& options() const { return core_.options(); }

  void on_start() {
    if constexpr (kTls) {
      lowest().expires_after(options().read_timeout);
      if (listener_->client_certificates) {
        error_code ec;
        // Records a failed verification and lets the handshake go on: such a client is
        // served like one without a certificate, and its certificate is not passed on.
        stream_.set_verify_callback(
            [this](bool preverified, ssl::verify_context&) {
              if (!preverified) verify_failed_ = true;
              return true;
            },
            ec);
        if (ec) return close_socket();
      }
      stream_.async_handshake(ssl::stream_base::server,
                              [self = self()](error_code ec) { self->on_handshake(ec); });
    } else {
      wait_for_request();
    }
  }

  void on_handshake(error_code ec) {
    if (ec) {
      log::debug("http_tls_handshake_failed",
                 {{"listener", listener_->name}, {"remote", remote_}, {"error", ec.message()}});
      return close_socket();
    }
    capture_client_certificate();
    wait_for_request();
  }

  void capture_client_certificate() {
    if constexpr (kTls) {
      if (!listener_->client_certificates) return;
      SSL* native = stream_.native_handle();
      X509* peer = SSL_get0_peer_certificate(native);
      if (peer == nullptr) return;
      // The server's side of the chain omits the leaf (SSL_get_peer_cert_chain): the leaf
      // first, then what the client sent with it, bounded.
      constexpr int kMaxPresented = 8;
      presented_chain_.push_back(der_of(peer));
      if (STACK_OF(X509)* rest = SSL_get_peer_cert_chain(native)) {
        for (int i = 0; i < sk_X509_num(rest) && i < kMaxPresented; ++i) {
          X509* c = sk_X509_value(rest, i);
          if (X509_cmp(c, peer) != 0) presented_chain_.push_back(der_of(c));
        }
      }
      if (presented_chain_.front().empty()) presented_chain_.clear();
      if (!listener_->verified_client_certificates || verify_failed_ ||
          SSL_get_verify_result(native) != X509_V_OK || presented_chain_.empty())
        return;
      client_certificate_ = presented_chain_.front();
    }
  }

  static Bytes der_of(X509* cert) {
    const int len = i2d_X509(cert, nullptr);
    if (len <= 0) return {};
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    if (i2d_X509(cert, &p) != len) return {};
    return der;
  }

  // Waits for the first byte of the next request: the idle (keep-alive) phase, during which
  // a draining server may close the connection.
  void wait_for_request() {
    if (core_.draining() && !first_request_) return shutdown();
    parser_.emplace();
    apply_limits(*parser_, options());
    if (buffer_.size() > 0) {
      deadline_ = SteadyClock::now() + options().read_timeout;
      return read_request();
    }
    idle_ = true;
    // A new connection has read_timeout for its whole first request; later ones wait up to
    // idle_timeout for the first byte, then have read_timeout for the request.
    deadline_ = SteadyClock::now() + options().read_timeout;
    lowest().expires_at(first_request_ ? deadline_ : SteadyClock::now() + options().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        [self = self()](error_code ec, std::size_t n) { self->on_first_bytes(ec, n); });
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    idle_ = false;
    if (ec) return close_socket();  // peer gone, idle timeout, or drained
    buffer_.commit(n);
    if (!first_request_) deadline_ = SteadyClock::now() + options().read_timeout;
    read_request();
  }

  void read_request() {
    lowest().expires_at(deadline_);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = self()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (ec) return on_read_error(ec);  // includes a Content-Length over the body limit
    if (std::optional<Response> refusal = header_rejection(*parser_)) {
      return reply_and_close(std::move(*refusal));
    }
    if (parser_->is_done()) return on_read({});
    const auto& message = parser_->get();
    if (message.version() >= 11 && iequals(to_std(message[bhttp::field::expect]), "100-continue")) {
      // Without this, clients such as curl pause before sending larger bodies.
      continue_.emplace(bhttp::status::continue_, 11);
      return bhttp::async_write(stream_, *continue_,
                                [self = self()](error_code write_ec, std::size_t) {
                                  if (write_ec) return self->close_socket();
                                  self->read_body();
                                });
    }
    read_body();
  }

  void read_body() {
    lowest().expires_at(deadline_);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = self()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec) return on_read_error(ec);
    lowest().expires_never();
    dispatch_request();
  }

  void on_read_error(error_code ec) {
    std::optional<Response> answer = read_failure_response(ec);
    if (!answer) return close_socket();  // timeout, reset, truncated: nobody to answer
    reply_and_close(std::move(*answer));
  }

  // Answers a request whose body will not be read, then closes the connection.
  void reply_and_close(Response response) {
    bool header_done = parser_ && parser_->is_header_done();
    begin_exchange(header_done ? std::string(parser_->get().method_string()) : std::string(),
                   header_done ? parser_->get().version() : 11, false);
    write_response(std::move(response), true);
  }

  void begin_exchange(std::string method, unsigned version, bool keep_alive) {
    started_ = SteadyClock::now();
    method_ = std::move(method);
    version_ = version;
    keep_alive_ = keep_alive;
    route_ = "unmatched";
  }

  void dispatch_request() {
    auto& message = parser_->get();
    begin_exchange(std::string(message.method_string()), message.version(), message.keep_alive());
    std::optional<Request> request = to_request(message);
    if (!request) {
      return write_response(
          problem(400, "Bad Request", "malformed", "the request target is malformed"), false);
    }
    const Router& router = core_.router();
    Router::Match match = router.match(method_, request->raw_path());
    if (match.handler == nullptr) return reply_unrouted(match.path_known, request->raw_path());
    route_ = match.route->pattern;
    request->remote_address = remote_;
    request->tls = kTls;
    request->client_certificate = client_certificate_;
    request->presented_chain = presented_chain_;
    request->params = std::move(match.params);
    if (match.first_try != nullptr) {
      if (std::optional<Response> answered = try_inline(*match.first_try, *request)) {
        return write_response(std::move(*answered), false);
      }
    }
    post_to_worker(*match.handler, std::move(*request));
  }

  void reply_unrouted(bool path_known, std::string_view raw_path) {
    if (path_known) {
      Response response = problem(405, "Method Not Allowed", "method_not_allowed",
                                  "the resource does not support this method");
      response.set_header("Allow", core_.router().allowed_methods(raw_path));
      return write_response(std::move(response), false);
    }
    write_response(problem(404, "Not Found", "not_found", "no resource at this path"), false);
  }

  std::optional<Response> try_inline(const InlineHandler& first_try, Request& request) {
    try {
      return first_try(request);
    } catch (const std::exception& e) {
      log::error("http_handler_exception", {{"listener", listener_->name},
                                            {"method", request.method},
                                            {"route", route_},
                                            {"what", e.what()}});
    } catch (...) {
      log::error("http_handler_exception", {{"listener", listener_->name},
                                            {"method", request.method},
                                            {"route", route_},
                                            {"what", "unknown"}});
    }
    return std::nullopt;  // the worker's handler answers
  }

  void post_to_worker(const Handler& handler, Request request) {
    if (!core_.try_enqueue()) {
      Response response =
          problem(503, "Service Unavailable", "unavailable", "the server is overloaded; retry");
      response.set_header("Retry-After", "1");
      return write_response(std::move(response), false);
    }
    net::post(core_.workers(), [self = self(), &handler, request = std::move(request)]() mutable {
      common::name_this_thread_once(self->core_.worker_thread_name());
      self->core_.dequeued();
      Response response = invoke_handler(handler, request, self->listener_->name, self->route_);
      net::post(self->executor_, [self, response = std::move(response)]() mutable {
        self->write_response(std::move(response), false);
      });
    });
  }

  void write_response(Response response, bool close_after) {
    if (response.status < 100 || response.status > 999) {
      log::error("http_bad_status",
                 {{"listener", listener_->name}, {"route", route_}, {"status", response.status}});
      response = problem(500, "Internal Server Error", "internal", "the handler gave no status");
    }
    status_ = response.status;
    hold_ = std::move(response.hold);
    keep_ = keep_alive_ && !close_after && !core_.draining();
    try {
      fill_message(std::move(response));
    } catch (const std::exception& e) {
      log::error("http_bad_response",
                 {{"listener", listener_->name}, {"route", route_}, {"what", e.what()}});
      status_ = 500;
      keep_ = false;
      message_ = {};
      fill_message(problem(500, "Internal Server Error", "internal", "invalid response"));
    }
    // A peer that never reads does not pin the connection.
    lowest().expires_after(options().read_timeout);
    bhttp::async_write(stream_, message_,
                       [self = self()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void fill_message(Response response) {
    message_ = {};
    message_.version(version_);
    message_.result(static_cast<unsigned>(response.status));
    bool has_type = false;
    for (const auto& [name, value] : response.headers) {
      if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
          iequals(name, "connection")) {
        continue;  // ours to set
      }
      if (name.find_first_of("\r\n:") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        log::warn("http_bad_header", {{"listener", listener_->name}, {"route", route_}});
        continue;
      }
      if (iequals(name, "content-type")) has_type = true;
      message_.insert(name, value);
    }
    bool bodiless = response.status / 100 == 1 || response.status == 204 || response.status == 304;
    if (bodiless) response.body.clear();
    if (!has_type && !bodiless) {
      message_.set(bhttp::field::content_type, "application/octet-stream");
    }
    message_.set(bhttp::field::server, "certward");
    message_.set(bhttp::field::date, http_date(std::time(nullptr)));
    message_.body() = std::move(response.body);
    message_.keep_alive(keep_);
    message_.prepare_payload();
  }

  void on_write(error_code ec) {
    Exchange exchange{listener_->name, method_, route_, status_, SteadyClock::now() - started_,
                      remote_};
    core_.observe(exchange);
    message_ = {};
    hold_.reset();
    if (ec) return close_socket();
    if (!keep_) return shutdown();
    first_request_ = false;
    wait_for_request();
  }

  // Closes after the last response: TLS close_notify, or for TCP a half-close followed by
  // reading what the peer still sends, so that it sees our response rather than a reset.
  void shutdown() {
    lowest().expires_after(kCloseGrace);
    if constexpr (kTls) {
      stream_.async_shutdown([self = self()](error_code) { self->close_socket(); });
    } else {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close_socket();
      linger();
    }
  }

  void linger() {
    lowest().async_read_some(net::buffer(discard_), [self = self()](error_code ec, std::size_t) {
      if (ec) return self->close_socket();
      self->linger();
    });
  }

  void close_socket() {
    idle_ = false;
    lowest().close();
  }

  // Constant after construction.
  const std::shared_ptr<const ListenerConfig> listener_;  // outlives stream_ (TLS context)
  Stream stream_;
  const net::any_io_executor executor_;  // the connection's strand
  const std::string remote_;

  // Used on the strand only (and by a worker while it owns the request).
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  bhttp::response<bhttp::string_body> message_;
  std::shared_ptr<const void> hold_;  // the written response's Response::hold
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::array<char, 4096> discard_{};
  SteadyClock::time_point deadline_{};
  bool first_request_ = true;
  bool idle_ = false;
  bool verify_failed_ = false;
  std::optional<Bytes> client_certificate_;
  std::vector<Bytes> presented_chain_;

  // The exchange in progress.
  SteadyClock::time_point started_{};
  std::string method_;
  std::string route_ = "unmatched";
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool keep_ = false;
  int status_ = 0;
};

void Core::observe(const Exchange& exchange) const {
  if (!observer_) return;
  try {
    observer_(exchange);
  } catch (const std::exception& e) {
    log::warn("http_observer_exception", {{"what", e.what()}});
  } catch (...) {
    log::warn("http_observer_exception", {{"what", "unknown"}});
  }
}

void Core::unregister_session(std::uint64_t id) {
  common::MutexLock lock(mu_);
  sessions_.erase(id);
  if (sessions_.empty()) cv_.notify_all();
}

Result<std::uint16_t> Core::listen(const ListenerSettings& settings) {
  common::MutexLock lock(mu_);
  if (state_ != State::kIdle) {
    return fail(ErrorCode::kInvalidArgument, "http: listen() after start() or stop()");
  }
  auto config = std::make_shared<ListenerConfig>();
  config->name = settings.name;
  if (settings.tls) {
    CW_ASSIGN_OR_RETURN(config->tls, make_server_tls_context(*settings.tls));
    config->verified_client_certificates = settings.tls->client_ca_pem.has_value();
    config->client_certificates =
        config->verified_client_certificates || settings.tls->request_client_certificate;
  }
  error_code ec;
  const auto address = net::ip::make_address(settings.address, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "http: bad listen address " + settings.address);
  auto listener =
      std::make_shared<Listener>(std::move(config), tcp::acceptor(net::make_strand(ioc_)));
  const tcp::endpoint endpoint(address, settings.port);
  tcp::acceptor& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = acceptor.local_endpoint(ec);
  if (ec) {
    return fail(ErrorCode::kUnavailable, "http: cannot listen on " + settings.address + ":" +
                                             std::to_string(settings.port) + ": " + ec.message());
  }
  listeners_.push_back(std::move(listener));
  return bound.port();
}

Status Core::reload_tls(std::string_view listener_name, const TlsSettings& tls) {
  std::shared_ptr<Listener> target;
  {
    common::MutexLock lock(mu_);
    for (const auto& listener : listeners_) {
      if (listener->config()->name == listener_name) target = listener;
    }
  }
  if (!target) {
    return fail(ErrorCode::kNotFound,
                "http: no listener named '" + std::string(listener_name) + "'");
  }
  const std::shared_ptr<const ListenerConfig> current = target->config();
  if (!current->tls) {
    return fail(ErrorCode::kInvalidArgument,
                "http: listener '" + std::string(listener_name) + "' does not use TLS");
  }
  // Built and checked before anything changes: bad material leaves the old context serving.
  auto next = std::make_shared<ListenerConfig>(*current);
  CW_ASSIGN_OR_RETURN(next->tls, make_server_tls_context(tls));
  next->verified_client_certificates = tls.client_ca_pem.has_value();
  next->client_certificates = next->verified_client_certificates || tls.request_client_certificate;
  target->set_config(std::move(next));
  return ok();
}

Status Core::start() {
  common::MutexLock lock(mu_);
  if (state_ != State::kIdle) return fail(ErrorCode::kInvalidArgument, "http: already started");
  if (options_.io_threads < 1 || options_.worker_threads < 1) {
    return fail(ErrorCode::kInvalidArgument, "http: io_threads and worker_threads must be >= 1");
  }
  state_ = State::kRunning;
  worker_thread_name_ = options_.thread_name + "-worker";
  workers_ = std::make_unique<net::thread_pool>(static_cast<std::size_t>(options_.worker_threads));
  work_.emplace(ioc_.get_executor());
  for (const auto& listener : listeners_) {
    net::post(listener->acceptor.get_executor(), [this, listener] { accept_next(listener); });
  }
  try {
    for (int i = 0; i < options_.io_threads; ++i) threads_.emplace_back([this] { run_io(); });
  } catch (const std::system_error& e) {
    return fail(ErrorCode::kInternal, std::string("http: cannot start I/O threads: ") + e.what());
  }
  return ok();
}

void Core::run_io() {
  common::name_this_thread(options_.thread_name + "-io");
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      log::error("http_io_exception", {{"what", e.what()}});
    }
  }
}

void Core::accept_next(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept(
      net::make_strand(ioc_), [this, listener](error_code ec, tcp::socket socket) {
        if (!ec) {
          start_session(listener->config(), std::move(socket));
          return accept_next(listener);
        }
        if (ec == net::error::operation_aborted || !listener->acceptor.is_open() || draining()) {
          return;
        }
        log::warn("http_accept_failed",
                  {{"listener", listener->config()->name}, {"error", ec.message()}});
        // Out of descriptors and the like: back off briefly instead of spinning.
        auto timer = std::make_shared<net::steady_timer>(listener->acceptor.get_executor(),
                                                         std::chrono::milliseconds(50));
        timer->async_wait([this, listener, timer](error_code) {
          if (listener->acceptor.is_open() && !draining()) accept_next(listener);
        });
      });
}

void Core::start_session(const std::shared_ptr<const ListenerConfig>& config, tcp::socket socket) {
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  // A connection accepted before the acceptor closed is served even while draining.
  if (ec) return;  // the socket closes as it goes out of scope
  socket.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<SessionBase> session;
  if (config->tls) {
    session =
        std::make_shared<Session<TlsStream>>(*this, config, std::move(socket), endpoint_text(peer));
  } else {
    session = std::make_shared<Session<PlainStream>>(*this, config, std::move(socket),
                                                     endpoint_text(peer));
  }
  {
    common::MutexLock lock(mu_);
    std::uint64_t id = next_session_id_++;
    session->set_id(id);
    sessions_.emplace(id, session);
  }
  session->run();
}

void Core::drain_sessions() {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    common::MutexLock lock(mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->drain();
}

void Core::stop() {
  common::MutexLock lock(mu_);
  if (state_ == State::kStopped) return;
  if (state_ == State::kStopping) {
    cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return state_ == State::kStopped; });
    return;
  }
  const bool was_running = state_ == State::kRunning;
  state_ = State::kStopping;
  lock.unlock();

  draining_.store(true, std::memory_order_release);
  if (was_running) {
    for (const auto& listener : listeners_) {
      net::post(listener->acceptor.get_executor(), [this, listener] {
        // Connections the kernel already completed wait in the backlog; closing the
        // acceptor would reset them. Take them in first and serve them like the rest.
        error_code ec;
        listener->acceptor.non_blocking(true, ec);
        while (!ec) {
          tcp::socket socket(net::make_strand(ioc_));
          listener->acceptor.accept(socket, ec);
          if (!ec) start_session(listener->config(), std::move(socket));
        }
        listener->acceptor.close(ec);
      });
    }
    drain_sessions();
    lock.lock();
    cv_.wait_for(mu_, options_.drain_timeout,
                 [this]() CW_REQUIRES(mu_) { return sessions_.empty(); });
    const std::size_t left = sessions_.size();
    lock.unlock();
    if (left > 0) log::warn("http_drain_timeout", {{"connections", left}});
    workers_->join();  // handlers still running finish; their responses are not written
    work_.reset();
    ioc_.stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }
  // No I/O thread runs now: close what is left directly.
  for (const auto& listener : listeners_) {
    error_code ec;
    listener->acceptor.close(ec);
  }
  std::vector<std::shared_ptr<SessionBase>> live;
  lock.lock();
  for (auto& [id, weak] : sessions_) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  lock.unlock();
  for (auto& session : live) session->close_now();
  live.clear();

  lock.lock();
  state_ = State::kStopped;
  cv_.notify_all();
}

void Core::wait() {
  common::MutexLock lock(mu_);
  cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return state_ == State::kStopped; });
}

}  // namespace server_detail

struct Server::Impl final : server_detail::Core {
  using Core::Core;
};

Server::Server(ServerOptions options, std::shared_ptr<const Router> router, Observer observer)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), std::move(observer))) {}

Server::~Server() { impl_->stop(); }

Result<std::uint16_t> Server::listen(const ListenerSettings& settings) {
  try {
    return impl_->listen(settings);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kUnavailable, std::string("http: listen failed: ") + e.what());
  }
}

Status Server::reload_tls(std::string_view listener_name, const TlsSettings& tls) {
  try {
    return impl_->reload_tls(listener_name, tls);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("http: TLS reload failed: ") + e.what());
  }
}

Status Server::start() {
  try {
    return impl_->start();
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("http: start failed: ") + e.what());
  }
}

void Server::stop() { impl_->stop(); }

void Server::wait() { impl_->wait(); }

}  // namespace certward::http
