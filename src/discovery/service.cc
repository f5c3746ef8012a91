#include "discovery/service.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "common/bounded_queue.h"
#include "crypto/crypto.h"
#include "discovery/files/file_scanner.h"
#include "discovery/net/scanner.h"
#include "discovery/net/targets.h"
#include "store/schema.h"

namespace certward::discovery {

namespace {

constexpr std::array<store::Migration, 1> kMigrations = {{
    {1, "scans",
     R"sql(
CREATE TABLE discovery_scans (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  spec TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  schedule TEXT,
  host TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  report TEXT,
  error TEXT NOT NULL
);
CREATE INDEX discovery_scans_created ON discovery_scans (created_at);
CREATE TABLE discovery_schedules (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  interval_seconds BIGINT NOT NULL,
  enabled INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  next_run BIGINT NOT NULL,
  last_scan TEXT
);
)sql"},
}};

constexpr std::string_view kScanColumns =
    "id, kind, status, spec, requested_by, schedule, host, created_at, started_at, finished_at, "
    "report, error";

nlohmann::json parse_json_text(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

ScanRecord to_scan(const store::Row& r) {
  ScanRecord s;
  s.id = r.text(0);
  s.kind = r.text(1);
  s.status = r.text(2);
  s.spec = parse_json_text(r.text(3));
  s.requested_by = r.text(4);
  s.schedule = r.optional_text(5);
  s.host = r.text(6);
  s.created_at = from_unix(r.int64(7));
  if (!r.is_null(8)) s.started_at = from_unix(r.int64(8));
  if (!r.is_null(9)) s.finished_at = from_unix(r.int64(9));
  if (auto report = r.optional_text(10)) s.report = parse_json_text(*report);
  s.error = r.text(11);
  return s;
}

Schedule to_schedule(const store::Row& r) {
  Schedule s;
  s.name = r.text(0);
  s.spec = parse_json_text(r.text(1));
  s.interval = std::chrono::seconds(r.int64(2));
  s.enabled = r.int64(3) != 0;
  s.created_by = r.text(4);
  s.created_at = from_unix(r.int64(5));
  s.next_run = from_unix(r.int64(6));
  s.last_scan = r.optional_text(7);
  return s;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<std::string>> strings_of(const nlohmann::json& j, std::string_view key) {
  std::vector<std::string> out;
  if (!j.is_array()) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + std::string(key) + "' must be a list of strings");
  }
  for (const auto& item : j) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
        item.get_ref<const std::string&>().size() > 4096) {
      return fail(ErrorCode::kInvalidArgument,
                  "'" + std::string(key) + "' must be a list of non-empty strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

// A name for schedules: what a URL path segment and a job key carry unchanged. It starts with
// a letter or digit: "." and ".." would be folded away by every client's path handling, and a
// schedule so named could then be deleted by no remote client.
bool valid_name(std::string_view n) {
  const auto plain = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  return !n.empty() && n.size() <= 64 && plain(n.front()) && std::ranges::all_of(n, [&](char c) {
    return plain(c) || c == '-' || c == '_' || c == '.';
  });
}

bool under(std::string_view path, std::string_view root) {
  if (root == "/") return path.starts_with('/');
  return path == root ||
         (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/');
}

// Lexically normal: no "." or ".." segments, no doubled slashes (a path that climbs out of an
// allowed root by name is refused, not resolved).
bool normal_absolute(std::string_view p) {
  if (!p.starts_with('/')) return false;
  std::size_t at = 1;
  while (at <= p.size()) {
    const std::size_t next = std::min(p.find('/', at), p.size());
    const std::string_view seg = p.substr(at, next - at);
    if ((seg.empty() && next != p.size()) || seg == "." || seg == "..") return false;
    at = next + 1;
  }
  return true;
}

}  // namespace

Result<ScanSpec> parse_scan_spec(const nlohmann::json& j) {
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, "a scan is a JSON object");
  ScanSpec s;
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string()) {
    return fail(ErrorCode::kInvalidArgument, "'kind' must be \"net\" or \"files\"");
  }
  s.kind = kind->get<std::string>();
  if (s.kind != "net" && s.kind != "files") {
    return fail(ErrorCode::kInvalidArgument, "'kind' must be \"net\" or \"files\"");
  }
  const bool net = s.kind == "net";
  for (const auto& [key, v] : j.items()) {
    auto wrong = [&](std::string what) {
      return fail(ErrorCode::kInvalidArgument, "'" + key + "' " + std::move(what));
    };
    if (key == "kind") continue;
    if (net && key == "targets") {
      CW_ASSIGN_OR_RETURN(s.targets, strings_of(v, key));
    } else if (net && key == "ports") {
      if (!v.is_string()) return wrong("must be a string");
      s.ports = v.get<std::string>();
    } else if (net && key == "sni") {
      CW_ASSIGN_OR_RETURN(s.sni, strings_of(v, key));
    } else if (net && key == "concurrency") {
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() < 1 || v.get<std::uint64_t>() > 10000) {
        return wrong("must be between 1 and 10000");
      }
      s.concurrency = v.get<std::size_t>();
    } else if (net && key == "rate_limit") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1e6) {
        return wrong("must be between 0 and 1000000");
      }
      s.rate_limit = v.get<double>();
    } else if (net && (key == "probe_legacy" || key == "check_revocation")) {
      if (!v.is_boolean()) return wrong("must be true or false");
      (key == "probe_legacy" ? s.probe_legacy : s.check_revocation) = v.get<bool>();
    } else if (!net && key == "paths") {
      CW_ASSIGN_OR_RETURN(s.paths, strings_of(v, key));
    } else if (!net && (key == "include" || key == "exclude")) {
      CW_ASSIGN_OR_RETURN(key == "include" ? s.include : s.exclude, strings_of(v, key));
    } else if (!net && (key == "follow_symlinks" || key == "one_filesystem")) {
      if (!v.is_boolean()) return wrong("must be true or false");
      (key == "follow_symlinks" ? s.follow_symlinks : s.one_filesystem) = v.get<bool>();
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "unknown member '" + key + "' for a " + s.kind + " scan");
    }
  }
  if (net && s.targets.empty()) return fail(ErrorCode::kInvalidArgument, "'targets' is empty");
  if (!net && s.paths.empty()) return fail(ErrorCode::kInvalidArgument, "'paths' is empty");
  if (net) CW_RETURN_IF_ERROR(net::parse_ports(s.ports));
  for (const auto& p : s.paths) {
    if (!normal_absolute(p)) {
      return fail(ErrorCode::kInvalidArgument, "path '" + p + "' is not a plain absolute path");
    }
  }
  return s;
}

nlohmann::json scan_spec_json(const ScanSpec& s) {
  nlohmann::json j = {{"kind", s.kind}};
  if (s.kind == "net") {
    j["targets"] = s.targets;
    j["ports"] = s.ports;
    if (!s.sni.empty()) j["sni"] = s.sni;
    if (s.concurrency) j["concurrency"] = *s.concurrency;
    if (s.rate_limit) j["rate_limit"] = *s.rate_limit;
    if (s.probe_legacy) j["probe_legacy"] = *s.probe_legacy;
    if (s.check_revocation) j["check_revocation"] = *s.check_revocation;
  } else {
    j["paths"] = s.paths;
    if (!s.include.empty()) j["include"] = s.include;
    if (!s.exclude.empty()) j["exclude"] = s.exclude;
    if (s.follow_symlinks) j["follow_symlinks"] = true;
    if (s.one_filesystem) j["one_filesystem"] = true;
  }
  return j;
}

nlohmann::json scan_record_json(const ScanRecord& s) {
  nlohmann::json j = {{"id", s.id},
                      {"kind", s.kind},
                      {"status", s.status},
                      {"spec", s.spec},
                      {"requested_by", s.requested_by},
                      {"created_at", format_time(s.created_at)}};
  if (s.schedule) j["schedule"] = *s.schedule;
  if (!s.host.empty()) j["host"] = s.host;
  if (s.started_at) j["started_at"] = format_time(*s.started_at);
  if (s.finished_at) j["finished_at"] = format_time(*s.finished_at);
  if (!s.report.is_null()) j["report"] = s.report;
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

nlohmann::json schedule_json(const Schedule& s) {
  nlohmann::json j = {{"name", s.name},
                      {"spec", s.spec},
                      {"interval", format_duration(s.interval)},
                      {"enabled", s.enabled},
                      {"created_by", s.created_by},
                      {"created_at", format_time(s.created_at)},
                      {"next_run", format_time(s.next_run)}};
  if (s.last_scan) j["last_scan"] = *s.last_scan;
  return j;
}

const store::SchemaModule kSchema{"discovery", kMigrations};

Status Discovery::migrate(store::Database& db) { return db.migrate("discovery", kMigrations); }

Result<Ownership> Discovery::ownership_rules() const {
  std::vector<OwnershipRule> rules;
  for (const auto& r : d_.settings.ownership) rules.push_back({r.team, r.cidr, r.host, r.path});
  return Ownership::make(std::move(rules));
}

Status Discovery::check() const {
  CW_RETURN_IF_ERROR(ownership_rules());
  CW_RETURN_IF_ERROR(NetworkSet::make(d_.settings.allowed_networks));
  return ok();
}

Status Discovery::check_paths(const ScanSpec& spec) const {
  for (const auto& p : spec.paths) {
    const bool allowed = std::ranges::any_of(
        d_.settings.allowed_paths, [&](const std::string& root) { return under(p, root); });
    if (!allowed) {
      return fail(ErrorCode::kInvalidArgument,
                  "path '" + p + "' is outside discovery.allowed_paths");
    }
  }
  return ok();
}

Result<ScanRecord> Discovery::store_new(const ScanSpec& spec, std::string_view kind,
                                        std::string_view status, std::string_view actor,
                                        const std::optional<std::string>& schedule,
                                        std::string_view host) const {
  ScanRecord s;
  s.id = to_hex(crypto::random_bytes(16));
  s.kind = std::string(kind);
  s.status = std::string(status);
  s.spec = spec.kind.empty() ? nlohmann::json::object() : scan_spec_json(spec);
  s.requested_by = std::string(actor);
  s.schedule = schedule;
  s.host = std::string(host);
  s.created_at = d_.clock.now();
  if (status == "running") s.started_at = s.created_at;
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO discovery_scans (id, kind, status, spec, requested_by, schedule, host, "
      "created_at, started_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
      store::params(s.id, s.kind, s.status, dump(s.spec), s.requested_by,
                    schedule ? store::Value(*schedule) : store::Value(nullptr), s.host,
                    to_unix(s.created_at),
                    s.started_at ? store::Value(to_unix(*s.started_at)) : store::Value(nullptr))));
  if (status == "queued") {
    lifecycle::NewJob job;
    job.kind = std::string(kScanJob);
    job.payload = {{"scan", s.id}};
    job.dedupe_key = "discovery.scan:" + s.id;
    job.max_attempts = 2;
    CW_RETURN_IF_ERROR(d_.jobs.enqueue(*tx, job));
  }
  CW_RETURN_IF_ERROR(
      d_.audit.append(*tx, audit::Event{.actor = std::string(actor),
                                        .action = "discovery.scan.start",
                                        .target_type = "scan",
                                        .target_id = s.id,
                                        .details = {{"kind", s.kind}, {"spec", s.spec}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return s;
}

Status Discovery::check_spec(const ScanSpec& spec) const {
  if (spec.kind == "files") CW_RETURN_IF_ERROR(check_paths(spec));
  if (spec.kind == "net") {
    // The request is expanded once here so that a malformed or oversized one is refused now,
    // not when its job runs; names are not resolved yet.
    net::ScanRequest req{spec.targets, spec.ports, spec.sni, d_.settings.max_endpoints};
    CW_RETURN_IF_ERROR(net::expand(req, [](const std::string&) -> Result<std::vector<std::string>> {
      return std::vector<std::string>{"127.0.0.1"};
    }));
  }
  return ok();
}

Result<ScanRecord> Discovery::submit(const ScanSpec& spec, std::string_view actor,
                                     const std::optional<std::string>& schedule) const {
  CW_RETURN_IF_ERROR(check_spec(spec));
  return store_new(spec, spec.kind, "queued", actor, schedule, "");
}

Status Discovery::finish(const std::string& id, const Result<ScanReport>& report) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  const std::int64_t now = to_unix(d_.clock.now());
  if (report) {
    CW_RETURN_IF_ERROR(tx->execute(
        "UPDATE discovery_scans SET status = 'done', finished_at = ?, report = ? WHERE id = ?",
        store::params(now, dump(report_json(*report)), id)));
  } else {
    CW_RETURN_IF_ERROR(tx->execute(
        "UPDATE discovery_scans SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
        store::params(now, report.error().message, id)));
  }
  return tx->commit();
}

Status Discovery::run(const std::string& scan_id) const {
  CW_ASSIGN_OR_RETURN(ScanRecord scan, get(scan_id));
  if (scan.status == "done" || scan.status == "failed") return ok();  // a job run twice
  auto spec = parse_scan_spec(scan.spec);
  if (!spec) return finish(scan_id, std::unexpected(spec.error()));
  {
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    CW_RETURN_IF_ERROR(
        tx->execute("UPDATE discovery_scans SET status = 'running', started_at = ? WHERE id = ?",
                    store::params(to_unix(d_.clock.now()), scan_id)));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  auto report = execute(*spec, scan.requested_by, /*restricted=*/true, {}, {});
  return finish(scan_id, report);
}

Result<ScanRecord> Discovery::run_here(
    const ScanSpec& spec, std::string_view actor, bool restricted,
    std::vector<crypto::SecretBytes> passwords,
    const std::function<void(std::size_t, std::size_t)>& progress) const {
  if (restricted && spec.kind == "files") CW_RETURN_IF_ERROR(check_paths(spec));
  CW_ASSIGN_OR_RETURN(ScanRecord scan, store_new(spec, spec.kind, "running", actor, {}, ""));
  auto report = execute(spec, std::string(actor), restricted, std::move(passwords), progress);
  CW_RETURN_IF_ERROR(finish(scan.id, report));
  if (!report) return std::unexpected(report.error());
  return get(scan.id);
}

Result<ScanReport> Discovery::execute(
    const ScanSpec& spec, const std::string& actor, bool restricted,
    std::vector<crypto::SecretBytes> passwords,
    const std::function<void(std::size_t, std::size_t)>& progress) const {
  const DiscoverySettings& cfg = d_.settings;
  CW_ASSIGN_OR_RETURN(Ownership ownership, ownership_rules());
  RecorderOptions options{.actor = actor,
                          .ownership = std::move(ownership),
                          .expiring_window = cfg.expiring_window,
                          .batch = 256};

  if (spec.kind == "files") {
    files::FileScanOptions fo;
    fo.paths = spec.paths;
    fo.include = spec.include;
    fo.exclude = spec.exclude;
    fo.max_file_size = cfg.max_file_size;
    fo.symlinks =
        spec.follow_symlinks ? files::SymlinkPolicy::kFollow : files::SymlinkPolicy::kSkip;
    fo.filesystems =
        spec.one_filesystem ? files::FilesystemPolicy::kStay : files::FilesystemPolicy::kCross;
    fo.passwords = std::move(passwords);
    // A lexically allowed path may still lead out through a symbolic link (the root itself, a
    // directory on its way, or a link followed inside): the server's scans stay where the
    // links resolve to under allowed_paths.
    if (restricted) fo.confine_to = d_.settings.allowed_paths;
    files::FileScanner scanner(std::move(fo), d_.clock);
    std::string host;
    Status failed = ok();
    std::size_t done = 0;
    std::optional<Recorder> recorder;
    const files::FileScanSummary summary = scanner.scan([&](FileObservation obs) {
      if (!recorder) {
        host = obs.host;
        recorder.emplace(
            d_.clock, d_.db, d_.inventory, d_.sightings, d_.audit,
            ScanScope{.kind = "files", .host = host, .roots = spec.paths, .since = {}, .kept = {}},
            options);
      }
      if (failed) failed = recorder->add(std::move(obs));
      if (progress) progress(++done, 0);
    });
    CW_RETURN_IF_ERROR(failed);
    if (!recorder) {
      // Nothing at all under the roots: still a scan, which may find files gone.
      char name[256] = {};
      gethostname(name, sizeof name - 1);
      recorder.emplace(
          d_.clock, d_.db, d_.inventory, d_.sightings, d_.audit,
          ScanScope{.kind = "files", .host = name, .roots = spec.paths, .since = {}, .kept = {}},
          options);
    }
    if (summary.max_files_reached) recorder->stopped_short();
    CW_ASSIGN_OR_RETURN(ScanReport report, recorder->finish());
    report.skipped = summary.skipped;
    report.max_files_reached = summary.max_files_reached;
    return report;
  }

  net::ScanRequest req{spec.targets, spec.ports, spec.sni, cfg.max_endpoints};
  CW_ASSIGN_OR_RETURN(std::vector<Endpoint> endpoints, net::expand(req));
  Recorder recorder(d_.clock, d_.db, d_.inventory, d_.sightings, d_.audit,
                    ScanScope{.kind = "net", .host = {}, .roots = {}, .since = {}, .kept = {}},
                    options);
  const std::size_t total = endpoints.size();
  std::size_t done = 0;
  Status failed = ok();

  // Endpoints outside the allowed networks are reported, never dialled.
  if (restricted) {
    CW_ASSIGN_OR_RETURN(NetworkSet allowed, NetworkSet::make(cfg.allowed_networks));
    std::vector<Endpoint> dial;
    for (auto& e : endpoints) {
      if (e.address.empty() || allowed.contains(e.address)) {
        dial.push_back(std::move(e));
        continue;
      }
      TlsObservation refused;
      refused.endpoint = std::move(e);
      refused.error = Error{ErrorCode::kPolicyRejected, "not in discovery.allowed_networks"};
      if (failed) failed = recorder.add(std::move(refused));
      if (progress) progress(++done, total);
    }
    endpoints = std::move(dial);
  }

  net::ScanOptions so;
  so.concurrency = spec.concurrency.value_or(cfg.concurrency);
  so.connect_timeout = cfg.connect_timeout;
  so.handshake_timeout = cfg.handshake_timeout;
  so.rate_limit = spec.rate_limit.value_or(cfg.rate_limit);
  so.probe_legacy = spec.probe_legacy.value_or(cfg.probe_legacy);
  so.check_revocation = spec.check_revocation.value_or(cfg.check_revocation);
  so.expiring_window = cfg.expiring_window;
  so.use_system_trust = cfg.use_system_trust;
  if (d_.trusted_roots) so.trusted_roots = d_.trusted_roots();
  if (restricted) {
    // A served certificate names its own OCSP and CRL URLs: the server that serves it must not
    // make this server fetch from addresses its scans may not dial.
    CW_ASSIGN_OR_RETURN(NetworkSet allowed, NetworkSet::make(cfg.allowed_networks));
    so.may_fetch_from = [allowed = std::move(allowed)](const std::string& address) {
      return allowed.contains(address);
    };
  }
  so.clock = &d_.clock;
  // Recording (decoding, findings, a transaction per batch) runs on a thread of its own: on
  // the scan's I/O threads it would hold every handshake in flight while a batch commits.
  // The queue is short, so a writer that falls behind slows the dialling rather than
  // buffering a whole scan's observations.
  const std::size_t in_flight = so.concurrency;
  net::NetworkScanner scanner(std::move(so));
  common::BoundedQueue<net::Observation> observed(std::max<std::size_t>(64, in_flight));
  std::thread writer([&] {
    for (;;) {
      std::optional<net::Observation> obs = observed.try_pop();
      if (!obs) {
        // Nothing is waiting: write what is buffered now, while the scan still dials, instead
        // of leaving a batch of up to 256 places for after its last handshake.
        if (failed) {
          failed = recorder.flush_some();
          if (!failed) scanner.cancel();
        }
        obs = observed.pop();
        if (!obs) break;
      }
      if (failed) {
        failed = std::visit([&](auto&& o) { return recorder.add(std::move(o)); }, std::move(*obs));
        if (!failed) scanner.cancel();
      }
      if (progress) progress(++done, total);
    }
  });
  const Status scanned = scanner.scan(std::move(endpoints),
                                      [&](net::Observation obs) { observed.push(std::move(obs)); });
  observed.close();
  writer.join();
  CW_RETURN_IF_ERROR(scanned);
  CW_RETURN_IF_ERROR(failed);
  return recorder.finish();
}

Result<ScanRecord> Discovery::get(const std::string& id) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kScanColumns) +
                                                  " FROM discovery_scans WHERE id = ?",
                                              store::params(id)));
  if (!row) return fail(ErrorCode::kNotFound, "no scan " + id);
  return to_scan(*row);
}

Result<std::vector<ScanRecord>> Discovery::list(int limit) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT " + std::string(kScanColumns) +
                                           " FROM discovery_scans ORDER BY created_at DESC, id "
                                           "LIMIT " +
                                           std::to_string(limit)));
  std::vector<ScanRecord> out;
  for (std::size_t i = 0; i < rows.size(); ++i) out.push_back(to_scan(rows[i]));
  return out;
}

Result<ScanRecord> Discovery::agent_report(const std::optional<std::string>& scan_id,
                                           const std::string& host,
                                           const std::vector<std::string>& roots,
                                           std::vector<FileObservation> observations, bool final,
                                           std::string_view actor) const {
  if (observations.size() > kMaxAgentPart) {
    return fail(ErrorCode::kInvalidArgument,
                "at most " + std::to_string(kMaxAgentPart) + " observations per part");
  }
  const bool host_ok = !host.empty() && host.size() <= 253 && std::ranges::all_of(host, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
  if (!host_ok) return fail(ErrorCode::kInvalidArgument, "bad agent host name");
  if (roots.empty()) return fail(ErrorCode::kInvalidArgument, "an agent report names its roots");
  for (const auto& r : roots) {
    if (!normal_absolute(r)) return fail(ErrorCode::kInvalidArgument, "bad root '" + r + "'");
  }
  for (auto& o : observations) {
    // The agent speaks for its own host, and only under the roots it named.
    if (!normal_absolute(o.path) ||
        !std::ranges::any_of(roots, [&](const std::string& r) { return under(o.path, r); })) {
      return fail(ErrorCode::kInvalidArgument, "path '" + o.path + "' is outside the roots");
    }
    o.host = host;
  }

  ScanRecord scan;
  if (scan_id) {
    CW_ASSIGN_OR_RETURN(scan, get(*scan_id));
    // Another agent's scan is not found, whoever asks.
    if (scan.kind != "agent" || scan.host != host || scan.requested_by != actor) {
      return fail(ErrorCode::kNotFound, "no scan " + *scan_id);
    }
    if (scan.status != "running") return fail(ErrorCode::kConflict, "the scan is finished");
    if (scan.spec.value("roots", nlohmann::json::array()) != nlohmann::json(roots)) {
      return fail(ErrorCode::kInvalidArgument, "the roots differ from the scan's first part");
    }
  } else {
    // A token speaks for the one host it first reported as: one stolen from a host cannot
    // add files to, or mark gone the files of, any other host.
    {
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
      CW_ASSIGN_OR_RETURN(auto other,
                          tx->query_one("SELECT host FROM discovery_scans WHERE kind = 'agent' "
                                        "AND requested_by = ? AND host <> ? LIMIT 1",
                                        store::params(std::string(actor), host)));
      if (other) {
        return fail(ErrorCode::kUnauthorized,
                    "this agent reports for host '" + other->text(0) + "', not '" + host + "'");
      }
    }
    ScanSpec spec;
    CW_ASSIGN_OR_RETURN(scan, store_new(spec, "agent", "running", actor, {}, host));
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    scan.spec = {{"kind", "agent"}, {"roots", roots}};
    CW_RETURN_IF_ERROR(tx->execute("UPDATE discovery_scans SET spec = ? WHERE id = ?",
                                   store::params(dump(scan.spec), scan.id)));
    CW_RETURN_IF_ERROR(tx->commit());
  }

  CW_ASSIGN_OR_RETURN(Ownership ownership, ownership_rules());
  Recorder recorder(d_.clock, d_.db, d_.inventory, d_.sightings, d_.audit,
                    ScanScope{.kind = "files",
                              .host = host,
                              .roots = roots,
                              .since = scan.started_at,
                              .kept = scan.report.is_object()
                                          ? scan.report.value("kept", std::vector<std::string>{})
                                          : std::vector<std::string>{}},
                    RecorderOptions{.actor = std::string(actor),
                                    .ownership = std::move(ownership),
                                    .expiring_window = d_.settings.expiring_window,
                                    .batch = kMaxAgentPart});
  for (auto& o : observations) CW_RETURN_IF_ERROR(recorder.add(std::move(o)));
  CW_ASSIGN_OR_RETURN(ScanReport part, final ? recorder.finish() : recorder.checkpoint());

  // The stored report adds up the parts.
  nlohmann::json total = scan.report.is_null() ? report_json(ScanReport{}) : scan.report;
  const nlohmann::json add = report_json(part);
  for (const char* n :
       {"places", "reachable", "errors", "certificates", "ssh_keys", "results_left_out"}) {
    total[n] = total.value(n, 0) + add.value(n, 0);
  }
  for (const char* list :
       {"new_certificates", "new_ssh_keys", "changed", "gone", "kept", "results"}) {
    for (const auto& item : add[list]) {
      if (std::string_view(list) == "results" && total[list].size() >= kMaxPlacesInReport) {
        total["results_left_out"] = total.value("results_left_out", 0) + 1;
        continue;
      }
      total[list].push_back(item);
    }
  }
  for (const auto& [sev, n] : add["findings"].items()) {
    total["findings"][sev] = total["findings"].value(sev, 0) + n.get<int>();
  }
  total["kind"] = "agent";
  total["started_at"] = format_time(*scan.started_at);
  total["finished_at"] = add["finished_at"];
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(tx->execute(
      "UPDATE discovery_scans SET report = ?, status = ?, finished_at = ? WHERE id = ?",
      store::params(dump(total), final ? "done" : "running",
                    final ? store::Value(to_unix(d_.clock.now())) : store::Value(nullptr),
                    scan.id)));
  CW_RETURN_IF_ERROR(tx->commit());
  return get(scan.id);
}

Result<Schedule> Discovery::create_schedule(const std::string& name, const ScanSpec& spec,
                                            std::chrono::seconds interval,
                                            std::string_view actor) const {
  if (!valid_name(name)) {
    return fail(ErrorCode::kInvalidArgument,
                "a schedule name is 1-64 letters, digits, '-', '_' or '.', starting with a "
                "letter or digit");
  }
  if (interval < std::chrono::minutes(1)) {
    return fail(ErrorCode::kInvalidArgument, "a recurring scan runs at most every minute");
  }
  // Checked as a submitted scan is: a spec that every occurrence would refuse is refused now.
  CW_RETURN_IF_ERROR(check_spec(spec));
  Schedule s{.name = name,
             .spec = scan_spec_json(spec),
             .interval = interval,
             .enabled = true,
             .created_by = std::string(actor),
             .created_at = d_.clock.now(),
             .next_run = d_.clock.now(),
             .last_scan = {}};
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(
      auto n, tx->execute_count(
                  "INSERT INTO discovery_schedules (name, spec, interval_seconds, enabled, "
                  "created_by, created_at, next_run) VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT "
                  "(name) DO NOTHING",
                  store::params(name, dump(s.spec), static_cast<std::int64_t>(interval.count()),
                                s.created_by, to_unix(s.created_at), to_unix(s.next_run))));
  if (n == 0) return fail(ErrorCode::kConflict, "a recurring scan '" + name + "' exists");
  CW_RETURN_IF_ERROR(d_.audit.append(
      *tx, audit::Event{.actor = std::string(actor),
                        .action = "discovery.schedule.create",
                        .target_type = "scan_schedule",
                        .target_id = name,
                        .details = {{"spec", s.spec}, {"interval", format_duration(interval)}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return s;
}

Result<std::vector<Schedule>> Discovery::schedules() const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT name, spec, interval_seconds, enabled, "
                                           "created_by, created_at, next_run, last_scan FROM "
                                           "discovery_schedules ORDER BY name"));
  std::vector<Schedule> out;
  for (std::size_t i = 0; i < rows.size(); ++i) out.push_back(to_schedule(rows[i]));
  return out;
}

Status Discovery::delete_schedule(const std::string& name, std::string_view actor) const {
  CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto n, tx->execute_count("DELETE FROM discovery_schedules WHERE name = ?",
                                                store::params(name)));
  if (n == 0) return fail(ErrorCode::kNotFound, "no recurring scan '" + name + "'");
  CW_RETURN_IF_ERROR(d_.audit.append(*tx, audit::Event{.actor = std::string(actor),
                                                       .action = "discovery.schedule.delete",
                                                       .target_type = "scan_schedule",
                                                       .target_id = name,
                                                       .details = nlohmann::json::object()}));
  return tx->commit();
}

Status Discovery::run_due_schedules() const {
  // Read first: most runs find nothing due and write nothing.
  CW_ASSIGN_OR_RETURN(auto all, schedules());
  const SysTime now = d_.clock.now();
  for (const Schedule& s : all) {
    if (!s.enabled || s.next_run > now) continue;
    auto spec = parse_scan_spec(s.spec);
    if (!spec) continue;  // stored by create_schedule, so only a changed rule gets here
    {
      // Claim the occurrence first, so that two replicas never both start it.
      CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
      CW_ASSIGN_OR_RETURN(
          auto n, tx->execute_count(
                      "UPDATE discovery_schedules SET next_run = ? WHERE name = ? AND next_run = ?",
                      store::params(to_unix(now + s.interval), s.name, to_unix(s.next_run))));
      CW_RETURN_IF_ERROR(tx->commit());
      if (n == 0) continue;
    }
    CW_ASSIGN_OR_RETURN(ScanRecord scan, submit(*spec, "schedule:" + s.name, s.name));
    CW_ASSIGN_OR_RETURN(auto tx, d_.db.begin(store::TxMode::kWrite));
    CW_RETURN_IF_ERROR(tx->execute("UPDATE discovery_schedules SET last_scan = ? WHERE name = ?",
                                   store::params(scan.id, s.name)));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return ok();
}

}  // namespace certward::discovery
