// The errors every front-end answers with: one ErrorCode -> status mapping and one
// problem+json shape.

#include "http/problem.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace certward::http {
namespace {

TEST(Problems, MapEveryErrorCodeToItsStatus) {
  const std::pair<ErrorCode, int> cases[] = {
      {ErrorCode::kMalformed, 400},    {ErrorCode::kBadSignature, 400},
      {ErrorCode::kBadPassword, 400},  {ErrorCode::kInvalidArgument, 400},
      {ErrorCode::kUnauthorized, 403}, {ErrorCode::kNotFound, 404},
      {ErrorCode::kConflict, 409},     {ErrorCode::kPolicyRejected, 422},
      {ErrorCode::kUnavailable, 503},  {ErrorCode::kInternal, 500}};
  for (const auto& [code, status] : cases) {
    EXPECT_EQ(http_status_for(code), status);
    const auto r = problem_for({code, "detail text"});
    EXPECT_EQ(r.status, status);
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["status"], status);
    EXPECT_EQ(body["code"], error_code_name(code));
    EXPECT_EQ(body["type"], "urn:certward:problem:" + std::string(error_code_name(code)));
  }
}

TEST(Problems, InternalErrorsHideTheirDetail) {
  const auto body = nlohmann::json::parse(
      problem_for({ErrorCode::kInternal, "sqlite: disk I/O at /secret"}).body);
  EXPECT_EQ(body["detail"], "internal error");
  const auto store = nlohmann::json::parse(
      problem_for({ErrorCode::kUnavailable, "store: SELECT x FROM secrets failed"}).body);
  EXPECT_EQ(store["detail"], "the database is unavailable");
  const auto conflict = nlohmann::json::parse(
      problem_for({ErrorCode::kConflict, "store: UNIQUE constraint failed: t.c"}).body);
  EXPECT_EQ(conflict["detail"], "the request conflicts with an existing record");
}

TEST(Problems, StatedProblemsCarryTypeAndCode) {
  const auto r = problem(401, "Unauthorized", "unauthorized", "no token", "unauthenticated");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.front().second, "application/problem+json");
  EXPECT_EQ(r.body,
            R"({"code":"unauthorized","detail":"no token","status":401,"title":"Unauthorized",)"
            R"("type":"urn:certward:problem:unauthenticated"})");
  const auto same = nlohmann::json::parse(problem(404, "Not Found", "not_found", "x").body);
  EXPECT_EQ(same["type"], "urn:certward:problem:not_found");
  EXPECT_EQ(same["code"], "not_found");
}

}  // namespace
}  // namespace certward::http
