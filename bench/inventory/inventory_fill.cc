// Fills an inventory for bench/inventory/run.sh: migrates the audit log and the inventory of a
// SQLite file or a PostgreSQL database, writes N synthetic certificates (bench/policy's
// synthetic inventory, its validity moved so that most expire within the next weeks), lets
// PostgreSQL gather statistics as autovacuum would after a bulk load, and prints the cursor of
// the row halfway down the expiry order (the deep keyset page).
//
//   certward_inventory_fill N sqlite /path/to/certward.db
//   certward_inventory_fill N postgres postgresql://...

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "../policy/synthetic_inventory.h"
#include "audit/audit.h"

using namespace certward;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s N sqlite|postgres PATH|URL\n", argv[0]);
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const std::string driver = argv[2];
  store::DatabaseConfig config;
  if (driver == "postgres") {
    config.driver = store::Driver::kPostgres;
    config.postgres_url = argv[3];
  } else {
    config.sqlite_path = argv[3];
  }
  auto db = store::Database::open(config);
  if (!db || !audit::AuditLog::migrate(**db) || !inventory::Inventory::migrate(**db)) {
    std::fprintf(stderr, "cannot open or migrate %s\n", argv[3]);
    return 1;
  }
  // The 90-day certificates (most of them) end 10 days from now.
  const std::int64_t shift = std::time(nullptr) + 10 * 86400 - 90 * 86400 - 1'760'000'000;
  const auto t0 = bench::Stopwatch::now();
  if (auto s = bench::fill(**db, n, shift); !s) {
    std::fprintf(stderr, "fill: %s\n", s.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "fill_seconds=%.1f\n", bench::seconds_since(t0));
  auto tx = (*db)->begin();
  if (!tx) return 1;
  if (driver == "postgres" && !(*tx)->execute("ANALYZE")) return 1;
  auto row = (*tx)->query_one(
      "SELECT not_after, fingerprint FROM certificates ORDER BY not_after, fingerprint LIMIT 1 "
      "OFFSET " +
      std::to_string(n / 2));
  if (!row || !*row || !(*tx)->commit()) return 1;
  std::printf("%lld:%s\n", static_cast<long long>((**row).int64(0)), (**row).text(1).c_str());
  return 0;
}
