#pragma once
// Reading JSON from outside: one text, one meaning.

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/error.h"

namespace certward {

// Parses `text` as JSON, refusing any object that names a member twice. RFC 8259 4 leaves
// repeated names to the implementation (nlohmann keeps the last one, others the first), so
// two parsers of the same bytes — a proxy or an audit tool and this server — could read
// different values; refusing them leaves one reading. Errors: kMalformed (not JSON, with
// nlohmann's position, or a repeated name, which it names).
Result<nlohmann::json> parse_json_strict(std::string_view text);

}  // namespace certward
