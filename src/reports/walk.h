#pragma once
// Private to reports: walking the other contexts' listings page by page, and telling who
// renews a certificate.

#include <cstdint>
#include <functional>
#include <ostream>
#include <vector>

#include "reports/aggregate.h"
#include "reports/reports.h"

namespace certward::reports {

inline constexpr int kPage = 1000;  // the largest page every listing gives

// The walks below stop after the page in which `out`, the stream the report goes to, fails (a
// response over its size cap, a full disk): the rest of a report nobody can receive is not
// computed, nor its CBOM dependencies spooled to a temporary file.
// Errors: kUnavailable then.
Status check_output(const std::ostream& out);

// Every certificate matching `filter`, a page at a time, in the inventory's order; `go_on`
// runs before each page, and its error ends the walk with that error.
Status for_each_certificate(const inventory::Inventory& inventory, const inventory::Filter& filter,
                            const std::function<Status()>& go_on,
                            const std::function<void(const inventory::CertificateRecord&)>& fn);
// The same, stopping after the page in which `out` fails.
Status for_each_certificate(const inventory::Inventory& inventory, const inventory::Filter& filter,
                            const std::ostream& out,
                            const std::function<void(const inventory::CertificateRecord&)>& fn);

// Every SSH key discovery found (with `team`, those one of whose sightings is the team's).
Status for_each_ssh_key(const inventory::Sightings& sightings,
                        const std::optional<std::string>& team, const std::ostream& out,
                        const std::function<void(const inventory::Sightings::SshKeySummary&)>& fn);

// Which certificates a live managed certificate holds now: the first 64 bits of each
// fingerprint, sorted (a collision would take one certificate in 2^64 for managed).
class RenewalIndex {
 public:
  // Null `managed`: none is.
  static Result<RenewalIndex> load(const lifecycle::ManagedService* managed);
  Renewal of(const inventory::CertificateRecord& r) const;

 private:
  std::vector<std::uint64_t> managed_;
};

}  // namespace certward::reports
