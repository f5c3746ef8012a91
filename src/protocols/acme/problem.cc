#include "protocols/acme/problem.h"

#include "common/log.h"

namespace certward::protocols::acme {
namespace {

constexpr std::string_view kPrefix = "urn:ietf:params:acme:error:";

// RFC 8555 leaves most statuses to the server; these are the ones clients act on.
int status_for(std::string_view type) {
  if (type == "unauthorized" || type == "orderNotReady" || type == "userActionRequired") return 403;
  if (type == "rateLimited") return 429;
  if (type == "serverInternal") return 500;
  if (type == "conflict" || type == "alreadyReplaced") return 409;
  if (type == "notFound") return 404;
  if (type == "unavailable") return 503;
  return 400;
}

}  // namespace

nlohmann::json Problem::json() const {
  nlohmann::json j = {
      {"type", std::string(kPrefix) + type}, {"detail", detail}, {"status", status}};
  if (!subproblems.empty()) {
    auto& subs = j["subproblems"] = nlohmann::json::array();
    for (const auto& s : subproblems) {
      subs.push_back({{"type", std::string(kPrefix) + s.type},
                      {"detail", s.detail},
                      {"identifier", s.identifier.json()}});
    }
  }
  return j;
}

Problem problem(std::string type, std::string detail) {
  Problem p;
  p.status = status_for(type);
  p.type = std::move(type);
  p.detail = std::move(detail);
  return p;
}

Problem problem_for(const Error& e) {
  switch (e.code) {
    case ErrorCode::kMalformed:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kBadPassword:
      return problem("malformed", e.message);
    case ErrorCode::kBadSignature:
      return problem("badCSR", e.message);
    case ErrorCode::kPolicyRejected:
      return problem("rejectedIdentifier", e.message);
    case ErrorCode::kUnauthorized:
      return problem("unauthorized", e.message);
    case ErrorCode::kNotFound:
      return problem("malformed", e.message);
    case ErrorCode::kConflict:
      return problem("conflict", e.message);
    case ErrorCode::kUnavailable: {
      Problem p = problem("serverInternal", "the service is unavailable; retry later");
      p.status = 503;
      p.retry_after = 5;
      return p;
    }
    case ErrorCode::kInternal:
      break;
  }
  // What the database or a library said stays in the log.
  log::error("acme_internal_error", {{"error", e.message}});
  return problem("serverInternal", "internal error");
}

http::Response to_response(const Problem& p) {
  http::Response r;
  r.status = p.status;
  r.body = p.json().dump();
  r.set_header("Content-Type", "application/problem+json");
  if (p.retry_after) r.set_header("Retry-After", std::to_string(*p.retry_after));
  if (p.location) r.set_header("Location", *p.location);
  return r;
}

}  // namespace certward::protocols::acme
