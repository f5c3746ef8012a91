#include <algorithm>
#include <optional>

#include "http/http.h"
#include "http/text_impl.h"

namespace certward::http {
namespace {

// A path as received, split at its literal '/' only: each segment raw and percent-decoded,
// and where it begins in the path (a rest parameter takes the path from there on).
struct SplitPath {
  std::string_view raw;
  std::vector<std::string_view> segments;
  std::vector<std::string> decoded;
  std::vector<std::size_t> offsets;
};

std::optional<SplitPath> split_path(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  SplitPath out;
  out.raw = raw;
  out.segments = path_segments(raw);
  out.decoded.reserve(out.segments.size());
  out.offsets.reserve(out.segments.size());
  for (std::string_view segment : out.segments) {
    out.offsets.push_back(static_cast<std::size_t>(segment.data() - raw.data()));
    if (segment.find('%') == std::string_view::npos) {
      out.decoded.emplace_back(segment);
      continue;
    }
    auto decoded = percent_decode(segment, false);
    if (!decoded) return std::nullopt;
    out.decoded.push_back(std::move(*decoded));
  }
  return out;
}

enum class PartKind : std::uint8_t { kLiteral, kParam, kRest };
struct Part {
  PartKind kind;
  std::string_view text;  // the literal, or the parameter's name
};

Part classify(std::string_view part) {
  if (part.size() < 2 || part.front() != '{' || part.back() != '}') {
    return {PartKind::kLiteral, part};
  }
  std::string_view name = part.substr(1, part.size() - 2);
  constexpr std::string_view kRest = "...";
  if (name.ends_with(kRest)) return {PartKind::kRest, name.substr(0, name.size() - kRest.size())};
  return {PartKind::kParam, name};
}

// A route pattern's segments one at a time, without allocating: every request is matched
// against every route's pattern.
class PatternParts {
 public:
  explicit PatternParts(std::string_view pattern) : rest_(pattern.substr(1)) {}
  bool next(std::string_view& part) {
    if (done_) return false;
    const std::size_t slash = rest_.find('/');
    part = rest_.substr(0, slash);
    if (slash == std::string_view::npos) {
      done_ = true;
    } else {
      rest_ = rest_.substr(slash + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// Whether `pattern` matches `path`. On a match, fills `params` (when not null) and `score`
// (when not null): higher for a more specific route.
bool pattern_matches(std::string_view pattern, const SplitPath& path,
                     std::map<std::string, std::string>* params, int* score) {
  const auto count = static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '/'));
  const bool rest = classify(pattern.substr(pattern.rfind('/') + 1)).kind == PartKind::kRest;
  if (rest ? path.segments.size() < count : path.segments.size() != count) return false;
  int literals = 0;
  std::string_view text;
  PatternParts parts(pattern);
  for (std::size_t i = 0; parts.next(text); ++i) {
    Part part = classify(text);
    switch (part.kind) {
      case PartKind::kLiteral:
        if (part.text != path.decoded[i]) return false;
        ++literals;
        break;
      case PartKind::kParam:
        if (path.segments[i].empty()) return false;
        break;
      case PartKind::kRest:
        if (path.offsets[i] == path.raw.size()) return false;
        break;
    }
  }
  if (params != nullptr) {
    params->clear();
    PatternParts again(pattern);
    for (std::size_t i = 0; again.next(text); ++i) {
      Part part = classify(text);
      if (part.kind == PartKind::kParam) {
        (*params)[std::string(part.text)] = path.decoded[i];
      } else if (part.kind == PartKind::kRest) {
        (*params)[std::string(part.text)] = std::string(path.raw.substr(path.offsets[i]));
      }
    }
  }
  if (score != nullptr) *score = literals * 2 + (rest ? 0 : 1);
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler,
                 InlineHandler first_try) {
  CW_CHECK(!pattern.empty() && pattern.front() == '/');
  std::vector<std::string_view> parts = path_segments(pattern);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    CW_CHECK(classify(parts[i]).kind != PartKind::kRest);
  }
  for (const RouteInfo& existing : infos_) {
    CW_CHECK(existing.method != method || existing.pattern != pattern);
  }
  infos_.push_back(RouteInfo{std::move(method), std::move(pattern)});
  handlers_.push_back(std::move(handler));
  first_tries_.push_back(std::move(first_try));
}

void Router::mount(std::string_view prefix, const Router& routes) {
  CW_CHECK(prefix.empty() || (prefix.front() == '/' && prefix.back() != '/'));
  for (std::size_t i = 0; i < routes.infos_.size(); ++i) {
    const RouteInfo& route = routes.infos_[i];
    std::string pattern(prefix);
    if (prefix.empty() || route.pattern != "/") pattern += route.pattern;
    add(route.method, std::move(pattern), routes.handlers_[i], routes.first_tries_[i]);
  }
}

Router::Match Router::match(std::string_view method, std::string_view raw_path) const {
  Match out;
  std::optional<SplitPath> path = split_path(raw_path);
  if (!path) return out;
  int best = -1;
  for (std::size_t i = 0; i < infos_.size(); ++i) {
    int score = 0;
    if (!pattern_matches(infos_[i].pattern, *path, nullptr, &score)) continue;
    if (infos_[i].method != method) {
      out.path_known = true;
      continue;
    }
    if (score > best) {
      best = score;
      out.handler = &handlers_[i];
      out.first_try = first_tries_[i] ? &first_tries_[i] : nullptr;
      out.route = &infos_[i];
    }
  }
  if (out.route != nullptr) {
    pattern_matches(out.route->pattern, *path, &out.params, nullptr);
    out.path_known = true;
  }
  return out;
}

std::string Router::allowed_methods(std::string_view raw_path) const {
  std::vector<std::string_view> methods;
  if (std::optional<SplitPath> path = split_path(raw_path)) {
    for (const RouteInfo& route : infos_) {
      if (!pattern_matches(route.pattern, *path, nullptr, nullptr)) continue;
      if (std::find(methods.begin(), methods.end(), route.method) == methods.end()) {
        methods.push_back(route.method);
      }
    }
  }
  std::string out;
  for (std::string_view m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace certward::http
