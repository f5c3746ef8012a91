#pragma once
// Compliance rules (DESIGN.md "Policy"): what every certificate of the inventory, and every SSH
// key discovery found, should be. A rule has an id, a kind with its parameters, a scope (teams
// and/or tags; empty: everything), a severity and an enabled flag.
//
// Rules arrive as JSON (a REST body) or as a [[policy.rule]] table of certward.toml, which the
// configuration hands over as the same JSON: one strict parser for both. A parsed rule is
// checked whole (unknown members, wrong types, out-of-range numbers, bad patterns are errors)
// and compiled once (SAN patterns, algorithm sets), so evaluating it allocates nothing.
//
// Rule and CompiledRule are values: immutable once made, safe to share between threads.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace certward::policy {

enum class Kind : std::uint8_t {
  kMinKeySize,
  kAllowedAlgorithms,
  kMaxValidity,
  kAllowedIssuers,
  kWildcards,
  kRequiredSanPattern,
  kRequiredOwner,
  kForbiddenEkuCombination,
  kSha1InChain,
};
// "min_key_size", "allowed_algorithms", "max_validity", "allowed_issuers", "wildcards",
// "required_san_pattern", "required_owner", "forbidden_eku_combination", "sha1_in_chain".
std::string_view kind_name(Kind k);
Result<Kind> parse_kind(std::string_view s);

enum class Severity : std::uint8_t { kLow, kMedium, kHigh, kCritical };
std::string_view severity_name(Severity s);  // "low", "medium", "high", "critical"
Result<Severity> parse_severity(std::string_view s);

// Where a rule came from: the API (stored, editable) or certward.toml (read-only there).
enum class Source : std::uint8_t { kApi, kConfig };
std::string_view source_name(Source s);  // "api", "config"

// A DNS name pattern, matched case-insensitively label by label: a label "*" matches exactly
// one label, a first label "**" one or more labels, and a '*' inside a label any run of
// characters within it ("web-*.example.com"). No regular expressions: a pattern an
// administrator types cannot make matching slow (every match is linear in the name).
class NamePattern {
 public:
  // Errors: kInvalidArgument (empty, longer than 253, an empty label, a character outside
  // [a-z0-9*_-], "**" anywhere but first, more than one '*' in a label).
  static Result<NamePattern> compile(std::string_view text);
  bool matches(std::string_view name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;                // lower-case
  std::vector<std::string> labels_;  // right to left, without a leading "**"
  bool any_prefix_ = false;          // began with "**"
};

// The parameters of every kind; a rule sets those of its own kind only.
struct RuleParams {
  // min_key_size: least bits per algorithm ("rsa", "rsa-pss", "ecdsa", "ed25519", "dsa").
  std::vector<std::pair<std::string, int>> min_bits;
  // allowed_algorithms: algorithm names as above; curves ("P-256", ...) bind ECDSA keys when
  // set.
  std::vector<std::string> algorithms;
  std::vector<std::string> curves;
  // max_validity: not_after - not_before at most this.
  std::chrono::seconds max_validity{0};
  // allowed_issuers: issuer DNs (case-insensitive, as the inventory shows them) or
  // "authority:<name>" (certward's own authority of that name).
  std::vector<std::string> issuers;
  // wildcards: whether a wildcard DNS name ("*.example.com") is allowed.
  bool wildcards_allowed = false;
  // required_san_pattern: every DNS name (match = "all") or at least one (match = "any") must
  // match one of these.
  std::vector<NamePattern> san_patterns;
  bool san_match_all = true;
  // forbidden_eku_combination: a certificate carrying all of these EKUs violates the rule.
  // Canonical: a known usage by its name ("serverAuth"), whether written by name (any case)
  // or by OID; any other usage as its dotted OID (canonical_eku()).
  std::vector<std::string> ekus;
};

// An extended key usage as rules and certificates are compared: a known usage's name
// ("serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping",
// "OCSPSigning", "anyExtendedKeyUsage") for its name in any case or its OID, any other text
// unchanged. A rule written with OIDs and a certificate read as names (or a profile written
// with OIDs) therefore agree.
std::string canonical_eku(std::string_view usage);

struct Rule {
  std::string id;  // 1-64 of [a-z0-9._-], starting with a letter or digit; unique
  std::string description;
  Kind kind = Kind::kMinKeySize;
  Severity severity = Severity::kHigh;
  bool enabled = true;
  // Scope: a certificate is in it when its team is one of `teams` (if any are named) and it
  // carries one of `tags` (if any are named). Both empty: every certificate and SSH key.
  std::vector<std::string> teams;
  std::vector<std::string> tags;  // lower-case
  Source source = Source::kApi;
  RuleParams params;
};

// Parses and checks one rule. Members: id, kind (required), description, severity
// ("high"), enabled (true), teams, tags, and the kind's own:
//   min_key_size               min_bits = {"rsa": 2048, "ecdsa": 256}   (each 1..16384)
//   allowed_algorithms         algorithms = [...], curves = [...]
//   max_validity               max_days (1..36500)
//   allowed_issuers            issuers = [...]
//   wildcards                  allowed (bool, default false)
//   required_san_pattern       patterns = [...], match = "all" | "any"
//   required_owner             -
//   forbidden_eku_combination  ekus = [...] (at least 2; known names or dotted OIDs)
//   sha1_in_chain              -
// Errors: kInvalidArgument naming the member, with nothing else done.
Result<Rule> parse_rule(const nlohmann::json& j, Source source);
// The same, from the text of a JSON document (at most 64 KiB). Errors: kMalformed (not JSON),
// kInvalidArgument.
Result<Rule> parse_rule_text(std::string_view text, Source source);
// The rule as parse_rule reads it (and as the API shows it, with "source").
nlohmann::json rule_json(const Rule& rule);

}  // namespace certward::policy
