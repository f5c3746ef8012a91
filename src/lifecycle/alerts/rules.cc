#include "lifecycle/alerts/rules.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "common/config.h"

namespace certward::lifecycle::alerts {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxChannels = 64;
constexpr std::size_t kMaxNames = 32;

std::unexpected<Error> bad(std::string what) {
  return fail(ErrorCode::kInvalidArgument, std::move(what));
}

Result<std::string> string_of(const json& v, std::string_view what, std::size_t max = 2048) {
  if (!v.is_string()) return bad("'" + std::string(what) + "' must be a string");
  std::string s = v.get<std::string>();
  if (s.size() > max) return bad("'" + std::string(what) + "' is too long");
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return bad("'" + std::string(what) + "' holds a control character");
  }
  return s;
}

Result<std::vector<std::string>> strings_of(const json& v, std::string_view what) {
  if (!v.is_array()) return bad("'" + std::string(what) + "' must be a list of strings");
  if (v.size() > kMaxNames) return bad("'" + std::string(what) + "' has too many entries");
  std::vector<std::string> out;
  for (const auto& item : v) {
    CW_ASSIGN_OR_RETURN(auto s, string_of(item, what, 320));
    if (std::ranges::find(out, s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

Result<int> int_of(const json& v, std::string_view what, int lo, int hi) {
  if (!v.is_number_integer()) return bad("'" + std::string(what) + "' must be an integer");
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) {
    return bad("'" + std::string(what) + "' must be between " + std::to_string(lo) + " and " +
               std::to_string(hi));
  }
  return static_cast<int>(n);
}

Result<std::chrono::seconds> duration_of(const json& v, std::string_view what,
                                         std::chrono::seconds lo, std::chrono::seconds hi) {
  CW_ASSIGN_OR_RETURN(auto text, string_of(v, what, 32));
  auto d = parse_duration(text);
  if (!d || *d < lo || *d > hi) {
    return bad("'" + std::string(what) + "' must be a duration between " + format_duration(lo) +
               " and " + format_duration(hi));
  }
  return *d;
}

bool valid_name(const std::string& name) {
  static const std::regex re("[a-z0-9][a-z0-9._-]{0,62}");
  return std::regex_match(name, re);
}

// A secret is named, never given: "env:NAME" or "file:/absolute/path".
Result<std::string> secret_ref_of(const json& v, std::string_view what) {
  CW_ASSIGN_OR_RETURN(auto ref, string_of(v, what, 1024));
  static const std::regex env("env:[A-Za-z_][A-Za-z0-9_]{0,127}");
  if (std::regex_match(ref, env)) return ref;
  if (ref.starts_with("file:/") && ref.find("/../") == std::string::npos) return ref;
  return bad("'" + std::string(what) +
             "' must name where the secret is (env:NAME or file:/absolute/path), not hold it");
}

// http:// or https://, a host, no credentials, no fragment: a webhook is an address, and a
// URL with user:password@ would put a secret where it may be logged.
Status check_url(const std::string& url) {
  static const std::regex re(R"(https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[^\s#]*)?)");
  static const std::regex v6(R"(https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?(/[^\s#]*)?)");
  if (!std::regex_match(url, re) && !std::regex_match(url, v6)) {
    return bad("'url' must be an http:// or https:// URL with a host and no credentials");
  }
  return ok();
}

Status check_address(const std::string& a, std::string_view what) {
  static const std::regex re(R"([^\s<>@",;]+@[A-Za-z0-9.\-\[\]:]+)");
  if (!std::regex_match(a, re)) return bad("'" + std::string(what) + "': bad address '" + a + "'");
  return ok();
}

Status parse_webhook(const std::string& k, const json& v, WebhookChannel& w) {
  if (k == "url") {
    CW_ASSIGN_OR_RETURN(w.url, string_of(v, "url"));
    return check_url(w.url);
  }
  if (k == "format") {
    CW_ASSIGN_OR_RETURN(auto f, string_of(v, "format", 16));
    for (auto cand : {WebhookFormat::kGeneric, WebhookFormat::kSlack, WebhookFormat::kTeams}) {
      if (webhook_format_name(cand) == f) {
        w.format = cand;
        return ok();
      }
    }
    return bad("'format' must be generic, slack or teams");
  }
  if (k == "secret") {
    CW_ASSIGN_OR_RETURN(w.secret, secret_ref_of(v, "secret"));
    return ok();
  }
  if (k == "ca_file") {
    CW_ASSIGN_OR_RETURN(w.ca_file, string_of(v, "ca_file"));
    return ok();
  }
  return bad("unknown member '" + k + "' of a webhook channel");
}

Status parse_smtp(const std::string& k, const json& v, SmtpChannel& m) {
  if (k == "host") {
    CW_ASSIGN_OR_RETURN(m.host, string_of(v, "host", 253));
  } else if (k == "port") {
    CW_ASSIGN_OR_RETURN(m.port, int_of(v, "port", 1, 65535));
  } else if (k == "starttls") {
    CW_ASSIGN_OR_RETURN(auto s, string_of(v, "starttls", 16));
    if (s == "required") {
      m.starttls = StartTls::kRequired;
    } else if (s == "optional") {
      m.starttls = StartTls::kOptional;
    } else if (s == "none") {
      m.starttls = StartTls::kNone;
    } else {
      return bad("'starttls' must be required, optional or none");
    }
  } else if (k == "ca_file") {
    CW_ASSIGN_OR_RETURN(m.ca_file, string_of(v, "ca_file"));
  } else if (k == "username") {
    CW_ASSIGN_OR_RETURN(m.username, string_of(v, "username", 320));
  } else if (k == "password") {
    CW_ASSIGN_OR_RETURN(m.password, secret_ref_of(v, "password"));
  } else if (k == "from") {
    CW_ASSIGN_OR_RETURN(m.from, string_of(v, "from", 320));
    CW_RETURN_IF_ERROR(check_address(m.from, "from"));
  } else if (k == "to") {
    CW_ASSIGN_OR_RETURN(m.to, strings_of(v, "to"));
    for (const auto& a : m.to) CW_RETURN_IF_ERROR(check_address(a, "to"));
  } else {
    return bad("unknown member '" + k + "' of an smtp channel");
  }
  return ok();
}

Status parse_syslog(const std::string& k, const json& v, SyslogChannel& s) {
  if (k == "socket") {
    CW_ASSIGN_OR_RETURN(s.socket, string_of(v, "socket", 107));
    if (!s.socket.starts_with('/')) return bad("'socket' must be an absolute path");
  } else if (k == "tag") {
    CW_ASSIGN_OR_RETURN(s.tag, string_of(v, "tag", 32));
    static const std::regex re("[A-Za-z0-9._-]{1,32}");
    if (!std::regex_match(s.tag, re)) return bad("'tag' must be 1-32 of [A-Za-z0-9._-]");
  } else {
    return bad("unknown member '" + k + "' of a syslog channel");
  }
  return ok();
}

Status check_channel(const ChannelSpec& c) {
  const std::string who = "channel '" + c.name + "': ";
  switch (c.type) {
    case ChannelType::kWebhook:
      if (c.webhook.url.empty()) return bad(who + "a webhook needs 'url'");
      if (c.webhook.secret.empty())
        return bad(who + "a webhook needs 'secret' (env:NAME or file:/path)");
      break;
    case ChannelType::kSmtp:
      if (c.smtp.host.empty()) return bad(who + "smtp needs 'host'");
      if (c.smtp.from.empty() || c.smtp.to.empty()) return bad(who + "smtp needs 'from' and 'to'");
      if (c.smtp.username.has_value() != c.smtp.password.has_value()) {
        return bad(who + "smtp 'username' and 'password' go together");
      }
      if (c.smtp.password && c.smtp.starttls == StartTls::kNone) {
        return bad(who +
                   "smtp authentication needs 'starttls' (a password is never sent in clear)");
      }
      break;
    case ChannelType::kSyslog:
      break;
  }
  return ok();
}

Result<std::vector<int>> thresholds_of(const json& v) {
  if (!v.is_array() || v.empty() || v.size() > 16) {
    return bad("'thresholds' must be a list of 1 to 16 day counts");
  }
  std::set<int, std::greater<>> days;
  for (const auto& item : v) {
    CW_ASSIGN_OR_RETURN(auto d, int_of(item, "thresholds", 1, 3650));
    days.insert(d);
  }
  return std::vector<int>(days.begin(), days.end());
}

Result<std::vector<EscalationStep>> escalation_of(const json& v) {
  if (!v.is_array() || v.size() > 16) return bad("'escalation' must be a list of at most 16 steps");
  std::vector<EscalationStep> out;
  for (const auto& step : v) {
    if (!step.is_object()) return bad("an 'escalation' step must be an object");
    EscalationStep e;
    bool has_days = false;
    for (const auto& [k, item] : step.items()) {
      if (k == "at_days") {
        CW_ASSIGN_OR_RETURN(e.at_days, int_of(item, "escalation.at_days", 0, 3650));
        has_days = true;
      } else if (k == "channels") {
        CW_ASSIGN_OR_RETURN(e.channels, strings_of(item, "escalation.channels"));
      } else {
        return bad("unknown member 'escalation." + k + "'");
      }
    }
    if (!has_days || e.channels.empty())
      return bad("an 'escalation' step needs at_days and channels");
    out.push_back(std::move(e));
  }
  return out;
}

Status parse_member(const std::string& k, const json& v, AlertSettings& s) {
  if (k == "enabled") {
    if (!v.is_boolean()) return bad("'enabled' must be true or false");
    s.enabled = v.get<bool>();
  } else if (k == "thresholds") {
    CW_ASSIGN_OR_RETURN(s.thresholds, thresholds_of(v));
  } else if (k == "lifetime_fraction") {
    if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 1.0) {
      return bad("'lifetime_fraction' must be a number above 0 and at most 1");
    }
    s.lifetime_fraction = v.get<double>();
  } else if (k == "channels") {
    CW_ASSIGN_OR_RETURN(s.channels, strings_of(v, "channels"));
  } else if (k == "failure_channels") {
    CW_ASSIGN_OR_RETURN(s.failure_channels, strings_of(v, "failure_channels"));
  } else if (k == "escalation") {
    CW_ASSIGN_OR_RETURN(s.escalation, escalation_of(v));
  } else if (k == "channel") {
    if (!v.is_array() || v.size() > kMaxChannels) {
      return bad("'channel' must be a list of at most 64 channels ([[alerts.channel]])");
    }
    for (const auto& c : v) {
      CW_ASSIGN_OR_RETURN(auto spec, parse_channel(c));
      if (s.channel(spec.name)) return bad("channel '" + spec.name + "' is defined twice");
      s.channel_specs.push_back(std::move(spec));
    }
  } else if (k == "policy_alerts" || k == "discovery_alerts") {
    if (!v.is_boolean()) return bad("'" + k + "' must be true or false");
    (k == "policy_alerts" ? s.policy_alerts : s.discovery_alerts) = v.get<bool>();
  } else if (k == "policy_min_severity") {
    CW_ASSIGN_OR_RETURN(auto text, string_of(v, k, 16));
    auto severity = policy::parse_severity(text);
    if (!severity) return bad("'policy_min_severity' must be low, medium, high or critical");
    s.policy_min_severity = *severity;
  } else if (k == "policy_channels") {
    CW_ASSIGN_OR_RETURN(s.policy_channels, strings_of(v, k));
  } else if (k == "discovery_channels") {
    CW_ASSIGN_OR_RETURN(s.discovery_channels, strings_of(v, k));
  } else if (k == "policy_interval") {
    CW_ASSIGN_OR_RETURN(s.policy_interval,
                        duration_of(v, k, std::chrono::seconds(1), std::chrono::days(7)));
  } else if (k == "evaluate_interval") {
    CW_ASSIGN_OR_RETURN(s.evaluate_interval,
                        duration_of(v, k, std::chrono::seconds(1), std::chrono::hours(24)));
  } else if (k == "max_attempts") {
    CW_ASSIGN_OR_RETURN(s.max_attempts, int_of(v, k, 1, 50));
  } else if (k == "retry_base") {
    CW_ASSIGN_OR_RETURN(s.retry_base,
                        duration_of(v, k, std::chrono::seconds(1), std::chrono::hours(1)));
  } else if (k == "retry_max") {
    CW_ASSIGN_OR_RETURN(s.retry_max,
                        duration_of(v, k, std::chrono::seconds(1), std::chrono::hours(24)));
  } else {
    return bad("unknown member '" + k + "' of [alerts]");
  }
  return ok();
}

}  // namespace

std::string_view channel_type_name(ChannelType t) {
  switch (t) {
    case ChannelType::kWebhook:
      return "webhook";
    case ChannelType::kSmtp:
      return "smtp";
    case ChannelType::kSyslog:
      return "syslog";
  }
  return "webhook";
}

std::string_view webhook_format_name(WebhookFormat f) {
  switch (f) {
    case WebhookFormat::kGeneric:
      return "generic";
    case WebhookFormat::kSlack:
      return "slack";
    case WebhookFormat::kTeams:
      return "teams";
  }
  return "generic";
}

const ChannelSpec* AlertSettings::channel(std::string_view name) const {
  for (const auto& c : channel_specs) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<ChannelSpec> parse_channel(const json& j) {
  if (!j.is_object()) return bad("a channel must be an object");
  ChannelSpec c;
  if (!j.contains("name") || !j.contains("type")) return bad("a channel needs 'name' and 'type'");
  CW_ASSIGN_OR_RETURN(c.name, string_of(j["name"], "name", 63));
  if (!valid_name(c.name))
    return bad("channel name '" + c.name + "' must match [a-z0-9][a-z0-9._-]{0,62}");
  CW_ASSIGN_OR_RETURN(auto type, string_of(j["type"], "type", 16));
  if (type == "webhook") {
    c.type = ChannelType::kWebhook;
  } else if (type == "smtp") {
    c.type = ChannelType::kSmtp;
  } else if (type == "syslog") {
    c.type = ChannelType::kSyslog;
  } else {
    return bad("channel '" + c.name + "': 'type' must be webhook, smtp or syslog");
  }
  for (const auto& [k, v] : j.items()) {
    if (k == "name" || k == "type") continue;
    if (k == "timeout") {
      CW_ASSIGN_OR_RETURN(c.timeout,
                          duration_of(v, k, std::chrono::seconds(1), std::chrono::seconds(120)));
      continue;
    }
    Status st = c.type == ChannelType::kWebhook ? parse_webhook(k, v, c.webhook)
                : c.type == ChannelType::kSmtp  ? parse_smtp(k, v, c.smtp)
                                                : parse_syslog(k, v, c.syslog);
    if (!st) return bad("channel '" + c.name + "': " + st.error().message);
  }
  CW_RETURN_IF_ERROR(check_channel(c));
  return c;
}

Result<AlertSettings> parse_alert_settings(const json& j) {
  if (!j.is_object()) return bad("[alerts] must be a table");
  AlertSettings s;
  for (const auto& [k, v] : j.items()) CW_RETURN_IF_ERROR(parse_member(k, v, s));
  if (s.retry_max < s.retry_base) return bad("'retry_max' must not be below 'retry_base'");
  auto known = [&s](const std::vector<std::string>& names, std::string_view what) -> Status {
    for (const auto& n : names) {
      if (!s.channel(n)) return bad("'" + std::string(what) + "' names no channel '" + n + "'");
    }
    return ok();
  };
  CW_RETURN_IF_ERROR(known(s.channels, "channels"));
  CW_RETURN_IF_ERROR(known(s.failure_channels, "failure_channels"));
  CW_RETURN_IF_ERROR(known(s.policy_channels, "policy_channels"));
  CW_RETURN_IF_ERROR(known(s.discovery_channels, "discovery_channels"));
  for (const auto& e : s.escalation) CW_RETURN_IF_ERROR(known(e.channels, "escalation.channels"));
  return s;
}

json channel_json(const ChannelSpec& c) {
  json j = {{"name", c.name},
            {"type", channel_type_name(c.type)},
            {"timeout", format_duration(c.timeout)}};
  switch (c.type) {
    case ChannelType::kWebhook:
      j["url"] = c.webhook.url;
      j["format"] = webhook_format_name(c.webhook.format);
      j["secret"] = c.webhook.secret;
      if (c.webhook.ca_file) j["ca_file"] = *c.webhook.ca_file;
      break;
    case ChannelType::kSmtp:
      j["host"] = c.smtp.host;
      j["port"] = c.smtp.port;
      j["starttls"] = c.smtp.starttls == StartTls::kRequired   ? "required"
                      : c.smtp.starttls == StartTls::kOptional ? "optional"
                                                               : "none";
      if (c.smtp.ca_file) j["ca_file"] = *c.smtp.ca_file;
      if (c.smtp.username) j["username"] = *c.smtp.username;
      if (c.smtp.password) j["password"] = *c.smtp.password;
      j["from"] = c.smtp.from;
      j["to"] = c.smtp.to;
      break;
    case ChannelType::kSyslog:
      j["socket"] = c.syslog.socket;
      j["tag"] = c.syslog.tag;
      break;
  }
  return j;
}

json alert_settings_json(const AlertSettings& s) {
  json escalation = json::array();
  for (const auto& e : s.escalation) {
    escalation.push_back({{"at_days", e.at_days}, {"channels", e.channels}});
  }
  json channels = json::array();
  for (const auto& c : s.channel_specs) channels.push_back(channel_json(c));
  return {{"enabled", s.enabled},
          {"thresholds", s.thresholds},
          {"lifetime_fraction", s.lifetime_fraction},
          {"channels", s.channels},
          {"failure_channels", s.failure_channels},
          {"escalation", std::move(escalation)},
          {"channel", std::move(channels)},
          {"evaluate_interval", format_duration(s.evaluate_interval)},
          {"policy_alerts", s.policy_alerts},
          {"policy_min_severity", policy::severity_name(s.policy_min_severity)},
          {"policy_channels", s.policy_channels},
          {"policy_interval", format_duration(s.policy_interval)},
          {"discovery_alerts", s.discovery_alerts},
          {"discovery_channels", s.discovery_channels},
          {"max_attempts", s.max_attempts},
          {"retry_base", format_duration(s.retry_base)},
          {"retry_max", format_duration(s.retry_max)}};
}

std::optional<int> reached_threshold(const AlertSettings& s, SysTime not_before, SysTime not_after,
                                     SysTime now) {
  if (now >= not_after || s.thresholds.empty()) return std::nullopt;
  using std::chrono::duration;
  const double remaining = duration<double>(not_after - now).count();
  const double lifetime = std::max(0.0, duration<double>(not_after - not_before).count());
  if (remaining > s.lifetime_fraction * lifetime) return std::nullopt;
  // thresholds are sorted descending: the last one at or above the time remaining.
  std::optional<int> reached;
  for (int d : s.thresholds) {
    if (static_cast<double>(d) * 86400.0 >= remaining) reached = d;
  }
  return reached;
}

std::vector<std::string> channels_for(const AlertSettings& s, int threshold_days) {
  std::vector<std::string> out;
  auto add = [&out](const std::vector<std::string>& names) {
    for (const auto& n : names) {
      if (std::ranges::find(out, n) == out.end()) out.push_back(n);
    }
  };
  add(s.channels);
  for (const auto& e : s.escalation) {
    if (e.at_days >= threshold_days) add(e.channels);
  }
  return out;
}

const std::vector<std::string>& channels_or_default(const AlertSettings& s,
                                                    const std::vector<std::string>& specific) {
  return specific.empty() ? s.channels : specific;
}

std::string expiry_dedupe_key(std::string_view fingerprint, int threshold_days) {
  return "expiry:" + std::string(fingerprint) + ":" + std::to_string(threshold_days) + "d";
}

}  // namespace certward::lifecycle::alerts
