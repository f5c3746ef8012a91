// The dashboard's files as the server gives them: the page and its hashed assets with their
// content types and caching, a strict Content-Security-Policy on every answer (a missing file
// included), and nothing but what the build made.

#include "server/dashboard.h"

#include <gtest/gtest.h>

namespace certward::server {
namespace {

constexpr DashboardAsset kAssets[] = {
    {"/index.html", "text/html; charset=utf-8",
     "<!doctype html><script type=module src=/assets/a-1.js></script>"},
    {"/assets/a-1.js", "text/javascript; charset=utf-8", "console.log(1)"},
    {"/assets/a-1.css", "text/css; charset=utf-8", "body{}"},
};

http::Response get(const http::Router& router, std::string target) {
  http::Request req;
  req.method = "GET";
  req.target = target;
  req.path = target;
  auto match = router.match("GET", target);
  if (match.handler == nullptr) return http::Response::text(404, "unrouted");
  req.params = match.params;
  return (*match.handler)(req);
}

std::string header(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Dashboard, ThePageIsServedAtTheRootAndAskedForEveryTime) {
  auto router = make_dashboard_router(kAssets);
  auto r = get(*router, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kAssets[0].body);
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r, "Content-Security-Policy"), kDashboardCsp);
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
}

TEST(Dashboard, HashedAssetsAreCachedForAYearWithTheirTypes) {
  auto router = make_dashboard_router(kAssets);
  auto js = get(*router, "/assets/a-1.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(header(js, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header(js, "Content-Security-Policy"), kDashboardCsp);
  EXPECT_EQ(header(get(*router, "/assets/a-1.css"), "Content-Type"), "text/css; charset=utf-8");
}

TEST(Dashboard, HeadAnswersWhatGetWouldWithoutTheBody) {
  auto router = make_dashboard_router(kAssets);
  auto match = router->match("HEAD", "/assets/a-1.js");
  ASSERT_NE(match.handler, nullptr);
  http::Request req;
  req.method = "HEAD";
  req.params = match.params;
  auto r = (*match.handler)(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header(r, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(r, "Content-Security-Policy"), kDashboardCsp);
}

TEST(Dashboard, WhatTheBuildDidNotMakeIsNotFoundUnderTheSamePolicy) {
  auto router = make_dashboard_router(kAssets);
  for (const char* path : {"/assets/missing.js", "/assets/..%2Findex.html", "/assets/index.html"}) {
    auto r = get(*router, path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(header(r, "Content-Security-Policy"), kDashboardCsp) << path;
  }
  // Only "/" and "/assets/<file>": other paths are not the dashboard's to answer.
  EXPECT_EQ(router->match("GET", "/index.html").handler, nullptr);
  EXPECT_EQ(router->match("GET", "/assets/a/b.js").handler, nullptr);
}

TEST(Dashboard, TheBuiltDashboardHasItsPageAndEveryFileItNames) {
  const auto assets = dashboard_assets();
  const DashboardAsset* page = nullptr;
  for (const auto& a : assets) {
    if (a.path == "/index.html") page = &a;
  }
  ASSERT_NE(page, nullptr);
  // No inline script: the policy would refuse it.
  EXPECT_EQ(page->body.find("<script>"), std::string_view::npos);
  std::size_t named = 0;
  for (const auto& a : assets) {
    if (a.path == "/index.html") continue;
    EXPECT_TRUE(a.path.starts_with("/assets/")) << a.path;
    if (page->body.find(a.path) != std::string_view::npos) ++named;
  }
  EXPECT_GE(named, 2u);  // the script and the style sheet
}

}  // namespace
}  // namespace certward::server
