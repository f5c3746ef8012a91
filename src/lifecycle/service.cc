#include "lifecycle/service.h"

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "x509/names.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::string_view kConfigActor = "config";

// The names a certificate carries that a managed certificate can ask for again.
std::vector<x509::SubjectAltName> reusable_names(const inventory::CertificateRecord& rec) {
  std::vector<x509::SubjectAltName> out;
  for (const auto& san : rec.sans) {
    if (san.type == x509::SanType::kOther) continue;
    if (auto checked = x509::check_san(san); checked) out.push_back(*checked);
  }
  return out;
}

bool same_names(std::vector<x509::SubjectAltName> a, std::vector<x509::SubjectAltName> b) {
  auto key = [](const x509::SubjectAltName& s) { return x509::format_san(s); };
  std::ranges::sort(a, {}, key);
  std::ranges::sort(b, {}, key);
  return a == b;
}

json spec_detail(const ManagedSpec& s) { return managed_spec_json(s); }

}  // namespace

deploy::Policy deploy_policy(const LifecycleSettings& s) {
  deploy::Policy p;
  p.allowed_paths = s.allowed_paths;
  p.allowed_ssh_hosts = s.allowed_ssh_hosts;
  p.ssh_binary = s.ssh_binary;
  p.scp_binary = s.scp_binary;
  for (const auto& command : s.team_reload_commands) {
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < command.size()) {
      const std::size_t end = std::min(command.find(' ', start), command.size());
      if (end > start) argv.push_back(command.substr(start, end - start));
      start = end + 1;
    }
    if (!argv.empty()) p.team_reload_commands.push_back(std::move(argv));
  }
  p.team_secrets_dir = s.team_secrets_dir;
  p.verify_networks = s.verify_networks;
  return p;
}

std::string reconcile_key(std::string_view id) { return "managed:" + std::string(id); }

NewJob reconcile_job(std::string_view id, SysTime run_at, int max_attempts) {
  NewJob job;
  job.kind = std::string(kReconcileJob);
  job.payload = {{"id", id}};
  job.run_at = run_at;
  job.dedupe_key = reconcile_key(id);
  job.on_pending = OnPending::kRunEarlier;
  job.max_attempts = max_attempts;
  return job;
}

Status ManagedService::check(ManagedSpec& spec, const ca::Requester& caller,
                             const ManagedSpec* before) const {
  if (caller.scope) {
    if (!spec.team) spec.team = caller.team;
    if (!caller.team || spec.team != caller.team) {
      return fail(ErrorCode::kUnauthorized,
                  caller.actor + " manages certificates for its own team only");
    }
  }
  // The RA's own pre-signing decision: the profile and authority exist and may be used, the
  // names are within the caller's scope and the profile's rules, the key type is allowed.
  ca::EnrollmentRequest r;
  r.server_key = spec.key.type;
  r.common_name = spec.common_name;
  r.sans = spec.sans;
  r.profile = spec.profile;
  r.authority = spec.authority;
  r.validity = spec.validity;
  r.requester = caller;
  r.channel = ca::Channel::kRenewal;
  r.owner = spec.owner;
  r.team = spec.team;
  r.tags = spec.tags;
  CW_RETURN_IF_ERROR(d_.ra.check(r));
  const deploy::Policy policy = deploy_policy(d_.settings);
  CW_RETURN_IF_ERROR(agents_.check_targets(spec, caller));
  for (const auto& t : spec.targets) {
    CW_RETURN_IF_ERROR(deploy::check_target(t, policy));
    // An agent target's command runs, and its files are read, on the agent's host under the
    // agent's own allow-list: nothing of it runs here.
    if (t.kind == deploy::TargetKind::kAgent) continue;
    // A requester's target cannot run a command or read a file that is not its team's; one
    // it keeps as an operator made it is the operator's choice.
    const bool kept = before != nullptr && std::ranges::any_of(before->targets, [&](const auto& o) {
                        return deploy::target_spec_json(o) == deploy::target_spec_json(t);
                      });
    if (caller.scope && !kept) {
      CW_RETURN_IF_ERROR(deploy::check_team_target(t, policy, *spec.team));
    }
  }
  // A reconciliation must end well within its lease, or another replica takes it and deploys
  // the same files at the same time: a target's timeouts (up to an hour each) are bounded by it.
  std::chrono::seconds longest{0};
  for (const auto& t : spec.targets) longest += deploy::longest_deployment(t);
  if (longest * 2 > d_.settings.lease) {
    return fail(ErrorCode::kInvalidArgument,
                "the targets' timeouts allow a deployment of up to " +
                    std::to_string(longest.count()) + "s, more than half of [lifecycle] lease (" +
                    std::to_string(d_.settings.lease.count()) + "s): shorten them");
  }
  if (spec.alerts.channels.size() > 16) {
    return fail(ErrorCode::kInvalidArgument, "at most 16 alert channels");
  }
  return ok();
}

Status ManagedService::adopt(ManagedCertificate& m, const ca::Requester& caller) const {
  const std::optional<std::string> only_team = caller.scope ? caller.team : std::nullopt;
  CW_ASSIGN_OR_RETURN(auto rec, d_.inventory.resolve(*m.spec.adopt, only_team));
  if (rec.is_ca) return fail(ErrorCode::kInvalidArgument, "a CA certificate cannot be adopted");
  if (rec.revoked_at) return fail(ErrorCode::kInvalidArgument, "the certificate is revoked");
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto managing, store_.managing(*tx, rec.fingerprint));
    if (managing) {
      return fail(ErrorCode::kConflict,
                  "the certificate is managed by '" + *managing + "' already");
    }
  }
  const auto names = reusable_names(rec);
  if (m.spec.sans.empty()) {
    if (names.empty()) {
      return fail(ErrorCode::kInvalidArgument, "the certificate has no name to renew it for");
    }
    m.spec.sans = names;
    CW_ASSIGN_OR_RETURN(m.spec, parse_managed_spec(managed_spec_json(m.spec)));
    m.spec.adopt = rec.fingerprint;
  }
  m.fingerprint = rec.fingerprint;
  m.not_before = rec.not_before;
  m.not_after = rec.not_after;
  m.renew_at = renewal_due(rec.not_before, rec.not_after, m.spec.renew_before);
  // Renewed when due, as it is: asked for other names, it is replaced at once.
  m.issued_hash = same_names(m.spec.sans, names) ? desired_hash(m.spec) : "";
  // It is wherever it is already; certward has no key to deploy it with.
  m.deployed_fingerprint = rec.fingerprint;
  m.deployed_hash = targets_hash(m.spec);
  m.state = ManagedState::kActive;
  return ok();
}

Status ManagedService::commit_change(store::Transaction& tx, ManagedCertificate& m,
                                     std::string_view event, std::string_view action,
                                     const json& detail, std::string_view actor,
                                     SysTime run_at) const {
  CW_RETURN_IF_ERROR(store_.add_event(tx, m.id, event, actor, detail));
  CW_RETURN_IF_ERROR(d_.audit.append(tx, audit::Event{.actor = std::string(actor),
                                                      .action = std::string(action),
                                                      .target_type = "managed_certificate",
                                                      .target_id = m.id,
                                                      .details = detail}));
  if (m.state == ManagedState::kDeleted) return ok();
  CW_RETURN_IF_ERROR(d_.jobs.enqueue(tx, reconcile_job(m.id, run_at, d_.settings.max_attempts)));
  return ok();
}

Result<ManagedCertificate> ManagedService::create(ManagedSpec spec,
                                                  const ca::Requester& caller) const {
  const SysTime now = d_.clock.now();
  ManagedCertificate m;
  m.id = to_hex(crypto::random_bytes(12));
  m.spec = std::move(spec);
  m.created_by = caller.actor;
  m.creator_team = caller.team;
  m.creator_scoped = caller.scope.has_value();
  m.created_at = m.updated_at = now;
  m.next_check_at = now;
  if (m.spec.adopt) CW_RETURN_IF_ERROR(adopt(m, caller));
  CW_RETURN_IF_ERROR(check(m.spec, caller));
  if (m.creator_scoped) m.creator_team = m.spec.team;
  SysTime run_at = now;
  if (m.spec.adopt && !m.issued_hash.empty()) {
    run_at = std::max(
        now, *m.renew_at - renewal_jitter(m.id, *m.not_before, *m.not_after, m.spec.renew_before,
                                          d_.settings.jitter_percent));
    m.next_check_at = run_at;
  }
  json detail = {{"spec", spec_detail(m.spec)}};
  if (m.spec.adopt) detail["adopted"] = *m.spec.adopt;
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(store_.insert(*tx, m));
  CW_RETURN_IF_ERROR(store_.claim_target_files(*tx, m));
  CW_RETURN_IF_ERROR(commit_change(*tx, m, m.spec.adopt ? "adopted" : "created", "managed.create",
                                   detail, caller.actor, run_at));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("managed_created", {{"id", m.id}, {"name", m.spec.name}, {"actor", caller.actor}});
  return m;
}

Result<ManagedCertificate> ManagedService::visible(store::Transaction& tx,
                                                   const std::string& id_or_name,
                                                   const ca::Requester& caller, bool lock) const {
  const auto hidden = [&](const std::optional<ManagedCertificate>& c) {
    return c && caller.scope && (!caller.team || c->spec.team != caller.team);
  };
  CW_ASSIGN_OR_RETURN(auto m, store_.find(tx, id_or_name, lock));
  // Another team's id is looked up as a name, as if it did not exist: a name of the caller's
  // that happens to be another team's id must not tell the caller that id exists.
  if (!m || hidden(m)) {
    CW_ASSIGN_OR_RETURN(m, store_.find_by_name(tx, id_or_name));
    if (m && lock) {
      CW_ASSIGN_OR_RETURN(m, store_.find(tx, m->id, true));
    }
  }
  // Another team's is not found: a scoped caller learns nothing of it.
  if (!m || hidden(m)) {
    return fail(ErrorCode::kNotFound, "no managed certificate '" + id_or_name + "'");
  }
  return *std::move(m);
}

Result<ManagedCertificate> ManagedService::update(const std::string& id, const json& patch,
                                                  const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto m, visible(*tx, id, caller, /*lock=*/true));
  if (m.state == ManagedState::kDeleted) {
    return fail(ErrorCode::kNotFound, "managed certificate '" + id + "' is deleted");
  }
  // The configuration is its whole desired state: a change made here would be undone,
  // unannounced, when a server next starts.
  if (m.declared && caller.actor != kConfigActor) {
    return fail(ErrorCode::kConflict, "managed certificate '" + m.spec.name +
                                          "' is declared in the configuration: change it there");
  }
  CW_ASSIGN_OR_RETURN(auto spec, patch_managed_spec(m.spec, patch));
  CW_RETURN_IF_ERROR(check(spec, caller, &m.spec));
  if (managed_spec_json(spec) == managed_spec_json(m.spec)) return m;
  json detail = {{"before", spec_detail(m.spec)}, {"after", spec_detail(spec)}};
  m.spec = std::move(spec);
  m.next_check_at = d_.clock.now();
  CW_ASSIGN_OR_RETURN(auto stored, store_.update(*tx, m));
  if (!stored) return fail(ErrorCode::kConflict, "changed meanwhile: read it again");
  CW_RETURN_IF_ERROR(store_.claim_target_files(*tx, m));
  CW_RETURN_IF_ERROR(
      commit_change(*tx, m, "updated", "managed.update", detail, caller.actor, d_.clock.now()));
  CW_RETURN_IF_ERROR(tx->commit());
  return m;
}

Status ManagedService::remove(const std::string& id, const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto m, visible(*tx, id, caller, /*lock=*/true));
  if (m.state == ManagedState::kDeleted) {
    return fail(ErrorCode::kNotFound, "managed certificate '" + id + "' is deleted");
  }
  if (m.declared && caller.actor != kConfigActor) {
    return fail(ErrorCode::kConflict, "managed certificate '" + m.spec.name +
                                          "' is declared in the configuration: remove it there");
  }
  m.state = ManagedState::kDeleted;
  m.next_check_at.reset();
  CW_ASSIGN_OR_RETURN(auto stored, store_.update(*tx, m));
  if (!stored) return fail(ErrorCode::kConflict, "changed meanwhile: try again");
  CW_RETURN_IF_ERROR(store_.claim_target_files(*tx, m));
  CW_RETURN_IF_ERROR(agents_.supersede_all(*tx, m.id));
  CW_RETURN_IF_ERROR(
      commit_change(*tx, m, "deleted", "managed.delete",
                    {{"name", m.spec.name},
                     {"fingerprint", m.fingerprint ? json(*m.fingerprint) : json(nullptr)}},
                    caller.actor, d_.clock.now()));
  return tx->commit();
}

Result<ManagedCertificate> ManagedService::renew(const std::string& id, bool rotate_key,
                                                 const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto m, visible(*tx, id, caller, /*lock=*/true));
  if (m.state == ManagedState::kDeleted) {
    return fail(ErrorCode::kNotFound, "managed certificate '" + id + "' is deleted");
  }
  // The issuance scope may have shrunk since the managed certificate was made: say so now.
  ManagedSpec spec = m.spec;
  CW_RETURN_IF_ERROR(check(spec, caller, &m.spec));
  if (rotate_key || m.renew_request != RenewRequest::kRotateKey) {
    m.renew_request = rotate_key ? RenewRequest::kRotateKey : RenewRequest::kRenew;
  }
  m.next_check_at = d_.clock.now();
  CW_ASSIGN_OR_RETURN(auto stored, store_.update(*tx, m));
  if (!stored) return fail(ErrorCode::kConflict, "changed meanwhile: try again");
  CW_RETURN_IF_ERROR(commit_change(*tx, m, "renew_requested", "managed.renew",
                                   {{"rotate_key", rotate_key}}, caller.actor, d_.clock.now()));
  CW_RETURN_IF_ERROR(tx->commit());
  return m;
}

Result<ManagedCertificate> ManagedService::get(const std::string& id_or_name,
                                               const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  return visible(*tx, id_or_name, caller, /*lock=*/false);
}

Result<ManagedPage> ManagedService::list(ManagedFilter filter, const ca::Requester& caller) const {
  if (caller.scope) {
    if (filter.team && filter.team != caller.team) {
      return fail(ErrorCode::kUnauthorized,
                  "requesters see only their team's managed certificates");
    }
    if (!caller.team) return ManagedPage{};
    filter.team = caller.team;
  }
  return store_.list(filter);
}

Result<std::vector<ManagedEvent>> ManagedService::timeline(const std::string& id, int limit,
                                                           const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto m, get(id, caller));
  return store_.events(m.id, limit);
}

Result<std::vector<Alert>> ManagedService::alerts(int limit,
                                                  const std::optional<std::string>& before,
                                                  const ca::Requester& caller) const {
  if (caller.scope && !caller.team) return std::vector<Alert>{};
  return store_.alerts(caller.scope ? caller.team : std::nullopt, limit, before);
}

Status ManagedService::sync_declared(const std::vector<ManagedDeclaration>& declarations) const {
  const ca::Requester config{.actor = std::string(kConfigActor), .team = {}, .scope = {}};
  std::set<std::string> names;
  for (const auto& decl : declarations) {
    auto where = [&](const Error& e) {
      return fail(e.code, decl.where + ": [[managed]]: " + e.message);
    };
    auto spec = parse_managed_spec(decl.spec);
    if (!spec) return where(spec.error());
    if (!names.insert(spec->name).second) {
      return where({ErrorCode::kInvalidArgument, "'" + spec->name + "' is declared twice"});
    }
    std::optional<ManagedCertificate> existing;
    {
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
      CW_ASSIGN_OR_RETURN(existing, store_.find_by_name(*tx, spec->name));
    }
    if (!existing) {
      auto created = create(*spec, config);
      if (created) {
        CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
        created->declared = true;
        CW_RETURN_IF_ERROR(store_.update(*tx, *created));
        CW_RETURN_IF_ERROR(tx->commit());
        continue;
      }
      // Another replica starting with the same configuration created it first.
      if (created.error().code != ErrorCode::kConflict) return where(created.error());
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
      CW_ASSIGN_OR_RETURN(existing, store_.find_by_name(*tx, spec->name));
      if (!existing) return where(created.error());
    }
    json whole = managed_spec_json(*spec);
    whole.erase("name");
    // Members a declaration leaves out are cleared, not kept: the configuration is the whole
    // desired state.
    for (const char* optional : {"authority", "renew_before", "validity", "owner", "team"}) {
      if (!whole.contains(optional)) whole[optional] = nullptr;
    }
    if (managed_spec_json(existing->spec) != managed_spec_json(*spec)) {
      auto changed = update(existing->id, whole, config);
      if (!changed) return where(changed.error());
    }
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto current, store_.find(*tx, existing->id, true));
    if (current && !current->declared) {
      current->declared = true;
      CW_RETURN_IF_ERROR(store_.update(*tx, *current));
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
  // Declared before, no longer: kept (deleting certificates is an operator's decision), and
  // from now on the API may delete them.
  std::string after;
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto batch, store_.live_after(after, 500));
    if (batch.empty()) break;
    after = batch.back().id;
    for (auto& m : batch) {
      if (!m.declared || names.contains(m.spec.name)) continue;
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
      m.declared = false;
      CW_RETURN_IF_ERROR(store_.update(*tx, m));
      CW_RETURN_IF_ERROR(
          store_.add_event(*tx, m.id, "updated", kConfigActor, {{"declared", false}}));
      CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = std::string(kConfigActor),
                                                           .action = "managed.undeclare",
                                                           .target_type = "managed_certificate",
                                                           .target_id = m.id,
                                                           .details = {{"name", m.spec.name}}}));
      CW_RETURN_IF_ERROR(tx->commit());
    }
  }
  return ok();
}

}  // namespace certward::lifecycle
