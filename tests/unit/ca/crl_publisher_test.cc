#include "ca/crl_publisher.h"

#include <gtest/gtest.h>

#include "ca/revocation.h"
#include "unit/ca/fixture.h"
#include "x509/crl.h"

namespace certward::ca {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

class CrlPublisherTest : public testing::CaFixture {
 protected:
  IssuedCertificate issue(const std::string& name) {
    auto out = ra_->enroll(request({name}));
    CW_CHECK(out.has_value());
    return std::move(*out);
  }

  void revoke(const IssuedCertificate& c,
              RevocationReason reason = RevocationReason::kKeyCompromise) {
    RevokeRequest r;
    r.id = c.certificate.info().sha256_hex;
    r.reason = reason;
    r.requester = admin_;
    auto done = revocation_->revoke(r);
    ASSERT_TRUE(done.has_value()) << done.error().message;
  }

  // The current CRL of `authority`, parsed, after checking its signature under `issuer`.
  x509::CrlInfo crl(const std::string& authority, bool delta, const x509::Certificate& issuer) {
    auto c = crls_->current(authority, delta);
    CW_CHECK(c.has_value());
    CW_CHECK(*c != nullptr);
    EXPECT_TRUE(x509::verify_crl_signature((*c)->der, issuer).has_value());
    auto info = x509::parse_crl((*c)->der);
    CW_CHECK(info.has_value());
    return *info;
  }

  static bool lists(const x509::CrlInfo& info, const IssuedCertificate& c) {
    for (const auto& e : info.entries) {
      if (e.serial_hex == c.certificate.info().serial_hex) return true;
    }
    return false;
  }

  static std::uint64_t number_of(const x509::CrlInfo& info) {
    std::uint64_t n = 0;
    for (std::uint8_t b : *info.number) n = (n << 8) | b;
    return n;
  }
};

TEST_F(CrlPublisherTest, FirstPublicationMakesAFullAndADeltaCrlThenNothingIsDue) {
  auto first = crls_->publish("issuing");
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->full, 1u);
  EXPECT_EQ(first->delta, 2u);

  const x509::CrlInfo full = crl("issuing", false, issuing_);
  EXPECT_FALSE(full.is_delta());
  EXPECT_EQ(number_of(full), 1u);
  EXPECT_TRUE(full.entries.empty());
  ASSERT_EQ(full.freshest_crl_urls.size(), 1u);
  EXPECT_EQ(full.freshest_crl_urls[0], std::string(kCrlBase) + "/issuing-delta.crl");
  EXPECT_EQ(full.this_update, clock_.now());
  EXPECT_EQ(*full.next_update, clock_.now() + days(7));
  const x509::CrlInfo delta = crl("issuing", true, issuing_);
  EXPECT_TRUE(delta.is_delta());
  EXPECT_EQ(*delta.delta_base, x509::crl_number_bytes(1));

  clock_.advance(minutes(5));
  auto again = crls_->publish("issuing");
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->full);
  EXPECT_FALSE(again->delta);
}

TEST_F(CrlPublisherTest, ARevocationIsInTheNextFullAndDeltaCrlWithItsReason) {
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  const auto revoked = issue("revoked.example.com");
  const auto kept = issue("kept.example.com");
  clock_.advance(minutes(1));
  revoke(revoked, RevocationReason::kSuperseded);

  auto next = crls_->publish("issuing");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->full, 3u);  // on_revoke = "full" by default
  EXPECT_EQ(next->delta, 4u);
  const x509::CrlInfo full = crl("issuing", false, issuing_);
  EXPECT_TRUE(lists(full, revoked));
  EXPECT_FALSE(lists(full, kept));
  ASSERT_EQ(full.entries.size(), 1u);
  EXPECT_EQ(full.entries[0].reason, x509::CrlReason::kSuperseded);
  EXPECT_EQ(full.entries[0].revocation_time, clock_.now());
  const x509::CrlInfo delta = crl("issuing", true, issuing_);
  EXPECT_EQ(*delta.delta_base, x509::crl_number_bytes(3));
}

TEST_F(CrlPublisherTest, OnRevokeDeltaLeavesTheFullCrlToItsInterval) {
  revocation_settings_.crl.on_revoke = "delta";
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  const auto revoked = issue("revoked.example.com");
  clock_.advance(minutes(1));
  revoke(revoked);

  auto next = crls_->publish("issuing");
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->full);
  EXPECT_EQ(next->delta, 3u);
  EXPECT_FALSE(lists(crl("issuing", false, issuing_), revoked));
  const x509::CrlInfo delta = crl("issuing", true, issuing_);
  EXPECT_TRUE(lists(delta, revoked));
  EXPECT_EQ(*delta.delta_base, x509::crl_number_bytes(1));

  // The full CRL's interval: a new full CRL lists it, and a new delta is based on it.
  clock_.advance(days(1));
  auto daily = crls_->publish("issuing");
  ASSERT_TRUE(daily.has_value());
  EXPECT_EQ(daily->full, 4u);
  EXPECT_EQ(daily->delta, 5u);
  EXPECT_TRUE(lists(crl("issuing", false, issuing_), revoked));
  EXPECT_EQ(*crl("issuing", true, issuing_).delta_base, x509::crl_number_bytes(4));
}

TEST_F(CrlPublisherTest, ADeltaCrlReplacesTheOneBeforeIt) {
  // With on_revoke = "delta", each revocation makes a delta CRL listing everything revoked
  // since the full CRL: keeping every one of them until the next full CRL would store a day's
  // revocations over and over (their square).
  revocation_settings_.crl.on_revoke = "delta";
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  for (int i = 0; i < 4; ++i) {
    clock_.advance(minutes(1));
    revoke(issue("r" + std::to_string(i) + ".example.com"));
    auto next = crls_->publish("issuing");
    ASSERT_TRUE(next.has_value());
    ASSERT_TRUE(next->delta.has_value());
    EXPECT_FALSE(next->full);
  }
  EXPECT_EQ(certward::testing::count_rows(*db_, "crls"), 2);  // the full CRL and the newest delta
  const x509::CrlInfo delta = crl("issuing", true, issuing_);
  EXPECT_EQ(delta.entries.size(), 4u);
  EXPECT_EQ(*delta.delta_base, x509::crl_number_bytes(1));
}

TEST_F(CrlPublisherTest, WithoutDeltasTheFullCrlNamesNoFreshestCrl) {
  revocation_settings_.crl.delta_interval = std::chrono::seconds(0);
  auto first = crls_->publish("issuing");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->full, 1u);
  EXPECT_FALSE(first->delta);
  EXPECT_TRUE(crl("issuing", false, issuing_).freshest_crl_urls.empty());
  auto delta = crls_->current("issuing", true);
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ(*delta, nullptr);
}

TEST_F(CrlPublisherTest, PerAuthoritySettingsOverrideTheDefaults) {
  CrlSettings fast = revocation_settings_.crl;
  fast.validity = hours(2);
  fast.interval = hours(1);
  fast.delta_interval = std::chrono::seconds(0);
  revocation_settings_.authority_crl["issuing"] = fast;
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  ASSERT_TRUE(crls_->publish("root").has_value());
  EXPECT_EQ(*crl("issuing", false, issuing_).next_update, clock_.now() + hours(2));
  EXPECT_EQ(*crl("root", false, root_).next_update, clock_.now() + days(7));
  clock_.advance(hours(1));
  auto again = crls_->publish("issuing");
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->full);
}

TEST_F(CrlPublisherTest, ExpiredCertificatesLeaveTheCrl) {
  auto r = request({"short.example.com"});
  r.validity = days(2);
  auto short_lived = ra_->enroll(r);
  ASSERT_TRUE(short_lived.has_value());
  revoke(*short_lived);
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  EXPECT_TRUE(lists(crl("issuing", false, issuing_), *short_lived));
  clock_.advance(days(3));
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  EXPECT_FALSE(lists(crl("issuing", false, issuing_), *short_lived));
}

TEST_F(CrlPublisherTest, TheRootsCrlListsARevokedIntermediateAndARevokedOnePublishesNoMore) {
  SubordinateOptions sub;
  sub.name = "second";
  sub.parent = "root";
  sub.subject = "CN=Second Issuing CA,O=Certward Tests";
  auto second = create_subordinate(*ra_, *authorities_, sub, admin_);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  ASSERT_TRUE(
      revocation_->revoke_authority("second", RevocationReason::kCaCompromise, std::nullopt, admin_)
          .has_value());
  ASSERT_TRUE(crls_->publish_all().has_value());
  const x509::CrlInfo arl = crl("root", false, root_);
  ASSERT_EQ(arl.entries.size(), 1u);
  EXPECT_EQ(arl.entries[0].serial_hex, second->certificate.info().serial_hex);
  EXPECT_EQ(arl.entries[0].reason, x509::CrlReason::kCaCompromise);
  auto none = crls_->current("second", false);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, nullptr);
  auto direct = crls_->publish("second");
  ASSERT_FALSE(direct.has_value());
  EXPECT_EQ(direct.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(CrlPublisherTest, ADisabledAuthorityStillPublishes) {
  ASSERT_TRUE(authorities_->set_enabled("issuing", false, "local:root").has_value());
  auto published = crls_->publish("issuing");
  ASSERT_TRUE(published.has_value()) << published.error().message;
  EXPECT_TRUE(published->full);
}

TEST_F(CrlPublisherTest, AnotherReplicasCrlIsServedWithinTheRefreshInterval) {
  ASSERT_TRUE(crls_->publish("issuing").has_value());
  auto first = crls_->current("issuing", false);
  ASSERT_TRUE(first.has_value() && *first);
  EXPECT_EQ((*first)->number, 1u);

  // Another replica: its own publisher on the same database.
  CrlPublisher other(clock_, *db_, *authorities_, inventory_, revocation_settings_, settings_);
  const auto revoked = issue("revoked.example.com");
  revoke(revoked);
  auto made = other.publish("issuing");
  ASSERT_TRUE(made.has_value());
  ASSERT_TRUE(made->full);

  auto cached = crls_->current("issuing", false);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ((*cached)->number, 1u);  // this replica asked less than refresh_interval ago
  clock_.advance(revocation_settings_.refresh_interval);
  auto fresh = crls_->current("issuing", false);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ((*fresh)->number, *made->full);
  EXPECT_TRUE(lists(*x509::parse_crl((*fresh)->der), revoked));
}

TEST_F(CrlPublisherTest, UnknownNamesAreNotFoundAndNotRemembered) {
  auto unknown = crls_->publish("nope");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  auto none = crls_->current("nope", false);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(*none, nullptr);
}

}  // namespace
}  // namespace certward::ca
