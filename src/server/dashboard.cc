#include "server/dashboard.h"

#include <string>
#include <unordered_map>

namespace certward::server {
namespace {

http::Response with_headers(http::Response r) {
  r.set_header("Content-Security-Policy", std::string(kDashboardCsp));
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Referrer-Policy", "no-referrer");
  r.set_header("X-Frame-Options", "DENY");
  r.set_header("Cross-Origin-Opener-Policy", "same-origin");
  r.set_header("Cross-Origin-Resource-Policy", "same-origin");
  return r;
}

http::Response asset_response(const DashboardAsset& a, bool hashed) {
  http::Response r;
  r.status = 200;
  r.body = std::string(a.body);
  r.set_header("Content-Type", std::string(a.content_type));
  // Vite names every asset after a hash of its content: a new build is new names, so an asset
  // never changes under its name. The page that names them must be asked for every time.
  r.set_header("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
  return with_headers(std::move(r));
}

http::Response not_found() {
  return with_headers(http::Response::problem(404, "Not Found", "no such dashboard file"));
}

}  // namespace

std::unique_ptr<http::Router> make_dashboard_router(std::span<const DashboardAsset> assets) {
  auto by_path = std::make_shared<std::unordered_map<std::string_view, const DashboardAsset*>>();
  for (const auto& a : assets) by_path->emplace(a.path, &a);
  auto router = std::make_unique<http::Router>();
  auto page = [by_path](http::Request&) {
    auto it = by_path->find("/index.html");
    return it == by_path->end() ? not_found() : asset_response(*it->second, /*hashed=*/false);
  };
  auto asset = [by_path](http::Request& req) {
    auto it = by_path->find("/assets/" + req.params["file"]);
    return it == by_path->end() ? not_found() : asset_response(*it->second, /*hashed=*/true);
  };
  // HEAD answers what GET would, without the body (RFC 9110 9.3.2).
  auto head = [](auto get) {
    return [get](http::Request& req) {
      http::Response r = get(req);
      r.body.clear();
      return r;
    };
  };
  router->add("GET", "/", page);
  router->add("GET", "/assets/{file}", asset);
  router->add("HEAD", "/", head(page));
  router->add("HEAD", "/assets/{file}", head(asset));
  return router;
}

}  // namespace certward::server
