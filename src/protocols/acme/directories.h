#pragma once
// The ACME directories a server serves: the default one ([acme], at /acme/directory), those of
// the configuration file ([acme.directories.<name>]) and those made through the REST API
// (/api/v1/acme/directories), each at /acme/<name>/directory.
//
// Directories made through the API live in the store (table acme_directories), so every
// replica serves them and a restart keeps them; each change is audited in the transaction that
// makes it. A replica sees another replica's change within kRefreshInterval, its own at once.
// The file's directories are fixed while the server runs: the API lists them but refuses to
// change them, and a stored directory the file later names too is shadowed by the file's.
//
// A directory's accounts, orders and EAB keys refer to it by name: deleting a directory stops
// its URLs from answering (404) and leaves its accounts in place, so that making it again under
// the same name gives them back.
//
// Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/authority.h"
#include "ca/profile.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "store/store.h"

namespace certward::protocols::acme {

// One directory as served: its settings and where it lives.
struct Directory {
  AcmeDirectorySettings settings;
  std::string prefix;  // "/acme" or "/acme/<name>"
  std::string default_profile;

  // `s` as served: its prefix from its name, its default profile made explicit.
  static Directory of(const AcmeDirectorySettings& s);
};

// A directory as the API shows it.
struct DirectoryRecord {
  AcmeDirectorySettings settings;
  bool configured = false;  // from the configuration file: read-only through the API
  // Made through the API: when and by whom (the actor of the audit event).
  std::optional<SysTime> created_at;
  std::optional<SysTime> updated_at;
  std::string created_by;
  std::string updated_by;
};

// The settings as JSON: {"name", "profiles", "default_profile", "authority",
// "external_account_required", "terms_of_service", "website", "caa_identities"} (empty strings
// and lists included, so a reader sees every field).
nlohmann::json settings_json(const AcmeDirectorySettings& s);
// A directory as the REST API and the CLI show it: its settings, "path", "configured",
// "effective_default_profile", and for a stored one when and by whom it was made and changed.
nlohmann::json directory_json(const DirectoryRecord& r);

// Whether `d`'s profiles exist and may be offered over ACME (no CA profile, no internal one)
// and its authority exists. Errors: kInvalidArgument.
Status check_usable(const AcmeDirectorySettings& d, const ca::ProfileSet& profiles,
                    ca::AuthorityService& authorities);

class Directories {
 public:
  static constexpr std::chrono::seconds kRefreshInterval{5};
  // Most directories the store may hold: each is a set of routes served to the Internet, made
  // by administrators; a runaway script is refused before it fills the table.
  static constexpr std::size_t kMaxStored = 1000;

  // Whether a directory's profiles and authority exist and may be used over ACME
  // (check_usable). Errors: kInvalidArgument.
  using Check = std::function<Status(const AcmeDirectorySettings&)>;

  Directories(const Clock& clock, store::Database& db, const AcmeSettings& settings,
              const audit::AuditLog& audit, Check check);

  // Checks the configured directories and reads the stored ones. A stored directory whose
  // profile or authority is gone is served as it is (its orders are refused by the RA) and
  // logged, so that one deleted profile does not stop the server.
  Status start();

  // The directory served under `name` ("" for the default one), or null.
  std::shared_ptr<const Directory> find(std::string_view name) const;

  // Every directory, the default first, then by name; stored ones as the store has them now.
  Result<std::vector<DirectoryRecord>> list() const;
  // Errors: kNotFound.
  Result<DirectoryRecord> get(std::string_view name) const;

  struct Put {
    DirectoryRecord record;
    bool created = false;  // false: an existing directory's settings were replaced
  };
  // Creates the directory `s.name` or replaces its settings. Errors: kInvalidArgument (a name
  // that is not allowed, settings that do not hold, a profile or authority that cannot be
  // used), kConflict (the default directory, one of the configuration file, or kMaxStored
  // reached).
  Result<Put> put(const AcmeDirectorySettings& s, std::string_view actor);
  // Errors: kNotFound, kConflict (the default directory, or one of the configuration file).
  Status remove(std::string_view name, std::string_view actor);

 private:
  using Map = std::map<std::string, std::shared_ptr<const Directory>, std::less<>>;
  struct Stored {
    Map served;
    std::vector<DirectoryRecord> records;
  };
  Result<Stored> read_stored() const;
  // Re-reads the store when the snapshot is older than kRefreshInterval (`force`: always).
  void refresh(bool force) const CW_EXCLUDES(mu_, refresh_mu_);
  Status refuse_configured(std::string_view name) const;

  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
  Check check_;
  std::shared_ptr<const Directory> default_;
  Map configured_;
  std::vector<DirectoryRecord> configured_records_;

  mutable common::Mutex mu_;
  mutable std::shared_ptr<const Map> stored_ CW_GUARDED_BY(mu_);
  mutable SysTime loaded_ CW_GUARDED_BY(mu_){};
  mutable common::Mutex refresh_mu_;  // one reader of the store at a time; taken before mu_
};

}  // namespace certward::protocols::acme
