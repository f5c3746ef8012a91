// The ACME directories as a REST resource, /api/v1/acme/directories (docs/api.md): listed by
// anyone who may read the catalogue (they are served to the Internet anyway), made, changed and
// deleted by those who run the CA, since a directory without external account binding lets any
// client order certificates under its profiles.

#include "api/body.h"
#include "api/guard.h"
#include "protocols/acme/acme.h"

namespace certward::protocols::acme {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

// A PUT body: the whole directory. Absent fields take the defaults of a directory of the
// configuration file that sets nothing; the name is the path's.
Result<AcmeDirectorySettings> settings_of(const http::Request& req, std::string name) {
  CW_ASSIGN_OR_RETURN(
      auto b, api::Body::parse(
                  req, {"profiles", "default_profile", "authority", "external_account_required",
                        "terms_of_service", "website", "caa_identities"}));
  AcmeDirectorySettings s;
  s.name = std::move(name);
  CW_ASSIGN_OR_RETURN(s.profiles, b.strings("profiles"));
  if (s.profiles.empty())
    return fail(ErrorCode::kInvalidArgument, "profiles: name at least one profile");
  CW_ASSIGN_OR_RETURN(auto default_profile, b.opt_string("default_profile"));
  s.default_profile = default_profile.value_or("");
  CW_ASSIGN_OR_RETURN(auto authority, b.opt_string("authority"));
  s.authority = authority.value_or("");
  CW_ASSIGN_OR_RETURN(auto eab, b.opt_bool("external_account_required"));
  s.external_account_required = eab.value_or(false);
  CW_ASSIGN_OR_RETURN(auto tos, b.opt_string("terms_of_service"));
  s.terms_of_service = tos.value_or("");
  CW_ASSIGN_OR_RETURN(auto website, b.opt_string("website"));
  s.website = website.value_or("");
  CW_ASSIGN_OR_RETURN(s.caa_identities, b.strings("caa_identities"));
  return s;
}

}  // namespace

std::unique_ptr<http::Router> make_admin_router(api::Services& services, Directories& dirs) {
  auto router = std::make_unique<http::Router>();
  const std::string base = "/api/v1/acme/directories";
  api::add_guarded(
      *router, services, "GET", base, Permission::kReadCatalog, api::BodyKind::kNone,
      [&dirs](api::Services&, http::Request& req, const Identity&) -> Result<http::Response> {
        CW_RETURN_IF_ERROR(api::check_query(req, {}));
        CW_ASSIGN_OR_RETURN(auto all, dirs.list());
        json items = json::array();
        for (const auto& r : all) items.push_back(directory_json(r));
        return api::ok_json({{"items", items}});
      });
  api::add_guarded(
      *router, services, "GET", base + "/{name}", Permission::kReadCatalog, api::BodyKind::kNone,
      [&dirs](api::Services&, http::Request& req, const Identity&) -> Result<http::Response> {
        CW_ASSIGN_OR_RETURN(auto r, dirs.get(req.params.at("name")));
        return api::ok_json(directory_json(r));
      });
  api::add_guarded(
      *router, services, "PUT", base + "/{name}", Permission::kManageAuthorities,
      api::BodyKind::kJson,
      [&dirs](api::Services&, http::Request& req, const Identity& id) -> Result<http::Response> {
        CW_ASSIGN_OR_RETURN(auto s, settings_of(req, req.params.at("name")));
        CW_ASSIGN_OR_RETURN(auto put, dirs.put(s, id.actor));
        return api::ok_json(directory_json(put.record), put.created ? 201 : 200);
      });
  api::add_guarded(
      *router, services, "DELETE", base + "/{name}", Permission::kManageAuthorities,
      api::BodyKind::kNone,
      [&dirs](api::Services&, http::Request& req, const Identity& id) -> Result<http::Response> {
        CW_RETURN_IF_ERROR(dirs.remove(req.params.at("name"), id.actor));
        return http::Response{.status = 204, .headers = {}, .body = {}};
      });
  return router;
}

}  // namespace certward::protocols::acme
