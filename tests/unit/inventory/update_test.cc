// Metadata updates: owner, team and tags, audited, within an editor's team.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "inventory/inventory.h"
#include "unit/inventory/fixture.h"

namespace certward::inventory {
namespace {

using namespace inventory_testing;  // NOLINT: the shared fixture
using certward::testing::kT0;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;

class InventoryUpdateTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    RecordMeta meta;
    meta.owner = "alice";
    meta.team = "web";
    meta.tags = {"prod", "edge"};
    ASSERT_TRUE(record(cert_, meta));
  }
  Result<CertificateRecord> update(const MetadataUpdate& u) {
    return inventory_.update_metadata(cert_.info().sha256_hex, u, "user:bob");
  }
  x509::Certificate cert_ = leaf();
};

TEST_F(InventoryUpdateTest, ChangesOnlyWhatIsGivenAndAuditsTheDifference) {
  MetadataUpdate u;
  u.owner = "carol";
  u.add_tags = {"PCI", "prod"};
  u.remove_tags = {"edge"};
  auto r = update(u);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->meta.owner, "carol");
  EXPECT_EQ(r->meta.team, "web");
  EXPECT_EQ(r->meta.tags, (std::vector<std::string>{"prod", "pci"}));
  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->meta.owner, "carol");
  EXPECT_EQ((*stored)->meta.tags, r->meta.tags);

  ASSERT_EQ(audit_events(), 1);
  auto events = audit_.list({});
  ASSERT_TRUE(events && events->size() == 1);
  const auto& e = events->front();
  EXPECT_EQ(e.event.action, "certificate.update");
  EXPECT_EQ(e.event.actor, "user:bob");
  EXPECT_EQ(e.event.target_id, cert_.info().sha256_hex);
  EXPECT_EQ(e.event.details["changes"]["owner"]["from"], "alice");
  EXPECT_EQ(e.event.details["changes"]["owner"]["to"], "carol");
  EXPECT_TRUE(e.event.details["changes"].contains("tags"));
  EXPECT_FALSE(e.event.details["changes"].contains("team"));
  EXPECT_TRUE(audit_.verify()->ok);

  // Tags, owner and team can be replaced and cleared; the tag filter sees the new set.
  MetadataUpdate clear;
  clear.owner = "";
  clear.team = "";
  clear.tags = std::vector<std::string>{"Blue"};
  r = update(clear);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->meta.owner);
  EXPECT_FALSE(r->meta.team);
  EXPECT_EQ(r->meta.tags, (std::vector<std::string>{"blue"}));
  Filter f;
  f.tag = "blue";
  EXPECT_EQ(query_fps(f).size(), 1u);
  f.tag = "prod";
  EXPECT_TRUE(query_fps(f).empty());
  EXPECT_EQ(audit_events(), 2);
}

// The editor's team is checked on the row as read under its lock: a certificate that is not
// (or no longer) the team's is absent to it, and it cannot be moved out of the team.
TEST_F(InventoryUpdateTest, TeamScopedEditorsStayInsideTheirTeam) {
  const auto events = certward::testing::count_rows(*db_, "audit_events");
  MetadataUpdate other;
  other.editor_team = "payments";
  other.add_tags = {"mine"};
  auto absent = update(other);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  // Claiming it for the editor's own team is no way in either.
  other.team = "payments";
  absent = update(other);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);

  for (std::string out : {"payments", ""}) {
    MetadataUpdate move;
    move.editor_team = "web";
    move.team = out;
    auto refused = update(move);
    ASSERT_FALSE(refused) << out;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthorized) << out;
  }
  EXPECT_EQ(certward::testing::count_rows(*db_, "audit_events"), events);

  MetadataUpdate own;
  own.editor_team = "web";
  own.team = "web";
  own.add_tags = {"labelled"};
  auto ok = update(own);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->meta.team, "web");
}

TEST_F(InventoryUpdateTest, NoChangeWritesNothing) {
  MetadataUpdate same;
  same.owner = "alice";
  same.add_tags = {"PROD"};
  auto r = update(same);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(audit_events(), 0);
}

TEST_F(InventoryUpdateTest, BadInputChangesNothing) {
  MetadataUpdate bad_tag;
  bad_tag.add_tags = {"has space"};
  MetadataUpdate bad_owner;
  bad_owner.owner = std::string("line\nbreak");
  MetadataUpdate long_team;
  long_team.team = std::string(300, 't');
  for (const MetadataUpdate* u : {&bad_tag, &bad_owner, &long_team}) {
    auto r = update(*u);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  auto missing = inventory_.update_metadata(std::string(64, 'f'), MetadataUpdate{}, "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(audit_events(), 0);
  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->meta.owner, "alice");
  EXPECT_EQ((*stored)->meta.tags, (std::vector<std::string>{"prod", "edge"}));
}

TEST_F(InventoryUpdateTest, ConcurrentTagEditsLoseNothingAndAuditEachStep) {
  // Each edit reads the tags, adds one and writes them back: without a row lock two editors
  // read the same tags and the second write drops the first one's tag (PostgreSQL).
  constexpr int kEditors = 24;
  std::vector<std::thread> editors;
  std::vector<std::optional<Error>> errors(kEditors);
  for (int i = 0; i < kEditors; ++i) {
    editors.emplace_back([&, i] {
      MetadataUpdate u;
      u.add_tags = {"t" + std::to_string(i)};
      auto r = inventory_.update_metadata(cert_.info().sha256_hex, u, "user:" + std::to_string(i));
      if (!r) errors[static_cast<std::size_t>(i)] = r.error();
    });
  }
  for (auto& t : editors) t.join();
  for (const auto& e : errors) EXPECT_FALSE(e.has_value()) << e->message;

  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  const std::vector<std::string>& tags = (*stored)->meta.tags;
  const std::set<std::string> kept(tags.begin(), tags.end());
  EXPECT_EQ(tags.size(), static_cast<std::size_t>(kEditors) + 2);
  EXPECT_TRUE(kept.contains("prod") && kept.contains("edge"));
  for (int i = 0; i < kEditors; ++i) EXPECT_TRUE(kept.contains("t" + std::to_string(i))) << i;

  // One event per edit, in commit order: each one's "from" is the previous one's "to".
  audit::EventFilter f;
  f.newest_first = false;
  f.limit = 1000;
  auto events = audit_.list(f);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kEditors));
  nlohmann::json state = std::vector<std::string>{"prod", "edge"};
  for (const auto& e : *events) {
    const nlohmann::json& change = e.event.details["changes"]["tags"];
    EXPECT_EQ(change["from"], state) << "event " << e.seq;
    EXPECT_EQ(change["to"].size(), change["from"].size() + 1) << "event " << e.seq;
    state = change["to"];
  }
  EXPECT_EQ(state, nlohmann::json(tags));
  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

}  // namespace
}  // namespace certward::inventory
