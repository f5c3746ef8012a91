// Reports (/api/v1/reports/{kind}): expiring certificates, violations, the inventory summary,
// crypto posture, the lifetime simulation and the CBOM, as JSON, CSV, HTML, a text table or
// CycloneDX. What each report holds and who sees what are reports::ReportService's; this only
// translates. CSV, HTML and the CBOM come as downloads (Content-Disposition: attachment).

#include "reports/reports.h"

#include <memory>
#include <streambuf>

#include "api/capped_buffer.h"
#include "api/report_gate.h"
#include "api/rest_impl.h"
#include "common/config.h"
#include "http/problem.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;

// A response is built in memory before it is sent: a CBOM of a large inventory runs to
// gigabytes, which belongs in a file (`certward report ... --output`), not in a server's heap.
constexpr std::size_t kMaxReportBytes = std::size_t{256} << 20;

// Every report of this server passes it (report_gate.h): two built at once, 512 MiB built and
// not yet sent, one per principal.
ReportGate& gate() {
  static ReportGate g;
  return g;
}

http::Response try_later(int status, std::string_view code, std::string detail) {
  http::Response r = http::problem(
      status, status == 429 ? "Too Many Requests" : "Service Unavailable", code, std::move(detail));
  r.set_header("Retry-After", "5");
  return r;
}

Result<reports::ReportRequest> decode(const http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"format", "window", "team"}));
  reports::ReportRequest r;
  CW_ASSIGN_OR_RETURN(r.kind, reports::parse_kind(req.params.at("kind")));
  r.format = r.kind == reports::Kind::kCbom ? reports::Format::kCbom : reports::Format::kJson;
  CW_ASSIGN_OR_RETURN(auto format, query_text(req, "format"));
  if (format) {
    CW_ASSIGN_OR_RETURN(r.format, reports::parse_format(*format));
  }
  CW_ASSIGN_OR_RETURN(auto window, query_text(req, "window"));
  if (window) {
    if (r.kind != reports::Kind::kExpiring) {
      return fail(ErrorCode::kInvalidArgument, "'window' is a parameter of the expiring report");
    }
    CW_ASSIGN_OR_RETURN(r.window, parse_duration(*window));
  }
  CW_ASSIGN_OR_RETURN(r.team, query_text(req, "team"));
  CW_RETURN_IF_ERROR(reports::scope_to_caller(r, id.requester()));
  CW_RETURN_IF_ERROR(reports::check_request(r));
  return r;
}

Result<http::Response> get_report(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto r, decode(req, id));
  auto ticket = gate().enter(id.principal);
  if (!ticket) {
    if (ticket.error() == ReportGate::Refusal::kPrincipalBusy) {
      return try_later(429, "rate_limited",
                       "a report of yours is still being built or sent: one at a time");
    }
    return try_later(503, "unavailable", "the server is building other reports; try again shortly");
  }
  const reports::ReportService service(reports::Sources{
      .clock = s.clock,
      .inventory = s.inventory,
      .sightings = s.sightings,
      .managed = &s.managed,
      .policy = s.policy,
  });
  CappedBuffer buffer(kMaxReportBytes);
  std::ostream body(&buffer);
  const Status written = service.write(r, body);
  if (buffer.over()) {
    return fail(ErrorCode::kPolicyRejected,
                "the report is larger than the API serves (256 MiB): narrow it with 'team', or "
                "run 'certward report' on the data directory with --output");
  }
  CW_RETURN_IF_ERROR(written);
  if (!(*ticket)->built(buffer.size())) {
    return try_later(503, "unavailable",
                     "the server holds other reports waiting for their clients; try again shortly");
  }
  http::Response resp = http::Response::text(200, std::move(buffer).take(),
                                             std::string(reports::content_type(r.format)));
  if (r.format != reports::Format::kJson && r.format != reports::Format::kTable) {
    // A date in the name: the downloads of several days sit side by side.
    const std::string day = format_time(s.clock.now()).substr(0, 10);
    resp.set_header("Content-Disposition",
                    "attachment; filename=\"certward-" + std::string(reports::kind_name(r.kind)) +
                        "-" + day + "." + std::string(reports::file_extension(r.format)) + "\"");
  }
  // Its place is kept until the answer is written or its client gone.
  resp.hold = std::move(*ticket);
  resp.set_header("Cache-Control", "no-store");
  if (r.format == reports::Format::kHtml) {
    resp.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  }
  return resp;
}

}  // namespace

void add_report_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/reports/{kind}", Permission::kReadInventory, BodyKind::kNone,
              get_report);
}

}  // namespace certward::api
