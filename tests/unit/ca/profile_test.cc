#include "ca/profile.h"

#include <gtest/gtest.h>

#include <set>

#include "x509/names.h"

namespace certward::ca {
namespace {

using crypto::KeyType;
using std::chrono::days;
using x509::SanType;
using x509::SubjectAltName;

const Profile& find(const ProfileSet& set, std::string_view name) {
  auto p = set.find(name);
  CW_CHECK(p.has_value());
  return **p;
}

ProfileSet builtins() {
  auto s = ProfileSet::create({});
  CW_CHECK(s.has_value());
  return std::move(*s);
}

TEST(ProfileSet, BuiltinsArePresent) {
  const ProfileSet set = builtins();
  std::set<std::string> names;
  for (const auto& p : set.all()) names.insert(p.name);
  EXPECT_EQ(names,
            (std::set<std::string>{"tls-server", "tls-client", "code-signing", "smime", "device",
                                   "intermediate-ca", "ocsp-responder", "protocol-ra"}));
  auto missing = set.find("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(ProfileSet, TlsServerBuiltin) {
  const ProfileSet set = builtins();
  const Profile& p = find(set, "tls-server");
  EXPECT_EQ(p.key_types,
            (std::vector<KeyType>{KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048,
                                  KeyType::kRsa3072, KeyType::kRsa4096}));
  EXPECT_EQ(p.default_validity, days(90));
  EXPECT_EQ(p.max_validity, days(398));
  EXPECT_EQ(p.key_usage, std::vector<std::string>{"digitalSignature"});
  EXPECT_EQ(p.extended_key_usage, std::vector<std::string>{"serverAuth"});
  EXPECT_TRUE(p.allowed_domains.empty());
  EXPECT_TRUE(p.allow_wildcards);
  EXPECT_TRUE(p.allow_ip_sans);
  EXPECT_FALSE(p.allow_email_sans);
  EXPECT_FALSE(p.allow_uri_sans);
  EXPECT_TRUE(p.require_san);
  EXPECT_FALSE(p.requires_approval);
  EXPECT_FALSE(p.ca);
  EXPECT_FALSE(p.path_length.has_value());
  EXPECT_EQ(p.subject_template, "CN={cn}");
}

TEST(ProfileSet, OtherBuiltins) {
  const ProfileSet set = builtins();
  const Profile& client = find(set, "tls-client");
  EXPECT_EQ(client.extended_key_usage, std::vector<std::string>{"clientAuth"});
  EXPECT_FALSE(client.allow_wildcards);
  EXPECT_TRUE(client.allow_email_sans);
  EXPECT_TRUE(client.allow_uri_sans);
  EXPECT_FALSE(client.require_san);

  const Profile& code = find(set, "code-signing");
  EXPECT_EQ(code.extended_key_usage, std::vector<std::string>{"codeSigning"});
  EXPECT_EQ(code.max_validity, days(1095));
  EXPECT_FALSE(code.allows_key(crypto::KeyInfo{crypto::KeyAlgorithm::kRsa, 2048, ""}));
  EXPECT_TRUE(code.allows_key(crypto::KeyInfo{crypto::KeyAlgorithm::kRsa, 3072, ""}));

  const Profile& smime = find(set, "smime");
  EXPECT_EQ(smime.extended_key_usage, std::vector<std::string>{"emailProtection"});
  EXPECT_TRUE(smime.allow_email_sans);
  EXPECT_TRUE(smime.require_san);

  const Profile& device = find(set, "device");
  EXPECT_TRUE(device.allows_key(crypto::KeyInfo{crypto::KeyAlgorithm::kEd25519, 256, ""}));
  EXPECT_EQ(device.extended_key_usage, (std::vector<std::string>{"clientAuth", "serverAuth"}));
  EXPECT_EQ(device.max_validity, days(1825));

  const Profile& ica = find(set, "intermediate-ca");
  EXPECT_TRUE(ica.ca);
  EXPECT_EQ(ica.path_length, 0);
  EXPECT_EQ(ica.key_usage,
            (std::vector<std::string>{"digitalSignature", "keyCertSign", "cRLSign"}));
  EXPECT_TRUE(ica.extended_key_usage.empty());
  EXPECT_EQ(ica.max_validity, days(3650));
}

TEST(ProfileSet, OverridesFieldByField) {
  ProfileSettings s;
  s.name = "tls-server";
  s.description = "Our web servers";
  s.key_types = std::vector<std::string>{"ec-p384"};
  s.default_validity = days(7);
  s.max_validity = days(30);
  s.allowed_domains = std::vector<std::string>{"Example.COM", ".corp.example"};
  s.allowed_ip_ranges = std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"};
  s.allow_wildcards = false;
  s.policy_oids = std::vector<std::string>{"2.23.140.1.2.1"};
  auto set = ProfileSet::create(std::vector<ProfileSettings>{s});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->all().size(), 8u);
  const Profile& p = find(*set, "tls-server");
  EXPECT_EQ(p.description, "Our web servers");
  EXPECT_EQ(p.key_types, std::vector<KeyType>{KeyType::kEcP384});
  EXPECT_EQ(p.default_validity, days(7));
  EXPECT_EQ(p.max_validity, days(30));
  EXPECT_EQ(p.allowed_domains, (std::vector<std::string>{"example.com", "corp.example"}));
  ASSERT_EQ(p.allowed_ip_ranges.size(), 2u);
  EXPECT_EQ(p.allowed_ip_ranges[0].prefix, 8);
  EXPECT_EQ(p.allowed_ip_ranges[1].prefix, 32);
  EXPECT_FALSE(p.allow_wildcards);
  EXPECT_EQ(p.policy_oids, std::vector<std::string>{"2.23.140.1.2.1"});
  // Untouched fields keep the built-in values.
  EXPECT_EQ(p.extended_key_usage, std::vector<std::string>{"serverAuth"});
  EXPECT_TRUE(p.require_san);
  EXPECT_TRUE(p.allow_ip_sans);
  // Other profiles are untouched.
  EXPECT_EQ(find(*set, "tls-client").max_validity, days(398));
}

TEST(ProfileSet, NewProfileStartsFromTlsServer) {
  ProfileSettings s;
  s.name = "k8s_ingress";
  s.extended_key_usage = std::vector<std::string>{"serverAuth", "1.3.6.1.4.1.99999.5"};
  s.subject_template = "CN={cn},O=Example,OU=Ingress";
  auto set = ProfileSet::create(std::vector<ProfileSettings>{s});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->all().size(), 9u);
  const Profile& p = find(*set, "k8s_ingress");
  EXPECT_EQ(p.description, "custom profile");
  EXPECT_EQ(p.max_validity, days(398));
  EXPECT_TRUE(p.require_san);
  EXPECT_EQ(p.extended_key_usage.size(), 2u);
  EXPECT_EQ(p.subject_template, "CN={cn},O=Example,OU=Ingress");
}

ErrorCode create_error(const ProfileSettings& s) {
  auto set = ProfileSet::create(std::vector<ProfileSettings>{s});
  EXPECT_FALSE(set.has_value()) << s.name;
  return set ? ErrorCode::kInternal : set.error().code;
}

ProfileSettings named(std::string name) {
  ProfileSettings s;
  s.name = std::move(name);
  return s;
}

TEST(ProfileSet, RejectsBadSettings) {
  {
    auto s = named("tls-server");
    s.key_types = std::vector<std::string>{"dsa-1024"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.key_types = std::vector<std::string>{};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.key_usage = std::vector<std::string>{"digitalSignature", "signEverything"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.extended_key_usage = std::vector<std::string>{"bogusAuth"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.extended_key_usage = std::vector<std::string>{"1..2"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.default_validity = days(400);  // max stays 398d
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.default_validity = days(10);
    s.max_validity = days(5);
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  for (const char* domain : {"*.example.com", "exa mple.com", "", "example..com"}) {
    auto s = named("tls-server");
    s.allowed_domains = std::vector<std::string>{domain};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed) << domain;
  }
  for (const char* cidr : {"10.0.0.0/33", "10.0.0/8", "fe80::/129", "x", "10.0.0.0/", "",
                           "10.0.0.0/-1", "10.0.0.0/8/8"}) {
    auto s = named("tls-server");
    s.allowed_ip_ranges = std::vector<std::string>{cidr};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed) << cidr;
  }
  {
    auto s = named("tls-server");
    s.path_length = 1;
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("intermediate-ca");
    s.path_length = -1;
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("bad name!");
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("");
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.subject_template = "XX={cn}";
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
  {
    auto s = named("tls-server");
    s.policy_oids = std::vector<std::string>{"anyPolicy"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
    s.policy_oids = std::vector<std::string>{"2..5"};
    EXPECT_EQ(create_error(s), ErrorCode::kMalformed);
  }
}

TEST(ProfileSet, OnlyCertwardsOwnProfileDelegatesOcspSigning) {
  // A certificate with id-kp-OCSPSigning from an authority speaks for that authority's
  // revocations: a requester holding one could answer "good" for any revoked certificate.
  for (const char* eku : {"OCSPSigning", "1.3.6.1.5.5.7.3.9", "1.3.6.1.5.5.7.3.09"}) {
    auto custom = named("my-responder");
    custom.extended_key_usage = std::vector<std::string>{"serverAuth", eku};
    EXPECT_EQ(create_error(custom), ErrorCode::kMalformed) << eku;
    auto builtin = named("tls-client");
    builtin.extended_key_usage = std::vector<std::string>{eku};
    EXPECT_EQ(create_error(builtin), ErrorCode::kMalformed) << eku;
  }
  // Its own profile cannot be reconfigured, not even harmlessly looking fields.
  auto own = named("ocsp-responder");
  own.description = "mine";
  EXPECT_EQ(create_error(own), ErrorCode::kMalformed);
  own = named("ocsp-responder");
  own.key_types = std::vector<std::string>{"rsa-2048"};
  EXPECT_EQ(create_error(own), ErrorCode::kMalformed);
  // Other dotted OIDs near it stay allowed.
  auto other = named("other-eku");
  other.extended_key_usage = std::vector<std::string>{"1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.19"};
  EXPECT_TRUE(ProfileSet::create(std::vector{other}).has_value());
}

TEST(ProfileSet, CaProfileMayCarryPathLength) {
  auto s = named("two-level-ca");
  s.ca = true;
  s.path_length = 1;
  s.key_usage = std::vector<std::string>{"keyCertSign", "cRLSign"};
  auto set = ProfileSet::create(std::vector<ProfileSettings>{s});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(find(*set, "two-level-ca").path_length, 1);
}

Status check(const Profile& p, std::vector<std::string> names) {
  std::vector<SubjectAltName> sans;
  for (const auto& n : names) {
    auto san = x509::parse_san(n);
    CW_CHECK(san.has_value());
    sans.push_back(*san);
  }
  return p.check_names(sans);
}

void expect_allowed(const Profile& p, std::vector<std::string> names) {
  auto r = check(p, names);
  EXPECT_TRUE(r.has_value()) << p.name << ": " << (r ? "" : r.error().message);
}

void expect_refused(const Profile& p, std::vector<std::string> names) {
  auto r = check(p, names);
  ASSERT_FALSE(r.has_value()) << p.name << ": " << names.front();
  EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected);
}

TEST(CheckNames, Wildcards) {
  const ProfileSet set = builtins();
  expect_allowed(find(set, "tls-server"), {"*.example.com"});
  expect_refused(find(set, "tls-client"), {"*.example.com"});
  expect_refused(find(set, "tls-client"), {"ok.example.com", "*.example.com"});
}

TEST(CheckNames, AllowedDomainsAreSuffixesOnLabelBoundaries) {
  Profile p = find(builtins(), "tls-server");
  p.allowed_domains = {"example.com"};
  expect_allowed(p, {"example.com"});
  expect_allowed(p, {"www.example.com"});
  expect_allowed(p, {"a.b.c.example.com"});
  expect_allowed(p, {"*.example.com"});
  expect_allowed(p, {"WWW.Example.COM"});
  expect_refused(p, {"evil-example.com"});
  expect_refused(p, {"notexample.com"});
  expect_refused(p, {"example.com.evil.org"});
  expect_refused(p, {"example.org"});
  expect_refused(p, {"www.example.com", "evil-example.com"});
}

TEST(CheckNames, IpRanges) {
  Profile p = find(builtins(), "tls-server");
  expect_allowed(p, {"ip:192.0.2.1", "ip:2001:db8::1"});  // any address
  p.allowed_ip_ranges = {*parse_ip_range("10.0.0.0/8"), *parse_ip_range("2001:db8::/32")};
  expect_allowed(p, {"ip:10.1.2.3"});
  expect_allowed(p, {"ip:10.255.255.255"});
  expect_refused(p, {"ip:11.0.0.1"});
  expect_refused(p, {"ip:9.255.255.255"});
  expect_allowed(p, {"ip:2001:db8:ffff::1"});
  expect_refused(p, {"ip:2001:db9::1"});
  expect_refused(p, {"ip:::ffff:10.0.0.1"});

  const ProfileSet set = builtins();
  expect_refused(find(set, "code-signing"), {"ip:10.0.0.1"});
}

TEST(CheckNames, EmailDomains) {
  const ProfileSet set = builtins();
  expect_refused(find(set, "tls-server"), {"email:a@example.com"});
  Profile p = find(set, "smime");
  expect_allowed(p, {"email:alice@example.com"});
  p.allowed_domains = {"example.com"};
  expect_allowed(p, {"email:alice@example.com"});
  expect_allowed(p, {"email:bob@mail.example.com"});
  expect_refused(p, {"email:eve@evil-example.com"});
  expect_refused(p, {"email:eve@example.org"});
}

TEST(CheckNames, Uris) {
  const ProfileSet set = builtins();
  expect_refused(find(set, "tls-server"), {"uri:spiffe://example.com/web"});
  Profile p = find(set, "tls-client");
  expect_allowed(p, {"uri:spiffe://example.com/web"});
  p.allowed_domains = {"example.com"};
  expect_allowed(p, {"uri:https://api.example.com:8443/x"});
  expect_refused(p, {"uri:https://evil-example.com/x"});
}

TEST(CheckNames, RequireSanAndOtherNames) {
  const ProfileSet set = builtins();
  expect_refused(find(set, "tls-server"), {});
  ASSERT_TRUE(find(set, "tls-client").check_names({}).has_value());
  const std::vector<SubjectAltName> other = {{SanType::kOther, "othername:1.2.3"}};
  auto r = find(set, "tls-client").check_names(other);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected);
}

TEST(NameWithin, Cases) {
  EXPECT_TRUE(name_within("example.com", "example.com"));
  EXPECT_TRUE(name_within("a.example.com", "example.com"));
  EXPECT_TRUE(name_within("A.EXAMPLE.com", "Example.COM"));
  EXPECT_TRUE(name_within("*.example.com", "example.com"));
  EXPECT_TRUE(name_within("*.a.example.com", "a.example.com"));
  EXPECT_FALSE(name_within("evil-example.com", "example.com"));
  EXPECT_FALSE(name_within("xexample.com", "example.com"));
  EXPECT_FALSE(name_within("example.com", "a.example.com"));
  EXPECT_FALSE(name_within("com", "example.com"));
  EXPECT_FALSE(name_within("example.com.au", "example.com"));
}

TEST(ParseIpRange, V4AndV6) {
  auto v4 = parse_ip_range("10.1.0.0/16");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->network, (Bytes{10, 1, 0, 0}));
  EXPECT_EQ(v4->prefix, 16);
  EXPECT_EQ(v4->text, "10.1.0.0/16");
  EXPECT_TRUE(v4->contains(Bytes{10, 1, 200, 3}));
  EXPECT_FALSE(v4->contains(Bytes{10, 2, 0, 0}));
  EXPECT_FALSE(v4->contains(Bytes(16, 0)));

  auto host = parse_ip_range("192.0.2.1");
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->prefix, 32);
  EXPECT_TRUE(host->contains(Bytes{192, 0, 2, 1}));
  EXPECT_FALSE(host->contains(Bytes{192, 0, 2, 2}));

  auto v6 = parse_ip_range("2001:db8::/33");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->network.size(), 16u);
  EXPECT_EQ(v6->prefix, 33);
  Bytes inside = v6->network;
  inside[15] = 1;
  EXPECT_TRUE(v6->contains(inside));
  Bytes outside = v6->network;
  outside[4] = 0x80;  // bit 33 set
  EXPECT_FALSE(v6->contains(outside));
  EXPECT_EQ(parse_ip_range("::1")->prefix, 128);

  auto all = parse_ip_range("0.0.0.0/0");
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->contains(Bytes{255, 255, 255, 255}));
  EXPECT_FALSE(all->contains(Bytes(16, 0)));

  auto odd = parse_ip_range("10.0.0.0/12");
  ASSERT_TRUE(odd.has_value());
  EXPECT_TRUE(odd->contains(Bytes{10, 15, 255, 255}));
  EXPECT_FALSE(odd->contains(Bytes{10, 16, 0, 0}));
}

TEST(ParseIpRange, RejectsMalformed) {
  for (const char* s : {"", "/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "::/129",
                        "host.example.com/8", "10.0.0.0/8 ", "256.0.0.0/8"}) {
    auto r = parse_ip_range(s);
    ASSERT_FALSE(r.has_value()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << s;
  }
}

TEST(KeyUsageFor, DependsOnKeyAlgorithm) {
  const ProfileSet set = builtins();
  const crypto::KeyInfo rsa{crypto::KeyAlgorithm::kRsa, 2048, ""};
  const crypto::KeyInfo ec{crypto::KeyAlgorithm::kEcdsa, 256, "P-256"};
  const crypto::KeyInfo ed{crypto::KeyAlgorithm::kEd25519, 256, ""};
  const Profile& tls = find(set, "tls-server");
  EXPECT_EQ(tls.key_usage_for(rsa),
            (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
  EXPECT_EQ(tls.key_usage_for(ec), std::vector<std::string>{"digitalSignature"});
  const Profile& client = find(set, "tls-client");
  EXPECT_EQ(client.key_usage_for(rsa), std::vector<std::string>{"digitalSignature"});
  const Profile& smime = find(set, "smime");
  EXPECT_EQ(smime.key_usage_for(rsa),
            (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
  EXPECT_EQ(smime.key_usage_for(ec),
            (std::vector<std::string>{"digitalSignature", "keyAgreement"}));
  EXPECT_EQ(smime.key_usage_for(ed), std::vector<std::string>{"digitalSignature"});
}

TEST(AllowsKey, OnlyListedKeyTypes) {
  const ProfileSet set = builtins();
  const Profile& tls = find(set, "tls-server");
  EXPECT_TRUE(tls.allows_key({crypto::KeyAlgorithm::kEcdsa, 256, "P-256"}));
  EXPECT_TRUE(tls.allows_key({crypto::KeyAlgorithm::kEcdsa, 384, "P-384"}));
  EXPECT_FALSE(tls.allows_key({crypto::KeyAlgorithm::kEcdsa, 521, "P-521"}));
  EXPECT_FALSE(tls.allows_key({crypto::KeyAlgorithm::kEd25519, 256, ""}));
  EXPECT_FALSE(tls.allows_key({crypto::KeyAlgorithm::kRsa, 1024, ""}));
  EXPECT_FALSE(tls.allows_key({crypto::KeyAlgorithm::kUnknown, 0, ""}));
}

}  // namespace
}  // namespace certward::ca
