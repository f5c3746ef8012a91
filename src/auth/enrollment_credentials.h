#pragma once
// Enrollment credentials: what a device presents when it enrolls over EST (a username and
// password in HTTP Basic), SCEP (a challenge password in its CSR) or CMP (a reference and a
// shared secret that MAC its message), before it has a certificate of its own.
//
// Each credential is bound to a team, a profile and optionally an authority and an expected
// subject common name: the RA issues under the team's grant, so a credential can never reach
// further than the team it was made for. A credential is used at most `max_uses` times (1 for
// the one-time device credentials of a factory line or an MDM's dynamic SCEP challenge; 0 for
// a static one an operator types into a router) and expires. Each use is recorded with the
// certificate it produced, in the transaction that stores the certificate: a replayed or
// concurrent request can never turn a one-time credential into two certificates.
//
// Secrets are generated here (128 bits, base64url) and shown once, at creation. EST passwords
// and SCEP challenges are kept as SHA-256 hashes (high-entropy secrets need no slow hash; the
// hash is the lookup key), CMP secrets sealed with the master key, since verifying a MAC needs
// the secret itself. Thread-safe.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "common/clock.h"
#include "crypto/crypto.h"
#include "crypto/secret_bytes.h"
#include "store/store.h"

namespace certward::auth {

// The protocol a credential is for.
enum class CredentialKind : std::uint8_t { kEst, kScep, kCmp };
std::string_view credential_kind_name(CredentialKind k);  // "est", "scep", "cmp"
std::optional<CredentialKind> parse_credential_kind(std::string_view name);

struct CredentialInfo {
  std::string id;  // "ec-<16 hex>": the EST username, the CMP reference (senderKID)
  CredentialKind kind = CredentialKind::kEst;
  std::string team;
  std::string profile;
  std::optional<std::string> authority;         // nullopt: the profile's (default) authority
  std::optional<std::string> label;             // EST label, SCEP or CMP endpoint; nullopt: any
  std::optional<std::string> expected_subject;  // the common name the CSR must carry
  int max_uses = 1;                             // 0: any number of times
  int uses = 0;
  std::optional<SysTime> expires_at;
  std::optional<std::string> batch;  // bulk creation it came from
  std::string description;
  std::string created_by;
  SysTime created_at{};
  std::optional<SysTime> last_used_at;
  std::optional<SysTime> revoked_at;

  // Whether it may be used at `now`: not revoked, not expired, uses left.
  bool usable(SysTime now) const;
  // "active", "used" (no uses left), "expired" or "revoked".
  std::string_view state(SysTime now) const;
};

struct CredentialRequest {
  CredentialKind kind = CredentialKind::kEst;
  std::string team;
  std::string profile;
  std::optional<std::string> authority;
  std::optional<std::string> label;
  std::optional<std::string> expected_subject;
  int max_uses = 1;                                      // 0..1,000,000; 0: unlimited
  std::chrono::seconds lifetime{std::chrono::days(30)};  // 1 minute .. 5 years
  std::string description;
};

struct NewCredential {
  CredentialInfo info;
  std::string secret;  // shown once, never stored in the clear (CMP: sealed), never logged
};

// A bulk creation: `count` credentials, or one per expected subject.
struct BatchRequest {
  CredentialRequest each;                      // its expected_subject is ignored
  int count = 0;                               // when `subjects` is empty; 1..10,000
  std::vector<std::string> expected_subjects;  // at most 10,000
};

struct NewBatch {
  std::string batch;
  std::vector<NewCredential> credentials;
};

struct CredentialFilter {
  std::optional<std::string> team;
  std::optional<std::string> batch;
  std::optional<CredentialKind> kind;
  int limit = 100;                   // 1..1000
  std::optional<std::string> after;  // the last id of the previous page
};

struct CredentialUse {
  std::string credential;
  std::string certificate;  // SHA-256 fingerprint, lower-case hex
  std::string channel;      // "est", "scep", "cmp"
  SysTime used_at{};
};

inline constexpr int kMaxBatch = 10'000;

class EnrollmentCredentials {
 public:
  EnrollmentCredentials(const Clock& clock, store::Database& db, const audit::AuditLog& audit,
                        const crypto::KeyWrapper& wrapper)
      : clock_(clock), db_(db), audit_(audit), wrapper_(wrapper) {}

  static Status migrate(store::Database& db);

  // Errors: kInvalidArgument (names, limits), kNotFound (no such team).
  Result<NewCredential> create(const CredentialRequest& request, std::string_view actor);
  // All or none, in one transaction with one audit event for the batch.
  Result<NewBatch> create_batch(const BatchRequest& request, std::string_view actor);
  // Ordered by id. `team`-scoped callers pass their team in the filter.
  Result<std::vector<CredentialInfo>> list(const CredentialFilter& filter) const;
  // Errors: kNotFound.
  Result<CredentialInfo> get(std::string_view id) const;
  Result<std::vector<CredentialUse>> uses(std::string_view id) const;
  // A revoked credential is refused from then on; what it enrolled stays. Errors: kNotFound,
  // kConflict (already revoked).
  Result<CredentialInfo> revoke(std::string_view id, std::string_view actor);

  // The protocols' look-ups. nullopt when nothing matches: a wrong secret and an unknown id
  // look the same to the caller, and to the client. Neither checks usability: the caller
  // does (CredentialInfo::usable), and consume() again, atomically.
  // EST: the username (the id) and password.
  Result<std::optional<CredentialInfo>> authenticate(CredentialKind kind, std::string_view id,
                                                     std::string_view secret) const;
  // SCEP: the challenge password alone.
  Result<std::optional<CredentialInfo>> find_by_secret(CredentialKind kind,
                                                       std::string_view secret) const;
  // CMP: the shared secret, to verify a MAC keyed by it.
  Result<std::optional<crypto::SecretBytes>> secret(std::string_view id) const;

  // Records one use, producing `fingerprint`, inside the caller's transaction (the one that
  // stores the certificate). Errors: kUnauthorized when it is no longer usable (revoked,
  // expired, used up by a request that committed first).
  Status consume(store::Transaction& tx, std::string_view id, std::string_view fingerprint,
                 std::string_view channel) const;

 private:
  Result<NewCredential> make(const CredentialRequest& request, std::string_view actor,
                             const std::optional<std::string>& batch) const;
  Status insert(store::Transaction& tx, const NewCredential& c) const;

  const Clock& clock_;
  store::Database& db_;
  const audit::AuditLog& audit_;
  const crypto::KeyWrapper& wrapper_;
};

}  // namespace certward::auth
