// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: api::Body::parse and its typed accessors, on a JSON request body, with the
// field list of the import endpoint and every accessor the handlers use.

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  certward::http::Request req;
  req.method = "POST";
  req.target = req.path = "/api/v1/certificates/import";
  req.headers.emplace_back("content-type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = certward::api::Body::parse(
      req, {"pem", "der", "pkcs12", "password", "owner", "team", "tags", "ttl", "no_expiry",
            "validity", "sans", "name"});
  if (body) {
    (void)body->opt_string("pem");
    (void)body->string("owner");
    (void)body->strings("tags");
    (void)body->strings("sans");
    (void)body->opt_int("ttl");
    (void)body->opt_int("validity");
    (void)body->opt_bool("no_expiry");
  }
  return 0;
}
