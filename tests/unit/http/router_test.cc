#include <gtest/gtest.h>

#include "http/http.h"

namespace certward::http {
namespace {

Handler respond_with(std::string body) {
  return [body](Request&) { return Response::text(200, body); };
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router router;
  router.add("GET", "/api/v1/certificates/{id}", respond_with("one"));
  router.add("GET", "/api/v1/certificates", respond_with("list"));
  auto m = router.match("GET", "/api/v1/certificates/abc");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/certificates/{id}");
  EXPECT_EQ(m.params.at("id"), "abc");
  m = router.match("GET", "/api/v1/certificates");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/v1/certificates");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, RequiresExactSegmentCountAndNonEmptyParameters) {
  Router router;
  router.add("GET", "/a/{x}", respond_with("x"));
  EXPECT_EQ(router.match("GET", "/a").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/a/").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/a/b/c").handler, nullptr);
  EXPECT_EQ(router.match("GET", "a/b").handler, nullptr);
  EXPECT_NE(router.match("GET", "/a/b").handler, nullptr);
}

TEST(Router, PrefersLiteralSegmentsOverParameters) {
  Router router;
  router.add("GET", "/certs/{id}", respond_with("id"));
  router.add("GET", "/certs/expiring", respond_with("expiring"));
  auto m = router.match("GET", "/certs/expiring");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/certs/expiring");
}

TEST(Router, ReportsKnownPathForOtherMethod) {
  Router router;
  router.add("POST", "/items", respond_with("created"));
  auto m = router.match("GET", "/items");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_known);
  m = router.match("GET", "/nothing");
  EXPECT_FALSE(m.path_known);
}

TEST(Router, MatchesRoot) {
  Router router;
  router.add("GET", "/", respond_with("root"));
  EXPECT_NE(router.match("GET", "/").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/x").handler, nullptr);
}

TEST(Response, ProblemIsRfc7807Json) {
  Response r = Response::problem(404, "Not Found", "no \"such\" thing");
  EXPECT_EQ(r.status, 404);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "application/problem+json");
  EXPECT_EQ(
      r.body,
      R"({"detail":"no \"such\" thing","status":404,"title":"Not Found","type":"about:blank"})");
}

TEST(Response, SetHeaderReplacesCaseInsensitively) {
  Response r = Response::json(200, "{}");
  r.set_header("content-type", "application/x");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "application/x");
  r.set_header("X-A", "1");
  EXPECT_EQ(r.headers.size(), 2u);
}

TEST(Request, HeaderAndQueryLookups) {
  Request req;
  req.headers = {{"content-type", "a"}, {"x-id", "1"}, {"x-id", "2"}};
  req.query = {{"k", "v1"}, {"k", "v2"}};
  EXPECT_EQ(req.header("X-ID"), "1");
  EXPECT_EQ(req.header("absent"), std::nullopt);
  EXPECT_EQ(req.query_value("k"), "v1");
  EXPECT_EQ(req.query_value("z"), std::nullopt);
}

}  // namespace
}  // namespace certward::http
