// Compliance policies at scale: every rule kind evaluated over N synthetic inventory records
// (default 1,000,000), first in memory (policy::evaluate alone), then through the policy
// service over a SQLite inventory of the same N rows (what GET /api/v1/policy/violations and
// `certward policy violations` do: keyset pages of the inventory, evaluated as they come).
// Prints key=value lines. Run by bench/policy/run.sh.
//
//   certward_policy_bench [records] [scratch-dir]   (no scratch dir: in memory only)

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "policy/service.h"

namespace {

using namespace certward;
using Stopwatch = std::chrono::steady_clock;

double seconds_since(Stopwatch::time_point t0) {
  return std::chrono::duration<double>(Stopwatch::now() - t0).count();
}

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

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

// Record i of the synthetic inventory: a mix of key types, issuers, names, teams and tags, with
// a few percent breaking each rule.
inventory::CertificateRecord synthetic(std::size_t i) {
  inventory::CertificateRecord c;
  char fp[65];
  std::snprintf(fp, sizeof fp, "%064zx", i * 2654435761u + 1);
  c.fingerprint = fp;
  c.serial = c.fingerprint.substr(0, 16);
  const std::string host = "host" + std::to_string(i) + (i % 50 == 0 ? ".example.org" : ".example.com");
  c.common_name = i % 97 == 0 ? "*.example.com" : host;
  c.subject = "CN=" + c.common_name;
  c.issuer = i % 41 == 0 ? "CN=Old SHA-1 CA,O=Bench" : "CN=Issuing CA " + std::to_string(i % 3) + ",O=Bench";
  c.sans = {{x509::SanType::kDns, c.common_name}, {x509::SanType::kDns, "www." + host}};
  c.not_before = from_unix(1'760'000'000 + static_cast<std::int64_t>(i % 100000));
  c.not_after = c.not_before + std::chrono::days(i % 23 == 0 ? 825 : 90);
  switch (i % 10) {
    case 0:
      c.key_algorithm = "rsa";
      c.key_bits = i % 20 == 0 ? 1024 : 2048;
      break;
    case 1:
    case 2:
      c.key_algorithm = "rsa";
      c.key_bits = 3072;
      break;
    case 3:
      c.key_algorithm = "ed25519";
      c.key_bits = 256;
      break;
    default:
      c.key_algorithm = "ecdsa";
      c.key_bits = i % 31 == 0 ? 521 : 256;
      c.key_curve = i % 31 == 0 ? "P-521" : "P-256";
  }
  c.signature_algorithm = i % 53 == 0 ? "sha1WithRSAEncryption" : "ecdsa-with-SHA256";
  c.extended_key_usage = {"serverAuth"};
  if (i % 7 == 0) c.extended_key_usage.push_back("clientAuth");
  c.meta.origin = i % 2 ? inventory::Origin::kDiscovered : inventory::Origin::kIssued;
  if (i % 11 != 0) c.meta.owner = "owner" + std::to_string(i % 100);
  c.meta.team = "team-" + std::to_string(i % 5);
  c.meta.tags = {i % 3 == 0 ? "prod" : "dev"};
  if (i % 4 == 0) c.meta.tags.push_back("public");
  return c;
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "\n") + s;
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

Status fill(store::Database& db, std::size_t n) {
  constexpr std::size_t kBatch = 20000;
  for (std::size_t from = 0; from < n; from += kBatch) {
    CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kWrite));
    for (std::size_t i = from; i < std::min(n, from + kBatch); ++i) {
      const auto c = synthetic(i);
      std::vector<std::string> sans;
      for (const auto& s : c.sans) sans.push_back("dns:" + s.value);
      CW_RETURN_IF_ERROR(tx->execute(
          "INSERT INTO certificates (fingerprint, der, serial, subject, common_name, issuer, sans, "
          "search_text, not_before, not_after, key_algorithm, key_bits, key_curve, "
          "signature_algorithm, is_ca, origin, owner, team, tags, key_sha256, ekus, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, '', ?, 0, 0)",
          store::params(c.fingerprint, Bytes{0x30, 0x00}, c.serial, c.subject, c.common_name,
                        c.issuer, join_lines(sans), to_unix(c.not_before), to_unix(c.not_after),
                        c.key_algorithm, static_cast<std::int64_t>(c.key_bits), c.key_curve,
                        c.signature_algorithm, std::string(inventory::origin_name(c.meta.origin)),
                        c.meta.owner ? store::Value(*c.meta.owner) : store::Value(nullptr),
                        *c.meta.team, join_lines(c.meta.tags), join_lines(c.extended_key_usage))));
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return ok();
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
