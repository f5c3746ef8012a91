#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>

#include "common/clock.h"
#include "common/mutex.h"

namespace certward::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};  // process-wide logging threshold
common::Mutex g_write_mu;                                  // one line at a time on stderr

const char* name_of(Level l) {
  switch (l) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void set_level(std::string_view level) {
  for (Level l : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (level == name_of(l)) g_level = static_cast<int>(l);
  }
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void event(Level level, std::string_view name, const nlohmann::json& fields) {
  if (!enabled(level)) return;
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::string t = format_time(std::chrono::time_point_cast<std::chrono::seconds>(now));
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03lldZ", static_cast<long long>(ms));
  t.replace(t.size() - 1, 1, frac);
  nlohmann::json line = {{"time", t}, {"level", name_of(level)}, {"event", name}};
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) line[k] = v;
  }
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  common::MutexLock lock(g_write_mu);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace certward::log
