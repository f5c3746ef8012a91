// Compliance policies at scale: every rule kind evaluated over N synthetic inventory records
// (default 1,000,000), first in memory (policy::evaluate alone), then through the policy
// service over a SQLite inventory of the same N rows (what GET /api/v1/policy/violations and
// `certward policy violations` do: keyset pages of the inventory, evaluated as they come).
// Prints key=value lines. Run by bench/policy/run.sh.
//
//   certward_policy_bench [records] [scratch-dir]   (no scratch dir: in memory only)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/service.h"
#include "synthetic_inventory.h"

namespace {

using namespace certward;
using bench::fill;
using bench::peak_rss_mib;
using bench::seconds_since;
using bench::Stopwatch;
using bench::synthetic;

std::vector<policy::Rule> all_kinds() {
  const char* specs[] = {
      R"({"id":"min-key","kind":"min_key_size","min_bits":{"rsa":2048,"ecdsa":256}})",
      R"({"id":"algorithms","kind":"allowed_algorithms","algorithms":["rsa","ecdsa","ed25519"],"curves":["P-256","P-384"]})",
      R"({"id":"max-398","kind":"max_validity","max_days":398})",
      R"({"id":"issuers","kind":"allowed_issuers","issuers":["CN=Issuing CA 0,O=Bench","CN=Issuing CA 1,O=Bench","authority:issuing"]})",
      R"({"id":"no-wildcards","kind":"wildcards","allowed":false,"teams":["team-1","team-2"]})",
      R"({"id":"names","kind":"required_san_pattern","patterns":["**.example.com","*.example.net"]})",
      R"({"id":"owner","kind":"required_owner","tags":["prod"]})",
      R"({"id":"public-client","kind":"forbidden_eku_combination","ekus":["serverAuth","clientAuth"],"tags":["public"]})",
      R"({"id":"sha1","kind":"sha1_in_chain"})",
  };
  std::vector<policy::Rule> out;
  for (const char* s : specs) {
    auto r = policy::parse_rule_text(s, policy::Source::kApi);
    if (!r) {
      std::fprintf(stderr, "rule: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    out.push_back(std::move(*r));
  }
  return out;
}

int in_memory(std::size_t n, const policy::RuleSet& rules) {
  std::vector<inventory::CertificateRecord> records;
  records.reserve(n);
  const auto made = Stopwatch::now();
  for (std::size_t i = 0; i < n; ++i) records.push_back(synthetic(i));
  std::printf("records=%zu\nrules=%zu\nsynthesis_seconds=%.2f\n", n, rules.rules().size(),
              seconds_since(made));
  inventory::CertificateRecord sha1_ca = synthetic(0);
  sha1_ca.subject = "CN=Old SHA-1 CA,O=Bench";
  sha1_ca.issuer = "CN=Old Root,O=Bench";
  sha1_ca.signature_algorithm = "sha1WithRSAEncryption";
  const policy::ChainFacts facts = policy::chain_facts(std::span(&sha1_ca, 1));

  std::vector<policy::Finding> findings;
  std::size_t violations = 0, violating = 0;
  const auto t0 = Stopwatch::now();
  for (const auto& c : records) {
    findings.clear();
    policy::evaluate(rules, c, facts, findings);
    violations += findings.size();
    violating += findings.empty() ? 0 : 1;
  }
  const double s = seconds_since(t0);
  std::printf("memory_eval_seconds=%.3f\nmemory_records_per_second=%.0f\nviolations=%zu\n"
              "violating_records=%zu\npeak_rss_mib=%ld\n",
              s, static_cast<double>(n) / s, violations, violating, peak_rss_mib());
  return 0;
}

int through_service(std::size_t n, const std::string& dir, std::vector<policy::Rule> rules) {
  store::DatabaseConfig config;
  config.driver = store::Driver::kSqlite;
  config.sqlite_path = dir + "/policy-bench.db";
  auto db = store::Database::open(config);
  SystemClock clock;
  if (!db || !audit::AuditLog::migrate(**db) || !inventory::Inventory::migrate(**db) ||
      !policy::PolicyService::migrate(**db)) {
    std::fprintf(stderr, "cannot prepare %s\n", config.sqlite_path.c_str());
    return 1;
  }
  const auto filled = Stopwatch::now();
  if (auto s = fill(**db, n); !s) {
    std::fprintf(stderr, "fill: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("db_fill_seconds=%.2f\n", seconds_since(filled));
  audit::AuditLog audit(clock, **db);
  inventory::Inventory inventory(clock, **db, audit);
  inventory::Sightings sightings(clock, **db);
  policy::PolicyService service(clock, **db, audit, inventory, sightings, std::move(rules));

  std::size_t violations = 0, pages = 0;
  std::int64_t scanned = 0;
  std::optional<std::string> cursor;
  const auto t0 = Stopwatch::now();
  do {
    auto page = service.violations({}, 1000, cursor);
    if (!page) {
      std::fprintf(stderr, "violations: %s\n", page.error().message.c_str());
      return 1;
    }
    violations += page->items.size();
    scanned += page->scanned;
    ++pages;
    cursor = page->next_cursor;
  } while (cursor);
  const double s = seconds_since(t0);
  std::printf("db_eval_seconds=%.2f\ndb_records_per_second=%.0f\ndb_scanned=%lld\n"
              "db_violations=%zu\ndb_pages=%zu\ndb_peak_rss_mib=%ld\n",
              s, static_cast<double>(scanned) / s, static_cast<long long>(scanned), violations,
              pages, peak_rss_mib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  auto rules = all_kinds();
  if (int rc = in_memory(n, policy::RuleSet(rules)); rc != 0) return rc;
  std::fflush(stdout);
  if (argc > 2) return through_service(n, argv[2], std::move(rules));
  return 0;
}
