// The report kinds (reports.h): each walks its sources once, feeds an aggregator or streams
// rows, and hands the result to the writer of the requested format.

#include <cmath>

#include "reports/cbom.h"
#include "reports/reports.h"
#include "reports/walk.h"

namespace certward::reports {
namespace {

constexpr std::string_view kKinds[] = {"expiring", "violations", "summary",
                                       "posture",  "lifetimes",  "cbom"};
constexpr std::string_view kToolVersion = "0.1.0";

std::string or_none(const std::optional<std::string>& s) {
  return s && !s->empty() ? *s : std::string(kNone);
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

ReportHeader header(const ReportRequest& r, std::string title, SysTime now) {
  ReportHeader h;
  h.kind = std::string(kind_name(r.kind));
  h.title = std::move(title);
  h.generated_at = format_time(now);
  if (r.team) h.parameters.emplace_back("team", *r.team);
  return h;
}

std::vector<Column> columns(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<Column> out;
  for (const auto& [key, title] : list) out.push_back({key, title});
  return out;
}

inventory::Filter team_filter(const ReportRequest& r) {
  inventory::Filter f;
  f.team = r.team;
  return f;
}

}  // namespace

std::string_view kind_name(Kind k) { return kKinds[static_cast<std::size_t>(k)]; }

Result<Kind> parse_kind(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    if (kKinds[i] == s) return static_cast<Kind>(i);
  }
  return fail(ErrorCode::kNotFound,
              "no report '" + terminal_text(s.substr(0, 64)) +
                  "' (expiring, violations, summary, posture, lifetimes, cbom)");
}

Status check_request(const ReportRequest& r) {
  const bool cbom_kind = r.kind == Kind::kCbom;
  if (cbom_kind && r.format != Format::kCbom && r.format != Format::kJson) {
    return fail(ErrorCode::kInvalidArgument, "the cbom report is written as cbom (CycloneDX JSON)");
  }
  if (!cbom_kind && r.format == Format::kCbom) {
    return fail(ErrorCode::kInvalidArgument,
                "only the cbom report is a CycloneDX document; use table, csv, json or html");
  }
  if (r.window <= std::chrono::seconds(0) || r.window > kMaxWindow) {
    return fail(ErrorCode::kInvalidArgument, "the window must be positive and at most 3653 days");
  }
  if (r.team && r.team->empty()) return fail(ErrorCode::kInvalidArgument, "the team is empty");
  return ok();
}

Status scope_to_caller(ReportRequest& r, const ca::Requester& caller) {
  if (!caller.scope) return ok();
  if (!caller.team) {
    return fail(ErrorCode::kUnauthorized, "a requester of no team has no report to see");
  }
  if (r.team && r.team != caller.team) {
    return fail(ErrorCode::kUnauthorized, "a requester sees only its own team's reports");
  }
  r.team = caller.team;
  return ok();
}

Status ReportService::write(const ReportRequest& r, std::ostream& out) const {
  CW_RETURN_IF_ERROR(check_request(r));
  if (r.kind == Kind::kViolations && !s_.policy) {
    return fail(ErrorCode::kUnavailable, "policies are not available here");
  }
  if (r.kind == Kind::kCbom) {
    CW_RETURN_IF_ERROR(cbom(r, out));
    return check_output(out);
  }
  auto w = make_writer(r.format, out);
  switch (r.kind) {
    case Kind::kExpiring:
      CW_RETURN_IF_ERROR(expiring(r, *w, out));
      break;
    case Kind::kViolations:
      CW_RETURN_IF_ERROR(violations(r, *w, out));
      break;
    case Kind::kSummary:
      CW_RETURN_IF_ERROR(summary(r, *w, out));
      break;
    case Kind::kPosture:
      CW_RETURN_IF_ERROR(posture(r, *w, out));
      break;
    case Kind::kLifetimes:
      CW_RETURN_IF_ERROR(lifetimes(r, *w, out));
      break;
    case Kind::kCbom:
      break;
  }
  return check_output(out);
}

Status ReportService::expiring(const ReportRequest& r, Writer& w, const std::ostream& out) const {
  const SysTime now = s_.clock.now();
  CW_ASSIGN_OR_RETURN(auto renewals, RenewalIndex::load(s_.managed));
  const auto days = std::chrono::duration_cast<std::chrono::days>(r.window).count();
  ReportHeader h = header(r, "Certificates expiring within " + std::to_string(days) + " days", now);
  h.parameters.emplace_back("window", std::to_string(days) + "d");
  w.begin(h);
  const auto cols = columns({{"fingerprint", "Fingerprint"},
                             {"common_name", "Common name"},
                             {"subject", "Subject"},
                             {"issuer", "Issuer"},
                             {"not_after", "Expires"},
                             {"days_left", "Days left"},
                             {"algorithm", "Key"},
                             {"owner", "Owner"},
                             {"team", "Team"},
                             {"origin", "Origin"},
                             {"renewal", "Renewal"}});
  w.begin_section("certificates", "Expiring certificates", cols);
  inventory::Filter f = team_filter(r);
  f.expires_after = now;
  f.expires_before = now + r.window;
  CW_RETURN_IF_ERROR(for_each_certificate(s_.inventory, f, out, [&](const auto& c) {
    if (!in_force(c, now)) return;  // revoked or superseded: nobody needs it renewed
    const auto left = std::chrono::duration_cast<std::chrono::days>(c.not_after - now).count();
    const Cell row[] = {c.fingerprint,
                        c.common_name,
                        c.subject,
                        c.issuer,
                        format_time(c.not_after),
                        static_cast<std::int64_t>(left),
                        classify_certificate_key(c).name,
                        or_none(c.meta.owner),
                        or_none(c.meta.team),
                        std::string(inventory::origin_name(c.meta.origin)),
                        std::string(renewal_name(renewals.of(c)))};
    w.row(row);
  }));
  w.end_section();
  w.end();
  return ok();
}

Status ReportService::violations(const ReportRequest& r, Writer& w, const std::ostream& out) const {
  const SysTime now = s_.clock.now();
  w.begin(header(r, "Policy violations", now));
  const auto cols = columns({{"rule", "Rule"},
                             {"severity", "Severity"},
                             {"subject_type", "Type"},
                             {"subject_id", "Fingerprint"},
                             {"subject", "Subject"},
                             {"team", "Team"},
                             {"origin", "Origin"},
                             {"message", "Why"}});
  w.begin_section("violations", "Violations", cols);
  policy::ViolationFilter f;
  f.team = r.team;
  std::optional<std::string> cursor;
  do {
    CW_ASSIGN_OR_RETURN(auto page, s_.policy->violations(f, kPage, cursor));
    for (const auto& v : page.items) {
      const Cell row[] = {v.rule,
                          std::string(policy::severity_name(v.severity)),
                          v.subject_type,
                          v.subject_id,
                          v.subject,
                          or_none(v.team),
                          v.origin.empty() ? std::string("-") : v.origin,
                          v.message};
      w.row(row);
    }
    CW_RETURN_IF_ERROR(check_output(out));
    cursor = std::move(page.next_cursor);
  } while (cursor);
  w.end_section();
  w.end();
  return ok();
}

Status ReportService::summary(const ReportRequest& r, Writer& w, const std::ostream& out) const {
  const SysTime now = s_.clock.now();
  SummaryAggregator agg(now);
  CW_RETURN_IF_ERROR(
      for_each_certificate(s_.inventory, team_filter(r), out, [&](const auto& c) { agg.add(c); }));
  w.begin(header(r, "Inventory summary", now));
  const auto total_cols = columns({{"certificates", "Certificates"}});
  w.begin_section("totals", "Totals", total_cols);
  const Cell total[] = {agg.total()};
  w.row(total);
  w.end_section();
  const auto cols = columns({{"dimension", "By"}, {"value", "Value"}, {"count", "Certificates"}});
  w.begin_section("counts", "Certificates by issuer, algorithm, owner, team, status and origin",
                  cols);
  for (const auto& e : agg.entries()) {
    const Cell row[] = {e.dimension, e.value, e.count};
    w.row(row);
  }
  w.end_section();
  w.end();
  return ok();
}

Status ReportService::posture(const ReportRequest& r, Writer& w, const std::ostream& out) const {
  const SysTime now = s_.clock.now();
  CW_ASSIGN_OR_RETURN(auto renewals, RenewalIndex::load(s_.managed));
  PostureAggregator agg;
  CW_RETURN_IF_ERROR(for_each_certificate(s_.inventory, team_filter(r), out, [&](const auto& c) {
    if (in_force(c, now)) agg.add_certificate(c, renewals.of(c));
  }));
  CW_RETURN_IF_ERROR(for_each_ssh_key(
      s_.sightings, r.team, out, [&](const auto& k) { agg.add_ssh_key(k.key.type, k.key.bits); }));
  w.begin(header(r, "Crypto posture", now));
  const auto t = agg.totals();
  const auto total_cols = columns({{"certificates", "Certificates in force"},
                                   {"ssh_keys", "SSH keys"},
                                   {"quantum_vulnerable", "Quantum-vulnerable"},
                                   {"quantum_vulnerable_certificates", "Vulnerable certificates"},
                                   {"quantum_vulnerable_ssh_keys", "Vulnerable SSH keys"},
                                   {"renewed_automatically", "Renewed automatically"},
                                   {"needs_person", "Needs a person"}});
  w.begin_section("totals", "Totals", total_cols);
  const Cell totals[] = {t.certificates,
                         t.ssh_keys,
                         t.quantum_vulnerable,
                         t.quantum_vulnerable_certificates,
                         t.quantum_vulnerable_ssh_keys,
                         t.renewed_automatically,
                         t.needs_person};
  w.row(totals);
  w.end_section();
  const auto cols = columns({{"algorithm", "Algorithm"},
                             {"family", "Family"},
                             {"quantum_vulnerable", "Quantum-vulnerable"},
                             {"nist_quantum_level", "NIST PQC level"},
                             {"classical_bits", "Classical bits"},
                             {"certificates", "Certificates"},
                             {"ssh_keys", "SSH keys"},
                             {"renewed_automatically", "Renewed automatically"},
                             {"needs_person", "Needs a person"}});
  w.begin_section("algorithms", "By algorithm (migration view)", cols);
  for (const auto& row : agg.rows()) {
    const auto& a = row.algorithm;
    const Cell cells[] = {a.name,
                          a.family,
                          yes_no(a.quantum_vulnerable),
                          static_cast<std::int64_t>(a.nist_quantum_level),
                          static_cast<std::int64_t>(a.classical_bits),
                          row.certificates,
                          row.ssh_keys,
                          row.renewed_automatically,
                          row.needs_person};
    w.row(cells);
  }
  w.end_section();
  w.end();
  return ok();
}

Status ReportService::lifetimes(const ReportRequest& r, Writer& w, const std::ostream& out) const {
  const SysTime now = s_.clock.now();
  CW_ASSIGN_OR_RETURN(auto renewals, RenewalIndex::load(s_.managed));
  LifetimesAggregator agg;
  CW_RETURN_IF_ERROR(for_each_certificate(s_.inventory, team_filter(r), out, [&](const auto& c) {
    // The maxima are those of subscriber certificates: a CA's own certificate is not bound by
    // them and is not renewed with its leaves.
    if (in_force(c, now) && !c.is_ca) agg.add(c, renewals.of(c));
  }));
  w.begin(header(r, "Lifetime simulation: 200-, 100- and 47-day maximum validity", now));
  const auto cols = columns({{"team", "Team"},
                             {"certificates", "Certificates"},
                             {"automated", "Automated"},
                             {"manual", "Manual"},
                             {"renewals_per_month_today", "Renewals/month today"},
                             {"renewals_per_month_200d", "Renewals/month at 200 days"},
                             {"renewals_per_month_100d", "Renewals/month at 100 days"},
                             {"renewals_per_month_47d", "Renewals/month at 47 days"},
                             {"manual_renewals_per_month_47d", "By a person at 47 days"},
                             {"breaking_200d", "Break at 200 days"},
                             {"breaking_100d", "Break at 100 days"},
                             {"breaking_47d", "Break at 47 days"}});
  w.begin_section("teams", "Renewals per month by team (renewal at a third of the lifetime left)",
                  cols);
  for (const auto& t : agg.teams()) {
    const Cell cells[] = {t.team,
                          t.certificates,
                          t.automated,
                          t.manual,
                          t.renewals_today,
                          t.renewals_under[0],
                          t.renewals_under[1],
                          t.renewals_under[2],
                          t.manual_renewals_under[2],
                          t.breaking_under[0],
                          t.breaking_under[1],
                          t.breaking_under[2]};
    w.row(cells);
  }
  w.end_section();

  // Second walk: the certificates nobody renews that a rule would cut short, as they are now
  // (a certificate recorded between the walks is in this list and not in the totals).
  const auto break_cols = columns({{"fingerprint", "Fingerprint"},
                                   {"common_name", "Common name"},
                                   {"team", "Team"},
                                   {"owner", "Owner"},
                                   {"lifetime_days", "Lifetime (days)"},
                                   {"not_after", "Expires"},
                                   {"breaks_under", "Breaks under"}});
  w.begin_section("breaking", "Certificates not automated that would break", break_cols);
  CW_RETURN_IF_ERROR(for_each_certificate(s_.inventory, team_filter(r), out, [&](const auto& c) {
    if (!in_force(c, now)) return;
    const Renewal renewal = renewals.of(c);
    std::string under;
    for (int max : kSimulatedMaxDays) {
      if (LifetimesAggregator::breaks(c, renewal, max)) {
        under += (under.empty() ? "" : ", ") + std::to_string(max) + "d";
      }
    }
    if (under.empty()) return;
    const auto days = std::chrono::duration_cast<std::chrono::days>(c.not_after - c.not_before);
    const Cell cells[] = {c.fingerprint,
                          c.common_name.empty() ? c.subject : c.common_name,
                          or_none(c.meta.team),
                          or_none(c.meta.owner),
                          static_cast<std::int64_t>(days.count()),
                          format_time(c.not_after),
                          under};
    w.row(cells);
  }));
  w.end_section();
  w.end();
  return ok();
}

Status ReportService::cbom(const ReportRequest& r, std::ostream& out) const {
  const SysTime now = s_.clock.now();
  CW_ASSIGN_OR_RETURN(auto renewals, RenewalIndex::load(s_.managed));
  CbomHeader h;
  h.serial_number = new_bom_serial();
  h.timestamp = format_time(now);
  h.tool_version = std::string(kToolVersion);
  h.team = r.team;
  CW_ASSIGN_OR_RETURN(auto writer, CbomWriter::open(out, std::move(h)));
  CW_RETURN_IF_ERROR(for_each_certificate(s_.inventory, team_filter(r), out, [&](const auto& c) {
    if (in_force(c, now)) writer->add_certificate(c, renewals.of(c));
  }));
  CW_RETURN_IF_ERROR(for_each_ssh_key(s_.sightings, r.team, out, [&](const auto& k) {
    writer->add_ssh_key(k.key.fingerprint, k.key.type, k.key.bits, k.key.first_seen, k.team);
  }));
  return writer->finish();
}

}  // namespace certward::reports
