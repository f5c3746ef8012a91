#include "protocols/ocsp/ocsp.h"

#include <algorithm>
#include <optional>
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

// The DER request of a GET (RFC 6960 A.1: the URL-encoding of its base64), or nullopt.
std::optional<Bytes> get_request(const http::Request& req) {
  // The server has checked the escapes; decode_path cannot fail on them.
  auto text = http::decode_path(req.params.at("der"));
  if (!text || text->size() > kMaxRequestBytes * 4 / 3 + 4) return std::nullopt;
  auto der = from_base64(*text);
  if (!der || der->empty()) return std::nullopt;
  return std::move(*der);
}

bool post_size_ok(const http::Request& req) {
  return !req.body.empty() && req.body.size() <= kMaxRequestBytes;
}

}  // namespace

std::unique_ptr<http::Router> make_router(ca::OcspResponder& responder, const Clock& clock) {
  auto router = std::make_unique<http::Router>();
  // A cached answer is sent from the I/O thread that read the request; anything else (a
  // response to sign, an error) goes to a worker.
  router->add(
      "GET", "/{der...}",
      [&responder, &clock](http::Request& req) {
        auto der = get_request(req);
        if (!der) return error(x509::OcspResponseStatus::kMalformedRequest);
        return reply(*responder.answer(*der), req, clock);
      },
      [&responder, &clock](http::Request& req) -> std::optional<http::Response> {
        auto der = get_request(req);
        if (!der) return std::nullopt;
        auto cached = responder.cached_answer(*der);
        if (!cached) return std::nullopt;
        return reply(*cached, req, clock);
      });
  // GET /ocsp with nothing after it: a request with no bytes.
  router->add("GET", "/",
              [](http::Request&) { return error(x509::OcspResponseStatus::kMalformedRequest); });
  router->add(
      "POST", "/",
      [&responder, &clock](http::Request& req) {
        if (!post_size_ok(req)) return error(x509::OcspResponseStatus::kMalformedRequest);
        return reply(*responder.answer(as_bytes(req.body)), req, clock);
      },
      [&responder, &clock](http::Request& req) -> std::optional<http::Response> {
        if (!post_size_ok(req)) return std::nullopt;
        auto cached = responder.cached_answer(as_bytes(req.body));
        if (!cached) return std::nullopt;
        return reply(*cached, req, clock);
      });
  return router;
}

}  // namespace certward::protocols::ocsp
