#include "lifecycle/campaign_service.h"

#include <map>

#include "common/encoding.h"
#include "common/log.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

// How often a running wave looks at its items, and a paused campaign at its state.
constexpr std::chrono::seconds kWaveCheck{2};
constexpr std::chrono::seconds kPausedCheck{10};
// Items a finish run revokes before naming its successor (each is a transaction of its own).
constexpr int kFinishBatch = 100;
constexpr int kPage = 1000;

std::string key_description(const inventory::CertificateRecord& r) {
  std::string out = r.key_algorithm;
  if (!r.key_curve.empty()) {
    out += " " + r.key_curve;
  } else if (r.key_bits > 0) {
    out += " " + std::to_string(r.key_bits);
  }
  return out;
}

// Where a managed certificate is deployed, without anything secret (no key password file
// contents, no commands' output).
json target_summary(const ManagedSpec& spec) {
  json out = json::array();
  for (const auto& t : spec.targets) {
    const json full = deploy::target_spec_json(t);
    json s = {{"name", full.value("name", "")}, {"kind", full.value("kind", "")}};
    if (full.contains("ssh") && full["ssh"].is_object()) {
      s["host"] = full["ssh"].value("host", "");
    }
    if (full.contains("files") && full["files"].is_object()) {
      for (const char* k : {"fullchain", "cert", "certificate", "pkcs12", "chain", "key"}) {
        if (full["files"].contains(k) && full["files"][k].is_string()) {
          s["path"] = full["files"][k];
          break;
        }
      }
    }
    if (full.contains("verify") && full["verify"].is_object()) {
      s["verify"] = full["verify"].value("endpoint", "");
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool active(const inventory::CertificateRecord& r, SysTime now) {
  if (r.is_ca || r.revoked_at || r.superseded_by) return false;
  const auto s = r.status(now);
  return s != inventory::CertStatus::kExpired && s != inventory::CertStatus::kRevoked &&
         s != inventory::CertStatus::kSuperseded;
}

bool usable_reason(int reason) {
  switch (reason) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 9:
      return true;
    default:
      return false;
  }
}

}  // namespace

json campaign_plan_json(const CampaignPlan& plan, std::size_t max_items) {
  json items = json::array();
  for (std::size_t i = 0; i < plan.items.size() && i < max_items; ++i) {
    items.push_back(campaign_item_json(plan.items[i]));
  }
  json j = campaign_request_json(plan.request);
  j["dry_run"] = true;
  j["waves"] = plan.waves;
  j["counts"] = campaign_counts_json(plan.counts);
  j["items"] = std::move(items);
  j["items_truncated"] = plan.items.size() > max_items;
  return j;
}

ca::Requester CampaignService::campaign_actor(const Campaign& c) const {
  return ca::Requester{.actor = "campaign:" + c.id, .team = {}, .scope = {}};
}

NewJob CampaignService::wave_job(const std::string& id, SysTime at) const {
  NewJob job;
  job.kind = std::string(kCampaignWaveJob);
  job.payload = {{"id", id}};
  job.run_at = at;
  job.dedupe_key = "campaign:" + id;
  job.on_pending = OnPending::kRunEarlier;
  job.max_attempts = 20;
  return job;
}

NewJob CampaignService::finish_job(const std::string& id, std::int64_t after, SysTime at) const {
  NewJob job;
  job.kind = std::string(kCampaignFinishJob);
  job.payload = {{"id", id}, {"after", after}};
  job.run_at = at;
  job.dedupe_key = "campaign-finish:" + id;
  job.on_pending = OnPending::kRunEarlier;
  job.max_attempts = 20;
  return job;
}

Status CampaignService::check_caller(const ca::Requester& caller) const {
  if (caller.scope) {
    return fail(ErrorCode::kUnauthorized,
                "replacement campaigns are for operators and administrators, not team-scoped "
                "callers");
  }
  return ok();
}

Status CampaignService::check_request(const CampaignRequest& r) const {
  const auto& authorities = d_.lifecycle.authorities;
  if (r.selector.authority) {
    auto a = authorities.info(*r.selector.authority);
    if (!a) return fail(ErrorCode::kNotFound, "no authority '" + *r.selector.authority + "'");
  }
  if (r.target.authority) {
    auto a = authorities.info(*r.target.authority);
    if (!a) return fail(ErrorCode::kNotFound, "no authority '" + *r.target.authority + "'");
    if (a->status != "active") {
      return fail(ErrorCode::kPolicyRejected,
                  "the target authority '" + *r.target.authority + "' is " + a->status);
    }
    if (a->kind == ca::AuthorityKind::kRoot) {
      return fail(ErrorCode::kPolicyRejected,
                  "the target authority '" + *r.target.authority + "' is a root: it signs CAs");
    }
    if (r.selector.authority == r.target.authority && !r.target.profile && !r.target.key_type) {
      // Allowed: a new key from the same authority (a key compromise), said explicitly.
      log::info("campaign_same_authority", {{"authority", *r.target.authority}});
    }
  }
  if (r.target.profile) {
    if (auto p = d_.profiles.find(*r.target.profile); !p) {
      return fail(ErrorCode::kNotFound, "no profile '" + *r.target.profile + "'");
    }
  }
  return ok();
}

Result<CampaignPlan> CampaignService::plan(CampaignRequest request,
                                           const ca::Requester& caller) const {
  CW_RETURN_IF_ERROR(check_caller(caller));
  if (selector_empty(request.selector)) {
    return fail(ErrorCode::kInvalidArgument, "the selector is empty");
  }
  CW_RETURN_IF_ERROR(check_request(request));
  const SysTime now = d_.lifecycle.clock.now();

  // Managed certificates by their current certificate.
  std::map<std::string, ManagedCertificate, std::less<>> by_fingerprint;
  for (std::string after;;) {
    CW_ASSIGN_OR_RETURN(auto batch, managed_store_.live_after(after, kPage));
    if (batch.empty()) break;
    after = batch.back().id;
    for (auto& m : batch) {
      if (m.fingerprint) by_fingerprint.emplace(*m.fingerprint, std::move(m));
    }
  }

  const auto& s = request.selector;
  inventory::Filter f;
  f.authority = s.authority;
  f.issuer = s.issuer;
  f.key_algorithm = s.key_algorithm;
  f.key_bits = s.key_bits;
  f.search = s.search;
  f.team = s.team;
  f.tag = s.tag;
  f.origin = s.origin;
  f.expires_after = now;
  CampaignPlan plan;
  int managed_index = 0;
  inventory::PageRequest page{.limit = kPage, .cursor = {}};
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto p, d_.lifecycle.inventory.query(f, page));
    for (const auto& rec : p.items) {
      if (!active(rec, now)) continue;
      if (s.profile && rec.meta.profile != s.profile) continue;
      if (plan.items.size() >= kMaxItems) {
        return fail(ErrorCode::kPolicyRejected,
                    "more than " + std::to_string(kMaxItems) +
                        " certificates match: narrow the selector and run several campaigns");
      }
      CampaignItem item;
      item.seq = static_cast<std::int64_t>(plan.items.size()) + 1;
      item.fingerprint = rec.fingerprint;
      item.subject = rec.subject.empty() ? rec.common_name : rec.subject;
      item.authority = rec.meta.authority;
      item.key = key_description(rec);
      item.not_after = rec.not_after;
      item.updated_at = now;
      if (auto it = by_fingerprint.find(rec.fingerprint); it != by_fingerprint.end()) {
        item.managed_id = it->second.id;
        item.managed_name = it->second.spec.name;
        item.targets = target_summary(it->second.spec);
        item.wave = managed_index++ / request.options.wave_size;
        plan.counts.managed += 1;
      } else {
        // Not managed: its replacement is asked for with the first wave.
        item.wave = 0;
        plan.counts.not_managed += 1;
      }
      plan.items.push_back(std::move(item));
    }
    if (!p.next_cursor) break;
    page.cursor = p.next_cursor;
  }
  plan.counts.total = static_cast<std::int64_t>(plan.items.size());
  plan.counts.pending = plan.counts.total;
  plan.waves =
      std::max(1, (managed_index + request.options.wave_size - 1) / request.options.wave_size);
  plan.request = std::move(request);
  return plan;
}

Result<Campaign> CampaignService::create(CampaignRequest request,
                                         const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto p, plan(std::move(request), caller));
  const SysTime now = d_.lifecycle.clock.now();
  Campaign c;
  c.id = to_hex(crypto::random_bytes(8));
  c.request = std::move(p.request);
  if (c.request.name.empty()) c.request.name = "campaign-" + c.id;
  c.waves = p.waves;
  c.created_by = caller.actor;
  c.created_at = c.updated_at = now;
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(store_.insert(*tx, c, p.items));
  CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(
      *tx, audit::Event{.actor = caller.actor,
                        .action = "campaign.create",
                        .target_type = "campaign",
                        .target_id = c.id,
                        .details = {{"request", campaign_request_json(c.request)},
                                    {"counts", campaign_counts_json(p.counts)},
                                    {"waves", c.waves}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info(
      "campaign_created",
      {{"id", c.id}, {"name", c.request.name}, {"items", p.counts.total}, {"actor", caller.actor}});
  return c;
}

Result<Campaign> CampaignService::get(const std::string& id, const ca::Requester& caller) const {
  CW_RETURN_IF_ERROR(check_caller(caller));
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto c, store_.find(*tx, id));
  if (!c) return fail(ErrorCode::kNotFound, "no campaign '" + id + "'");
  return *std::move(c);
}

Result<CampaignCounts> CampaignService::counts(const std::string& id) const {
  return store_.counts(id);
}

Result<std::vector<Campaign>> CampaignService::list(int limit,
                                                    const std::optional<std::string>& before,
                                                    const ca::Requester& caller) const {
  CW_RETURN_IF_ERROR(check_caller(caller));
  return store_.list(limit, before);
}

Result<std::vector<CampaignItem>> CampaignService::items(const std::string& id,
                                                         const ItemFilter& filter,
                                                         const ca::Requester& caller) const {
  CW_ASSIGN_OR_RETURN(auto c, get(id, caller));
  return store_.items(c.id, filter);
}

Result<Campaign> CampaignService::transition(const std::string& id,
                                             std::initializer_list<CampaignState> from,
                                             CampaignState to, std::string_view action,
                                             const ca::Requester& caller,
                                             const std::optional<FinishOptions>& finish) const {
  CW_RETURN_IF_ERROR(check_caller(caller));
  const SysTime now = d_.lifecycle.clock.now();
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto found, store_.find(*tx, id, /*lock=*/true));
  if (!found) return fail(ErrorCode::kNotFound, "no campaign '" + id + "'");
  Campaign c = *std::move(found);
  if (std::ranges::find(from, c.state) == from.end()) {
    return fail(ErrorCode::kConflict, "campaign '" + c.request.name + "' is " +
                                          std::string(campaign_state_name(c.state)));
  }
  const CampaignState before = c.state;
  c.state = to;
  json detail = {{"from", campaign_state_name(before)}, {"to", campaign_state_name(to)}};
  if (to == CampaignState::kRunning) {
    if (!c.started_at) c.started_at = now;
    c.last_error.clear();
    CW_RETURN_IF_ERROR(d_.lifecycle.jobs.enqueue(*tx, wave_job(c.id, now)));
  }
  if (finish) {
    c.finish = finish;
    detail["finish"] = {{"revoke", finish->revoke},
                        {"reason", ca::revocation_reason_name(finish->reason)},
                        {"force", finish->force}};
    if (to == CampaignState::kFinishing) {
      CW_RETURN_IF_ERROR(d_.lifecycle.jobs.enqueue(*tx, finish_job(c.id, 0, now)));
    }
  }
  if (to == CampaignState::kFinished || to == CampaignState::kCancelled) c.completed_at = now;
  CW_RETURN_IF_ERROR(store_.update(*tx, c));
  CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(*tx, audit::Event{.actor = caller.actor,
                                                                 .action = std::string(action),
                                                                 .target_type = "campaign",
                                                                 .target_id = c.id,
                                                                 .details = detail}));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("campaign_state",
            {{"id", c.id}, {"state", campaign_state_name(to)}, {"actor", caller.actor}});
  return c;
}

Result<Campaign> CampaignService::start(const std::string& id, const ca::Requester& caller) const {
  return transition(id, {CampaignState::kPlanned, CampaignState::kPaused}, CampaignState::kRunning,
                    "campaign.start", caller);
}

Result<Campaign> CampaignService::pause(const std::string& id, const ca::Requester& caller) const {
  return transition(id, {CampaignState::kRunning}, CampaignState::kPaused, "campaign.pause",
                    caller);
}

Result<Campaign> CampaignService::cancel(const std::string& id, const ca::Requester& caller) const {
  return transition(id, {CampaignState::kPlanned, CampaignState::kRunning, CampaignState::kPaused},
                    CampaignState::kCancelled, "campaign.cancel", caller);
}

Result<Campaign> CampaignService::finish(const std::string& id, const FinishOptions& options,
                                         const ca::Requester& caller) const {
  if (!usable_reason(options.reason)) {
    return fail(ErrorCode::kInvalidArgument,
                "reason must be unspecified, keyCompromise, cACompromise, affiliationChanged, "
                "superseded, cessationOfOperation or privilegeWithdrawn");
  }
  if (options.force && !options.revoke) {
    return fail(ErrorCode::kInvalidArgument, "force is about revoking: give revoke too");
  }
  return transition(id, {CampaignState::kCompleted, CampaignState::kCancelled},
                    options.revoke ? CampaignState::kFinishing : CampaignState::kFinished,
                    "campaign.finish", caller, options);
}

Status CampaignService::record_item(const Campaign& c, CampaignItem& item, std::string_view action,
                                    const json& detail) const {
  const std::string actor = "campaign:" + c.id;
  json d = detail;
  d["campaign"] = c.id;
  d["campaign_name"] = c.request.name;
  d["seq"] = item.seq;
  d["state"] = item_state_name(item.state);
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(store_.update_item(*tx, item, c.id));
  if (item.managed_id) {
    CW_RETURN_IF_ERROR(managed_store_.add_event(*tx, *item.managed_id, "campaign", actor, d));
  }
  if (!action.empty()) {
    CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(
        *tx, audit::Event{.actor = actor,
                          .action = std::string(action),
                          .target_type = item.managed_id ? "managed_certificate" : "certificate",
                          .target_id = item.managed_id.value_or(item.fingerprint),
                          .details = d}));
  }
  return tx->commit();
}

Status CampaignService::start_item(const Campaign& c, CampaignItem& item) const {
  const SysTime now = d_.lifecycle.clock.now();
  item.started_at = now;
  if (!item.managed_id) {
    const std::string actor = "campaign:" + c.id;
    CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
    const std::vector<std::string> fps = {item.fingerprint};
    CW_RETURN_IF_ERROR(d_.lifecycle.inventory.mark_for_replacement(*tx, fps, now, std::nullopt, 0));
    item.state = ItemState::kNotManaged;
    CW_RETURN_IF_ERROR(store_.update_item(*tx, item, c.id));
    CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(
        *tx, audit::Event{
                 .actor = actor,
                 .action = "certificate.replace",
                 .target_type = "certificate",
                 .target_id = item.fingerprint,
                 .details = {
                     {"campaign", c.id}, {"replace_by", format_time(now)}, {"managed", false}}}));
    return tx->commit();
  }
  const ca::Requester actor = campaign_actor(c);
  auto fail_item = [&](const std::string& why) {
    item.state = ItemState::kFailed;
    item.error = why;
    return record_item(c, item, "campaign.item_failed", {{"step", "failed"}, {"error", why}});
  };
  auto found = managed_store_.get(*item.managed_id);
  if (!found) {
    if (found.error().code != ErrorCode::kNotFound) return std::unexpected(found.error());
    return fail_item("the managed certificate is gone");
  }
  ManagedCertificate m = *std::move(found);
  if (m.state == ManagedState::kDeleted) return fail_item("the managed certificate was deleted");

  json patch = json::object();
  const auto& t = c.request.target;
  if (t.authority) patch["authority"] = *t.authority;
  if (t.profile) patch["profile"] = *t.profile;
  if (t.key_type) {
    patch["key"] = {{"type", crypto::key_type_name(*t.key_type)}, {"rotate", m.spec.key.rotate}};
  }
  auto wanted = patch_managed_spec(m.spec, patch);
  if (!wanted) return fail_item(wanted.error().message);
  const std::optional<std::string> current = m.fingerprint;
  Result<ManagedCertificate> changed = m;
  std::string how;
  if (desired_hash(*wanted) != desired_hash(m.spec)) {
    changed = d_.managed.update(m.id, patch, actor);
    how = "changed";
  } else if (m.fingerprint != item.fingerprint || m.issued_hash != desired_hash(m.spec) ||
             m.renew_request != RenewRequest::kNone) {
    // Already on its way (this run follows one that changed it and then stopped), or renewed
    // since the plan: nothing more to ask.
    how = "in_progress";
  } else {
    changed = d_.managed.renew(m.id, /*rotate_key=*/true, actor);
    how = "renewed";
  }
  if (!changed) {
    if (changed.error().code == ErrorCode::kUnavailable) return std::unexpected(changed.error());
    return fail_item(changed.error().message);
  }
  item.state = ItemState::kReplacing;
  // What the reconciler must replace: the planned certificate, unless a renewal since the
  // plan replaced that one already (then both are old, and both are revoked at the end).
  item.old_fingerprint = how == "in_progress" && current != item.fingerprint
                             ? item.fingerprint
                             : current.value_or(item.fingerprint);
  item.generation = changed->generation;
  return record_item(c, item, "campaign.item_start",
                     {{"step", "started"},
                      {"how", how},
                      {"patch", patch},
                      {"old_fingerprint", *item.old_fingerprint}});
}

Status CampaignService::check_item(const Campaign& c, CampaignItem& item) const {
  auto found = managed_store_.get(*item.managed_id);
  if (!found && found.error().code != ErrorCode::kNotFound) return std::unexpected(found.error());
  auto failed = [&](const std::string& why) {
    item.state = ItemState::kFailed;
    item.error = why;
    return record_item(c, item, "campaign.item_failed", {{"step", "failed"}, {"error", why}});
  };
  if (!found || found->state == ManagedState::kDeleted) {
    if (item.state == ItemState::kFailed) return ok();  // a recheck: recorded already
    return failed("the managed certificate was deleted");
  }
  const ManagedCertificate& m = *found;
  const bool replaced = m.fingerprint && m.fingerprint != item.old_fingerprint &&
                        m.fingerprint != item.fingerprint &&
                        m.issued_hash == desired_hash(m.spec) &&
                        m.deployed_fingerprint == m.fingerprint && m.state == ManagedState::kActive;
  if (replaced) {
    item.state = ItemState::kDone;
    item.error.clear();
    item.new_fingerprint = m.fingerprint;
    return record_item(c, item, "campaign.item_replaced",
                       {{"step", "replaced"},
                        {"old_fingerprint", item.old_fingerprint.value_or(item.fingerprint)},
                        {"new_fingerprint", *m.fingerprint}});
  }
  if (item.state == ItemState::kFailed) return ok();  // a recheck: still not replaced
  if (m.state == ManagedState::kFailed && m.generation > item.generation) {
    return failed(m.last_error.empty() ? "the reconciliation failed" : m.last_error);
  }
  if (item.started_at &&
      d_.lifecycle.clock.now() - *item.started_at > c.request.options.item_timeout) {
    return failed("not replaced within " + format_duration(c.request.options.item_timeout));
  }
  return ok();
}

Result<CampaignService::WaveProgress> CampaignService::work_wave(const Campaign& c) const {
  WaveProgress progress;
  ItemFilter f{.state = {}, .wave = c.current_wave, .after_seq = 0, .limit = kPage};
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto page, store_.items(c.id, f));
    for (auto& item : page) {
      const ItemState before = item.state;
      if (item.state == ItemState::kPending) {
        CW_RETURN_IF_ERROR(start_item(c, item));
      } else if (item.state == ItemState::kReplacing) {
        CW_RETURN_IF_ERROR(check_item(c, item));
      }
      if (item.state == ItemState::kPending || item.state == ItemState::kReplacing) {
        ++progress.open;
      }
      if (item.state == ItemState::kFailed && before != ItemState::kFailed) {
        ++progress.new_failures;
      }
    }
    if (page.size() < static_cast<std::size_t>(kPage)) break;
    f.after_seq = page.back().seq;
  }
  return progress;
}

Result<std::optional<NewJob>> CampaignService::run_wave(const Job& job) const {
  const std::string id = job.payload.value("id", "");
  Campaign c;
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto found, store_.find(*tx, id));
    if (!found) return std::optional<NewJob>();
    c = *std::move(found);
  }
  const SysTime now = d_.lifecycle.clock.now();
  // Kept alive while paused, so that a start() racing with this run never finds the job
  // running and adds nothing.
  if (c.state == CampaignState::kPaused) return std::optional(wave_job(id, now + kPausedCheck));
  if (c.state != CampaignState::kRunning) return std::optional<NewJob>();

  CW_ASSIGN_OR_RETURN(const WaveProgress progress, work_wave(c));

  CW_ASSIGN_OR_RETURN(auto counts, store_.counts(id));
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto locked, store_.find(*tx, id, /*lock=*/true));
  if (!locked) return std::optional<NewJob>();
  c = *std::move(locked);
  if (c.state == CampaignState::kPaused) return std::optional(wave_job(id, now + kPausedCheck));
  if (c.state != CampaignState::kRunning) return std::optional<NewJob>();
  std::string action;
  json detail = {{"counts", campaign_counts_json(counts)}, {"wave", c.current_wave}};
  std::optional<NewJob> next;
  const auto& max_failures = c.request.options.max_failures;
  // Only a run that saw new failures pauses: resumed by an operator, the campaign goes on
  // until another item fails.
  if (max_failures && progress.new_failures > 0 && counts.failed > *max_failures) {
    c.state = CampaignState::kPaused;
    c.last_error = std::to_string(counts.failed) + " items failed, more than max_failures " +
                   std::to_string(*max_failures) + ": paused";
    action = "campaign.pause";
    detail["reason"] = c.last_error;
    next = wave_job(id, now + kPausedCheck);
  } else if (progress.open > 0) {
    return std::optional(wave_job(id, now + kWaveCheck));
  } else if (c.current_wave + 1 < c.waves) {
    c.current_wave += 1;
    action = "campaign.wave";
    detail["wave"] = c.current_wave;
    next = wave_job(id, now);
  } else {
    c.state = CampaignState::kCompleted;
    c.completed_at = now;
    action = "campaign.complete";
  }
  CW_RETURN_IF_ERROR(store_.update(*tx, c));
  CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(*tx, audit::Event{.actor = "campaign:" + id,
                                                                 .action = action,
                                                                 .target_type = "campaign",
                                                                 .target_id = id,
                                                                 .details = detail}));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("campaign_progress", {{"id", id},
                                  {"action", action},
                                  {"wave", c.current_wave},
                                  {"done", counts.done},
                                  {"failed", counts.failed}});
  return next;
}

Status CampaignService::revoke_item(const Campaign& c, CampaignItem& item) const {
  std::vector<std::string> fps = {item.fingerprint};
  if (item.old_fingerprint && *item.old_fingerprint != item.fingerprint) {
    fps.push_back(*item.old_fingerprint);
  }
  const auto reason = static_cast<ca::RevocationReason>(c.finish->reason);
  std::string errors;
  for (const auto& fp : fps) {
    ca::RevokeRequest r;
    r.id = fp;
    r.reason = reason;
    r.requester = campaign_actor(c);
    r.channel = ca::Channel::kSystem;
    auto revoked = d_.revocation.revoke(r);
    if (!revoked && revoked.error().code == ErrorCode::kUnavailable) {
      return std::unexpected(revoked.error());
    }
    // Already revoked is what was wanted.
    if (!revoked && revoked.error().code != ErrorCode::kConflict) {
      if (!errors.empty()) errors += "; ";
      errors += revoked.error().message;
    }
  }
  item.revoked = errors.empty();
  item.revoke_error = errors;
  json detail = {{"step", item.revoked ? "revoked" : "revoke_failed"},
                 {"fingerprints", fps},
                 {"reason", ca::revocation_reason_name(c.finish->reason)}};
  if (!errors.empty()) detail["error"] = errors;
  // The revocation service audits each revocation; an item that could not be revoked is
  // audited here.
  return record_item(c, item, item.revoked ? "" : "campaign.item_revoke_failed", detail);
}

Result<std::optional<NewJob>> CampaignService::run_finish(const Job& job) const {
  const std::string id = job.payload.value("id", "");
  std::int64_t after = job.payload.value("after", std::int64_t{0});
  Campaign c;
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto found, store_.find(*tx, id));
    if (!found || found->state != CampaignState::kFinishing || !found->finish) {
      return std::optional<NewJob>();
    }
    c = *std::move(found);
  }
  const FinishOptions& options = *c.finish;
  auto page = store_.items(
      id, ItemFilter{.state = {}, .wave = {}, .after_seq = after, .limit = kFinishBatch});
  if (!page) return std::unexpected(page.error());
  for (auto& item : *page) {
    after = item.seq;
    if (item.revoked || !item.revoke_error.empty()) continue;
    // A replacement that failed at first may have succeeded on a later retry of the
    // reconciler.
    if (item.state == ItemState::kFailed || item.state == ItemState::kReplacing) {
      CW_RETURN_IF_ERROR(check_item(c, item));
    }
    bool replaced = item.state == ItemState::kDone;
    if (item.state == ItemState::kNotManaged) {
      CW_ASSIGN_OR_RETURN(auto rec, d_.lifecycle.inventory.get(item.fingerprint));
      replaced = rec && rec->superseded_by.has_value();
    }
    if (replaced || options.force) CW_RETURN_IF_ERROR(revoke_item(c, item));
  }
  const SysTime now = d_.lifecycle.clock.now();
  if (page->size() == static_cast<std::size_t>(kFinishBatch)) {
    return std::optional(finish_job(id, after, now));
  }
  CW_ASSIGN_OR_RETURN(auto counts, store_.counts(id));
  CW_ASSIGN_OR_RETURN(auto tx, d_.lifecycle.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto locked, store_.find(*tx, id, /*lock=*/true));
  if (!locked || locked->state != CampaignState::kFinishing) return std::optional<NewJob>();
  c = *std::move(locked);
  c.state = CampaignState::kFinished;
  c.completed_at = now;
  CW_RETURN_IF_ERROR(store_.update(*tx, c));
  CW_RETURN_IF_ERROR(d_.lifecycle.audit.append(
      *tx, audit::Event{.actor = "campaign:" + id,
                        .action = "campaign.finished",
                        .target_type = "campaign",
                        .target_id = id,
                        .details = {{"counts", campaign_counts_json(counts)}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  log::info("campaign_finished",
            {{"id", id}, {"revoked", counts.revoked}, {"revoke_failed", counts.revoke_failed}});
  return std::optional<NewJob>();
}

}  // namespace certward::lifecycle
