#include "protocols/crl/crl.h"

#include <algorithm>
#include <string>

namespace certward::protocols::crl {
namespace {

constexpr std::string_view kFullSuffix = ".crl";
constexpr std::string_view kDeltaSuffix = "-delta.crl";

http::Response not_found(std::string_view) {
  // The name is not echoed: it is the requester's, decoded.
  http::Response r = http::Response::text(404, "no such CRL\n");
  r.set_header("X-Content-Type-Options", "nosniff");
  return r;
}

http::Response unavailable() {
  http::Response r = http::Response::text(503, "CRLs cannot be read now\n");
  r.set_header("Retry-After", "5");
  return r;
}

http::Response serve(const ca::PublishedCrl& crl, const http::Request& req, const Clock& clock) {
  const auto max_age = std::max<std::int64_t>(0, to_unix(crl.next_update) - to_unix(clock.now()));
  http::Response r;
  if (auto tag = req.header("if-none-match"); tag && *tag == crl.etag) {
    r.status = 304;
  } else {
    r.status = 200;
    r.body.assign(as_chars(crl.der));
    r.set_header("Content-Type", "application/pkix-crl");
  }
  r.set_header("Last-Modified", http::http_date(to_unix(crl.this_update)));
  r.set_header("Expires", http::http_date(to_unix(crl.next_update)));
  r.set_header("Cache-Control", "public, max-age=" + std::to_string(max_age) + ", no-transform");
  r.set_header("ETag", crl.etag);
  return r;
}

}  // namespace

std::unique_ptr<http::Router> make_router(ca::CrlPublisher& publisher, const Clock& clock) {
  auto router = std::make_unique<http::Router>();
  router->add("GET", "/{file}", [&publisher, &clock](http::Request& req) {
    const std::string& file = req.params.at("file");
    if (!file.ends_with(kFullSuffix) || file.size() == kFullSuffix.size()) return not_found(file);
    // "<a>-delta.crl" is the delta CRL of <a>, unless an authority is named "<a>-delta".
    const std::string name = file.substr(0, file.size() - kFullSuffix.size());
    if (ca::check_authority_name(name)) {
      auto full = publisher.current(name, false);
      if (!full) return unavailable();
      if (*full) return serve(**full, req, clock);
    }
    if (file.ends_with(kDeltaSuffix) && file.size() > kDeltaSuffix.size()) {
      const std::string base = file.substr(0, file.size() - kDeltaSuffix.size());
      if (ca::check_authority_name(base)) {
        auto delta = publisher.current(base, true);
        if (!delta) return unavailable();
        if (*delta) return serve(**delta, req, clock);
      }
    }
    return not_found(file);
  });
  return router;
}

}  // namespace certward::protocols::crl
