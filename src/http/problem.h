#pragma once
// How every certward front-end over HTTP (REST, OCSP, CRL, ACME, EST, SCEP, CMP) states an
// error: RFC 7807 problem+json whose "type" is "urn:certward:problem:<type>" and whose "code"
// member is the stable name clients branch on, and the one mapping from ErrorCode to HTTP
// status. A protocol with an error format of its own (ACME's problem types, EST's text) still
// takes its status from http_status_for, so one error means one status everywhere.

#include <string_view>

#include "common/error.h"
#include "http/http.h"

namespace certward::http {

// ErrorCode -> HTTP status: 400 (malformed, bad signature, bad password, invalid argument),
// 403 (unauthorized: authenticated but refused), 404, 409, 422 (policy rejected), 503
// (unavailable), 500 (internal).
int http_status_for(ErrorCode code);

// The problem for an error a service returned: status from http_status_for, type and code the
// ErrorCode's name. The detail of an internal error, and anything the database said verbatim
// (it may quote SQL), stays in the log (event api_error_detail_withheld); the client gets a
// plain statement.
Response problem_for(const Error& e);

// A problem the front-end states itself, such as 401, 405, 415 or 429: type
// "urn:certward:problem:<type>" (`type` defaults to `code`) and the "code" member `code`.
Response problem(int status, std::string_view title, std::string_view code, std::string_view detail,
                 std::string_view type = {});

}  // namespace certward::http
