#include "policy/rule.h"

#include <algorithm>
#include <array>
#include <set>

namespace certward::policy {
namespace {

constexpr std::size_t kMaxList = 64;
constexpr std::size_t kMaxText = 256;
constexpr std::size_t kMaxDocument = 64 * 1024;

constexpr std::array<std::string_view, 9> kKindNames = {
    "min_key_size",   "allowed_algorithms",   "max_validity",
    "allowed_issuers", "wildcards",           "required_san_pattern",
    "required_owner", "forbidden_eku_combination", "sha1_in_chain"};
constexpr std::array<std::string_view, 4> kSeverityNames = {"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 5> kAlgorithms = {"rsa", "rsa-pss", "ecdsa", "ed25519",
                                                          "dsa"};
constexpr std::array<std::string_view, 3> kCurves = {"P-256", "P-384", "P-521"};

struct KnownEku {
  std::string_view name;
  std::string_view oid;
};
constexpr std::array<KnownEku, 7> kKnownEkus = {{{"serverAuth", "1.3.6.1.5.5.7.3.1"},
                                                 {"clientAuth", "1.3.6.1.5.5.7.3.2"},
                                                 {"codeSigning", "1.3.6.1.5.5.7.3.3"},
                                                 {"emailProtection", "1.3.6.1.5.5.7.3.4"},
                                                 {"timeStamping", "1.3.6.1.5.5.7.3.8"},
                                                 {"OCSPSigning", "1.3.6.1.5.5.7.3.9"},
                                                 {"anyExtendedKeyUsage", "2.5.29.37.0"}}};

bool is_dotted_oid(std::string_view s) {
  if (s.size() < 3 || s.size() > 128 || s.front() == '.' || s.back() == '.' ||
      s.find("..") != std::string_view::npos || s.find('.') == std::string_view::npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return ch == '.' || (ch >= '0' && ch <= '9'); });
}

std::unexpected<Error> bad(std::string_view id, std::string_view what) {
  return fail(ErrorCode::kInvalidArgument,
              "policy rule" + (id.empty() ? std::string() : " '" + std::string(id) + "'") + ": " +
                  std::string(what));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A printable single-line text of at most kMaxText characters.
bool plain_text(std::string_view s) {
  return s.size() <= kMaxText && std::all_of(s.begin(), s.end(), [](char ch) {
           return static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f;
         });
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
  });
}

bool valid_tag(std::string_view t) {
  return !t.empty() && t.size() <= 64 && std::all_of(t.begin(), t.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           std::string_view("._:/=+-").find(ch) != std::string_view::npos;
  });
}

Result<std::string> text_member(const nlohmann::json& v, std::string_view id,
                                std::string_view key) {
  if (!v.is_string()) return bad(id, "'" + std::string(key) + "' must be a string");
  std::string s = v.get<std::string>();
  if (!plain_text(s)) {
    return bad(id, "'" + std::string(key) + "' must be at most 256 printable characters");
  }
  return s;
}

Result<std::vector<std::string>> list_member(const nlohmann::json& v, std::string_view id,
                                             std::string_view key) {
  if (!v.is_array() || v.size() > kMaxList) {
    return bad(id, "'" + std::string(key) + "' must be a list of at most 64 strings");
  }
  std::vector<std::string> out;
  for (const auto& item : v) {
    CW_ASSIGN_OR_RETURN(std::string s, text_member(item, id, key));
    if (s.empty()) return bad(id, "'" + std::string(key) + "' holds an empty string");
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

Result<std::int64_t> int_member(const nlohmann::json& v, std::string_view id, std::string_view key,
                                std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) ||
      v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
    return bad(id, "'" + std::string(key) + "' must be an integer from " + std::to_string(lo) +
                       " to " + std::to_string(hi));
  }
  return v.get<std::int64_t>();
}

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

// The members of the rule's kind; anything else is refused.
Status parse_params(const nlohmann::json& j, Rule& r) {
  const std::string_view id = r.id;
  RuleParams& p = r.params;
  std::set<std::string> seen;
  auto need = [&](std::string_view key) -> const nlohmann::json* {
    auto it = j.find(std::string(key));
    return it == j.end() ? nullptr : &*it;
  };
  switch (r.kind) {
    case Kind::kMinKeySize: {
      const auto* v = need("min_bits");
      if (!v || !v->is_object() || v->empty()) {
        return bad(id, "'min_bits' must map algorithms to bit sizes, e.g. {\"rsa\": 2048}");
      }
      for (const auto& [alg, bits] : v->items()) {
        if (!one_of(kAlgorithms, alg)) {
          return bad(id, "'min_bits' names unknown algorithm '" + alg.substr(0, 64) +
                             "' (rsa, rsa-pss, ecdsa, ed25519, dsa)");
        }
        CW_ASSIGN_OR_RETURN(auto n, int_member(bits, id, "min_bits." + alg, 1, 16384));
        p.min_bits.emplace_back(alg, static_cast<int>(n));
      }
      return ok();
    }
    case Kind::kAllowedAlgorithms: {
      const auto* v = need("algorithms");
      if (!v) return bad(id, "'algorithms' is required");
      CW_ASSIGN_OR_RETURN(p.algorithms, list_member(*v, id, "algorithms"));
      if (p.algorithms.empty()) return bad(id, "'algorithms' must name at least one");
      for (auto& a : p.algorithms) {
        a = lower(a);
        if (!one_of(kAlgorithms, a)) {
          return bad(id, "unknown algorithm '" + a + "' (rsa, rsa-pss, ecdsa, ed25519, dsa)");
        }
      }
      if (const auto* c = need("curves")) {
        CW_ASSIGN_OR_RETURN(p.curves, list_member(*c, id, "curves"));
        for (const auto& curve : p.curves) {
          if (!one_of(kCurves, curve)) {
            return bad(id, "unknown curve '" + curve + "' (P-256, P-384, P-521)");
          }
        }
      }
      return ok();
    }
    case Kind::kMaxValidity: {
      const auto* v = need("max_days");
      if (!v) return bad(id, "'max_days' is required");
      CW_ASSIGN_OR_RETURN(auto days, int_member(*v, id, "max_days", 1, 36500));
      p.max_validity = std::chrono::days(days);
      return ok();
    }
    case Kind::kAllowedIssuers: {
      const auto* v = need("issuers");
      if (!v) return bad(id, "'issuers' is required");
      CW_ASSIGN_OR_RETURN(p.issuers, list_member(*v, id, "issuers"));
      if (p.issuers.empty()) return bad(id, "'issuers' must name at least one");
      for (auto& i : p.issuers) i = i.starts_with("authority:") ? i : lower(i);
      return ok();
    }
    case Kind::kWildcards: {
      if (const auto* v = need("allowed")) {
        if (!v->is_boolean()) return bad(id, "'allowed' must be true or false");
        p.wildcards_allowed = v->get<bool>();
      }
      return ok();
    }
    case Kind::kRequiredSanPattern: {
      const auto* v = need("patterns");
      if (!v) return bad(id, "'patterns' is required");
      CW_ASSIGN_OR_RETURN(auto texts, list_member(*v, id, "patterns"));
      if (texts.empty()) return bad(id, "'patterns' must hold at least one pattern");
      for (const auto& t : texts) {
        auto pattern = NamePattern::compile(t);
        if (!pattern) return bad(id, pattern.error().message);
        p.san_patterns.push_back(std::move(*pattern));
      }
      if (const auto* m = need("match")) {
        if (!m->is_string() || (*m != "all" && *m != "any")) {
          return bad(id, "'match' must be \"all\" or \"any\"");
        }
        p.san_match_all = *m == "all";
      }
      return ok();
    }
    case Kind::kForbiddenEkuCombination: {
      const auto* v = need("ekus");
      if (!v) return bad(id, "'ekus' is required");
      CW_ASSIGN_OR_RETURN(auto ekus, list_member(*v, id, "ekus"));
      for (const auto& e : ekus) {
        // A misspelt usage would never match, leaving the rule silently without effect.
        std::string canonical = canonical_eku(e);
        if (canonical == e && !is_dotted_oid(e) &&
            std::none_of(kKnownEkus.begin(), kKnownEkus.end(),
                         [&](const KnownEku& k) { return k.name == e; })) {
          return bad(id, "unknown extended key usage '" + e +
                             "' (serverAuth, clientAuth, codeSigning, emailProtection, "
                             "timeStamping, OCSPSigning, anyExtendedKeyUsage or a dotted OID)");
        }
        if (std::find(p.ekus.begin(), p.ekus.end(), canonical) == p.ekus.end()) {
          p.ekus.push_back(std::move(canonical));
        }
      }
      if (p.ekus.size() < 2) return bad(id, "'ekus' must name at least two usages");
      return ok();
    }
    case Kind::kRequiredOwner:
    case Kind::kSha1InChain:
      return ok();
  }
  return ok();
}

// The members every rule may have, and those of its kind.
bool known_member(Kind k, std::string_view key) {
  static constexpr std::array<std::string_view, 8> kCommon = {
      "id", "kind", "description", "severity", "enabled", "teams", "tags", "source"};
  if (one_of(kCommon, key)) return true;
  switch (k) {
    case Kind::kMinKeySize:
      return key == "min_bits";
    case Kind::kAllowedAlgorithms:
      return key == "algorithms" || key == "curves";
    case Kind::kMaxValidity:
      return key == "max_days";
    case Kind::kAllowedIssuers:
      return key == "issuers";
    case Kind::kWildcards:
      return key == "allowed";
    case Kind::kRequiredSanPattern:
      return key == "patterns" || key == "match";
    case Kind::kForbiddenEkuCombination:
      return key == "ekus";
    case Kind::kRequiredOwner:
    case Kind::kSha1InChain:
      return false;
  }
  return false;
}

}  // namespace

std::string canonical_eku(std::string_view usage) {
  for (const auto& k : kKnownEkus) {
    if (usage == k.oid || lower(usage) == lower(k.name)) return std::string(k.name);
  }
  return std::string(usage);
}

std::string_view kind_name(Kind k) { return kKindNames[static_cast<std::size_t>(k)]; }

Result<Kind> parse_kind(std::string_view s) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == s) return static_cast<Kind>(i);
  return fail(ErrorCode::kInvalidArgument,
              "unknown policy rule kind '" + std::string(s.substr(0, 64)) +
                  "' (min_key_size, allowed_algorithms, max_validity, allowed_issuers, "
                  "wildcards, required_san_pattern, required_owner, "
                  "forbidden_eku_combination, sha1_in_chain)");
}

std::string_view severity_name(Severity s) { return kSeverityNames[static_cast<std::size_t>(s)]; }

Result<Severity> parse_severity(std::string_view s) {
  for (std::size_t i = 0; i < kSeverityNames.size(); ++i)
    if (kSeverityNames[i] == s) return static_cast<Severity>(i);
  return fail(ErrorCode::kInvalidArgument, "unknown severity '" + std::string(s.substr(0, 64)) +
                                               "' (low, medium, high, critical)");
}

std::string_view source_name(Source s) { return s == Source::kApi ? "api" : "config"; }

Result<Rule> parse_rule(const nlohmann::json& j, Source source) {
  if (!j.is_object()) return bad("", "a rule is a JSON object");
  Rule r;
  r.source = source;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || !valid_id(id->get<std::string>())) {
    return bad("", "'id' must be 1-64 characters of a-z, 0-9 and ._- starting with a letter or digit");
  }
  r.id = id->get<std::string>();
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string()) return bad(r.id, "'kind' is required");
  CW_ASSIGN_OR_RETURN(r.kind, parse_kind(kind->get<std::string>()));
  for (const auto& [key, v] : j.items()) {
    if (!known_member(r.kind, key)) {
      return bad(r.id, "unknown member '" + key.substr(0, 64) + "' for kind " +
                           std::string(kind_name(r.kind)));
    }
    if (key == "description") {
      CW_ASSIGN_OR_RETURN(r.description, text_member(v, r.id, key));
    } else if (key == "severity") {
      if (!v.is_string()) return bad(r.id, "'severity' must be a string");
      CW_ASSIGN_OR_RETURN(r.severity, parse_severity(v.get<std::string>()));
    } else if (key == "enabled") {
      if (!v.is_boolean()) return bad(r.id, "'enabled' must be true or false");
      r.enabled = v.get<bool>();
    } else if (key == "teams") {
      CW_ASSIGN_OR_RETURN(r.teams, list_member(v, r.id, key));
    } else if (key == "tags") {
      CW_ASSIGN_OR_RETURN(r.tags, list_member(v, r.id, key));
      for (auto& t : r.tags) {
        t = lower(t);
        if (!valid_tag(t)) return bad(r.id, "tag '" + t + "' is not a valid tag");
      }
    }
    // "source" is what rule_json shows; a rule's source is where it was read, never its text.
  }
  CW_RETURN_IF_ERROR(parse_params(j, r));
  return r;
}

Result<Rule> parse_rule_text(std::string_view text, Source source) {
  if (text.size() > kMaxDocument) {
    return fail(ErrorCode::kInvalidArgument, "a policy rule is at most 64 KiB of JSON");
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(ErrorCode::kMalformed, "a policy rule must be a JSON object");
  return parse_rule(j, source);
}

nlohmann::json rule_json(const Rule& r) {
  nlohmann::json j = {{"id", r.id},
                      {"kind", kind_name(r.kind)},
                      {"description", r.description},
                      {"severity", severity_name(r.severity)},
                      {"enabled", r.enabled},
                      {"teams", r.teams},
                      {"tags", r.tags},
                      {"source", source_name(r.source)}};
  const RuleParams& p = r.params;
  switch (r.kind) {
    case Kind::kMinKeySize: {
      nlohmann::json bits = nlohmann::json::object();
      for (const auto& [alg, n] : p.min_bits) bits[alg] = n;
      j["min_bits"] = std::move(bits);
      break;
    }
    case Kind::kAllowedAlgorithms:
      j["algorithms"] = p.algorithms;
      if (!p.curves.empty()) j["curves"] = p.curves;
      break;
    case Kind::kMaxValidity:
      j["max_days"] = std::chrono::duration_cast<std::chrono::days>(p.max_validity).count();
      break;
    case Kind::kAllowedIssuers:
      j["issuers"] = p.issuers;
      break;
    case Kind::kWildcards:
      j["allowed"] = p.wildcards_allowed;
      break;
    case Kind::kRequiredSanPattern: {
      nlohmann::json patterns = nlohmann::json::array();
      for (const auto& pattern : p.san_patterns) patterns.push_back(pattern.text());
      j["patterns"] = std::move(patterns);
      j["match"] = p.san_match_all ? "all" : "any";
      break;
    }
    case Kind::kForbiddenEkuCombination:
      j["ekus"] = p.ekus;
      break;
    case Kind::kRequiredOwner:
    case Kind::kSha1InChain:
      break;
  }
  return j;
}

}  // namespace certward::policy
