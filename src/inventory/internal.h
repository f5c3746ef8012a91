#pragma once
// Private to the inventory: the one certificate-status rule, as SQL for queries and as C++ for
// records, so that a list filter, a record and the metrics can never disagree; the filter
// every query of the inventory shares; the key hash every record carries.

#include <string>
#include <vector>

#include "inventory/inventory.h"

namespace certward::inventory::internal {

// Appends " AND <predicate>" selecting the rows whose status is `status` at `now` (expiring:
// not after now + kDefaultExpiringWindow), and its parameters.
void append_status_filter(CertStatus status, SysTime now, std::string& sql,
                          std::vector<store::Value>& params);

// Appends " AND ..." for every field `f` sets (the list filter, bulk revocation).
void append_filter(const Filter& f, SysTime now, std::string& sql,
                   std::vector<store::Value>& params);

// SHA-256 of the certificate's SubjectPublicKeyInfo DER, lower-case hex: what identifies its
// key across certificates (revoking every certificate of a compromised key).
std::string key_sha256(const x509::Certificate& cert);

}  // namespace certward::inventory::internal
