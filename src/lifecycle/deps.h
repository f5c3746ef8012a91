#pragma once
#include <functional>
#include <optional>
// What the lifecycle services (managed certificates, the reconciler, agent deployments,
// campaigns) are built on: collaborators owned by the caller.

#include "audit/audit.h"
#include "auth/auth.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "common/config.h"
#include "crypto/crypto.h"
#include "inventory/inventory.h"
#include "lifecycle/jobs.h"
#include "store/store.h"

namespace certward::lifecycle {

namespace alerts {
struct AlertSettings;
}  // namespace alerts

// What the managed-certificate service and the reconciler work with; owned by the caller.
struct RenewalHint {
  bool offered = false;             // the issuer tells when to renew
  std::optional<SysTime> renew_at;  // it asks for renewal from then on
};

struct LifecycleDeps {
  const Clock& clock;
  store::Database& db;
  ca::Enrollment& ra;
  const ca::AuthorityService& authorities;  // issuer chains for deployments
  const inventory::Inventory& inventory;
  const audit::AuditLog& audit;
  const auth::AuthService& auth;  // a team's scope at renewal
  const JobQueue& jobs;
  const crypto::KeyWrapper& wrapper;  // seals the managed keys
  const LifecycleSettings& settings;
  // Where failures' alerts go ([alerts]); without, they are recorded and logged, not sent.
  const alerts::AlertSettings* alerts = nullptr;
  // What the CA that made a certificate says of its renewal (ACME renewal information, RFC
  // 9773): whether it says anything (it is asked again within a few hours), and from when it
  // asks for the certificate to be replaced. Unset: only renew_before decides.
  std::function<RenewalHint(const std::string& fingerprint)> renewal_hint{};
};

}  // namespace certward::lifecycle
