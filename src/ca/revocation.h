#pragma once
// The revocation service: the one place that revokes. Every front-end (REST, CLI, ACME's
// revokeCert, EST/SCEP/CMP, the lifecycle engine) fills in a request and calls it; it decides
// what the requester may revoke, records the revocation in the inventory with one audit event
// per certificate in one transaction, and then tells its observers (CRL and OCSP refresh).
//
// Only certificates issued by certward's own authorities can be revoked: a CRL or OCSP
// answer about anyone else's would be worthless. A revoked authority signs nothing more and
// its parent's CRL (an ARL) lists it.
//
// Thread-safe.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "inventory/inventory.h"
#include "x509/crl.h"

namespace certward::ca {

// RFC 5280 5.3.1 CRLReason, as CRLs and OCSP write it. certificateHold (6) and removeFromCRL
// (8) are never used here: a revocation is final (parse_revocation_reason refuses them).
using RevocationReason = x509::CrlReason;
// RFC 5280's spelling, as x509::crl_reason_name: "keyCompromise", ...
std::string_view revocation_reason_name(RevocationReason r);
// Accepts the RFC 5280 names ("keyCompromise", any case, '-' or '_' allowed) and the codes
// ("1"). Errors: kInvalidArgument (unknown, or hold/removeFromCRL).
Result<RevocationReason> parse_revocation_reason(std::string_view text);
// The name of a stored reason code ("unspecified" for unknown codes).
std::string_view revocation_reason_name(int code);

struct RevokeRequest {
  std::string id;  // fingerprint, unique fingerprint prefix or serial (hex)
  RevocationReason reason = RevocationReason::kUnspecified;
  // When the key is known or suspected to have been compromised: not after now.
  std::optional<SysTime> invalidity_date;
  Requester requester;
  Channel channel = Channel::kCli;
};

// Which certificates a bulk revocation takes: every field set narrows it; at least one must
// be set (nothing would mean every certificate certward ever issued).
struct RevocationSelection {
  std::optional<std::string> authority;
  std::optional<std::string> team;
  std::optional<std::string> tag;
  std::optional<SysTime> issued_after;    // notBefore >= this
  std::optional<SysTime> issued_before;   // notBefore < this
  std::optional<std::string> key_sha256;  // SHA-256 of the SubjectPublicKeyInfo, hex
};

struct BulkRevokeRequest {
  RevocationSelection selection;
  RevocationReason reason = RevocationReason::kUnspecified;
  std::optional<SysTime> invalidity_date;
  Requester requester;
  Channel channel = Channel::kCli;
  bool dry_run = false;
  // What a dry run showed: the revocation goes ahead only if exactly this many certificates
  // match now, so a stale dry run cannot revoke more (or other) than was shown. Required
  // unless dry_run.
  std::optional<std::int64_t> expected_count;
  // A scheduled revocation: the certificates are revoked at this (future) time, by the
  // recurring job kScheduledJobKind, and until then their replacement is asked for at once
  // (ACME renewal information tells their clients to renew now).
  std::optional<SysTime> at;
  // Only ask for the certificates to be replaced ("replace everything from this CA"):
  // nothing is revoked. Excludes `at`.
  bool replace_only = false;
};

struct BulkRevokeResult {
  std::int64_t matched = 0;
  bool revoked = false;    // false for a dry run, a scheduled revocation and a replacement
  bool scheduled = false;  // marked for replacement (and with `at`, revocation then)
  std::vector<inventory::RevocationTarget> certificates;  // what matched (and was revoked)
};

// Told of every authority whose CRL and OCSP answers changed, after the change is durable.
using RevocationObserver = std::function<void(const std::string& authority)>;

class RevocationService {
 public:
  // The most certificates one bulk revocation takes (one transaction).
  static constexpr std::size_t kMaxBulk = 100'000;

  RevocationService(const Clock& clock, store::Database& db, AuthorityService& authorities,
                    const inventory::Inventory& inventory, const audit::AuditLog& audit)
      : clock_(clock), db_(db), authorities_(authorities), inventory_(inventory), audit_(audit) {}

  // Revokes one certificate. A team-scoped requester revokes only its team's certificates
  // (others are absent to it). Errors: kNotFound, kInvalidArgument (not issued by certward,
  // bad invalidity date, a CA certificate: revoke_authority revokes those), kConflict
  // (already revoked), kUnavailable.
  Result<inventory::CertificateRecord> revoke(const RevokeRequest& request);

  // Revokes (or with dry_run, lists) every revocable certificate matching the selection, in
  // one transaction: all of them or none. A scoped requester's selection is limited to its
  // team. CA certificates are never taken (revoke_authority). Errors: kInvalidArgument (empty
  // selection, no expected_count), kConflict (expected_count differs from what matches now),
  // kPolicyRejected (more than kMaxBulk match), kUnavailable.
  Result<BulkRevokeResult> revoke_bulk(const BulkRevokeRequest& request);

  // Revokes every certificate whose scheduled revocation is due (revoke_bulk with `at`), with
  // the reason it was scheduled with, at most kMaxBulk a call; returns how many. The recurring
  // job kScheduledJobKind calls it.
  Result<std::int64_t> revoke_due();
  static constexpr std::string_view kScheduledJobKind = "revocation.scheduled";

  // Revokes a subordinate authority: its certificate is revoked (its parent's CRL lists it)
  // and the authority is marked revoked, so it signs nothing more; certificates it issued
  // stay as they are (revoke them in bulk with selection.authority if they must go too).
  // Roots cannot be revoked this way (nobody above them publishes a CRL): disable them.
  // Errors: kNotFound, kInvalidArgument (a root, imported without a parent), kConflict.
  Result<AuthorityInfo> revoke_authority(const std::string& name, RevocationReason reason,
                                         const std::optional<SysTime>& invalidity_date,
                                         const Requester& requester);

  // REQUIRES: no revocation is running (set before serving).
  void set_observer(RevocationObserver observer) { observer_ = std::move(observer); }
  // Where certificates of upstream CAs (origin "upstream") are revoked: revoke() asks the
  // issuer that made one to revoke it there, and records the revocation once it has. Without,
  // they cannot be revoked. REQUIRES: as set_observer; `issuers` outlives this service.
  void set_issuers(IssuerDirectory* issuers) { issuers_ = issuers; }

 private:
  Status check_invalidity(const std::optional<SysTime>& invalidity, SysTime now) const;
  Result<inventory::CertificateRecord> revoke_upstream(const RevokeRequest& r,
                                                       const inventory::CertificateRecord& record,
                                                       SysTime now);
  audit::Event event_for(const inventory::RevocationTarget& t, RevocationReason reason,
                         const std::optional<SysTime>& invalidity, const Requester& requester,
                         Channel channel, const std::optional<std::string>& bulk) const;
  void notify(const std::vector<std::string>& authorities) const;
  // Marks the targets for replacement (and scheduled revocation) with their audit events.
  Status schedule(store::Transaction& tx, const std::vector<inventory::RevocationTarget>& targets,
                  const BulkRevokeRequest& r, SysTime now) const;

  const Clock& clock_;
  store::Database& db_;
  AuthorityService& authorities_;
  const inventory::Inventory& inventory_;
  const audit::AuditLog& audit_;
  RevocationObserver observer_;
  IssuerDirectory* issuers_ = nullptr;
};

}  // namespace certward::ca
