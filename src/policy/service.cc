#include "policy/service.h"

#include <algorithm>

#include "store/schema.h"

namespace certward::policy {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "policy_rules",
     R"sql(
CREATE TABLE policy_rules (
  id TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
)sql"},
};

constexpr int kInventoryPage = 1000;

// Cursor: "c:" + an inventory cursor ("c:" alone: the first certificate), or "s:" + the last
// SSH key fingerprint looked at ("s:" alone: the first key).
struct Position {
  bool ssh = false;
  std::optional<std::string> after;
};

Result<Position> parse_position(const std::optional<std::string>& cursor) {
  if (!cursor) return Position{};
  if (cursor->size() > 512 || (!cursor->starts_with("c:") && !cursor->starts_with("s:"))) {
    return fail(ErrorCode::kInvalidArgument, "bad cursor");
  }
  Position p{cursor->starts_with("s:"), std::nullopt};
  if (cursor->size() > 2) p.after = cursor->substr(2);
  return p;
}

Violation make_violation(const Finding& f, const inventory::CertificateRecord& c) {
  return Violation{f.rule->id,
                   f.rule->kind,
                   f.rule->severity,
                   "certificate",
                   c.fingerprint,
                   c.subject,
                   c.meta.team,
                   std::string(inventory::origin_name(c.meta.origin)),
                   describe(f)};
}

}  // namespace

nlohmann::json violation_json(const Violation& v) {
  nlohmann::json j = {{"rule", v.rule},
                      {"kind", kind_name(v.kind)},
                      {"severity", severity_name(v.severity)},
                      {"subject_type", v.subject_type},
                      {"subject_id", v.subject_id},
                      {"subject", v.subject},
                      {"team", v.team ? nlohmann::json(*v.team) : nlohmann::json(nullptr)},
                      {"message", v.message}};
  if (!v.origin.empty()) j["origin"] = v.origin;
  return j;
}

PolicyService::PolicyService(const Clock& clock, store::Database& db,
                             const audit::AuditLog& audit, const inventory::Inventory& inventory,
                             const inventory::Sightings& sightings, std::vector<Rule> declared,
                             std::chrono::seconds recheck)
    : clock_(clock),
      db_(db),
      audit_(audit),
      inventory_(inventory),
      sightings_(sightings),
      declared_(std::move(declared)),
      recheck_(recheck) {}

const store::SchemaModule kSchema{"policy", kMigrations};

Status PolicyService::migrate(store::Database& db) { return db.migrate("policy", kMigrations); }

Result<std::vector<Rule>> PolicyService::parse_declared(std::span<const nlohmann::json> specs,
                                                        std::span<const std::string> where) {
  std::vector<Rule> out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::string at = i < where.size() ? where[i] + ": " : std::string();
    auto rule = parse_rule(specs[i], Source::kConfig);
    if (!rule) return fail(rule.error().code, at + rule.error().message);
    if (std::any_of(out.begin(), out.end(), [&](const Rule& r) { return r.id == rule->id; })) {
      return fail(ErrorCode::kInvalidArgument, at + "policy rule '" + rule->id + "' is declared twice");
    }
    out.push_back(std::move(*rule));
  }
  return out;
}

Result<std::vector<Rule>> PolicyService::stored() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT spec FROM policy_rules ORDER BY id"));
  std::vector<Rule> out;
  for (const auto& r : rows) {
    // Stored rules were checked when written; one this version can no longer read (a kind
    // removed) is skipped rather than stopping every issuance.
    if (auto rule = parse_rule_text(r.text(0), Source::kApi)) out.push_back(std::move(*rule));
  }
  return out;
}

Result<std::vector<Rule>> PolicyService::list() const {
  CW_ASSIGN_OR_RETURN(auto from_db, stored());
  std::vector<Rule> out = declared_;
  for (auto& r : from_db) {
    if (!std::any_of(declared_.begin(), declared_.end(),
                     [&](const Rule& d) { return d.id == r.id; })) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

Result<Rule> PolicyService::get(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto all, list());
  for (auto& r : all)
    if (r.id == id) return std::move(r);
  return fail(ErrorCode::kNotFound, "no policy rule '" + std::string(id.substr(0, 64)) + "'");
}

Status PolicyService::write(std::string_view action, const Rule& rule, std::string_view actor,
                            bool insert) {
  const std::int64_t now = to_unix(clock_.now());
  nlohmann::json spec = rule_json(rule);
  spec.erase("source");
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  if (insert) {
    CW_ASSIGN_OR_RETURN(auto n, tx->execute_count(
                                    "INSERT INTO policy_rules (id, spec, created_at, updated_at) "
                                    "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                                    store::params(rule.id, spec.dump(), now, now)));
    if (n != 1) return fail(ErrorCode::kConflict, "policy rule '" + rule.id + "' exists");
  } else {
    CW_ASSIGN_OR_RETURN(auto n, tx->execute_count(
                                    "UPDATE policy_rules SET spec = ?, updated_at = ? WHERE id = ?",
                                    store::params(spec.dump(), now, rule.id)));
    if (n != 1) return fail(ErrorCode::kNotFound, "no policy rule '" + rule.id + "'");
  }
  CW_RETURN_IF_ERROR(audit_.append(
      *tx, audit::Event{std::string(actor), std::string(action), "policy_rule", rule.id, spec}));
  CW_RETURN_IF_ERROR(tx->commit());
  invalidate();
  return ok();
}

Result<Rule> PolicyService::create(const nlohmann::json& spec, std::string_view actor) {
  CW_ASSIGN_OR_RETURN(Rule rule, parse_rule(spec, Source::kApi));
  if (std::any_of(declared_.begin(), declared_.end(),
                  [&](const Rule& d) { return d.id == rule.id; })) {
    return fail(ErrorCode::kConflict,
                "policy rule '" + rule.id + "' is declared in the configuration");
  }
  CW_RETURN_IF_ERROR(write("policy.rule.create", rule, actor, /*insert=*/true));
  return rule;
}

Result<Rule> PolicyService::replace(std::string_view id, const nlohmann::json& spec,
                                    std::string_view actor) {
  if (std::any_of(declared_.begin(), declared_.end(), [&](const Rule& d) { return d.id == id; })) {
    return fail(ErrorCode::kConflict, "policy rule '" + std::string(id) +
                                          "' is declared in the configuration and read-only here");
  }
  nlohmann::json body = spec;
  if (body.is_object()) {
    if (body.contains("id") && body["id"] != id) {
      return fail(ErrorCode::kInvalidArgument, "the body's id differs from the rule's");
    }
    body["id"] = std::string(id);
  }
  CW_ASSIGN_OR_RETURN(Rule rule, parse_rule(body, Source::kApi));
  CW_RETURN_IF_ERROR(write("policy.rule.update", rule, actor, /*insert=*/false));
  return rule;
}

Status PolicyService::remove(std::string_view id, std::string_view actor) {
  if (std::any_of(declared_.begin(), declared_.end(), [&](const Rule& d) { return d.id == id; })) {
    return fail(ErrorCode::kConflict, "policy rule '" + std::string(id) +
                                          "' is declared in the configuration and read-only here");
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto n, tx->execute_count("DELETE FROM policy_rules WHERE id = ?",
                                                store::params(std::string(id))));
  if (n != 1) return fail(ErrorCode::kNotFound, "no policy rule '" + std::string(id.substr(0, 64)) + "'");
  CW_RETURN_IF_ERROR(audit_.append(
      *tx, audit::Event{std::string(actor), "policy.rule.delete", "policy_rule", std::string(id)}));
  CW_RETURN_IF_ERROR(tx->commit());
  invalidate();
  return ok();
}

void PolicyService::invalidate() const {
  common::MutexLock lock(mu_);
  cached_.reset();
}

Result<std::shared_ptr<const RuleSet>> PolicyService::current() const {
  const SysTime now = clock_.now();
  {
    common::MutexLock lock(mu_);
    if (cached_ && now - cached_at_ < recheck_) return cached_;
  }
  CW_ASSIGN_OR_RETURN(auto rules, list());
  auto set = std::make_shared<const RuleSet>(std::move(rules));
  common::MutexLock lock(mu_);
  cached_ = set;
  cached_at_ = now;
  return set;
}

Result<std::shared_ptr<const ChainFacts>> PolicyService::inventory_chain_facts() const {
  const SysTime now = clock_.now();
  {
    common::MutexLock lock(mu_);
    if (facts_ && now - facts_at_ < recheck_) return facts_;
  }
  std::vector<inventory::CertificateRecord> cas;
  inventory::Filter ca_filter;
  ca_filter.is_ca = true;
  inventory::PageRequest ca_page{.limit = kInventoryPage, .cursor = std::nullopt};
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto p, inventory_.query(ca_filter, ca_page));
    for (auto& c : p.items) cas.push_back(std::move(c));
    if (!p.next_cursor) break;
    ca_page.cursor = p.next_cursor;
  }
  auto facts = std::make_shared<const ChainFacts>(chain_facts(cas));
  common::MutexLock lock(mu_);
  facts_ = facts;
  facts_at_ = now;
  return facts;
}

Status PolicyService::check_issuance(const inventory::CertificateRecord& record, Stage stage,
                                     std::span<const inventory::CertificateRecord> chain) const {
  CW_ASSIGN_OR_RETURN(auto rules, current());
  if (rules->rules().empty()) return ok();
  const ChainFacts facts = chain_facts(chain);
  std::vector<Finding> findings;
  evaluate(*rules, record, facts, findings, stage);
  if (findings.empty()) return ok();
  const Finding& f = findings.front();
  return fail(ErrorCode::kPolicyRejected,
              "refused by policy rule '" + f.rule->id + "': " + describe(f));
}

Result<ViolationPage> PolicyService::violations(const ViolationFilter& filter, int limit,
                                                const std::optional<std::string>& cursor) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  CW_ASSIGN_OR_RETURN(Position pos, parse_position(cursor));
  CW_ASSIGN_OR_RETURN(auto all, current());
  if (filter.rule && !all->find(*filter.rule)) {
    return fail(ErrorCode::kInvalidArgument, "no policy rule '" + filter.rule->substr(0, 64) + "'");
  }
  std::vector<Rule> chosen;
  for (const auto& r : all->rules()) {
    if (filter.rule && r.id != *filter.rule) continue;
    if (filter.min_severity && r.severity < *filter.min_severity) continue;
    chosen.push_back(r);
  }
  const RuleSet rules(std::move(chosen));

  ViolationPage page;
  std::vector<Finding> findings;
  if (!pos.ssh) {
    CW_ASSIGN_OR_RETURN(auto facts_ptr, inventory_chain_facts());
    const ChainFacts& facts = *facts_ptr;
    inventory::Filter f;
    f.team = filter.team;
    inventory::PageRequest req{.limit = kInventoryPage, .cursor = pos.after};
    for (;;) {
      CW_ASSIGN_OR_RETURN(auto p, inventory_.query(f, req));
      for (const auto& c : p.items) {
        ++page.scanned;
        findings.clear();
        evaluate(rules, c, facts, findings);
        for (const auto& finding : findings) page.items.push_back(make_violation(finding, c));
        if (static_cast<int>(page.items.size()) >= limit || page.scanned >= kScanBudget) {
          page.next_cursor = "c:" + inventory::cursor_after(c);
          return page;
        }
      }
      if (!p.next_cursor) break;
      req.cursor = p.next_cursor;
    }
    pos = Position{true, std::nullopt};
  }
  std::string after = pos.after.value_or("");
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto keys, sightings_.ssh_keys_after(after, kInventoryPage, filter.team));
    for (const auto& k : keys) {
      ++page.scanned;
      findings.clear();
      const SshKeyView view{k.key.fingerprint, k.key.type, k.key.bits,
                            k.team ? std::optional<std::string_view>(*k.team) : std::nullopt};
      evaluate(rules, view, findings);
      for (const auto& finding : findings) {
        page.items.push_back(Violation{finding.rule->id, finding.rule->kind, finding.rule->severity,
                                       "ssh_key", k.key.fingerprint, k.key.type, k.team, "",
                                       describe(finding)});
      }
      if (static_cast<int>(page.items.size()) >= limit || page.scanned >= kScanBudget) {
        page.next_cursor = "s:" + k.key.fingerprint;
        return page;
      }
    }
    if (static_cast<int>(keys.size()) < kInventoryPage) break;
    after = keys.back().key.fingerprint;
  }
  return page;
}

}  // namespace certward::policy
