// Alerts: thresholds scaled by lifetime, escalation, the settings' parser against hostile
// channels, the webhook signature, and the evaluator's exactly-once, silences and deliveries
// over a real database and job queue.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "lifecycle/alerts/evaluator.h"
#include "lifecycle/alerts/sender.h"
#include "lifecycle/reconciler.h"
#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle::alerts {
namespace {

using certward::testing::kT0;
using nlohmann::json;
using std::chrono::days;
using std::chrono::hours;

AlertSettings defaults() {
  auto s = parse_alert_settings(json::object());
  EXPECT_TRUE(s.has_value());
  return *s;
}

TEST(AlertThresholds, A47DayCertificateIsWarnedAtAThirdOfItsLife) {
  const AlertSettings s = defaults();
  const SysTime nb = kT0, na = kT0 + days(47);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(40)), std::nullopt);  // new
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(29)), std::nullopt);  // not at 30 days
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(16)), std::nullopt);  // 47/3 = 15.67 days
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(15)), 30);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(14)), 14);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(10)), 14);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(7)), 7);
  EXPECT_EQ(reached_threshold(s, nb, na, na - hours(20)), 1);
  EXPECT_EQ(reached_threshold(s, nb, na, na + hours(1)), std::nullopt);  // expired
}

TEST(AlertThresholds, A398DayCertificateIsWarnedAtThirtyDays) {
  const AlertSettings s = defaults();
  const SysTime nb = kT0, na = kT0 + days(398);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(31)), std::nullopt);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(30)), 30);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(15)), 30);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(14)), 14);
  EXPECT_EQ(reached_threshold(s, nb, na, na - days(1)), 1);
}

json syslog_channel(const std::string& name, const std::string& socket = "/dev/log") {
  return {{"name", name}, {"type", "syslog"}, {"socket", socket}};
}

json hook(const std::string& name) {
  return {{"name", name},
          {"type", "webhook"},
          {"url", "http://127.0.0.1:9/hook"},
          {"secret", "env:HOOK_SECRET"}};
}

TEST(AlertRules, EscalationAddsChannelsAsExpiryNears) {
  auto s = parse_alert_settings(
      {{"channel", {hook("team"), syslog_channel("oncall"), syslog_channel("pager")}},
       {"channels", {"team"}},
       {"escalation",
        {{{"at_days", 7}, {"channels", {"oncall"}}}, {{"at_days", 1}, {"channels", {"pager"}}}}}});
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(channels_for(*s, 30), (std::vector<std::string>{"team"}));
  EXPECT_EQ(channels_for(*s, 14), (std::vector<std::string>{"team"}));
  EXPECT_EQ(channels_for(*s, 7), (std::vector<std::string>{"team", "oncall"}));
  EXPECT_EQ(channels_for(*s, 1), (std::vector<std::string>{"team", "oncall", "pager"}));
}

TEST(AlertRules, RefusesHostileChannels) {
  auto refused = [](json channel) {
    auto s = parse_alert_settings({{"channel", json::array({std::move(channel)})}});
    EXPECT_FALSE(s.has_value());
    return s ? ErrorCode::kInternal : s.error().code;
  };
  json h = hook("x");
  h["url"] = "file:///etc/passwd";
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  h = hook("x");
  h["url"] = "http://user:pw@example.com/";
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  h = hook("x");
  h["format"] = "discord";
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  h = hook("x");
  h.erase("secret");
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  h = hook("x");
  h["secret"] = "s3cr3t-inline";  // a secret itself, not where it is
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  h = hook("x");
  h["headers"] = json::object();
  EXPECT_EQ(refused(h), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused({{"name", "m"},
                     {"type", "smtp"},
                     {"host", "127.0.0.1"},
                     {"from", "a@example.com"},
                     {"to", {"b@example.com"}},
                     {"username", "u"},
                     {"password", "file:/pw"},
                     {"starttls", "none"}}),
            ErrorCode::kInvalidArgument);  // a password in clear
  EXPECT_EQ(refused({{"name", "Bad Name"}, {"type", "syslog"}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused({{"name", "q"}, {"type", "pigeon"}}), ErrorCode::kInvalidArgument);
  auto unknown = parse_alert_settings({{"channels", {"nowhere"}}});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  auto range = parse_alert_settings({{"thresholds", {30, 0}}});
  ASSERT_FALSE(range.has_value());
  auto fraction = parse_alert_settings({{"lifetime_fraction", 1.5}});
  ASSERT_FALSE(fraction.has_value());
}

TEST(AlertSender, SignsTimestampAndBody) {
  const std::string secret = "whsec-test";
  EXPECT_EQ(webhook_signature(as_bytes(secret), 1735787045, R"({"a":1})"),
            "v1=e211f186fc6397d74b841238abf630dd26342ef929a47c6eac12fb57ea542be8");
  // Another timestamp is another signature: an old request cannot be replayed as new.
  EXPECT_NE(webhook_signature(as_bytes(secret), 1735787046, R"({"a":1})"),
            webhook_signature(as_bytes(secret), 1735787045, R"({"a":1})"));
}

TEST(AlertSender, FormatsForSlackAndTeams) {
  Alert a;
  a.id = "1";
  a.severity = "warning";
  a.kind = "expiry";
  a.message = "certificate 'www' expires";
  auto slack = json::parse(webhook_body(a, WebhookFormat::kSlack));
  EXPECT_TRUE(slack["text"].get<std::string>().find("expires") != std::string::npos);
  auto teams = json::parse(webhook_body(a, WebhookFormat::kTeams));
  EXPECT_EQ(teams["@type"], "MessageCard");
  auto generic = json::parse(webhook_body(a, WebhookFormat::kGeneric));
  EXPECT_EQ(generic["kind"], "expiry");
}

// A local datagram socket standing in for syslog: what the channel sends arrives here.
class SyslogSink {
 public:
  explicit SyslogSink(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~SyslogSink() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int pending() const {
    int n = 0;
    char buf[4096];
    while (::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) ++n;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

SilenceRequest by_certificate(std::string fingerprint, SysTime until) {
  SilenceRequest r;
  r.certificate = std::move(fingerprint);
  r.until = until;
  return r;
}

SilenceRequest by_team(std::string team, SysTime until) {
  SilenceRequest r;
  r.team = std::move(team);
  r.until = until;
  return r;
}

class AlertEvaluatorTest : public testing::ManagedFixture {
 protected:
  void SetUp() override {
    ManagedFixture::SetUp();
    socket_ = (files_.path() / "syslog.sock").string();
    auto s = parse_alert_settings({{"channel", {syslog_channel("log", socket_)}},
                                   {"channels", {"log"}},
                                   {"failure_channels", {"log"}},
                                   {"max_attempts", 2}});
    ASSERT_TRUE(s.has_value()) << s.error().message;
    settings_alerts_ = *s;
    service_.emplace(AlertDeps{clock_, *db_, inventory_, audit_, jobs_, settings_alerts_});
  }

  std::string record(days lifetime, std::optional<std::string> team = std::nullopt) {
    return record_leaf(lifetime, std::move(team));
  }

  std::int64_t raised() {
    auto r = service_->evaluate();
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? r->raised : -1;
  }

  std::vector<Job> lease_deliveries() {
    auto jobs = jobs_.lease("test", {std::string(kDeliverJob)}, 100, std::chrono::seconds(60));
    EXPECT_TRUE(jobs.has_value());
    return jobs ? *jobs : std::vector<Job>{};
  }

  std::string socket_;
  AlertSettings settings_alerts_;
  std::optional<AlertService> service_;
};

TEST_F(AlertEvaluatorTest, RaisesEachThresholdOnceAcrossRestarts) {
  const std::string fp = record(days(90));
  record(days(200));         // far from every threshold
  clock_.advance(days(80));  // 10 days left: threshold 14
  EXPECT_EQ(raised(), 1);
  EXPECT_EQ(raised(), 0);
  // Another process on the same database (a restart, a replica) raises nothing again.
  AlertService again(AlertDeps{clock_, *db_, inventory_, audit_, jobs_, settings_alerts_});
  auto r = again.evaluate();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->raised, 0);
  EXPECT_EQ(lease_deliveries().size(), 1u);
  clock_.advance(days(4));  // 6 days left: threshold 7
  EXPECT_EQ(raised(), 1);
  EXPECT_EQ(raised(), 0);
  auto list = service_->list(100, std::nullopt, admin());
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(list->front().dedupe_key, expiry_dedupe_key(fp, 7));
  EXPECT_EQ(list->back().dedupe_key, expiry_dedupe_key(fp, 14));
  ASSERT_EQ(list->front().deliveries.size(), 1u);
  EXPECT_EQ(list->front().deliveries[0].channel, "log");
}

TEST_F(AlertEvaluatorTest, SilencedCertificatesAndTeamsRaiseNothing) {
  const std::string fp = record(days(90), "web");
  record(days(90), "ops");
  clock_.advance(days(85));
  auto s = service_->silence(by_certificate(fp, clock_.now() + days(2)), web());
  ASSERT_TRUE(s.has_value()) << s.error().message;
  auto t = service_->silence(by_team("ops", clock_.now() + days(2)), admin());
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(raised(), 0);
  clock_.advance(days(3));  // the silences ended: 2 days left, threshold 7
  EXPECT_EQ(raised(), 2);
}

TEST_F(AlertEvaluatorTest, ARequesterMaySilenceOnlyItsOwnTeam) {
  const std::string other = record(days(90), "ops");
  auto cert = service_->silence(by_certificate(other, clock_.now() + days(1)), web());
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code, ErrorCode::kNotFound);
  auto team = service_->silence(by_team("ops", clock_.now() + days(1)), web());
  ASSERT_FALSE(team.has_value());
  EXPECT_EQ(team.error().code, ErrorCode::kUnauthorized);
  auto past = service_->silence(by_team("web", clock_.now() - days(1)), web());
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, ErrorCode::kInvalidArgument);
  auto listed = service_->silences(web());
  ASSERT_TRUE(listed.has_value());
  EXPECT_TRUE(listed->empty());
}

TEST_F(AlertEvaluatorTest, DeliversOnceAndRecordsAFinalFailure) {
  record(days(90));
  clock_.advance(days(89));
  {
    SyslogSink sink(socket_);
    ASSERT_EQ(raised(), 1);
    auto jobs = lease_deliveries();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_TRUE(service_->deliver(jobs[0]).has_value());
    EXPECT_TRUE(jobs_.complete(jobs[0].id, "test").has_value());  // as the scheduler does
    EXPECT_EQ(sink.pending(), 1);
    auto list = service_->list(10, std::nullopt, admin());
    ASSERT_TRUE(list.has_value());
    EXPECT_EQ(list->front().deliveries[0].state, "sent");
  }
  // No one listens any more: the next alert's delivery fails, is retried, then fails for good.
  clock_.advance(hours(12));
  ASSERT_EQ(raised(), 0);  // still threshold 1: already raised
  record(days(30));
  clock_.advance(days(29));
  ASSERT_EQ(raised(), 1);
  auto jobs = lease_deliveries();
  ASSERT_EQ(jobs.size(), 1u);
  Job job = jobs[0];
  EXPECT_FALSE(service_->deliver(job).has_value());
  auto list = service_->list(10, std::nullopt, admin());
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->front().deliveries[0].state, "retrying");
  job.attempts = job.max_attempts;
  EXPECT_FALSE(service_->deliver(job).has_value());
  list = service_->list(10, std::nullopt, admin());
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->front().deliveries[0].state, "failed");
  EXPECT_EQ(list->front().deliveries[0].attempts, 2);
  EXPECT_FALSE(list->front().deliveries[0].last_error.empty());
}

TEST_F(AlertEvaluatorTest, AFailedDeploymentIsSentOnTheFailureChannels) {
  const LifecycleDeps deps{clock_, *db_,  *ra_,     *authorities_, inventory_,       audit_,
                           auth_,  jobs_, wrapper_, settings_,     &settings_alerts_};
  Reconciler reconciler(deps, *deployer_);
  json failing = file_target();
  failing["reload"] = {{"argv", {"/bin/false"}}};
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {failing}}}));
  ASSERT_FALSE(reconciler.reconcile(m.id).has_value());
  SyslogSink sink(socket_);
  auto jobs = lease_deliveries();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(service_->deliver(jobs[0]).has_value());
  EXPECT_EQ(sink.pending(), 1);
  auto list = service_->list(10, std::nullopt, admin());
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().kind, "deploy_failed");
  ASSERT_EQ(list->front().deliveries.size(), 1u);
  EXPECT_EQ(list->front().deliveries[0].state, "sent");
}

}  // namespace
}  // namespace certward::lifecycle::alerts
