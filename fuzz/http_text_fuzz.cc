// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: the request-target decoding the server runs on every request
// (http::split_target, parse_query, path_segments, percent_decode), plus
// api::is_json_content_type on a Content-Type header value.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/body.h"
#include "http/text_impl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto split = certward::http::split_target(in)) {
    if (!split->path.empty() && split->path.front() == '/') {
      (void)certward::http::path_segments(split->path);
    }
    (void)certward::http::parse_query(split->raw_query);
  }
  (void)certward::http::percent_decode(in, false);
  (void)certward::http::percent_decode(in, true);
  certward::http::Request req;
  req.headers.emplace_back("content-type", std::string(in));
  (void)certward::api::is_json_content_type(req);
  (void)req.header("Content-Type");
  return 0;
}
