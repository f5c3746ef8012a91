#include <gtest/gtest.h>

#include <sstream>

#include "reports/reports.h"
#include "unit/inventory/fixture.h"

namespace certward::reports {
namespace {

using inventory::inventory_testing::InventoryTest;
using inventory::inventory_testing::LeafSpec;

class ReportServiceTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    for (int i = 0; i < 3; ++i) {
      LeafSpec spec;
      spec.cn = "h" + std::to_string(i) + ".example.com";
      record(leaf(spec));
    }
  }
  inventory::Sightings sightings_{clock_, *db_};
  ReportService service_{
      Sources{.clock = clock_, .inventory = inventory_, .sightings = sightings_}};
};

// A stream that takes nothing: a response over its cap, a full disk.
class RefusingBuf final : public std::streambuf {
 protected:
  int_type overflow(int_type) override { return traits_type::eof(); }
  std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
};

TEST_F(ReportServiceTest, AReportThatCannotBeWrittenIsAnError) {
  for (Kind kind : {Kind::kExpiring, Kind::kSummary, Kind::kLifetimes, Kind::kCbom}) {
    RefusingBuf buf;
    std::ostream out(&buf);
    ReportRequest r;
    r.kind = kind;
    r.format = kind == Kind::kCbom ? Format::kCbom : Format::kCsv;
    const Status s = service_.write(r, out);
    ASSERT_FALSE(s.has_value()) << kind_name(kind);
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << kind_name(kind);
  }
}

TEST_F(ReportServiceTest, AWrittenReportIsWhole) {
  std::ostringstream out;
  ReportRequest r;
  r.kind = Kind::kSummary;
  ASSERT_TRUE(service_.write(r, out).has_value());
  EXPECT_EQ(nlohmann::json::parse(out.str())["sections"]["totals"][0]["certificates"], 3);
}

// The lifetime maxima bind subscriber certificates: a CA certificate in the inventory is not
// simulated (nor counted as breaking).
TEST_F(ReportServiceTest, TheLifetimeSimulationLeavesCaCertificatesOut) {
  ASSERT_TRUE(record(ca_.cert()));
  std::ostringstream out;
  ReportRequest r;
  r.kind = Kind::kLifetimes;
  ASSERT_TRUE(service_.write(r, out).has_value());
  const auto teams = nlohmann::json::parse(out.str())["sections"]["teams"];
  ASSERT_FALSE(teams.empty());
  EXPECT_EQ(teams.back()["team"], "(all)");
  EXPECT_EQ(teams.back()["certificates"], 3);
}

TEST_F(ReportServiceTest, CertificatesFromAnAutomatedChannelAreRenewedWithoutAPerson) {
  // Beside the three manual ones of SetUp: one from each automated channel, one from a person's
  // channels (not automated whatever it is), and one tagged by its owner.
  int n = 0;
  auto add = [&](std::optional<std::string> channel, std::vector<std::string> tags = {}) {
    LeafSpec spec;
    spec.cn = "c" + std::to_string(n++) + ".example.com";
    inventory::RecordMeta meta;
    meta.origin = inventory::Origin::kIssued;
    meta.channel = std::move(channel);
    meta.tags = std::move(tags);
    ASSERT_TRUE(record(leaf(spec), meta));
  };
  for (const char* c : {"acme", "est", "scep", "cmp", "renewal"}) add(c);
  for (const char* c : {"rest", "cli", "dashboard", "system"}) add(c);
  add(std::nullopt, {"automated"});
  add("acme", {"manual"});  // its client was retired: a person renews it now

  std::ostringstream out;
  ReportRequest r;
  r.kind = Kind::kPosture;
  ASSERT_TRUE(service_.write(r, out).has_value());
  const auto totals = nlohmann::json::parse(out.str())["sections"]["totals"][0];
  EXPECT_EQ(totals["certificates"], 14);
  EXPECT_EQ(totals["renewed_automatically"], 6);
  EXPECT_EQ(totals["needs_person"], 8);
}

}  // namespace
}  // namespace certward::reports
