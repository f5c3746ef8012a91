#pragma once
// Replacement campaigns (campaign.h) as the API and the CLI run them.
//
// plan() looks through the inventory for the active certificates the selector takes and
// matches each to the managed certificate whose current certificate it is; nothing changes.
// create() stores that plan. start() hands the campaign to its wave job ("campaign.wave",
// dedupe key "campaign:<id>"), which runs on the servers' shared scheduler: each run starts the
// pending items of the current wave, then looks at the ones replacing, and names its next run
// (a few seconds later) until the wave is over; then the next wave starts.
//
//   - A managed item's desired state is changed through ManagedService (the same checks as an
//     operator's change: the target authority and profile must be allowed for it), so the
//     reconciler re-issues and redeploys it; when nothing it is issued for changes (an empty
//     target), it is renewed with a new key. It is done once its managed certificate holds a
//     new certificate, issued for the new desired state and deployed to every target; it has
//     failed when a reconciliation after the change failed (a deployment that could not be
//     verified and was rolled back, an issuance refused), or after item_timeout.
//   - An item no managed certificate holds has its replacement asked for at once
//     (inventory mark_for_replacement: ACME renewal information moves its window into the
//     past, so its client renews at its next poll) and is listed as not managed.
//
// finish() closes a completed (or cancelled) campaign and, when asked, revokes the old
// certificates through the revocation service, by the job "campaign.finish": those of items
// that were replaced (a not-managed one counts once its client replaced it: the inventory
// records it superseded), and with `force` the others too.
//
// Every change is audited; every managed certificate touched gets timeline entries ("campaign").
// Campaigns are for unscoped operators and administrators: a team-scoped caller is refused
// (a campaign is organisation-wide, and half a campaign would leave the old CA in use).
//
// Thread-safe; stateless besides its collaborators. Several replicas may run the jobs: each
// campaign's wave job is leased to one of them at a time.

#include <optional>
#include <string>
#include <vector>

#include "ca/profile.h"
#include "ca/revocation.h"
#include "lifecycle/campaign.h"
#include "lifecycle/campaign_store.h"
#include "lifecycle/jobs.h"
#include "lifecycle/service.h"

namespace certward::lifecycle {

struct CampaignDeps {
  LifecycleDeps lifecycle;
  const ManagedService& managed;
  const ca::ProfileSet& profiles;
  ca::RevocationService& revocation;
};

struct CampaignPlan {
  CampaignRequest request;
  std::vector<CampaignItem> items;  // every one; waves assigned
  CampaignCounts counts;
  int waves = 0;
};
// As JSON: the request, counts, waves and the first `max_items` items.
nlohmann::json campaign_plan_json(const CampaignPlan& plan, std::size_t max_items);

inline constexpr std::string_view kCampaignWaveJob = "campaign.wave";
inline constexpr std::string_view kCampaignFinishJob = "campaign.finish";

class CampaignService {
 public:
  // The most certificates one campaign takes.
  static constexpr std::size_t kMaxItems = 100'000;

  explicit CampaignService(CampaignDeps deps)
      : d_(deps),
        store_(deps.lifecycle.clock, deps.lifecycle.db),
        managed_store_(deps.lifecycle.clock, deps.lifecycle.db) {}

  static Status migrate(store::Database& db) { return CampaignStore::migrate(db); }

  // Errors: kUnauthorized (a scoped caller), kNotFound (selector or target authority, target
  // profile), kPolicyRejected (target authority not active; more than kMaxItems match).
  Result<CampaignPlan> plan(CampaignRequest request, const ca::Requester& caller) const;
  // plan() and stores it, planned. Errors: as plan().
  Result<Campaign> create(CampaignRequest request, const ca::Requester& caller) const;

  Result<Campaign> get(const std::string& id, const ca::Requester& caller) const;
  Result<CampaignCounts> counts(const std::string& id) const;
  Result<std::vector<Campaign>> list(int limit, const std::optional<std::string>& before,
                                     const ca::Requester& caller) const;
  Result<std::vector<CampaignItem>> items(const std::string& id, const ItemFilter& filter,
                                          const ca::Requester& caller) const;

  // planned or paused → running. Errors: kNotFound, kConflict (another state).
  Result<Campaign> start(const std::string& id, const ca::Requester& caller) const;
  // running → paused: no further item starts until start(). Errors: as start().
  Result<Campaign> pause(const std::string& id, const ca::Requester& caller) const;
  // planned, running or paused → cancelled. Errors: as start().
  Result<Campaign> cancel(const std::string& id, const ca::Requester& caller) const;
  // completed or cancelled → finishing (revoking) or finished. Errors: as start(),
  // kInvalidArgument (a reason that cannot be used).
  Result<Campaign> finish(const std::string& id, const FinishOptions& options,
                          const ca::Requester& caller) const;

  // The jobs' handlers: an error fails this run (retried); the successor is the next run.
  Result<std::optional<NewJob>> run_wave(const Job& job) const;
  Result<std::optional<NewJob>> run_finish(const Job& job) const;

 private:
  Status check_caller(const ca::Requester& caller) const;
  Status check_request(const CampaignRequest& r) const;
  // Changes the state under the row's lock if it is one of `from`, audited.
  Result<Campaign> transition(const std::string& id, std::initializer_list<CampaignState> from,
                              CampaignState to, std::string_view action,
                              const ca::Requester& caller,
                              const std::optional<FinishOptions>& finish = std::nullopt) const;
  struct WaveProgress {
    int open = 0;          // items of the wave still pending or replacing
    int new_failures = 0;  // items this run found failed
  };
  // Starts the pending items of the current wave and looks at those replacing.
  Result<WaveProgress> work_wave(const Campaign& c) const;
  Status start_item(const Campaign& c, CampaignItem& item) const;
  Status check_item(const Campaign& c, CampaignItem& item) const;
  // Records an item's outcome with its timeline entry and audit event.
  Status record_item(const Campaign& c, CampaignItem& item, std::string_view action,
                     const nlohmann::json& detail) const;
  Status revoke_item(const Campaign& c, CampaignItem& item) const;
  ca::Requester campaign_actor(const Campaign& c) const;
  NewJob wave_job(const std::string& id, SysTime at) const;
  NewJob finish_job(const std::string& id, std::int64_t after, SysTime at) const;

  CampaignDeps d_;
  CampaignStore store_;
  ManagedStore managed_store_;
};

}  // namespace certward::lifecycle
