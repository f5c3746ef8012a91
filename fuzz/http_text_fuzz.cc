// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: the request-target decoding the server runs on every request
// (http::split_target, parse_query, path_segments, percent_decode), the router's matching of
// the raw path (segments, parameters, a rest-of-path parameter under a mounted prefix, the
// Allow list), plus api::is_json_content_type on a Content-Type header value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/body.h"
#include "http/http.h"
#include "http/text_impl.h"

namespace {

const certward::http::Router& router() {
  static const certward::http::Router r = [] {
    certward::http::Handler none = [](certward::http::Request&) {
      return certward::http::Response::text(200, "");
    };
    certward::http::Router proto;
    proto.add("POST", "/", none);
    proto.add("GET", "/{rest...}", none);
    proto.add("GET", "/{label}/enroll", none);
    certward::http::Router out;
    out.add("GET", "/", none);
    out.add("GET", "/api/v1/certificates/{id}", none);
    out.add("GET", "/api/v1/certificates/expiring", none);
    out.add("PATCH", "/api/v1/certificates/{id}", none);
    out.mount("/proto", proto);
    return out;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto split = certward::http::split_target(in)) {
    if (!split->path.empty() && split->path.front() == '/') {
      (void)certward::http::path_segments(split->path);
    }
    (void)certward::http::parse_query(split->raw_query);
  }
  certward::http::Request request;
  request.target = std::string(in);
  (void)router().match("GET", request.raw_path());
  (void)router().allowed_methods(request.raw_path());
  (void)certward::http::percent_decode(in, false);
  (void)certward::http::percent_decode(in, true);
  certward::http::Request req;
  req.headers.emplace_back("content-type", std::string(in));
  (void)certward::api::is_json_content_type(req);
  (void)req.header("Content-Type");
  return 0;
}
