#pragma once
// Internal certificate authorities: roots, intermediates and issuing CAs, their certificates,
// chains and keys (sealed at rest under the master key).

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/issuer.h"
#include "common/config.h"
#include "common/mutex.h"
#include "crypto/crypto.h"
#include "crypto/pkcs11.h"
#include "inventory/inventory.h"
#include "store/store.h"
#include "x509/builder.h"
#include "x509/certificate.h"
#include "x509/crl.h"
#include "x509/ocsp.h"

namespace certward::ca {

enum class AuthorityKind : std::uint8_t { kRoot, kIntermediate, kIssuing };
std::string_view authority_kind_name(AuthorityKind k);  // "root", "intermediate", "issuing"
Result<AuthorityKind> parse_authority_kind(std::string_view s);

struct AuthorityInfo {
  std::string name;
  AuthorityKind kind = AuthorityKind::kIssuing;
  std::optional<std::string> parent;  // internal parent, if any
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;  // issuers above it, nearest first; empty for a root
  std::string key_type;                  // "ec-p384", ...
  bool imported = false;
  std::string status = "active";
  SysTime created_at{};
  // "software" (sealed under the master key) or "pkcs11" (held in a token, which is named).
  std::string key_storage = "software";
  std::optional<std::string> key_token;  // pkcs11: the token's label
  std::optional<std::string> key_label;  // pkcs11: the key's label in it
};

// A new authority's key in a PKCS#11 token (docs/hsm.md): generated there, or an existing key
// bound by its label or id.
struct TokenKeyRequest {
  std::string token;      // token label
  std::string label;      // the key's label; default "certward-<authority>" when generated
  std::string id_hex;     // an existing key's CKA_ID
  bool existing = false;  // bind a key already in the token instead of generating one
  // Local (CLI) use only: the library and PIN source to use instead of [ca.pkcs11]. The REST
  // API never sets them: a remote caller may not choose a library to load or a file to read.
  std::optional<std::string> module;
  std::optional<std::string> pin_source;
};

// A certificate for an authority's own subject and key issued by another CA (RFC 5280 3.2):
// it lets relying parties that trust that CA reach the authority, so a client may be handed
// an alternate chain through it (ACME's Link rel="alternate", RFC 8555 7.4.2).
struct CrossCertificate {
  std::string authority;  // the authority whose name and key it certifies
  x509::Certificate certificate;
  // The other CA's certificates above it, nearest first, as given (a trailing root included).
  std::vector<x509::Certificate> chain;
  SysTime created_at{};
  const std::string& fingerprint() const { return certificate.info().sha256_hex; }
};

// Where certificates point relying parties: CDP, OCSP and caIssuers URLs.
struct DistributionUrls {
  std::vector<std::string> crl;
  std::vector<std::string> ocsp;
  std::vector<std::string> ca_issuers;
};
DistributionUrls distribution_urls(const CaSettings& settings, std::string_view authority);

// A loaded authority, ready to sign: certward's own Issuer. Immutable; shared between threads.
class Authority final : public Issuer {
 public:
  Authority(AuthorityInfo info, std::shared_ptr<const crypto::Signer> signer, DistributionUrls urls)
      : info_(std::move(info)), signer_(std::move(signer)), urls_(std::move(urls)) {}
  const AuthorityInfo& info() const { return info_; }
  const std::string& name() const override { return info_.name; }
  const x509::Certificate& certificate() const { return info_.certificate; }
  const std::vector<x509::Certificate>& chain() const { return info_.chain; }

  // Builds the certificate the order describes under this authority (serial, validity within
  // its own, path length within its own, its CRL/OCSP/caIssuers URLs), has the linter pass it
  // (including the name constraints of every CA above it) and signs it.
  Result<IssuedChain> issue(const Order& order) const override;

  // Signs this authority's CRL (the template's issuer is set here). Errors: as x509::build_crl.
  Result<Bytes> sign_crl(x509::CrlTemplate tmpl) const;
  // Signs an OCSP response with this authority's own key, as its own responder.
  // Errors: as x509::build_ocsp_response.
  Result<Bytes> sign_ocsp_response(x509::OcspResponseTemplate tmpl) const;

 private:
  AuthorityInfo info_;
  std::shared_ptr<const crypto::Signer> signer_;
  DistributionUrls urls_;
};

struct RootOptions {
  std::string name;
  std::string subject;  // "CN=Example Root CA,O=Example"
  crypto::KeyType key_type = crypto::KeyType::kEcP384;
  std::chrono::seconds validity{std::chrono::days(20 * 365)};
  std::optional<int> path_length;
  std::optional<x509::NameConstraints> name_constraints;
  std::optional<TokenKeyRequest> token_key;  // none: a software key sealed at rest
};

// A key made (or found) in a token for an authority being created.
struct TokenKey {
  crypto::Pkcs11KeyRef ref;
  std::shared_ptr<const crypto::Signer> signer;
  bool generated = false;  // made for this authority: removed again if it is not created
};

// Move-only: it carries the CA's private key and passphrase, cleansed when it goes.
struct ImportOptions {
  std::string name;
  Bytes certificate;                // PEM or DER
  crypto::SecretBytes private_key;  // PEM or DER, PKCS#8 or traditional
  std::optional<crypto::SecretBytes> key_passphrase;
  Bytes chain;                        // optional PEM bundle of the issuers above it
  std::optional<std::string> parent;  // an existing authority that issued it
  std::optional<AuthorityKind> kind;  // default: root if self-signed, else issuing
};

// Thread-safe: loaded authorities are cached behind a mutex; the cache holds each decrypted
// key for as long as this service lives (the process that uses it).
class AuthorityService final : public IssuerDirectory {
 public:
  AuthorityService(const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
                   const audit::AuditLog& audit, const inventory::Inventory& inventory,
                   const CaSettings& settings)
      : clock_(clock),
        db_(db),
        wrapper_(wrapper),
        audit_(audit),
        inventory_(inventory),
        settings_(settings) {}

  static Status migrate(store::Database& db);
  // Whether `db` already holds authorities, whose keys are sealed under some master key:
  // asked before a master key is chosen, hence static. Errors: those of the store.
  static Result<bool> any_sealed_keys(store::Database& db);

  // Errors: kConflict (name taken), kInvalidArgument / kMalformed (bad options).
  Result<AuthorityInfo> create_root(const RootOptions& options, std::string_view actor);
  // Imports an existing CA certificate and its key to operate it.
  // Errors: kMalformed, kBadPassword, kPolicyRejected (not a CA, key does not match), kConflict.
  Result<AuthorityInfo> import(const ImportOptions& options, std::string_view actor);

  // Inside a transaction of the RA: stores a new subordinate whose certificate was just issued.
  Status insert_subordinate(store::Transaction& tx, const std::string& name, AuthorityKind kind,
                            const AuthorityInfo& parent, const x509::Certificate& cert,
                            const crypto::PrivateKey& key, std::string_view actor) const;
  // The same for a subordinate whose key is in a token.
  Status insert_subordinate(store::Transaction& tx, const std::string& name, AuthorityKind kind,
                            const AuthorityInfo& parent, const x509::Certificate& cert,
                            const TokenKey& key, std::string_view actor) const;

  // Generates (or, with existing, finds) the key of authority `name` in a token, with the
  // library and PIN of [ca.pkcs11] unless the request names its own (CLI only).
  // Errors: kInvalidArgument (no library configured, no PIN for the token, a bad type),
  // those of crypto::pkcs11_generate_key and pkcs11_find_key.
  Result<TokenKey> prepare_token_key(const TokenKeyRequest& request, std::string_view name,
                                     crypto::KeyType type) const;
  // Removes a key prepare_token_key generated, when the authority was not created after all
  // (logged, never fatal: the caller reports its own error).
  void discard_token_key(const TokenKey& key) const;
  // Inside the transaction that creates an authority (X.509 or SSH) on a token key: records
  // that the key backs it, for good. Errors: kConflict (the key already backs one).
  Status claim_token_key(store::Transaction& tx, const crypto::Pkcs11KeyRef& ref,
                         std::string_view owner) const;
  // A stored key reference with the library and PIN source of [ca.pkcs11], which alone decide
  // them once an authority exists. Errors: kUnavailable (no library, token not configured).
  Result<crypto::Pkcs11KeyRef> configured_token_key(crypto::Pkcs11KeyRef ref,
                                                    std::string_view owner) const;

  Result<std::vector<AuthorityInfo>> list() const;
  Result<AuthorityInfo> info(std::string_view name) const;
  // Returns the authority with its key unsealed, ready to sign. The key is unsealed once and
  // kept; whether the authority is still active (and still the same certificate) is asked of
  // the database again once settings().authority_recheck has passed, so an authority
  // disabled elsewhere stops signing here within that time, and one disabled through this
  // service at once. Errors: kNotFound, kBadPassword (master key cannot open the key),
  // kPolicyRejected (disabled).
  Result<std::shared_ptr<const Authority>> load(std::string_view name);

  // Returns the authority to sign the status of what it issued with (its CRLs, its OCSP
  // answers): a disabled authority still answers for its certificates, which stay valid.
  // Not cached: the caller keeps it as long as it wants and asks again to see a change.
  // Errors: kNotFound, kBadPassword, kPolicyRejected (revoked: it answers for nothing more).
  Result<std::shared_ptr<const Authority>> load_for_status(std::string_view name) const;
  // Disables an authority (it signs nothing until enabled again; its certificates stay
  // valid) or enables it again, audited. Errors: kNotFound; kConflict when it already is.
  Status set_enabled(std::string_view name, bool enabled, std::string_view actor);
  // Inside the revocation service's transaction: marks the authority revoked for good (not
  // audited here: the caller's change is). forget() it after the commit.
  Status mark_revoked(store::Transaction& tx, std::string_view name) const;
  // Drops a cached authority, so the next load asks the database.
  void forget(std::string_view name) CW_EXCLUDES(mu_);

  // IssuerDirectory: certward's own authorities; the default is ca.default_authority.
  Result<std::shared_ptr<const Issuer>> issuer(std::string_view name) override;
  const std::string& default_issuer() const override { return settings_.default_authority; }

  // `cert` followed by the issuers above it, when `authority` (the inventory's record of who
  // issued it) names one of ours; just `cert` otherwise. For a CA's own certificate the
  // authority itself is not repeated.
  Result<std::vector<x509::Certificate>> chain_for(
      const x509::Certificate& cert, const std::optional<std::string>& authority) const;

  // Cross-certificates (src/ca/cross_certificates.cc). Adding checks that `bundle` (PEM or
  // DER; the cross-certificate first, then the issuers above it, nearest first) is a CA
  // certificate for exactly the authority's subject (byte for byte) and key, signed by a key
  // that is neither the authority's nor one below it, valid now, allowing the path length the
  // authority's own certificate allows, each certificate signed by the next, none twice.
  // Audited. Errors: kNotFound (authority), kMalformed, kPolicyRejected (any of those checks),
  // kConflict (already there, or kMaxCrossCertificates reached).
  static constexpr std::size_t kMaxCrossCertificates = 16;
  // At most this many alternates per chain (the oldest cross-certificates').
  static constexpr std::size_t kMaxAlternateChains = 8;
  Result<CrossCertificate> add_cross_certificate(std::string_view authority,
                                                 std::span<const std::uint8_t> bundle,
                                                 std::string_view actor);
  // Oldest first. Errors: kNotFound (authority).
  Result<std::vector<CrossCertificate>> cross_certificates(std::string_view authority) const;
  // `fingerprint`: SHA-256 hex, either case, colons allowed. Audited. Errors: kNotFound
  // (authority, or no such cross-certificate of it).
  Status remove_cross_certificate(std::string_view authority, std::string_view fingerprint,
                                  std::string_view actor);
  // The alternate chains of `chain_pem` (an issued certificate first, then its issuers, with
  // or without the root; parsed only when some authority has a cross-certificate): for each
  // cross-certificate of a CA in it, oldest first, the chain up to that CA with the
  // cross-certificate and its own issuers in its place (for the root above the chain's top,
  // after it); none through a certificate not valid now. No trailing root; none equal to the
  // chain or to each other; at most kMaxAlternateChains.
  Result<std::vector<std::vector<x509::Certificate>>> alternate_chains(
      store::Transaction& tx, std::string_view chain_pem) const;

  const CaSettings& settings() const { return settings_; }
  // Names an authority may not take: the upstream issuers' ([issuers.<name>]), which requests
  // and profiles name the same way. REQUIRES: set before serving.
  void reserve_names(std::vector<std::string> names) { reserved_ = std::move(names); }
  // Whether a new authority may take `name`: well formed, not taken by an authority or an
  // upstream issuer. Errors: kInvalidArgument, kConflict.
  Status check_new_name(const std::string& name) const;
  const Clock& clock() const { return clock_; }

 private:
  // How the row keeps the key: sealed under the master key, or a reference into a token.
  struct StoredKey {
    std::string storage;  // "software" or "pkcs11"
    std::optional<Bytes> sealed;
    std::optional<std::string> ref_json;
    std::optional<crypto::Pkcs11KeyRef> token_key;  // claimed with the row
  };
  Result<StoredKey> seal_key(const std::string& name, const crypto::PrivateKey& key) const;
  static StoredKey token_key_row(const TokenKey& key);
  Status insert(store::Transaction& tx, const AuthorityInfo& info, const StoredKey& key) const;
  Status insert_subordinate_row(store::Transaction& tx, const std::string& name, AuthorityKind kind,
                                const AuthorityInfo& parent, const x509::Certificate& cert,
                                const StoredKey& key, const crypto::KeyInfo& key_info,
                                std::string_view actor) const;
  Result<AuthorityInfo> create_root_with(const RootOptions& options, const crypto::Signer& signer,
                                         const StoredKey& key, std::string_view actor);
  // The authority with its key opened. Errors: kNotFound (no key), kBadPassword.
  Result<std::shared_ptr<const Authority>> unseal(AuthorityInfo info) const;

  const Clock& clock_;
  store::Database& db_;
  const crypto::KeyWrapper& wrapper_;
  const audit::AuditLog& audit_;
  const inventory::Inventory& inventory_;
  const CaSettings& settings_;
  std::vector<std::string> reserved_;
  struct Loaded {
    std::shared_ptr<const Authority> authority;
    SysTime checked_at;  // when the database last said it is active, with this certificate
  };
  // The cached authority when it was confirmed recently enough; else nullptr.
  std::shared_ptr<const Authority> fresh(std::string_view name) CW_EXCLUDES(mu_);
  // Asks the database whether `cached` may still sign. Errors as load().
  Status recheck(const Authority& cached);

  common::Mutex mu_;
  std::map<std::string, Loaded, std::less<>> loaded_ CW_GUARDED_BY(mu_);
};

// Validates an authority name: 1-64 of [a-z0-9-_], starting with a letter or digit.
Status check_authority_name(std::string_view name);
// Validates the name of an authority being created: check_authority_name, and not ending in
// "-delta", since /crl/<a>-delta.crl is the delta CRL of <a>. Errors: kInvalidArgument.
Status check_new_authority_name(std::string_view name);

}  // namespace certward::ca
