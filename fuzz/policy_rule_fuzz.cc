// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: policy::parse_rule_text, the parser of a compliance rule from a REST body, the
// CLI or a [[policy.rule]] table. A rule that parses must survive the round trip (rule_json of
// it parses again to the same JSON, which is how it is stored), and evaluating it over a
// record, an SSH key and the names the fuzzer gave must neither crash nor hang.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/evaluate.h"

namespace policy = certward::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rule = policy::parse_rule_text(text, policy::Source::kApi);
  if (!rule) return 0;
  const nlohmann::json once = policy::rule_json(*rule);
  auto again = policy::parse_rule(once, policy::Source::kApi);
  if (!again) std::abort();  // what we store, we must read back
  if (policy::rule_json(*again) != once) std::abort();

  certward::inventory::CertificateRecord c;
  c.key_algorithm = "rsa";
  c.key_bits = 1024;
  c.issuer = "CN=Fuzz";
  c.signature_algorithm = "sha1WithRSAEncryption";
  c.extended_key_usage = {"serverAuth", "clientAuth"};
  c.meta.team = rule->teams.empty() ? std::string("t") : rule->teams.front();
  c.meta.tags = rule->tags;
  // The rule's own texts as names: patterns against themselves, issuers as the issuer.
  for (const auto& p : rule->params.san_patterns) {
    c.sans.push_back({certward::x509::SanType::kDns, p.text()});
  }
  c.sans.push_back({certward::x509::SanType::kDns, std::string(text.substr(0, 253))});
  const policy::RuleSet set({*rule});
  std::vector<policy::Finding> out;
  policy::evaluate(set, c, {}, out);
  for (const auto& f : out) (void)policy::describe(f);
  out.clear();
  policy::evaluate(set, policy::SshKeyView{"SHA256:x", "ssh-rsa", 1024, std::nullopt}, out);
  return 0;
}
