#pragma once
// The tables of replacement campaigns (migrations module "campaigns"): lifecycle_campaigns and
// their items, lifecycle_campaign_items. SQL only; CampaignService (campaign_service.h)
// decides and audits.
//
// A campaign's row is changed only under its lock (find(..., lock = true) in the writer's
// transaction): the wave job and an operator's pause or cancel never overwrite each other.
//
// Thread-safe; stateless besides its collaborators.

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "lifecycle/campaign.h"
#include "store/store.h"

namespace certward::lifecycle {

struct ItemFilter {
  std::optional<ItemState> state;
  std::optional<int> wave;
  std::int64_t after_seq = 0;
  int limit = 100;  // 1..1000
};

class CampaignStore {
 public:
  CampaignStore(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}

  static Status migrate(store::Database& db);

  Status insert(store::Transaction& tx, const Campaign& c,
                const std::vector<CampaignItem>& items) const;
  Result<std::optional<Campaign>> find(store::Transaction& tx, std::string_view id,
                                       bool lock = false) const;
  // Newest first; with `before` (an id of the previous page), those created before it.
  Result<std::vector<Campaign>> list(int limit, const std::optional<std::string>& before) const;
  // Writes every mutable field; the caller holds the row's lock. Sets c.updated_at.
  Status update(store::Transaction& tx, Campaign& c) const;

  Result<CampaignCounts> counts(std::string_view id) const;
  Result<std::vector<CampaignItem>> items(std::string_view id, const ItemFilter& filter) const;
  Result<std::vector<CampaignItem>> items(store::Transaction& tx, std::string_view id,
                                          const ItemFilter& filter) const;
  // Writes the mutable fields of an item (state, error, fingerprints, revocation). Sets
  // i.updated_at.
  Status update_item(store::Transaction& tx, CampaignItem& i, std::string_view campaign) const;

 private:
  const Clock& clock_;
  store::Database& db_;
};

}  // namespace certward::lifecycle
