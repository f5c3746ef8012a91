// [est] and [est.labels.<name>]: the EST server's labels, their profiles, authorities and
// manufacturer CAs; [scep] and [cmp]: the SCEP and CMP endpoints (docs/configuration.md,
// docs/enrollment.md).

#include <algorithm>
#include <set>

#include "common/config_toml.h"

namespace certward {

bool est_label_ok(std::string_view name) {
  // A label named like an operation would make "/.well-known/est/cacerts" ambiguous.
  static const std::set<std::string, std::less<>> kOperations = {
      "cacerts", "simpleenroll", "simplereenroll", "csrattrs", "serverkeygen", "fullcmc"};
  if (name.empty() || name.size() > 64 || kOperations.contains(name)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace certward

namespace certward::config_detail {
namespace {

// [<section>.labels.<name>] tables: each label's profile and authority, and what `more` reads
// of its other keys (false: not one of them, refused as unknown).
template <typename Label, typename More>
Status parse_labels(const toml::node& v, std::string_view section, std::string_view src,
                    std::map<std::string, Label>& labels, More more) {
  const std::string prefix = std::string(section) + ".labels";
  if (!v.is_table())
    return fail(ErrorCode::kMalformed, where(v, src) + ": [" + prefix + "] must be a table");
  for (const auto& [name, lv] : *v.as_table()) {
    const std::string table = prefix + "." + std::string(name.str());
    if (!lv.is_table())
      return fail(ErrorCode::kMalformed, where(lv, src) + ": [" + table + "] must be a table");
    Label l;
    l.name = std::string(name.str());
    for (const auto& [lk, lval] : *lv.as_table()) {
      const std::string_view lkey = lk.str();
      if (lkey == "profile") {
        CW_ASSIGN_OR_RETURN(l.profile, get_string(lval, lkey, src));
      } else if (lkey == "authority") {
        CW_ASSIGN_OR_RETURN(l.authority, get_string(lval, lkey, src));
      } else {
        CW_ASSIGN_OR_RETURN(const bool read, more(l, lkey, lval));
        if (!read) return unknown_key(lval, table, lkey, src);
      }
    }
    labels[l.name] = std::move(l);
  }
  return ok();
}

}  // namespace

Status parse_est(const toml::table& t, EstSettings& est, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "enabled") {
      CW_ASSIGN_OR_RETURN(est.enabled, get_bool(v, key, src));
    } else if (key == "serverkeygen") {
      CW_ASSIGN_OR_RETURN(est.serverkeygen, get_bool(v, key, src));
    } else if (key == "requests_per_second" || key == "burst") {
      if (!v.is_number())
        return fail(ErrorCode::kMalformed,
                    where(v, src) + ": est." + std::string(key) + " must be a number");
      (key == "burst" ? est.burst : est.requests_per_second) = v.value<double>().value_or(0);
    } else if (key == "labels") {
      CW_RETURN_IF_ERROR(parse_labels(
          v, "est", src, est.labels,
          [&](EstLabelSettings& l, std::string_view lkey, const toml::node& lval) -> Result<bool> {
            std::string* field = lkey == "manufacturer_ca_file" ? &l.manufacturer_ca_file
                                 : lkey == "team"               ? &l.team
                                                                : nullptr;
            if (field == nullptr) return false;
            CW_ASSIGN_OR_RETURN(*field, get_string(lval, lkey, src));
            return true;
          }));
    } else {
      return unknown_key(v, "est", key, src);
    }
  }
  return ok();
}

Status validate_est(const EstSettings& est) {
  auto bad = [](std::string_view what) {
    return fail(ErrorCode::kMalformed, "est." + std::string(what));
  };
  if (est.requests_per_second < 0 || est.requests_per_second > 1e6)
    return bad("requests_per_second must be between 0 (no limit) and 1000000");
  if (est.burst < 1 || est.burst > 1e6) return bad("burst must be between 1 and 1000000");
  for (const auto& [name, l] : est.labels) {
    if (!est_label_ok(name))
      return bad("labels: '" + name +
                 "' is not a label (a-z, 0-9, '-', '_', at most 64; not an operation's name)");
    if (l.profile.empty()) return bad("labels." + name + ".profile is required");
    if (l.manufacturer_ca_file.empty() != l.team.empty())
      return bad("labels." + name + ": manufacturer_ca_file and team go together");
  }
  return ok();
}

Status parse_scep(const toml::table& t, ScepSettings& scep, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "enabled") {
      CW_ASSIGN_OR_RETURN(scep.enabled, get_bool(v, key, src));
    } else if (key == "authority") {
      CW_ASSIGN_OR_RETURN(scep.authority, get_string(v, key, src));
    } else if (key == "requests_per_second" || key == "burst") {
      if (!v.is_number())
        return fail(ErrorCode::kMalformed,
                    where(v, src) + ": scep." + std::string(key) + " must be a number");
      (key == "burst" ? scep.burst : scep.requests_per_second) = v.value<double>().value_or(0);
    } else {
      return unknown_key(v, "scep", key, src);
    }
  }
  return ok();
}

Status validate_scep(const ScepSettings& scep) {
  if (scep.requests_per_second < 0 || scep.requests_per_second > 1e6)
    return fail(ErrorCode::kMalformed,
                "scep.requests_per_second must be between 0 (no limit) and 1000000");
  if (scep.burst < 1 || scep.burst > 1e6)
    return fail(ErrorCode::kMalformed, "scep.burst must be between 1 and 1000000");
  return ok();
}

Status parse_cmp(const toml::table& t, CmpSettings& cmp, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "enabled") {
      CW_ASSIGN_OR_RETURN(cmp.enabled, get_bool(v, key, src));
    } else if (key == "implicit_confirm") {
      CW_ASSIGN_OR_RETURN(cmp.implicit_confirm, get_bool(v, key, src));
    } else if (key == "authority") {
      CW_ASSIGN_OR_RETURN(cmp.authority, get_string(v, key, src));
    } else if (key == "requests_per_second" || key == "burst") {
      if (!v.is_number())
        return fail(ErrorCode::kMalformed,
                    where(v, src) + ": cmp." + std::string(key) + " must be a number");
      (key == "burst" ? cmp.burst : cmp.requests_per_second) = v.value<double>().value_or(0);
    } else if (key == "check_after_seconds") {
      if (!v.is_integer())
        return fail(ErrorCode::kMalformed,
                    where(v, src) + ": cmp.check_after_seconds must be an integer");
      cmp.check_after_seconds = static_cast<int>(std::clamp<std::int64_t>(
          v.value<std::int64_t>().value_or(0), std::int64_t{-1}, std::int64_t{1} << 20));
    } else if (key == "labels") {
      CW_RETURN_IF_ERROR(parse_labels(v, "cmp", src, cmp.labels,
                                      [](CmpLabelSettings&, std::string_view,
                                         const toml::node&) -> Result<bool> { return false; }));
    } else {
      return unknown_key(v, "cmp", key, src);
    }
  }
  return ok();
}

Status validate_cmp(const CmpSettings& cmp) {
  if (cmp.requests_per_second < 0 || cmp.requests_per_second > 1e6)
    return fail(ErrorCode::kMalformed,
                "cmp.requests_per_second must be between 0 (no limit) and 1000000");
  if (cmp.burst < 1 || cmp.burst > 1e6)
    return fail(ErrorCode::kMalformed, "cmp.burst must be between 1 and 1000000");
  if (cmp.check_after_seconds < 1 || cmp.check_after_seconds > 86'400)
    return fail(ErrorCode::kMalformed, "cmp.check_after_seconds must be between 1 and 86400");
  for (const auto& [name, l] : cmp.labels) {
    if (!est_label_ok(name))
      return fail(ErrorCode::kMalformed,
                  "cmp.labels: '" + name + "' is not a label (a-z, 0-9, '-', '_', at most 64)");
    if (l.profile.empty())
      return fail(ErrorCode::kMalformed, "cmp.labels." + name + ".profile is required");
  }
  return ok();
}

}  // namespace certward::config_detail
