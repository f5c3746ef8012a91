#include "reports/aggregate.h"

#include <gtest/gtest.h>

namespace certward::reports {
namespace {

using std::chrono::days;

const SysTime kNow = from_unix(1'800'000'000);

inventory::CertificateRecord cert(std::string fp, std::string algorithm, int bits, std::string team,
                                  days lifetime = days(90)) {
  inventory::CertificateRecord c;
  c.fingerprint = std::move(fp);
  c.subject = "CN=x";
  c.issuer = "CN=Issuing CA";
  c.key_algorithm = std::move(algorithm);
  c.key_bits = bits;
  if (c.key_algorithm == "ecdsa") c.key_curve = "P-256";
  c.not_before = kNow - days(10);
  c.not_after = c.not_before + lifetime;
  if (!team.empty()) c.meta.team = std::move(team);
  return c;
}

TEST(Classify, EveryClassicalPublicKeyIsQuantumVulnerable) {
  for (auto [alg, bits] : {std::pair{"rsa", 4096},
                           {"rsa-pss", 3072},
                           {"ecdsa", 384},
                           {"ed25519", 256},
                           {"dsa", 2048},
                           {"unknown", 0}}) {
    EXPECT_TRUE(classify_certificate_key(cert("a", alg, bits, "")).quantum_vulnerable) << alg;
  }
  for (auto type : {"ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-dss"}) {
    EXPECT_TRUE(classify_ssh_key(type, 256).quantum_vulnerable) << type;
  }
}

TEST(Classify, PostQuantumSchemesAreNotAndCarryTheirNistLevel) {
  const auto mldsa = classify_certificate_key(cert("a", "ML-DSA-65", 0, ""));
  EXPECT_FALSE(mldsa.quantum_vulnerable);
  EXPECT_EQ(mldsa.name, "ML-DSA-65");
  EXPECT_EQ(mldsa.nist_quantum_level, 3);
  EXPECT_FALSE(classify_ssh_key("ml-kem-768", 0).quantum_vulnerable);
  EXPECT_EQ(classify_certificate_key(cert("a", "slh-dsa-sha2-128s", 0, "")).family, "SLH-DSA");
}

TEST(Classify, NamesSizesAndCurves) {
  EXPECT_EQ(classify_certificate_key(cert("a", "rsa", 2048, "")).name, "RSA-2048");
  EXPECT_EQ(classify_certificate_key(cert("a", "ecdsa", 256, "")).name, "ECDSA-P-256");
  EXPECT_EQ(classify_ssh_key("ecdsa-sha2-nistp384", 384).name, "ECDSA-P-384");
  EXPECT_EQ(classify_ssh_key("ssh-ed25519", 256).name, "Ed25519");
  EXPECT_EQ(classify_signature("sha256WithRSAEncryption").name, "SHA256withRSA");
  EXPECT_EQ(classify_signature("sha256WithRSAEncryption").oid, "1.2.840.113549.1.1.11");
  EXPECT_EQ(classify_signature("ecdsa-with-SHA384").name, "SHA384withECDSA");
  EXPECT_EQ(classify_signature("ED25519").name, "Ed25519");
}

TEST(Summary, CountsEveryDimension) {
  SummaryAggregator s(kNow);
  s.add(cert("a", "rsa", 2048, "web"));
  s.add(cert("b", "rsa", 2048, "web"));
  auto expired = cert("c", "ecdsa", 256, "");
  expired.not_after = kNow - days(1);
  expired.meta.origin = inventory::Origin::kDiscovered;
  s.add(expired);
  EXPECT_EQ(s.total(), 3);
  std::map<std::string, std::int64_t> got;
  for (const auto& e : s.entries()) got[e.dimension + "=" + e.value] = e.count;
  EXPECT_EQ(got["algorithm=RSA-2048"], 2);
  EXPECT_EQ(got["algorithm=ECDSA-P-256"], 1);
  EXPECT_EQ(got["team=web"], 2);
  EXPECT_EQ(got["team=(none)"], 1);
  EXPECT_EQ(got["status=expired"], 1);
  EXPECT_EQ(got["status=valid"], 2);
  EXPECT_EQ(got["origin=discovered"], 1);
  EXPECT_EQ(got["issuer=CN=Issuing CA"], 3);
  EXPECT_EQ(s.entries().front().dimension, "issuer");
}

TEST(Posture, CountsVulnerableAndWhoRenews) {
  PostureAggregator p;
  p.add_certificate(cert("a", "rsa", 2048, ""), Renewal::kManaged);
  p.add_certificate(cert("b", "rsa", 2048, ""), Renewal::kManual);
  p.add_certificate(cert("c", "ML-DSA-44", 0, ""), Renewal::kAutomated);
  p.add_ssh_key("ssh-ed25519", 256);
  const auto t = p.totals();
  EXPECT_EQ(t.certificates, 3);
  EXPECT_EQ(t.ssh_keys, 1);
  EXPECT_EQ(t.quantum_vulnerable, 3);
  EXPECT_EQ(t.quantum_vulnerable_certificates, 2);
  EXPECT_EQ(t.renewed_automatically, 2);
  EXPECT_EQ(t.needs_person, 2);  // the manual certificate and the SSH key
  const auto rows = p.rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].algorithm.name, "RSA-2048");
  EXPECT_EQ(rows[0].certificates, 2);
  EXPECT_EQ(rows.back().algorithm.name, "ML-DSA-44");  // the safe ones last
}

TEST(Lifetimes, RenewsAtAThirdOfTheLifetimeLeft) {
  // A 90-day certificate renewed when 30 days remain: every 60 days.
  EXPECT_NEAR(renewals_per_month(days(90)), 30.4375 / 60, 1e-9);
  EXPECT_EQ(renewals_per_month(std::chrono::seconds(0)), 0);
}

TEST(Lifetimes, SimulatesEachMaximumPerTeam) {
  LifetimesAggregator l;
  l.add(cert("a", "rsa", 2048, "web", days(365)), Renewal::kManual);
  l.add(cert("b", "rsa", 2048, "web", days(90)), Renewal::kManaged);
  l.add(cert("c", "rsa", 2048, "db", days(150)), Renewal::kManual);
  const auto teams = l.teams();
  ASSERT_EQ(teams.size(), 3u);
  const auto& db = teams[0];
  const auto& web = teams[1];
  EXPECT_EQ(db.team, "db");
  EXPECT_EQ(web.team, "web");
  EXPECT_EQ(web.certificates, 2);
  EXPECT_EQ(web.manual, 1);
  EXPECT_NEAR(web.renewals_today, renewals_per_month(days(365)) + renewals_per_month(days(90)),
              1e-9);
  EXPECT_NEAR(web.renewals_under[0], renewals_per_month(days(200)) + renewals_per_month(days(90)),
              1e-9);
  EXPECT_NEAR(web.renewals_under[2], 2 * renewals_per_month(days(47)), 1e-9);
  EXPECT_NEAR(web.manual_renewals_under[2], renewals_per_month(days(47)), 1e-9);
  // The manual 365-day one breaks under every rule; the managed one under none.
  EXPECT_EQ(web.breaking_under[0], 1);
  EXPECT_EQ(web.breaking_under[2], 1);
  // The 150-day one only under 100 and 47 days.
  EXPECT_EQ(db.breaking_under[0], 0);
  EXPECT_EQ(db.breaking_under[1], 1);
  EXPECT_EQ(db.breaking_under[2], 1);
  EXPECT_EQ(teams[2].team, "(all)");
  EXPECT_EQ(teams[2].certificates, 3);
  EXPECT_EQ(teams[2].breaking_under[2], 2);
}

TEST(InForce, LeavesOutExpiredRevokedAndSuperseded) {
  auto c = cert("a", "rsa", 2048, "");
  EXPECT_TRUE(in_force(c, kNow));
  c.revoked_at = kNow - days(1);
  EXPECT_FALSE(in_force(c, kNow));
  c = cert("a", "rsa", 2048, "");
  c.superseded_by = "b";
  EXPECT_FALSE(in_force(c, kNow));
  c = cert("a", "rsa", 2048, "");
  c.not_after = kNow - days(1);
  EXPECT_FALSE(in_force(c, kNow));
}

}  // namespace
}  // namespace certward::reports
