#pragma once
// Alert rules and channels as the configuration ([alerts], docs/governance.md "Alerts") gives
// them: graduated expiry thresholds scaled by lifetime, escalation to further channels as
// expiry nears, and the channels alerts go out on (webhook, SMTP, syslog).
//
// parse_alert_settings() is the one parser of this shape (the [alerts] table arrives as JSON,
// the same as a REST body would): unknown members, bad URLs, unknown formats and secrets given
// inline are refused with kInvalidArgument naming the member, and nothing is kept. Secrets are
// never part of the settings: a channel names where its secret is ("env:NAME" or
// "file:/path"), read when an alert is sent.
//
// Plain values and pure functions; thread-compatible.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "policy/rule.h"

namespace certward::lifecycle::alerts {

enum class ChannelType : std::uint8_t { kWebhook, kSmtp, kSyslog };
std::string_view channel_type_name(ChannelType t);  // "webhook", "smtp", "syslog"

enum class WebhookFormat : std::uint8_t { kGeneric, kSlack, kTeams };
std::string_view webhook_format_name(WebhookFormat f);  // "generic", "slack", "teams"

enum class StartTls : std::uint8_t { kRequired, kOptional, kNone };

struct WebhookChannel {
  std::string url;  // http:// or https://
  WebhookFormat format = WebhookFormat::kGeneric;
  // Where the HMAC-SHA256 key is: "env:NAME" or "file:/absolute/path". REQUIRED: a receiver
  // must be able to tell certward's alerts from anyone's POST.
  std::string secret;
  std::optional<std::string> ca_file;  // trust for an https URL; default: the system's
};

struct SmtpChannel {
  std::string host;
  int port = 25;
  StartTls starttls = StartTls::kRequired;
  std::optional<std::string> ca_file;  // trust for STARTTLS; default: the system's
  std::optional<std::string> username;
  std::optional<std::string> password;  // "env:NAME" or "file:/path"; REQUIRED with username
  std::string from;
  std::vector<std::string> to;  // 1..32 addresses
};

struct SyslogChannel {
  std::string socket = "/dev/log";  // a local datagram socket
  std::string tag = "certward";
};

struct ChannelSpec {
  std::string name;  // [a-z0-9][a-z0-9._-]{0,62}
  ChannelType type = ChannelType::kWebhook;
  WebhookChannel webhook;
  SmtpChannel smtp;
  SyslogChannel syslog;
  std::chrono::seconds timeout{10};  // one attempt's limit
};

// From `at_days` on (a threshold of at_days or fewer), alerts also go to `channels`.
struct EscalationStep {
  int at_days = 0;
  std::vector<std::string> channels;
};

struct AlertSettings {
  bool enabled = true;
  // Expiry thresholds in days, kept sorted descending, each 1..3650, at most 16.
  std::vector<int> thresholds = {30, 14, 7, 1};
  // Scaling by lifetime: threshold d is reached when at most min(d, fraction × lifetime)
  // remains (lifetime = not_after - not_before). 0 < fraction <= 1; default 1/3.
  double lifetime_fraction = 1.0 / 3.0;
  // Every expiry alert goes to `channels`; escalation adds more as expiry nears.
  std::vector<std::string> channels;
  std::vector<EscalationStep> escalation;
  // Failures of managed certificates (renewal, deployment) go to their own alert policy's
  // channels, else to these.
  std::vector<std::string> failure_channels;
  // Policy violations (docs/governance.md "Policy and discovery alerts"): new violations of
  // rules of at least `policy_min_severity`, looked for every `policy_interval`, sent as one
  // digest per rule and team to `policy_channels` (empty: `channels`).
  bool policy_alerts = true;
  policy::Severity policy_min_severity = policy::Severity::kHigh;
  std::vector<std::string> policy_channels;
  std::chrono::seconds policy_interval{3600};
  // Discovery changes: a TLS endpoint that showed one certificate now shows one certward did
  // not know (found by discovery only), sent to `discovery_channels` (empty: `channels`).
  bool discovery_alerts = true;
  std::vector<std::string> discovery_channels;
  std::vector<ChannelSpec> channel_specs;  // "channels" of the [alerts] table: [[alerts.channel]]
  std::chrono::seconds evaluate_interval{300};
  // Delivery: attempts per alert and channel, and the backoff between them (retry_base
  // doubled per attempt, at most retry_max).
  int max_attempts = 5;
  std::chrono::seconds retry_base{30};
  std::chrono::seconds retry_max{3600};

  const ChannelSpec* channel(std::string_view name) const;
};

// Errors: kInvalidArgument naming the member (shape, unknown member, a threshold out of range,
// a channel: unknown type or format, a URL that is not http(s), a missing or inline secret, an
// escalation naming no configured channel).
Result<AlertSettings> parse_alert_settings(const nlohmann::json& j);
// The settings as JSON, secrets' references included (they are not secret), for the API.
nlohmann::json alert_settings_json(const AlertSettings& s);
nlohmann::json channel_json(const ChannelSpec& c);
Result<ChannelSpec> parse_channel(const nlohmann::json& j);

// The expiry threshold a certificate has reached at `now`: the smallest configured threshold
// d with d days >= the time remaining, provided the time remaining is at most
// lifetime_fraction × lifetime; nullopt when none is reached or it has expired. Thresholds
// that scale to the same point are reached together and the tightest of them is reported.
std::optional<int> reached_threshold(const AlertSettings& s, SysTime not_before, SysTime not_after,
                                     SysTime now);

// The channels an expiry alert at `threshold_days` goes to: `channels`, then each escalation
// step's whose at_days >= threshold_days, without duplicates, in that order.
std::vector<std::string> channels_for(const AlertSettings& s, int threshold_days);

// `specific` if it names any channel, else `s.channels`.
const std::vector<std::string>& channels_or_default(const AlertSettings& s,
                                                    const std::vector<std::string>& specific);

// "expiry:<fingerprint>:<days>d": one alert per certificate and threshold, however often and
// wherever it is evaluated.
std::string expiry_dedupe_key(std::string_view fingerprint, int threshold_days);

}  // namespace certward::lifecycle::alerts
