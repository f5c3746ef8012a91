#pragma once
// CRL publication (RFC 5280 section 5): each authority's full CRL and, when enabled, its delta
// CRLs, numbered from one sequence per authority, signed by the authority's own key, stored in
// the database and served from memory by every replica.
//
// Generation runs as recurring work on the leased jobs table (kJobKind), so with several
// replicas one generates at a time; a revocation moves that work to now (the server does it
// from the revocation service's observer). publish() decides what is due from the database
// alone, so it is idempotent and a replica that crashed mid-way leaves nothing half-published:
// a CRL and its number are stored in one transaction, under a lock on the authority's row.
//
// What is due for an authority (its CrlSettings, RevocationSettings::crl_for):
// - a full CRL when there is none, when `interval` has passed since the last one, or, with
//   on_revoke = "full", when it lists fewer revocations than the authority has had;
// - a delta CRL (delta_interval > 0) when there is none for the current full CRL, when
//   `delta_interval` has passed, or when it lists fewer revocations than there have been.
// A delta CRL lists what was revoked since its base full CRL was generated (with a margin for
// replicas' clocks and transactions still committing: an entry listed twice is harmless, one
// missed is not), and the full CRL points at it with freshestCRL. Entries of certificates that
// have expired are left out (RFC 5280 3.3).
//
// Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ca/authority.h"
#include "common/config.h"
#include "common/mutex.h"
#include "inventory/inventory.h"
#include "store/store.h"

namespace certward::ca {

// One published CRL, as stored and served.
struct PublishedCrl {
  std::string authority;
  std::uint64_t number = 0;  // cRLNumber
  bool delta = false;
  std::uint64_t base_number = 0;  // a delta CRL's base full CRL
  SysTime this_update{};
  SysTime next_update{};
  std::int64_t entries = 0;
  // How many of the authority's certificates had been revoked when it was generated (all
  // time, expired ones included): a later count says the CRL is out of date.
  std::int64_t revoked_count = 0;
  Bytes der;
  std::string etag;  // strong entity tag: "\"<sha-256 of der, hex, 32 digits>\""
};

// What one publish() generated.
struct CrlPublication {
  std::optional<std::uint64_t> full;   // the number of the full CRL generated, if one was
  std::optional<std::uint64_t> delta;  // the number of the delta CRL generated, if one was
};

class CrlPublisher {
 public:
  // The recurring work that publishes every authority's due CRLs.
  static constexpr std::string_view kJobKind = "crl.publish";

  CrlPublisher(const Clock& clock, store::Database& db, AuthorityService& authorities,
               const inventory::Inventory& inventory, const RevocationSettings& settings,
               const CaSettings& ca)
      : clock_(clock),
        db_(db),
        authorities_(authorities),
        inventory_(inventory),
        settings_(settings),
        ca_(ca) {}

  static Status migrate(store::Database& db);

  // Generates what is due for `authority` (see above). Errors: kNotFound; kPolicyRejected
  // (revoked, or its certificate lacks cRLSign); kBadPassword; kUnavailable.
  Result<CrlPublication> publish(std::string_view authority);
  // publish() for every authority that is not revoked. One that fails does not stop the
  // others; the first error is returned once all were tried.
  Status publish_all();

  // The newest full (or delta) CRL of `authority`; nullptr when none was published yet.
  // From memory: the database is asked again once revocation.refresh_interval has passed since
  // this process last asked, and what this process publishes is seen at once.
  Result<std::shared_ptr<const PublishedCrl>> current(std::string_view authority, bool delta)
      CW_EXCLUDES(mu_);

  // Where an authority's delta CRLs are published ("" without ca.crl_base_url).
  std::string delta_url(std::string_view authority) const;

 private:
  struct Cached {
    std::shared_ptr<const PublishedCrl> crl;
    SysTime checked_at{};
  };
  Result<std::shared_ptr<const PublishedCrl>> load_latest(std::string_view authority,
                                                          bool delta) const;
  void remember(const std::shared_ptr<const PublishedCrl>& crl) CW_EXCLUDES(mu_);

  const Clock& clock_;
  store::Database& db_;
  AuthorityService& authorities_;
  const inventory::Inventory& inventory_;
  const RevocationSettings& settings_;
  const CaSettings& ca_;

  common::Mutex mu_;
  std::map<std::pair<std::string, bool>, Cached, std::less<>> cache_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::ca
