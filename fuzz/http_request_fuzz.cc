// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: the server's request reader: Beast's request parser armed with the server's
// header and body limits (apply_limits), the header check before any body byte
// (header_rejection), the read-failure answer (read_failure_response) and the conversion to
// the Request the router sees (to_request). The bytes arrive in pieces whose size the first
// input byte chooses, as they would from a socket.

#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>

#include "http/wire_impl.h"

namespace http = certward::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Small limits so the fuzzer reaches both the 431 and the 413 paths cheaply.
  http::ServerOptions options;
  options.max_header_bytes = 2048;
  options.max_body_bytes = 4096;
  std::size_t piece = 1 + data[0] % 64;
  ++data;
  --size;

  http::RequestParser parser;
  http::apply_limits(parser, options);
  boost::system::error_code ec;
  std::size_t have = 0;  // bytes delivered so far, as if read from the socket
  std::size_t used = 0;  // bytes the parser consumed
  bool header_checked = false;
  while (!parser.is_done()) {
    if (have == size) {
      // The peer closed: what Beast's read does at end of stream.
      if (parser.got_some()) {
        parser.put_eof(ec);
      } else {
        ec = boost::beast::http::error::end_of_stream;
      }
      break;
    }
    have = std::min(size, have + piece);
    while (used < have && !parser.is_done()) {
      std::size_t n = parser.put(boost::asio::buffer(data + used, have - used), ec);
      used += n;
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
      // The session reads the header alone, then decides whether to read the body at all.
      if (!header_checked && parser.is_header_done()) {
        header_checked = true;
        if (http::header_rejection(parser)) return 0;
      }
      if (n == 0) break;
    }
    if (ec) break;
  }
  if (ec) {
    (void)http::read_failure_response(ec);
    return 0;
  }
  if (parser.is_done()) (void)http::to_request(parser.get());
  return 0;
}
