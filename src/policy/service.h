#pragma once
// The policy service: compliance rules kept in the database (the API's, editable) and in
// certward.toml (declared, read-only), the violations they find over the inventory and the SSH
// keys discovery found, and the check the RA makes before it issues.
//
// Rules: the API's are stored in the `policy_rules` table (migrations module "policy"), each
// change audited in its transaction ("policy.rule.create", ".update", ".delete"). Declared
// rules are given at construction; an API change to one of their ids is refused.
//
// The rule set the RA and the violation listing use is cached for `recheck` (a change made
// here is seen at once; one made by another replica within that time), so issuance costs no
// database read.
//
// Thread-safe: every method may be called from any thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "policy/evaluate.h"
#include "policy/rule.h"
#include "store/store.h"

namespace certward::policy {

struct ViolationFilter {
  std::optional<std::string> rule;  // one rule's id
  std::optional<Severity> min_severity;
  std::optional<std::string> team;  // certificates (and SSH keys sighted) of this team only
};

struct Violation {
  std::string rule;
  Kind kind = Kind::kMinKeySize;
  Severity severity = Severity::kHigh;
  std::string subject_type;  // "certificate" or "ssh_key"
  std::string subject_id;    // fingerprint
  std::string subject;       // certificate subject DN, SSH key type
  std::optional<std::string> team;
  std::string origin;  // certificates: issued, imported, discovered, upstream
  std::string message;
};
nlohmann::json violation_json(const Violation& v);

struct ViolationPage {
  std::vector<Violation> items;
  std::optional<std::string> next_cursor;  // opaque
  std::int64_t scanned = 0;                // certificates and keys looked at for this page
};

class PolicyService {
 public:
  static constexpr std::int64_t kScanBudget = 100'000;

  // Errors from the constructor's caller: declared rules are parsed with parse_declared().
  PolicyService(const Clock& clock, store::Database& db, const audit::AuditLog& audit,
                const inventory::Inventory& inventory, const inventory::Sightings& sightings,
                std::vector<Rule> declared, std::chrono::seconds recheck = std::chrono::seconds(5));

  static Status migrate(store::Database& db);
  // [[policy.rule]] tables as JSON (Config::policy): each parsed with parse_rule; ids unique.
  // Errors: kInvalidArgument naming the rule and where it was declared.
  static Result<std::vector<Rule>> parse_declared(std::span<const nlohmann::json> specs,
                                                  std::span<const std::string> where);

  // Declared rules first, then the stored ones by id.
  Result<std::vector<Rule>> list() const;
  // Errors: kNotFound.
  Result<Rule> get(std::string_view id) const;
  // Errors: kInvalidArgument, kMalformed (the rule), kConflict (the id exists, or is declared).
  Result<Rule> create(const nlohmann::json& spec, std::string_view actor);
  // Replaces the rule `id` (the body's id, if given, must be the same).
  // Errors: as create, kNotFound; kConflict for a declared rule.
  Result<Rule> replace(std::string_view id, const nlohmann::json& spec, std::string_view actor);
  // Errors: kNotFound; kConflict for a declared rule.
  Status remove(std::string_view id, std::string_view actor);

  // The rule set in force (cached; see above). Errors: store errors.
  Result<std::shared_ptr<const RuleSet>> current() const;

  // The RA's check of the certificate it is about to issue (`stage` says which rules can be
  // judged yet): the first enabled rule in scope it breaks refuses it with kPolicyRejected,
  // "refused by policy rule '<id>': <why>". `chain`: the issuing chain, nearest first (after
  // signing, subject, issuer and signature algorithm are read); a SHA-1 signature in it breaks
  // sha1_in_chain.
  Status check_issuance(const inventory::CertificateRecord& record, Stage stage,
                        std::span<const inventory::CertificateRecord> chain = {}) const;

  // Violations over the whole inventory, then every SSH key, evaluated page by page (keyset:
  // a listing of a million certificates never holds more than a page). `limit` (1..1000)
  // bounds the violations returned; all of one certificate's come on the same page. One call
  // looks at no more than kScanBudget certificates and keys: a page may then hold fewer than
  // `limit` violations, and a next_cursor as long as there is more to look at.
  // Errors: kInvalidArgument (limit, cursor, unknown rule), store errors.
  Result<ViolationPage> violations(const ViolationFilter& filter, int limit,
                                   const std::optional<std::string>& cursor) const;

 private:
  Result<std::vector<Rule>> stored() const;
  Status write(std::string_view action, const Rule& rule, std::string_view actor,
               bool insert);
  void invalidate() const;
  Result<std::shared_ptr<const ChainFacts>> inventory_chain_facts() const;

  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
  const inventory::Inventory& inventory_;
  const inventory::Sightings& sightings_;
  const std::vector<Rule> declared_;
  const std::chrono::seconds recheck_;

  mutable common::Mutex mu_;
  mutable std::shared_ptr<const RuleSet> cached_ CW_GUARDED_BY(mu_);
  mutable SysTime cached_at_ CW_GUARDED_BY(mu_){};
  // The inventory's CA certificates as SHA-1 chain facts, kept as long as the rule set: every
  // page of a listing needs them, and reading them is a query of its own.
  mutable std::shared_ptr<const ChainFacts> facts_ CW_GUARDED_BY(mu_);
  mutable SysTime facts_at_ CW_GUARDED_BY(mu_){};
};

}  // namespace certward::policy
