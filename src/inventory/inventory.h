#pragma once
// The certificate inventory: one record per distinct certificate (identity = SHA-256 of the
// DER), whatever its origin, with parsed fields, ownership, tags and revocation state.
//
// Writers call record() inside their own transaction so that the row, the audit event and
// whatever else the change touches commit together. Inventory is stateless besides injected
// collaborators and is safe to share between threads.

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/clock.h"
#include "store/store.h"
#include "x509/bundle.h"
#include "x509/certificate.h"

namespace certward::inventory {

enum class Origin : std::uint8_t { kIssued, kImported, kDiscovered, kUpstream };
std::string_view origin_name(Origin o);  // "issued", "imported", "discovered", "upstream"
Result<Origin> parse_origin(std::string_view s);

enum class CertStatus : std::uint8_t {
  kValid,
  kExpiring,
  kExpired,
  kRevoked,
  kSuperseded,
  kNotYetValid
};
std::string_view status_name(CertStatus s);  // "valid", "expiring", "expired", ...
Result<CertStatus> parse_status(std::string_view s);

// How far ahead a valid certificate counts as "expiring".
inline constexpr std::chrono::days kDefaultExpiringWindow{30};

struct RecordMeta {
  Origin origin = Origin::kImported;
  std::optional<std::string> authority;  // internal authority that issued it
  std::optional<std::string> profile;
  std::optional<std::string> owner;
  std::optional<std::string> team;
  std::vector<std::string> tags;
  // The enrollment front-end an issued certificate came through ("acme", "est", "renewal",
  // "rest", ...: ca::channel_name); unset for imported and discovered ones and for those issued
  // before the column existed. Reports count what came through an automated one as renewed
  // without a person.
  std::optional<std::string> channel{};
};

// Tags are case-insensitive labels: 1-64 characters from [a-z0-9._:/=+-] after lower-casing,
// stored lower-case, without duplicates, in the order first given. Errors: kInvalidArgument.
Result<std::vector<std::string>> normalize_tags(std::span<const std::string> tags);
inline constexpr std::size_t kMaxTags = 32;

// Checks owner and team (at most 256 characters, no control characters) and normalizes the
// tags, as every write path does before anything is signed or stored.
// Errors: kInvalidArgument.
Result<RecordMeta> normalize_meta(RecordMeta meta);

// A change to a certificate's ownership and labels. Unset fields stay as they are.
struct MetadataUpdate {
  std::optional<std::string> owner;              // "" clears
  std::optional<std::string> team;               // "" clears
  std::optional<std::vector<std::string>> tags;  // replaces all tags
  std::vector<std::string> add_tags;             // applied after `tags`
  std::vector<std::string> remove_tags;
  // A team-scoped editor's team: the certificate must belong to it when the row is read
  // under its lock (else kNotFound, as if absent), and may not be moved to another team or
  // to none (kUnauthorized). Checked there, not before, so a move racing with the edit
  // cannot let the editor take another team's certificate.
  std::optional<std::string> editor_team;
};

struct CertificateRecord {
  std::string fingerprint;  // SHA-256 hex of the DER
  std::string serial;       // hex
  std::string subject;
  std::string common_name;
  std::string issuer;
  std::vector<x509::SubjectAltName> sans;
  SysTime not_before{};
  SysTime not_after{};
  std::string key_algorithm;  // "rsa", "rsa-pss", "ecdsa", "ed25519", "unknown"
  int key_bits = 0;
  std::string key_curve;
  std::string signature_algorithm;
  bool is_ca = false;
  // "serverAuth", "clientAuth", ... or the dotted OID; empty for a certificate without the
  // extension (what policies' EKU rules read).
  std::vector<std::string> extended_key_usage;
  RecordMeta meta;
  std::optional<SysTime> revoked_at;
  std::optional<int> revocation_reason;  // RFC 5280 CRLReason
  std::optional<std::string> superseded_by;
  std::optional<SysTime> invalidity_date;  // when the key is known or suspected compromised
  std::string key_sha256;                  // SHA-256 of the SubjectPublicKeyInfo, hex
  SysTime created_at{};
  // When it must have been replaced (an operator asked, or its revocation is scheduled): ACME
  // renewal information tells its client to renew at once.
  std::optional<SysTime> replace_by;
  std::optional<SysTime> revoke_at;  // a scheduled revocation
  // What was odd about it when it was found (x509::Certificate::from_der_lenient): a
  // certificate from the wild is recorded anyway, and this says what certward could not read.
  std::vector<x509::ParseOddity> oddities;

  CertStatus status(SysTime now,
                    std::chrono::seconds expiring_window = kDefaultExpiringWindow) const;
};

struct Filter {
  std::optional<CertStatus> status;
  std::optional<SysTime> expires_after;   // not_after >= this
  std::optional<SysTime> expires_before;  // not_after < this
  std::optional<std::string> issuer;      // substring of the issuer DN
  std::optional<std::string> authority;   // internal authority name
  std::optional<std::string> key_algorithm;
  std::optional<int> key_bits;
  std::optional<std::string> search;  // substring of subject or any SAN (case-insensitive)
  std::optional<std::string> owner;
  std::optional<std::string> team;
  std::optional<Origin> origin;
  std::optional<std::string> tag;
  std::optional<SysTime> issued_after;     // not_before >= this
  std::optional<SysTime> issued_before;    // not_before < this
  std::optional<std::string> key_sha256;   // SHA-256 of the SubjectPublicKeyInfo, hex
  std::optional<std::string> fingerprint;  // exactly this certificate
  std::optional<bool> is_ca;               // CA certificates only, or none
};

// A certificate a revocation may touch: issued by one of certward's authorities and not yet
// revoked.
struct RevocationTarget {
  std::string fingerprint;
  std::string serial;
  std::string authority;
  std::optional<std::string> team;
  bool is_ca = false;
};

// How a certificate was revoked (RFC 5280 5.3.1 reason code; invalidity date 5.3.2).
struct RevocationMark {
  SysTime revoked_at{};
  int reason = 0;
  std::optional<SysTime> invalidity_date;
};

// One entry of an authority's CRL.
struct RevokedSerial {
  std::string serial;  // hex
  SysTime revoked_at{};
  int reason = 0;
  std::optional<SysTime> invalidity_date;
};

// What an OCSP responder needs to know of one serial number of an authority.
struct SerialStatus {
  std::string fingerprint;
  SysTime not_after{};
  std::optional<RevocationMark> revocation;  // set when revoked
};

// A revocation, as replicas learn of the ones others made.
struct RevokedRef {
  std::string authority;
  std::string serial;  // hex
  SysTime revoked_at{};
  std::string fingerprint;  // orders revocations of the same second
};

struct PageRequest {
  int limit = 50;                     // 1..1000
  std::optional<std::string> cursor;  // opaque; from Page::next_cursor of the same order
  // Latest expiry first (both orders walk the same (…, not_after, fingerprint) indexes, one
  // of them backwards, so either is a seek at any depth of a million rows).
  bool latest_first = false;
};

struct Page {
  std::vector<CertificateRecord> items;  // ordered by not_after, then fingerprint
  std::optional<std::string> next_cursor;
};
// The cursor of a page that would start right after `record`: for readers that stop inside a
// page (policies stop at a number of violations, not of certificates).
std::string cursor_after(const CertificateRecord& record, bool latest_first = false);

struct ImportItem {
  std::string source;       // file path or "stdin"
  std::string fingerprint;  // empty when the source failed
  bool inserted = false;    // false: already in the inventory
  std::optional<Error> error;
};

struct ImportReport {
  int inserted = 0;
  int duplicates = 0;
  int failed = 0;
  std::vector<ImportItem> items;
  std::int64_t files = 0;    // files read, imported or failed (import_paths)
  bool interrupted = false;  // import_paths stopped early: the files not counted were not read
  bool bulk = false;         // import_paths wrote in one bulk transaction (ImportMode)
};

// Where an import_paths run stands, after each committed batch.
struct ImportProgress {
  std::int64_t files_total = 0;  // files the walk found
  std::int64_t files_done = 0;   // committed or failed
  std::int64_t inserted = 0;
  std::int64_t duplicates = 0;
  std::int64_t failed = 0;  // files
  // A bulk import has written its rows and is building the indexes: the last, silent step.
  bool indexing = false;
};

// Which ImportItems an import keeps: one per certificate and failed file, or only the failed
// files (a million-certificate import need not hold a million items).
enum class ImportItems : std::uint8_t { kEvery, kFailuresOnly };

// How import_paths writes. Batched: a transaction per batch, so other writers (a running
// server) interleave, and a store error keeps the batches committed before it. Bulk (SQLite
// only): the whole import is one transaction that writes the rows first and builds the
// secondary indexes and the search table once at the end, several times faster for a large
// tree; other writers wait for it, and an error or a crash leaves nothing of it. Auto: bulk
// on SQLite when the tree has at least kBulkMinFiles files and at least a quarter as many
// files as the inventory has certificates (rebuilding the indexes costs in proportion to the
// whole table), else batched.
enum class ImportMode : std::uint8_t { kAuto, kBatched, kBulk };
inline constexpr std::size_t kBulkMinFiles = 10000;

struct ImportOptions {
  std::optional<std::string> pkcs12_password;
  RecordMeta meta;
  std::string actor;
  // Certificates per transaction and per audit event (and files, for a tree of failures). A
  // file is never split across transactions, so a batch ends after the file that reaches
  // this. REQUIRES: > 0.
  std::size_t batch_certificates = 4000;
  unsigned threads = 0;  // parsing threads; 0: one per core
  ImportItems items = ImportItems::kEvery;
  ImportMode mode = ImportMode::kAuto;
  // Called on the calling thread after every batch written (committed, unless bulk), once
  // after the walk, and in bulk mode once more before the indexes are built.
  std::function<void(const ImportProgress&)> on_progress;
  // Checked between batches: once true (a signal handler may set it), the import stops after
  // the batch in progress commits, and the report says interrupted.
  const std::atomic<bool>* stop = nullptr;
};

class Inventory {
 public:
  // `db` is the inventory's own handle: callers ask the inventory, never its tables.
  Inventory(const Clock& clock, store::Database& db, const audit::AuditLog& audit)
      : clock_(clock), db_(db), audit_(audit) {}

  static Status migrate(store::Database& db);

  // Inserts the certificate unless its fingerprint is present. Returns true if inserted.
  // Does not audit: the caller's change owns its audit event.
  Result<bool> record(store::Transaction& tx, const x509::Certificate& cert,
                      const RecordMeta& meta) const;

  // Full fingerprint, a unique fingerprint prefix (≥ 8 hex digits) or a serial (hex).
  // With `only_team`, only that team's certificates are looked at: what another team holds
  // neither matches nor makes an id ambiguous (a scoped requester learns nothing of it).
  // Errors: kNotFound, kConflict (ambiguous), kInvalidArgument (not hex).
  Result<CertificateRecord> resolve(std::string_view id,
                                    const std::optional<std::string>& only_team = {}) const;
  Result<std::optional<CertificateRecord>> get(std::string_view fingerprint) const;
  Result<x509::Certificate> certificate(std::string_view fingerprint) const;
  Result<Page> query(const Filter& filter, const PageRequest& page) const;
  Result<std::int64_t> count() const;
  // How many certificates have each status now (the same rule as CertificateRecord::status
  // and the status filter; every status is present, zero or not).
  Result<std::map<CertStatus, std::int64_t>> status_counts() const;
  // Unexpired, unrevoked certificates: the total first, then for each bound how many expire
  // within it (cumulative, as a Prometheus histogram counts).
  Result<std::vector<std::int64_t>> expiry_histogram(
      std::span<const std::chrono::seconds> bounds) const;
  // Changes owner, team and tags of one certificate (by full fingerprint) with one
  // "certificate.update" audit event naming what changed, in one transaction; a change that
  // changes nothing writes nothing. Team names are not checked here (the caller knows the
  // teams). Errors: kNotFound, kInvalidArgument (tags, owner or team text), store errors.
  Result<CertificateRecord> update_metadata(std::string_view fingerprint,
                                            const MetadataUpdate& update,
                                            std::string_view actor) const;

  // Records that `replacement` replaced the certificate `fingerprint` (a renewal): its status
  // becomes superseded. Inside the caller's transaction, which audits it. Errors: kNotFound,
  // kConflict (already superseded by another).
  Status mark_superseded(store::Transaction& tx, std::string_view fingerprint,
                         std::string_view replacement) const;

  // Asks for these certificates to be replaced from `replace_by` on and, with `revoke_at`,
  // schedules their revocation then with `reason`. An earlier request stands: the earliest
  // replacement time and the earliest scheduled revocation (with its reason) are kept, and a
  // request without `revoke_at` leaves a scheduled revocation alone. Inside the caller's
  // transaction.
  Status mark_for_replacement(store::Transaction& tx, std::span<const std::string> fingerprints,
                              SysTime replace_by, std::optional<SysTime> revoke_at,
                              int reason) const;
  // Certificates whose scheduled revocation is due at `now` and that are not revoked yet, at
  // most `max`, with the scheduled reason; with `lock`, locked for the caller's (write)
  // transaction.
  Result<std::vector<std::pair<RevocationTarget, int>>> due_revocations(store::Transaction& tx,
                                                                        SysTime now,
                                                                        std::size_t max,
                                                                        bool lock = true) const;

  // Revocation storage (the revocation service in src/ca decides and audits; these only
  // read and write the inventory's rows, inside the caller's transaction).
  //
  // The revocable certificates matching `filter` (issued by one of certward's authorities,
  // not revoked, not CA certificates: those go with their authority), locked for the caller's
  // transaction, in fingerprint order; at most `max`
  // (more are counted by `total`, so a caller can refuse a selection larger than it will
  // take). Filter fields used: authority, team, tag, issued window, key_sha256, owner.
  Result<std::vector<RevocationTarget>> revocable(store::Transaction& tx, const Filter& filter,
                                                  std::size_t max, std::int64_t* total) const;
  // Marks these certificates revoked. Errors: kConflict if one was revoked meanwhile.
  Status mark_revoked(store::Transaction& tx, std::span<const std::string> fingerprints,
                      const RevocationMark& mark) const;
  // An authority's revoked certificates that have not expired before `not_after_from`, for its
  // CRL; with `revoked_since`, only those revoked at or after it (a delta CRL).
  Result<std::vector<RevokedSerial>> revoked_by(std::string_view authority, SysTime not_after_from,
                                                std::optional<SysTime> revoked_since) const;
  // Whether the certificate with this fingerprint is in the inventory and revoked.
  Result<bool> is_revoked(std::string_view fingerprint) const;
  // How many certificates `authority` issued have ever been revoked: a CRL records it, and one
  // that lists fewer is out of date (revocations are final, so the count only grows).
  Result<std::int64_t> revoked_count(std::string_view authority) const;
  // The certificate `authority` issued with this serial (hex, as CertificateInfo::serial_hex),
  // if there is one.
  Result<std::optional<SerialStatus>> serial_status(std::string_view authority,
                                                    std::string_view serial_hex) const;
  // Revocations recorded at or after `since`, oldest first (then by fingerprint), at most
  // `max`; with `after` (the last of the previous page), only those that follow it. Many
  // revocations share a second (a bulk revocation shares one), so a page boundary must not
  // fall on the time alone.
  Result<std::vector<RevokedRef>> revoked_since(SysTime since, std::size_t max,
                                                const RevokedRef* after = nullptr) const;

  // Imports certificates into the inventory with one audit event each, all in one
  // transaction: either all of `certs` are recorded or none.
  Result<ImportReport> import_certificates(std::span<const x509::Certificate> certs,
                                           const RecordMeta& meta, std::string_view actor,
                                           std::string_view source) const;
  // Imports every certificate found in files or (recursively) directories: PEM, DER, P7B,
  // P12 (with `pkcs12_password`). A file that fails to parse (or is larger than 64 MiB) is
  // reported and skipped; files that parse are imported. Duplicates (same fingerprint) are
  // counted, not re-inserted.
  //
  // Files are read and parsed on `threads` threads and written by the calling thread in
  // transactions of about `batch_certificates` certificates, each with one
  // "certificate.import" audit event (target type "import") listing the fingerprints it
  // inserted. A file is all in or all out: its certificates share one transaction. A store
  // error stops the import and is returned; the batches committed before it stay. In bulk
  // mode (ImportMode) every batch shares one transaction: an error leaves nothing, and a
  // stop commits the whole files written so far. Errors: kInvalidArgument (kBulk on a
  // driver other than SQLite, batch_certificates 0, bad labels), the store's.
  Result<ImportReport> import_paths(std::span<const std::string> paths,
                                    const ImportOptions& options) const;
  Result<ImportReport> import_paths(std::span<const std::string> paths,
                                    const std::optional<std::string>& pkcs12_password,
                                    const RecordMeta& meta, std::string_view actor) const;

 private:
  class ImportBatch;
  // Whether import_paths of `files` files writes in bulk (ImportMode).
  Result<bool> bulk_mode(ImportMode mode, std::size_t files) const;

  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
};

}  // namespace certward::inventory
