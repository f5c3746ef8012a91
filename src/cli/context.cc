#include "cli/context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/file.h"
#include "common/log.h"
#include "issuers/registry.h"
#include "lifecycle/alerts/evaluator.h"
#include "lifecycle/scheduler.h"
#include "protocols/acme/service.h"
#include "protocols/cmp/service.h"
#include "protocols/est/service.h"
#include "protocols/scep/service.h"
#include "store/schema.h"

namespace certward::cli {

Context::~Context() = default;

namespace {

std::string local_actor() {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string("local:") + (pw ? pw->pw_name : std::to_string(::geteuid()));
}

Status prepare_data_dir(const std::string& dir, Init mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return check_private_directory(dir);
  if (mode == Init::kOpenExisting) {
    return fail(ErrorCode::kNotFound,
                "data directory " + dir + " does not exist (run 'certward init' first)");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  // Someone may have made it between the two looks: check what is there now.
  return check_private_directory(dir);
}

// Opening creates an empty database where there is none, and fills an empty file with a fresh
// schema: a command that expects a database (`audit verify`, `cert list`) must do neither in
// a directory that has none (a restore target, a mistyped -d), nor report a truncated file
// as an intact, empty deployment.
Status require_database_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return fail(ErrorCode::kNotFound,
                  "no database at " + path + " (run 'certward init' first, or 'certward restore')");
    }
    return fail(ErrorCode::kUnavailable, "cannot read " + path + ": " + std::strerror(errno));
  }
  // (A live database's pages may all be in its -wal, but never with an empty file beside it:
  // switching to WAL writes the header.)
  struct stat wal {};
  if (S_ISREG(st.st_mode) && st.st_size == 0 && ::stat((path + "-wal").c_str(), &wal) != 0) {
    return fail(ErrorCode::kNotFound, "the database " + path +
                                          " is empty (0 bytes): restore it from a backup, or "
                                          "move it away and run 'certward init'");
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<Context>> Context::open(const std::optional<std::string>& config_path,
                                               const std::optional<std::string>& data_dir,
                                               Init mode) {
  std::unique_ptr<Context> c(new Context());
  auto env = process_environment();
  if (data_dir) env["CERTWARD_DATA_DIR"] = *data_dir;
  CW_ASSIGN_OR_RETURN(c->config_, load_config(config_path, env));
  CW_ASSIGN_OR_RETURN(c->profiles_, ca::ProfileSet::create(c->config_.profiles));
  c->actor_ = local_actor();

  const Config& cfg = c->config_;
  store::DatabaseConfig dbc;
  dbc.pool_size = cfg.database.pool_size;
  // A command runs once and exits, and its bulk writes (an import of a million certificates)
  // touch index pages all over the file: a larger writer cache, allocated only as it fills.
  dbc.sqlite_writer_cache_mib = 256;
  if (cfg.database.driver == "postgres") {
    dbc.driver = store::Driver::kPostgres;
    dbc.postgres_url = cfg.database.url;
  } else {
    CW_RETURN_IF_ERROR(prepare_data_dir(cfg.data_dir, mode));
    dbc.driver = store::Driver::kSqlite;
    dbc.sqlite_path = cfg.database.path;
    if (mode == Init::kOpenExisting && dbc.sqlite_path != ":memory:") {
      CW_RETURN_IF_ERROR(require_database_file(dbc.sqlite_path));
    }
  }
  if (mode == Init::kCreate) CW_RETURN_IF_ERROR(prepare_data_dir(cfg.data_dir, mode));
  CW_ASSIGN_OR_RETURN(c->db_, store::Database::open(dbc));
  // Before any migration writes: a database from a newer certward stays as it is.
  CW_RETURN_IF_ERROR(store::refuse_newer_schema(*c->db_));
  CW_RETURN_IF_ERROR(audit::AuditLog::migrate(*c->db_));
  CW_RETURN_IF_ERROR(inventory::Inventory::migrate(*c->db_));
  CW_RETURN_IF_ERROR(ca::AuthorityService::migrate(*c->db_));
  CW_RETURN_IF_ERROR(ca::CrlPublisher::migrate(*c->db_));
  c->audit_.emplace(c->clock_, *c->db_);
  c->inventory_.emplace(c->clock_, *c->db_, *c->audit_);

  // A new master key only for a database that holds no sealed CA key yet: on a database
  // shared with another host, a fresh key here could never open the existing authorities.
  CW_ASSIGN_OR_RETURN(auto sealed, ca::AuthorityService::any_sealed_keys(*c->db_));
  const bool may_create = mode == Init::kCreate && !sealed;
  auto wrapper = ca::load_master_key(
      cfg.ca, env,
      may_create ? ca::MasterKeyMode::kCreateIfMissing : ca::MasterKeyMode::kMustExist);
  if (!wrapper && sealed && wrapper.error().code == ErrorCode::kNotFound) {
    return fail(
        ErrorCode::kNotFound,
        "the database already holds CA keys sealed under a master key that is not here: copy " +
            cfg.ca.master_key_file + " from the first host, or set CERTWARD_MASTER_KEY");
  }
  if (!wrapper) return std::unexpected(wrapper.error());
  c->wrapper_.emplace(std::move(*wrapper));
  c->authorities_ = std::make_unique<ca::AuthorityService>(c->clock_, *c->db_, *c->wrapper_,
                                                           *c->audit_, *c->inventory_, cfg.ca);
  // Upstream CAs beside the authorities: a bad [issuers.<name>] stops the start here.
  CW_ASSIGN_OR_RETURN(c->issuers_, issuers::IssuerRegistry::create(c->clock_, *c->db_, *c->wrapper_,
                                                                   *c->authorities_, cfg, env));
  c->enrollment_ = std::make_unique<ca::Enrollment>(c->clock_, *c->db_, *c->issuers_, c->profiles_,
                                                    *c->inventory_, *c->audit_);
  c->revocation_ = std::make_unique<ca::RevocationService>(c->clock_, *c->db_, *c->authorities_,
                                                           *c->inventory_, *c->audit_);
  c->revocation_->set_issuers(c->issuers_.get());
  c->crls_ = std::make_unique<ca::CrlPublisher>(c->clock_, *c->db_, *c->authorities_,
                                                *c->inventory_, cfg.revocation, cfg.ca);
  CW_RETURN_IF_ERROR(auth::AuthService::migrate(*c->db_));
  c->auth_ = std::make_unique<auth::AuthService>(c->clock_, *c->db_, *c->audit_, &*c->inventory_);
  CW_RETURN_IF_ERROR(auth::EabKeys::migrate(*c->db_));
  c->eab_ = std::make_unique<auth::EabKeys>(c->clock_, *c->db_, *c->audit_, *c->wrapper_);
  CW_RETURN_IF_ERROR(auth::EnrollmentCredentials::migrate(*c->db_));
  c->credentials_ =
      std::make_unique<auth::EnrollmentCredentials>(c->clock_, *c->db_, *c->audit_, *c->wrapper_);
  CW_RETURN_IF_ERROR(ca::ProtocolRa::migrate(*c->db_));
  c->protocol_ra_ = std::make_unique<ca::ProtocolRa>(
      c->clock_, *c->db_, *c->enrollment_, *c->authorities_, *c->inventory_, *c->wrapper_);
  CW_RETURN_IF_ERROR(protocols::cmp::Service::migrate(*c->db_));
  CW_RETURN_IF_ERROR(protocols::est::Service::migrate(*c->db_));
  CW_RETURN_IF_ERROR(protocols::scep::Service::migrate(*c->db_));
  CW_RETURN_IF_ERROR(protocols::acme::Service::migrate(*c->db_));
  CW_RETURN_IF_ERROR(lifecycle::JobQueue::migrate(*c->db_));
  c->jobs_.emplace(c->clock_, *c->db_);
  CW_RETURN_IF_ERROR(discovery::Discovery::migrate(*c->db_));
  c->sightings_.emplace(c->clock_, *c->db_);
  // Compliance rules: the declared ones are checked here, so a bad [[policy.rule]] stops the
  // start; every enrollment of this process is held to them.
  CW_RETURN_IF_ERROR(policy::PolicyService::migrate(*c->db_));
  {
    std::vector<nlohmann::json> specs;
    std::vector<std::string> where;
    for (const auto& d : cfg.policy.rules) {
      specs.push_back(d.spec);
      where.push_back(d.where);
    }
    CW_ASSIGN_OR_RETURN(auto declared, policy::PolicyService::parse_declared(specs, where));
    c->policy_ = std::make_unique<policy::PolicyService>(
        c->clock_, *c->db_, *c->audit_, *c->inventory_, *c->sightings_, std::move(declared));
  }
  c->enrollment_->set_policy(c->policy_.get());
  CW_RETURN_IF_ERROR(ca::ApprovalService::migrate(*c->db_));
  c->approvals_ = std::make_unique<ca::ApprovalService>(
      c->clock_, *c->db_, *c->enrollment_, c->profiles_, *c->audit_, cfg.approvals.ttl);
  // Nothing is issued in the name of a requester disabled, or revoked, since it asked.
  c->approvals_->set_requester_check(
      [auth = c->auth_.get()](store::Transaction& tx, const ca::Requester& who) {
        return auth->requester_stands(tx, who);
      });
  ca::AuthorityService* authorities = c->authorities_.get();
  c->discovery_ = std::make_unique<discovery::Discovery>(
      discovery::DiscoveryDeps{c->clock_, *c->db_, *c->inventory_, *c->sightings_, *c->audit_,
                               *c->jobs_, c->config_.discovery, [authorities] {
                                 // Chains to certward's own roots are trusted by network scans.
                                 std::vector<Bytes> roots;
                                 if (auto list = authorities->list()) {
                                   for (const auto& a : *list) {
                                     if (a.kind == ca::AuthorityKind::kRoot)
                                       roots.push_back(a.certificate.der());
                                   }
                                 }
                                 return roots;
                               }});
  CW_RETURN_IF_ERROR(c->discovery_->check());
  CW_RETURN_IF_ERROR(lifecycle::ManagedService::migrate(*c->db_));
  auto alert_settings = lifecycle::alerts::parse_alert_settings(cfg.alerts.spec);
  if (!alert_settings) {
    return fail(ErrorCode::kMalformed, (cfg.alerts.where.empty() ? "[alerts]" : cfg.alerts.where) +
                                           ": " + alert_settings.error().message);
  }
  c->alert_settings_ =
      std::make_unique<lifecycle::alerts::AlertSettings>(*std::move(alert_settings));
  lifecycle::LifecycleDeps lifecycle{
      c->clock_, *c->db_,   *c->enrollment_, *c->authorities_, *c->inventory_,          *c->audit_,
      *c->auth_, *c->jobs_, *c->wrapper_,    cfg.lifecycle,    c->alert_settings_.get()};
  // Upstream ACME CAs that publish renewal information decide when their certificates renew.
  lifecycle.renewal_hint = [inventory = &*c->inventory_,
                            issuers = c->issuers_.get()](const std::string& fingerprint) {
    lifecycle::RenewalHint hint;
    auto record = inventory->get(fingerprint);
    if (!record || !*record || (*record)->meta.origin != inventory::Origin::kUpstream ||
        !(*record)->meta.authority || !issuers->offers_renewal_info(*(*record)->meta.authority)) {
      return hint;
    }
    hint.offered = true;
    auto cert = inventory->certificate(fingerprint);
    if (!cert) return hint;
    auto at = issuers->renewal_time(*(*record)->meta.authority, *cert);
    if (at && *at) {
      hint.renew_at = **at;
    } else if (!at) {
      log::warn("renewal_info_unavailable",
                {{"fingerprint", fingerprint}, {"error", at.error().message}});
    }
    return hint;
  };
  c->alerts_ = std::make_unique<lifecycle::alerts::AlertService>(lifecycle::alerts::AlertDeps{
      c->clock_, *c->db_, *c->inventory_, *c->audit_, *c->jobs_, *c->alert_settings_,
      c->policy_.get(), &*c->sightings_});
  // A profile's first issuer failing over to the next is an alert, wherever it happened.
  c->issuers_->set_failover_observer([alerts = c->alerts_.get()](const issuers::FailoverEvent& e) {
    if (auto raised = alerts->issuer_failover(e.profile, e.failed, e.used, e.error); !raised) {
      log::warn("issuer_failover_alert_failed", {{"error", raised.error().message}});
    }
  });
  c->managed_ = std::make_unique<lifecycle::ManagedService>(lifecycle);
  c->deployer_ = std::make_unique<lifecycle::deploy::Deployer>(
      c->clock_, lifecycle::deploy_policy(cfg.lifecycle));
  c->reconciler_ = std::make_unique<lifecycle::Reconciler>(lifecycle, *c->deployer_);
  CW_RETURN_IF_ERROR(ssh::SshService::migrate(*c->db_));
  c->ssh_ = std::make_unique<ssh::SshService>(c->clock_, *c->db_, *c->wrapper_, *c->audit_,
                                              *c->authorities_, cfg.ssh, &*c->sightings_);
  CW_RETURN_IF_ERROR(lifecycle::CampaignService::migrate(*c->db_));
  c->campaigns_ = std::make_unique<lifecycle::CampaignService>(
      lifecycle::CampaignDeps{lifecycle, *c->managed_, c->profiles_, *c->revocation_});
  // A revocation made here (the CLI, in its own process) moves the servers' CRL publication to
  // now, as one made through a server does: whichever server leases it publishes within a
  // poll, instead of at its next occurrence. The OCSP responders see it within their refresh.
  c->revocation_->set_observer([jobs = &*c->jobs_](const std::string&) {
    lifecycle::NewJob job;
    job.kind = std::string(ca::CrlPublisher::kJobKind);
    job.dedupe_key = lifecycle::Scheduler::recurring_key(job.kind);
    job.on_pending = lifecycle::OnPending::kRunEarlier;
    job.max_attempts = 3;
    if (auto queued = jobs->enqueue(job); !queued) {
      log::warn("crl_publish_not_scheduled", {{"error", queued.error().message}});
    }
  });
  return c;
}

Result<std::vector<ca::AuthorityInfo>> initialise_authorities(Context& c, const InitOptions& o) {
  CW_ASSIGN_OR_RETURN(auto existing, c.authorities().list());
  if (!existing.empty()) return std::vector<ca::AuthorityInfo>();
  ca::RootOptions root;
  root.name = "root";
  root.subject = o.root_subject;
  CW_ASSIGN_OR_RETURN(auto root_info, c.authorities().create_root(root, c.actor()));
  ca::SubordinateOptions sub;
  sub.name = "issuing";
  sub.kind = ca::AuthorityKind::kIssuing;
  sub.parent = "root";
  sub.subject = o.issuing_subject;
  sub.path_length = 0;
  ca::Requester requester;
  requester.actor = c.actor();
  CW_ASSIGN_OR_RETURN(auto issuing_info,
                      ca::create_subordinate(c.enrollment(), c.authorities(), sub, requester));
  return std::vector<ca::AuthorityInfo>{root_info, issuing_info};
}

}  // namespace certward::cli
