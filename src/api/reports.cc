// Reports (/api/v1/reports/{kind}): expiring certificates, violations, the inventory summary,
// crypto posture, the lifetime simulation and the CBOM, as JSON, CSV, HTML, a text table or
// CycloneDX. What each report holds and who sees what are reports::ReportService's; this only
// translates. CSV, HTML and the CBOM come as downloads (Content-Disposition: attachment).

#include "reports/reports.h"

#include <atomic>
#include <memory>
#include <streambuf>

#include "api/capped_buffer.h"
#include "api/rest_impl.h"
#include "http/problem.h"
#include "common/config.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;

// A response is built in memory before it is sent: a CBOM of a large inventory runs to
// gigabytes, which belongs in a file (`certward report ... --output`), not in a server's heap.
constexpr std::size_t kMaxReportBytes = std::size_t{256} << 20;
// Each report walks the inventory it covers: at most this many are built or being sent at once
// per server, so that reports cannot take every request worker, nor all the memory above times
// the number of peers that ask and then read slowly. A slot is released when its response has
// been written (http::Response::hold).
constexpr int kMaxConcurrentReports = 2;
std::atomic<int> g_reports_in_flight{0};

class InFlight {
 public:
  InFlight() : admitted_(g_reports_in_flight.fetch_add(1) < kMaxConcurrentReports) {}
  ~InFlight() { g_reports_in_flight.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  bool admitted() const { return admitted_; }

 private:
  bool admitted_;
};


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
  auto slot = std::make_shared<const InFlight>();
  if (!slot->admitted()) {
    http::Response busy = http::problem_for(
        Error{ErrorCode::kUnavailable, "the server is building other reports; try again shortly"});
    busy.set_header("Retry-After", "5");
    return busy;
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
  http::Response resp = http::Response::text(200, std::move(buffer).take(),
                                             std::string(reports::content_type(r.format)));
  if (r.format != reports::Format::kJson && r.format != reports::Format::kTable) {
    // A date in the name: the downloads of several days sit side by side.
    const std::string day = format_time(s.clock.now()).substr(0, 10);
    resp.set_header("Content-Disposition",
                    "attachment; filename=\"certward-" + std::string(reports::kind_name(r.kind)) +
                        "-" + day + "." + std::string(reports::file_extension(r.format)) + "\"");
  }
  resp.hold = std::move(slot);
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
