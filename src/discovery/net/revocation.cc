// Revocation without trusting the network: only a response signed by the leaf's issuer (or a
// CRL it signed) can say "revoked"; every other outcome is silence.

#include "discovery/net/revocation.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "discovery/net/chain_checks.h"
#include "x509/certificate.h"

namespace certward::discovery::net::detail {
namespace {

using OcspResponsePtr = crypto::Handle<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = crypto::Handle<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspRequestPtr = crypto::Handle<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspCertIdPtr = crypto::Handle<OCSP_CERTID, OCSP_CERTID_free>;

crypto::X509Ptr parse(const Bytes& der) {
  const unsigned char* p = der.data();
  crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  return cert;
}

crypto::X509Ptr up_ref(X509* cert) {
  X509_up_ref(cert);
  return crypto::X509Ptr(cert);
}

// The leaf's issuer among the served certificates, else among the trusted roots.
crypto::X509Ptr find_issuer(X509* leaf, const std::vector<Bytes>& chain, X509_STORE* trust) {
  for (std::size_t i = 1; i < chain.size(); ++i) {
    auto candidate = parse(chain[i]);
    if (candidate && X509_check_issued(candidate.get(), leaf) == X509_V_OK) return candidate;
  }
  if (trust != nullptr) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(trust);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      X509* candidate = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
      if (candidate != nullptr && X509_check_issued(candidate, leaf) == X509_V_OK) {
        return up_ref(candidate);
      }
    }
  }
  ERR_clear_error();
  return nullptr;
}

Finding revoked_finding(X509* leaf, std::string source) {
  int len = i2d_X509(leaf, nullptr);
  Bytes der(static_cast<std::size_t>(std::max(len, 0)));
  unsigned char* p = der.data();
  if (len > 0) i2d_X509(leaf, &p);
  return Finding{"revoked", Severity::kCritical, "revoked according to " + std::move(source),
                 to_hex(crypto::sha256(der))};
}

// True only for a successful response, signed by the issuer or a responder it delegated to,
// that lists the leaf as revoked.
bool ocsp_says_revoked(const Bytes& der, X509* leaf, X509* issuer) {
  const unsigned char* p = der.data();
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response || OCSP_response_status(response.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    ERR_clear_error();
    return false;
  }
  OcspBasicPtr basic(OCSP_response_get1_basic(response.get()));
  crypto::X509StorePtr store(X509_STORE_new());
  crypto::X509StackPtr signers(sk_X509_new_null());
  bool revoked = false;
  if (basic && store && signers && X509_STORE_add_cert(store.get(), issuer) == 1 &&
      X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) == 1 &&
      sk_X509_push(signers.get(), up_ref(issuer).release()) > 0 &&
      OCSP_basic_verify(basic.get(), signers.get(), store.get(), 0) == 1) {
    OcspCertIdPtr id(OCSP_cert_to_id(nullptr, leaf, issuer));
    int status = -1;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    revoked = id &&
              OCSP_resp_find_status(basic.get(), id.get(), &status, &reason, &revoked_at,
                                    &this_update, &next_update) == 1 &&
              status == V_OCSP_CERTSTATUS_REVOKED;
  }
  ERR_clear_error();
  return revoked;
}

struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};

std::optional<Url> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  Url out;
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) out.target = std::string(url.substr(slash));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() == ':') out.port = authority.substr(1);
  } else {
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.port.empty()) return std::nullopt;
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  return out;
}

// One HTTP/1.0 exchange (the server closes after the response, so no chunking or keep-alive
// to handle). done(body) for a 200 within the time and size limits, nullopt otherwise.
class HttpFetch : public std::enable_shared_from_this<HttpFetch> {
 public:
  HttpFetch(const Strand& strand, const ScanOptions& options, Url url, std::string content_type,
            Bytes body, std::function<void(std::optional<Bytes>)> done)
      : options_(options),
        url_(std::move(url)),
        resolver_(strand),
        socket_(strand),
        timer_(strand),
        done_(std::move(done)) {
    request_ = (body.empty() ? "GET " : "POST ") + url_.target + " HTTP/1.0\r\nHost: " + url_.host +
               "\r\nUser-Agent: certward-scanner\r\n";
    if (!body.empty()) {
      request_ += "Content-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request_ += "\r\n";
    request_.append(body.begin(), body.end());
  }

  void start() {
    timer_.expires_after(options_.revocation_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->end(std::nullopt);
    });
    resolver_.async_resolve(url_.host, url_.port,
                            [self = shared_from_this()](error_code ec, auto results) {
                              if (ec) return self->end(std::nullopt);
                              self->connect(results);
                            });
  }

 private:
  void connect(const tcp::resolver::results_type& results) {
    std::vector<tcp::endpoint> endpoints;
    for (const auto& r : results) {
      if (!options_.may_fetch_from || options_.may_fetch_from(r.endpoint().address().to_string())) {
        endpoints.push_back(r.endpoint());
      }
    }
    if (endpoints.empty()) return end(std::nullopt);
    asio::async_connect(socket_, endpoints,
                        [self = shared_from_this()](error_code ec, const auto&) {
                          if (ec) return self->end(std::nullopt);
                          asio::async_write(self->socket_, asio::buffer(self->request_),
                                            [self](error_code write_ec, std::size_t) {
                                              if (write_ec) return self->end(std::nullopt);
                                              self->read();
                                            });
                        });
  }

  void read() {
    // Headers on top of the body limit.
    std::size_t cap = options_.revocation_max_bytes + 16 * 1024;
    asio::async_read(socket_, asio::dynamic_buffer(response_, cap),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       // Only the end of the stream completes a response; a full buffer is
                       // over the limit.
                       if (ec != asio::error::eof) return self->end(std::nullopt);
                       self->end(self->body());
                     });
  }

  std::optional<Bytes> body() const {
    if (!response_.starts_with("HTTP/1.") || response_.size() < 12) return std::nullopt;
    if (response_.compare(8, 4, " 200") != 0) return std::nullopt;
    auto start = response_.find("\r\n\r\n");
    if (start == std::string::npos) return std::nullopt;
    if (response_.size() - start - 4 > options_.revocation_max_bytes) return std::nullopt;
    return Bytes(response_.begin() + static_cast<std::ptrdiff_t>(start + 4), response_.end());
  }

  void end(std::optional<Bytes> result) {
    if (!done_) return;
    error_code ignored;
    timer_.cancel(ignored);
    resolver_.cancel();
    socket_.close(ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  const ScanOptions& options_;
  Url url_;
  std::string request_;
  std::string response_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::function<void(std::optional<Bytes>)> done_;
};

void fetch(const Strand& strand, const ScanOptions& options, const std::string& url,
           std::string content_type, Bytes body, std::function<void(std::optional<Bytes>)> done) {
  auto parsed = parse_http_url(url);
  if (!parsed) return done(std::nullopt);
  std::make_shared<HttpFetch>(strand, options, std::move(*parsed), std::move(content_type),
                              std::move(body), std::move(done))
      ->start();
}

Bytes ocsp_request(X509* leaf, X509* issuer) {
  OcspRequestPtr request(OCSP_REQUEST_new());
  OCSP_CERTID* id = OCSP_cert_to_id(nullptr, leaf, issuer);
  if (!request || id == nullptr || OCSP_request_add0_id(request.get(), id) == nullptr) {
    OCSP_CERTID_free(id);
    ERR_clear_error();
    return {};
  }
  int len = i2d_OCSP_REQUEST(request.get(), nullptr);
  if (len <= 0) return {};
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_OCSP_REQUEST(request.get(), &p);
  return der;
}

std::string first_http(const std::vector<std::string>& urls) {
  for (const auto& u : urls) {
    if (u.starts_with("http://")) return u;
  }
  return "";
}

}  // namespace

std::optional<Finding> stapled_revocation(const Bytes& staple, const std::vector<Bytes>& chain) {
  if (staple.empty() || chain.empty()) return std::nullopt;
  auto leaf = parse(chain.front());
  if (!leaf) return std::nullopt;
  auto issuer = find_issuer(leaf.get(), chain, nullptr);
  if (!issuer || !ocsp_says_revoked(staple, leaf.get(), issuer.get())) return std::nullopt;
  return revoked_finding(leaf.get(), "the stapled OCSP response");
}

void check_revocation(const Strand& strand, ScanShared& shared, const std::vector<Bytes>& chain,
                      std::function<void(std::optional<Finding>)> done) {
  auto leaf = parse(chain.front());
  auto info = x509::Certificate::from_der(chain.front());
  if (!leaf || !info) return done(std::nullopt);
  crypto::X509Ptr issuer = find_issuer(leaf.get(), chain, shared.trust);
  if (!issuer) return done(std::nullopt);
  std::string ocsp = first_http(info->info().ocsp_urls);
  std::string crl = first_http(info->info().crl_distribution_points);
  auto holder = std::make_shared<std::pair<crypto::X509Ptr, crypto::X509Ptr>>(std::move(leaf),
                                                                              std::move(issuer));
  auto try_crl = [strand, &shared, crl, holder, done]() {
    if (crl.empty()) return done(std::nullopt);
    fetch(strand, shared.options, crl, "", {}, [holder, crl, done](std::optional<Bytes> body) {
      if (body && crl_lists(*body, holder->first.get(), holder->second.get())) {
        return done(revoked_finding(holder->first.get(), "the CRL at " + crl));
      }
      done(std::nullopt);
    });
  };
  if (ocsp.empty()) return try_crl();
  Bytes request = ocsp_request(holder->first.get(), holder->second.get());
  fetch(strand, shared.options, ocsp, "application/ocsp-request", std::move(request),
        [holder, ocsp, done, try_crl](std::optional<Bytes> body) {
          if (!body) return try_crl();
          if (ocsp_says_revoked(*body, holder->first.get(), holder->second.get())) {
            return done(revoked_finding(holder->first.get(), "the OCSP responder at " + ocsp));
          }
          done(std::nullopt);
        });
}

}  // namespace certward::discovery::net::detail
