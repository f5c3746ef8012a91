#pragma once
// Discovery as the server runs it: scans stored with their report, run as leased jobs (never on
// an I/O thread), recurring scans on schedules, and the reports of agents on other hosts. The
// CLI runs the same scans in its own process (run_here).
//
// Scans the server runs are bounded by configuration: a network scan dials only addresses in
// [discovery] allowed_networks (others are reported as refused without a packet sent), expands
// to at most max_endpoints, and a file scan looks only under allowed_paths. Everything a scan
// or an agent sends goes through the same Recorder.
//
// Thread-safe; stateless besides its collaborators.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/config.h"
#include "crypto/secret_bytes.h"
#include "discovery/ownership.h"
#include "discovery/recorder.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "lifecycle/jobs.h"

namespace certward::discovery {

// What to scan. As JSON (the API, stored scans and schedules), unknown members are refused:
//   {"kind": "net", "targets": ["10.0.0.0/24", "mail.example.com:25/smtp"], "ports": "tls",
//    "sni": ["www.example.com"], "concurrency": 64, "rate_limit": 100, "probe_legacy": true,
//    "check_revocation": false}
//   {"kind": "files", "paths": ["/etc/ssl"], "include": ["*.pem"], "exclude": ["**/old/**"],
//    "follow_symlinks": false, "one_filesystem": false}
struct ScanSpec {
  std::string kind;  // "net" | "files"
  std::vector<std::string> targets;
  std::string ports = "tls";
  std::vector<std::string> sni;
  std::optional<std::size_t> concurrency;
  std::optional<double> rate_limit;
  std::optional<bool> probe_legacy;
  std::optional<bool> check_revocation;
  std::vector<std::string> paths;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool follow_symlinks = false;
  bool one_filesystem = false;
};
// Errors: kInvalidArgument (shape, unknown member, empty targets or paths, bad values).
Result<ScanSpec> parse_scan_spec(const nlohmann::json& j);
nlohmann::json scan_spec_json(const ScanSpec& spec);

struct ScanRecord {
  std::string id;
  std::string kind;    // "net", "files", "agent"
  std::string status;  // "queued", "running", "done", "failed"
  nlohmann::json spec;
  std::string requested_by;
  std::optional<std::string> schedule;  // the recurring scan that started it
  std::string host;                     // agent scans: the reporting host
  SysTime created_at{};
  std::optional<SysTime> started_at;
  std::optional<SysTime> finished_at;
  nlohmann::json report;  // null until done
  std::string error;
};
nlohmann::json scan_record_json(const ScanRecord& s);

struct Schedule {
  std::string name;
  nlohmann::json spec;
  std::chrono::seconds interval{};
  bool enabled = true;
  std::string created_by;
  SysTime created_at{};
  SysTime next_run{};
  std::optional<std::string> last_scan;
};
nlohmann::json schedule_json(const Schedule& s);

struct DiscoveryDeps {
  const Clock& clock;
  store::Database& db;
  const inventory::Inventory& inventory;
  const inventory::Sightings& sightings;
  const audit::AuditLog& audit;
  const lifecycle::JobQueue& jobs;
  const DiscoverySettings& settings;
  // certward's own root certificates (DER): chains to them are trusted by network scans.
  std::function<std::vector<Bytes>()> trusted_roots;
};

class Discovery {
 public:
  static constexpr std::string_view kScanJob = "discovery.scan";
  static constexpr std::string_view kSchedulesJob = "discovery.schedules";

  explicit Discovery(DiscoveryDeps deps) : d_(std::move(deps)) {}

  static Status migrate(store::Database& db);
  // Checks the configuration's rules (ownership, networks). Errors: kInvalidArgument.
  Status check() const;

  // Stores a queued scan and the job that runs it, audited. Errors: kInvalidArgument (the spec,
  // or a file scan outside allowed_paths), store errors.
  Result<ScanRecord> submit(const ScanSpec& spec, std::string_view actor,
                            const std::optional<std::string>& schedule = {}) const;
  // Runs a stored scan (the job's handler); again from the start if a crash left it running.
  Status run(const std::string& scan_id) const;

  // Runs a scan in this process and waits for it (the CLI): stored and audited like any other.
  // `restricted`: bound by allowed_networks / allowed_paths as server-run scans are.
  // `passwords` are tried on keystores and never stored. `progress` is told how many places
  // are done and how many there are (0: not known ahead, as for files), from the scan's
  // threads, one call at a time.
  Result<ScanRecord> run_here(
      const ScanSpec& spec, std::string_view actor, bool restricted,
      std::vector<crypto::SecretBytes> passwords = {},
      const std::function<void(std::size_t done, std::size_t total)>& progress = {}) const;

  Result<ScanRecord> get(const std::string& id) const;
  // Newest first; at most `limit` (1..1000).
  Result<std::vector<ScanRecord>> list(int limit) const;

  // An agent's file scan of its host, in parts of at most kMaxAgentPart observations: the first
  // part (no scan id) creates the scan, each part is recorded at once, the part with `final`
  // finishes it (files gone from the roots since the first part are marked gone).
  // Errors: kNotFound (scan id of another host or actor), kUnauthorized (the actor has
  // reported as another host before), kConflict (already finished),
  // kInvalidArgument (too many observations, bad host or roots).
  static constexpr std::size_t kMaxAgentPart = 500;
  Result<ScanRecord> agent_report(const std::optional<std::string>& scan_id,
                                  const std::string& host, const std::vector<std::string>& roots,
                                  std::vector<FileObservation> observations, bool final,
                                  std::string_view actor) const;

  // Recurring scans. Errors: kInvalidArgument (name, spec, interval below 1 minute),
  // kConflict (the name exists), kNotFound.
  Result<Schedule> create_schedule(const std::string& name, const ScanSpec& spec,
                                   std::chrono::seconds interval, std::string_view actor) const;
  Result<std::vector<Schedule>> schedules() const;
  Status delete_schedule(const std::string& name, std::string_view actor) const;
  // Submits the scans of the schedules that are due (the recurring job's handler).
  Status run_due_schedules() const;

 private:
  Result<ScanReport> execute(const ScanSpec& spec, const std::string& actor, bool restricted,
                             std::vector<crypto::SecretBytes> passwords,
                             const std::function<void(std::size_t, std::size_t)>& progress) const;
  Status check_paths(const ScanSpec& spec) const;
  // The configured [[discovery.ownership]] rules, built (check() has validated them).
  Result<Ownership> ownership_rules() const;
  // What submit() and create_schedule() refuse: paths outside allowed_paths, targets that do
  // not parse or expand beyond max_endpoints.
  Status check_spec(const ScanSpec& spec) const;
  Result<ScanRecord> store_new(const ScanSpec& spec, std::string_view kind, std::string_view status,
                               std::string_view actor, const std::optional<std::string>& schedule,
                               std::string_view host) const;
  Status finish(const std::string& id, const Result<ScanReport>& report) const;

  DiscoveryDeps d_;
};

}  // namespace certward::discovery
