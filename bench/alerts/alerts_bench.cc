// The alert set of a large inventory, computed in memory: COUNT certificates (default
// 1,000,000) with lifetimes of 47, 90 and 398 days and expiries spread over the next 400 days,
// their reached thresholds (scaled by lifetime), silences and escalation channels. Prints the
// seconds per pass (best of PASSES) and how many alerts the set holds. The database side (the
// evaluator paging through a real inventory) is bench/alerts/run.sh.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "lifecycle/alerts/evaluator.h"

using namespace certward;
using namespace certward::lifecycle::alerts;

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const int passes = argc > 2 ? std::atoi(argv[2]) : 5;
  auto settings = parse_alert_settings(nlohmann::json{
      {"channel",
       {{{"name", "team"}, {"type", "syslog"}}, {{"name", "oncall"}, {"type", "syslog"}}}},
      {"channels", {"team"}},
      {"escalation", {{{"at_days", 7}, {"channels", {"oncall"}}}}}});
  if (!settings) {
    std::fprintf(stderr, "settings: %s\n", settings.error().message.c_str());
    return 1;
  }
  const SysTime now = from_unix(1'790'000'000);
  std::mt19937_64 rng(42);
  const int lifetimes[] = {47, 90, 398};
  std::vector<inventory::CertificateRecord> records(static_cast<std::size_t>(count));
  ActiveSilences silences;
  for (long i = 0; i < count; ++i) {
    auto& r = records[static_cast<std::size_t>(i)];
    r.fingerprint = std::to_string(i);
    const int lifetime = lifetimes[rng() % 3];
    const auto left = std::chrono::seconds(rng() % (400L * 86400));
    r.not_after = now + left;
    r.not_before = r.not_after - std::chrono::days(lifetime);
    if (i % 50 == 0) r.meta.team = "team-" + std::to_string(i % 1000);
    if (i % 10'000 == 0) silences.fingerprints.insert(r.fingerprint);
  }
  silences.teams.insert("team-500");
  double best = 1e9;
  std::size_t alerts = 0, channels = 0;
  for (int p = 0; p < passes; ++p) {
    const auto start = std::chrono::steady_clock::now();
    auto set = expiry_candidates(*settings, records, now, silences);
    channels = 0;
    for (const auto& c : set) channels += channels_for(*settings, c.threshold_days).size();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count());
    alerts = set.size();
  }
  std::printf("alert set of %ld certificates: %.3f s (best of %d), %zu alerts, %zu deliveries\n",
              count, best, passes, alerts, channels);
  return 0;
}
