#pragma once
// Real peers for the challenge validator's tests, each on 127.0.0.1 (or ::1) on a free port,
// served by its own io thread: a DNS server (UDP and TCP on one port number), an HTTP(S)
// server and a TLS server for tls-alpn-01, plus a certificate maker for the latter.

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "protocols/acme/dns.h"

namespace certward::protocols::acme::testing {

// ---- DNS ----

struct DnsQuery {
  std::uint16_t id = 0;
  std::string name;
  DnsType type = DnsType::kA;
  bool tcp = false;
};

// A response to `q`, built without compression: question copied, records appended.
class DnsReply {
 public:
  explicit DnsReply(const DnsQuery& q, DnsRcode rcode = DnsRcode::kNoError);
  DnsReply& a(const std::string& name, const std::string& address);
  DnsReply& aaaa(const std::string& name, const std::string& address);
  DnsReply& cname(const std::string& name, const std::string& target);
  DnsReply& txt(const std::string& name, const std::vector<std::string>& strings);
  DnsReply& truncated();
  DnsReply& id(std::uint16_t id);
  DnsReply& question_name(const std::string& name);
  Bytes bytes() const;

 private:
  DnsReply& record(const std::string& name, DnsType type, const Bytes& rdata);
  std::uint16_t id_;
  DnsRcode rcode_;
  bool tc_ = false;
  std::string qname_;
  DnsType qtype_;
  std::vector<Bytes> records_;
};

Bytes encode_name(const std::string& name);

class TestDnsServer {
 public:
  // Returns the datagrams (or, over TCP, the messages) to send back, in order; none drops the
  // query.
  using Handler = std::function<std::vector<Bytes>(const DnsQuery&)>;
  explicit TestDnsServer(Handler handler);
  ~TestDnsServer();
  std::uint16_t port() const;
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  int udp_queries() const;
  int tcp_queries() const;
  std::vector<DnsQuery> queries() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- HTTP ----

struct SeenRequest {
  std::string target;
  std::string host;
  std::string sni;  // TLS only
};

struct HttpAnswer {
  std::string raw;  // the bytes sent back, then the connection is closed
  std::chrono::milliseconds delay{0};
};

std::string http_response(int status, const std::string& body,
                          const std::string& extra_headers = "");

// Serves HTTP/1.1, or HTTPS with a self-signed certificate when `tls` is set.
class TestHttpServer {
 public:
  using Handler = std::function<HttpAnswer(const SeenRequest&)>;
  explicit TestHttpServer(Handler handler, const std::string& bind = "127.0.0.1", bool tls = false);
  ~TestHttpServer();
  std::uint16_t port() const;
  std::vector<SeenRequest> requests() const;
  int max_concurrent() const;  // the most connections open at once

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Sends `banner` to every connection as soon as it is accepted, then closes it: a server that
// speaks something else than what the validator expects.
class BannerServer {
 public:
  explicit BannerServer(std::string banner);
  ~BannerServer();
  std::uint16_t port() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
std::uint16_t unused_tcp_port();
// A UDP socket bound on 127.0.0.1 that never answers; keep it alive for the test.
class SilentUdp {
 public:
  SilentUdp();
  ~SilentUdp();
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// ---- tls-alpn-01 ----

struct AlpnCertSpec {
  std::vector<std::pair<int, std::string>> sans;  // GEN_DNS name, or GEN_IPADD address text
  bool acme_extension = true;
  bool critical = true;
  Bytes acme_value;  // the extension's value (DER); empty: OCTET STRING of SHA-256(key_auth)
  std::string key_authorization;
};

struct KeyAndCert {
  crypto::EvpPkeyPtr key;
  crypto::X509Ptr cert;
};
KeyAndCert make_alpn_cert(const AlpnCertSpec& spec);

enum class AlpnMode {
  kAcme,   // selects acme-tls/1
  kNone,   // no ALPN support: nothing selected
  kOther,  // selects "http/1.1", which the client did not offer
  kFatal,  // refuses with a no_application_protocol alert
};

struct SeenHandshake {
  std::string sni;
  std::vector<std::string> offered_alpn;
};

class TestTlsServer {
 public:
  TestTlsServer(KeyAndCert key_and_cert, AlpnMode mode);
  ~TestTlsServer();
  std::uint16_t port() const;
  std::vector<SeenHandshake> handshakes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace certward::protocols::acme::testing
