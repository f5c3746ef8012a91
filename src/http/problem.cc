#include "http/problem.h"

#include <map>
#include <string>

#include "common/log.h"

namespace certward::http {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
    case ErrorCode::kBadSignature:
    case ErrorCode::kBadPassword:
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthorized:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPolicyRejected:
      return 422;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

Response problem_for(const Error& e) {
  const int status = http_status_for(e.code);
  static const std::map<int, std::string_view> kTitles = {{400, "Bad Request"},
                                                          {403, "Forbidden"},
                                                          {404, "Not Found"},
                                                          {409, "Conflict"},
                                                          {422, "Unprocessable Content"},
                                                          {500, "Internal Server Error"},
                                                          {503, "Service Unavailable"}};
  std::string detail = e.message;
  if (status == 500) {
    detail = "internal error";
  } else if (e.message.starts_with("store: ")) {
    detail = status == 409 ? "the request conflicts with an existing record"
                           : "the database is unavailable";
  }
  if (detail != e.message) {
    log::warn("api_error_detail_withheld", {{"status", status}, {"detail", e.message}});
  }
  return problem(status, kTitles.at(status), error_code_name(e.code), detail);
}

Response problem(int status, std::string_view title, std::string_view code, std::string_view detail,
                 std::string_view type) {
  Response r =
      Response::problem(status, title, detail,
                        "urn:certward:problem:" + std::string(type.empty() ? code : type), code);
  // A refusal is about one request: no cache keeps it, and no browser reads it as anything but
  // JSON (the router's own 404, 405 and 400 come here too, before any handler could say so).
  r.set_header("Cache-Control", "no-store");
  r.set_header("X-Content-Type-Options", "nosniff");
  return r;
}

}  // namespace certward::http
