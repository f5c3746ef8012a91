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

// A front-end's own routes, relative to where the server mounts them: an OCSP-like responder
// (POST to its root, GET with the request in the path), an EST-like label path.
Router protocol_routes() {
  Router proto;
  proto.add("POST", "/", respond_with("post"));
  proto.add("GET", "/{request...}", respond_with("get"));
  proto.add("GET", "/status", respond_with("status"));
  proto.add("GET", "/{label}/enroll", respond_with("enroll"));
  return proto;
}

TEST(RouterMount, RestParameterGetsTheRawRemainderUnderAMountedPrefix) {
  Router router;
  router.mount("/ocsp", protocol_routes());
  // Base64 with '+', '=' and '/', the '/' escaped as RFC 6960 A.1 asks and once not.
  for (std::string_view rest : {"MEowSDBGMEQwQjAJBgUrDgMCGgUABBQ%2Fa+b%3D%3D",
                                "MEow%2F+/x==", "a%2Fb+c=d", "a%252F%2B%3D", "x/y/"}) {
    auto m = router.match("GET", "/ocsp/" + std::string(rest));
    ASSERT_NE(m.handler, nullptr) << rest;
    EXPECT_EQ(m.route->pattern, "/ocsp/{request...}");
    EXPECT_EQ(m.params.at("request"), rest) << "passed on raw and undecoded";
  }
  // The front-end decodes what it routed raw itself.
  auto m = router.match("GET", "/ocsp/MEow%2FBQ+ab%3D%3D");
  auto decoded = decode_path(m.params.at("request"));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, "MEow/BQ+ab==");
  EXPECT_EQ(decode_path("a%2").error().code, ErrorCode::kMalformed);
  auto root = router.match("POST", "/ocsp");
  ASSERT_NE(root.route, nullptr);
  EXPECT_EQ(root.route->pattern, "/ocsp") << "the protocol's \"/\" is the prefix itself";
  EXPECT_TRUE(root.params.empty());
}

TEST(RouterMount, SegmentParametersStillDecodeOneSegment) {
  Router router;
  router.mount("/.well-known/est", protocol_routes());
  auto m = router.match("GET", "/.well-known/est/caf%C3%A9%2Fa+b%3D/enroll");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/.well-known/est/{label}/enroll");
  EXPECT_EQ(m.params.at("label"), "caf\xC3\xA9/a+b=") << "decoded; an escaped '/' stays inside";
  // Literal segments are compared decoded, and beat a rest parameter.
  m = router.match("GET", "/.well-known/est/st%61tus");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/.well-known/est/status");
  // An escaped '/' does not split a segment: this is one segment, so the rest parameter.
  m = router.match("GET", "/.well-known/est/label%2Fenroll");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/.well-known/est/{request...}");
  EXPECT_EQ(m.params.at("request"), "label%2Fenroll");
}

TEST(RouterMount, UnknownPathsAre404AndOtherMethods405) {
  Router router;
  router.add("GET", "/healthz", respond_with("ok"));
  router.mount("/ocsp", protocol_routes());
  // 405: the path is routed for other methods, listed for the Allow header.
  auto m = router.match("GET", "/ocsp");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(router.allowed_methods("/ocsp"), "POST");
  m = router.match("DELETE", "/ocsp/MEow%2F+=");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(router.allowed_methods("/ocsp/MEow%2F+="), "GET");
  EXPECT_EQ(router.allowed_methods("/ocsp/a/enroll"), "GET");
  // 404: an empty rest, another prefix, a prefix that only starts alike, a bad escape.
  for (std::string_view path :
       {"/ocsp/", "/other/MEow", "/ocspx/MEow", "/ocsp%2FMEow", "/ocsp/a%zz", "/healthz/x"}) {
    m = router.match("GET", path);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_FALSE(m.path_known) << path;
    EXPECT_EQ(router.allowed_methods(path), "") << path;
  }
}

TEST(RouterMount, MountsAtTheRootAndRefusesADuplicateRoute) {
  Router router;
  router.mount("", protocol_routes());
  EXPECT_NE(router.match("POST", "/").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/a%2Fb").params.at("request"), "a%2Fb");
  EXPECT_DEATH(router.mount("", protocol_routes()), "");
  EXPECT_DEATH(router.add("GET", "/{rest...}/x", respond_with("x")), "");
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
  EXPECT_TRUE(r.has_header("x-a"));
  EXPECT_TRUE(r.has_header("CONTENT-TYPE"));
  EXPECT_FALSE(r.has_header("Cache-Control"));
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
