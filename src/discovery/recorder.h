#pragma once
// Turns observations into inventory rows and sightings, and a scan into its report.
//
// Every certificate found is recorded once (by fingerprint; origin "discovered", the team the
// ownership rules give), even when it is odd (x509::Certificate::from_der_lenient: its
// oddities become findings); every place it was found at becomes a sighting. A place that
// answers with other certificates than before is "changed", and what it no longer shows is
// "gone"; so is a file under a scanned root that is no longer there. Observations are
// written in batches, one transaction each, so a scan of thousands of places costs a few
// commits; the report is complete once finish() returns.
//
// Thread-safe: scanners call add() from their own threads.

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "audit/audit.h"
#include "common/mutex.h"
#include "discovery/discovery.h"
#include "discovery/ownership.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"

namespace certward::discovery {

struct ScanReport {
  std::string kind;  // "net", "files"
  SysTime started_at{};
  SysTime finished_at{};
  int places = 0;     // endpoints dialled, files looked at
  int reachable = 0;  // answered / read without error
  int errors = 0;
  int certificates = 0;  // certificates seen (with repeats across places)
  int ssh_keys = 0;
  std::vector<std::string> new_certificates;  // new to the inventory
  std::vector<std::string> new_ssh_keys;
  struct Change {
    std::string location;
    std::string from;  // the fingerprint it showed before
    std::string to;
  };
  std::vector<Change> changed;
  struct Gone {
    std::string location;
    std::string fingerprint;
  };
  std::vector<Gone> gone;
  // Files under the roots that were there but could not be read this time (no configured
  // password opens them, a read error): what they showed before is kept, not gone.
  std::vector<std::string> kept;
  std::map<Severity, int> findings;  // how many findings of each severity
  // Each place: {"location", "kind", "error"?, "leaf"?, "format"?, "findings": [...]}, at most
  // kMaxPlacesInReport (the rest are counted, and every place has its sighting).
  nlohmann::json results = nlohmann::json::array();
  int results_left_out = 0;
  // File scans: what the walk passed over without an observation, by reason ("excluded",
  // "symlink", "special_file", ...), and whether it stopped at its file cap.
  std::map<std::string, std::size_t> skipped;
  bool max_files_reached = false;
};
inline constexpr std::size_t kMaxPlacesInReport = 10000;
nlohmann::json report_json(const ScanReport& report);

// The sighting location of an endpoint: "127.0.0.1:443", "[::1]:8443", "10.0.0.5:25/smtp" (after
// STARTTLS), with "#sni" when a name was sent ("127.0.0.1:443#www.example"), the name instead
// of the address when it did not resolve; of a file: "host:/abs/path".
std::string endpoint_location(const Endpoint& endpoint);
std::string file_location(std::string_view host, std::string_view path);

// What a scan covered, so that what it did not find again is known to be gone.
struct ScanScope {
  std::string kind;                // "net", "files"
  std::string host;                // files: the host scanned
  std::vector<std::string> roots;  // files: the paths walked
  // When the scan began (default: when the recorder was made). A file under the roots last
  // seen before it was not seen by this scan: it is gone. A scan sent in parts (an agent's)
  // passes its first part's time to every part.
  std::optional<SysTime> since;
  // A scan sent in parts: the places its earlier parts kept (ScanReport::kept).
  std::vector<std::string> kept;
};

struct RecorderOptions {
  std::string actor;  // who ran the scan, for the audit trail
  Ownership ownership;
  std::chrono::seconds expiring_window{std::chrono::days(30)};
  std::size_t batch = 256;  // observations per transaction
};

class Recorder {
 public:
  Recorder(const Clock& clock, store::Database& db, const inventory::Inventory& inventory,
           const inventory::Sightings& sightings, const audit::AuditLog& audit, ScanScope scope,
           RecorderOptions options);

  // Buffer an observation; a full batch is written at once. Errors: store errors (the batch
  // is lost and the scan should stop).
  Status add(TlsObservation obs);
  Status add(SshObservation obs);
  Status add(FileObservation obs);

  // Writes what is buffered if it is at least an eighth of a batch: a writer with nothing
  // else to do calls it, so that a scan's last batch, written after its last place, is small.
  Status flush_some();

  // Writes what is left, marks what the scope no longer shows as gone, audits the scan as one
  // "discovery.scan" event and returns the report.
  Result<ScanReport> finish();
  // The scan did not cover all of its roots (it stopped at its file cap): finish() then marks
  // nothing gone, since what it did not reach may well be there.
  void stopped_short() {
    common::MutexLock lock(mu_);
    stopped_short_ = true;
  }
  // Writes what is left and returns the report so far: a part of a scan sent in parts, whose
  // last part finishes it.
  Result<ScanReport> checkpoint();

 private:
  using Pending = std::variant<TlsObservation, SshObservation, FileObservation>;
  Status flush_locked() CW_REQUIRES(mu_);
  Status write(store::Transaction& tx, const Pending& p) CW_REQUIRES(mu_);
  void add_place_locked(nlohmann::json place) CW_REQUIRES(mu_);

  const Clock& clock_;
  store::Database& db_;
  const inventory::Inventory& inventory_;
  const inventory::Sightings& sightings_;
  const audit::AuditLog& audit_;
  const ScanScope scope_;
  const RecorderOptions options_;

  common::Mutex mu_;
  std::vector<Pending> pending_ CW_GUARDED_BY(mu_);
  ScanReport report_ CW_GUARDED_BY(mu_);
  bool stopped_short_ CW_GUARDED_BY(mu_) = false;
  // Fingerprint -> findings about the certificate itself, of those this scan recorded.
  std::unordered_map<std::string, std::vector<Finding>> known_ CW_GUARDED_BY(mu_);
  // Files written in the scan's first second. Times are whole seconds, so a sighting last
  // seen in that second was seen either by this scan or by one that ended in the same second;
  // finish() tells them apart with this set (small: one second's worth of places).
  std::set<std::string> first_second_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::discovery
