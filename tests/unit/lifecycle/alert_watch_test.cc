// Policy-violation and discovery-change alerts over a real database: told of once across
// restarts, in one digest per rule and team, silences respected, and only endpoints that
// started showing a certificate certward did not know.

#include <gtest/gtest.h>

#include "inventory/sightings.h"
#include "lifecycle/alerts/evaluator.h"
#include "policy/service.h"
#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;
using std::chrono::days;
using std::chrono::hours;

class AlertWatchTest : public testing::ManagedFixture {
 protected:
  void SetUp() override {
    ManagedFixture::SetUp();
    ASSERT_TRUE(policy::PolicyService::migrate(*db_).has_value());
    const std::vector<json> specs = {
        // Certificates of more than 100 days break it; "low" ones are below the default
        // policy_min_severity (high).
        {{"id", "max-100"},
         {"kind", "max_validity"},
         {"max_days", 100},
         {"severity", "high"},
         {"teams", {"web", "ops"}}},
        {{"id", "max-50-low"},
         {"kind", "max_validity"},
         {"max_days", 50},
         {"severity", "low"},
         {"teams", {"web", "ops"}}},
    };
    const std::vector<std::string> where = {"test", "test"};
    auto declared = policy::PolicyService::parse_declared(specs, where);
    ASSERT_TRUE(declared.has_value()) << declared.error().message;
    sightings_.emplace(clock_, *db_);
    policy_.emplace(clock_, *db_, audit_, inventory_, *sightings_, *declared);
    auto s = parse_alert_settings(
        {{"channel", {{{"name", "log"}, {"type", "syslog"}, {"socket", "/nonexistent.sock"}}}},
         {"channels", {"log"}}});
    ASSERT_TRUE(s.has_value()) << s.error().message;
    settings_alerts_ = *s;
    service_.emplace(deps());
  }

  AlertDeps deps() {
    return AlertDeps{clock_,           *db_,    inventory_, audit_, jobs_, settings_alerts_,
                     &policy_.value(), &*sightings_};
  }

  std::string record(days lifetime, std::optional<std::string> team,
                     inventory::Origin origin = inventory::Origin::kImported) {
    return record_leaf(lifetime, std::move(team), origin);
  }

  void seen(const std::string& location, const std::string& fingerprint,
            std::optional<std::string> team = std::nullopt) {
    auto tx = db_->begin(store::TxMode::kWrite);
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE(
        sightings_->seen(**tx, "tls", location, fingerprint, json::object(), team).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }

  std::int64_t told() {
    auto r = service_->evaluate_policy();
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : -1;
  }

  std::int64_t changes() {
    auto r = service_->evaluate();
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? r->raised : -1;
  }

  std::vector<Alert> alerts(std::string_view kind, const ca::Requester& who) {
    auto list = service_->list(1000, std::nullopt, who);
    EXPECT_TRUE(list.has_value());
    std::vector<Alert> out;
    for (auto& a : *list) {
      if (a.kind == kind) out.push_back(std::move(a));
    }
    return out;
  }

  std::optional<inventory::Sightings> sightings_;
  std::optional<policy::PolicyService> policy_;
  AlertSettings settings_alerts_;
  std::optional<AlertService> service_;
};

TEST_F(AlertWatchTest, NewViolationsAreToldOfOnceInOneDigestPerRuleAndTeam) {
  record(days(200), "web");
  record(days(300), "web");
  const std::string ops = record(days(365), "ops");
  record(days(60), "web");  // breaks only the low rule: below the minimum severity
  EXPECT_EQ(told(), 3);
  EXPECT_EQ(told(), 0);
  // A restart (or another replica) tells of nothing again.
  AlertService again(deps());
  auto r = again.evaluate_policy();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0);

  auto all = alerts("policy_violation", admin());
  ASSERT_EQ(all.size(), 2u);  // web's digest and ops'
  for (const auto& a : all) {
    EXPECT_EQ(a.detail["rule"], "max-100");
    EXPECT_EQ(a.severity, "warning");
    ASSERT_EQ(a.deliveries.size(), 1u);
    EXPECT_EQ(a.deliveries[0].channel, "log");
    if (a.team == "ops") {
      EXPECT_EQ(a.detail["count"], 1);
      EXPECT_EQ(a.fingerprint, ops);
    } else {
      EXPECT_EQ(a.team, "web");
      EXPECT_EQ(a.detail["count"], 2);
      EXPECT_EQ(a.detail["violations"].size(), 2u);
    }
  }
  // A team sees its own digest only.
  auto webs = alerts("policy_violation", web());
  ASSERT_EQ(webs.size(), 1u);
  EXPECT_EQ(webs[0].team, "web");

  // A certificate that breaks the rule later is told of in a digest of its own.
  record(days(120), "web");
  EXPECT_EQ(told(), 1);
  EXPECT_EQ(alerts("policy_violation", admin()).size(), 3u);
}

TEST_F(AlertWatchTest, SilencedViolationsWaitForTheSilenceToEnd) {
  const std::string fp = record(days(200), "web");
  SilenceRequest s;
  s.certificate = fp;
  s.until = clock_.now() + days(2);
  ASSERT_TRUE(service_->silence(s, admin()).has_value());
  EXPECT_EQ(told(), 0);
  clock_.advance(days(3));
  EXPECT_EQ(told(), 1);
}

TEST_F(AlertWatchTest, ASeverityThresholdAndTheSwitchAreHonoured) {
  record(days(60), "web");  // breaks the low rule only
  auto s = parse_alert_settings({{"channel", {{{"name", "log"}, {"type", "syslog"}}}},
                                 {"channels", {"log"}},
                                 {"policy_min_severity", "low"}});
  ASSERT_TRUE(s.has_value());
  settings_alerts_ = *s;
  EXPECT_EQ(told(), 1);
  settings_alerts_.policy_alerts = false;
  record(days(70), "web");
  EXPECT_EQ(told(), 0);
}

TEST_F(AlertWatchTest, AnEndpointShowingAnUnknownCertificateIsReportedOnce) {
  const std::string issued = record(days(90), "web", inventory::Origin::kIssued);
  const std::string renewed = record(days(90), "web", inventory::Origin::kIssued);
  const std::string stranger = record(days(90), "web", inventory::Origin::kDiscovered);
  const std::string newcomer = record(days(90), "web", inventory::Origin::kDiscovered);
  seen("10.0.0.1:443#www", issued, "web");
  seen("10.0.0.2:443#api", issued, "web");
  seen("10.0.0.3:443#new", newcomer, "web");  // a place never seen before: not a change
  EXPECT_EQ(changes(), 0);
  clock_.advance(hours(1));
  seen("10.0.0.1:443#www", stranger, "web");  // replaced by one only discovery knows
  seen("10.0.0.2:443#api", renewed, "web");   // replaced by one certward issued: a renewal
  EXPECT_EQ(changes(), 1);
  EXPECT_EQ(changes(), 0);
  AlertService again(deps());
  auto r = again.evaluate();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->raised, 0);

  auto found = alerts("discovery_change", admin());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].fingerprint, stranger);
  EXPECT_EQ(found[0].team, "web");
  EXPECT_EQ(found[0].detail["location"], "10.0.0.1:443#www");
  EXPECT_EQ(found[0].detail["previous_fingerprint"], issued);
  EXPECT_EQ(alerts("discovery_change", web()).size(), 1u);

  // Back to the known certificate and then to the stranger again: that place and certificate
  // were reported already.
  clock_.advance(hours(1));
  seen("10.0.0.1:443#www", issued, "web");
  seen("10.0.0.1:443#www", stranger, "web");
  EXPECT_EQ(changes(), 0);
}

TEST_F(AlertWatchTest, LaterLooksReadOnlyWhatIsNew) {
  const std::string issued = record(days(90), std::nullopt, inventory::Origin::kIssued);
  seen("10.0.0.9:443", issued);
  EXPECT_EQ(changes(), 0);
  // Past the look-out's overlap: a change is still found, since the mark follows the newest
  // sighting read rather than the clock.
  clock_.advance(days(3));
  const std::string stranger = record(days(90), std::nullopt, inventory::Origin::kDiscovered);
  seen("10.0.0.9:443", stranger);
  EXPECT_EQ(changes(), 1);
}

TEST(AlertWatchSettings, MembersAreCheckedAndShown) {
  auto bad_severity = parse_alert_settings({{"policy_min_severity", "urgent"}});
  ASSERT_FALSE(bad_severity.has_value());
  EXPECT_NE(bad_severity.error().message.find("policy_min_severity"), std::string::npos);
  EXPECT_FALSE(parse_alert_settings({{"policy_alerts", "yes"}}).has_value());
  EXPECT_FALSE(parse_alert_settings({{"discovery_channels", {"nowhere"}}}).has_value());
  EXPECT_FALSE(parse_alert_settings({{"policy_interval", "0s"}}).has_value());
  auto s = parse_alert_settings({{"policy_interval", "15m"}, {"discovery_alerts", false}});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  const json shown = alert_settings_json(*s);
  EXPECT_EQ(shown["policy_interval"], "15m");
  EXPECT_EQ(shown["discovery_alerts"], false);
  EXPECT_EQ(shown["policy_min_severity"], "high");
  EXPECT_TRUE(parse_alert_settings(shown).has_value());
}

}  // namespace
}  // namespace certward::lifecycle::alerts
