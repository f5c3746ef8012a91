#include "http/http.h"
#include "http/router_impl.h"
#include "http/text_impl.h"

namespace certward::http {

bool pattern_matches(std::string_view pattern, const std::vector<std::string_view>& segments,
                     std::map<std::string, std::string>* params, int* literals) {
  if (pattern.empty() || pattern.front() != '/') return false;
  std::vector<std::string_view> parts = path_segments(pattern);
  if (parts.size() != segments.size()) return false;
  int literal_count = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    bool is_param = part.size() >= 2 && part.front() == '{' && part.back() == '}';
    if (is_param) {
      if (segments[i].empty()) return false;
    } else if (part != segments[i]) {
      return false;
    } else {
      ++literal_count;
    }
  }
  if (params != nullptr) {
    params->clear();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      std::string_view part = parts[i];
      if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
        (*params)[std::string(part.substr(1, part.size() - 2))] = std::string(segments[i]);
      }
    }
  }
  if (literals != nullptr) *literals = literal_count;
  return true;
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  infos_.push_back(RouteInfo{std::move(method), std::move(pattern)});
  handlers_.push_back(std::move(handler));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match out;
  if (path.empty() || path.front() != '/') return out;
  std::vector<std::string_view> segments = path_segments(path);
  int best_literals = -1;
  for (std::size_t i = 0; i < infos_.size(); ++i) {
    int literals = 0;
    if (!pattern_matches(infos_[i].pattern, segments, nullptr, &literals)) continue;
    if (infos_[i].method != method) {
      out.path_known = true;
      continue;
    }
    // The most literal segments wins ("/certs/expiring" before "/certs/{id}"); ties go to
    // the route added first.
    if (literals > best_literals) {
      best_literals = literals;
      out.handler = &handlers_[i];
      out.route = &infos_[i];
    }
  }
  if (out.route != nullptr) {
    pattern_matches(out.route->pattern, segments, &out.params, nullptr);
    out.path_known = true;
  }
  return out;
}

}  // namespace certward::http
