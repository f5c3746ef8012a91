#include "lifecycle/managed.h"

#include <algorithm>
#include <array>

#include "common/config.h"
#include "common/encoding.h"
#include "inventory/inventory.h"
#include "x509/names.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 6> kStateNames = {"pending",  "issuing", "active",
                                                         "renewing", "failed",  "deleted"};

std::unexpected<Error> bad(std::string what) {
  return fail(ErrorCode::kInvalidArgument, std::move(what));
}

Result<std::string> string_of(const json& v, std::string_view key, std::size_t max = 256) {
  if (!v.is_string()) return bad("'" + std::string(key) + "' must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max) return bad("'" + std::string(key) + "' is too long");
  if (std::ranges::any_of(s, [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return bad("'" + std::string(key) + "' holds control characters");
  }
  return s;
}

Result<std::vector<std::string>> strings_of(const json& v, std::string_view key) {
  if (!v.is_array() || v.size() > 100) {
    return bad("'" + std::string(key) + "' must be a list of at most 100 strings");
  }
  std::vector<std::string> out;
  for (const auto& item : v) {
    CW_ASSIGN_OR_RETURN(auto s, string_of(item, key));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::chrono::seconds> duration_of(const json& v, std::string_view key) {
  CW_ASSIGN_OR_RETURN(auto text, string_of(v, key, 32));
  auto d = parse_duration(text);
  if (!d || d->count() <= 0) {
    return bad("'" + std::string(key) + "' must be a positive duration such as 30d or 12h");
  }
  return *d;
}

Status parse_key(const json& v, KeyPolicy& key) {
  if (!v.is_object()) return bad("'key' must be an object: {\"type\": ..., \"rotate\": ...}");
  for (const auto& [k, item] : v.items()) {
    if (k == "type") {
      CW_ASSIGN_OR_RETURN(auto text, string_of(item, "key.type", 32));
      auto type = crypto::parse_key_type(text);
      if (!type) return bad("'key.type' '" + text + "' is not a key type (ec-p256, rsa-2048, ...)");
      key.type = *type;
    } else if (k == "rotate") {
      if (!item.is_boolean()) return bad("'key.rotate' must be true or false");
      key.rotate = item.get<bool>();
    } else {
      return bad("unknown member 'key." + k + "'");
    }
  }
  return ok();
}

Status parse_alerts(const json& v, AlertPolicy& alerts) {
  if (!v.is_object()) return bad("'alerts' must be an object");
  for (const auto& [k, item] : v.items()) {
    if (k == "notify_on_failure") {
      if (!item.is_boolean()) return bad("'alerts.notify_on_failure' must be true or false");
      alerts.notify_on_failure = item.get<bool>();
    } else if (k == "channels") {
      CW_ASSIGN_OR_RETURN(alerts.channels, strings_of(item, "alerts.channels"));
    } else {
      return bad("unknown member 'alerts." + k + "'");
    }
  }
  return ok();
}

Status parse_targets(const json& v, std::vector<deploy::TargetSpec>& targets) {
  if (!v.is_array() || v.size() > 32) return bad("'targets' must be a list of at most 32 targets");
  targets.clear();
  for (const auto& item : v) {
    auto t = deploy::parse_target_spec(item);
    if (!t) return bad("target: " + t.error().message);
    const bool dup = std::ranges::any_of(
        targets, [&](const deploy::TargetSpec& o) { return o.name == t->name; });
    if (dup) return bad("two targets are named '" + t->name + "'");
    targets.push_back(*std::move(t));
  }
  return ok();
}

// One member of a spec. `creating`: "adopt" and "name" may be given.
Status apply_member(ManagedSpec& s, const std::string& k, const json& v, bool creating) {
  if (k == "name") {
    if (!creating) return bad("'name' cannot be changed");
    CW_ASSIGN_OR_RETURN(s.name, string_of(v, k, 64));
  } else if (k == "common_name") {
    CW_ASSIGN_OR_RETURN(s.common_name, string_of(v, k));
  } else if (k == "sans") {
    CW_ASSIGN_OR_RETURN(auto texts, strings_of(v, k));
    s.sans.clear();
    for (const auto& text : texts) {
      auto san = x509::parse_san(text);
      if (!san) return bad("SAN '" + x509::escape_name_text(text) + "': " + san.error().message);
      if (std::ranges::find(s.sans, *san) == s.sans.end()) s.sans.push_back(*san);
    }
  } else if (k == "profile") {
    CW_ASSIGN_OR_RETURN(s.profile, string_of(v, k, 64));
  } else if (k == "authority") {
    if (v.is_null()) {
      s.authority.reset();
    } else {
      CW_ASSIGN_OR_RETURN(s.authority, string_of(v, k, 64));
    }
  } else if (k == "key") {
    CW_RETURN_IF_ERROR(parse_key(v, s.key));
  } else if (k == "renew_before" || k == "validity") {
    auto& field = k == "renew_before" ? s.renew_before : s.validity;
    if (v.is_null()) {
      field.reset();
    } else {
      CW_ASSIGN_OR_RETURN(field, duration_of(v, k));
    }
  } else if (k == "targets") {
    CW_RETURN_IF_ERROR(parse_targets(v, s.targets));
  } else if (k == "owner" || k == "team") {
    auto& field = k == "owner" ? s.owner : s.team;
    if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty())) {
      field.reset();
    } else {
      CW_ASSIGN_OR_RETURN(field, string_of(v, k));
    }
  } else if (k == "tags") {
    CW_ASSIGN_OR_RETURN(auto tags, strings_of(v, k));
    auto normal = inventory::normalize_tags(tags);
    if (!normal) return bad(normal.error().message);
    s.tags = *std::move(normal);
  } else if (k == "alerts") {
    CW_RETURN_IF_ERROR(parse_alerts(v, s.alerts));
  } else if (k == "adopt") {
    if (!creating) return bad("'adopt' is for creation only");
    CW_ASSIGN_OR_RETURN(s.adopt, string_of(v, k, 128));
  } else {
    return bad("unknown member '" + k + "'");
  }
  return ok();
}

// What holds for every spec, however it was made.
Status finish(ManagedSpec& s) {
  if (!valid_managed_name(s.name)) {
    return bad(
        "a managed certificate's name is 1-63 of a-z, 0-9, '.', '_', '-', starting with a "
        "letter or digit");
  }
  if (s.profile.empty()) return bad("'profile' is empty");
  if (!s.common_name.empty()) {
    // The common name is one of the names: the RA would add it anyway, and the stored spec
    // says what the certificate carries.
    auto cn = x509::parse_san(s.common_name);
    if (!cn) return bad("'common_name': " + cn.error().message);
    s.common_name = cn->value;
    if (std::ranges::find(s.sans, *cn) == s.sans.end()) s.sans.insert(s.sans.begin(), *cn);
  }
  if (s.sans.empty() && !s.adopt) return bad("a managed certificate needs at least one name");
  if (s.common_name.empty() && !s.sans.empty()) {
    auto dns = std::ranges::find_if(
        s.sans, [](const x509::SubjectAltName& n) { return n.type == x509::SanType::kDns; });
    s.common_name = (dns != s.sans.end() ? *dns : s.sans.front()).value;
  }
  if (s.renew_before && s.validity && *s.renew_before >= *s.validity) {
    return bad("'renew_before' must be shorter than 'validity'");
  }
  return ok();
}

std::string hash_of(const json& j) { return to_hex(crypto::sha256(as_bytes(j.dump()))); }

std::uint64_t id_spread(std::string_view id) {
  const Bytes h = crypto::sha256(as_bytes(id));
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h[static_cast<std::size_t>(i)];
  return v;
}

}  // namespace

std::string_view managed_state_name(ManagedState s) {
  return kStateNames[static_cast<std::size_t>(s)];
}

Result<ManagedState> parse_managed_state(std::string_view s) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == s) return static_cast<ManagedState>(i);
  }
  return fail(ErrorCode::kInvalidArgument,
              "state must be pending, issuing, active, renewing, failed or deleted");
}

bool valid_managed_name(std::string_view n) {
  if (n.empty() || n.size() > 63) return false;
  auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_digit(n.front())) return false;
  return std::ranges::all_of(
      n, [&](char c) { return lower_digit(c) || c == '.' || c == '_' || c == '-'; });
}

Result<ManagedSpec> parse_managed_spec(const json& j) {
  if (!j.is_object()) return bad("a managed certificate is a JSON object");
  ManagedSpec s;
  for (const auto& [k, v] : j.items()) CW_RETURN_IF_ERROR(apply_member(s, k, v, true));
  CW_RETURN_IF_ERROR(finish(s));
  return s;
}

Result<ManagedSpec> patch_managed_spec(const ManagedSpec& base, const json& patch) {
  if (!patch.is_object()) return bad("a change is a JSON object");
  ManagedSpec s = base;
  if (patch.contains("sans") && !patch.contains("common_name")) s.common_name.clear();
  for (const auto& [k, v] : patch.items()) CW_RETURN_IF_ERROR(apply_member(s, k, v, false));
  CW_RETURN_IF_ERROR(finish(s));
  return s;
}

json managed_spec_json(const ManagedSpec& s) {
  json sans = json::array();
  for (const auto& n : s.sans) sans.push_back(x509::format_san(n));
  json targets = json::array();
  for (const auto& t : s.targets) targets.push_back(deploy::target_spec_json(t));
  json j = {{"name", s.name},
            {"common_name", s.common_name},
            {"sans", sans},
            {"profile", s.profile},
            {"key", {{"type", crypto::key_type_name(s.key.type)}, {"rotate", s.key.rotate}}},
            {"targets", targets},
            {"tags", s.tags},
            {"alerts",
             {{"notify_on_failure", s.alerts.notify_on_failure}, {"channels", s.alerts.channels}}}};
  if (s.authority) j["authority"] = *s.authority;
  if (s.renew_before) j["renew_before"] = format_duration(*s.renew_before);
  if (s.validity) j["validity"] = format_duration(*s.validity);
  if (s.owner) j["owner"] = *s.owner;
  if (s.team) j["team"] = *s.team;
  return j;
}

std::string desired_hash(const ManagedSpec& s) {
  json sans = json::array();
  for (const auto& n : s.sans) sans.push_back(x509::format_san(n));
  return hash_of({{"cn", s.common_name},
                  {"sans", sans},
                  {"profile", s.profile},
                  {"authority", s.authority.value_or("")},
                  {"key", crypto::key_type_name(s.key.type)},
                  {"validity", s.validity ? s.validity->count() : 0}});
}

std::string targets_hash(const ManagedSpec& s) {
  json targets = json::array();
  for (const auto& t : s.targets) targets.push_back(deploy::target_spec_json(t));
  return hash_of(targets);
}

SysTime renewal_due(SysTime not_before, SysTime not_after,
                    std::optional<std::chrono::seconds> renew_before) {
  const auto lifetime =
      std::max(std::chrono::seconds(0),
               std::chrono::duration_cast<std::chrono::seconds>(not_after - not_before));
  // A renew-before as long as the lifetime (or nearly) would make each certificate due the
  // moment it is issued: renewed again at every run, a certificate a second, for ever. The
  // renewal is never due before a tenth of the lifetime has passed.
  const std::chrono::seconds before =
      std::min(renew_before.value_or(lifetime / 3), lifetime * 9 / 10);
  return std::max(not_before, not_after - before);
}

std::chrono::seconds renewal_jitter(std::string_view id, SysTime not_before, SysTime not_after,
                                    std::optional<std::chrono::seconds> renew_before, int percent) {
  const auto window = std::chrono::duration_cast<std::chrono::seconds>(
      not_after - renewal_due(not_before, not_after, renew_before));
  const std::int64_t span = window.count() * std::clamp(percent, 0, 100) / 100;
  if (span <= 0) return std::chrono::seconds(0);
  return std::chrono::seconds(
      static_cast<std::int64_t>(id_spread(id) % static_cast<std::uint64_t>(span + 1)));
}

json managed_json(const ManagedCertificate& m) {
  auto time_or_null = [](const std::optional<SysTime>& t) {
    return t ? json(format_time(*t)) : json(nullptr);
  };
  json j = managed_spec_json(m.spec);
  j["id"] = m.id;
  j["state"] = managed_state_name(m.state);
  j["fingerprint"] = m.fingerprint ? json(*m.fingerprint) : json(nullptr);
  j["not_before"] = time_or_null(m.not_before);
  j["not_after"] = time_or_null(m.not_after);
  j["renew_at"] = time_or_null(m.renew_at);
  j["next_check_at"] = time_or_null(m.next_check_at);
  j["deployed"] = m.fingerprint && m.deployed_fingerprint == m.fingerprint;
  j["attempts"] = m.attempts;
  j["last_error"] = m.last_error;
  j["renew_requested"] = m.renew_request == RenewRequest::kNone        ? json(nullptr)
                         : m.renew_request == RenewRequest::kRotateKey ? json("rotate_key")
                                                                       : json("renew");
  j["created_by"] = m.created_by;
  j["declared"] = m.declared;
  j["generation"] = m.generation;
  j["created_at"] = format_time(m.created_at);
  j["updated_at"] = format_time(m.updated_at);
  return j;
}

json managed_event_json(const ManagedEvent& e) {
  return {{"seq", e.seq},
          {"at", format_time(e.at)},
          {"kind", e.kind},
          {"actor", e.actor},
          {"detail", e.detail}};
}

json alert_json(const Alert& a) {
  json deliveries = json::array();
  for (const auto& d : a.deliveries) {
    deliveries.push_back({{"channel", d.channel},
                          {"state", d.state},
                          {"attempts", d.attempts},
                          {"last_error", d.last_error},
                          {"updated_at", format_time(d.updated_at)}});
  }
  return {{"id", a.id},
          {"at", format_time(a.at)},
          {"severity", a.severity},
          {"kind", a.kind},
          {"managed_id", a.managed_id},
          {"managed_name", a.managed_name},
          {"team", a.team ? json(*a.team) : json(nullptr)},
          {"message", a.message},
          {"detail", a.detail},
          {"channels", a.channels},
          {"fingerprint", a.fingerprint ? json(*a.fingerprint) : json(nullptr)},
          {"dedupe_key", a.dedupe_key ? json(*a.dedupe_key) : json(nullptr)},
          {"deliveries", deliveries}};
}

}  // namespace certward::lifecycle
