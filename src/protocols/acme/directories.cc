#include "protocols/acme/directories.h"

#include <algorithm>
#include <set>

#include "common/log.h"

namespace certward::protocols::acme {
namespace {

constexpr const char* kColumns = "name, settings, created_at, created_by, updated_at, updated_by";

// Settings as this module stored them: a row that does not parse back is skipped and logged
// (a bug or a hand edit), never served half-read.
std::optional<AcmeDirectorySettings> settings_from_row(const std::string& name,
                                                       const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  AcmeDirectorySettings s;
  s.name = name;
  auto text_of = [&](const char* key, std::string& out) {
    if (auto it = j.find(key); it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  auto list_of = [&](const char* key, std::vector<std::string>& out) {
    out.clear();
    if (auto it = j.find(key); it != j.end() && it->is_array()) {
      for (const auto& v : *it) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
  };
  list_of("profiles", s.profiles);
  text_of("default_profile", s.default_profile);
  text_of("authority", s.authority);
  if (auto it = j.find("external_account_required"); it != j.end() && it->is_boolean())
    s.external_account_required = it->get<bool>();
  text_of("terms_of_service", s.terms_of_service);
  text_of("website", s.website);
  list_of("caa_identities", s.caa_identities);
  if (!validate_acme_directory(s, "acme_directories." + name)) return std::nullopt;
  return s;
}

// A URL served in the directory's meta and shown by clients: http(s), a host, no user
// information, and printable ASCII without quotes or angle brackets.
bool url_ok(std::string_view url) {
  if (url.empty()) return true;
  if (url.size() > 2048) return false;
  const std::size_t scheme = url.starts_with("https://") ? 8 : url.starts_with("http://") ? 7 : 0;
  if (scheme == 0) return false;
  const std::string_view rest = url.substr(scheme);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  return std::all_of(url.begin(), url.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '"' && c != '<' && c != '>' && c != '\\' && c != '`';
  });
}

// A CAA identity (RFC 8659 4.2): a domain name, lower case, labels of 1 to 63 characters.
bool caa_identity_ok(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t start = 0;
  while (start <= d.size()) {
    const std::size_t dot = std::min(d.find('.', start), d.size());
    const std::string_view label = d.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        }))
      return false;
    start = dot + 1;
  }
  return true;
}

// What an administrator sends, beyond the configuration file's checks: the settings are
// served in every directory document.
Status check_values(const AcmeDirectorySettings& s) {
  auto bad = [](std::string what) { return fail(ErrorCode::kInvalidArgument, std::move(what)); };
  if (s.profiles.size() > 32) return bad("profiles: at most 32");
  if (s.caa_identities.size() > 32) return bad("caa_identities: at most 32");
  for (const auto& p : s.profiles) {
    if (p.empty() || p.size() > 128) return bad("profiles: names of 1 to 128 characters");
  }
  if (std::set<std::string>(s.profiles.begin(), s.profiles.end()).size() != s.profiles.size())
    return bad("profiles: each profile once");
  for (const auto& d : s.caa_identities) {
    if (!caa_identity_ok(d)) return bad("caa_identities: lower-case domain names");
  }
  if (std::set<std::string>(s.caa_identities.begin(), s.caa_identities.end()).size() !=
      s.caa_identities.size())
    return bad("caa_identities: each name once");
  if (!url_ok(s.terms_of_service) || !url_ok(s.website))
    return bad(
        "terms_of_service and website: http(s) URLs with a host and no user information, "
        "in printable ASCII without quotes or angle brackets, at most 2048 characters");
  if (s.authority.size() > 128) return bad("authority: at most 128 characters");
  return ok();
}

DirectoryRecord configured(const AcmeDirectorySettings& s) {
  DirectoryRecord r;
  r.settings = s;
  r.configured = true;
  return r;
}

}  // namespace

Status check_usable(const AcmeDirectorySettings& d, const ca::ProfileSet& profiles,
                    ca::AuthorityService& authorities) {
  for (const auto& name : d.profiles) {
    auto p = profiles.find(name);
    if (!p) return fail(ErrorCode::kInvalidArgument, "no profile '" + name + "'");
    if ((*p)->ca || (*p)->internal)
      return fail(ErrorCode::kInvalidArgument,
                  "profile '" + name + "' cannot be offered over ACME");
  }
  if (!d.authority.empty()) {
    auto a = authorities.info(d.authority);
    if (!a) return fail(ErrorCode::kInvalidArgument, "no authority '" + d.authority + "'");
    // ACME orders end-entity certificates, which a root never signs.
    if (a->kind == ca::AuthorityKind::kRoot)
      return fail(ErrorCode::kInvalidArgument,
                  "authority '" + d.authority + "' is a root, which signs only CA certificates");
  }
  return ok();
}

Directory Directory::of(const AcmeDirectorySettings& s) {
  Directory d{s, s.name.empty() ? "/acme" : "/acme/" + s.name, s.default_profile};
  if (d.default_profile.empty() && !s.profiles.empty()) d.default_profile = s.profiles.front();
  return d;
}

nlohmann::json settings_json(const AcmeDirectorySettings& s) {
  return {{"name", s.name},
          {"profiles", s.profiles},
          {"default_profile", s.default_profile},
          {"authority", s.authority},
          {"external_account_required", s.external_account_required},
          {"terms_of_service", s.terms_of_service},
          {"website", s.website},
          {"caa_identities", s.caa_identities}};
}

nlohmann::json directory_json(const DirectoryRecord& r) {
  const Directory served = Directory::of(r.settings);
  nlohmann::json j = settings_json(r.settings);
  j["configured"] = r.configured;
  j["path"] = served.prefix + "/directory";
  // What the directory offers when it names no default: the first of its profiles.
  j["effective_default_profile"] = served.default_profile;
  if (r.created_at) j["created_at"] = format_time(*r.created_at);
  if (r.updated_at) j["updated_at"] = format_time(*r.updated_at);
  if (!r.created_by.empty()) j["created_by"] = r.created_by;
  if (!r.updated_by.empty()) j["updated_by"] = r.updated_by;
  return j;
}

Directories::Directories(const Clock& clock, store::Database& db, const AcmeSettings& settings,
                         const audit::AuditLog& audit, Check check)
    : clock_(clock),
      db_(db),
      audit_(audit),
      check_(std::move(check)),
      default_(std::make_shared<const Directory>(Directory::of(settings.directory))),
      stored_(std::make_shared<const Map>()) {
  configured_records_.push_back(configured(settings.directory));
  for (const auto& [name, d] : settings.directories) {
    configured_.emplace(name, std::make_shared<const Directory>(Directory::of(d)));
    configured_records_.push_back(configured(d));
  }
}

Status Directories::start() {
  for (const auto& r : configured_records_) {
    const std::string where =
        r.settings.name.empty() ? "[acme]" : "[acme.directories." + r.settings.name + "]";
    if (auto s = check_(r.settings); !s)
      return fail(s.error().code, where + ": " + s.error().message);
  }
  CW_ASSIGN_OR_RETURN(auto stored, read_stored());
  for (const auto& r : stored.records) {
    if (configured_.contains(r.settings.name)) {
      log::warn("acme_directory_shadowed",
                {{"directory", r.settings.name},
                 {"detail", "the configuration file's directory of this name is served"}});
    } else if (auto s = check_(r.settings); !s) {
      log::warn("acme_directory_unusable",
                {{"directory", r.settings.name}, {"error", s.error().message}});
    }
  }
  common::MutexLock lock(mu_);
  stored_ = std::make_shared<const Map>(std::move(stored.served));
  loaded_ = clock_.now();
  return ok();
}

Result<Directories::Stored> Directories::read_stored() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(std::string("SELECT ") + kColumns +
                                           " FROM acme_directories ORDER BY name"));
  Stored out;
  for (const auto& row : rows) {
    auto s = settings_from_row(row.text(0), row.text(1));
    if (!s) {
      log::error("acme_directory_unreadable", {{"directory", row.text(0)}});
      continue;
    }
    DirectoryRecord r{*s,          false,      from_unix(row.int64(2)), from_unix(row.int64(4)),
                      row.text(3), row.text(5)};
    if (!configured_.contains(r.settings.name))
      out.served.emplace(r.settings.name, std::make_shared<const Directory>(Directory::of(*s)));
    out.records.push_back(std::move(r));
  }
  return out;
}

void Directories::refresh(bool force) const {
  auto fresh = [&] {
    common::MutexLock lock(mu_);
    return clock_.now() - loaded_ < kRefreshInterval;
  };
  if (!force && fresh()) return;
  // One reader at a time; the requests that waited for it find the snapshot fresh. A forced
  // read (after this replica's own change) waits for a read under way, which may have begun
  // before the change was committed, and then reads again.
  common::MutexLock reading(refresh_mu_);
  if (!force && fresh()) return;
  auto stored = read_stored();
  common::MutexLock lock(mu_);
  if (!stored) {
    // Keep serving the last snapshot; try again after the interval, not on every request.
    log::error("acme_directories_not_read", {{"error", stored.error().message}});
    loaded_ = clock_.now();
    return;
  }
  stored_ = std::make_shared<const Map>(std::move(stored->served));
  loaded_ = clock_.now();
}

std::shared_ptr<const Directory> Directories::find(std::string_view name) const {
  if (name.empty()) return default_;
  if (auto it = configured_.find(name); it != configured_.end()) return it->second;
  refresh(false);
  std::shared_ptr<const Map> stored;
  {
    common::MutexLock lock(mu_);
    stored = stored_;
  }
  if (auto it = stored->find(name); it != stored->end()) return it->second;
  return nullptr;
}

Result<std::vector<DirectoryRecord>> Directories::list() const {
  CW_ASSIGN_OR_RETURN(auto stored, read_stored());
  std::vector<DirectoryRecord> out = configured_records_;
  for (auto& r : stored.records) {
    if (!configured_.contains(r.settings.name)) out.push_back(std::move(r));
  }
  std::sort(out.begin() + 1, out.end(),
            [](const auto& a, const auto& b) { return a.settings.name < b.settings.name; });
  return out;
}

Result<DirectoryRecord> Directories::get(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto all, list());
  for (auto& r : all) {
    if (r.settings.name == name) return std::move(r);
  }
  return fail(ErrorCode::kNotFound, "no ACME directory '" + std::string(name) + "'");
}

Status Directories::refuse_configured(std::string_view name) const {
  if (name.empty() || configured_.contains(name))
    return fail(ErrorCode::kConflict, "the ACME directory '" + std::string(name) +
                                          "' is set in the configuration file; change it there");
  return ok();
}

Result<Directories::Put> Directories::put(const AcmeDirectorySettings& s, std::string_view actor) {
  if (!acme_directory_name_ok(s.name))
    return fail(ErrorCode::kInvalidArgument,
                "'" + s.name +
                    "' is not a directory name (a-z, 0-9, '-', '_', at most 64; not "
                    "a resource word such as 'order')");
  CW_RETURN_IF_ERROR(refuse_configured(s.name));
  if (auto v = validate_acme_directory(s, "acme directory " + s.name); !v)
    return fail(ErrorCode::kInvalidArgument, v.error().message);
  CW_RETURN_IF_ERROR(check_values(s));
  CW_RETURN_IF_ERROR(check_(s));

  const SysTime now = clock_.now();
  const std::string text = settings_json(s).dump();
  Put out;
  out.record.settings = s;
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_ASSIGN_OR_RETURN(auto existing, tx->query_one(std::string("SELECT ") + kColumns +
                                                       " FROM acme_directories WHERE name = ?",
                                                   store::params(s.name)));
  if (existing) {
    CW_RETURN_IF_ERROR(tx->execute(
        "UPDATE acme_directories SET settings = ?, updated_at = ?, updated_by = ? WHERE name = ?",
        store::params(text, to_unix(now), actor, s.name)));
    out.record.created_at = from_unix(existing->int64(2));
    out.record.created_by = existing->text(3);
  } else {
    CW_ASSIGN_OR_RETURN(auto count, tx->query_one("SELECT COUNT(*) FROM acme_directories"));
    if (count && static_cast<std::size_t>(count->int64(0)) >= kMaxStored)
      return fail(ErrorCode::kConflict,
                  "at most " + std::to_string(kMaxStored) + " ACME directories may be stored");
    CW_RETURN_IF_ERROR(tx->execute(
        "INSERT INTO acme_directories (name, settings, created_at, created_by, updated_at, "
        "updated_by) VALUES (?, ?, ?, ?, ?, ?)",
        store::params(s.name, text, to_unix(now), actor, to_unix(now), actor)));
    out.created = true;
    out.record.created_at = now;
    out.record.created_by = std::string(actor);
  }
  out.record.updated_at = now;
  out.record.updated_by = std::string(actor);
  audit::Event e{std::string(actor),
                 out.created ? "acme.directory.create" : "acme.directory.update", "acme_directory",
                 s.name, settings_json(s)};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  refresh(true);
  return out;
}

Status Directories::remove(std::string_view name, std::string_view actor) {
  CW_RETURN_IF_ERROR(refuse_configured(name));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_ASSIGN_OR_RETURN(
      auto row,
      tx->query_one("SELECT settings FROM acme_directories WHERE name = ?", store::params(name)));
  if (!row) return fail(ErrorCode::kNotFound, "no ACME directory '" + std::string(name) + "'");
  CW_RETURN_IF_ERROR(
      tx->execute("DELETE FROM acme_directories WHERE name = ?", store::params(name)));
  audit::Event e{std::string(actor), "acme.directory.delete", "acme_directory", std::string(name),
                 nlohmann::json::object()};
  if (auto j = nlohmann::json::parse(row->text(0), nullptr, false); j.is_object())
    e.details = {{"settings", j}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  refresh(true);
  return ok();
}

}  // namespace certward::protocols::acme
