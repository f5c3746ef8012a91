#pragma once
// Replacement campaigns: "replace every certificate issued by authority X / with key algorithm
// Y / matching this inventory query" as one operation, planned first (which certificates,
// managed or not, and where they are deployed), then run in waves, then finished by revoking
// what was replaced. This is how an organisation gets off a compromised CA or a deprecated
// algorithm in hours. CampaignService (campaign_service.h) runs them.
//
// A CampaignRequest comes from outside (a REST body, the CLI): parse_campaign_request()
// refuses unknown members, bad shapes and an empty selector (which would mean every
// certificate there is). What only the server can judge (authorities, profiles, the caller)
// is checked by CampaignService.
//
// Plain values and pure functions; thread-compatible.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "inventory/inventory.h"

namespace certward::lifecycle {

// Which certificates a campaign takes: every member set narrows it; at least one must be set.
// Only active certificates count: not revoked, not expired, not superseded, not CA
// certificates.
struct CampaignSelector {
  std::optional<std::string> authority;      // issued by this internal authority
  std::optional<std::string> issuer;         // substring of the issuer DN (any origin)
  std::optional<std::string> key_algorithm;  // "rsa", "ecdsa", "ed25519", "rsa-pss"
  std::optional<int> key_bits;
  std::optional<std::string> search;  // substring of subject or a SAN
  std::optional<std::string> team;
  std::optional<std::string> profile;
  std::optional<std::string> tag;
  std::optional<inventory::Origin> origin;
};

// What managed certificates move to; unset members stay as they are. An empty target renews
// every managed certificate with a new key where it is.
struct CampaignTarget {
  std::optional<std::string> authority;
  std::optional<std::string> profile;
  std::optional<crypto::KeyType> key_type;
};

struct CampaignOptions {
  int wave_size = 25;  // managed certificates per wave, 1..1000
  // The campaign pauses itself once more items than this have failed (nullopt: never); resumed,
  // it goes on until another item fails.
  std::optional<int> max_failures;
  // A managed certificate not replaced this long after its wave started it has failed.
  std::chrono::seconds item_timeout{3600};
};

// As JSON (POST /api/v1/campaigns):
//   {"name": "leave-issuing", "selector": {"authority": "issuing", "key_algorithm": "rsa"},
//    "target": {"authority": "issuing-2024", "profile": "tls-server", "key_type": "ec-p256"},
//    "wave_size": 25, "max_failures": 10, "item_timeout": "1h"}
// "origin" is "issued", "imported", "discovered" or "upstream". "dry_run" is the API's, not
// part of the request.
struct CampaignRequest {
  std::string name;  // [a-z0-9][a-z0-9._-]{0,62}; default "campaign-<id>"
  CampaignSelector selector;
  CampaignTarget target;
  CampaignOptions options;
};

// Errors: kInvalidArgument (shape, unknown member, empty selector, name, key type, origin,
// wave size, max failures, timeout).
Result<CampaignRequest> parse_campaign_request(const nlohmann::json& j);
nlohmann::json campaign_request_json(const CampaignRequest& r);
bool selector_empty(const CampaignSelector& s);

enum class CampaignState : std::uint8_t {
  kPlanned,    // stored, nothing changed yet
  kRunning,    // waves are being started and watched
  kPaused,     // by an operator, or by itself after max_failures
  kCompleted,  // every wave is over; finish() may revoke
  kCancelled,  // no further wave starts; items already replacing go on in the reconciler
  kFinishing,  // the old certificates are being revoked
  kFinished,
};
std::string_view campaign_state_name(CampaignState s);
Result<CampaignState> parse_campaign_state(std::string_view s);

enum class ItemState : std::uint8_t {
  kPending,     // not started yet
  kReplacing,   // its managed certificate was changed; the reconciler re-issues and deploys
  kDone,        // replaced and deployed
  kFailed,      // see error
  kNotManaged,  // no managed certificate: its replacement was asked for (ACME renewal info)
};
std::string_view item_state_name(ItemState s);
Result<ItemState> parse_item_state(std::string_view s);

// How the old certificates go at the end.
struct FinishOptions {
  bool revoke = false;
  int reason = 4;  // RFC 5280 CRLReason; superseded by default
  // Also revokes items that were not replaced (failed, still replacing, not managed and not
  // renewed by their client): they stop working.
  bool force = false;
};

struct Campaign {
  std::string id;
  CampaignRequest request;
  CampaignState state = CampaignState::kPlanned;
  int current_wave = 0;
  int waves = 0;  // waves of managed items (not-managed items go with the first)
  std::string created_by;
  std::string last_error;  // why it paused itself
  std::optional<FinishOptions> finish;
  SysTime created_at{};
  SysTime updated_at{};
  std::optional<SysTime> started_at;
  std::optional<SysTime> completed_at;
};

struct CampaignCounts {
  std::int64_t total = 0, managed = 0, not_managed = 0;
  std::int64_t pending = 0, replacing = 0, done = 0, failed = 0;
  std::int64_t revoked = 0, revoke_failed = 0;
};

struct CampaignItem {
  std::int64_t seq = 0;  // from 1, in plan order
  int wave = 0;
  std::string fingerprint;  // as planned
  std::string subject;
  std::optional<std::string> authority;
  std::string key;  // "ecdsa P-256", "rsa 2048"
  SysTime not_after{};
  std::optional<std::string> managed_id;
  std::optional<std::string> managed_name;
  nlohmann::json targets = nlohmann::json::array();  // where it is deployed (no secrets)
  ItemState state = ItemState::kPending;
  std::string error;
  std::optional<std::string> old_fingerprint;  // current when its wave started it
  std::optional<std::string> new_fingerprint;
  std::int64_t generation = 0;  // the managed row's generation once started
  std::optional<SysTime> started_at;
  bool revoked = false;
  std::string revoke_error;
  SysTime updated_at{};
};

nlohmann::json campaign_json(const Campaign& c, const CampaignCounts& counts);
nlohmann::json campaign_item_json(const CampaignItem& i);
nlohmann::json campaign_counts_json(const CampaignCounts& c);

}  // namespace certward::lifecycle
