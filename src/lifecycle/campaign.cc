#include "lifecycle/campaign.h"

#include <array>
#include <set>

#include "ca/revocation.h"
#include "common/config.h"
#include "lifecycle/managed.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kMinTimeout{60};
constexpr std::chrono::seconds kMaxTimeout{7 * 24 * 3600};

std::unexpected<Error> bad(const std::string& what) {
  return fail(ErrorCode::kInvalidArgument, what);
}

Status only_members(const json& j, std::string_view where,
                    std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) return bad(std::string(where) + " must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (auto a : allowed) known = known || k == a;
    if (!known) return bad(std::string(where) + ": unknown member '" + k + "'");
  }
  return ok();
}

// A short text member: 1..256 printable characters.
Result<std::optional<std::string>> text_member(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::optional<std::string>();
  if (!j[key].is_string()) return bad(std::string(key) + " must be a string");
  std::string s = j[key].get<std::string>();
  if (s.empty() || s.size() > 256) return bad(std::string(key) + " must be 1 to 256 characters");
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch == 0x7f) return bad(std::string(key) + " has a control character");
  }
  return std::optional<std::string>(std::move(s));
}

Result<std::optional<std::int64_t>> int_member(const json& j, const char* key, std::int64_t lo,
                                               std::int64_t hi) {
  if (!j.contains(key) || j[key].is_null()) return std::optional<std::int64_t>();
  if (!j[key].is_number_integer()) return bad(std::string(key) + " must be an integer");
  const auto v = j[key].get<std::int64_t>();
  if (v < lo || v > hi) {
    return bad(std::string(key) + " must be between " + std::to_string(lo) + " and " +
               std::to_string(hi));
  }
  return std::optional<std::int64_t>(v);
}

Result<CampaignSelector> parse_selector(const json& j) {
  CW_RETURN_IF_ERROR(only_members(j, "selector",
                                  {"authority", "issuer", "key_algorithm", "key_bits", "search",
                                   "team", "profile", "tag", "origin"}));
  CampaignSelector s;
  CW_ASSIGN_OR_RETURN(s.authority, text_member(j, "authority"));
  CW_ASSIGN_OR_RETURN(s.issuer, text_member(j, "issuer"));
  CW_ASSIGN_OR_RETURN(s.key_algorithm, text_member(j, "key_algorithm"));
  if (s.key_algorithm) {
    static constexpr std::array<std::string_view, 4> kAlgorithms = {"rsa", "rsa-pss", "ecdsa",
                                                                    "ed25519"};
    if (std::ranges::find(kAlgorithms, *s.key_algorithm) == kAlgorithms.end()) {
      return bad("key_algorithm must be rsa, rsa-pss, ecdsa or ed25519");
    }
  }
  CW_ASSIGN_OR_RETURN(auto bits, int_member(j, "key_bits", 1, 65536));
  if (bits) s.key_bits = static_cast<int>(*bits);
  CW_ASSIGN_OR_RETURN(s.search, text_member(j, "search"));
  CW_ASSIGN_OR_RETURN(s.team, text_member(j, "team"));
  CW_ASSIGN_OR_RETURN(s.profile, text_member(j, "profile"));
  CW_ASSIGN_OR_RETURN(s.tag, text_member(j, "tag"));
  CW_ASSIGN_OR_RETURN(auto origin, text_member(j, "origin"));
  if (origin) {
    auto o = inventory::parse_origin(*origin);
    if (!o) return bad("origin must be issued, imported, discovered or upstream");
    s.origin = *o;
  }
  if (selector_empty(s)) {
    return bad(
        "the selector is empty: it would take every certificate (name at least one of "
        "authority, issuer, key_algorithm, key_bits, search, team, profile, tag, origin)");
  }
  return s;
}

Result<CampaignTarget> parse_target(const json& j) {
  CW_RETURN_IF_ERROR(only_members(j, "target", {"authority", "profile", "key_type"}));
  CampaignTarget t;
  CW_ASSIGN_OR_RETURN(t.authority, text_member(j, "authority"));
  CW_ASSIGN_OR_RETURN(t.profile, text_member(j, "profile"));
  CW_ASSIGN_OR_RETURN(auto key, text_member(j, "key_type"));
  if (key) {
    auto k = crypto::parse_key_type(*key);
    if (!k) return bad("target key_type: unknown key type '" + *key + "'");
    t.key_type = *k;
  }
  return t;
}

template <typename E, std::size_t N>
Result<E> by_name(std::string_view s, const std::array<std::string_view, N>& names,
                  std::string_view what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return bad("unknown " + std::string(what) + " '" + std::string(s) + "'");
}

constexpr std::array<std::string_view, 7> kCampaignStates = {
    "planned", "running", "paused", "completed", "cancelled", "finishing", "finished"};
constexpr std::array<std::string_view, 5> kItemStates = {"pending", "replacing", "done", "failed",
                                                         "not_managed"};

json opt(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }
json opt_time(const std::optional<SysTime>& t) { return t ? json(format_time(*t)) : json(nullptr); }

}  // namespace

bool selector_empty(const CampaignSelector& s) {
  return !s.authority && !s.issuer && !s.key_algorithm && !s.key_bits && !s.search && !s.team &&
         !s.profile && !s.tag && !s.origin;
}

Result<CampaignRequest> parse_campaign_request(const json& j) {
  CW_RETURN_IF_ERROR(only_members(
      j, "campaign", {"name", "selector", "target", "wave_size", "max_failures", "item_timeout"}));
  CampaignRequest r;
  CW_ASSIGN_OR_RETURN(auto name, text_member(j, "name"));
  if (name) {
    if (!valid_managed_name(*name)) {
      return bad(
          "name must be 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or "
          "digit");
    }
    r.name = *name;
  }
  if (!j.contains("selector")) return bad("selector is required");
  CW_ASSIGN_OR_RETURN(r.selector, parse_selector(j["selector"]));
  if (j.contains("target") && !j["target"].is_null()) {
    CW_ASSIGN_OR_RETURN(r.target, parse_target(j["target"]));
  }
  CW_ASSIGN_OR_RETURN(auto wave, int_member(j, "wave_size", 1, 1000));
  if (wave) r.options.wave_size = static_cast<int>(*wave);
  CW_ASSIGN_OR_RETURN(auto failures, int_member(j, "max_failures", 0, 1'000'000));
  if (failures) r.options.max_failures = static_cast<int>(*failures);
  if (j.contains("item_timeout") && !j["item_timeout"].is_null()) {
    if (!j["item_timeout"].is_string()) return bad("item_timeout must be a duration like \"1h\"");
    auto d = parse_duration(j["item_timeout"].get<std::string>());
    if (!d || *d < kMinTimeout || *d > kMaxTimeout) {
      return bad("item_timeout must be a duration from 1m to 7d");
    }
    r.options.item_timeout = *d;
  }
  return r;
}

json campaign_request_json(const CampaignRequest& r) {
  const auto& s = r.selector;
  json sel = json::object();
  auto put = [](json& o, const char* k, const std::optional<std::string>& v) {
    if (v) o[k] = *v;
  };
  put(sel, "authority", s.authority);
  put(sel, "issuer", s.issuer);
  put(sel, "key_algorithm", s.key_algorithm);
  if (s.key_bits) sel["key_bits"] = *s.key_bits;
  put(sel, "search", s.search);
  put(sel, "team", s.team);
  put(sel, "profile", s.profile);
  put(sel, "tag", s.tag);
  if (s.origin) sel["origin"] = inventory::origin_name(*s.origin);
  json target = json::object();
  put(target, "authority", r.target.authority);
  put(target, "profile", r.target.profile);
  if (r.target.key_type) target["key_type"] = crypto::key_type_name(*r.target.key_type);
  json j = {{"selector", sel},
            {"target", target},
            {"wave_size", r.options.wave_size},
            {"item_timeout", format_duration(r.options.item_timeout)}};
  j["max_failures"] = r.options.max_failures ? json(*r.options.max_failures) : json(nullptr);
  if (!r.name.empty()) j["name"] = r.name;
  return j;
}

std::string_view campaign_state_name(CampaignState s) {
  return kCampaignStates[static_cast<std::size_t>(s)];
}
Result<CampaignState> parse_campaign_state(std::string_view s) {
  return by_name<CampaignState>(s, kCampaignStates, "campaign state");
}
std::string_view item_state_name(ItemState s) { return kItemStates[static_cast<std::size_t>(s)]; }
Result<ItemState> parse_item_state(std::string_view s) {
  return by_name<ItemState>(s, kItemStates, "item state");
}

json campaign_counts_json(const CampaignCounts& c) {
  return {{"total", c.total},     {"managed", c.managed},     {"not_managed", c.not_managed},
          {"pending", c.pending}, {"replacing", c.replacing}, {"done", c.done},
          {"failed", c.failed},   {"revoked", c.revoked},     {"revoke_failed", c.revoke_failed}};
}

json campaign_json(const Campaign& c, const CampaignCounts& counts) {
  json j = campaign_request_json(c.request);
  j["id"] = c.id;
  j["state"] = campaign_state_name(c.state);
  j["current_wave"] = c.current_wave;
  j["waves"] = c.waves;
  j["created_by"] = c.created_by;
  j["last_error"] = c.last_error;
  j["created_at"] = format_time(c.created_at);
  j["updated_at"] = format_time(c.updated_at);
  j["started_at"] = opt_time(c.started_at);
  j["completed_at"] = opt_time(c.completed_at);
  if (c.finish) {
    j["finish"] = {{"revoke", c.finish->revoke},
                   {"reason", ca::revocation_reason_name(c.finish->reason)},
                   {"force", c.finish->force}};
  } else {
    j["finish"] = nullptr;
  }
  j["counts"] = campaign_counts_json(counts);
  return j;
}

json campaign_item_json(const CampaignItem& i) {
  json managed = nullptr;
  if (i.managed_id) managed = {{"id", *i.managed_id}, {"name", opt(i.managed_name)}};
  return {{"seq", i.seq},
          {"wave", i.wave},
          {"fingerprint", i.fingerprint},
          {"subject", i.subject},
          {"authority", opt(i.authority)},
          {"key", i.key},
          {"not_after", format_time(i.not_after)},
          {"managed", managed},
          {"targets", i.targets},
          {"state", item_state_name(i.state)},
          {"error", i.error},
          {"old_fingerprint", opt(i.old_fingerprint)},
          {"new_fingerprint", opt(i.new_fingerprint)},
          {"started_at", opt_time(i.started_at)},
          {"revoked", i.revoked},
          {"revoke_error", i.revoke_error},
          {"updated_at", format_time(i.updated_at)}};
}

}  // namespace certward::lifecycle
