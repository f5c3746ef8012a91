// The responder's state for operators, on the REST API: GET /api/v1/authorities/{name}/ocsp.

#include "api/guard.h"
#include "api/json.h"
#include "protocols/ocsp/ocsp.h"

namespace certward::protocols::ocsp {

std::unique_ptr<http::Router> make_status_router(ca::OcspResponder& responder,
                                                 api::Services& services) {
  auto router = std::make_unique<http::Router>();
  api::add_guarded(
      *router, services, "GET", "/api/v1/authorities/{name}/ocsp", auth::Permission::kReadCatalog,
      api::BodyKind::kNone,
      [&responder](api::Services& s, http::Request& req,
                   const auth::Identity&) -> Result<http::Response> {
        CW_RETURN_IF_ERROR(api::check_query(req, {}));
        // 404 for a name that is no authority, as the authority's own route answers.
        CW_ASSIGN_OR_RETURN(auto authority, s.authorities.info(req.params["name"]));
        const auto st = responder.status(authority.name);
        auto time_or_null = [](const std::optional<SysTime>& t) {
          return t ? nlohmann::json(format_time(*t)) : nlohmann::json(nullptr);
        };
        nlohmann::json j = {
            {"authority", authority.name},
            {"answered", st.answered},
            {"signer", st.delegated ? nlohmann::json(*st.delegated ? "delegated" : "authority")
                                    : nlohmann::json(nullptr)},
            {"responder",
             st.responder ? api::certificate_json(st.responder->info()) : nlohmann::json(nullptr)},
            {"responder_renew_at", time_or_null(st.responder_renew_at)},
            {"revocations_seen_at", time_or_null(st.revocations_seen_at)}};
        return api::ok_json(j);
      });
  return router;
}

}  // namespace certward::protocols::ocsp
