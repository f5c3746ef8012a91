// The ACME challenge validator (src/protocols/acme/validator.h) against real HTTP, HTTPS, TLS
// and DNS servers started on 127.0.0.1 (and ::1) by each test.

#include "protocols/acme/validator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "unit/acme_validate/validate_servers.h"

namespace certward::protocols::acme {
namespace {

using namespace std::chrono_literals;
using testing::AlpnCertSpec;
using testing::AlpnMode;
using testing::DnsQuery;
using testing::DnsReply;
using testing::HttpAnswer;
using testing::SeenRequest;
using testing::TestDnsServer;
using testing::TestHttpServer;
using testing::TestTlsServer;
using Clock = std::chrono::steady_clock;

const std::string kToken = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const std::string kKeyAuth = kToken + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
const std::string kChallengePath = "/.well-known/acme-challenge/" + kToken;

ValidationRequest request(ChallengeType type, const std::string& identifier_type,
                          const std::string& value) {
  return ValidationRequest{type, identifier_type, value, kToken, kKeyAuth};
}

ValidatorOptions options() {
  ValidatorOptions o;
  o.timeout = 5s;
  o.http_port = testing::unused_tcp_port();
  o.https_port = testing::unused_tcp_port();
  o.tls_alpn_port = testing::unused_tcp_port();
  return o;
}

ValidationResult run(Validator& validator, ValidationRequest req) {
  auto promise = std::make_shared<std::promise<ValidationResult>>();
  auto future = promise->get_future();
  validator.validate(std::move(req),
                     [promise](ValidationResult r) { promise->set_value(std::move(r)); });
  if (future.wait_for(30s) != std::future_status::ready) {
    ADD_FAILURE() << "no result within 30 s";
    return ValidationResult{false, "test: no result", "", {}};
  }
  return future.get();
}

// Answers A (and nothing for AAAA) for every name listed, NXDOMAIN for the others.
TestDnsServer::Handler addresses(std::map<std::string, std::string> a) {
  return [a = std::move(a)](const DnsQuery& q) {
    auto it = a.find(q.name);
    if (it == a.end()) return std::vector<Bytes>{DnsReply(q, DnsRcode::kNxDomain).bytes()};
    DnsReply reply(q);
    if (q.type == DnsType::kA) reply.a(q.name, it->second);
    return std::vector<Bytes>{reply.bytes()};
  };
}

TestHttpServer::Handler serve_token(const std::string& body = kKeyAuth) {
  return [body](const SeenRequest& r) {
    if (r.target == kChallengePath) return HttpAnswer{testing::http_response(200, body)};
    return HttpAnswer{testing::http_response(404, "not here")};
  };
}

// --- http-01 ---

TEST(Http01, ValidForAnIpIdentifierWithTrailingWhitespace) {
  TestHttpServer server(serve_token(kKeyAuth + " \r\n\n"));
  auto o = options();
  o.http_port = server.port();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  EXPECT_EQ(r.problem_type, "");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].url, "http://127.0.0.1" + kChallengePath);
  EXPECT_EQ(r.records[0].hostname, "127.0.0.1");
  EXPECT_EQ(r.records[0].port, server.port());
  EXPECT_EQ(r.records[0].addresses_resolved, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(r.records[0].address_used, "127.0.0.1");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].host, "127.0.0.1");
}

TEST(Http01, ValidForAnIpv6IdentifierInBrackets) {
  TestHttpServer server(serve_token(), "::1");
  auto o = options();
  o.http_port = server.port();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "::1"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].url, "http://[::1]" + kChallengePath);
  EXPECT_EQ(r.records[0].address_used, "::1");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].host, "[::1]");
}

TEST(Http01, ResolvesANameThroughTheResolverAndSendsItAsHost) {
  TestDnsServer dns(addresses({{"example.test", "127.0.0.1"}}));
  TestHttpServer server(serve_token());
  auto o = options();
  o.http_port = server.port();
  o.resolver = dns.address();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "dns", "Example.TEST"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].url, "http://example.test" + kChallengePath);
  EXPECT_EQ(r.records[0].hostname, "example.test");
  EXPECT_EQ(r.records[0].addresses_resolved, std::vector<std::string>{"127.0.0.1"});
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].host, "example.test");
  std::set<DnsType> asked;
  for (const auto& q : dns.queries()) asked.insert(q.type);
  EXPECT_EQ(asked, (std::set<DnsType>{DnsType::kA, DnsType::kAaaa}));
}

TEST(Http01, DialsIpv6FirstThenFallsBackToIpv4) {
  TestDnsServer dns([](const DnsQuery& q) {
    DnsReply reply(q);
    if (q.type == DnsType::kA) reply.a(q.name, "127.0.0.1");
    if (q.type == DnsType::kAaaa) reply.aaaa(q.name, "::1");
    return std::vector<Bytes>{reply.bytes()};
  });
  TestHttpServer server(serve_token());  // IPv4 only: [::1] on this port refuses
  auto o = options();
  o.http_port = server.port();
  o.resolver = dns.address();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "dns", "dual.test"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].addresses_resolved, (std::vector<std::string>{"::1", "127.0.0.1"}));
  EXPECT_EQ(r.records[0].addresses_tried, std::vector<std::string>{"::1"});
  EXPECT_EQ(r.records[0].address_used, "127.0.0.1");
}

TEST(Http01, WrongBodyOrLeadingWhitespaceIsUnauthorized) {
  for (const std::string& body :
       {std::string("wrong"), " " + kKeyAuth, kKeyAuth + "x", std::string()}) {
    TestHttpServer server(serve_token(body));
    auto o = options();
    o.http_port = server.port();
    Validator v(o);
    auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
    EXPECT_FALSE(r.valid) << body;
    EXPECT_EQ(r.problem_type, "unauthorized") << body;
  }
}

TEST(Http01, StatusOtherThan200IsUnauthorized) {
  for (int status : {404, 500, 204, 304}) {
    TestHttpServer server([status](const SeenRequest&) {
      return HttpAnswer{
          testing::http_response(status, status == 204 || status == 304 ? "" : kKeyAuth)};
    });
    auto o = options();
    o.http_port = server.port();
    Validator v(o);
    auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
    EXPECT_FALSE(r.valid) << status;
    EXPECT_EQ(r.problem_type, "unauthorized") << status;
  }
}

TEST(Http01, BodyOverTheLimitIsUnauthorized) {
  std::string big(1024 * 1024, 'a');
  for (const std::string& raw : {testing::http_response(200, big),
                                 // No Content-Length: the body runs until the connection closes.
                                 "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big,
                                 // Just one byte over, as chunks.
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n" +
                                     std::string(1025, 'a') + "\r\n0\r\n\r\n"}) {
    TestHttpServer server([raw](const SeenRequest&) { return HttpAnswer{raw}; });
    auto o = options();
    o.http_port = server.port();
    o.max_body_bytes = 1024;
    Validator v(o);
    auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
    EXPECT_FALSE(r.valid);
    EXPECT_EQ(r.problem_type, "unauthorized") << r.detail;
  }
}

TEST(Http01, FollowsRedirectsToAPathAndToAnotherName) {
  TestDnsServer dns(addresses({{"example.test", "127.0.0.1"}, {"other.test", "127.0.0.1"}}));
  TestHttpServer server([](const SeenRequest& r) {
    if (r.target == kChallengePath) {
      return HttpAnswer{testing::http_response(301, "", "Location: moved?x=1\r\n")};
    }
    if (r.target == "/.well-known/acme-challenge/moved?x=1") {
      return HttpAnswer{
          testing::http_response(307, "", "Location: HTTP://Other.test:80/final#frag\r\n")};
    }
    if (r.target == "/final" && r.host == "other.test") {
      return HttpAnswer{testing::http_response(200, kKeyAuth)};
    }
    return HttpAnswer{testing::http_response(404, "")};
  });
  auto o = options();
  o.http_port = server.port();
  o.resolver = dns.address();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "dns", "example.test"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[1].url, "http://example.test/.well-known/acme-challenge/moved?x=1");
  EXPECT_EQ(r.records[2].url, "http://other.test/final");
  EXPECT_EQ(r.records[2].hostname, "other.test");
}

TEST(Http01, FollowsARedirectToHttpsWithoutVerifyingTheCertificate) {
  TestDnsServer dns(addresses({{"secure.test", "127.0.0.1"}}));
  TestHttpServer plain([](const SeenRequest&) {
    return HttpAnswer{
        testing::http_response(302, "", "Location: https://secure.test/tls-final\r\n")};
  });
  TestHttpServer tls(
      [](const SeenRequest& r) {
        return HttpAnswer{testing::http_response(r.target == "/tls-final" ? 200 : 404, kKeyAuth)};
      },
      "127.0.0.1", /*tls=*/true);
  auto o = options();
  o.http_port = plain.port();
  o.https_port = tls.port();
  o.resolver = dns.address();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].url, "https://secure.test/tls-final");
  EXPECT_EQ(r.records[1].port, tls.port());
  ASSERT_EQ(tls.requests().size(), 1u);
  EXPECT_EQ(tls.requests()[0].sni, "secure.test");
  EXPECT_EQ(tls.requests()[0].host, "secure.test");
}

TEST(Http01, EndlessRedirectsStopAtTheLimit) {
  TestHttpServer server([](const SeenRequest& r) {
    return HttpAnswer{testing::http_response(302, "", "Location: " + r.target + "x\r\n")};
  });
  auto o = options();
  o.http_port = server.port();
  o.max_redirects = 3;
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "connection");
  EXPECT_EQ(r.records.size(), 4u);
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(Http01, RedirectLoopIsDetected) {
  TestHttpServer server([](const SeenRequest& r) {
    std::string next = r.target == kChallengePath ? "/b" : kChallengePath;
    return HttpAnswer{testing::http_response(308, "", "Location: " + next + "\r\n")};
  });
  auto o = options();
  o.http_port = server.port();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "connection");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(Http01, RedirectToAnotherSchemePortOrBadUrlIsRefused) {
  for (std::string location :
       {"ftp://127.0.0.1/x", "http://127.0.0.1:8080/x", "https://127.0.0.1:8443/x",
        "http://user@127.0.0.1/x", "http://bad_host/x", "javascript:alert(1)", "/a b",
        "http://[::1/x", "http://127.1/x"}) {
    TestHttpServer server([location](const SeenRequest& r) {
      if (r.target != kChallengePath) return HttpAnswer{testing::http_response(200, kKeyAuth)};
      return HttpAnswer{testing::http_response(302, "", "Location: " + location + "\r\n")};
    });
    auto o = options();
    o.http_port = server.port();
    Validator v(o);
    auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
    EXPECT_FALSE(r.valid) << location;
    EXPECT_EQ(r.problem_type, "connection") << location;
    EXPECT_EQ(server.requests().size(), 1u) << location;
  }
}

TEST(Http01, SlowServerTimesOut) {
  TestHttpServer server([](const SeenRequest&) {
    return HttpAnswer{testing::http_response(200, kKeyAuth), 5s};
  });
  auto o = options();
  o.http_port = server.port();
  o.timeout = 500ms;
  Validator v(o);
  auto start = Clock::now();
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "connection");
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST(Http01, RefusedConnectionIsAConnectionProblem) {
  Validator v(options());  // nothing listens on http_port
  auto r = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "connection");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].addresses_tried, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(r.records[0].address_used, "");
}

TEST(Http01, NxDomainOrNoAddressOrDeadResolverIsADnsProblem) {
  TestDnsServer dns([](const DnsQuery& q) {
    if (q.name == "empty.test") return std::vector<Bytes>{DnsReply(q).bytes()};
    if (q.name == "fail.test") {
      return std::vector<Bytes>{DnsReply(q, DnsRcode::kServFail).bytes()};
    }
    return std::vector<Bytes>{DnsReply(q, DnsRcode::kNxDomain).bytes()};
  });
  TestHttpServer server(serve_token());
  auto o = options();
  o.http_port = server.port();
  o.resolver = dns.address();
  Validator v(o);
  for (const char* name : {"gone.test", "empty.test", "fail.test"}) {
    auto r = run(v, request(ChallengeType::kHttp01, "dns", name));
    EXPECT_FALSE(r.valid) << name;
    EXPECT_EQ(r.problem_type, "dns") << name;
  }
  testing::SilentUdp silent;
  o.resolver = "127.0.0.1:" + std::to_string(silent.port());
  o.timeout = 600ms;
  Validator deaf(o);
  auto r = run(deaf, request(ChallengeType::kHttp01, "dns", "example.test"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "dns");
  EXPECT_TRUE(server.requests().empty());
}

TEST(Http01, PrivateAddressesAreRefusedWhenNotAllowed) {
  TestDnsServer dns(addresses({{"inside.test", "127.0.0.1"}}));
  TestHttpServer server(serve_token());
  auto o = options();
  o.http_port = server.port();
  o.resolver = dns.address();
  o.allow_private_addresses = false;
  Validator v(o);
  auto ip = run(v, request(ChallengeType::kHttp01, "ip", "127.0.0.1"));
  EXPECT_FALSE(ip.valid);
  EXPECT_EQ(ip.problem_type, "rejectedIdentifier");
  auto name = run(v, request(ChallengeType::kHttp01, "dns", "inside.test"));
  EXPECT_FALSE(name.valid);
  EXPECT_EQ(name.problem_type, "dns");
  EXPECT_TRUE(server.requests().empty());
}

TEST(Http01, UnusableRequestsAreMalformed) {
  TestHttpServer server(serve_token());
  auto o = options();
  o.http_port = server.port();
  Validator v(o);
  auto bad_token = request(ChallengeType::kHttp01, "ip", "127.0.0.1");
  bad_token.token = "../../etc/passwd";
  auto wildcard = request(ChallengeType::kHttp01, "dns", "*.example.test");
  auto bad_ip = request(ChallengeType::kHttp01, "ip", "127.1");
  auto bad_name = request(ChallengeType::kHttp01, "dns", "-bad.test");
  auto ip_as_name = request(ChallengeType::kHttp01, "dns", "127.0.0.1");
  auto other_type = request(ChallengeType::kHttp01, "email", "a@example.test");
  auto dns01_ip = request(ChallengeType::kDns01, "ip", "127.0.0.1");
  for (const auto& req :
       {bad_token, wildcard, bad_ip, bad_name, ip_as_name, other_type, dns01_ip}) {
    auto r = run(v, req);
    EXPECT_FALSE(r.valid) << req.identifier_value;
    EXPECT_EQ(r.problem_type, "malformed") << req.identifier_value;
  }
  EXPECT_TRUE(server.requests().empty());
}

// --- dns-01 ---

TestDnsServer::Handler txt_records(std::vector<std::vector<std::string>> records,
                                   DnsRcode rcode = DnsRcode::kNoError) {
  return [records = std::move(records), rcode](const DnsQuery& q) {
    DnsReply reply(q, rcode);
    if (q.name == "_acme-challenge.example.test" && q.type == DnsType::kTxt) {
      for (const auto& strings : records) reply.txt(q.name, strings);
    }
    return std::vector<Bytes>{reply.bytes()};
  };
}

ValidationResult run_dns01(const TestDnsServer& dns, const std::string& identifier,
                           std::chrono::milliseconds timeout = 5s) {
  auto o = options();
  o.resolver = dns.address();
  o.timeout = timeout;
  Validator v(o);
  return run(v, request(ChallengeType::kDns01, "dns", identifier));
}

TEST(Dns01, ValidWhenOneRecordsStringsMakeTheDigest) {
  std::string want = dns01_txt_value(kKeyAuth);
  EXPECT_EQ(want.size(), 43u);  // 32 octets, base64url without padding
  EXPECT_EQ(want.find_first_of("+/="), std::string::npos);
  TestDnsServer dns(txt_records({{"unrelated"}, {want.substr(0, 20), want.substr(20)}}));
  auto r = run_dns01(dns, "example.test");
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].hostname, "_acme-challenge.example.test");
}

TEST(Dns01, KnownDigestValue) {
  // RFC 8555 8.4: base64url(SHA-256("token.thumbprint")); computed independently with
  // printf %s "$KEYAUTH" | openssl dgst -sha256 -binary | basenc --base64url | tr -d =.
  EXPECT_EQ(dns01_txt_value("a.b"), "LnM23I66h-9HLfVow1SCq_JXXcPl6sDFxiuP-urCyTQ");
}

TEST(Dns01, WildcardAsksForTheBaseName) {
  TestDnsServer dns(txt_records({{dns01_txt_value(kKeyAuth)}}));
  auto r = run_dns01(dns, "*.Example.test");
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  ASSERT_FALSE(dns.queries().empty());
  EXPECT_EQ(dns.queries()[0].name, "_acme-challenge.example.test");
}

TEST(Dns01, FollowsACname) {
  std::string want = dns01_txt_value(kKeyAuth);
  TestDnsServer dns([want](const DnsQuery& q) {
    DnsReply reply(q);
    if (q.name == "_acme-challenge.example.test") {
      reply.cname(q.name, "example.test.acme-delegate.test");
    } else if (q.name == "example.test.acme-delegate.test") {
      reply.txt(q.name, {want});
    }
    return std::vector<Bytes>{reply.bytes()};
  });
  auto r = run_dns01(dns, "example.test");
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  EXPECT_EQ(dns.queries().size(), 2u);
}

TEST(Dns01, MissingOrWrongTxtIsUnauthorized) {
  TestDnsServer nxdomain(txt_records({}, DnsRcode::kNxDomain));
  TestDnsServer empty(txt_records({}));
  TestDnsServer wrong(txt_records({{"abc"}, {dns01_txt_value(kKeyAuth + "x")}}));
  TestDnsServer padded(txt_records({{dns01_txt_value(kKeyAuth) + "="}}));
  for (const TestDnsServer* dns : {&nxdomain, &empty, &wrong, &padded}) {
    auto r = run_dns01(*dns, "example.test");
    EXPECT_FALSE(r.valid);
    EXPECT_EQ(r.problem_type, "unauthorized") << r.detail;
  }
}

TEST(Dns01, ResolverFailuresAreDnsProblems) {
  TestDnsServer servfail(txt_records({}, DnsRcode::kServFail));
  TestDnsServer refused(txt_records({}, DnsRcode::kRefused));
  TestDnsServer garbage([](const DnsQuery& q) {
    Bytes b = DnsReply(q).txt(q.name, {dns01_txt_value(kKeyAuth)}).bytes();
    b[b.size() - 44] = 0xff;  // the TXT string's length now runs past the RDATA
    return std::vector<Bytes>{b};
  });
  TestDnsServer silent([](const DnsQuery&) { return std::vector<Bytes>{}; });
  for (const TestDnsServer* dns : {&servfail, &refused, &garbage, &silent}) {
    auto start = Clock::now();
    auto r = run_dns01(*dns, "example.test", 900ms);
    EXPECT_FALSE(r.valid);
    EXPECT_EQ(r.problem_type, "dns") << r.detail;
    EXPECT_LT(Clock::now() - start, 3s);
  }
  EXPECT_EQ(garbage.udp_queries(), 1);
}

TEST(Dns01, TruncatedAnswerIsAskedAgainOverTcp) {
  std::string want = dns01_txt_value(kKeyAuth);
  TestDnsServer dns([want](const DnsQuery& q) {
    if (!q.tcp) return std::vector<Bytes>{DnsReply(q).truncated().bytes()};
    DnsReply reply(q);
    for (int i = 0; i < 40; ++i) reply.txt(q.name, {std::string(200, 'x')});
    reply.txt(q.name, {want});
    return std::vector<Bytes>{reply.bytes()};
  });
  auto r = run_dns01(dns, "example.test");
  EXPECT_TRUE(r.valid) << r.problem_type << ": " << r.detail;
  EXPECT_EQ(dns.tcp_queries(), 1);
}

// --- tls-alpn-01 ---

testing::KeyAndCert alpn_cert(std::vector<std::pair<int, std::string>> sans) {
  AlpnCertSpec spec;
  spec.sans = std::move(sans);
  spec.key_authorization = kKeyAuth;
  return testing::make_alpn_cert(spec);
}

struct AlpnRun {
  ValidationResult result;
  std::vector<testing::SeenHandshake> handshakes;
};

AlpnRun run_alpn(testing::KeyAndCert cert, AlpnMode mode, const std::string& identifier_type,
                 const std::string& identifier) {
  TestDnsServer dns(addresses({{"example.test", "127.0.0.1"}}));
  TestTlsServer server(std::move(cert), mode);
  auto o = options();
  o.tls_alpn_port = server.port();
  o.resolver = dns.address();
  Validator v(o);
  auto r = run(v, request(ChallengeType::kTlsAlpn01, identifier_type, identifier));
  return {std::move(r), server.handshakes()};
}

TEST(TlsAlpn01, ValidForANameWithSniAndOnlyAcmeTls1Offered) {
  auto run =
      run_alpn(alpn_cert({{GEN_DNS, "example.test"}}), AlpnMode::kAcme, "dns", "example.test");
  EXPECT_TRUE(run.result.valid) << run.result.problem_type << ": " << run.result.detail;
  ASSERT_EQ(run.handshakes.size(), 1u);
  EXPECT_EQ(run.handshakes[0].sni, "example.test");
  EXPECT_EQ(run.handshakes[0].offered_alpn, std::vector<std::string>{"acme-tls/1"});
  ASSERT_EQ(run.result.records.size(), 1u);
  EXPECT_EQ(run.result.records[0].hostname, "example.test");
  EXPECT_EQ(run.result.records[0].address_used, "127.0.0.1");
}

TEST(TlsAlpn01, ValidForAnIpWithTheReverseNameAsSni) {
  auto run = run_alpn(alpn_cert({{GEN_IPADD, "127.0.0.1"}}), AlpnMode::kAcme, "ip", "127.0.0.1");
  EXPECT_TRUE(run.result.valid) << run.result.problem_type << ": " << run.result.detail;
  ASSERT_EQ(run.handshakes.size(), 1u);
  EXPECT_EQ(run.handshakes[0].sni, "1.0.0.127.in-addr.arpa");
}

TEST(TlsAlpn01, AlpnNotSelectedIsRefused) {
  auto cert = [] { return alpn_cert({{GEN_DNS, "example.test"}}); };
  auto none = run_alpn(cert(), AlpnMode::kNone, "dns", "example.test");
  EXPECT_FALSE(none.result.valid);
  EXPECT_EQ(none.result.problem_type, "unauthorized") << none.result.detail;
  // Selecting a protocol that was not offered, or an alert, fails the handshake itself.
  for (AlpnMode mode : {AlpnMode::kOther, AlpnMode::kFatal}) {
    auto run = run_alpn(cert(), mode, "dns", "example.test");
    EXPECT_FALSE(run.result.valid);
    EXPECT_EQ(run.result.problem_type, "tls") << run.result.detail;
  }
}

TEST(TlsAlpn01, CertificateWithoutExactlyTheIdentifierIsRefused) {
  for (const auto& sans : std::vector<std::vector<std::pair<int, std::string>>>{
           {{GEN_DNS, "example.test"}, {GEN_DNS, "other.test"}},
           {{GEN_DNS, "other.test"}},
           {{GEN_IPADD, "127.0.0.1"}},
           {}}) {
    auto run = run_alpn(alpn_cert(sans), AlpnMode::kAcme, "dns", "example.test");
    EXPECT_FALSE(run.result.valid) << sans.size();
    EXPECT_EQ(run.result.problem_type, "unauthorized") << run.result.detail;
  }
  auto ip = run_alpn(alpn_cert({{GEN_IPADD, "127.0.0.2"}}), AlpnMode::kAcme, "ip", "127.0.0.1");
  EXPECT_FALSE(ip.result.valid);
  EXPECT_EQ(ip.result.problem_type, "unauthorized");
}

TEST(TlsAlpn01, AcmeIdentifierMustBeCriticalDerAndTheRightHash) {
  auto spec = [] {
    AlpnCertSpec s;
    s.sans = {{GEN_DNS, "example.test"}};
    s.key_authorization = kKeyAuth;
    return s;
  };
  Bytes digest = crypto::sha256(as_bytes(kKeyAuth));
  Bytes long_form = {0x04, 0x81, 0x20};  // BER: a length that DER writes in one octet
  long_form.insert(long_form.end(), digest.begin(), digest.end());
  Bytes trailing = {0x04, 0x20};
  trailing.insert(trailing.end(), digest.begin(), digest.end());
  trailing.push_back(0);

  std::vector<AlpnCertSpec> bad(6, spec());
  bad[0].critical = false;
  bad[1].key_authorization = kKeyAuth + "x";
  bad[2].acme_extension = false;
  bad[3].acme_value = long_form;
  bad[4].acme_value = trailing;
  bad[5].acme_value = Bytes(digest.begin(), digest.end());  // not wrapped in an OCTET STRING
  for (std::size_t i = 0; i < bad.size(); ++i) {
    auto run = run_alpn(testing::make_alpn_cert(bad[i]), AlpnMode::kAcme, "dns", "example.test");
    EXPECT_FALSE(run.result.valid) << i;
    EXPECT_EQ(run.result.problem_type, "unauthorized") << i << ": " << run.result.detail;
  }
}

TEST(TlsAlpn01, NoTlsServerIsAConnectionOrTlsProblem) {
  auto o = options();
  Validator refused(o);
  auto r = run(refused, request(ChallengeType::kTlsAlpn01, "ip", "127.0.0.1"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "connection");

  testing::BannerServer plain("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  o.tls_alpn_port = plain.port();
  Validator not_tls(o);
  auto p = run(not_tls, request(ChallengeType::kTlsAlpn01, "ip", "127.0.0.1"));
  EXPECT_FALSE(p.valid);
  EXPECT_EQ(p.problem_type, "tls");
}

// --- The validator as a whole ---

TEST(Validator, HundredSlowValidationsRunConcurrentlyOnOneThread) {
  TestHttpServer server([](const SeenRequest&) {
    return HttpAnswer{testing::http_response(200, kKeyAuth), 1s};
  });
  auto o = options();
  o.http_port = server.port();
  o.threads = 1;
  o.timeout = 20s;
  Validator v(o);

  constexpr int kCount = 100;
  std::mutex mu;
  std::set<std::thread::id> threads;
  int valid = 0;
  std::promise<void> all_done;
  int left = kCount;
  auto start = Clock::now();
  for (int i = 0; i < kCount; ++i) {
    v.validate(request(ChallengeType::kHttp01, "ip", "127.0.0.1"), [&](ValidationResult r) {
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
      valid += r.valid ? 1 : 0;
      if (--left == 0) all_done.set_value();
    });
  }
  auto issued = Clock::now() - start;
  ASSERT_EQ(all_done.get_future().wait_for(15s), std::future_status::ready);
  auto elapsed = Clock::now() - start;

  EXPECT_LT(issued, 1s);  // validate() never waits for the peer
  EXPECT_EQ(valid, kCount);
  // One at a time would take 100 s; together, about the one second each takes.
  EXPECT_LT(elapsed, 8s);
  EXPECT_GE(server.max_concurrent(), kCount / 2);
  std::lock_guard lock(mu);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(Validator, StopEndsPendingValidationsAtOnce) {
  TestHttpServer server([](const SeenRequest&) {
    return HttpAnswer{testing::http_response(200, kKeyAuth), 20s};
  });
  auto o = options();
  o.http_port = server.port();
  o.timeout = 30s;
  Validator v(o);
  std::vector<std::future<ValidationResult>> results;
  for (int i = 0; i < 3; ++i) {
    auto promise = std::make_shared<std::promise<ValidationResult>>();
    results.push_back(promise->get_future());
    v.validate(request(ChallengeType::kHttp01, "ip", "127.0.0.1"),
               [promise](ValidationResult r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i < 200 && server.requests().size() < 3; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server.requests().size(), 3u);
  auto start = Clock::now();
  v.stop();
  EXPECT_LT(Clock::now() - start, 2s);
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
    auto r = f.get();
    EXPECT_FALSE(r.valid);
    EXPECT_EQ(r.problem_type, "connection");
  }
  // After stop: answered at once, on this thread.
  std::thread::id ran_on;
  ValidationResult late;
  v.validate(request(ChallengeType::kHttp01, "ip", "127.0.0.1"), [&](ValidationResult r) {
    ran_on = std::this_thread::get_id();
    late = std::move(r);
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(late.problem_type, "connection");
  v.stop();  // idempotent
}

TEST(Validator, BadOptionsAreReportedAndAnsweredWithServerInternal) {
  ValidatorOptions o;
  o.resolver = "not an address";
  auto checked = Validator::check_options(o);
  ASSERT_FALSE(checked.has_value());
  EXPECT_EQ(checked.error().code, ErrorCode::kInvalidArgument);
  Validator v(o);
  auto r = run(v, request(ChallengeType::kDns01, "dns", "example.test"));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.problem_type, "serverInternal");

  ValidatorOptions zero;
  zero.timeout = 0s;
  EXPECT_FALSE(Validator::check_options(zero).has_value());
  EXPECT_TRUE(Validator::check_options(ValidatorOptions{}).has_value());
}

}  // namespace
}  // namespace certward::protocols::acme
