#pragma once
// Certificate profiles: templates plus constraints. The built-ins (tls-server, tls-client,
// code-signing, smime, device, intermediate-ca) can be overridden field by field and new
// profiles added in the configuration. A ProfileSet is immutable once built; share it freely.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

namespace certward::ca {

struct IpRange {
  Bytes network;  // 4 or 16 bytes
  int prefix = 0;
  std::string text;  // as configured: "10.0.0.0/8"
  bool contains(std::span<const std::uint8_t> address) const;
};
// Errors: kMalformed.
Result<IpRange> parse_ip_range(std::string_view cidr);

struct Profile {
  std::string name;
  std::string description;
  std::vector<crypto::KeyType> key_types;  // allowed subject keys; first = server-side default
  std::chrono::seconds default_validity{};
  std::chrono::seconds max_validity{};
  std::vector<std::string> key_usage;           // RFC 5280 names
  std::vector<std::string> extended_key_usage;  // short names or dotted OIDs
  std::vector<std::string> allowed_domains;     // DNS suffixes; empty = any name
  std::vector<IpRange> allowed_ip_ranges;       // empty = any address (if allow_ip_sans)
  bool allow_wildcards = false;
  bool allow_ip_sans = false;
  bool allow_email_sans = false;
  bool allow_uri_sans = false;
  bool require_san = false;
  std::string subject_template = "CN={cn}";  // {cn}: requested CN, else the first SAN
  bool requires_approval = false;
  bool ca = false;
  std::optional<int> path_length;  // CA profiles: default path length
  std::vector<std::string> policy_oids;
  // certward's own: issued only by certward itself (Channel::kSystem), never to a requester,
  // never granted to a team. The delegated OCSP responder's profile is.
  bool internal = false;
  bool ocsp_nocheck = false;  // id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): OCSP responders
  // Where a request that names no authority goes, in order (IssuerDirectory::issuer_list):
  // empty, the default authority.
  std::vector<std::string> issuers;

  bool allows_key(const crypto::KeyInfo& key) const;
  // Checks each name against the SAN rules. Errors: kPolicyRejected naming the first bad name.
  Status check_names(std::span<const x509::SubjectAltName> sans) const;
  // The key usage for a subject key: RSA keys in TLS server profiles also get
  // keyEncipherment, which TLS 1.2 RSA key exchange needs; keys that cannot encipher
  // (EC, Ed25519, RSA-PSS) never get keyEncipherment or dataEncipherment.
  std::vector<std::string> key_usage_for(const crypto::KeyInfo& key) const;
};

std::vector<Profile> builtin_profiles();

class ProfileSet {
 public:
  // Built-ins overlaid with `settings` (same name: field-wise override; new name: new profile
  // whose unset fields take tls-server's). Errors: kMalformed naming the profile and field.
  static Result<ProfileSet> create(std::span<const ProfileSettings> settings);
  // Errors: kNotFound ("unknown profile").
  Result<const Profile*> find(std::string_view name) const;
  const std::vector<Profile>& all() const { return profiles_; }

 private:
  std::vector<Profile> profiles_;
};

// "dns:example.com" -> "DNS:example.com", "ip:10.0.0.0/8" -> "IP:10.0.0.0/8",
// "email:example.com", "uri:example.com": a name-constraints subtree as x509 keeps it.
// Errors: kInvalidArgument.
Result<std::string> parse_name_constraint(std::string_view text);

// True if `name` equals `suffix` or ends with "." + suffix (case-insensitive); a wildcard
// name "*.a.example" is judged by its base "a.example".
bool name_within(std::string_view name, std::string_view suffix);

}  // namespace certward::ca
