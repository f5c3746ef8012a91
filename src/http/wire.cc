#include <algorithm>
#include <cstdint>

#include "http/text_impl.h"
#include "http/wire_impl.h"

namespace certward::http {

namespace bhttp = boost::beast::http;

void apply_limits(RequestParser& parser, const ServerOptions& options) {
  parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX)));
}

std::optional<Response> read_failure_response(const boost::system::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    return problem(413, "Payload Too Large", "payload_too_large",
                   "the request body exceeds the size limit");
  }
  if (ec == bhttp::error::header_limit) {
    return problem(431, "Request Header Fields Too Large", "header_too_large",
                   "the request header exceeds the size limit");
  }
  bool http_error = ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
  if (!http_error || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  return problem(400, "Bad Request", "malformed", "the request is not valid HTTP/1.1");
}

std::optional<Response> header_rejection(const RequestParser& parser) {
  const auto& message = parser.get();
  if (parser.chunked() || message.find(bhttp::field::transfer_encoding) != message.end()) {
    return problem(411, "Length Required", "length_required",
                   "request bodies must be sent with Content-Length, not a "
                   "Transfer-Encoding");
  }
  return std::nullopt;
}

std::optional<Request> to_request(RequestMessage& message) {
  auto view = [](boost::beast::string_view s) { return std::string_view(s.data(), s.size()); };
  std::string_view target = view(message.target());
  auto split = split_target(target);
  if (!split) return std::nullopt;
  auto query = parse_query(split->raw_query);
  if (!query) return std::nullopt;
  Request request;
  request.method = std::string(view(message.method_string()));
  request.target = std::string(target);
  request.path = std::move(split->path);
  request.query = std::move(*query);
  request.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    request.headers.emplace_back(to_lower(view(field.name_string())), std::string(field.value()));
  }
  request.body = std::move(message.body());
  return request;
}

}  // namespace certward::http
