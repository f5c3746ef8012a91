// The recorder over a real database: what a place shows becomes inventory rows and sightings,
// a place showing something else is "changed" and what it no longer shows "gone", a place that
// fails keeps its sightings, odd certificates are recorded with their oddities, and a file scan
// knows the files that vanished from its roots.
#include "discovery/recorder.h"

#include <gtest/gtest.h>

#include "unit/inventory/fixture.h"
#include "unit/testing/faulty_database.h"
#include "unit/x509/test_certs.h"

namespace certward::discovery {
namespace {

using inventory::inventory_testing::InventoryTest;
using inventory::inventory_testing::LeafSpec;

class RecorderTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    auto own = Ownership::make({{.team = "web", .cidr = "127.0.0.0/8", .host = {}, .path = {}},
                                {.team = "ops", .cidr = {}, .host = {}, .path = "/srv/ops/*"}});
    ASSERT_TRUE(own) << own.error().message;
    ownership_ = *own;
  }

  Recorder recorder(ScanScope scope) {
    return Recorder(clock_, *db_, inventory_, sightings_, audit_, std::move(scope),
                    RecorderOptions{.actor = "token:test",
                                    .ownership = ownership_,
                                    .expiring_window = std::chrono::days(30),
                                    .batch = 2});
  }

  static TlsObservation tls(std::vector<Bytes> chain, std::optional<Error> error = {}) {
    TlsObservation o;
    o.endpoint = Endpoint{.host = "a.example",
                          .address = "127.0.0.1",
                          .port = 443,
                          .sni = "a.example",
                          .starttls = ""};
    o.chain = std::move(chain);
    o.tls_version = "TLSv1.3";
    o.error = std::move(error);
    return o;
  }

  static FileObservation file(std::string path, std::vector<Bytes> certs) {
    FileObservation f;
    f.host = "web1";
    f.path = std::move(path);
    f.format = "pem";
    f.certificates = std::move(certs);
    return f;
  }

  std::vector<inventory::Sighting> sightings(std::optional<std::string> fp = {}) {
    inventory::SightingFilter f;
    f.fingerprint = std::move(fp);
    auto list = sightings_.list(f, 1000);
    CW_CHECK(list.has_value());
    return *list;
  }

  inventory::Sightings sightings_{clock_, *db_};
  Ownership ownership_;
};

TEST_F(RecorderTest, EndpointsBecomeInventoryRowsAndSightings) {
  const auto a = leaf({.cn = "a.example"});
  auto r = recorder({.kind = "net", .host = {}, .roots = {}});
  ASSERT_TRUE(r.add(tls({a.der(), ca_.cert().der()})));
  TlsObservation down = tls({}, Error{ErrorCode::kUnavailable, "connection refused"});
  down.endpoint.port = 8443;
  ASSERT_TRUE(r.add(std::move(down)));
  auto report = r.finish();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->places, 2);
  EXPECT_EQ(report->reachable, 1);
  EXPECT_EQ(report->errors, 1);
  EXPECT_EQ(report->certificates, 2);
  EXPECT_EQ(report->new_certificates,
            (std::vector<std::string>{a.info().sha256_hex, ca_.cert().info().sha256_hex}));
  ASSERT_EQ(report->results.size(), 2u);
  EXPECT_EQ(report->results[1]["error"], "connection refused");

  auto rec = inventory_.get(a.info().sha256_hex);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->meta.origin, inventory::Origin::kDiscovered);
  EXPECT_EQ((*rec)->meta.team, "web");
  const auto seen = sightings(a.info().sha256_hex);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, "tls");
  EXPECT_EQ(seen[0].location, "127.0.0.1:443#a.example");
  EXPECT_EQ(seen[0].details["role"], "leaf");
  EXPECT_EQ(seen[0].details["tls_version"], "TLSv1.3");
  EXPECT_EQ(seen[0].team, "web");
  EXPECT_TRUE(seen[0].active());
  EXPECT_EQ(certward::testing::count_rows(*db_, "audit_events"), 1);
}

TEST_F(RecorderTest, AFailedBatchLeavesTheReportAsTheLastCommittedOneLeftIt) {
  certward::testing::FaultyDatabase faulty(*db_);
  Recorder r(clock_, faulty, inventory_, sightings_, audit_,
             {.kind = "net", .host = {}, .roots = {}},
             RecorderOptions{.actor = "token:test",
                             .ownership = ownership_,
                             .expiring_window = std::chrono::days(30),
                             .batch = 2});
  const auto a = leaf({.cn = "a.example"});
  const auto b = leaf({.cn = "b.example"});
  ASSERT_TRUE(r.add(tls({a.der(), ca_.cert().der()})));
  TlsObservation down = tls({}, Error{ErrorCode::kUnavailable, "connection refused"});
  down.endpoint.port = 8443;
  ASSERT_TRUE(r.add(std::move(down)));  // the batch of two is written
  faulty.fail_commits(1);
  TlsObservation other = tls({b.der(), ca_.cert().der()});
  other.endpoint.port = 9443;
  ASSERT_TRUE(r.add(std::move(other)));
  TlsObservation again = tls({}, Error{ErrorCode::kUnavailable, "connection refused"});
  again.endpoint.port = 10443;
  EXPECT_FALSE(r.add(std::move(again)));  // its commit fails
  faulty.heal();
  auto report = r.checkpoint();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->places, 2);
  EXPECT_EQ(report->reachable, 1);
  EXPECT_EQ(report->errors, 1);
  EXPECT_EQ(report->certificates, 2);
  EXPECT_EQ(report->new_certificates,
            (std::vector<std::string>{a.info().sha256_hex, ca_.cert().info().sha256_hex}));
  ASSERT_EQ(report->results.size(), 2u);
  EXPECT_EQ(report->results[0]["leaf"], a.info().sha256_hex);
  EXPECT_TRUE(sightings(b.info().sha256_hex).empty());
}

TEST_F(RecorderTest, FlushSomeWritesWhatIsBufferedBeforeABatchFills) {
  const auto a = leaf({.cn = "a.example"});
  Recorder r(clock_, *db_, inventory_, sightings_, audit_, {.kind = "net", .host = {}, .roots = {}},
             RecorderOptions{.actor = "token:test",
                             .ownership = ownership_,
                             .expiring_window = std::chrono::days(30),
                             .batch = 16});
  ASSERT_TRUE(r.add(tls({a.der(), ca_.cert().der()})));
  ASSERT_TRUE(r.flush_some());  // one place is less than an eighth of 16: kept buffered
  EXPECT_TRUE(sightings(a.info().sha256_hex).empty());
  TlsObservation second = tls({a.der(), ca_.cert().der()});
  second.endpoint.port = 8443;
  ASSERT_TRUE(r.add(std::move(second)));
  ASSERT_TRUE(r.flush_some());  // two are an eighth: written
  EXPECT_EQ(sightings(a.info().sha256_hex).size(), 2u);
  auto report = r.finish();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->places, 2);
}

TEST_F(RecorderTest, AnotherCertificateIsChangedAndTheOldOneGoneButAFailureKeepsSightings) {
  const auto a = leaf({.cn = "a.example"});
  const auto b = leaf({.cn = "a.example"});
  {
    auto r = recorder({.kind = "net", .host = {}, .roots = {}});
    ASSERT_TRUE(r.add(tls({a.der(), ca_.cert().der()})));
    ASSERT_TRUE(r.finish());
  }
  clock_.advance(std::chrono::hours(1));
  {
    auto r = recorder({.kind = "net", .host = {}, .roots = {}});
    ASSERT_TRUE(r.add(tls({b.der(), ca_.cert().der()})));
    auto report = r.finish();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->new_certificates, std::vector<std::string>{b.info().sha256_hex});
    ASSERT_EQ(report->changed.size(), 1u);
    EXPECT_EQ(report->changed[0].from, a.info().sha256_hex);
    EXPECT_EQ(report->changed[0].to, b.info().sha256_hex);
    ASSERT_EQ(report->gone.size(), 1u);
    EXPECT_EQ(report->gone[0].fingerprint, a.info().sha256_hex);
  }
  EXPECT_FALSE(sightings(a.info().sha256_hex)[0].active());
  EXPECT_TRUE(sightings(b.info().sha256_hex)[0].active());
  EXPECT_TRUE(sightings(ca_.cert().info().sha256_hex)[0].active());
  {
    auto r = recorder({.kind = "net", .host = {}, .roots = {}});
    ASSERT_TRUE(r.add(tls({}, Error{ErrorCode::kUnavailable, "handshake timed out"})));
    auto report = r.finish();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->gone.empty());
    EXPECT_TRUE(report->changed.empty());
  }
  EXPECT_TRUE(sightings(b.info().sha256_hex)[0].active());
  // Back to the first: it returns, the second goes.
  {
    auto r = recorder({.kind = "net", .host = {}, .roots = {}});
    ASSERT_TRUE(r.add(tls({a.der(), ca_.cert().der()})));
    auto report = r.finish();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->new_certificates.empty());
    ASSERT_EQ(report->gone.size(), 1u);
    EXPECT_EQ(report->gone[0].fingerprint, b.info().sha256_hex);
  }
  EXPECT_TRUE(sightings(a.info().sha256_hex)[0].active());
}

TEST_F(RecorderTest, FilesThatVanishFromAScannedRootAreGone) {
  const auto a = leaf({.cn = "a.example"});
  const auto b = leaf({.cn = "b.example"});
  const auto c = leaf({.cn = "c.example"});
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    ASSERT_TRUE(r.add(file("/srv/a.pem", {a.der()})));
    ASSERT_TRUE(r.add(file("/srv/ops/b.pem", {b.der()})));
    ASSERT_TRUE(r.add(file("/srv2/c.pem", {c.der()})));  // outside the root, as far as names go
    ASSERT_TRUE(r.finish());
  }
  EXPECT_EQ(sightings(b.info().sha256_hex)[0].team, "ops");
  clock_.advance(std::chrono::minutes(5));
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    ASSERT_TRUE(r.add(file("/srv/a.pem", {a.der()})));
    auto report = r.finish();
    ASSERT_TRUE(report);
    ASSERT_EQ(report->gone.size(), 1u);
    EXPECT_EQ(report->gone[0].location, "web1:/srv/ops/b.pem");
  }
  EXPECT_TRUE(sightings(a.info().sha256_hex)[0].active());
  EXPECT_FALSE(sightings(b.info().sha256_hex)[0].active());
  EXPECT_TRUE(sightings(c.info().sha256_hex)[0].active());  // /srv2 is not under /srv
}

// Times are whole seconds: a scan that starts in the second the previous one ended must still
// tell the files it saw from those it did not.
TEST_F(RecorderTest, AFileGoneBetweenScansInTheSameSecondIsGone) {
  const auto a = leaf({.cn = "a.example"});
  const auto b = leaf({.cn = "b.example"});
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    ASSERT_TRUE(r.add(file("/srv/a.pem", {a.der()})));
    ASSERT_TRUE(r.add(file("/srv/b.pem", {b.der()})));
    ASSERT_TRUE(r.finish());
  }
  auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
  ASSERT_TRUE(r.add(file("/srv/a.pem", {a.der()})));
  auto report = r.finish();
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->gone.size(), 1u);
  EXPECT_EQ(report->gone[0].location, "web1:/srv/b.pem");
  EXPECT_TRUE(sightings(a.info().sha256_hex)[0].active());
  EXPECT_FALSE(sightings(b.info().sha256_hex)[0].active());
}

// A file that is there but cannot be read this time (no configured password opens it) is not
// a file that vanished: its sightings stay until it is read again or is really gone.
TEST_F(RecorderTest, AFileThatCannotBeReadKeepsItsSightings) {
  const auto a = leaf({.cn = "a.example"});
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    ASSERT_TRUE(r.add(file("/srv/a.p12", {a.der()})));
    ASSERT_TRUE(r.finish());
  }
  clock_.advance(std::chrono::minutes(5));
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    FileObservation locked = file("/srv/a.p12", {});
    locked.format = "pkcs12";
    locked.error = Error{ErrorCode::kBadPassword, "no configured password opens the PKCS#12"};
    ASSERT_TRUE(r.add(std::move(locked)));
    auto report = r.finish();
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->gone.empty());
    EXPECT_EQ(report->kept, std::vector<std::string>{"web1:/srv/a.p12"});
  }
  EXPECT_TRUE(sightings(a.info().sha256_hex)[0].active());
  clock_.advance(std::chrono::minutes(5));
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}});
    auto report = r.finish();  // the file is no longer there
    ASSERT_TRUE(report);
    ASSERT_EQ(report->gone.size(), 1u);
    EXPECT_EQ(report->gone[0].location, "web1:/srv/a.p12");
    EXPECT_TRUE(report->kept.empty());
  }
  EXPECT_FALSE(sightings(a.info().sha256_hex)[0].active());
}

TEST_F(RecorderTest, OddAndExpiredCertificatesInFilesAreRecordedWithFindings) {
  namespace xt = x509::testing;
  const auto key = xt::test_key();
  const Bytes odd =
      xt::der_of(xt::make_x509({.subject = "/CN=odd.example",
                                .extensions = {{NID_subject_alt_name, "DNS:a.example"},
                                               {NID_subject_alt_name, "DNS:b.example"}}},
                               key.get(), nullptr, key.get())
                     .get());
  const auto expired =
      leaf({.cn = "old.example",
            .not_before = inventory::inventory_testing::kNow - std::chrono::days(100),
            .not_after = inventory::inventory_testing::kNow - std::chrono::days(1)});
  auto r = recorder({.kind = "files", .host = "web1", .roots = {"/etc/ssl"}});
  ASSERT_TRUE(r.add(file("/etc/ssl/odd.pem", {odd})));
  ASSERT_TRUE(r.add(file("/etc/ssl/old.pem", {expired.der()})));
  auto report = r.finish();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->new_certificates.size(), 2u);
  EXPECT_EQ(report->findings[Severity::kCritical], 1);  // expired
  const auto odd_fp = to_hex(crypto::sha256(odd));
  auto rec = inventory_.get(odd_fp);
  ASSERT_TRUE(rec && *rec);
  ASSERT_FALSE((*rec)->oddities.empty());
  EXPECT_EQ((*rec)->oddities[0].code, "duplicate_extension");
  bool noted = false;
  for (const auto& f : report->results[0]["findings"]) noted |= f["code"] == "duplicate_extension";
  EXPECT_TRUE(noted);
}

TEST_F(RecorderTest, AScanThatStoppedShortMarksNoFileGone) {
  inventory::inventory_testing::LeafSpec spec;
  spec.cn = "a.example";
  const auto a = leaf(spec);
  {
    auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}, .since = {}});
    ASSERT_TRUE(r.add(file("/srv/a.pem", {a.der()})));
    ASSERT_TRUE(r.finish());
  }
  clock_.advance(std::chrono::minutes(5));
  auto r = recorder({.kind = "files", .host = "web1", .roots = {"/srv"}, .since = {}});
  r.stopped_short();  // its file cap ended the walk before /srv/a.pem
  auto report = r.finish();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->gone.empty());
  EXPECT_TRUE(sightings(a.info().sha256_hex)[0].active());
}

}  // namespace
}  // namespace certward::discovery
