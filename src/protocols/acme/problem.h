#pragma once
// ACME's error documents (RFC 8555 6.7): problem+json whose type is
// "urn:ietf:params:acme:error:<type>", with the HTTP status RFC 8555 and the clients expect,
// and subproblems per identifier (6.7.1).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "http/http.h"

namespace certward::protocols::acme {

struct Identifier {
  std::string type;   // "dns" | "ip"
  std::string value;  // lower-case DNS name ("*.example.com" for a wildcard), canonical IP

  bool operator==(const Identifier&) const = default;
  nlohmann::json json() const { return {{"type", type}, {"value", value}}; }
};

struct Subproblem {
  std::string type;  // ACME error type without the prefix: "rejectedIdentifier"
  std::string detail;
  Identifier identifier;
};

struct Problem {
  std::string type;  // "malformed", "badNonce", ... (RFC 8555 6.7 and the ARI/profile drafts)
  std::string detail;
  int status = 400;
  std::vector<Subproblem> subproblems;
  std::optional<int> retry_after;       // seconds (rateLimited)
  std::optional<std::string> location;  // conflict: the resource that holds what was asked

  nlohmann::json json() const;
};

Problem problem(std::string type, std::string detail);
// The ACME problem for an error of the domain services (the RA, the revocation service).
Problem problem_for(const Error& e);

// The response for a problem, with its content type and Retry-After.
http::Response to_response(const Problem& p);

// A result of an ACME operation: a value, or the problem to answer with.
template <typename T>
using Outcome = std::expected<T, Problem>;

inline std::unexpected<Problem> refuse(std::string type, std::string detail) {
  return std::unexpected<Problem>(problem(std::move(type), std::move(detail)));
}

}  // namespace certward::protocols::acme
