#include <gtest/gtest.h>

#include "reports/reports.h"

namespace certward::reports {
namespace {

ReportRequest request(Kind kind, Format format) {
  ReportRequest r;
  r.kind = kind;
  r.format = format;
  return r;
}

TEST(ReportRequest, OnlyTheCbomKindIsACycloneDxDocument) {
  EXPECT_TRUE(check_request(request(Kind::kCbom, Format::kCbom)).has_value());
  EXPECT_TRUE(check_request(request(Kind::kCbom, Format::kJson)).has_value());
  EXPECT_EQ(check_request(request(Kind::kCbom, Format::kHtml)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(check_request(request(Kind::kPosture, Format::kCbom)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(ReportRequest, WindowIsPositiveAndBounded) {
  auto r = request(Kind::kExpiring, Format::kJson);
  r.window = std::chrono::seconds(0);
  EXPECT_EQ(check_request(r).error().code, ErrorCode::kInvalidArgument);
  r.window = kMaxWindow + std::chrono::days(1);
  EXPECT_EQ(check_request(r).error().code, ErrorCode::kInvalidArgument);
  r.window = std::chrono::days(7);
  EXPECT_TRUE(check_request(r).has_value());
}

TEST(ReportRequest, KindsByName) {
  EXPECT_EQ(*parse_kind("lifetimes"), Kind::kLifetimes);
  EXPECT_EQ(kind_name(Kind::kCbom), "cbom");
  EXPECT_EQ(parse_kind("everything").error().code, ErrorCode::kNotFound);
}

TEST(ScopeToCaller, ARequesterGetsItsOwnTeamWhateverItAsks) {
  const ca::Requester web{.actor = "token:1", .team = "web", .scope = ca::Scope{}};
  auto r = request(Kind::kSummary, Format::kJson);
  ASSERT_TRUE(scope_to_caller(r, web).has_value());
  EXPECT_EQ(r.team, "web");
  r.team = "ops";
  EXPECT_EQ(scope_to_caller(r, web).error().code, ErrorCode::kUnauthorized);
  const ca::Requester teamless{.actor = "token:2", .team = {}, .scope = ca::Scope{}};
  r.team.reset();
  EXPECT_EQ(scope_to_caller(r, teamless).error().code, ErrorCode::kUnauthorized);
}

TEST(ScopeToCaller, AnUnscopedCallerChoosesAnyTeamOrNone) {
  const ca::Requester op{.actor = "token:3", .team = {}, .scope = {}};
  auto r = request(Kind::kSummary, Format::kJson);
  ASSERT_TRUE(scope_to_caller(r, op).has_value());
  EXPECT_FALSE(r.team.has_value());
  r.team = "ops";
  ASSERT_TRUE(scope_to_caller(r, op).has_value());
  EXPECT_EQ(r.team, "ops");
}

}  // namespace
}  // namespace certward::reports
