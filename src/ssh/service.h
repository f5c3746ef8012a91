#pragma once
// The SSH certificate authority: its CAs (software keys sealed under the master key, or keys in
// a PKCS#11 token), the OpenSSH user and host certificates they sign under SSH profiles, the
// record of every certificate issued (searchable, expiring, revocable), and the KRL that
// revokes them.
//
// Issuance follows the RA's rules: the requester's scope decides (a team's requesters may use
// a profile only for the principals the profile grants their team), the profile bounds what
// the certificate says, the certificate is stored and its audit event written in one
// transaction that is committed before the certificate is returned.
//
// Thread-safe.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "crypto/crypto.h"
#include "inventory/sightings.h"
#include "ssh/ssh.h"
#include "store/store.h"

namespace certward::ssh {

struct SshAuthorityInfo {
  std::string name;
  std::string key_type;     // "ed25519", "ec-p256", ...
  std::string public_key;   // authorized_keys form: for TrustedUserCAKeys, @cert-authority
  std::string fingerprint;  // "SHA256:..."
  std::string key_storage;  // "software" or "pkcs11"
  std::optional<std::string> key_token;
  SysTime created_at{};
};

struct SshAuthorityRequest {
  std::string name;
  crypto::KeyType key_type = crypto::KeyType::kEd25519;
  std::optional<ca::TokenKeyRequest> token_key;  // none: software, sealed at rest
};

struct SshSignRequest {
  std::string profile;                   // default: ssh-user or ssh-host by type
  std::optional<std::string> authority;  // default: the profile's, else [ssh] default_authority
  std::optional<CertType> type;          // default: the profile's
  std::string public_key;                // authorized_keys form
  std::vector<std::string> principals;   // at least one
  std::optional<std::chrono::seconds> validity;  // default: the profile's
  std::optional<std::string> key_id;             // default: the requester and the principals
  std::optional<std::string> force_command;
  std::optional<std::string> source_address;      // "10.0.0.0/8,192.0.2.1"
  std::optional<std::vector<std::string>> extensions;  // default: the profile's
};

struct SshCertificateRecord {
  std::string id;  // SHA-256 of the certificate blob, hex
  std::string authority;
  std::uint64_t serial = 0;
  CertType type = CertType::kUser;
  std::string key_id;
  std::vector<std::string> principals;
  std::string key_fingerprint;
  SysTime valid_after{};
  SysTime valid_before{};
  std::string profile;
  std::optional<std::string> team;
  std::string requester;
  std::string certificate;  // OpenSSH line
  SysTime created_at{};
  std::optional<SysTime> revoked_at;
  std::optional<std::string> revocation_reason;
};

struct SshCertificateFilter {
  std::optional<std::string> search;     // a principal, key id or key fingerprint (exact)
  std::optional<std::string> authority;
  std::optional<std::string> team;       // scoped callers: always their own
  std::optional<std::chrono::seconds> expiring_within;  // valid now and ending within it
  bool include_expired = false;
  bool include_revoked = true;
  int limit = 100;  // 1..1000
};

class SshService {
 public:
  // `sightings` (may be null): where every certificate issued is also recorded as an SSH key
  // of the inventory, the table discovery fills, so scans that meet it on a host, policies
  // and reports see it as certward's own.
  SshService(const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
             const audit::AuditLog& audit, const ca::AuthorityService& authorities,
             const SshSettings& settings, const inventory::Sightings* sightings = nullptr);

  static Status migrate(store::Database& db);

  // Errors: kInvalidArgument (name, key type), kConflict (name taken), those of the token.
  Result<SshAuthorityInfo> create_authority(const SshAuthorityRequest& request,
                                            std::string_view actor);
  Result<std::vector<SshAuthorityInfo>> authorities() const;
  Result<SshAuthorityInfo> authority(std::string_view name) const;

  // The profiles in force: configured ones, and the built-ins not replaced.
  const std::vector<SshProfileSettings>& profiles() const { return profiles_; }

  // Errors: kInvalidArgument (request shape), kNotFound (profile, authority), kUnauthorized
  // (the requester's team may not use the profile or a principal), kPolicyRejected (the
  // profile refuses a principal, validity, option or extension; the key), kUnavailable.
  Result<SshCertificateRecord> sign(const SshSignRequest& request, const ca::Requester& requester,
                                    ca::Channel channel);

  Result<std::vector<SshCertificateRecord>> list(const SshCertificateFilter& filter) const;
  // `id`: the record's id (hex SHA-256 of the certificate). Errors: kNotFound.
  Result<SshCertificateRecord> get(std::string_view id) const;
  // Audited. A scoped requester may revoke only its team's. Errors: kNotFound, kConflict
  // (already revoked), kUnauthorized.
  Result<SshCertificateRecord> revoke(std::string_view id, std::string_view reason,
                                      const ca::Requester& requester);
  // The KRL of one SSH CA: every certificate it signed that is revoked and not yet expired.
  // Errors: kNotFound.
  Result<Bytes> krl(std::string_view authority) const;

 private:
  struct Loaded {
    SshAuthorityInfo info;
    std::shared_ptr<const crypto::Signer> signer;
  };
  Result<std::shared_ptr<const Loaded>> load(const std::string& name);
  Result<const SshProfileSettings*> profile(const std::string& name) const;

  const Clock& clock_;
  store::Database& db_;
  const crypto::KeyWrapper& wrapper_;
  const audit::AuditLog& audit_;
  const ca::AuthorityService& authorities_;
  const SshSettings& settings_;
  const inventory::Sightings* sightings_;
  std::vector<SshProfileSettings> profiles_;
  common::Mutex mu_;
  std::map<std::string, std::shared_ptr<const Loaded>, std::less<>> loaded_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::ssh
