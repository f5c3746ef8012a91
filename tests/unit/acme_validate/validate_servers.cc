#include "unit/acme_validate/validate_servers.h"

#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cstring>
#include <thread>

namespace certward::protocols::acme::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

std::optional<DnsQuery> parse_query(const std::uint8_t* data, std::size_t n) {
  if (n < 12) return std::nullopt;
  DnsQuery q;
  q.id = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
  std::size_t p = 12;
  while (p < n && data[p] != 0) {
    std::size_t len = data[p];
    if (len > 63 || p + 1 + len > n) return std::nullopt;
    if (!q.name.empty()) q.name += '.';
    q.name.append(reinterpret_cast<const char*>(data + p + 1), len);
    p += 1 + len;
  }
  if (p + 5 > n) return std::nullopt;
  q.type = static_cast<DnsType>((data[p + 1] << 8) | data[p + 2]);
  return q;
}

// An io_context on its own thread. Handlers hold the connections they serve; shutdown()
// closes the server's own sockets through `close` and destroys the io_context (and so those
// handlers and connections) while the rest of the server still exists.
struct IoThread {
  std::optional<asio::io_context> io{std::in_place};
  std::thread thread;
  void start() {
    thread = std::thread([this] { io->run(); });
  }
  template <typename Close>
  void shutdown(Close close) {
    io->stop();
    if (thread.joinable()) thread.join();
    close();
    io.reset();
  }
};

}  // namespace

Bytes encode_name(const std::string& name) {
  Bytes out;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<std::uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

DnsReply::DnsReply(const DnsQuery& q, DnsRcode rcode)
    : id_(q.id), rcode_(rcode), qname_(q.name), qtype_(q.type) {}

DnsReply& DnsReply::record(const std::string& name, DnsType type, const Bytes& rdata) {
  Bytes r = encode_name(name);
  put16(r, static_cast<std::uint16_t>(type));
  put16(r, kDnsClassIn);
  put16(r, 0);
  put16(r, 300);
  put16(r, static_cast<std::uint16_t>(rdata.size()));
  r.insert(r.end(), rdata.begin(), rdata.end());
  records_.push_back(std::move(r));
  return *this;
}

DnsReply& DnsReply::a(const std::string& name, const std::string& address) {
  auto b = asio::ip::make_address_v4(address).to_bytes();
  return record(name, DnsType::kA, Bytes(b.begin(), b.end()));
}

DnsReply& DnsReply::aaaa(const std::string& name, const std::string& address) {
  auto b = asio::ip::make_address_v6(address).to_bytes();
  return record(name, DnsType::kAaaa, Bytes(b.begin(), b.end()));
}

DnsReply& DnsReply::cname(const std::string& name, const std::string& target) {
  return record(name, DnsType::kCname, encode_name(target));
}

DnsReply& DnsReply::txt(const std::string& name, const std::vector<std::string>& strings) {
  Bytes rdata;
  for (const auto& s : strings) {
    rdata.push_back(static_cast<std::uint8_t>(s.size()));
    rdata.insert(rdata.end(), s.begin(), s.end());
  }
  return record(name, DnsType::kTxt, rdata);
}

DnsReply& DnsReply::truncated() {
  tc_ = true;
  return *this;
}

DnsReply& DnsReply::id(std::uint16_t id) {
  id_ = id;
  return *this;
}

DnsReply& DnsReply::question_name(const std::string& name) {
  qname_ = name;
  return *this;
}

Bytes DnsReply::bytes() const {
  Bytes out;
  put16(out, id_);
  put16(out, static_cast<std::uint16_t>(0x8000 | 0x0100 | 0x0080 | (tc_ ? 0x0200 : 0) |
                                        static_cast<std::uint16_t>(rcode_)));
  put16(out, 1);
  put16(out, static_cast<std::uint16_t>(records_.size()));
  put16(out, 0);
  put16(out, 0);
  Bytes q = encode_name(qname_);
  out.insert(out.end(), q.begin(), q.end());
  put16(out, static_cast<std::uint16_t>(qtype_));
  put16(out, kDnsClassIn);
  for (const auto& r : records_) out.insert(out.end(), r.begin(), r.end());
  return out;
}

// ---- DNS server ----

struct TestDnsServer::State : IoThread {
  explicit State(Handler h) : handler(std::move(h)) {
    udp_socket.emplace(*io);
    acceptor.emplace(*io);
  }
  Handler handler;
  std::optional<udp::socket> udp_socket;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
  std::array<std::uint8_t, 4096> buffer{};
  udp::endpoint sender;
  mutable std::mutex mu;
  std::vector<DnsQuery> seen;
  std::atomic<int> udp_count{0};
  std::atomic<int> tcp_count{0};

  std::vector<Bytes> answer(DnsQuery q) {
    {
      std::lock_guard lock(mu);
      seen.push_back(q);
    }
    return handler(q);
  }

  void receive() {
    udp_socket->async_receive_from(
        asio::buffer(buffer), sender, [self = this](error_code ec, std::size_t n) {
          if (ec) return;
          if (auto q = parse_query(self->buffer.data(), n)) {
            ++self->udp_count;
            for (const auto& reply : self->answer(*q)) {
              error_code ignored;
              self->udp_socket->send_to(asio::buffer(reply), self->sender, 0, ignored);
            }
          }
          self->receive();
        });
  }

  struct TcpConn {
    explicit TcpConn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<std::uint8_t, 2> length{};
    Bytes message;
    Bytes out;
  };

  void accept() {
    acceptor->async_accept([self = this](error_code ec, tcp::socket s) {
      if (ec) return;
      auto conn = std::make_shared<TcpConn>(std::move(s));
      asio::async_read(
          conn->socket, asio::buffer(conn->length), [self, conn](error_code e, std::size_t) {
            if (e) return;
            conn->message.resize((std::size_t{conn->length[0]} << 8) | conn->length[1]);
            asio::async_read(conn->socket, asio::buffer(conn->message),
                             [self, conn](error_code e2, std::size_t n) {
                               if (e2) return;
                               auto q = parse_query(conn->message.data(), n);
                               if (!q) return;
                               q->tcp = true;
                               ++self->tcp_count;
                               for (const auto& reply : self->answer(*q)) {
                                 put16(conn->out, static_cast<std::uint16_t>(reply.size()));
                                 conn->out.insert(conn->out.end(), reply.begin(), reply.end());
                               }
                               asio::async_write(conn->socket, asio::buffer(conn->out),
                                                 [conn](error_code, std::size_t) {});
                             });
          });
      self->accept();
    });
  }
};

TestDnsServer::TestDnsServer(Handler handler)
    : state_(std::make_unique<State>(std::move(handler))) {
  auto loopback = asio::ip::make_address_v4("127.0.0.1");
  for (int tries = 0;; ++tries) {
    error_code ec;
    state_->udp_socket->open(udp::v4());
    state_->udp_socket->bind({loopback, 0});
    state_->port = state_->udp_socket->local_endpoint().port();
    state_->acceptor->open(tcp::v4());
    state_->acceptor->bind({loopback, state_->port}, ec);
    if (!ec) break;
    state_->udp_socket->close();
    state_->acceptor->close();
    CW_CHECK(tries < 20);
  }
  state_->acceptor->listen();
  state_->receive();
  state_->accept();
  state_->start();
}

TestDnsServer::~TestDnsServer() {
  state_->shutdown([this] {
    state_->udp_socket.reset();
    state_->acceptor.reset();
  });
}
std::uint16_t TestDnsServer::port() const { return state_->port; }
int TestDnsServer::udp_queries() const { return state_->udp_count; }
int TestDnsServer::tcp_queries() const { return state_->tcp_count; }
std::vector<DnsQuery> TestDnsServer::queries() const {
  std::lock_guard lock(state_->mu);
  return state_->seen;
}

// ---- certificates ----

KeyAndCert make_alpn_cert(const AlpnCertSpec& spec) {
  auto key = crypto::generate_key(crypto::KeyType::kEcP256);
  CW_CHECK(key.has_value());
  KeyAndCert out{crypto::up_ref(key->get()), crypto::X509Ptr(X509_new())};
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  crypto::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("acme challenge"), -1, -1, 0);
  X509_set_subject_name(cert, name.get());
  X509_set_issuer_name(cert, name.get());
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, out.key.get());

  if (!spec.sans.empty()) {
    crypto::GeneralNamesPtr names(GENERAL_NAMES_new());
    for (const auto& [type, value] : spec.sans) {
      crypto::GeneralNamePtr gn(GENERAL_NAME_new());
      if (type == GEN_DNS) {
        ASN1_IA5STRING* s = ASN1_IA5STRING_new();
        ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
        GENERAL_NAME_set0_value(gn.get(), GEN_DNS, s);
      } else {
        auto address = asio::ip::make_address(value);
        std::string octets;
        if (address.is_v4()) {
          auto b = address.to_v4().to_bytes();
          octets.assign(b.begin(), b.end());
        } else {
          auto b = address.to_v6().to_bytes();
          octets.assign(b.begin(), b.end());
        }
        ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(s, reinterpret_cast<const unsigned char*>(octets.data()),
                              static_cast<int>(octets.size()));
        GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, s);
      }
      sk_GENERAL_NAME_push(names.get(), gn.release());
    }
    X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT);
  }

  if (spec.acme_extension) {
    Bytes value = spec.acme_value;
    if (value.empty()) {
      Bytes digest = crypto::sha256(as_bytes(spec.key_authorization));
      crypto::Asn1OctetStringPtr inner(ASN1_OCTET_STRING_new());
      ASN1_OCTET_STRING_set(inner.get(), digest.data(), static_cast<int>(digest.size()));
      int n = i2d_ASN1_OCTET_STRING(inner.get(), nullptr);
      value.resize(static_cast<std::size_t>(n));
      unsigned char* p = value.data();
      i2d_ASN1_OCTET_STRING(inner.get(), &p);
    }
    crypto::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(data.get(), value.data(), static_cast<int>(value.size()));
    crypto::Asn1ObjectPtr oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    crypto::X509ExtPtr ext(
        X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), spec.critical ? 1 : 0, data.get()));
    X509_add_ext(cert, ext.get(), -1);
  }
  CW_CHECK(X509_sign(cert, out.key.get(), EVP_sha256()) > 0);
  return out;
}

namespace {

std::shared_ptr<ssl::context> server_context(const KeyAndCert& kc) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  CW_CHECK(SSL_CTX_use_certificate(ctx->native_handle(), kc.cert.get()) == 1);
  CW_CHECK(SSL_CTX_use_PrivateKey(ctx->native_handle(), kc.key.get()) == 1);
  return ctx;
}

std::string header_value(const std::string& head, const std::string& name) {
  std::size_t p = 0;
  while ((p = head.find("\r\n", p)) != std::string::npos) {
    p += 2;
    std::size_t colon = head.find(':', p);
    if (colon == std::string::npos) break;
    std::string field = head.substr(p, colon - p);
    for (char& c : field) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (field == name) {
      std::size_t end = head.find("\r\n", colon);
      std::string value = head.substr(colon + 1, end - colon - 1);
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  }
  return "";
}

}  // namespace

// ---- HTTP server ----

std::string http_response(int status, const std::string& body, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
         "Connection: close\r\n\r\n" + body;
}

struct TestHttpServer::State : IoThread {
  explicit State(Handler h) : handler(std::move(h)) { acceptor.emplace(*io); }
  Handler handler;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
  std::shared_ptr<ssl::context> tls;
  KeyAndCert tls_cert;
  mutable std::mutex mu;
  std::vector<SeenRequest> seen;
  std::atomic<int> open{0};
  std::atomic<int> most{0};

  template <typename Stream>
  struct Conn {
    Conn(State* s, Stream st) : state(s), stream(std::move(st)), timer(*state->io) {
      int now = ++state->open;
      int prev = state->most.load();
      while (now > prev && !state->most.compare_exchange_weak(prev, now)) {
      }
    }
    ~Conn() { --state->open; }
    State* state;
    Stream stream;
    asio::steady_timer timer;
    std::string in;
    HttpAnswer answer;
  };

  template <typename Stream>
  static void serve(std::shared_ptr<Conn<Stream>> conn, std::string sni) {
    asio::async_read_until(conn->stream, asio::dynamic_buffer(conn->in), "\r\n\r\n",
                           [conn, sni](error_code ec, std::size_t n) {
                             if (ec) return;
                             std::string head = conn->in.substr(0, n);
                             SeenRequest req;
                             std::size_t sp1 = head.find(' ');
                             std::size_t sp2 = head.find(' ', sp1 + 1);
                             req.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
                             req.host = header_value(head, "host");
                             req.sni = sni;
                             {
                               std::lock_guard lock(conn->state->mu);
                               conn->state->seen.push_back(req);
                             }
                             conn->answer = conn->state->handler(req);
                             conn->timer.expires_after(conn->answer.delay);
                             conn->timer.async_wait([conn](error_code) {
                               asio::async_write(conn->stream, asio::buffer(conn->answer.raw),
                                                 [conn](error_code, std::size_t) {
                                                   error_code ignored;
                                                   conn->stream.lowest_layer().shutdown(
                                                       tcp::socket::shutdown_both, ignored);
                                                 });
                             });
                           });
  }

  void accept() {
    acceptor->async_accept([self = this](error_code ec, tcp::socket s) {
      if (ec) return;
      if (!self->tls) {
        serve(std::make_shared<Conn<tcp::socket>>(self, std::move(s)), "");
      } else {
        using TlsStream = ssl::stream<tcp::socket>;
        auto conn = std::make_shared<Conn<TlsStream>>(self, TlsStream(std::move(s), *self->tls));
        conn->stream.async_handshake(ssl::stream_base::server, [conn](error_code e) {
          if (e) return;
          const char* sni =
              SSL_get_servername(conn->stream.native_handle(), TLSEXT_NAMETYPE_host_name);
          serve(conn, sni ? sni : "");
        });
      }
      self->accept();
    });
  }
};

TestHttpServer::TestHttpServer(Handler handler, const std::string& bind, bool tls)
    : state_(std::make_unique<State>(std::move(handler))) {
  if (tls) {
    state_->tls_cert = make_alpn_cert({{{GEN_DNS, "localhost"}}, false, true, {}, ""});
    state_->tls = server_context(state_->tls_cert);
  }
  tcp::endpoint endpoint(asio::ip::make_address(bind), 0);
  state_->acceptor->open(endpoint.protocol());
  state_->acceptor->bind(endpoint);
  state_->acceptor->listen(512);
  state_->port = state_->acceptor->local_endpoint().port();
  state_->accept();
  state_->start();
}

TestHttpServer::~TestHttpServer() {
  state_->shutdown([this] { state_->acceptor.reset(); });
}
std::uint16_t TestHttpServer::port() const { return state_->port; }
std::vector<SeenRequest> TestHttpServer::requests() const {
  std::lock_guard lock(state_->mu);
  return state_->seen;
}
int TestHttpServer::max_concurrent() const { return state_->most; }

struct BannerServer::State : IoThread {
  explicit State(std::string b) : banner(std::move(b)) { acceptor.emplace(*io); }
  std::string banner;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;

  void accept() {
    acceptor->async_accept([self = this](error_code ec, tcp::socket s) {
      if (ec) return;
      auto socket = std::make_shared<tcp::socket>(std::move(s));
      asio::async_write(*socket, asio::buffer(self->banner), [socket](error_code, std::size_t) {
        error_code ignored;
        socket->shutdown(tcp::socket::shutdown_both, ignored);
      });
      self->accept();
    });
  }
};

BannerServer::BannerServer(std::string banner)
    : state_(std::make_unique<State>(std::move(banner))) {
  tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  state_->acceptor->open(endpoint.protocol());
  state_->acceptor->bind(endpoint);
  state_->acceptor->listen();
  state_->port = state_->acceptor->local_endpoint().port();
  state_->accept();
  state_->start();
}

BannerServer::~BannerServer() {
  state_->shutdown([this] { state_->acceptor.reset(); });
}
std::uint16_t BannerServer::port() const { return state_->port; }

std::uint16_t unused_tcp_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

SilentUdp::SilentUdp() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CW_CHECK(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}

SilentUdp::~SilentUdp() { ::close(fd_); }

// ---- TLS server (tls-alpn-01) ----

struct TestTlsServer::State : IoThread {
  State(KeyAndCert kc, AlpnMode m) : key_and_cert(std::move(kc)), mode(m) { acceptor.emplace(*io); }
  KeyAndCert key_and_cert;
  AlpnMode mode;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
  std::shared_ptr<ssl::context> ctx;
  mutable std::mutex mu;
  std::vector<SeenHandshake> seen;

  static int select_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                         const unsigned char* in, unsigned int inlen, void* arg) {
    auto* self = static_cast<State*>(arg);
    SeenHandshake hs;
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    hs.sni = sni ? sni : "";
    for (unsigned i = 0; i < inlen;) {
      unsigned len = in[i];
      hs.offered_alpn.emplace_back(reinterpret_cast<const char*>(in + i + 1), len);
      i += 1 + len;
    }
    {
      std::lock_guard lock(self->mu);
      self->seen.push_back(hs);
    }
    static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    switch (self->mode) {
      case AlpnMode::kAcme:
        for (unsigned i = 0; i < inlen;) {
          unsigned len = in[i];
          if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == "acme-tls/1") {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(len);
            return SSL_TLSEXT_ERR_OK;
          }
          i += 1 + len;
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      case AlpnMode::kNone:
        return SSL_TLSEXT_ERR_NOACK;
      case AlpnMode::kOther:
        *out = kHttp11;
        *outlen = sizeof kHttp11;
        return SSL_TLSEXT_ERR_OK;
      case AlpnMode::kFatal:
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  struct Conn {
    Conn(tcp::socket s, ssl::context& c) : stream(std::move(s), c) {}
    ssl::stream<tcp::socket> stream;
    std::array<char, 512> buffer{};
  };

  static void drain(std::shared_ptr<Conn> conn) {
    conn->stream.async_read_some(asio::buffer(conn->buffer), [conn](error_code ec, std::size_t) {
      if (!ec) drain(conn);
    });
  }

  void accept() {
    acceptor->async_accept([self = this](error_code ec, tcp::socket s) {
      if (ec) return;
      auto conn = std::make_shared<Conn>(std::move(s), *self->ctx);
      conn->stream.async_handshake(ssl::stream_base::server, [conn](error_code e) {
        if (!e) drain(conn);  // until the validator closes
      });
      self->accept();
    });
  }
};

TestTlsServer::TestTlsServer(KeyAndCert key_and_cert, AlpnMode mode)
    : state_(std::make_unique<State>(std::move(key_and_cert), mode)) {
  state_->ctx = server_context(state_->key_and_cert);
  SSL_CTX_set_alpn_select_cb(state_->ctx->native_handle(), &State::select_alpn, state_.get());
  tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  state_->acceptor->open(endpoint.protocol());
  state_->acceptor->bind(endpoint);
  state_->acceptor->listen();
  state_->port = state_->acceptor->local_endpoint().port();
  state_->accept();
  state_->start();
}

TestTlsServer::~TestTlsServer() {
  state_->shutdown([this] { state_->acceptor.reset(); });
}
std::uint16_t TestTlsServer::port() const { return state_->port; }
std::vector<SeenHandshake> TestTlsServer::handshakes() const {
  std::lock_guard lock(state_->mu);
  return state_->seen;
}

}  // namespace certward::protocols::acme::testing
