// Scan requests into endpoints: the grammar, the groups, SNI fan-out and the cap that stops an
// oversized request before anything is resolved or dialled. Names resolve through a fake, so
// these tests never touch DNS.

#include "discovery/net/targets.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

namespace certward::discovery::net {
namespace {

std::vector<std::uint16_t> ports_of(const std::vector<PortSpec>& specs) {
  std::vector<std::uint16_t> out;
  for (const auto& p : specs) out.push_back(p.port);
  return out;
}

struct FakeResolver {
  std::map<std::string, std::vector<std::string>> names;
  int calls = 0;
  Resolver fn() {
    return [this](const std::string& host) -> Result<std::vector<std::string>> {
      ++calls;
      auto it = names.find(host);
      if (it == names.end()) return fail(ErrorCode::kNotFound, "no such name");
      return it->second;
    };
  }
};

Result<std::vector<Endpoint>> expand_one(std::string target, std::string ports = "tls",
                                         std::vector<std::string> sni = {}) {
  FakeResolver r;
  r.names["www.example.com"] = {"192.0.2.10", "2001:db8::10"};
  ScanRequest req;
  req.targets = {std::move(target)};
  req.ports = std::move(ports);
  req.sni = std::move(sni);
  return expand(req, r.fn());
}

TEST(ParsePorts, ListsRangesAndProtocols) {
  auto p = parse_ports("443,8443,10000-10002,25/smtp,5432/postgres");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(ports_of(*p), (std::vector<std::uint16_t>{443, 8443, 10000, 10001, 10002, 25, 5432}));
  EXPECT_EQ((*p)[5].protocol, "smtp");
  EXPECT_EQ((*p)[6].protocol, "postgres");
  EXPECT_EQ((*p)[0].protocol, "");
}

TEST(ParsePorts, WellKnownPortsImplyTheirProtocolUnlessTlsIsAsked) {
  auto p = parse_ports("25,22,389/tls");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ((*p)[0], (PortSpec{25, "smtp"}));
  EXPECT_EQ((*p)[1], (PortSpec{22, "ssh"}));
  EXPECT_EQ((*p)[2], (PortSpec{389, ""}));
}

TEST(ParsePorts, NamedGroups) {
  auto tls = parse_ports("tls");
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(ports_of(*tls), (std::vector<std::uint16_t>{443, 465, 636, 853, 989, 990, 992, 993, 994,
                                                        995, 5061, 6443, 8443, 9443}));
  auto mail = parse_ports("MAIL");
  ASSERT_TRUE(mail.has_value());
  EXPECT_EQ(*mail, (std::vector<PortSpec>{{25, "smtp"},
                                          {587, "smtp"},
                                          {465, ""},
                                          {143, "imap"},
                                          {993, ""},
                                          {110, "pop3"},
                                          {995, ""}}));
  auto rest = parse_ports("ldap,ftp,postgres,ssh");
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(
      *rest,
      (std::vector<PortSpec>{
          {389, "ldap"}, {636, ""}, {21, "ftp"}, {990, ""}, {5432, "postgres"}, {22, "ssh"}}));
}

TEST(ParsePorts, DuplicatesCollapse) {
  auto p = parse_ports("443,tls,443");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->size(), 14u);
}

TEST(ParsePorts, EveryPortIsQuick) {
  // Duplicates used to be found by a linear search per port: 65535 ports took seconds.
  auto start = std::chrono::steady_clock::now();
  auto all = parse_ports("1-65535,443");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 65535u);
  ScanRequest req;
  req.targets = {"10.0.0.0/8"};
  req.ports = "1-65535";
  EXPECT_EQ(expand(req, FakeResolver{}.fn()).error().code, ErrorCode::kInvalidArgument);
}

TEST(ParsePorts, RejectsBadSpecs) {
  for (const char* bad : {"", ",", "443,", "0", "65536", "99999999999", "-1", "10-5", "abc",
                          "443/http", "443/", "/smtp", "1-", "1--2", "44 3", "0443x"}) {
    auto p = parse_ports(bad);
    ASSERT_FALSE(p.has_value()) << bad;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(Expand, HostNameResolvesAndSendsItselfAsSni) {
  auto e = expand_one("WWW.Example.com.", "443");
  ASSERT_TRUE(e.has_value()) << e.error().message;
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].host, "www.example.com");
  EXPECT_EQ((*e)[0].address, "192.0.2.10");
  EXPECT_EQ((*e)[0].sni, "www.example.com");
  EXPECT_EQ((*e)[1].address, "2001:db8::10");
  EXPECT_EQ((*e)[1].port, 443);
}

TEST(Expand, UnresolvableNameIsKeptWithoutAddress) {
  auto e = expand_one("nowhere.example", "443");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].address, "");
  EXPECT_EQ((*e)[0].host, "nowhere.example");
}

TEST(Expand, HostPortOverridesTheDefaultPorts) {
  auto e = expand_one("www.example.com:25/smtp", "tls");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].port, 25);
  EXPECT_EQ((*e)[0].starttls, "smtp");
}

TEST(Expand, Ipv6BareAndBracketed) {
  auto bare = expand_one("::1", "443");
  ASSERT_TRUE(bare.has_value());
  ASSERT_EQ(bare->size(), 1u);
  EXPECT_EQ((*bare)[0].address, "::1");
  EXPECT_EQ((*bare)[0].sni, "");

  auto bracketed = expand_one("[0:0::1]:8443", "443");
  ASSERT_TRUE(bracketed.has_value());
  ASSERT_EQ(bracketed->size(), 1u);
  EXPECT_EQ((*bracketed)[0].address, "::1");
  EXPECT_EQ((*bracketed)[0].port, 8443);
}

TEST(Expand, AddressWithSniListGivesOneEndpointPerNamePlusOneWithout) {
  auto e = expand_one("127.0.0.1:443", "tls", {"a.example", "B.example"});
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].sni, "a.example");
  EXPECT_EQ((*e)[1].sni, "b.example");
  EXPECT_EQ((*e)[2].sni, "");
  // SSH has no SNI: one endpoint however many names.
  auto ssh = expand_one("127.0.0.1", "ssh", {"a.example", "b.example"});
  ASSERT_TRUE(ssh.has_value());
  ASSERT_EQ(ssh->size(), 1u);
  EXPECT_EQ((*ssh)[0].starttls, "ssh");
}

TEST(Expand, Ipv4CidrCoversEveryAddressAndMasksHostBits) {
  auto e = expand_one("10.0.0.5/30", "443");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 4u);
  EXPECT_EQ((*e)[0].address, "10.0.0.4");
  EXPECT_EQ((*e)[3].address, "10.0.0.7");
  auto wrap = expand_one("10.0.0.255/31", "443");
  ASSERT_TRUE(wrap.has_value());
  EXPECT_EQ((*wrap)[1].address, "10.0.0.255");
}

TEST(Expand, Ipv6CidrCarriesAcrossBytes) {
  auto e = expand_one("2001:db8::fe/126", "443,8443");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 8u);
  EXPECT_EQ((*e)[0].address, "2001:db8::fc");
  EXPECT_EQ((*e)[6].address, "2001:db8::ff");
  auto carry = expand_one("2001:db8::/119", "443");
  ASSERT_TRUE(carry.has_value());
  ASSERT_EQ(carry->size(), 512u);
  EXPECT_EQ((*carry)[255].address, "2001:db8::ff");
  EXPECT_EQ((*carry)[256].address, "2001:db8::100");
}

TEST(Expand, DuplicatesAreDroppedInOrder) {
  ScanRequest req;
  req.targets = {"127.0.0.1:443", "127.0.0.0/31", "127.0.0.1"};
  req.ports = "443";
  auto e = expand(req, FakeResolver{}.fn());
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].address, "127.0.0.1");
  EXPECT_EQ((*e)[1].address, "127.0.0.0");
}

TEST(Expand, CapRefusesBeforeResolving) {
  FakeResolver r;
  r.names["www.example.com"] = {"192.0.2.10"};
  ScanRequest req;
  req.targets = {"www.example.com", "10.0.0.0/8"};
  req.ports = "443";
  auto e = expand(req, r.fn());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.calls, 0);

  req.targets = {"::/0"};
  EXPECT_EQ(expand(req, r.fn()).error().code, ErrorCode::kInvalidArgument);

  // Exactly at the cap is allowed; one over is not. SNI fan-out counts.
  req.targets = {"10.0.0.0/24"};
  req.ports = "443,8443";
  req.sni = {"a.example"};
  req.max_endpoints = 1024;
  auto at = expand(req, r.fn());
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->size(), 1024u);
  req.max_endpoints = 1023;
  EXPECT_EQ(expand(req, r.fn()).error().code, ErrorCode::kInvalidArgument);
}

TEST(Expand, CapCountsWhatNamesResolveTo) {
  FakeResolver r;
  r.names["many.example"] = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
  ScanRequest req;
  req.targets = {"many.example"};
  req.ports = "443";
  req.max_endpoints = 2;
  auto e = expand(req, r.fn());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
}

TEST(Expand, RejectsBadTargets) {
  for (const char* bad : {"",
                          " ",
                          "host:",
                          "host:0",
                          "host:99999",
                          "[::1",
                          "[::1]x",
                          "[::1]:",
                          "[host]:443",
                          "10.0.0.0/33",
                          "::/129",
                          "10.0.0.0/",
                          "10.0.0.0/x",
                          "10.1.2",
                          "1.2.3.4.5",
                          "-bad.example",
                          "bad-.example",
                          "a..example",
                          "exa mple.com",
                          "ex@mple.com",
                          "fe80::1%eth0",
                          "::1:::",
                          "host:443:1",
                          "10.0.0.0/8/8"}) {
    auto e = expand_one(bad, "443");
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(expand_one("127.0.0.1", "443", {"bad name"}).error().code, ErrorCode::kInvalidArgument);
  ScanRequest none;
  EXPECT_EQ(expand(none, FakeResolver{}.fn()).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::discovery::net
