#pragma once
// Pure evaluation of compliance rules over one inventory record or one SSH key: which rules
// in scope it breaks, and why. No I/O, no clock, no allocation per record beyond the caller's
// reusable output vector (findings point into the rules and the record).
//
// A RuleSet is immutable once made and safe to share between threads; evaluate() is
// reentrant.

#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "inventory/inventory.h"
#include "policy/rule.h"

namespace certward::policy {

class RuleSet {
 public:
  RuleSet() = default;
  explicit RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {}
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule* find(std::string_view id) const;

 private:
  std::vector<Rule> rules_;
};

// What the inventory knows of chains: the subject DNs of its CA certificates whose own
// signature, or that of a certificate above them, uses SHA-1. A certificate issued by one of
// them has SHA-1 in its chain.
struct ChainFacts {
  std::unordered_set<std::string> sha1_issuers;
};
// From the inventory's CA certificates (any order): a fixed point over issuer links, so a CA
// below a SHA-1-signed one is marked too.
ChainFacts chain_facts(std::span<const inventory::CertificateRecord> ca_certificates);
bool is_sha1_signature(std::string_view signature_algorithm);

// An SSH key as discovery found it ("ssh-rsa", 1024 bits, its sightings' team).
struct SshKeyView {
  std::string_view fingerprint;
  std::string_view type;
  int bits = 0;
  std::optional<std::string_view> team;
};
// The algorithm and curve an SSH key type names: "rsa", "dsa", "ecdsa" (curve "P-256", ...),
// "ed25519", or "unknown".
std::pair<std::string_view, std::string_view> ssh_algorithm(std::string_view type);

// One broken rule. `value`, when set, points into the record (a name, the issuer) or the rule.
struct Finding {
  const Rule* rule = nullptr;
  std::string_view value;
  std::int64_t actual = 0;
  std::int64_t limit = 0;
};
// Why, for people: "rsa key of 1024 bits < 2048".
std::string describe(const Finding& f);

// Which rule kinds to evaluate: the RA judges the names, key and validity before it signs and
// the issuer and chain once its issuer has made the certificate.
enum class Stage : std::uint8_t { kAll, kBeforeSigning, kAfterSigning };

// Whether a rule is enabled and the record in its scope (team, tags).
bool applies(const Rule& rule, const std::optional<std::string>& team,
             std::span<const std::string> tags);

// Appends to `out` what `record` breaks of the enabled rules in scope, in rule order.
void evaluate(const RuleSet& rules, const inventory::CertificateRecord& record,
              const ChainFacts& chain, std::vector<Finding>& out, Stage stage = Stage::kAll);
// The same for an SSH key: min_key_size and allowed_algorithms apply (a rule scoped by tags
// does not: SSH keys carry none).
void evaluate(const RuleSet& rules, const SshKeyView& key, std::vector<Finding>& out);

}  // namespace certward::policy
