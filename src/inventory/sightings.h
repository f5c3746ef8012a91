#pragma once
// Where certificates were seen: one row per (kind, location, certificate), with first and last
// seen, and `gone_at` once the place no longer shows it (the endpoint serves another, the file
// is gone). Discovery writes them; the inventory keeps them beside the certificates they name.
//
// Locations are texts the writer chooses and keeps stable: "127.0.0.1:443#www.example" for a
// TLS endpoint (address, port, SNI), "web1:/etc/ssl/site.pem" for a file (host and path).
// Writers call these inside their own transaction. Stateless besides the injected clock and
// database; safe to share between threads.

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "store/store.h"

namespace certward::inventory {

struct Sighting {
  std::string id;
  std::string fingerprint;
  std::string kind;  // "tls", "file"
  std::string location;
  nlohmann::json details =
      nlohmann::json::object();     // what the place showed (protocol, format, ...)
  std::optional<std::string> team;  // from ownership rules
  SysTime first_seen{};
  SysTime last_seen{};
  std::optional<SysTime> gone_at;
  bool active() const { return !gone_at; }
};

enum class SeenAs : std::uint8_t {
  kNew,       // first time this certificate is seen at this place
  kStill,     // seen there before, and still
  kReturned,  // seen there before, then gone, now back
};

// An SSH host key, user key or certificate found by discovery: machine identities beyond
// X.509, sighted like certificates (kinds "ssh", "authorized_keys", "known_hosts").
struct SshKeyRecord {
  std::string fingerprint;  // "SHA256:..."
  std::string type;
  int bits = 0;
  Bytes blob;
  nlohmann::json certificate;  // null, or the certificate's fields
  SysTime first_seen{};
};

struct SightingFilter {
  std::optional<std::string> fingerprint;
  std::optional<std::string> kind;
  std::optional<std::string> location_prefix;
  std::optional<std::string> team;
  bool active_only = false;
};

// A sighting first seen at its place, and what that place showed before it, if anything.
struct PlaceChange {
  Sighting sighting;
  std::optional<std::string> previous;  // the fingerprint the place showed last before it
};

class Sightings {
 public:
  Sightings(const Clock& clock, store::Database& db) : clock_(clock), db_(db) {}

  // Records that the certificate `fingerprint` (already in the inventory) was seen at (kind,
  // location) now, with these details; a place seen again gets its details, team and last seen
  // updated and is no longer gone. Errors: kInvalidArgument (empty kind or location), store
  // errors.
  Result<SeenAs> seen(store::Transaction& tx, std::string_view kind, std::string_view location,
                      std::string_view fingerprint, const nlohmann::json& details,
                      const std::optional<std::string>& team) const;

  // The active sightings of `kind` at exactly these locations, or (with `prefix`) at
  // locations starting with it: what a scan of that scope expects to find again.
  Result<std::vector<Sighting>> active_at(store::Transaction& tx, std::string_view kind,
                                          std::span<const std::string> locations) const;
  Result<std::vector<Sighting>> active_under(store::Transaction& tx, std::string_view kind,
                                             std::string_view prefix) const;

  // The sightings of `kind` first seen at `since` (whole seconds) or later, oldest first and
  // then by id, after (first_seen, id) = `after` when given; at most `limit` (1..1000). Each
  // with the certificate its place showed before it (the one last seen there), if any: the
  // changes alerts report. Errors: kInvalidArgument (limit), store errors.
  Result<std::vector<PlaceChange>> first_seen_since(
      store::Transaction& tx, std::string_view kind, SysTime since,
      const std::optional<std::pair<SysTime, std::string>>& after, int limit) const;

  // Marks these sightings gone now.
  Status mark_gone(store::Transaction& tx, std::span<const std::string> ids) const;

  // Inserts the SSH key unless its fingerprint is present. Returns true if inserted.
  Result<bool> record_ssh_key(store::Transaction& tx, const SshKeyRecord& key) const;
  Result<std::optional<SshKeyRecord>> ssh_key(std::string_view fingerprint) const;
  // SSH keys in fingerprint order after `after` (empty: from the first), at most `limit`
  // (1..1000), each with the team of its sightings (the least, when places of several teams
  // show it): what policies walk. The blob and certificate fields are left empty.
  // With `team`, only keys one of whose sightings is that team's.
  struct SshKeySummary {
    SshKeyRecord key;
    std::optional<std::string> team;
  };
  Result<std::vector<SshKeySummary>> ssh_keys_after(std::string_view after, int limit,
                                                    const std::optional<std::string>& team) const;

  // Newest last seen first; at most `limit` (1..1000).
  Result<std::vector<Sighting>> list(const SightingFilter& filter, int limit) const;

 private:
  const Clock& clock_;
  store::Database& db_;
};

}  // namespace certward::inventory
