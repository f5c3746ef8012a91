#pragma once
// Wiring shared by every command: configuration, database, master key and the services, built
// once in dependency order. The server will use the same wiring.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/eab.h"
#include "auth/enrollment_credentials.h"
#include "ca/approval.h"
#include "ca/authority.h"
#include "ca/crl_publisher.h"
#include "ca/enrollment.h"
#include "ca/master_key.h"
#include "ca/profile.h"
#include "ca/protocol_ra.h"
#include "ca/revocation.h"
#include "common/config.h"
#include "discovery/service.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "issuers/registry.h"
#include "lifecycle/campaign_service.h"
#include "lifecycle/deploy/target.h"
#include "lifecycle/jobs.h"
#include "lifecycle/reconciler.h"
#include "lifecycle/service.h"
#include "policy/service.h"
#include "ssh/service.h"
#include "store/store.h"

namespace certward::lifecycle::alerts {
struct AlertSettings;
class AlertService;
}  // namespace certward::lifecycle::alerts

namespace certward::cli {

enum class Init : std::uint8_t { kOpenExisting, kCreate };

class Context {
 public:
  // Loads the configuration, opens the database (running migrations) and unseals nothing yet.
  // kOpenExisting refuses a data directory that `certward init` has not prepared.
  static Result<std::unique_ptr<Context>> open(const std::optional<std::string>& config_path,
                                               const std::optional<std::string>& data_dir,
                                               Init mode);

  const Config& config() const { return config_; }
  store::Database& db() { return *db_; }
  const Clock& clock() const { return clock_; }
  const audit::AuditLog& audit() const { return *audit_; }
  const inventory::Inventory& inventory() const { return *inventory_; }
  const ca::ProfileSet& profiles() const { return profiles_; }
  ca::AuthorityService& authorities() { return *authorities_; }
  ca::Enrollment& enrollment() { return *enrollment_; }
  ca::RevocationService& revocation() { return *revocation_; }
  ca::CrlPublisher& crls() { return *crls_; }
  auth::AuthService& auth() { return *auth_; }
  auth::EabKeys& eab() { return *eab_; }
  auth::EnrollmentCredentials& credentials() { return *credentials_; }
  ca::ProtocolRa& protocol_ra() { return *protocol_ra_; }
  const lifecycle::JobQueue& jobs() const { return *jobs_; }
  const inventory::Sightings& sightings() const { return *sightings_; }
  discovery::Discovery& discovery() { return *discovery_; }
  const lifecycle::ManagedService& managed() const { return *managed_; }
  const lifecycle::alerts::AlertService& alerts() const { return *alerts_; }
  const lifecycle::Reconciler& reconciler() const { return *reconciler_; }
  const lifecycle::CampaignService& campaigns() const { return *campaigns_; }
  policy::PolicyService& policy() { return *policy_; }
  ca::ApprovalService& approvals() { return *approvals_; }
  ssh::SshService& ssh() { return *ssh_; }
  issuers::IssuerRegistry& issuers() { return *issuers_; }
  ~Context();  // where the alerts' types are complete
  const std::string& actor() const { return actor_; }
  // The local operator as the domain's services see it: acting as actor(), in no team's scope.
  ca::Requester requester() const {
    return ca::Requester{.actor = actor_, .team = {}, .scope = {}, .principal = actor_};
  }

 private:
  Context() = default;

  Config config_;
  SystemClock clock_;
  ca::ProfileSet profiles_;
  std::unique_ptr<store::Database> db_;
  std::optional<audit::AuditLog> audit_;
  std::optional<inventory::Inventory> inventory_;
  std::optional<crypto::KeyWrapper> wrapper_;
  std::unique_ptr<ca::AuthorityService> authorities_;
  std::unique_ptr<issuers::IssuerRegistry> issuers_;  // authorities and upstream CAs
  std::unique_ptr<ca::Enrollment> enrollment_;
  std::unique_ptr<ca::RevocationService> revocation_;
  std::unique_ptr<ca::CrlPublisher> crls_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<auth::EabKeys> eab_;
  std::unique_ptr<auth::EnrollmentCredentials> credentials_;
  std::unique_ptr<ca::ProtocolRa> protocol_ra_;  // the SCEP and CMP RA certificates
  std::optional<lifecycle::JobQueue> jobs_;
  std::optional<inventory::Sightings> sightings_;
  std::unique_ptr<discovery::Discovery> discovery_;
  std::unique_ptr<lifecycle::ManagedService> managed_;
  std::unique_ptr<lifecycle::alerts::AlertSettings> alert_settings_;
  std::unique_ptr<lifecycle::alerts::AlertService> alerts_;
  std::unique_ptr<lifecycle::deploy::Deployer> deployer_;
  std::unique_ptr<lifecycle::Reconciler> reconciler_;
  std::unique_ptr<lifecycle::CampaignService> campaigns_;
  std::unique_ptr<policy::PolicyService> policy_;
  std::unique_ptr<ca::ApprovalService> approvals_;
  std::unique_ptr<ssh::SshService> ssh_;
  std::string actor_;
};

struct InitOptions {
  std::string root_subject = "CN=certward Development Root CA,O=certward";
  std::string issuing_subject = "CN=certward Development Issuing CA,O=certward";
};
// The embedded default hierarchy: root "root" and issuing CA "issuing" (path length 0), made
// only if no authority exists yet. Returns what it created (empty: nothing to do).
Result<std::vector<ca::AuthorityInfo>> initialise_authorities(Context& c, const InitOptions& o);

}  // namespace certward::cli
