#pragma once
// Private to the http module (and its fuzz target): how the server turns bytes from a socket
// into a Request. The session drives the Beast parser asynchronously; these functions hold
// every decision about the bytes themselves, so the fuzz target exercises exactly the code a
// connection runs.

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <optional>

#include "http/http.h"
#include "http/problem.h"

namespace certward::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;
using RequestMessage = boost::beast::http::request<boost::beast::http::string_body>;

// Applies the server's header and body limits to a fresh parser.
void apply_limits(RequestParser& parser, const ServerOptions& options);

// The answer to a request that could not be read: 413 over the body limit, 431 over the header
// limit, 400 for anything that is not HTTP/1.1; nullopt when nobody is left to answer (timeout,
// reset, truncated message), and the connection is simply closed.
std::optional<Response> read_failure_response(const boost::system::error_code& ec);

// Checked once the header is in, before any body byte is read: a request with a
// Transfer-Encoding is refused with 411 (send Content-Length). Every client certward serves
// (REST, ACME, EST, SCEP, CMP) knows its body size up front, and refusing chunked bodies keeps
// the chunk parser of Boost 1.74's Beast — asserts that fire on legal read patterns, chunk
// extensions that count against no limit — out of reach of the network. nullopt: carry on.
std::optional<Response> header_rejection(const RequestParser& parser);

// The Request the router sees: decoded path, query and lower-cased header names, with the
// body moved out of `message`. nullopt when the target is malformed (answered with 400).
std::optional<Request> to_request(RequestMessage& message);

}  // namespace certward::http
