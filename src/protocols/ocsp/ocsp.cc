#include "protocols/ocsp/ocsp.h"

#include <algorithm>
#include <string>

#include "common/encoding.h"

namespace certward::protocols::ocsp {
namespace {

constexpr std::string_view kContentType = "application/ocsp-response";

http::Response error(x509::OcspResponseStatus status) {
  const Bytes der = x509::ocsp_error_response(status);
  http::Response r;
  r.body.assign(as_chars(der));
  r.set_header("Content-Type", std::string(kContentType));
  r.set_header("Cache-Control", "no-store");
  return r;
}

http::Response reply(const ca::OcspReply& answer, const http::Request& req, const Clock& clock) {
  http::Response r;
  if (!answer.cacheable || !answer.next_update) {
    r.body = answer.body;
    r.set_header("Content-Type", std::string(kContentType));
    r.set_header("Cache-Control", "no-store");
    return r;
  }
  if (auto tag = req.header("if-none-match"); tag && *tag == answer.etag) {
    r.status = 304;
  } else {
    r.body = answer.body;
    r.set_header("Content-Type", std::string(kContentType));
  }
  const auto max_age =
      std::max<std::int64_t>(0, to_unix(*answer.next_update) - to_unix(clock.now()));
  r.set_header("Last-Modified", http::http_date(to_unix(answer.this_update)));
  r.set_header("Expires", http::http_date(to_unix(*answer.next_update)));
  r.set_header("Cache-Control",
               "max-age=" + std::to_string(max_age) + ", public, no-transform, must-revalidate");
  r.set_header("ETag", answer.etag);
  return r;
}

}  // namespace

std::unique_ptr<http::Router> make_router(ca::OcspResponder& responder, const Clock& clock) {
  auto router = std::make_unique<http::Router>();
  router->add("GET", "/{der...}", [&responder, &clock](http::Request& req) {
    // RFC 6960 A.1: the URL-encoding of the base64 of the DER request. The server has checked
    // the escapes; decode_path cannot fail on them.
    auto text = http::decode_path(req.params.at("der"));
    if (!text || text->size() > kMaxRequestBytes * 4 / 3 + 4) {
      return error(x509::OcspResponseStatus::kMalformedRequest);
    }
    auto der = from_base64(*text);
    if (!der || der->empty()) return error(x509::OcspResponseStatus::kMalformedRequest);
    return reply(*responder.answer(*der), req, clock);
  });
  router->add("POST", "/", [&responder, &clock](http::Request& req) {
    if (req.body.empty() || req.body.size() > kMaxRequestBytes) {
      return error(x509::OcspResponseStatus::kMalformedRequest);
    }
    return reply(*responder.answer(as_bytes(req.body)), req, clock);
  });
  return router;
}

}  // namespace certward::protocols::ocsp
