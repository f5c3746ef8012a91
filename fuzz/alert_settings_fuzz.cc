// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: lifecycle::alerts::parse_alert_settings on the bytes as JSON (the [alerts]
// table of the configuration, as the API shows it), and parse_channel on them alone. Settings
// that parse must survive the round trip (alert_settings_json of them parses again to the same
// JSON), and every channel's messages must render for an alert whose text came from outside.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lifecycle/alerts/sender.h"

namespace alerts = certward::lifecycle::alerts;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  (void)alerts::parse_channel(j);
  auto settings = alerts::parse_alert_settings(j);
  if (!settings) return 0;
  const nlohmann::json once = alerts::alert_settings_json(*settings);
  auto again = alerts::parse_alert_settings(once);
  if (!again) std::abort();  // what the API shows, the configuration must accept
  if (alerts::alert_settings_json(*again) != once) std::abort();
  certward::lifecycle::Alert a;
  a.id = "fuzz";
  a.severity = "warning";
  a.kind = "expiry";
  a.message = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto now = certward::from_unix(1'790'000'000);
  for (const auto& c : settings->channel_specs) {
    (void)alerts::webhook_body(a, c.webhook.format);
    (void)alerts::email_message(a, c.smtp, now);
    (void)alerts::syslog_message(a, c.syslog, now);
  }
  for (int d : settings->thresholds) (void)alerts::channels_for(*settings, d);
  (void)alerts::reached_threshold(*settings, now, now + std::chrono::days(47),
                                  now + std::chrono::days(40));
  return 0;
}
