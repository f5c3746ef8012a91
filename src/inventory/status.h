#pragma once
// Private to the inventory: the one certificate-status rule, as SQL for queries and as C++ for
// records, so that a list filter, a record and the metrics can never disagree.

#include <string>
#include <vector>

#include "inventory/inventory.h"

namespace certward::inventory::internal {

// Appends " AND <predicate>" selecting the rows whose status is `status` at `now` (expiring:
// not after now + kDefaultExpiringWindow), and its parameters.
void append_status_filter(CertStatus status, SysTime now, std::string& sql,
                          std::vector<store::Value>& params);

}  // namespace certward::inventory::internal
