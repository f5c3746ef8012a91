#pragma once
// Reports over the inventory: certificates expiring soon, policy violations, a summary of the
// inventory, crypto posture (every certificate and SSH key by algorithm, the quantum-vulnerable
// ones counted, and who renews them), a lifetime simulation under the 200-, 100- and 47-day
// maximum validities, and a CycloneDX 1.6 CBOM; as a table, CSV, JSON or one HTML page
// (render.h). docs/governance.md describes each.
//
// Reports read through the other contexts' faces only: the inventory's pages, the policy
// service's violation pages, the managed certificates' listing and the SSH keys' pages. They
// stream: a report holds one page of records, its totals, and (to tell which certificates
// renew automatically) 8 bytes per managed certificate, so a report over a million
// certificates runs in bounded memory. A REST caller gets the document as one answer; the CLI
// writes it to its file as it goes.
//
// Thread-safe: a ReportService holds only references; each write() is independent.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

#include "common/clock.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "lifecycle/service.h"
#include "policy/service.h"
#include "reports/render.h"

namespace certward::reports {

enum class Kind : std::uint8_t { kExpiring, kViolations, kSummary, kPosture, kLifetimes, kCbom };
std::string_view kind_name(Kind k);  // "expiring", "violations", "summary", ...
// Errors: kNotFound naming the kinds there are (a REST path to no report is a 404).
Result<Kind> parse_kind(std::string_view s);

// The longest expiry window asked for: ten years.
inline constexpr std::chrono::days kMaxWindow{3653};

struct ReportRequest {
  Kind kind = Kind::kSummary;
  Format format = Format::kJson;
  std::chrono::seconds window = inventory::kDefaultExpiringWindow;  // expiring only
  // Only this team's certificates (and SSH keys one of whose sightings is the team's, and
  // managed certificates of the team): what a team-scoped caller always gets.
  std::optional<std::string> team;
};

// Whether `request` makes sense: the CBOM is written as kCbom (or its synonym kJson) and only
// by the cbom kind; the window is positive and at most kMaxWindow.
// Errors: kInvalidArgument.
Status check_request(const ReportRequest& request);

// Narrows `request` to what `caller` may see: a team-scoped caller (a requester) gets its own
// team's report whatever it asks for. Errors: kUnauthorized (another team asked for, or a
// scoped caller of no team).
Status scope_to_caller(ReportRequest& request, const ca::Requester& caller);

// What reports read; all outlive the service.
struct Sources {
  const Clock& clock;
  const inventory::Inventory& inventory;
  const inventory::Sightings& sightings;
  // Null: no certificate is managed (a tool that reads an inventory without the lifecycle).
  const lifecycle::ManagedService* managed = nullptr;
  const policy::PolicyService* policy = nullptr;  // null: no violations report (kUnavailable)
};

class ReportService {
 public:
  explicit ReportService(Sources sources) : s_(sources) {}

  // Writes the report onto `out` as it is computed. Nothing is written before the request
  // is checked. Errors: those of check_request; kUnavailable (violations without policies, or
  // `out` failed: the report stops there); store errors, after which `out` holds a partial
  // document.
  Status write(const ReportRequest& request, std::ostream& out) const;

 private:
  Status expiring(const ReportRequest& r, Writer& w, const std::ostream& out) const;
  Status violations(const ReportRequest& r, Writer& w, const std::ostream& out) const;
  Status summary(const ReportRequest& r, Writer& w, const std::ostream& out) const;
  Status posture(const ReportRequest& r, Writer& w, const std::ostream& out) const;
  Status lifetimes(const ReportRequest& r, Writer& w, const std::ostream& out) const;
  Status cbom(const ReportRequest& r, std::ostream& out) const;

  Sources s_;
};

}  // namespace certward::reports
