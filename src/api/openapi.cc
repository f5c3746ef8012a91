// The OpenAPI 3.1 document for REST API v1 lives in openapi.json beside this file and is
// compiled in at build time (certward_embed). tests/unit/api/api_test.cc keeps it true: every
// route is documented and every documented operation is routed.

#include <string_view>

#include "api/api.h"

namespace certward::embedded {
std::string_view openapi_json();
}  // namespace certward::embedded

namespace certward::api {

const std::string& openapi_document() {
  static const std::string kDocument(embedded::openapi_json());
  return kDocument;
}

}  // namespace certward::api
