// The guard every REST route passes, and the small helpers the resource files share.

#include <algorithm>
#include <charconv>
#include <utility>

#include "api/body.h"
#include "api/rest_impl.h"
#include "http/problem.h"

namespace certward::api {
namespace {

Result<auth::Identity> authenticate(Services& s, const http::Request& req) {
  if (auto h = req.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (!h->starts_with(kBearer))
      return fail(ErrorCode::kUnauthorized, "use 'Authorization: Bearer <token>'");
    return s.auth.authenticate_token(h->substr(kBearer.size()));
  }
  if (req.client_certificate) return s.auth.authenticate_certificate(*req.client_certificate);
  return fail(ErrorCode::kUnauthorized,
              "authentication required: an 'Authorization: Bearer <token>' header or a client "
              "certificate");
}

// What every answer of the API carries, refusals included: it is the caller's alone (no cache
// keeps it unless its handler says how), and no browser reads it as anything but its type.
http::Response private_answer(http::Response r) {
  if (!r.has_header("Cache-Control")) r.set_header("Cache-Control", "no-store");
  r.set_header("X-Content-Type-Options", "nosniff");
  return r;
}

http::Response guarded_answer(Services& s, http::Request& req, auth::Permission perm, BodyKind body,
                              const GuardedHandler& handler) {
  auto identity = authenticate(s, req);
  if (!identity) {
    if (identity.error().code == ErrorCode::kUnavailable) {
      return http::problem_for(identity.error());
    }
    auto r = http::problem(401, "Unauthorized", "unauthorized", identity.error().message,
                           "unauthenticated");
    r.set_header("WWW-Authenticate", "Bearer realm=\"certward\"");
    return r;
  }
  if (!auth::role_allows(identity->role, perm)) {
    return http::problem(
        403, "Forbidden", "unauthorized",
        "role '" + std::string(auth::role_name(identity->role)) + "' may not do this", "forbidden");
  }
  const auto decision = s.limiter.allow(identity->principal);
  if (!decision.allowed) {
    s.metrics.count_rate_limited();
    auto r = http::problem(429, "Too Many Requests", "rate_limited",
                           "rate limit exceeded for principal " + identity->principal);
    r.set_header("Retry-After", std::to_string(decision.retry_after.count()));
    return r;
  }
  if (body == BodyKind::kJson && !is_json_content_type(req)) {
    return http::problem(415, "Unsupported Media Type", "invalid_argument",
                         "send the body as JSON with 'Content-Type: application/json'",
                         "unsupported_media_type");
  }
  auto result = handler(s, req, *identity);
  if (!result) return http::problem_for(result.error());
  return std::move(*result);
}

}  // namespace

http::Response guarded(Services& s, http::Request& req, auth::Permission perm, BodyKind body,
                       const GuardedHandler& handler) {
  return private_answer(guarded_answer(s, req, perm, body, handler));
}

void add_guarded(http::Router& router, Services& services, std::string method, std::string pattern,
                 auth::Permission permission, BodyKind body, GuardedHandler handler) {
  router.add(std::move(method), std::move(pattern),
             [&services, permission, body, handler](http::Request& req) {
               return guarded(services, req, permission, body, handler);
             });
}

bool team_scoped(const auth::Identity& id) {
  return id.role == auth::Role::kRequester || id.role == auth::Role::kApprover;
}

http::Response ok_json(const nlohmann::json& j, int status) {
  return http::Response::json(status, j.dump());
}

Result<std::optional<std::string>> query_text(const http::Request& r, std::string_view key) {
  auto v = r.query_value(key);
  if (!v) return std::optional<std::string>();
  if (v->empty())
    return fail(ErrorCode::kMalformed, "query parameter '" + std::string(key) + "' is empty");
  // No query value means a control character; a NUL would even be cut short by PostgreSQL's
  // driver and compare as a different value than the one checked here.
  if (std::any_of(v->begin(), v->end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; })) {
    return fail(ErrorCode::kMalformed,
                "query parameter '" + std::string(key) + "' must not contain control characters");
  }
  return std::optional<std::string>(std::string(*v));
}

Result<std::optional<std::int64_t>> query_int(const http::Request& r, std::string_view key) {
  CW_ASSIGN_OR_RETURN(auto v, query_text(r, key));
  if (!v) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    return fail(ErrorCode::kMalformed,
                "query parameter '" + std::string(key) + "' must be an integer");
  }
  return std::optional<std::int64_t>(n);
}

Result<int> query_limit(const http::Request& r, int fallback, std::int64_t beyond) {
  CW_ASSIGN_OR_RETURN(auto limit, query_int(r, "limit"));
  return static_cast<int>(std::clamp<std::int64_t>(limit.value_or(fallback), -1, beyond));
}

nlohmann::json next_before(std::size_t shown, int limit, const std::string& last_id) {
  if (shown == 0 || std::cmp_less(shown, limit)) return nullptr;
  return last_id;
}

Status check_query(const http::Request& r, std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : r.query) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return fail(ErrorCode::kMalformed, "unknown query parameter '" + k + "'");
    }
  }
  return ok();
}

}  // namespace certward::api
