#include "discovery/recorder.h"

#include <algorithm>
#include <set>
#include <variant>

#include "crypto/crypto.h"
#include "discovery/findings.h"

namespace certward::discovery {

namespace {

nlohmann::json finding_json(const Finding& f) {
  nlohmann::json j = {
      {"code", f.code}, {"severity", severity_name(f.severity)}, {"detail", f.detail}};
  if (!f.fingerprint.empty()) j["fingerprint"] = f.fingerprint;
  return j;
}

nlohmann::json findings_json(const std::vector<Finding>& findings,
                             std::optional<std::string_view> only_of = std::nullopt) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : findings) {
    if (!only_of || f.fingerprint.empty() || f.fingerprint == *only_of)
      out.push_back(finding_json(f));
  }
  return out;
}

nlohmann::json endpoint_json(const Endpoint& e) {
  nlohmann::json j = {{"host", e.host}, {"address", e.address}, {"port", e.port}};
  if (!e.sni.empty()) j["sni"] = e.sni;
  if (!e.starttls.empty()) j["starttls"] = e.starttls;
  return j;
}

nlohmann::json ssh_cert_json(const SshKey::Cert& c) {
  return {{"host", c.host},
          {"serial", c.serial},
          {"key_id", c.key_id},
          {"principals", c.principals},
          {"valid_after", format_time(c.valid_after)},
          {"valid_before", format_time(c.valid_before)},
          {"ca_fingerprint", c.ca_fingerprint},
          {"ca_type", c.ca_type}};
}

// Oddities of a leniently parsed certificate, as findings about it.
void add_oddities(const x509::Certificate& cert, std::vector<Finding>& findings) {
  for (const auto& o : cert.info().oddities) {
    findings.push_back(
        Finding{.code = o.code,
                .severity = o.code == "unusual_san" ? Severity::kInfo : Severity::kLow,
                .detail = o.detail,
                .fingerprint = cert.info().sha256_hex});
  }
}

}  // namespace

std::string endpoint_location(const Endpoint& e) {
  // A name that did not resolve has no address: it is known by the name.
  const std::string& where = e.address.empty() ? e.host : e.address;
  const bool v6 = where.find(':') != std::string::npos;
  std::string out = v6 ? "[" + where + "]" : where;
  out += ":" + std::to_string(e.port);
  // TLS at once and after STARTTLS on one port are two places (an SSH probe is a kind apart).
  if (!e.starttls.empty() && e.starttls != "ssh") out += "/" + e.starttls;
  if (!e.sni.empty()) out += "#" + e.sni;
  return out;
}

std::string file_location(std::string_view host, std::string_view path) {
  return std::string(host) + ":" + std::string(path);
}

nlohmann::json report_json(const ScanReport& r) {
  nlohmann::json changed = nlohmann::json::array();
  for (const auto& c : r.changed) {
    changed.push_back({{"location", c.location}, {"from", c.from}, {"to", c.to}});
  }
  nlohmann::json gone = nlohmann::json::array();
  for (const auto& g : r.gone) {
    gone.push_back({{"location", g.location}, {"fingerprint", g.fingerprint}});
  }
  nlohmann::json findings = nlohmann::json::object();
  for (Severity s :
       {Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow, Severity::kInfo}) {
    const auto it = r.findings.find(s);
    findings[std::string(severity_name(s))] = it == r.findings.end() ? 0 : it->second;
  }
  return {{"kind", r.kind},
          {"started_at", format_time(r.started_at)},
          {"finished_at", format_time(r.finished_at)},
          {"places", r.places},
          {"reachable", r.reachable},
          {"errors", r.errors},
          {"certificates", r.certificates},
          {"ssh_keys", r.ssh_keys},
          {"new_certificates", r.new_certificates},
          {"new_ssh_keys", r.new_ssh_keys},
          {"changed", changed},
          {"gone", gone},
          {"kept", r.kept},
          {"findings", findings},
          {"skipped", r.skipped},
          {"max_files_reached", r.max_files_reached},
          {"results", r.results},
          {"results_left_out", r.results_left_out}};
}

Recorder::Recorder(const Clock& clock, store::Database& db, const inventory::Inventory& inventory,
                   const inventory::Sightings& sightings, const audit::AuditLog& audit,
                   ScanScope scope, RecorderOptions options)
    : clock_(clock),
      db_(db),
      inventory_(inventory),
      sightings_(sightings),
      audit_(audit),
      scope_(std::move(scope)),
      options_(std::move(options)) {
  report_.kind = scope_.kind;
  report_.started_at = scope_.since.value_or(clock_.now());
}

Status Recorder::add(TlsObservation obs) {
  common::MutexLock lock(mu_);
  pending_.emplace_back(std::move(obs));
  return pending_.size() >= options_.batch ? flush_locked() : ok();
}

Status Recorder::add(SshObservation obs) {
  common::MutexLock lock(mu_);
  pending_.emplace_back(std::move(obs));
  return pending_.size() >= options_.batch ? flush_locked() : ok();
}

Status Recorder::add(FileObservation obs) {
  common::MutexLock lock(mu_);
  pending_.emplace_back(std::move(obs));
  return pending_.size() >= options_.batch ? flush_locked() : ok();
}

void Recorder::add_place_locked(nlohmann::json place) {
  if (report_.results.size() < kMaxPlacesInReport) {
    report_.results.push_back(std::move(place));
  } else {
    ++report_.results_left_out;
  }
}

Status Recorder::flush_some() {
  common::MutexLock lock(mu_);
  return pending_.size() >= std::max<std::size_t>(1, options_.batch / 8) ? flush_locked() : ok();
}

namespace {

// The report before a batch, to put back if the batch fails: a batch only adds to the counters
// and appends to the lists, so their lengths say what to take off. (A copy of the report would
// copy every place so far, once per batch.)
struct ReportMark {
  explicit ReportMark(const ScanReport& r)
      : places(r.places),
        reachable(r.reachable),
        errors(r.errors),
        certificates(r.certificates),
        ssh_keys(r.ssh_keys),
        results_left_out(r.results_left_out),
        findings(r.findings),
        new_certificates(r.new_certificates.size()),
        new_ssh_keys(r.new_ssh_keys.size()),
        changed(r.changed.size()),
        gone(r.gone.size()),
        kept(r.kept.size()),
        results(r.results.size()) {}

  void restore(ScanReport& r) const {
    r.places = places;
    r.reachable = reachable;
    r.errors = errors;
    r.certificates = certificates;
    r.ssh_keys = ssh_keys;
    r.results_left_out = results_left_out;
    r.findings = findings;
    r.new_certificates.resize(new_certificates);
    r.new_ssh_keys.resize(new_ssh_keys);
    r.changed.resize(changed);
    r.gone.resize(gone);
    r.kept.resize(kept);
    r.results.erase(r.results.begin() + static_cast<std::ptrdiff_t>(results), r.results.end());
  }

  int places, reachable, errors, certificates, ssh_keys, results_left_out;
  std::map<Severity, int> findings;
  std::size_t new_certificates, new_ssh_keys, changed, gone, kept, results;
};

}  // namespace

Status Recorder::flush_locked() {
  if (pending_.empty()) return ok();
  // The report changes only once the batch is committed: a failed batch leaves it as it was.
  const ReportMark before(report_);
  // A lambda is analysed on its own: it says which lock its caller holds.
  auto undo = [&]() CW_REQUIRES(mu_) {
    before.restore(report_);
    known_.clear();  // what the failed batch recorded is not in the inventory
  };
  auto tx = db_.begin(store::TxMode::kWrite);
  if (!tx) return std::unexpected(tx.error());
  for (const Pending& p : pending_) {
    if (auto st = write(**tx, p); !st) {
      undo();
      pending_.clear();
      return st;
    }
  }
  if (auto st = (*tx)->commit(); !st) {
    undo();
    pending_.clear();
    return st;
  }
  pending_.clear();
  return ok();
}

Status Recorder::write(store::Transaction& tx, const Pending& pending) {
  const SysTime now = clock_.now();
  ++report_.places;

  // What the place showed: certificates and keys by fingerprint, and its findings.
  std::string kind;
  std::string location;
  std::optional<std::string> team;
  nlohmann::json place;
  nlohmann::json base_details;
  std::vector<Bytes> ders;
  const std::vector<SshKey>* keys = nullptr;
  std::vector<Finding> findings;
  const std::optional<Error>* error = nullptr;
  bool certificate_findings_here = false;

  if (const auto* t = std::get_if<TlsObservation>(&pending)) {
    kind = "tls";
    location = endpoint_location(t->endpoint);
    team = options_.ownership.team_for(t->endpoint);
    place = endpoint_json(t->endpoint);
    error = &t->error;
    ders = t->chain;
    findings = t->findings;
    if (!t->chain.empty()) {
      base_details = {{"tls_version", t->tls_version},
                      {"cipher", t->cipher},
                      {"group", t->group},
                      {"alpn", t->alpn},
                      {"ocsp_stapled", t->ocsp_stapled},
                      {"legacy_protocols", t->legacy_protocols}};
      place.update(base_details);
    }
    base_details.update(endpoint_json(t->endpoint));
  } else if (const auto* s = std::get_if<SshObservation>(&pending)) {
    kind = "ssh";
    location = endpoint_location(s->endpoint);
    team = options_.ownership.team_for(s->endpoint);
    place = endpoint_json(s->endpoint);
    error = &s->error;
    keys = &s->keys;
    findings = s->findings;
    base_details = endpoint_json(s->endpoint);
    if (!s->banner.empty()) {
      base_details["banner"] = s->banner;
      place["banner"] = s->banner;
    }
  } else {
    const auto& f = std::get<FileObservation>(pending);
    kind = "file";
    location = file_location(f.host, f.path);
    team = options_.ownership.team_for_file(f.host, f.path);
    place = {{"host", f.host}, {"path", f.path}, {"format", f.format}};
    error = &f.error;
    ders = f.certificates;
    keys = &f.ssh_keys;
    findings = f.findings;
    certificate_findings_here = true;
    base_details = {
        {"host", f.host}, {"path", f.path}, {"format", f.format}, {"key_present", f.key_present}};
    if (!f.certificates.empty()) place["key_present"] = f.key_present;
  }
  place["location"] = location;
  place["kind"] = kind;
  if (team) place["team"] = *team;
  if (error->has_value()) {
    ++report_.errors;
    place["error"] = (*error)->message;
    place["error_code"] = error_code_name((*error)->code);
  }

  // Parse leniently and record what was found.
  std::vector<std::string> shown;
  std::vector<std::pair<std::string, nlohmann::json>> seen_here;  // fingerprint, details
  std::set<std::string> recorded;
  for (std::size_t i = 0; i < ders.size(); ++i) {
    // A certificate this scan has recorded already (an intermediate every endpoint sends) is
    // neither parsed nor written again: its findings about itself are remembered.
    const std::string known_fp = to_hex(crypto::sha256(ders[i]));
    if (auto it = known_.find(known_fp); it != known_.end()) {
      ++report_.certificates;
      findings.insert(findings.end(), it->second.begin(), it->second.end());
      if (!recorded.insert(known_fp).second) continue;
      nlohmann::json details = base_details;
      details["position"] = i;
      if (kind == "tls") details["role"] = i == 0 ? "leaf" : "chain";
      shown.push_back(known_fp);
      seen_here.emplace_back(known_fp, std::move(details));
      continue;
    }
    auto cert = x509::Certificate::from_der_lenient(ders[i]);
    if (!cert) {
      findings.push_back(Finding{.code = "not_a_certificate",
                                 .severity = Severity::kLow,
                                 .detail = cert.error().message,
                                 .fingerprint = {}});
      continue;
    }
    const std::string fp = cert->info().sha256_hex;
    ++report_.certificates;
    std::vector<Finding> own;
    add_oddities(*cert, own);
    if (certificate_findings_here) {
      for (auto& f : certificate_findings(*cert, now, options_.expiring_window)) {
        own.push_back(std::move(f));
      }
    }
    findings.insert(findings.end(), own.begin(), own.end());
    known_.emplace(fp, std::move(own));
    if (!recorded.insert(fp).second) continue;  // the same certificate twice in one chain
    inventory::RecordMeta meta;
    meta.origin = inventory::Origin::kDiscovered;
    meta.team = team;
    CW_ASSIGN_OR_RETURN(const bool inserted, inventory_.record(tx, *cert, meta));
    if (inserted) report_.new_certificates.push_back(fp);
    nlohmann::json details = base_details;
    details["position"] = i;
    if (kind == "tls") details["role"] = i == 0 ? "leaf" : "chain";
    shown.push_back(fp);
    seen_here.emplace_back(fp, std::move(details));
  }
  if (keys) {
    for (const SshKey& key : *keys) {
      ++report_.ssh_keys;
      if (!recorded.insert(key.fingerprint).second) continue;
      inventory::SshKeyRecord rec{
          .fingerprint = key.fingerprint,
          .type = key.type,
          .bits = key.bits,
          .blob = key.blob,
          .certificate = key.cert ? ssh_cert_json(*key.cert) : nlohmann::json(nullptr),
          .first_seen = now};
      CW_ASSIGN_OR_RETURN(const bool inserted, sightings_.record_ssh_key(tx, rec));
      if (inserted) report_.new_ssh_keys.push_back(key.fingerprint);
      nlohmann::json details = base_details;
      details["type"] = key.type;
      details["bits"] = key.bits;
      if (!key.comment.empty()) details["comment"] = key.comment;
      if (!key.options.empty()) details["options"] = key.options;
      if (key.cert) details["certificate"] = rec.certificate;
      shown.push_back(key.fingerprint);
      seen_here.emplace_back(key.fingerprint, std::move(details));
    }
  }

  for (const auto& f : findings) ++report_.findings[f.severity];
  place["findings"] = findings_json(findings);
  if (!shown.empty()) place["leaf"] = shown.front();
  place["fingerprints"] = shown;

  // Only a place that answered can say what it no longer shows; one that failed (down, a
  // timeout, a wrong password) keeps its sightings until it answers again.
  const bool answered = !error->has_value() || !shown.empty();
  if (!error->has_value()) ++report_.reachable;
  if (kind == "file" && now <= report_.started_at) first_second_.insert(location);
  if (!answered && kind == "file") {
    // The file is there: what it showed before must not be taken for gone by finish().
    const std::string locations[] = {location};
    CW_ASSIGN_OR_RETURN(auto before, sightings_.active_at(tx, kind, locations));
    if (!before.empty()) report_.kept.push_back(location);
  }
  if (answered) {
    const std::string locations[] = {location};
    CW_ASSIGN_OR_RETURN(auto before, sightings_.active_at(tx, kind, locations));
    std::vector<std::string> gone_ids;
    std::string before_first;
    for (const auto& s : before) {
      if (s.details.value("position", -1) == 0) before_first = s.fingerprint;
      if (std::ranges::find(shown, s.fingerprint) == shown.end()) {
        gone_ids.push_back(s.id);
        report_.gone.push_back({location, s.fingerprint});
      }
    }
    CW_RETURN_IF_ERROR(sightings_.mark_gone(tx, gone_ids));
    if (!before_first.empty() && !shown.empty() && before_first != shown.front()) {
      report_.changed.push_back({location, before_first, shown.front()});
    }
    for (auto& [fp, details] : seen_here) {
      details["findings"] = findings_json(findings, fp);
      CW_RETURN_IF_ERROR(sightings_.seen(tx, kind, location, fp, details, team));
    }
  }
  add_place_locked(std::move(place));
  return ok();
}

Result<ScanReport> Recorder::checkpoint() {
  common::MutexLock lock(mu_);
  CW_RETURN_IF_ERROR(flush_locked());
  return report_;
}

Result<ScanReport> Recorder::finish() {
  common::MutexLock lock(mu_);
  CW_RETURN_IF_ERROR(flush_locked());
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  if (scope_.kind == "files" && !stopped_short_) {
    // Files under the scanned roots that this scan did not see again are gone.
    std::vector<std::string> gone_ids;
    std::set<std::string> ids;
    std::set<std::string> kept(report_.kept.begin(), report_.kept.end());
    kept.insert(scope_.kept.begin(), scope_.kept.end());
    for (const std::string& root : scope_.roots) {
      std::string dir = root;
      if (!dir.ends_with('/')) dir += '/';
      const std::string exact[] = {file_location(scope_.host, root)};
      CW_ASSIGN_OR_RETURN(auto under,
                          sightings_.active_under(*tx, "file", file_location(scope_.host, dir)));
      CW_ASSIGN_OR_RETURN(auto at, sightings_.active_at(*tx, "file", exact));
      under.insert(under.end(), at.begin(), at.end());
      for (const auto& s : under) {
        if (s.last_seen > report_.started_at || kept.contains(s.location) ||
            !ids.insert(s.id).second) {
          continue;
        }
        // Last seen in the first second: by this scan if it wrote the place then. A scan in
        // parts cannot know its earlier parts' places, and keeps the sighting.
        if (s.last_seen == report_.started_at &&
            (scope_.since || first_second_.contains(s.location))) {
          continue;
        }
        gone_ids.push_back(s.id);
        report_.gone.push_back({s.location, s.fingerprint});
      }
    }
    CW_RETURN_IF_ERROR(sightings_.mark_gone(*tx, gone_ids));
  }
  report_.finished_at = clock_.now();
  nlohmann::json summary = report_json(report_);
  summary.erase("results");
  constexpr std::size_t kListed = 100;  // the audit trail names the first; the report has all
  for (const char* list : {"new_certificates", "new_ssh_keys", "changed", "gone", "kept"}) {
    auto& v = summary[list];
    if (v.size() > kListed) {
      summary[std::string(list) + "_count"] = v.size();
      v.erase(v.begin() + static_cast<long>(kListed), v.end());
    }
  }
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{.actor = options_.actor,
                                                     .action = "discovery.scan",
                                                     .target_type = "scan",
                                                     .target_id = scope_.kind,
                                                     .details = std::move(summary)}));
  CW_RETURN_IF_ERROR(tx->commit());
  return report_;
}

}  // namespace certward::discovery
