// The discovery service over a real database and the real scanners: scans stored and run as
// jobs, the configured bounds (allowed networks and paths) holding for server-run scans,
// recurring scans, and agents' reports in parts, including an agent speaking for another
// agent's scan or outside its roots.
#include "discovery/service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "unit/inventory/fixture.h"
#include "unit/testing/temp_dir.h"

namespace certward::discovery {
namespace {

using inventory::inventory_testing::InventoryTest;

class DiscoveryServiceTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    ASSERT_TRUE(lifecycle::JobQueue::migrate(*db_));
    ASSERT_TRUE(Discovery::migrate(*db_));
    settings_.allowed_paths = {dir_.path().string()};
    settings_.ownership = {{.team = "web", .cidr = {}, .host = {}, .path = "*/web/*"}};
    ASSERT_TRUE(discovery_.check());
  }

  void write(const std::string& rel, const Bytes& der) {
    const auto path = dir_.path() / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    const std::string pem = x509::Certificate::from_der(der)->pem();
    out << pem;
  }

  x509::Certificate leaf_for(std::string cn) const {
    inventory::inventory_testing::LeafSpec spec;
    spec.cn = std::move(cn);
    return leaf(spec);
  }

  static ScanSpec files(std::vector<std::string> paths) {
    ScanSpec s;
    s.kind = "files";
    s.paths = std::move(paths);
    return s;
  }

  static ScanSpec net(std::vector<std::string> targets, std::string ports) {
    ScanSpec s;
    s.kind = "net";
    s.targets = std::move(targets);
    s.ports = std::move(ports);
    s.probe_legacy = false;
    return s;
  }

  certward::testing::TempDir dir_;
  DiscoverySettings settings_;
  inventory::Sightings sightings_{clock_, *db_};
  lifecycle::JobQueue jobs_{clock_, *db_};
  Discovery discovery_{
      DiscoveryDeps{clock_, *db_, inventory_, sightings_, audit_, jobs_, settings_, {}}};
};

TEST_F(DiscoveryServiceTest, SpecsAreParsedStrictly) {
  EXPECT_TRUE(parse_scan_spec({{"kind", "net"}, {"targets", {"127.0.0.1"}}, {"ports", "443"}}));
  EXPECT_TRUE(parse_scan_spec({{"kind", "files"}, {"paths", {"/etc/ssl"}}}));
  for (const nlohmann::json& bad : std::vector<nlohmann::json>{
           nlohmann::json::array(),
           {{"kind", "ftp"}},
           {{"kind", "net"}},
           {{"kind", "net"}, {"targets", nlohmann::json::array()}},
           {{"kind", "net"}, {"targets", {"127.0.0.1"}}, {"paths", {"/x"}}},
           {{"kind", "net"}, {"targets", {"127.0.0.1"}}, {"ports", "99999"}},
           {{"kind", "net"}, {"targets", {"127.0.0.1"}}, {"concurrency", 0}},
           {{"kind", "net"}, {"targets", {1}}},
           {{"kind", "files"}, {"paths", {"relative"}}},
           {{"kind", "files"}, {"paths", {"/etc/../root"}}},
           {{"kind", "files"}, {"paths", {"/etc/ssl"}}, {"passwords", {"x"}}},
       }) {
    auto spec = parse_scan_spec(bad);
    ASSERT_FALSE(spec) << bad.dump();
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << bad.dump();
  }
}

TEST_F(DiscoveryServiceTest, AFileScanRecordsTheTreeAndRunsAsAJob) {
  write("web/site.pem", leaf_for("a.example").der());
  write("other/b.pem", leaf_for("b.example").der());
  auto scan = discovery_.submit(files({dir_.path().string()}), "token:ops");
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_EQ(scan->status, "queued");
  auto leased =
      jobs_.lease("test", {std::string(Discovery::kScanJob)}, 10, std::chrono::seconds(60));
  ASSERT_TRUE(leased);
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ((*leased)[0].payload["scan"], scan->id);
  ASSERT_TRUE(discovery_.run(scan->id));
  auto done = discovery_.get(scan->id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "done");
  EXPECT_EQ(done->report["places"], 2);
  EXPECT_EQ(done->report["new_certificates"].size(), 2u);
  // Ownership by path.
  inventory::SightingFilter f;
  f.team = "web";
  auto web = sightings_.list(f, 10);
  ASSERT_TRUE(web);
  ASSERT_EQ(web->size(), 1u);
  EXPECT_TRUE(web->front().location.ends_with("/web/site.pem"));
  // A second run of the same job changes nothing.
  ASSERT_TRUE(discovery_.run(scan->id));
}

TEST_F(DiscoveryServiceTest, ServerRunScansStayInsideTheirBounds) {
  auto outside = discovery_.submit(files({"/etc"}), "token:ops");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, ErrorCode::kInvalidArgument);
  // A name that climbs out of an allowed root is refused as a spec.
  EXPECT_FALSE(parse_scan_spec({{"kind", "files"}, {"paths", {dir_.path().string() + "/../x"}}}));
  // The CLI's unrestricted local scan may look anywhere.
  write("x.pem", leaf().der());
  EXPECT_TRUE(discovery_.run_here(files({dir_.path().string()}), "local:root", false));

  // 192.0.2.1 (TEST-NET-1) is outside the default allowed networks: reported, never dialled.
  auto scan = discovery_.run_here(net({"192.0.2.1", "127.0.0.1"}, "1"), "local:root", true);
  ASSERT_TRUE(scan) << scan.error().message;
  EXPECT_EQ(scan->report["places"], 2);
  EXPECT_EQ(scan->report["errors"], 2);
  bool refused = false, closed = false;
  for (const auto& r : scan->report["results"]) {
    if (r["address"] == "192.0.2.1") refused = r["error"] == "not in discovery.allowed_networks";
    if (r["address"] == "127.0.0.1") closed = r["error_code"] == "unavailable";
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(closed);
  // Too many endpoints: refused before anything is stored.
  settings_.max_endpoints = 4;
  auto big = discovery_.submit(net({"127.0.0.0/24"}, "443"), "token:ops");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(DiscoveryServiceTest, RecurringScansStartWhenDueOnlyOnce) {
  write("a.pem", leaf().der());
  ASSERT_TRUE(discovery_.create_schedule("nightly", files({dir_.path().string()}),
                                         std::chrono::hours(24), "token:ops"));
  auto dup = discovery_.create_schedule("nightly", files({dir_.path().string()}),
                                        std::chrono::hours(24), "token:ops");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  // Names a URL path would fold away (".", "..") or that start with a dot, and spaces.
  for (const char* bad : {"bad name", ".", "..", ".hidden", "-x", ""}) {
    auto refused =
        discovery_.create_schedule(bad, files({dir_.path().string()}), std::chrono::hours(1), "t");
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(discovery_.create_schedule("v1.2_daily-scan", files({dir_.path().string()}),
                                         std::chrono::hours(1), "t"));
  ASSERT_TRUE(discovery_.delete_schedule("v1.2_daily-scan", "t"));
  EXPECT_EQ(
      discovery_
          .create_schedule("fast", files({dir_.path().string()}), std::chrono::seconds(5), "t")
          .error()
          .code,
      ErrorCode::kInvalidArgument);
  ASSERT_TRUE(discovery_.run_due_schedules());
  ASSERT_TRUE(discovery_.run_due_schedules());  // not due again
  auto scans = discovery_.list(10);
  ASSERT_TRUE(scans);
  ASSERT_EQ(scans->size(), 1u);
  EXPECT_EQ(scans->front().schedule, "nightly");
  clock_.advance(std::chrono::hours(25));
  ASSERT_TRUE(discovery_.run_due_schedules());
  EXPECT_EQ(discovery_.list(10)->size(), 2u);
  ASSERT_TRUE(discovery_.delete_schedule("nightly", "token:ops"));
  EXPECT_EQ(discovery_.delete_schedule("nightly", "token:ops").error().code, ErrorCode::kNotFound);
}

TEST_F(DiscoveryServiceTest, AgentReportsInPartsAndNoAgentSpeaksForAnother) {
  auto obs = [&](std::string path, const x509::Certificate& c) {
    FileObservation o;
    o.host = "ignored";  // the server sets the host the agent reports as
    o.path = std::move(path);
    o.format = "pem";
    o.certificates = {c.der()};
    return o;
  };
  const auto a = leaf_for("a.example");
  const auto b = leaf_for("b.example");
  auto first = discovery_.agent_report({}, "web1", {"/etc/ssl"}, {obs("/etc/ssl/a.pem", a)}, false,
                                       "token:agent1");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->status, "running");
  // Another agent cannot add to it, nor can the same agent as another host.
  EXPECT_EQ(discovery_.agent_report(first->id, "web1", {"/etc/ssl"}, {}, true, "token:agent2")
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_EQ(discovery_.agent_report(first->id, "web2", {"/etc/ssl"}, {}, true, "token:agent1")
                .error()
                .code,
            ErrorCode::kNotFound);
  // Outside its roots, or a host name that is not one.
  EXPECT_EQ(discovery_
                .agent_report(first->id, "web1", {"/etc/ssl"}, {obs("/etc/shadow.pem", b)}, false,
                              "token:agent1")
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      discovery_.agent_report({}, "web1/../x", {"/etc/ssl"}, {}, true, "token:agent1").error().code,
      ErrorCode::kInvalidArgument);
  auto last = discovery_.agent_report(first->id, "web1", {"/etc/ssl"}, {obs("/etc/ssl/b.pem", b)},
                                      true, "token:agent1");
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(last->status, "done");
  EXPECT_EQ(last->report["places"], 2);
  EXPECT_EQ(last->report["new_certificates"].size(), 2u);
  EXPECT_EQ(discovery_.agent_report(first->id, "web1", {"/etc/ssl"}, {}, true, "token:agent1")
                .error()
                .code,
            ErrorCode::kConflict);
  inventory::SightingFilter f;
  f.location_prefix = "web1:/etc/ssl/";
  EXPECT_EQ(sightings_.list(f, 10)->size(), 2u);

  // The next full report without b.pem: gone.
  clock_.advance(std::chrono::hours(1));
  auto again = discovery_.agent_report({}, "web1", {"/etc/ssl"}, {obs("/etc/ssl/a.pem", a)}, true,
                                       "token:agent1");
  ASSERT_TRUE(again);
  ASSERT_EQ(again->report["gone"].size(), 1u);
  EXPECT_EQ(again->report["gone"][0]["location"], "web1:/etc/ssl/b.pem");

  // a.pem unreadable in the first part of the next report: kept through the final part.
  clock_.advance(std::chrono::hours(1));
  FileObservation locked = obs("/etc/ssl/a.pem", a);
  locked.certificates.clear();
  locked.error = Error{ErrorCode::kBadPassword, "no configured password opens it"};
  auto part =
      discovery_.agent_report({}, "web1", {"/etc/ssl"}, {std::move(locked)}, false, "token:agent1");
  ASSERT_TRUE(part) << part.error().message;
  auto done = discovery_.agent_report(part->id, "web1", {"/etc/ssl"}, {}, true, "token:agent1");
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_TRUE(done->report["gone"].empty()) << done->report["gone"].dump();
  EXPECT_EQ(done->report["kept"], nlohmann::json::array({"web1:/etc/ssl/a.pem"}));
  f.location_prefix = "web1:/etc/ssl/a.pem";
  f.active_only = true;
  EXPECT_EQ(sightings_.list(f, 10)->size(), 1u);
}

TEST_F(DiscoveryServiceTest, SchedulesAreCheckedAsScansAre) {
  // Each occurrence would be refused at submit: refused now, and nothing stored.
  settings_.max_endpoints = 4;
  for (const auto& bad : {net({"10.0.0.0/8"}, "443"), net({"not a host"}, "443")}) {
    auto s = discovery_.create_schedule("big", bad, std::chrono::hours(1), "token:ops");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(discovery_.schedules()->empty());
  EXPECT_TRUE(
      discovery_.create_schedule("small", net({"127.0.0.1"}, "443"), std::chrono::hours(1), "t"));
}

TEST_F(DiscoveryServiceTest, AnAgentTokenSpeaksForOneHostOnly) {
  FileObservation o;
  o.path = "/etc/ssl/a.pem";
  o.format = "pem";
  o.certificates = {leaf_for("a.example").der()};
  ASSERT_TRUE(discovery_.agent_report({}, "db1", {"/etc/ssl"}, {o}, true, "token:db1-agent"));
  ASSERT_TRUE(discovery_.agent_report({}, "web1", {"/etc/ssl"}, {}, true, "token:web1-agent"));
  // web1's token, stolen, cannot mark db1's files gone nor add to db1.
  clock_.advance(std::chrono::hours(1));
  auto stolen = discovery_.agent_report({}, "db1", {"/etc/ssl"}, {}, true, "token:web1-agent");
  ASSERT_FALSE(stolen);
  EXPECT_EQ(stolen.error().code, ErrorCode::kUnauthorized);
  inventory::SightingFilter f;
  f.location_prefix = "db1:/etc/ssl/";
  f.active_only = true;
  EXPECT_EQ(sightings_.list(f, 10)->size(), 1u);
  EXPECT_EQ(discovery_.list(10)->size(), 2u);
  // Its own host still works.
  EXPECT_TRUE(discovery_.agent_report({}, "web1", {"/etc/ssl"}, {}, true, "token:web1-agent"));
}

TEST_F(DiscoveryServiceTest, ServerFileScansDoNotLeaveAllowedPathsThroughLinks) {
  certward::testing::TempDir outside;
  {
    std::ofstream out(outside.path() / "secret.pem");
    out << leaf_for("outside.example").pem();
  }
  write("inside/a.pem", leaf_for("inside.example").der());
  std::filesystem::create_directory_symlink(outside.path(), dir_.path() / "root-link");
  std::filesystem::create_directory_symlink(outside.path(), dir_.path() / "inside" / "link");
  const std::string inside = dir_.path().string();

  // A root that is a link out, and a link followed inside an allowed root.
  auto spec = files({inside + "/root-link", inside + "/inside"});
  spec.follow_symlinks = true;
  auto scan = discovery_.submit(spec, "token:ops");
  ASSERT_TRUE(scan) << scan.error().message;
  ASSERT_TRUE(discovery_.run(scan->id));
  auto done = discovery_.get(scan->id);
  ASSERT_TRUE(done);
  ASSERT_EQ(done->status, "done");
  EXPECT_EQ(done->report["new_certificates"].size(), 1u) << done->report.dump();
  EXPECT_EQ(done->report["errors"], 1) << done->report.dump();
  inventory::SightingFilter f;
  f.kind = "file";
  auto seen = sightings_.list(f, 10);
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_TRUE(seen->front().location.ends_with("/inside/a.pem")) << seen->front().location;

  // The local operator's unrestricted scan follows the link as asked.
  auto local = discovery_.run_here(files({inside + "/root-link"}), "local:root", false);
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_EQ(local->report["new_certificates"].size(), 1u);
}

}  // namespace
}  // namespace certward::discovery
