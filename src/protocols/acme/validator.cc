#include "protocols/acme/validator.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/encoding.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "protocols/acme/dns.h"
#include "protocols/acme/validator_internal.h"

namespace certward::protocols::acme {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

using namespace validation;  // the I/O-free checks (validator_internal.h)

}  // namespace

std::string dns01_txt_value(std::string_view key_authorization) {
  return to_base64url(crypto::sha256(as_bytes(key_authorization)));
}

namespace {
class Attempt;
}  // namespace

// The state every attempt shares: options, io_context and threads, TLS context, resolver, and
// the attempts still pending (so that stop() can end them).
class Validator::Impl {
 public:
  explicit Impl(ValidatorOptions options);

  void validate(ValidationRequest request, std::function<void(ValidationResult)> done);
  void stop();
  void forget(const Attempt* attempt) CW_EXCLUDES(mu_);

  // Constant after construction.
  const ValidatorOptions options;
  std::optional<Error> config_error;  // set: every request fails with serverInternal
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::optional<DnsClient> dns;

 private:
  common::Mutex stop_mu_;  // serialises stop(): threads are joined once
  common::Mutex mu_;
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  std::unordered_map<const Attempt*, std::weak_ptr<Attempt>> live_ CW_GUARDED_BY(mu_);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::vector<std::thread> threads_;
};

namespace {

// One validation. Every handler runs on the attempt's strand and first checks `finished_`:
// once the attempt has its result (success, failure, timeout or shutdown), whatever completes
// later is ignored. The handlers own the attempt (shared_from_this), so it lives as long as
// one of its operations is pending.
class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  using Done = std::function<void(ValidationResult)>;

  Attempt(Validator::Impl& validator, ValidationRequest request, Done done)
      : v_(validator),
        req_(std::move(request)),
        done_(std::move(done)),
        strand_(asio::make_strand(validator.io)),
        deadline_(strand_),
        connect_timer_(strand_) {}

  const asio::strand<asio::io_context::executor_type>& strand() const { return strand_; }

  void start() {
    if (finished_) return;
    if (v_.config_error) {
      return fail("serverInternal", "validator misconfigured: " + v_.config_error->message);
    }
    deadline_at_ = Clock::now() + v_.options.timeout;
    deadline_.expires_at(deadline_at_);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->finished_) self->on_deadline();
    });
    if (auto problem = check_request()) return fail(problem->type, problem->detail);
    switch (req_.type) {
      case ChallengeType::kHttp01:
        return start_http01();
      case ChallengeType::kDns01:
        return start_dns01();
      case ChallengeType::kTlsAlpn01:
        return start_tls_alpn01();
    }
  }

  void abort(std::string type, std::string detail) {
    if (!finished_) fail(std::move(type), std::move(detail));
  }

 private:
  enum class Phase { kStart, kResolving, kConnecting, kTls, kHttp, kTxt };

  std::optional<Problem> check_request() {
    auto malformed = [](std::string detail) { return Problem{"malformed", std::move(detail)}; };
    if (req_.identifier_type == "ip") {
      ip_ = parse_ip(req_.identifier_value);
      if (!ip_) return malformed("the ip identifier is not an IP address");
      if (req_.type == ChallengeType::kDns01) {
        return malformed("dns-01 cannot validate an ip identifier (RFC 8738 section 7)");
      }
      host_ = ip_->to_string();
      if (!v_.options.allow_private_addresses && !is_public(*ip_)) {
        return Problem{"rejectedIdentifier", "address " + host_ + " is not publicly routable"};
      }
    } else if (req_.identifier_type == "dns") {
      std::string_view name = req_.identifier_value;
      if (name.starts_with("*.")) {
        if (req_.type != ChallengeType::kDns01) {
          return malformed("a wildcard identifier can only be validated with dns-01");
        }
        name.remove_prefix(2);
      }
      if (!is_host_name(name) || parse_ip(name)) {
        return malformed("the dns identifier is not a host name");
      }
      host_ = lower(name);
    } else {
      return malformed("unknown identifier type");
    }
    if (req_.type == ChallengeType::kHttp01 &&
        (req_.token.empty() || req_.token.size() > kMaxTokenBytes || !is_base64url(req_.token))) {
      return malformed("the token is not base64url");
    }
    return std::nullopt;
  }

  // --- The end of an attempt ---

  void fail(std::string type, std::string detail) {
    finish(ValidationResult{false, std::move(type), std::move(detail), {}});
  }

  void succeed() { finish(ValidationResult{true, "", "", {}}); }

  void finish(ValidationResult result) {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    deadline_.cancel(ignored);
    connect_timer_.cancel(ignored);
    for (auto& lookup : lookups_) {
      if (lookup) lookup->cancel();
      lookup.reset();
    }
    if (txt_lookup_) txt_lookup_->cancel();
    txt_lookup_.reset();
    close_connection();
    result.records = std::move(records_);
    v_.forget(this);
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  void on_deadline() {
    static constexpr const char* kDoing[] = {
        "starting",
        "looking up the address of",
        "connecting to",
        "in the TLS handshake with",
        "waiting for the response of",
        "looking up TXT of",
    };
    std::string what = phase_ == Phase::kTxt ? txt_name_ : host_text(current_host_, current_ip_);
    bool dns = phase_ == Phase::kResolving || phase_ == Phase::kTxt;
    fail(dns ? "dns" : "connection", "timed out after " +
                                         std::to_string(v_.options.timeout.count()) + " ms " +
                                         kDoing[static_cast<int>(phase_)] + " " + what);
  }

  void close_connection() {
    error_code ignored;
    if (socket_) socket_->close(ignored);
    if (tls_) tls_->next_layer().close(ignored);
  }

  // --- Addresses and connections (http-01, tls-alpn-01) ---

  // Resolves `host` (or takes `ip`) into the current record, then connects to `port` and
  // calls on_connected_. Failures end the attempt.
  void resolve_and_connect(std::string host, std::optional<asio::ip::address> ip,
                           std::uint16_t port, std::function<void()> on_connected) {
    current_host_ = std::move(host);
    current_ip_ = ip;
    port_ = port;
    on_connected_ = std::move(on_connected);
    if (ip) return use_addresses({*ip});
    phase_ = Phase::kResolving;
    for (auto& found : found_) found.clear();
    pending_lookups_ = 2;
    lookup_errors_.clear();
    nxdomain_ = 0;
    // AAAA first in the list: IPv6 addresses are dialled before IPv4 ones.
    const DnsType types[2] = {DnsType::kAaaa, DnsType::kA};
    for (int i = 0; i < 2; ++i) {
      lookups_[i] = v_.dns->resolve(strand_, current_host_, types[i],
                                    [self = shared_from_this(), i](Result<DnsAnswer> answer) {
                                      if (!self->finished_) self->on_lookup(i, std::move(answer));
                                    });
    }
  }

  void on_lookup(int i, Result<DnsAnswer> answer) {
    lookups_[i].reset();
    if (!answer) {
      lookup_errors_ = answer.error().message;
    } else {
      if (answer->rcode == DnsRcode::kNxDomain) ++nxdomain_;
      for (const auto& rec : answer->records) {
        if (rec.address.size() == 4) {
          std::array<unsigned char, 4> b{};
          std::copy(rec.address.begin(), rec.address.end(), b.begin());
          found_[i].push_back(asio::ip::address_v4(b));
        } else if (rec.address.size() == 16) {
          std::array<unsigned char, 16> b{};
          std::copy(rec.address.begin(), rec.address.end(), b.begin());
          found_[i].push_back(asio::ip::address_v6(b));
        }
      }
    }
    if (--pending_lookups_ > 0) return;
    std::vector<asio::ip::address> addresses = found_[0];
    addresses.insert(addresses.end(), found_[1].begin(), found_[1].end());
    if (!addresses.empty()) return use_addresses(std::move(addresses));
    if (nxdomain_ == 2) return fail("dns", "NXDOMAIN looking up A and AAAA for " + current_host_);
    if (!lookup_errors_.empty()) {
      return fail("dns", "DNS problem looking up " + current_host_ + ": " + lookup_errors_);
    }
    fail("dns", "No valid A or AAAA records for " + current_host_);
  }

  void use_addresses(std::vector<asio::ip::address> addresses) {
    ValidationRecord& record = records_.back();
    endpoints_.clear();
    for (const auto& address : addresses) {
      if (!v_.options.allow_private_addresses && !is_public(address)) continue;
      record.addresses_resolved.push_back(address.to_string());
      endpoints_.emplace_back(address, port_);
    }
    if (endpoints_.empty()) {
      return fail(current_ip_ ? "connection" : "dns",
                  current_host_ + " has no address the validator may dial");
    }
    next_endpoint_ = 0;
    phase_ = Phase::kConnecting;
    connect_next();
  }

  void connect_next() {
    if (next_endpoint_ == endpoints_.size()) {
      return fail("connection", "could not connect to " + host_text(current_host_, current_ip_) +
                                    " port " + std::to_string(port_) + ": " + connect_error_);
    }
    const tcp::endpoint& endpoint = endpoints_[next_endpoint_];
    socket_.emplace(strand_);
    unsigned generation = ++connect_generation_;
    std::size_t left = endpoints_.size() - next_endpoint_;
    if (left > 1) {
      // A silent address must not use up the time of those after it.
      auto remaining = deadline_at_ - Clock::now();
      connect_timer_.expires_after(remaining / static_cast<int>(left));
      connect_timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
        if (ec || self->finished_ || generation != self->connect_generation_) return;
        error_code ignored;
        self->socket_->close(ignored);
      });
    }
    socket_->async_connect(endpoint, [self = shared_from_this()](error_code ec) {
      if (!self->finished_) self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    ++connect_generation_;  // the connect timer of this address no longer applies
    error_code ignored;
    connect_timer_.cancel(ignored);
    ValidationRecord& record = records_.back();
    std::string address = endpoints_[next_endpoint_].address().to_string();
    if (ec || !socket_->is_open()) {
      connect_error_ =
          ec == asio::error::operation_aborted || !socket_->is_open() ? "timed out" : ec.message();
      record.addresses_tried.push_back(address);
      ++next_endpoint_;
      return connect_next();
    }
    record.address_used = address;
    on_connected_();
  }

  // TLS on the connected socket: SNI `sni` (none when empty), ALPN `alpn` (wire form, none
  // when empty), no certificate verification.
  void start_tls(const std::string& sni, std::string_view alpn, std::function<void()> next) {
    phase_ = Phase::kTls;
    tls_.emplace(std::move(*socket_), v_.tls);
    socket_.reset();
    SSL* ssl = tls_->native_handle();
    if (!sni.empty()) {
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(sni.c_str()));
    }
    if (!alpn.empty()) {
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()),
                          static_cast<unsigned>(alpn.size()));
    }
    tls_->async_handshake(ssl::stream_base::client, [self = shared_from_this(),
                                                     next = std::move(next)](error_code ec) {
      if (self->finished_) return;
      if (ec) {
        return self->fail(
            "tls", "TLS handshake with " + self->host_text_now() + " failed: " + ec.message());
      }
      next();
    });
  }

  std::string host_text_now() const { return host_text(current_host_, current_ip_); }

  // --- http-01 ---

  void start_http01() {
    Url url;
    url.host = host_;
    url.ip = ip_;
    url.target = "/.well-known/acme-challenge/" + req_.token;
    fetch(std::move(url));
  }

  void fetch(Url url) {
    close_connection();
    socket_.reset();
    tls_.reset();
    url_ = std::move(url);
    visited_.insert(url_.str());
    std::uint16_t port = url_.port == 443 ? v_.options.https_port : v_.options.http_port;
    records_.push_back(ValidationRecord{url_.str(), url_.host, port, {}, "", {}});
    resolve_and_connect(url_.host, url_.ip, port, [this] {
      if (!url_.https) return send_request();
      start_tls(url_.ip ? std::string() : url_.host, "", [this] { send_request(); });
    });
  }

  void send_request() {
    phase_ = Phase::kHttp;
    request_ = {};
    request_.method(bhttp::verb::get);
    request_.target(url_.target);
    request_.version(11);
    // The identifier itself: the port dialled is a deployment detail (RFC 8555 8.3).
    request_.set(bhttp::field::host, url_.authority());
    request_.set(bhttp::field::user_agent, "certward-acme-validator");
    request_.set(bhttp::field::accept, "*/*");
    request_.set(bhttp::field::connection, "close");
    buffer_.clear();
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(v_.options.max_body_bytes);
    if (tls_) return exchange(*tls_);
    exchange(*socket_);
  }

  template <typename Stream>
  void exchange(Stream& stream) {
    bhttp::async_write(stream, request_,
                       [self = shared_from_this(), &stream](error_code ec, std::size_t) {
                         if (self->finished_) return;
                         if (ec) return self->http_failed(ec);
                         bhttp::async_read_header(stream, self->buffer_, *self->parser_,
                                                  [self, &stream](error_code e, std::size_t) {
                                                    if (self->finished_) return;
                                                    if (e) return self->http_failed(e);
                                                    self->on_header(stream);
                                                  });
                       });
  }

  template <typename Stream>
  void on_header(Stream& stream) {
    unsigned status = parser_->get().result_int();
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      auto location = parser_->get().find(bhttp::field::location);
      if (location != parser_->get().end()) return redirect(location->value());
    }
    if (status != 200) {
      return fail("unauthorized",
                  "Invalid response from " + url_.str() + ": status " + std::to_string(status));
    }
    bhttp::async_read(stream, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (self->finished_) return;
                        self->on_body(ec);
                      });
  }

  void on_body(error_code ec) {
    if (ec == ssl::error::stream_truncated && !parser_->chunked() && !parser_->content_length()) {
      // A body that ends with the connection, closed without close_notify: what a plain
      // HTTP server would have sent.
      ec = {};
      parser_->put_eof(ec);
    }
    if (ec) return http_failed(ec);
    if (trim_trailing_space(parser_->get().body()) != req_.key_authorization) {
      return fail("unauthorized", "The key authorization file from " + url_.str() +
                                      " does not match this challenge");
    }
    succeed();
  }

  void http_failed(error_code ec) {
    // Beast reports an announced Content-Length over the limit with the header already.
    if (ec == bhttp::error::body_limit) {
      return fail("unauthorized", "Invalid response from " + url_.str() + ": body over " +
                                      std::to_string(v_.options.max_body_bytes) + " bytes");
    }
    fail("connection", "Fetching " + url_.str() + ": " + ec.message());
  }

  void redirect(beast::string_view location) {
    if (redirects_ >= v_.options.max_redirects) {
      return fail("connection", "Too many redirects: more than " +
                                    std::to_string(v_.options.max_redirects) + " from " +
                                    records_.front().url);
    }
    auto next = resolve_redirect(url_, std::string_view(location.data(), location.size()));
    if (!next) {
      return fail("connection",
                  "Invalid redirect from " + url_.str() + ": " + next.error().message);
    }
    if (visited_.contains(next->str())) {
      return fail("connection", "Redirect loop: " + url_.str() + " leads back to " + next->str());
    }
    ++redirects_;
    // Not from inside this handler: fetch() replaces the stream that is completing.
    asio::post(strand_, [self = shared_from_this(), url = *std::move(next)]() mutable {
      if (!self->finished_) self->fetch(std::move(url));
    });
  }

  // --- tls-alpn-01 ---

  void start_tls_alpn01() {
    std::string sni = ip_ ? reverse_name(*ip_) : host_;
    records_.push_back(ValidationRecord{"", host_, v_.options.tls_alpn_port, {}, "", {}});
    resolve_and_connect(host_, ip_, v_.options.tls_alpn_port, [this, sni] {
      static constexpr char kOffer[] =
          "\x0a"
          "acme-tls/1";
      start_tls(sni, std::string_view(kOffer, sizeof kOffer - 1), [this] { check_alpn(); });
    });
  }

  void check_alpn() {
    SSL* ssl = tls_->native_handle();
    const unsigned char* selected = nullptr;
    unsigned selected_size = 0;
    SSL_get0_alpn_selected(ssl, &selected, &selected_size);
    std::string_view protocol(reinterpret_cast<const char*>(selected), selected_size);
    if (protocol != kAcmeTls1) {
      return fail("unauthorized",
                  "Cannot negotiate ALPN protocol \"acme-tls/1\" with " + host_text_now());
    }
    crypto::X509Ptr cert(SSL_get1_peer_certificate(ssl));
    if (!cert) return fail("unauthorized", host_text_now() + " presented no certificate");
    if (auto problem = check_alpn_certificate(cert.get(), host_, ip_, req_.key_authorization)) {
      return fail(problem->type, problem->detail);
    }
    succeed();
  }

  // --- dns-01 ---

  void start_dns01() {
    txt_name_ = "_acme-challenge." + host_;
    records_.push_back(ValidationRecord{"", txt_name_, 0, {}, "", {}});
    phase_ = Phase::kTxt;
    txt_lookup_ = v_.dns->resolve(strand_, txt_name_, DnsType::kTxt,
                                  [self = shared_from_this()](Result<DnsAnswer> answer) {
                                    if (!self->finished_) self->on_txt(std::move(answer));
                                  });
  }

  void on_txt(Result<DnsAnswer> answer) {
    txt_lookup_.reset();
    if (!answer) {
      return fail("dns",
                  "DNS problem looking up TXT for " + txt_name_ + ": " + answer.error().message);
    }
    if (answer->records.empty()) {
      return fail("unauthorized", std::string(answer->rcode == DnsRcode::kNxDomain
                                                  ? "NXDOMAIN: no TXT record found at "
                                                  : "No TXT record found at ") +
                                      txt_name_);
    }
    std::string want = dns01_txt_value(req_.key_authorization);
    for (const auto& rec : answer->records) {
      std::string value;
      for (const auto& part : rec.txt) value += part;
      if (value == want) return succeed();
    }
    fail("unauthorized", "Incorrect TXT record found at " + txt_name_);
  }

  Validator::Impl& v_;
  const ValidationRequest req_;
  Done done_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer deadline_;
  asio::steady_timer connect_timer_;
  Clock::time_point deadline_at_;
  Phase phase_ = Phase::kStart;
  bool finished_ = false;
  std::vector<ValidationRecord> records_;

  // The identifier: a lower-case name, or an address in canonical text and ip_.
  std::string host_;
  std::optional<asio::ip::address> ip_;

  // The host being resolved and dialled now.
  std::string current_host_;
  std::optional<asio::ip::address> current_ip_;
  std::uint16_t port_ = 0;
  std::function<void()> on_connected_;
  std::shared_ptr<DnsLookup> lookups_[2];
  std::vector<asio::ip::address> found_[2];
  int pending_lookups_ = 0;
  int nxdomain_ = 0;
  std::string lookup_errors_;
  std::vector<tcp::endpoint> endpoints_;
  std::size_t next_endpoint_ = 0;
  unsigned connect_generation_ = 0;
  std::string connect_error_;
  std::optional<tcp::socket> socket_;
  std::optional<ssl::stream<tcp::socket>> tls_;

  // http-01
  Url url_;
  std::set<std::string> visited_;
  int redirects_ = 0;
  bhttp::request<bhttp::empty_body> request_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;

  // dns-01
  std::string txt_name_;
  std::shared_ptr<DnsLookup> txt_lookup_;
};

}  // namespace

Validator::Impl::Impl(ValidatorOptions opts) : options(std::move(opts)) {
  if (auto checked = Validator::check_options(options); !checked) {
    config_error = checked.error();
  } else {
    DnsClientOptions dns_options;
    dns_options.server =
        options.resolver ? *parse_resolver_address(*options.resolver) : system_nameserver();
    // Two tries per query and room left for the connection after them.
    dns_options.attempts = 2;
    dns_options.attempt_timeout = std::max(options.timeout / 3, std::chrono::milliseconds(1));
    dns.emplace(dns_options);
  }
  tls.set_verify_mode(ssl::verify_none);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(tls.native_handle(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  guard_.emplace(asio::make_work_guard(io));
  int count = std::max(options.threads, 1);
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this] {
      common::name_this_thread("acme-validator");
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          // A handler threw (allocation failure, a throwing `done`): keep serving the others.
          log::error("acme.validator.handler_threw", {{"what", e.what()}});
        }
      }
    });
  }
}

void Validator::Impl::validate(ValidationRequest request,
                               std::function<void(ValidationResult)> done) {
  auto attempt = std::make_shared<Attempt>(*this, std::move(request), std::move(done));
  {
    common::MutexLock lock(mu_);
    if (!stopping_) {
      live_.emplace(attempt.get(), attempt);
      asio::post(attempt->strand(), [attempt] { attempt->start(); });
      return;
    }
  }
  attempt->abort("connection", "shutting down");
}

void Validator::Impl::forget(const Attempt* attempt) {
  common::MutexLock lock(mu_);
  live_.erase(attempt);
}

void Validator::Impl::stop() {
  common::MutexLock stop_lock(stop_mu_);
  for (const auto& t : threads_) CW_CHECK(t.get_id() != std::this_thread::get_id());
  std::vector<std::shared_ptr<Attempt>> pending;
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
    for (const auto& [key, weak] : live_) {
      if (auto attempt = weak.lock()) pending.push_back(std::move(attempt));
    }
  }
  for (auto& attempt : pending) {
    asio::post(attempt->strand(), [attempt] { attempt->abort("connection", "shutting down"); });
  }
  pending.clear();
  guard_.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Validator::Validator(ValidatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Validator::~Validator() { impl_->stop(); }

void Validator::stop() { impl_->stop(); }

void Validator::validate(ValidationRequest request, std::function<void(ValidationResult)> done) {
  impl_->validate(std::move(request), std::move(done));
}

Status Validator::check_options(const ValidatorOptions& options) {
  if (options.resolver) {
    if (auto parsed = parse_resolver_address(*options.resolver); !parsed) {
      return std::unexpected(parsed.error());
    }
  }
  if (options.timeout.count() <= 0) return fail(ErrorCode::kInvalidArgument, "timeout must be > 0");
  if (options.max_redirects < 0) {
    return fail(ErrorCode::kInvalidArgument, "max_redirects must be >= 0");
  }
  if (options.max_body_bytes == 0 || options.threads < 1) {
    return fail(ErrorCode::kInvalidArgument, "max_body_bytes and threads must be positive");
  }
  if (options.http_port == 0 || options.https_port == 0 || options.tls_alpn_port == 0) {
    return fail(ErrorCode::kInvalidArgument, "ports must be non-zero");
  }
  return ok();
}

}  // namespace certward::protocols::acme
