#pragma once
// Structured logging: one JSON object per line on stderr, with a stable event name and
// key/value fields. Never pass keys, tokens, passwords or Authorization headers as fields.

#include <nlohmann/json.hpp>
#include <string_view>

namespace certward::log {

enum class Level : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError };

// "trace" | "debug" | "info" | "warn" | "error"; unknown names leave the level unchanged.
void set_level(std::string_view level);
bool enabled(Level level);
void event(Level level, std::string_view name,
           const nlohmann::json& fields = nlohmann::json::object());

inline void info(std::string_view name, const nlohmann::json& f = nlohmann::json::object()) {
  event(Level::kInfo, name, f);
}
inline void warn(std::string_view name, const nlohmann::json& f = nlohmann::json::object()) {
  event(Level::kWarn, name, f);
}
inline void error(std::string_view name, const nlohmann::json& f = nlohmann::json::object()) {
  event(Level::kError, name, f);
}
inline void debug(std::string_view name, const nlohmann::json& f = nlohmann::json::object()) {
  event(Level::kDebug, name, f);
}

}  // namespace certward::log
