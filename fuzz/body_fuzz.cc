// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: api::Body::parse and its typed accessors, on a JSON request body, with the
// field list of the import endpoint and every accessor the handlers use; then the same bytes
// as a label PATCH body, through the merge-patch accessors and inventory::normalize_meta /
// normalize_tags, the checks every label write runs.

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/body.h"
#include "inventory/inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  certward::http::Request req;
  req.method = "POST";
  req.target = req.path = "/api/v1/certificates/import";
  req.headers.emplace_back("content-type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body =
      certward::api::Body::parse(req, {"pem", "der", "pkcs12", "password", "owner", "team", "tags",
                                       "ttl", "no_expiry", "validity", "sans", "name"});
  if (body) {
    (void)body->opt_string("pem");
    (void)body->string("owner");
    (void)body->strings("tags");
    (void)body->strings("sans");
    (void)body->opt_int("ttl");
    (void)body->opt_int("validity");
    (void)body->opt_bool("no_expiry");
  }
  auto patch =
      certward::api::Body::parse(req, {"owner", "team", "tags", "add_tags", "remove_tags"});
  if (patch) {
    certward::inventory::RecordMeta meta;
    if (auto owner = patch->opt_string("owner"); owner) meta.owner = *owner;
    if (auto team = patch->opt_string("team"); team) meta.team = *team;
    (void)patch->is_null("owner");
    if (auto tags = patch->opt_strings("tags"); tags && *tags) meta.tags = **tags;
    if (auto add = patch->strings("add_tags"); add) {
      (void)certward::inventory::normalize_tags(*add);
    }
    (void)certward::inventory::normalize_meta(meta);
  }
  return 0;
}
