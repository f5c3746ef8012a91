#pragma once
// A failed reconciliation or deployment, as the managed certificate records it: failed with its
// error, the attempt counted, its next check backed off, a timeline entry and an audit event,
// and an alert when it should raise one. One place for the reconciler (a failed issuance or
// deployment, an agent that did not report in time) and for an agent's report of a failed
// deployment (agent_deploy.h), so both fail the same way.
//
// Stateless; thread-safe.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "lifecycle/deps.h"
#include "lifecycle/managed_store.h"

namespace certward::lifecycle {

// Records the failure of managed certificate `id` in `tx` (nothing for a deleted or unknown
// one) and returns the row as it is afterwards, if any. `alert_kind` "deploy_failed" always
// raises a critical alert (a deployment failed and needs someone); any other kind raises a
// warning once per streak of failures. `actor` is who saw it fail ("managed:<name>" for the
// reconciler, the agent's actor for its report).
Result<std::optional<ManagedCertificate>> record_failure(
    store::Transaction& tx, const LifecycleDeps& deps, const ManagedStore& store,
    const std::string& id, const Error& error, std::string_view alert_kind,
    const nlohmann::json& detail, const std::string& actor = {});

}  // namespace certward::lifecycle
