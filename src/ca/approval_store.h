#pragma once
// Private to ApprovalService: the approval_requests table (migrations module "approvals") and
// the translation between a held request and its row. SQL only; approval.cc decides and audits.

#include <optional>
#include <string>
#include <string_view>

#include "ca/approval.h"

namespace certward::ca::approval_detail {

// A request as stored: what the API shows, and what the RA is given again at approval.
struct Held {
  ApprovalRequest view;
  EnrollmentRequest request;  // csr, names, labels and the requester as they were
};

Status migrate(store::Database& db);

// The row of a new pending request (view.id, times and requester filled in by the caller).
Status insert(store::Transaction& tx, const ApprovalRequest& view,
              const EnrollmentRequest& request);
// nullopt: no such id. A row this version cannot read is kInternal.
Result<std::optional<Held>> find(store::Transaction& tx, std::string_view id, SysTime now);
// Newest first. `team`: only that team's (an empty string: requests of no team).
Result<ApprovalPage> list(store::Transaction& tx, const ApprovalFilter& filter,
                          const std::optional<std::string>& team, SysTime now);

// The one transition out of pending: to issued (with `certificate`), rejected or cancelled,
// only if the row is still pending and unexpired at `now`. Returns whether it moved.
Result<bool> transition(store::Transaction& tx, std::string_view id, ApprovalStatus to,
                        std::string_view actor, SysTime now,
                        const std::optional<std::string>& reason,
                        const std::optional<std::string>& certificate);

// Marks a pending, unexpired request as being approved by `token` until `until`, unless another
// approval holds it (a claim past its time is free again: its holder crashed). Returns whether
// it was claimed. The claim is released (release_claim) or ends with the row's transition.
Result<bool> claim(store::Transaction& tx, std::string_view id, std::string_view token,
                   SysTime now, SysTime until);
// Clears `token`'s claim on `id`, if it still holds it.
Status release_claim(store::Transaction& tx, std::string_view id, std::string_view token);

}  // namespace certward::ca::approval_detail
