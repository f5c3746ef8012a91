#include "ca/hierarchy.h"

#include <gtest/gtest.h>

#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

class HierarchyTest : public testing::CaFixture {
 protected:
  AuthorityRequest issuing(std::string name) {
    AuthorityRequest r;
    r.name = std::move(name);
    r.kind = AuthorityKind::kIntermediate;
    r.parent = "root";
    r.subject = "CN=" + r.name;
    return r;
  }
};

TEST_F(HierarchyTest, PathLengthIsBetweenZeroAndSixteen) {
  for (int bad : {-1, kMaxPathLength + 1, 1000}) {
    AuthorityRequest r = issuing("bad");
    r.path_length = bad;
    const auto inv = inventory_count();
    const auto events = audit_count();
    expect_refused(create_authority(*ra_, *authorities_, r, admin_), ErrorCode::kInvalidArgument,
                   inv, events);
    r.kind = AuthorityKind::kRoot;
    r.parent.reset();
    expect_refused(create_authority(*ra_, *authorities_, r, admin_), ErrorCode::kInvalidArgument,
                   inv, events);
  }
  AuthorityRequest deep;
  deep.name = "deep-root";
  deep.kind = AuthorityKind::kRoot;
  deep.subject = "CN=Deep Root";
  deep.path_length = kMaxPathLength;
  auto made = create_authority(*ra_, *authorities_, deep, admin_);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_EQ(made->certificate.info().basic_constraints->path_length, kMaxPathLength);
}

TEST_F(HierarchyTest, ParentsAreRequiredExactlyForSubordinates) {
  AuthorityRequest root_with_parent = issuing("r");
  root_with_parent.kind = AuthorityKind::kRoot;
  auto a = create_authority(*ra_, *authorities_, root_with_parent, admin_);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
  AuthorityRequest orphan = issuing("o");
  orphan.parent.reset();
  auto b = create_authority(*ra_, *authorities_, orphan, admin_);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HierarchyTest, ASubordinateRecordsTheChannelItWasAskedThrough) {
  AuthorityRequest r = issuing("via-rest");
  r.channel = Channel::kRest;
  auto made = create_authority(*ra_, *authorities_, r, admin_);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  auto record = inventory_.get(made->certificate.info().sha256_hex);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->meta.channel, "rest");
}

TEST_F(HierarchyTest, SubtreesAreParsedLikeNames) {
  AuthorityRequest r = issuing("team");
  r.permitted = {"dns:Team.Example.com", "ip:10.0.0.0/8", "email:.example.com"};
  r.excluded = {"dns:secret.team.example.com"};
  auto made = create_authority(*ra_, *authorities_, r, admin_);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  const auto& nc = made->certificate.info().name_constraints;
  ASSERT_TRUE(nc.has_value());
  EXPECT_EQ(nc->permitted, (std::vector<std::string>{"DNS:team.example.com", "IP:10.0.0.0/8",
                                                     "email:.example.com"}));
  // Text that is no domain cannot reach the extension's configuration string.
  for (std::string_view bad :
       {"dns:a.example,excluded;DNS:b.example", "dns:*.example.com", "uri:a b", "ip:10.0.0.0"}) {
    AuthorityRequest b = issuing("bad");
    b.permitted = {std::string(bad)};
    auto refused = create_authority(*ra_, *authorities_, b, admin_);
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace certward::ca
