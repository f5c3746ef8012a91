// The TLS scanner against real servers on loopback: one `openssl s_server` per kind of
// certificate or protocol problem (certificates made once by make_pki.sh), scripted STARTTLS
// greeters that hand over to a real s_server, and hostile peers. Each endpoint must yield
// exactly the findings expected of it, and every failure must end within the timeouts.

#include "discovery/net/scanner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "crypto/handles.h"
#include "unit/discovery_net/peers.h"
#include "unit/testing/temp_dir.h"

namespace certward::discovery::net {
namespace {

using testing::Process;
using testing::ScriptedPeer;
using SteadyClock = std::chrono::steady_clock;

Bytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Endpoint ep(std::uint16_t port, std::string sni = "", std::string starttls = "") {
  return Endpoint{"127.0.0.1", "127.0.0.1", port, std::move(sni), std::move(starttls)};
}

std::vector<std::string> codes(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.code);
  std::sort(out.begin(), out.end());
  return out;
}

std::string leaf_subject_cn(const TlsObservation& obs) {
  if (obs.chain.empty()) return "";
  const unsigned char* p = obs.chain[0].data();
  crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(obs.chain[0].size())));
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  return cn;
}

// The servers every test of this file shares, started once.
struct Servers {
  certward::testing::TempDir dir;
  std::map<std::string, std::uint16_t> port;
  std::vector<std::unique_ptr<Process>> processes;
  std::vector<std::unique_ptr<ScriptedPeer>> peers;
  Bytes root;
  std::string failure;
  // Requests the CRL server has answered.
  std::shared_ptr<std::atomic<int>> crl_requests = std::make_shared<std::atomic<int>>(0);

  std::string file(const std::string& name) const { return dir.file(name); }

  void s_server(const std::string& name, std::vector<std::string> args, bool ipv6 = false) {
    std::uint16_t p = testing::free_port();
    std::string host = ipv6 ? "[::1]:" : "127.0.0.1:";
    std::vector<std::string> argv = {"openssl", "s_server", "-accept", host + std::to_string(p),
                                     "-www",    "-quiet"};
    for (auto& a : args) {
      if (a.find('.') != std::string::npos && std::filesystem::exists(file(a))) a = file(a);
      argv.push_back(a);
    }
    processes.push_back(std::make_unique<Process>(argv, file(name + ".log")));
    if (!testing::wait_for_port(p, std::chrono::seconds(10), ipv6)) {
      failure += name + " did not start; ";
    }
    port[name] = p;
  }

  void peer(const std::string& name, ScriptedPeer::Handler handler) {
    peers.push_back(std::make_unique<ScriptedPeer>(std::move(handler)));
    port[name] = peers.back()->port();
  }

  // A plain-text greeter for `protocol` that relays to the "valid" s_server once it has said go.
  void greeter(const std::string& name, std::function<bool(int, const std::atomic<bool>&)> talk) {
    std::uint16_t backend = port.at("valid");
    peer(name, [talk = std::move(talk), backend](int fd, const std::atomic<bool>& stop) {
      if (talk(fd, stop)) testing::splice_to(fd, backend, stop);
    });
  }

  void start();
};

void Servers::start() {
  // The revocation server's port is written into certificates, so it comes first: GET
  // /inter.crl is the CRL, any POST the OCSP response made for the "ocsp.test" leaf.
  auto crl_body = std::make_shared<std::string>();
  auto ocsp_body = std::make_shared<std::string>();
  peer("revocation_http", [crl_body, ocsp_body, requests = crl_requests](
                              int fd, const std::atomic<bool>& stop) {
    std::string request_line;
    std::string line;
    std::size_t length = 0;
    if (!testing::read_line(fd, request_line, stop)) return;
    while (testing::read_line(fd, line, stop) && line != "\r\n") {
      if (line.starts_with("Content-Length: ")) length = std::stoul(line.substr(16));
    }
    std::string body;
    if (length > 0 && !testing::read_bytes(fd, length, body, stop)) return;
    ++*requests;
    bool ocsp = request_line.starts_with("POST ");
    testing::write_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" +
                               (ocsp ? *ocsp_body : *crl_body));
  });
  std::string base = "http://127.0.0.1:" + std::to_string(port["revocation_http"]);
  std::string crl_url = base + "/inter.crl";
  std::string ocsp_url = base + "/ocsp";
  // From the tests' data directory, not __FILE__: a compiler cache may compile with paths
  // relative to the build directory, where the test does not run.
  std::string script = testing::pki_script();
  if (!testing::run("bash " + script + " " + dir.path().string() + " " + crl_url + " " +
                    ocsp_url)) {
    failure = "make_pki.sh failed";
    return;
  }
  auto crl = read_file_bytes(file("inter.crl"));
  crl_body->assign(crl.begin(), crl.end());
  auto ocsp_response = read_file_bytes(file("ocsprevoked.ocsp"));
  ocsp_body->assign(ocsp_response.begin(), ocsp_response.end());
  root = read_file_bytes(file("root.der"));

  const std::vector<std::string> modern = {"-no_tls1", "-no_tls1_1"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  s_server("valid", {"-cert", "valid.crt", "-key", "valid.key", "-cert_chain", "inter.crt", "-alpn",
                     "http/1.1"});
  s_server("ocsp", {"-cert", "valid.crt", "-key", "valid.key", "-cert_chain", "inter.crt",
                    "-status_file", "valid.ocsp"});
  s_server("revoked_staple", {"-cert", "revoked.crt", "-key", "revoked.key", "-cert_chain",
                              "inter.crt", "-status_file", "revoked.ocsp"});
  s_server("expired", {"-cert", "expired.crt", "-key", "expired.key", "-cert_chain", "inter.crt"});
  s_server("future", {"-cert", "future.crt", "-key", "future.key", "-cert_chain", "inter.crt"});
  s_server("self", {"-cert", "self.crt", "-key", "self.key"});
  s_server("incomplete", {"-cert", "valid.crt", "-key", "valid.key"});
  s_server("rsa1024", with({"-cert", "rsa1024.crt", "-key", "rsa1024.key", "-cert_chain",
                            "inter.crt", "-cipher", "DEFAULT@SECLEVEL=0"},
                           modern));
  s_server("sha1", with({"-cert", "sha1.crt", "-key", "sha1.key", "-cert_chain", "inter.crt",
                         "-cipher", "DEFAULT@SECLEVEL=0"},
                        modern));
  s_server("tls1", {"-cert", "valid.crt", "-key", "valid.key", "-cert_chain", "inter.crt", "-tls1",
                    "-cipher", "DEFAULT@SECLEVEL=0"});
  s_server("sni", {"-cert", "a.crt", "-key", "a.key", "-servername", "b.test", "-cert2", "b.crt",
                   "-key2", "b.key"});
  s_server("crl",
           {"-cert", "crlrevoked.crt", "-key", "crlrevoked.key", "-cert_chain", "inter.crt"});
  s_server("ocsp_aia",
           {"-cert", "ocsprevoked.crt", "-key", "ocsprevoked.key", "-cert_chain", "inter.crt"});
  s_server("ip_here", {"-cert", "ip_here.crt", "-key", "ip_here.key", "-cert_chain", "inter.crt"});
  s_server("ip_elsewhere",
           {"-cert", "ip_elsewhere.crt", "-key", "ip_elsewhere.key", "-cert_chain", "inter.crt"});
  s_server("valid6", {"-cert", "valid.crt", "-key", "valid.key", "-cert_chain", "inter.crt"}, true);

  peer("silent", testing::hold);
  peer("garbage", [](int fd, const std::atomic<bool>& stop) {
    testing::write_all(fd, std::string("\x7f\x00garbage that is no TLS record at all\r\n", 40));
    testing::hold(fd, stop);
  });
  peer("http", [](int fd, const std::atomic<bool>& stop) {
    std::string first;
    testing::read_bytes(fd, 1, first, stop);
    testing::write_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });

  using testing::read_bytes;
  using testing::read_line;
  using testing::write_all;
  greeter("smtp", [](int fd, const std::atomic<bool>& stop) {
    std::string line;
    write_all(fd, "220-mail.test ESMTP\r\n220 ready\r\n");
    if (!read_line(fd, line, stop) || !line.starts_with("EHLO ")) return false;
    write_all(fd, "250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
    if (!read_line(fd, line, stop) || line != "STARTTLS\r\n") return false;
    write_all(fd, "220 2.0.0 Ready to start TLS\r\n");
    return true;
  });
  greeter("smtp_refuses", [](int fd, const std::atomic<bool>& stop) {
    std::string line;
    write_all(fd, "220 ready\r\n");
    if (!read_line(fd, line, stop)) return false;
    write_all(fd, "250 mail.test\r\n");
    if (!read_line(fd, line, stop)) return false;
    write_all(fd, "454 4.7.0 TLS not available\r\n");
    testing::hold(fd, stop);
    return false;
  });
  greeter("imap", [](int fd, const std::atomic<bool>& stop) {
    std::string line;
    write_all(fd, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    if (!read_line(fd, line, stop) || line != "a1 STARTTLS\r\n") return false;
    write_all(fd, "* BYE not really\r\na1 OK Begin TLS negotiation now\r\n");
    return true;
  });
  greeter("pop3", [](int fd, const std::atomic<bool>& stop) {
    std::string line;
    write_all(fd, "+OK POP3 ready\r\n");
    if (!read_line(fd, line, stop) || line != "STLS\r\n") return false;
    write_all(fd, "+OK Begin TLS\r\n");
    return true;
  });
  greeter("ftp", [](int fd, const std::atomic<bool>& stop) {
    std::string line;
    write_all(fd, "220-welcome\r\n220 FTP ready\r\n");
    if (!read_line(fd, line, stop) || line != "AUTH TLS\r\n") return false;
    write_all(fd, "234 AUTH TLS successful\r\n");
    return true;
  });
  greeter("ldap", [](int fd, const std::atomic<bool>& stop) {
    std::string request;
    // The StartTLS ExtendedRequest, byte for byte (RFC 4511 4.14.1).
    static const std::string kExpected =
        std::string("\x30\x1d\x02\x01\x01\x77\x18\x80\x16", 9) + "1.3.6.1.4.1.1466.20037";
    if (!read_bytes(fd, kExpected.size(), request, stop) || request != kExpected) return false;
    // ExtendedResponse: success, empty matchedDN and diagnosticMessage, long-form length.
    write_all(fd, std::string("\x30\x81\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00", 15));
    return true;
  });
  greeter("postgres", [](int fd, const std::atomic<bool>& stop) {
    std::string request;
    if (!read_bytes(fd, 8, request, stop) ||
        request != std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8)) {
      return false;
    }
    write_all(fd, "S");
    return true;
  });
  port["closed"] = testing::free_port();
}

class TlsScan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    servers_ = new Servers();
    servers_->start();
  }
  static void TearDownTestSuite() {
    delete servers_;
    servers_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(servers_->failure, ""); }

  static std::uint16_t port(const std::string& name) { return servers_->port.at(name); }

  static ScanOptions options() {
    ScanOptions o;
    o.trusted_roots = {servers_->root};
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.handshake_timeout = std::chrono::milliseconds(2000);
    return o;
  }

  // Scans and returns the observations in the order of `endpoints`.
  static std::vector<Observation> scan(const std::vector<Endpoint>& endpoints,
                                       const ScanOptions& o) {
    NetworkScanner scanner(o);
    std::vector<Observation> got;
    auto status = scanner.scan(endpoints, [&](Observation obs) { got.push_back(std::move(obs)); });
    EXPECT_TRUE(status.has_value());
    EXPECT_EQ(got.size(), endpoints.size());
    std::vector<Observation> ordered;
    for (const auto& e : endpoints) {
      for (auto& obs : got) {
        const Endpoint& seen = std::visit([](const auto& o2) { return o2.endpoint; }, obs);
        if (seen.port == e.port && seen.sni == e.sni && seen.starttls == e.starttls) {
          ordered.push_back(obs);
          break;
        }
      }
    }
    EXPECT_EQ(ordered.size(), endpoints.size());
    return ordered;
  }

  static TlsObservation scan_one(const Endpoint& e, const ScanOptions& o) {
    auto got = scan({e}, o);
    if (got.empty()) return {};
    return std::get<TlsObservation>(got[0]);
  }

  static Servers* servers_;
};

Servers* TlsScan::servers_ = nullptr;

TEST_F(TlsScan, EachEndpointYieldsExactlyItsFindings) {
  struct Case {
    const char* server;
    const char* sni;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"valid", "valid.test", {}},
      {"valid", "", {}},  // an address without a name, and a leaf without IP SANs
      {"valid", "wrong.test", {"hostname_mismatch"}},
      {"ocsp", "valid.test", {}},
      {"revoked_staple", "revoked.test", {"revoked"}},
      {"expired", "expired.test", {"expired"}},
      {"future", "future.test", {"not_yet_valid"}},
      {"self", "self.test", {"self_signed"}},
      {"incomplete", "valid.test", {"incomplete_chain"}},
      {"rsa1024", "weak.test", {"weak_key"}},
      {"sha1", "sha1.test", {"sha1_signature"}},
      {"tls1", "valid.test", {"legacy_protocol"}},
      {"sni", "a.test", {}},
      {"sni", "b.test", {}},
      {"crl", "crl.test", {}},  // revocation is not checked unless asked
      {"ocsp_aia", "ocsp.test", {}},
      // Dialled by address with no name: only a leaf that lists addresses is held to them.
      {"ip_here", "", {}},
      {"ip_elsewhere", "", {"hostname_mismatch"}},
  };
  std::vector<Endpoint> endpoints;
  for (const auto& c : cases) endpoints.push_back(ep(port(c.server), c.sni));
  auto got = scan(endpoints, options());
  ASSERT_EQ(got.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& obs = std::get<TlsObservation>(got[i]);
    SCOPED_TRACE(std::string(cases[i].server) + " sni=" + cases[i].sni);
    EXPECT_FALSE(obs.error.has_value()) << obs.error->message;
    EXPECT_FALSE(obs.chain.empty());
    EXPECT_EQ(codes(obs.findings), cases[i].expected);
  }
}

TEST_F(TlsScan, RecordsTheHandshake) {
  auto obs = scan_one(ep(port("valid"), "valid.test"), options());
  ASSERT_FALSE(obs.error.has_value()) << obs.error->message;
  EXPECT_EQ(obs.chain.size(), 2u);
  EXPECT_EQ(leaf_subject_cn(obs), "valid.test");
  EXPECT_EQ(obs.tls_version, "TLSv1.3");
  EXPECT_EQ(obs.cipher.rfind("TLS_", 0), 0u) << obs.cipher;
  EXPECT_EQ(obs.group, "X25519");
  EXPECT_EQ(obs.alpn, "http/1.1");
  EXPECT_FALSE(obs.ocsp_stapled);
  EXPECT_TRUE(obs.legacy_protocols.empty());

  auto stapled = scan_one(ep(port("ocsp"), "valid.test"), options());
  EXPECT_TRUE(stapled.ocsp_stapled);
  EXPECT_EQ(stapled.alpn, "");
}

TEST_F(TlsScan, LegacyOnlyServerIsRecordedAsSuch) {
  auto obs = scan_one(ep(port("tls1"), "valid.test"), options());
  ASSERT_FALSE(obs.error.has_value()) << obs.error->message;
  EXPECT_EQ(obs.tls_version, "TLSv1");
  EXPECT_EQ(obs.legacy_protocols, std::vector<std::string>{"TLSv1"});
}

TEST_F(TlsScan, LegacyProbeCanBeTurnedOff) {
  // A modern server at security level 0 would also speak TLS 1.0; without the probe nobody asks.
  auto o = options();
  o.probe_legacy = false;
  auto obs = scan_one(ep(port("tls1"), "valid.test"), o);
  EXPECT_EQ(obs.legacy_protocols, std::vector<std::string>{"TLSv1"});  // learned from the main one
  auto modern = scan_one(ep(port("valid"), "valid.test"), o);
  EXPECT_TRUE(modern.legacy_protocols.empty());
}

TEST_F(TlsScan, SniSelectsTheCertificate) {
  auto got =
      scan({ep(port("sni"), "a.test"), ep(port("sni"), "b.test"), ep(port("sni"))}, options());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(leaf_subject_cn(std::get<TlsObservation>(got[0])), "a.test");
  EXPECT_EQ(leaf_subject_cn(std::get<TlsObservation>(got[1])), "b.test");
  EXPECT_EQ(leaf_subject_cn(std::get<TlsObservation>(got[2])), "a.test");
}

TEST_F(TlsScan, ChainNotVerifyingToTheStoreIsUntrusted) {
  auto o = options();
  o.trusted_roots.clear();
  auto obs = scan_one(ep(port("valid"), "valid.test"), o);
  EXPECT_EQ(codes(obs.findings), std::vector<std::string>{"untrusted_chain"});
  // A self-signed leaf is reported as such, not also as untrusted.
  auto self = scan_one(ep(port("self"), "self.test"), o);
  EXPECT_EQ(codes(self.findings), std::vector<std::string>{"self_signed"});
}

TEST_F(TlsScan, RevokedByItsCrlOrOcspResponderWhenRevocationIsChecked) {
  auto o = options();
  o.check_revocation = true;
  auto obs = scan_one(ep(port("crl"), "crl.test"), o);
  EXPECT_EQ(codes(obs.findings), std::vector<std::string>{"revoked"});
  auto ocsp = scan_one(ep(port("ocsp_aia"), "ocsp.test"), o);
  EXPECT_EQ(codes(ocsp.findings), std::vector<std::string>{"revoked"});
  // Not listed: nothing.
  auto valid = scan_one(ep(port("valid"), "valid.test"), o);
  EXPECT_EQ(codes(valid.findings), std::vector<std::string>{});
}

TEST_F(TlsScan, RevocationIsFetchedOnlyFromAddressesTheScanMayDial) {
  // The CRL URL is the served certificate's own say: a server on the scanned network can name
  // any address (a metadata service, an internal admin port) for the scanner to fetch from.
  auto o = options();
  o.check_revocation = true;
  std::vector<std::string> asked;
  o.may_fetch_from = [&asked](const std::string& address) {
    asked.push_back(address);
    return false;
  };
  const int served = servers_->crl_requests->load();
  auto obs = scan_one(ep(port("crl"), "crl.test"), o);
  EXPECT_EQ(codes(obs.findings), std::vector<std::string>{});
  EXPECT_EQ(asked, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(servers_->crl_requests->load(), served) << "the CRL was fetched";
  // Allowed: fetched, as before.
  o.may_fetch_from = [](const std::string& address) { return address == "127.0.0.1"; };
  EXPECT_EQ(codes(scan_one(ep(port("crl"), "crl.test"), o).findings),
            std::vector<std::string>{"revoked"});
}

TEST_F(TlsScan, StarttlsDialogues) {
  std::vector<Endpoint> endpoints;
  for (const char* proto : {"smtp", "imap", "pop3", "ftp", "ldap", "postgres"}) {
    endpoints.push_back(ep(port(proto), "valid.test", proto));
  }
  auto got = scan(endpoints, options());
  ASSERT_EQ(got.size(), endpoints.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& obs = std::get<TlsObservation>(got[i]);
    SCOPED_TRACE(endpoints[i].starttls);
    EXPECT_FALSE(obs.error.has_value()) << obs.error->message;
    EXPECT_EQ(leaf_subject_cn(obs), "valid.test");
    EXPECT_EQ(codes(obs.findings), std::vector<std::string>{});
  }
}

TEST_F(TlsScan, StarttlsRefusedIsAnError) {
  auto obs = scan_one(ep(port("smtp_refuses"), "", "smtp"), options());
  ASSERT_TRUE(obs.error.has_value());
  EXPECT_EQ(obs.error->code, ErrorCode::kUnavailable);
  EXPECT_TRUE(obs.error->message.starts_with("STARTTLS failed")) << obs.error->message;
  EXPECT_TRUE(obs.chain.empty());
  // STARTTLS spoken to a TLS server: it never sends a greeting.
  auto o = options();
  o.handshake_timeout = std::chrono::milliseconds(300);
  auto tls = scan_one(ep(port("valid"), "", "smtp"), o);
  ASSERT_TRUE(tls.error.has_value());
  EXPECT_TRUE(tls.error->message.starts_with("handshake timed out")) << tls.error->message;
}

TEST_F(TlsScan, HostilePeersEndWithinTheTimeouts) {
  auto o = options();
  o.handshake_timeout = std::chrono::milliseconds(400);
  struct Case {
    const char* peer;
    const char* error;
  };
  const std::vector<Case> cases = {{"closed", "connection refused"},
                                   {"silent", "handshake timed out"},
                                   {"garbage", "not TLS"},
                                   {"http", "not TLS"}};
  std::vector<Endpoint> endpoints;
  for (const auto& c : cases) endpoints.push_back(ep(port(c.peer)));
  auto start = SteadyClock::now();
  auto got = scan(endpoints, o);
  EXPECT_LT(SteadyClock::now() - start, std::chrono::milliseconds(1500));
  ASSERT_EQ(got.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& obs = std::get<TlsObservation>(got[i]);
    SCOPED_TRACE(cases[i].peer);
    ASSERT_TRUE(obs.error.has_value());
    EXPECT_EQ(obs.error->code, ErrorCode::kUnavailable);
    EXPECT_TRUE(obs.error->message.starts_with(cases[i].error)) << obs.error->message;
    EXPECT_TRUE(obs.chain.empty());
  }
}

TEST_F(TlsScan, ManyDeadEndpointsDoNotStall) {
  auto o = options();
  o.handshake_timeout = std::chrono::milliseconds(300);
  o.concurrency = 16;
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < 32; ++i) {
    Endpoint silent = ep(port("silent"), "s" + std::to_string(i) + ".test");
    Endpoint closed = ep(port("closed"), "c" + std::to_string(i) + ".test");
    endpoints.push_back(silent);
    endpoints.push_back(closed);
  }
  auto start = SteadyClock::now();
  auto got = scan(endpoints, o);
  // 32 silent endpoints, 16 at a time, 300 ms each: two rounds, with room for a loaded machine.
  EXPECT_LT(SteadyClock::now() - start, std::chrono::milliseconds(2500));
  ASSERT_EQ(got.size(), endpoints.size());
  for (const auto& obs : got) EXPECT_TRUE(std::get<TlsObservation>(obs).error.has_value());
}

TEST_F(TlsScan, CancelEndsTheScanAndReportsEveryEndpoint) {
  auto o = options();
  o.handshake_timeout = std::chrono::seconds(30);
  o.concurrency = 4;
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < 12; ++i) endpoints.push_back(ep(port("silent"), std::to_string(i) + ".test"));
  NetworkScanner scanner(o);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    scanner.cancel();
  });
  std::vector<std::string> errors;
  auto start = SteadyClock::now();
  auto status = scanner.scan(endpoints, [&](Observation obs) {
    const auto& tls = std::get<TlsObservation>(obs);
    errors.push_back(tls.error ? tls.error->message : "");
  });
  canceller.join();
  ASSERT_TRUE(status.has_value());
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(errors, std::vector<std::string>(endpoints.size(), "scan cancelled"));
}

TEST_F(TlsScan, RateLimitSpacesConnections) {
  auto o = options();
  o.rate_limit = 20;
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < 11; ++i) endpoints.push_back(ep(port("closed"), std::to_string(i) + ".test"));
  auto start = SteadyClock::now();
  auto got = scan(endpoints, o);
  // 11 connections at 20/s: the last starts 500 ms after the first.
  EXPECT_GE(SteadyClock::now() - start, std::chrono::milliseconds(480));
  EXPECT_EQ(got.size(), endpoints.size());
}

TEST_F(TlsScan, Ipv6Endpoint) {
  Endpoint e{"::1", "::1", port("valid6"), "valid.test", ""};
  auto obs = scan_one(e, options());
  ASSERT_FALSE(obs.error.has_value()) << obs.error->message;
  EXPECT_EQ(leaf_subject_cn(obs), "valid.test");
  EXPECT_EQ(codes(obs.findings), std::vector<std::string>{});
}

TEST_F(TlsScan, UnresolvedEndpointIsReported) {
  Endpoint e{"nowhere.test", "", 443, "nowhere.test", ""};
  auto obs = scan_one(e, options());
  ASSERT_TRUE(obs.error.has_value());
  EXPECT_EQ(obs.error->code, ErrorCode::kUnavailable);
  EXPECT_TRUE(obs.error->message.starts_with("could not resolve")) << obs.error->message;
}

TEST(NetworkScanner, RejectsBadOptions) {
  ScanOptions o;
  o.concurrency = 0;
  EXPECT_EQ(NetworkScanner::check_options(o).error().code, ErrorCode::kInvalidArgument);
  o = {};
  o.handshake_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(NetworkScanner::check_options(o).error().code, ErrorCode::kInvalidArgument);
  o = {};
  o.trusted_roots = {Bytes{0x30, 0x03, 0x02, 0x01, 0x01}};
  NetworkScanner scanner(o);
  bool called = false;
  auto status = scanner.scan({ep(1)}, [&](Observation) { called = true; });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(called);
}

TEST(NetworkScanner, EmptyScanReturns) {
  NetworkScanner scanner(ScanOptions{});
  EXPECT_TRUE(scanner.scan({}, [](Observation) {}).has_value());
}

}  // namespace
}  // namespace certward::discovery::net
