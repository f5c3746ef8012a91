// The verification handshake. Small and synchronous on purpose: deploy() already runs on a
// job thread, and this asks one question of one endpoint. (The discovery scanner answers much
// more about many endpoints, but it sits above lifecycle in the layers.)

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/network.h"
#include "crypto/crypto.h"
#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SslCtxPtr = crypto::Handle<SSL_CTX, SSL_CTX_free>;
using SslPtr = crypto::Handle<SSL, SSL_free>;

constexpr auto kRetryInterval = std::chrono::milliseconds(200);
// One attempt never takes more than this, so that a peer that accepts and stays silent
// still leaves time for the next attempts.
constexpr auto kAttemptLimit = std::chrono::seconds(5);

std::unexpected<Error> unavailable(std::string message) {
  return fail(ErrorCode::kUnavailable, std::move(message));
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int ms_left(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, SteadyClock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

Result<int> connect_one(const addrinfo& ai, SteadyClock::time_point deadline) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    return unavailable(err == ECONNREFUSED ? "connection refused"
                                           : std::string("connect failed: ") + std::strerror(err));
  }
  if (!wait_for(fd, POLLOUT, deadline)) {
    ::close(fd);
    return unavailable("connect timed out");
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ::close(fd);
    return unavailable(err == ECONNREFUSED ? "connection refused"
                                           : std::string("connect failed: ") + std::strerror(err));
  }
  return fd;
}

// The numeric text of a resolved address.
std::string numeric_host(const addrinfo& ai) {
  char host[NI_MAXHOST] = "";
  if (::getnameinfo(ai.ai_addr, ai.ai_addrlen, host, sizeof host, nullptr, 0, NI_NUMERICHOST) !=
      0) {
    return {};
  }
  return host;
}

// Dials the endpoint's addresses that lie in `allowed`, in order: a name that resolves to an
// address outside them (a metadata service, another network) is never dialled there.
Result<int> connect_any(const HostPort& endpoint, const NetworkSet& allowed,
                        SteadyClock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  const int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return unavailable("could not resolve " + endpoint.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Error last{ErrorCode::kPolicyRejected,
             endpoint.host + " resolves to no address in [lifecycle] verify_networks"};
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (!allowed.contains(numeric_host(*ai))) continue;
    auto fd = connect_one(*ai, deadline);
    if (fd) return *fd;
    last = fd.error();
  }
  return std::unexpected(last);
}

Result<std::string> leaf_sha256(SSL* ssl) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr) return unavailable("no certificate was served");
  const int len = i2d_X509(leaf, nullptr);
  if (len <= 0) return unavailable("the served certificate cannot be encoded");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509(leaf, &p);
  return to_hex(crypto::sha256(der));
}

Result<std::string> handshake(int fd, const std::string& sni, SteadyClock::time_point deadline) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(ErrorCode::kInternal, "SSL_CTX_new failed");
  // Whatever the server presents is what we want to see, old protocol or weak key included.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_security_level(ctx.get(), 0);
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return fail(ErrorCode::kInternal, "SSL_new failed");
  if (!sni.empty()) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(sni.c_str()));
  }
  SSL_set_connect_state(ssl.get());
  while (true) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl.get());
    if (rc == 1) break;
    const int why = SSL_get_error(ssl.get(), rc);
    short events = 0;
    if (why == SSL_ERROR_WANT_READ) events = POLLIN;
    if (why == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      char buf[256] = "the peer closed the connection";
      if (const unsigned long e = ERR_peek_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
      ERR_clear_error();
      return unavailable(std::string("handshake failed: ") + buf);
    }
    if (!wait_for(fd, events, deadline)) return unavailable("handshake timed out");
  }
  auto digest = leaf_sha256(ssl.get());
  SSL_shutdown(ssl.get());  // a courtesy; non-blocking, not waited for
  return digest;
}

std::string default_sni(const Material& m) {
  for (const auto& san : m.certificate.info().sans) {
    if (san.type == x509::SanType::kDns) return san.value;
  }
  return {};
}

}  // namespace

Result<std::string> served_leaf_sha256(const HostPort& endpoint, const std::string& sni,
                                       std::chrono::milliseconds timeout,
                                       const std::vector<std::string>& networks) {
  const auto deadline = SteadyClock::now() + timeout;
  CW_ASSIGN_OR_RETURN(auto allowed, NetworkSet::make(networks));
  CW_ASSIGN_OR_RETURN(const int fd, connect_any(endpoint, allowed, deadline));
  Socket socket(fd);
  return handshake(socket.get(), sni, deadline);
}

Step verify_served(const Verify& verify, const Material& material, const Policy& policy) {
  StepTimer timer;
  const std::string expected = material.certificate.info().sha256_hex;
  auto endpoint = parse_endpoint(verify.endpoint);
  if (!endpoint) return timer.finish("verify", false, endpoint.error().message);
  const std::string sni = verify.server_name.value_or(default_sni(material));
  const auto deadline = SteadyClock::now() + verify.timeout;
  std::string last;
  while (true) {
    const auto attempt_end = std::min(deadline, SteadyClock::now() + kAttemptLimit);
    const auto served =
        served_leaf_sha256(*endpoint, sni,
                           std::max(std::chrono::milliseconds(100),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(
                                        attempt_end - SteadyClock::now())),
                           policy.verify_networks);
    if (served && *served == expected) {
      return timer.finish("verify", true, "served SHA256:" + *served);
    }
    last = served ? "served SHA256:" + *served + ", not the deployed SHA256:" + expected
                  : served.error().message;
    // Where the policy forbids dialling, waiting changes nothing.
    if (!served && served.error().code == ErrorCode::kPolicyRejected) break;
    if (SteadyClock::now() + kRetryInterval >= deadline) break;
    std::this_thread::sleep_for(kRetryInterval);
  }
  return timer.finish("verify", false,
                      verify.endpoint + (sni.empty() ? "" : " (SNI " + sni + ")") + ": " + last);
}

}  // namespace certward::lifecycle::deploy::detail
