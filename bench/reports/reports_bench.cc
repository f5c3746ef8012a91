// Reports at scale: the summary and the crypto posture of an inventory of N synthetic
// certificates (default 1,000,000), first the aggregation alone over records in memory, then
// through the report service over a SQLite inventory of the same N rows (what
// `certward report summary|posture` and GET /api/v1/reports/{kind} do: keyset pages of the
// inventory, aggregated as they come), and the CBOM of them written to a file. Prints
// key=value lines with times and peak RSS. Run by bench/reports/run.sh.
//
//   certward_reports_bench [records] [scratch-dir]   (no scratch dir: in memory only)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../policy/synthetic_inventory.h"
#include "reports/aggregate.h"
#include "reports/reports.h"

namespace {

using namespace certward;
using bench::peak_rss_mib;
using bench::seconds_since;
using bench::Stopwatch;

// Within the synthetic certificates' validity: most are in force.
const SysTime kNow = from_unix(1'760'000'000 + 30 * 86400);

// Discards what it is given, counting the bytes: the report's size without its file.
class CountingBuffer final : public std::streambuf {
 public:
  std::size_t bytes = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<std::size_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    ++bytes;
    return c;
  }
};

void in_memory(std::size_t n) {
  const auto t0 = Stopwatch::now();
  reports::SummaryAggregator summary(kNow);
  reports::PostureAggregator posture;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = bench::synthetic(i);
    summary.add(c);
    if (reports::in_force(c, kNow)) posture.add_certificate(c, reports::Renewal::kManual);
  }
  const double s = seconds_since(t0);
  std::printf(
      "records=%zu\nmemory_summary_posture_seconds=%.3f\nmemory_records_per_second=%.0f\n"
      "memory_in_force=%lld\nmemory_peak_rss_mib=%ld\n",
      n, s, static_cast<double>(n) / s, static_cast<long long>(posture.totals().certificates),
      peak_rss_mib());
}

int through_service(std::size_t n, const std::string& dir) {
  store::DatabaseConfig config;
  config.driver = store::Driver::kSqlite;
  config.sqlite_path = dir + "/reports-bench.db";
  auto db = store::Database::open(config);
  FakeClock clock(kNow);
  if (!db || !audit::AuditLog::migrate(**db) || !inventory::Inventory::migrate(**db)) {
    std::fprintf(stderr, "cannot prepare %s\n", config.sqlite_path.c_str());
    return 1;
  }
  const auto filled = Stopwatch::now();
  if (auto s = bench::fill(**db, n); !s) {
    std::fprintf(stderr, "fill: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("db_fill_seconds=%.2f\n", seconds_since(filled));
  audit::AuditLog audit(clock, **db);
  inventory::Inventory inventory(clock, **db, audit);
  inventory::Sightings sightings(clock, **db);
  const reports::ReportService service(
      {.clock = clock, .inventory = inventory, .sightings = sightings});

  double total = 0;
  for (auto kind : {reports::Kind::kSummary, reports::Kind::kPosture}) {
    CountingBuffer sink;
    std::ostream out(&sink);
    const auto t0 = Stopwatch::now();
    reports::ReportRequest r;
    r.kind = kind;
    r.format = reports::Format::kJson;
    if (auto s = service.write(r, out); !s) {
      std::fprintf(stderr, "report: %s\n", s.error().message.c_str());
      return 1;
    }
    const double s = seconds_since(t0);
    total += s;
    std::printf("db_%s_seconds=%.2f\ndb_%s_bytes=%zu\n",
                std::string(reports::kind_name(kind)).c_str(), s,
                std::string(reports::kind_name(kind)).c_str(), sink.bytes);
  }
  std::printf("db_summary_posture_seconds=%.2f\ndb_peak_rss_mib=%ld\n", total, peak_rss_mib());

  std::ofstream cbom(dir + "/cbom.json", std::ios::binary);
  const auto t0 = Stopwatch::now();
  reports::ReportRequest r;
  r.kind = reports::Kind::kCbom;
  r.format = reports::Format::kCbom;
  if (auto s = service.write(r, cbom); !s) {
    std::fprintf(stderr, "cbom: %s\n", s.error().message.c_str());
    return 1;
  }
  cbom.close();
  std::printf(
      "db_cbom_seconds=%.2f\ndb_cbom_mib=%.0f\ndb_peak_rss_mib_after_cbom=%ld\n", seconds_since(t0),
      static_cast<double>(std::ifstream(dir + "/cbom.json", std::ios::ate).tellg()) / 1048576,
      peak_rss_mib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  in_memory(n);
  std::fflush(stdout);
  if (argc > 2) return through_service(n, argv[2]);
  return 0;
}
