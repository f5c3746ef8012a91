#include "policy/evaluate.h"

#include <algorithm>

namespace certward::policy {
namespace {

bool contains(std::span<const std::string> v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool kind_in_stage(Kind k, Stage stage) {
  const bool issuer_bound = k == Kind::kAllowedIssuers || k == Kind::kSha1InChain;
  switch (stage) {
    case Stage::kAll:
      return true;
    case Stage::kBeforeSigning:
      return !issuer_bound;
    case Stage::kAfterSigning:
      return issuer_bound;
  }
  return true;
}

void key_rules(const Rule& r, std::string_view algorithm, std::string_view curve, int bits,
               std::vector<Finding>& out) {
  const RuleParams& p = r.params;
  if (r.kind == Kind::kMinKeySize) {
    // An RSA-PSS key is an RSA key with its padding fixed: an "rsa" minimum binds it too,
    // unless the rule gives "rsa-pss" one of its own.
    const bool pss_own = std::any_of(p.min_bits.begin(), p.min_bits.end(),
                                     [](const auto& m) { return m.first == "rsa-pss"; });
    for (const auto& [alg, min] : p.min_bits) {
      const bool binds = alg == algorithm || (alg == "rsa" && algorithm == "rsa-pss" && !pss_own);
      if (binds && bits < min) out.push_back({&r, algorithm, bits, min});
    }
  } else if (r.kind == Kind::kAllowedAlgorithms) {
    if (!contains(p.algorithms, algorithm)) {
      out.push_back({&r, algorithm.empty() ? std::string_view("unknown") : algorithm, 0, 0});
    } else if (algorithm == "ecdsa" && !p.curves.empty() && !contains(p.curves, curve)) {
      out.push_back({&r, curve.empty() ? std::string_view("unknown") : curve, 1, 0});
    }
  }
}

void name_rules(const Rule& r, const inventory::CertificateRecord& c, std::vector<Finding>& out) {
  const RuleParams& p = r.params;
  if (r.kind == Kind::kWildcards) {
    if (p.wildcards_allowed) return;
    // A '*' anywhere is a wildcard to some client ("w*.example.com" to those that take
    // partial labels), so only names without one pass.
    for (const auto& san : c.sans) {
      if (san.type == x509::SanType::kDns && san.value.find('*') != std::string::npos) {
        out.push_back({&r, san.value, 0, 0});
        return;
      }
    }
    if (c.common_name.find('*') != std::string::npos) out.push_back({&r, c.common_name, 0, 0});
    return;
  }
  // required_san_pattern
  bool any_name = false;
  for (const auto& san : c.sans) {
    if (san.type != x509::SanType::kDns) continue;
    any_name = true;
    const bool ok = std::any_of(p.san_patterns.begin(), p.san_patterns.end(),
                                [&](const NamePattern& n) { return n.matches(san.value); });
    if (p.san_match_all && !ok) {
      out.push_back({&r, san.value, 0, 0});
      return;
    }
    if (!p.san_match_all && ok) return;
  }
  if (!p.san_match_all || !any_name) out.push_back({&r, {}, any_name ? 1 : 0, 0});
}

// `wanted` is canonical (parse_rule); a certificate's usages, or a profile's, may be OIDs.
// anyExtendedKeyUsage is every usage to the relying parties that honour it.
bool has_all_ekus(std::span<const std::string> have, std::span<const std::string> wanted) {
  auto has = [&](std::string_view e) {
    return std::any_of(have.begin(), have.end(),
                       [&](const std::string& h) { return h == e || canonical_eku(h) == e; });
  };
  return has("anyExtendedKeyUsage") ||
         std::all_of(wanted.begin(), wanted.end(), [&](const std::string& e) { return has(e); });
}

}  // namespace

const Rule* RuleSet::find(std::string_view id) const {
  for (const auto& r : rules_)
    if (r.id == id) return &r;
  return nullptr;
}

bool is_sha1_signature(std::string_view s) {
  for (std::size_t i = 0; i + 4 <= s.size(); ++i) {
    if (iequals(s.substr(i, 4), "sha1")) return true;
  }
  return false;
}

ChainFacts chain_facts(std::span<const inventory::CertificateRecord> cas) {
  ChainFacts f;
  for (const auto& c : cas) {
    if (is_sha1_signature(c.signature_algorithm) && c.subject != c.issuer) {
      f.sha1_issuers.insert(c.subject);
    }
  }
  // Each pass adds at least one CA or stops: at most one pass per CA.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& c : cas) {
      if (!f.sha1_issuers.contains(c.subject) && f.sha1_issuers.contains(c.issuer)) {
        f.sha1_issuers.insert(c.subject);
        grew = true;
      }
    }
  }
  return f;
}

std::pair<std::string_view, std::string_view> ssh_algorithm(std::string_view type) {
  if (type.starts_with("sk-")) type.remove_prefix(3);
  if (type.starts_with("ssh-rsa") || type.starts_with("rsa-sha2-")) return {"rsa", ""};
  if (type.starts_with("ssh-dss")) return {"dsa", ""};
  if (type.starts_with("ssh-ed25519")) return {"ed25519", ""};
  if (type.starts_with("ecdsa-sha2-nistp256")) return {"ecdsa", "P-256"};
  if (type.starts_with("ecdsa-sha2-nistp384")) return {"ecdsa", "P-384"};
  if (type.starts_with("ecdsa-sha2-nistp521")) return {"ecdsa", "P-521"};
  return {"unknown", ""};
}

bool applies(const Rule& r, const std::optional<std::string>& team,
             std::span<const std::string> tags) {
  if (!r.enabled) return false;
  if (!r.teams.empty() && (!team || !contains(r.teams, *team))) return false;
  if (!r.tags.empty() && std::none_of(tags.begin(), tags.end(), [&](const std::string& t) {
        return contains(r.tags, t);
      })) {
    return false;
  }
  return true;
}

void evaluate(const RuleSet& rules, const inventory::CertificateRecord& c, const ChainFacts& chain,
              std::vector<Finding>& out, Stage stage) {
  for (const Rule& r : rules.rules()) {
    if (!kind_in_stage(r.kind, stage) || !applies(r, c.meta.team, c.meta.tags)) continue;
    const RuleParams& p = r.params;
    switch (r.kind) {
      case Kind::kMinKeySize:
      case Kind::kAllowedAlgorithms:
        key_rules(r, c.key_algorithm, c.key_curve, c.key_bits, out);
        break;
      case Kind::kMaxValidity: {
        const auto validity = c.not_after - c.not_before;
        if (validity > p.max_validity) {
          out.push_back({&r, {}, std::chrono::duration_cast<std::chrono::days>(validity).count(),
                         std::chrono::duration_cast<std::chrono::days>(p.max_validity).count()});
        }
        break;
      }
      case Kind::kAllowedIssuers: {
        const bool ok = std::any_of(p.issuers.begin(), p.issuers.end(), [&](const std::string& i) {
          if (i.starts_with("authority:")) {
            return c.meta.authority && std::string_view(i).substr(10) == *c.meta.authority;
          }
          return iequals(i, c.issuer);
        });
        if (!ok) out.push_back({&r, c.issuer, 0, 0});
        break;
      }
      case Kind::kWildcards:
      case Kind::kRequiredSanPattern:
        name_rules(r, c, out);
        break;
      case Kind::kRequiredOwner:
        if (!c.meta.owner || c.meta.owner->empty()) out.push_back({&r, {}, 0, 0});
        break;
      case Kind::kForbiddenEkuCombination:
        if (has_all_ekus(c.extended_key_usage, p.ekus)) out.push_back({&r, {}, 0, 0});
        break;
      case Kind::kSha1InChain:
        // A self-signed root's own signature is never checked by a relying party: only the
        // signatures it makes count. A self-signed leaf's is all it has.
        if (is_sha1_signature(c.signature_algorithm) && (c.subject != c.issuer || !c.is_ca)) {
          out.push_back({&r, c.signature_algorithm, 0, 0});
        } else if (chain.sha1_issuers.contains(c.issuer)) {
          out.push_back({&r, c.issuer, 1, 0});
        }
        break;
    }
  }
}

void evaluate(const RuleSet& rules, const SshKeyView& key, std::vector<Finding>& out) {
  const auto [algorithm, curve] = ssh_algorithm(key.type);
  const std::optional<std::string> no_team;
  for (const Rule& r : rules.rules()) {
    if (r.kind != Kind::kMinKeySize && r.kind != Kind::kAllowedAlgorithms) continue;
    if (!r.enabled || !r.tags.empty()) continue;
    if (!r.teams.empty() &&
        (!key.team || std::find(r.teams.begin(), r.teams.end(), *key.team) == r.teams.end())) {
      continue;
    }
    key_rules(r, algorithm, curve, key.bits, out);
  }
}

std::string describe(const Finding& f) {
  const Rule& r = *f.rule;
  const std::string value(f.value);
  switch (r.kind) {
    case Kind::kMinKeySize:
      return value + " key of " + std::to_string(f.actual) + " bits < " + std::to_string(f.limit);
    case Kind::kAllowedAlgorithms:
      return (f.actual ? "curve '" : "key algorithm '") + value + "' is not allowed";
    case Kind::kMaxValidity:
      return "validity of " + std::to_string(f.actual) + " days > " + std::to_string(f.limit);
    case Kind::kAllowedIssuers:
      return "issuer '" + value + "' is not allowed";
    case Kind::kWildcards:
      return "wildcard name '" + value + "' is not allowed";
    case Kind::kRequiredSanPattern:
      if (!value.empty()) return "DNS name '" + value + "' matches no required pattern";
      return f.actual ? "no DNS name matches a required pattern" : "no DNS name to match";
    case Kind::kRequiredOwner:
      return "no owner";
    case Kind::kForbiddenEkuCombination: {
      std::string ekus;
      for (const auto& e : r.params.ekus) ekus += (ekus.empty() ? "" : " + ") + e;
      return "extended key usages " + ekus + " together";
    }
    case Kind::kSha1InChain:
      return f.actual ? "issuer '" + value + "' is signed with SHA-1 in its chain"
                      : "signed with SHA-1 (" + value + ")";
  }
  return "violates the rule";
}

}  // namespace certward::policy
