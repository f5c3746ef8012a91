// What the RA lets a requester obtain: its team's scope (profiles, domains, authorities, team),
// the syntax of every requested name whatever its source, the common name as a requested name
// in every profile, and the name constraints of the CAs on the path as relying parties apply
// them. Each case is refused by the RA itself, so every front-end gets the same answer.

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using std::chrono::days;
using std::chrono::seconds;

class ScopeTest : public testing::CaFixture {
 protected:
  static Requester team_a(std::vector<std::string> profiles) {
    return {
        .actor = "token:team-a",
        .team = "team-a",
        .scope = Scope{
            .profiles = std::move(profiles), .domains = {"team-a.example.com"}, .authorities = {}}};
  }

  // A CSR whose subject is `subject` and whose SAN extension holds `sans` exactly as given
  // (no syntax check on the way in: this is what a hostile client can send).
  x509::Csr raw_csr(std::string_view subject, const std::vector<x509::SubjectAltName>& sans) {
    const crypto::PrivateKey key = certward::testing::make_key();
    auto der = x509::make_csr_der(key, subject, sans);
    CW_CHECK(der.has_value());
    auto parsed = x509::parse_csr(*der);
    CW_CHECK(parsed.has_value());
    return *parsed;
  }

  EnrollmentRequest from_csr(x509::Csr csr, std::string profile, Requester who) {
    EnrollmentRequest r;
    r.csr = std::move(csr);
    r.profile = std::move(profile);
    r.requester = std::move(who);
    return r;
  }

  void refused(EnrollmentRequest r, ErrorCode code) {
    const auto inv = inventory_count();
    const auto events = audit_count();
    SCOPED_TRACE(r.profile);
    expect_refused(ra_->enroll(std::move(r)), code, inv, events);
  }

  x509::Certificate issued(EnrollmentRequest r) {
    auto out = ra_->enroll(std::move(r));
    CW_CHECK(out.has_value());
    return out->certificate;
  }

  // An issuing CA under "root" with the given subtrees ("dns:x", "email:x", ...).
  void constrained_ca(const std::string& name, const std::vector<std::string>& permitted,
                      const std::vector<std::string>& excluded) {
    x509::NameConstraints nc;
    for (const auto& p : permitted) nc.permitted.push_back(*parse_name_constraint(p));
    for (const auto& e : excluded) nc.excluded.push_back(*parse_name_constraint(e));
    SubordinateOptions o;
    o.name = name;
    o.parent = "root";
    o.subject = "CN=" + name;
    o.name_constraints = nc;
    auto made = create_subordinate(*ra_, *authorities_, o, admin_);
    ASSERT_TRUE(made.has_value()) << made.error().message;
  }

  Result<IssuedCertificate> under(const std::string& authority,
                                  const std::vector<std::string>& names,
                                  std::string profile = "tls-server") {
    EnrollmentRequest r = request(names, std::move(profile));
    r.authority = authority;
    return ra_->enroll(r);
  }
};

const std::vector<std::string> kLeafProfiles = {"tls-server", "tls-client", "code-signing", "smime",
                                                "device"};

TEST_F(ScopeTest, ProfileOutsideTheGrantIsRefused) {
  EnrollmentRequest r = request({"www.team-a.example.com"});
  r.requester = team_a({"tls-client"});
  refused(r, ErrorCode::kUnauthorized);
  r.requester = team_a({"tls-client", "tls-server"});
  EXPECT_TRUE(ra_->enroll(r).has_value());
}

TEST_F(ScopeTest, NamesOutsideTheDomainsAreRefused) {
  for (const auto& names :
       std::vector<std::vector<std::string>>{{"team-b.example.com"},
                                             {"evilteam-a.example.com"},
                                             {"team-a.example.com.evil.test"},
                                             {"api.team-a.example.com", "www.example.com"},
                                             {"api.team-a.example.com", "ip:192.0.2.1"},
                                             {"*.example.com"}}) {
    EnrollmentRequest r = request(names);
    r.requester = team_a({"tls-server"});
    SCOPED_TRACE(names.back());
    refused(r, ErrorCode::kUnauthorized);
  }
  EnrollmentRequest mine = request({"api.team-a.example.com", "*.team-a.example.com"});
  mine.requester = team_a({"tls-server"});
  EXPECT_TRUE(ra_->enroll(mine).has_value());
}

// Defect: the CN was checked only in profiles that require a SAN, so a requester scoped to
// team-a obtained CN=www.bank.com (no SAN) with `device`, which OpenSSL-based clients accept
// for https://www.bank.com, and CN=postgres with `tls-client`.
TEST_F(ScopeTest, CommonNameIsCheckedInEveryProfile) {
  for (const auto& profile : kLeafProfiles) {
    for (std::string_view cn : {"www.bank.com", "postgres", "WWW.BANK.COM"}) {
      SCOPED_TRACE(profile + " CN=" + std::string(cn));
      // From a CSR with that CN and no SAN.
      refused(from_csr(raw_csr("CN=" + std::string(cn), {}), profile, team_a(kLeafProfiles)),
              ErrorCode::kUnauthorized);
      // As an explicit common name beside an allowed SAN.
      EnrollmentRequest r = from_csr(raw_csr("", {{x509::SanType::kDns, "a.team-a.example.com"}}),
                                     profile, team_a(kLeafProfiles));
      r.common_name = std::string(cn);
      refused(r, ErrorCode::kUnauthorized);
    }
  }
}

TEST_F(ScopeTest, CommonNameBecomesOneOfTheNames) {
  for (const auto& profile : kLeafProfiles) {
    SCOPED_TRACE(profile);
    const x509::Certificate cert = issued(
        from_csr(raw_csr("CN=Device-7.Team-A.example.com", {}), profile, team_a(kLeafProfiles)));
    EXPECT_EQ(cert.info().subject_cn, "device-7.team-a.example.com");
    EXPECT_EQ(
        cert.info().sans,
        (std::vector<x509::SubjectAltName>{{x509::SanType::kDns, "device-7.team-a.example.com"}}));
  }
  // An email CN is an email name (smime).
  const x509::Certificate mail =
      issued(from_csr(raw_csr("CN=alice@team-a.example.com", {}), "smime", team_a(kLeafProfiles)));
  EXPECT_EQ(
      mail.info().sans,
      (std::vector<x509::SubjectAltName>{{x509::SanType::kEmail, "alice@team-a.example.com"}}));
}

TEST_F(ScopeTest, CommonNameThatIsNoNameIsRefused) {
  EnrollmentRequest r = request({"www.example.com"}, "tls-client");
  r.common_name = "Alice Smith";
  refused(r, ErrorCode::kMalformed);
}

// Defect: a team granted `intermediate-ca` obtained an unconstrained subordinate CA.
TEST_F(ScopeTest, CaProfilesAreNeverIssuedToRequesters) {
  EnrollmentRequest r;
  r.server_key = crypto::KeyType::kEcP256;
  r.profile = "intermediate-ca";
  r.authority = "root";
  r.subject = "CN=Team A CA";
  r.requester = team_a({"intermediate-ca", "tls-server"});
  r.requester.scope->authorities = {"root", "issuing"};
  refused(r, ErrorCode::kUnauthorized);
  SubordinateOptions o;
  o.name = "team-a-ca";
  o.parent = "issuing";
  o.subject = "CN=Team A CA";
  const auto inv = inventory_count();
  const auto events = audit_count();
  expect_refused(create_subordinate(*ra_, *authorities_, o, r.requester), ErrorCode::kUnauthorized,
                 inv, events);
}

TEST_F(ScopeTest, AuthoritiesAreGranted) {
  SubordinateOptions other;
  other.name = "team-b-ca";
  other.parent = "root";
  other.subject = "CN=Team B CA";
  ASSERT_TRUE(create_subordinate(*ra_, *authorities_, other, admin_).has_value());

  EnrollmentRequest r = request({"www.team-a.example.com"});
  r.requester = team_a({"tls-server"});
  for (std::string_view authority : {"root", "team-b-ca"}) {
    r.authority = std::string(authority);
    SCOPED_TRACE(authority);
    refused(r, ErrorCode::kUnauthorized);
  }
  // An empty grant is the default authority only; named, it may be used explicitly too.
  r.authority = "issuing";
  EXPECT_TRUE(ra_->enroll(r).has_value());
  r.authority.reset();
  EXPECT_TRUE(ra_->enroll(r).has_value());
  r.requester.scope->authorities = {"team-b-ca"};
  refused(r, ErrorCode::kUnauthorized);
  r.authority = "team-b-ca";
  EXPECT_TRUE(ra_->enroll(r).has_value());
}

TEST_F(ScopeTest, RequestersIssueOnlyForTheirOwnTeam) {
  EnrollmentRequest r = request({"www.team-a.example.com"});
  r.requester = team_a({"tls-server"});
  r.team = "team-b";
  refused(r, ErrorCode::kUnauthorized);
  r.team.reset();
  auto out = ra_->enroll(r);
  ASSERT_TRUE(out.has_value());
  auto record = inventory_.get(out->certificate.info().sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->meta.team, "team-a");
}

TEST_F(ScopeTest, GrantsRefuseCaProfilesRootsAndUnknowns) {
  using V = std::vector<std::string>;
  EXPECT_TRUE(check_grant(profiles_, *authorities_, V{"tls-server", "device"}, V{"issuing"}));
  for (const auto& [profiles, authorities] :
       std::vector<std::pair<V, V>>{{{"intermediate-ca"}, {}},
                                    {{"no-such-profile"}, {}},
                                    {{"tls-server"}, {"root"}},
                                    {{"tls-server"}, {"no-such-ca"}}}) {
    auto st = check_grant(profiles_, *authorities_, profiles, authorities);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  }
}

// Defect: a CSR's names skipped the parser that --san values go through.
TEST_F(ScopeTest, NamesFromACsrGoThroughTheOneParser) {
  using x509::SanType;
  for (const x509::SubjectAltName& bad : std::vector<x509::SubjectAltName>{
           {SanType::kDns, "w*.example.com"},
           {SanType::kDns, "*.*.example.com"},
           {SanType::kDns, "*.com"},
           {SanType::kDns, std::string("a\0b.example.com", 15)},
           {SanType::kDns, "a.example.com\nb.example.com"},
           {SanType::kDns, "www.example.com."},
           {SanType::kDns, "xn--abc.example.com"},
           {SanType::kDns, "ab--cd.example.com"},
           {SanType::kDns, "caf\xc3\xa9.example.com"},
           {SanType::kDns, "under_score.example.com"},
           {SanType::kDns, "1.2.3.4"},
           {SanType::kEmail, "a b@example.com"},
           {SanType::kEmail, "a@b@example.com"},
           {SanType::kEmail, "\"q\"@example.com"},
           {SanType::kUri, "https://www.example.com@evil.test/"},
           {SanType::kUri, "not a uri"},
           {SanType::kUri, "https://bad%zz.example.com/"},
       }) {
    SCOPED_TRACE(x509::format_san(bad));
    refused(from_csr(raw_csr("", {bad}), "device", admin_), ErrorCode::kMalformed);
  }
  // The same names as CN, or through the request's own list.
  refused(from_csr(raw_csr("CN=a.example.com\\0Ab.example.com", {}), "device", admin_),
          ErrorCode::kMalformed);
  EnrollmentRequest listed = request({"www.example.com"}, "internal");
  listed.sans = {{x509::SanType::kDns, "w*.example.com"}};
  refused(listed, ErrorCode::kMalformed);
}

TEST_F(ScopeTest, InternationalNamesAreTakenAsALabels) {
  // "bücher.example.com" as its A-label.
  const x509::Certificate cert = issued(from_csr(
      raw_csr("", {{x509::SanType::kDns, "XN--BCHER-KVA.example.com"}}), "tls-server", admin_));
  EXPECT_EQ(cert.info().sans[0].value, "xn--bcher-kva.example.com");
}

// Defect: `*.corp.test` was issued under a CA excluding `secret.corp.test`, and OpenSSL accepts
// it for secret.corp.test.
TEST_F(ScopeTest, WildcardThatCanMatchAnExcludedNameIsRefused) {
  constrained_ca("corp", {"dns:corp.test"}, {"dns:secret.corp.test"});
  for (std::string_view name : {"*.corp.test", "secret.corp.test", "a.secret.corp.test",
                                "*.secret.corp.test", "www.other.test"}) {
    auto r = under("corp", {std::string(name)});
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected) << name;
  }
  for (std::string_view name : {"www.corp.test", "*.app.corp.test", "notsecret.corp.test"}) {
    auto r = under("corp", {std::string(name)});
    EXPECT_TRUE(r.has_value()) << name << ": " << r.error().message;
  }
}

// Defect: the RA signed what relying parties reject.
TEST_F(ScopeTest, CertificatesRelyingPartiesWouldRejectAreNotSigned) {
  constrained_ca("dns-only", {"dns:corp.test"}, {});
  // A CN-only request (device, no SAN) with a name outside the permitted subtree.
  EnrollmentRequest cn_only = from_csr(raw_csr("CN=www.bank.com", {}), "device", admin_);
  cn_only.authority = "dns-only";
  refused(cn_only, ErrorCode::kPolicyRejected);

  constrained_ca("mail", {"email:corp.test"}, {});
  // OpenSSL reads an email subtree without a leading '.' as that host only.
  auto sub = under("mail", {"email:u@sub.corp.test"}, "smime");
  ASSERT_FALSE(sub.has_value());
  EXPECT_EQ(sub.error().code, ErrorCode::kPolicyRejected);
  EXPECT_TRUE(under("mail", {"email:u@corp.test"}, "smime").has_value());

  constrained_ca("mail-below", {"email:.corp.test"}, {});
  EXPECT_TRUE(under("mail-below", {"email:u@sub.corp.test"}, "smime").has_value());
  EXPECT_FALSE(under("mail-below", {"email:u@corp.test"}, "smime").has_value());
}

// Defect: a validity of five minutes or less was reported as "authority has expired".
TEST_F(ScopeTest, ShortValiditiesAreIssued) {
  for (auto validity : {seconds(300), seconds(60), seconds(10)}) {
    EnrollmentRequest r = request({"short.example.com"});
    r.validity = validity;
    auto out = ra_->enroll(r);
    ASSERT_TRUE(out.has_value()) << validity.count() << ": " << out.error().message;
    const auto& i = out->certificate.info();
    EXPECT_EQ(i.not_after - i.not_before, validity);
    EXPECT_GT(i.not_after, clock_.now());
    EXPECT_LE(i.not_before, clock_.now());
  }
  // A long one is still backdated by the full five minutes.
  const x509::Certificate normal = issued(request({"normal.example.com"}));
  EXPECT_EQ(normal.info().not_before, clock_.now() - seconds(300));
}

}  // namespace
}  // namespace certward::ca
