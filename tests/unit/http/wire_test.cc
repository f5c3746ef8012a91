// The request reader's decisions on raw bytes: limits, refusals and the Request it builds.

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <string>
#include <string_view>

#include "http/wire_impl.h"

namespace certward::http {
namespace {

namespace bhttp = boost::beast::http;

struct Parsed {
  boost::system::error_code ec;
  bool header_done = false;
  bool done = false;
};

// Feeds `bytes` to `parser`, then signals end of stream if the message is still incomplete.
Parsed feed(RequestParser& parser, std::string_view bytes) {
  Parsed out;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    std::size_t n =
        parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), out.ec);
    used += n;
    if (out.ec || n == 0) break;
  }
  if (out.ec == bhttp::error::need_more) out.ec = {};
  if (!out.ec && !parser.is_done()) parser.put_eof(out.ec);
  out.header_done = parser.is_header_done();
  out.done = parser.is_done();
  return out;
}

ServerOptions small_limits() {
  ServerOptions options;
  options.max_header_bytes = 256;
  options.max_body_bytes = 16;
  return options;
}

TEST(Wire, BodyOverLimitAnswers413) {
  RequestParser parser;
  apply_limits(parser, small_limits());
  Parsed p = feed(parser, "POST /x HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
  ASSERT_EQ(p.ec, bhttp::error::body_limit);
  auto answer = read_failure_response(p.ec);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 413);
  EXPECT_NE(answer->body.find(R"("code":"payload_too_large")"), std::string::npos);
}

TEST(Wire, HeaderOverLimitAnswers431) {
  RequestParser parser;
  apply_limits(parser, small_limits());
  Parsed p = feed(parser, "GET /x HTTP/1.1\r\nX-Long: " + std::string(300, 'a') + "\r\n\r\n");
  ASSERT_EQ(p.ec, bhttp::error::header_limit);
  auto answer = read_failure_response(p.ec);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 431);
  EXPECT_NE(answer->body.find(R"("code":"header_too_large")"), std::string::npos);
}

TEST(Wire, GarbageAnswers400AndTruncationOrTimeoutJustCloses) {
  RequestParser parser;
  apply_limits(parser, small_limits());
  Parsed p = feed(parser, "GET /x HTTP/9.9\r\n\r\n");
  ASSERT_TRUE(p.ec);
  auto answer = read_failure_response(p.ec);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_NE(answer->body.find(R"("code":"malformed")"), std::string::npos);
  EXPECT_NE(answer->body.find("not valid HTTP/1.1"), std::string::npos);

  RequestParser cut;
  apply_limits(cut, small_limits());
  p = feed(cut, "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(p.ec, bhttp::error::partial_message);
  EXPECT_FALSE(read_failure_response(p.ec));
  EXPECT_FALSE(read_failure_response(boost::asio::error::operation_aborted));
  EXPECT_FALSE(read_failure_response(bhttp::error::end_of_stream));
}

TEST(Wire, TransferEncodingIsRefusedWith411BeforeTheBody) {
  for (std::string_view te : {"chunked", "gzip, chunked", "identity", "CHUNKED"}) {
    RequestParser parser;
    apply_limits(parser, small_limits());
    // Header only: the session decides before reading any body byte.
    Parsed p = feed(parser, "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + std::string(te) +
                                "\r\n\r\n");
    ASSERT_TRUE(p.header_done) << te << ": " << p.ec.message();
    auto refusal = header_rejection(parser);
    ASSERT_TRUE(refusal) << te;
    EXPECT_EQ(refusal->status, 411);
    EXPECT_NE(refusal->body.find(R"("code":"length_required")"), std::string::npos);
    EXPECT_NE(refusal->body.find("Content-Length"), std::string::npos);
  }
  RequestParser plain;
  apply_limits(plain, small_limits());
  Parsed p = feed(plain, "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(p.done);
  EXPECT_FALSE(header_rejection(plain));
}

TEST(Wire, ToRequestDecodesPathQueryAndLowerCasesHeaderNames) {
  RequestParser parser;
  apply_limits(parser, small_limits());
  Parsed p = feed(parser,
                  "POST /api/v1/teams/caf%C3%A9?limit=5&q=a+b HTTP/1.1\r\nX-Mixed-Case: V\r\n"
                  "Content-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(p.done) << p.ec.message();
  auto request = to_request(parser.get());
  ASSERT_TRUE(request);
  EXPECT_EQ(request->method, "POST");
  EXPECT_EQ(request->target, "/api/v1/teams/caf%C3%A9?limit=5&q=a+b");
  EXPECT_EQ(request->path, "/api/v1/teams/caf\xC3\xA9");
  EXPECT_EQ(request->query_value("limit"), "5");
  EXPECT_EQ(request->query_value("q"), "a b");
  EXPECT_EQ(request->header("x-mixed-case"), "V");
  ASSERT_FALSE(request->headers.empty());
  EXPECT_EQ(request->headers.front().first, "x-mixed-case");
  EXPECT_EQ(request->body, "{}");
}

TEST(Wire, ToRequestRefusesMalformedTargets) {
  for (std::string_view target : {"/a/%zz", "/a/../b", "/%00", "*", "http://h/x", "/x?q=%"}) {
    RequestParser parser;
    apply_limits(parser, small_limits());
    Parsed p = feed(parser, "GET " + std::string(target) + " HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(p.done) << target << ": " << p.ec.message();
    EXPECT_FALSE(to_request(parser.get())) << target;
  }
}

}  // namespace
}  // namespace certward::http
