#include "common/json_text.h"

#include <set>
#include <string>
#include <vector>

namespace certward {

Result<nlohmann::json> parse_json_strict(std::string_view text) {
  using json = nlohmann::json;
  // The names of each open object, innermost last: nlohmann's parse callback sees the events
  // of every object in document order.
  std::vector<std::set<std::string, std::less<>>> open;
  std::optional<std::string> repeated;
  auto track = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second && !repeated) {
          repeated = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), track, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(ErrorCode::kMalformed, "not valid JSON");
  if (repeated) {
    // The name is shown as JSON, so that control characters in it stay escaped.
    return fail(ErrorCode::kMalformed,
                "the member name " +
                    json(*repeated).dump(-1, ' ', false, json::error_handler_t::replace) +
                    " appears twice in one object");
  }
  return j;
}

}  // namespace certward
