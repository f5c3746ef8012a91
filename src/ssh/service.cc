#include "ssh/service.h"

#include <fnmatch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/network.h"
#include "crypto/pkcs11.h"
#include "store/schema.h"

namespace certward::ssh {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "ssh_ca",
     R"sql(
CREATE TABLE ssh_authorities (
  name TEXT PRIMARY KEY,
  key_type TEXT NOT NULL,
  public_key TEXT NOT NULL,
  key_storage TEXT NOT NULL,
  sealed_key BLOB,
  key_ref TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE ssh_certificates (
  id TEXT PRIMARY KEY,
  authority TEXT NOT NULL REFERENCES ssh_authorities (name),
  serial BIGINT NOT NULL,
  cert_type TEXT NOT NULL,
  key_id TEXT NOT NULL,
  principals TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  valid_after BIGINT NOT NULL,
  valid_before BIGINT NOT NULL,
  profile TEXT NOT NULL,
  team TEXT,
  requester TEXT NOT NULL,
  certificate TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revocation_reason TEXT
);
CREATE UNIQUE INDEX ssh_certificates_serial ON ssh_certificates (authority, serial);
CREATE INDEX ssh_certificates_expiry ON ssh_certificates (valid_before);
CREATE INDEX ssh_certificates_key_id ON ssh_certificates (key_id);
CREATE INDEX ssh_certificates_key ON ssh_certificates (key_fingerprint);
CREATE INDEX ssh_certificates_revoked ON ssh_certificates (authority, revoked_at)
  WHERE revoked_at IS NOT NULL;
)sql"},
};

// A certificate starts a little in the past, for relying hosts whose clock is behind.
constexpr std::chrono::seconds kBackdate{300};
constexpr std::size_t kMaxPrincipals = 64;
constexpr std::size_t kMaxPrincipal = 255;
constexpr std::size_t kMaxKeyId = 255;
constexpr std::size_t kMaxForceCommand = 1024;
constexpr std::chrono::seconds kKrlGrace{3600};

std::string key_aad(std::string_view name) { return "certward:ssh-authority:" + std::string(name); }

std::vector<SshProfileSettings> builtin_profiles() {
  SshProfileSettings user;
  user.name = "ssh-user";
  user.type = "user";
  user.max_validity = std::chrono::hours(24);
  user.default_validity = std::chrono::hours(8);
  user.extensions = {"permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding",
                     "permit-pty", "permit-user-rc"};
  user.allowed_extensions = user.extensions;
  user.allow_force_command = true;
  user.allow_source_address = true;
  SshProfileSettings host;
  host.name = "ssh-host";
  host.type = "host";
  host.max_validity = std::chrono::days(90);
  host.default_validity = std::chrono::days(30);
  return {user, host};
}

// Principals end up in sshd's principal lists and in AuthorizedPrincipalsFile lines, which are
// comma- and whitespace-separated and take patterns: none of those characters, and no
// wildcard (a certificate names principals; only profiles hold patterns).
Status check_principal(std::string_view p) {
  if (p.empty() || p.size() > kMaxPrincipal) {
    return fail(ErrorCode::kInvalidArgument, "a principal is 1 to 255 bytes");
  }
  if (!is_display_text(p)) {
    return fail(ErrorCode::kInvalidArgument,
                "a principal is UTF-8 text without control or bidirectional characters");
  }
  for (unsigned char c : p) {
    if (c <= 0x20 || c == 0x7f || c == ',' || c == '*' || c == '?' || c == '!' || c == '#' ||
        c == '"' || c == '\\') {
      return fail(ErrorCode::kInvalidArgument, "principal '" + std::string(p) +
                                                   "' holds a character sshd reads specially");
    }
  }
  return ok();
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), value.c_str(), 0) == 0;
  });
}

Status check_source_address(std::string_view list) {
  if (list.empty() || list.size() > 1024) {
    return fail(ErrorCode::kInvalidArgument, "source-address is 1 to 1024 bytes");
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, end - start);
    // sshd reads these with its own parser (addr_match_cidr_list): only canonical forms, no
    // host bits set under the prefix, no leading zeros in it, no IPv4 written as IPv6.
    const std::size_t slash = item.find('/');
    const std::string_view prefix =
        slash == std::string_view::npos ? std::string_view() : item.substr(slash + 1);
    const bool v6 = item.find(':') != std::string_view::npos;
    auto parsed =
        parse_cidr(slash == std::string_view::npos ? std::string(item) + (v6 ? "/128" : "/32")
                                                   : std::string(item));
    bool canonical = parsed.has_value() && (prefix.empty() || prefix == "0" || prefix[0] != '0');
    if (canonical && v6 && (item.find('.') != std::string_view::npos)) canonical = false;
    if (canonical) {
      const auto& [bytes, bits] = *parsed;
      for (std::size_t b = 0; b < bytes.size() * 8; ++b) {
        const bool set = (bytes[b / 8] >> (7 - b % 8)) & 1;
        if (set && static_cast<int>(b) >= bits) canonical = false;
      }
    }
    if (!canonical) {
      return fail(ErrorCode::kInvalidArgument,
                  "source-address '" + std::string(item) +
                      "' is not an address or a canonical address/prefix (no host bits set)");
    }
    start = end + 1;
  }
  return ok();
}

Status check_text(std::string_view what, std::string_view v, std::size_t max) {
  if (v.size() > max) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " is longer than " +
                                                 std::to_string(max) + " bytes");
  }
  if (!is_display_text(v)) {
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) +
                    " is not UTF-8 text without control or bidirectional "
                    "characters");
  }
  return ok();
}

std::int64_t to_db(std::uint64_t serial) { return static_cast<std::int64_t>(serial); }

constexpr std::string_view kCertColumns =
    "id, authority, serial, cert_type, key_id, principals, key_fingerprint, valid_after, "
    "valid_before, profile, team, requester, certificate, created_at, revoked_at, "
    "revocation_reason";

SshCertificateRecord to_record(const store::Row& r) {
  SshCertificateRecord c;
  c.id = r.text(0);
  c.authority = r.text(1);
  c.serial = static_cast<std::uint64_t>(r.int64(2));
  c.type = r.text(3) == "host" ? CertType::kHost : CertType::kUser;
  c.key_id = r.text(4);
  auto principals = nlohmann::json::parse(r.text(5), nullptr, false);
  if (principals.is_array()) {
    for (const auto& p : principals) {
      if (p.is_string()) c.principals.push_back(p.get<std::string>());
    }
  }
  c.key_fingerprint = r.text(6);
  c.valid_after = from_unix(r.int64(7));
  c.valid_before = from_unix(r.int64(8));
  c.profile = r.text(9);
  if (!r.is_null(10)) c.team = r.text(10);
  c.requester = r.text(11);
  c.certificate = r.text(12);
  c.created_at = from_unix(r.int64(13));
  if (!r.is_null(14)) c.revoked_at = from_unix(r.int64(14));
  if (!r.is_null(15)) c.revocation_reason = r.text(15);
  return c;
}

SshAuthorityInfo to_authority(const store::Row& r) {
  SshAuthorityInfo a;
  a.name = r.text(0);
  a.key_type = r.text(1);
  a.public_key = r.text(2);
  a.key_storage = r.text(3);
  if (!r.is_null(4)) {
    if (auto ref = crypto::parse_pkcs11_key_ref(r.text(4))) a.key_token = ref->token;
  }
  a.created_at = from_unix(r.int64(5));
  if (auto key = parse_public_key(a.public_key)) a.fingerprint = key->fingerprint();
  return a;
}

constexpr std::string_view kAuthorityColumns =
    "name, key_type, public_key, key_storage, key_ref, created_at";

}  // namespace

SshService::SshService(const Clock& clock, store::Database& db, const crypto::KeyWrapper& wrapper,
                       const audit::AuditLog& audit, const ca::AuthorityService& authorities,
                       const SshSettings& settings, const inventory::Sightings* sightings)
    : clock_(clock),
      db_(db),
      wrapper_(wrapper),
      audit_(audit),
      authorities_(authorities),
      settings_(settings),
      sightings_(sightings),
      profiles_(settings.profiles) {
  for (auto& builtin : builtin_profiles()) {
    const bool replaced = std::any_of(profiles_.begin(), profiles_.end(),
                                      [&](const auto& p) { return p.name == builtin.name; });
    if (!replaced) profiles_.push_back(std::move(builtin));
  }
}

const store::SchemaModule kSchema{"ssh", kMigrations};

Status SshService::migrate(store::Database& db) { return db.migrate("ssh", kMigrations); }

Result<const SshProfileSettings*> SshService::profile(const std::string& name) const {
  for (const auto& p : profiles_) {
    if (p.name == name) return &p;
  }
  return fail(ErrorCode::kNotFound, "unknown SSH profile '" + name + "'");
}

Result<SshAuthorityInfo> SshService::create_authority(const SshAuthorityRequest& r,
                                                      std::string_view actor) {
  CW_RETURN_IF_ERROR(ca::check_authority_name(r.name));
  if (authority(r.name)) return fail(ErrorCode::kConflict, "SSH CA '" + r.name + "' exists");
  using crypto::KeyType;
  const KeyType t = r.key_type;
  if (t != KeyType::kEd25519 && t != KeyType::kEcP256 && t != KeyType::kEcP384 &&
      t != KeyType::kRsa2048 && t != KeyType::kRsa3072 && t != KeyType::kRsa4096) {
    return fail(ErrorCode::kInvalidArgument,
                "an SSH CA key is ed25519, ec-p256, ec-p384 or rsa-2048/3072/4096");
  }
  std::shared_ptr<const crypto::Signer> signer;
  std::optional<ca::TokenKey> token_key;
  std::optional<Bytes> sealed;
  if (r.token_key) {
    if (t == KeyType::kEd25519) {
      return fail(ErrorCode::kInvalidArgument,
                  "an SSH CA in a token is ec-p256, ec-p384 or RSA (tokens do not hold Ed25519 "
                  "CA keys here)");
    }
    CW_ASSIGN_OR_RETURN(token_key, authorities_.prepare_token_key(*r.token_key, "ssh-" + r.name, t));
    signer = token_key->signer;
  } else {
    CW_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::generate_key(t));
    CW_ASSIGN_OR_RETURN(auto pkcs8, key.to_pkcs8_der());
    CW_ASSIGN_OR_RETURN(sealed, wrapper_.seal(pkcs8.span(), key_aad(r.name)));
    signer = std::make_shared<crypto::SoftwareSigner>(
        std::make_shared<const crypto::PrivateKey>(std::move(key)));
  }
  auto stored = [&]() -> Status {
    CW_ASSIGN_OR_RETURN(PublicKey pub, public_key_of(signer->public_key()));
    pub.comment = "certward-ssh-ca:" + r.name;
    const std::string key_type(crypto::key_type_name(t));
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
    if (token_key) {
      CW_RETURN_IF_ERROR(authorities_.claim_token_key(*tx, token_key->ref, "SSH CA " + r.name));
    }
    const store::Value params[] = {
        r.name,
        key_type,
        pub.line(),
        std::string(token_key ? "pkcs11" : "software"),
        sealed ? store::Value(*sealed) : store::Value(nullptr),
        token_key ? store::Value(crypto::pkcs11_key_ref_json(token_key->ref))
                  : store::Value(nullptr),
        to_unix(clock_.now())};
    CW_RETURN_IF_ERROR(tx->execute(
        "INSERT INTO ssh_authorities (name, key_type, public_key, key_storage, sealed_key, "
        "key_ref, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params));
    CW_RETURN_IF_ERROR(audit_.append(
        *tx, audit::Event{std::string(actor),
                          "ssh.authority.create",
                          "ssh_authority",
                          r.name,
                          {{"key_type", key_type},
                           {"fingerprint", pub.fingerprint()},
                           {"key_storage", token_key ? "pkcs11" : "software"}}}));
    return tx->commit();
  }();
  if (!stored) {
    if (token_key) authorities_.discard_token_key(*token_key);
    return std::unexpected(stored.error());
  }
  return authority(r.name);
}

Result<std::vector<SshAuthorityInfo>> SshService::authorities() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT " + std::string(kAuthorityColumns) +
                                           " FROM ssh_authorities ORDER BY name"));
  std::vector<SshAuthorityInfo> out;
  for (const auto& row : rows) out.push_back(to_authority(row));
  return out;
}

Result<SshAuthorityInfo> SshService::authority(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kAuthorityColumns) +
                                                  " FROM ssh_authorities WHERE name = ?",
                                              store::params(name)));
  if (!row) return fail(ErrorCode::kNotFound, "unknown SSH CA '" + std::string(name) + "'");
  return to_authority(*row);
}

Result<std::shared_ptr<const SshService::Loaded>> SshService::load(const std::string& name) {
  {
    common::MutexLock lock(mu_);
    if (auto it = loaded_.find(name); it != loaded_.end()) return it->second;
  }
  CW_ASSIGN_OR_RETURN(SshAuthorityInfo info, authority(name));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT key_storage, sealed_key, key_ref FROM "
                                              "ssh_authorities WHERE name = ?",
                                              store::params(name)));
  if (!row) return fail(ErrorCode::kNotFound, "unknown SSH CA '" + name + "'");
  auto loaded = std::make_shared<Loaded>();
  loaded->info = std::move(info);
  if (row->text(0) == "pkcs11" && !row->is_null(2)) {
    CW_ASSIGN_OR_RETURN(crypto::Pkcs11KeyRef stored,
                        crypto::parse_pkcs11_key_ref(row->text(2)));
    CW_ASSIGN_OR_RETURN(crypto::Pkcs11KeyRef ref, authorities_.configured_token_key(
                                                      std::move(stored), "SSH CA '" + name + "'"));
    CW_ASSIGN_OR_RETURN(loaded->signer, crypto::open_pkcs11_signer(ref));
  } else if (!row->is_null(1)) {
    CW_ASSIGN_OR_RETURN(crypto::SecretBytes pkcs8, wrapper_.open(row->blob(1), key_aad(name)));
    CW_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::parse_private_key(pkcs8.span()));
    loaded->signer = std::make_shared<crypto::SoftwareSigner>(
        std::make_shared<const crypto::PrivateKey>(std::move(key)));
  } else {
    return fail(ErrorCode::kNotFound, "SSH CA '" + name + "' has no key");
  }
  // The key must still be the one whose public half hosts and users trust.
  CW_ASSIGN_OR_RETURN(PublicKey pub, public_key_of(loaded->signer->public_key()));
  if (pub.fingerprint() != loaded->info.fingerprint) {
    return fail(ErrorCode::kUnavailable, "SSH CA '" + name + "': its key is not the one recorded");
  }
  common::MutexLock lock(mu_);
  auto [it, inserted] = loaded_.emplace(name, std::move(loaded));
  return it->second;
}

Result<SshCertificateRecord> SshService::sign(const SshSignRequest& r,
                                              const ca::Requester& requester,
                                              ca::Channel channel) {
  // The profile: named, or the built-in one of the requested type.
  std::string profile_name = r.profile;
  if (profile_name.empty()) {
    profile_name = r.type == CertType::kHost ? "ssh-host" : "ssh-user";
  }
  CW_ASSIGN_OR_RETURN(const SshProfileSettings* p, profile(profile_name));
  const CertType type = p->type == "host" ? CertType::kHost : CertType::kUser;
  if (r.type && *r.type != type) {
    return fail(ErrorCode::kInvalidArgument, "profile '" + p->name + "' issues " + p->type +
                                                 " certificates");
  }

  // Who may ask for which principals.
  if (r.principals.empty()) return fail(ErrorCode::kInvalidArgument, "name at least one principal");
  if (r.principals.size() > kMaxPrincipals) {
    return fail(ErrorCode::kInvalidArgument, "at most 64 principals");
  }
  std::vector<std::string> principals;
  for (const auto& pr : r.principals) {
    CW_RETURN_IF_ERROR(check_principal(pr));
    if (std::find(principals.begin(), principals.end(), pr) == principals.end()) {
      principals.push_back(pr);
    }
  }
  const std::vector<std::string>* allowed = &p->principals;
  if (requester.scope) {
    auto it = requester.team ? p->team_principals.find(*requester.team) : p->team_principals.end();
    if (it == p->team_principals.end()) {
      return fail(ErrorCode::kUnauthorized,
                  "team '" + requester.team.value_or("") + "' may not use SSH profile '" + p->name + "'");
    }
    allowed = &it->second;
  }
  for (const auto& pr : principals) {
    if (!matches_any(*allowed, pr)) {
      return fail(requester.scope ? ErrorCode::kUnauthorized : ErrorCode::kPolicyRejected,
                  "principal '" + pr + "' is not allowed by SSH profile '" + p->name + "'" +
                      (requester.scope ? " for team '" + *requester.team + "'" : ""));
    }
  }

  // Validity, options and extensions within the profile.
  const std::chrono::seconds validity = r.validity.value_or(p->default_validity);
  if (validity < std::chrono::minutes(1)) {
    return fail(ErrorCode::kInvalidArgument, "validity is at least 1m");
  }
  if (validity > p->max_validity) {
    return fail(ErrorCode::kPolicyRejected, "validity above SSH profile '" + p->name +
                                                "' maximum of " + format_duration(p->max_validity));
  }
  CertificateTemplate t;
  t.type = type;
  if (r.force_command) {
    if (!p->allow_force_command) {
      return fail(ErrorCode::kPolicyRejected, "SSH profile '" + p->name + "' sets no force-command");
    }
    CW_RETURN_IF_ERROR(check_text("force-command", *r.force_command, kMaxForceCommand));
    if (r.force_command->empty()) return fail(ErrorCode::kInvalidArgument, "empty force-command");
    t.critical_options["force-command"] = *r.force_command;
  }
  if (r.source_address) {
    if (!p->allow_source_address) {
      return fail(ErrorCode::kPolicyRejected, "SSH profile '" + p->name + "' sets no source-address");
    }
    CW_RETURN_IF_ERROR(check_source_address(*r.source_address));
    t.critical_options["source-address"] = *r.source_address;
  }
  const std::vector<std::string>& extensions = r.extensions ? *r.extensions : p->extensions;
  for (const auto& e : extensions) {
    if (std::find(p->allowed_extensions.begin(), p->allowed_extensions.end(), e) ==
        p->allowed_extensions.end()) {
      return fail(ErrorCode::kPolicyRejected,
                  "extension '" + e + "' is not allowed by SSH profile '" + p->name + "'");
    }
    t.extensions.insert(e);
  }

  CW_ASSIGN_OR_RETURN(t.key, parse_public_key(r.public_key));
  // sshd logs the key id with every login: a team's requester cannot make it name someone
  // else, so its own identity always leads it.
  if (r.key_id) CW_RETURN_IF_ERROR(check_text("key id", *r.key_id, kMaxKeyId));
  if (r.key_id && r.key_id->empty()) return fail(ErrorCode::kInvalidArgument, "empty key id");
  std::string key_id = !r.key_id         ? requester.actor + " for " + principals.front()
                       : requester.scope ? requester.actor + ": " + *r.key_id
                                         : *r.key_id;
  if (key_id.size() > kMaxKeyId) key_id.resize(kMaxKeyId);
  while (!key_id.empty() && !is_display_text(key_id)) key_id.pop_back();  // a cut UTF-8 tail
  t.key_id = key_id;
  t.principals = principals;
  // The window is the validity asked for, starting a little in the past (at most a tenth of
  // it) for hosts whose clock is behind, as X.509 certificates do.
  const SysTime now = clock_.now();
  const std::chrono::seconds backdate = std::min(kBackdate, validity / 10);
  t.valid_after = now - backdate;
  t.valid_before = t.valid_after + validity;

  // The CA is the profile's. A team's requester cannot send its request to another CA: hosts
  // trusting that CA did not trust the team.
  const std::string profile_authority =
      p->authority.empty() ? settings_.default_authority : p->authority;
  if (r.authority && *r.authority != profile_authority && requester.scope) {
    return fail(ErrorCode::kUnauthorized,
                "SSH profile '" + p->name + "' signs with SSH CA '" + profile_authority + "' only");
  }
  const std::string authority_name = r.authority.value_or(profile_authority);
  CW_ASSIGN_OR_RETURN(auto ca, load(authority_name));

  // A random 63-bit serial, unique per CA (the index says so; a collision tries again).
  for (int attempt = 0;; ++attempt) {
    Bytes random = crypto::random_bytes(8);
    std::uint64_t serial = 0;
    for (auto b : random) serial = (serial << 8) | b;
    serial &= 0x7fffffffffffffffULL;
    if (serial == 0) continue;
    t.serial = serial;
    CW_ASSIGN_OR_RETURN(Certificate cert, sign_certificate(t, *ca->signer));
    SshCertificateRecord rec;
    rec.id = to_hex(crypto::sha256(cert.blob));
    rec.authority = authority_name;
    rec.serial = serial;
    rec.type = type;
    rec.key_id = key_id;
    rec.principals = principals;
    rec.key_fingerprint = t.key.fingerprint();
    rec.valid_after = t.valid_after;
    rec.valid_before = t.valid_before;
    rec.profile = p->name;
    rec.team = requester.team;
    rec.requester = requester.actor;
    rec.certificate = cert.line() + " " + key_id;
    rec.created_at = now;
    auto stored = [&]() -> Status {
      CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
      const store::Value params[] = {rec.id,
                                     rec.authority,
                                     to_db(rec.serial),
                                     std::string(cert_type_name(type)),
                                     rec.key_id,
                                     nlohmann::json(rec.principals).dump(),
                                     rec.key_fingerprint,
                                     to_unix(rec.valid_after),
                                     to_unix(rec.valid_before),
                                     rec.profile,
                                     rec.team ? store::Value(*rec.team) : store::Value(nullptr),
                                     rec.requester,
                                     rec.certificate,
                                     to_unix(now)};
      CW_RETURN_IF_ERROR(tx->execute(
          "INSERT INTO ssh_certificates (id, authority, serial, cert_type, key_id, principals, "
          "key_fingerprint, valid_after, valid_before, profile, team, requester, certificate, "
          "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          params));
      if (sightings_) {
        // The same shape discovery records a certificate it finds in (discovery/recorder.cc).
        const inventory::SshKeyRecord key{
            .fingerprint = cert.fingerprint(),
            .type = cert.type,
            .bits = t.key.bits,
            .blob = cert.blob,
            .certificate = {{"host", type == CertType::kHost},
                            {"serial", rec.serial},
                            {"key_id", rec.key_id},
                            {"principals", rec.principals},
                            {"valid_after", format_time(rec.valid_after)},
                            {"valid_before", format_time(rec.valid_before)},
                            {"ca_fingerprint", ca->info.fingerprint},
                            {"ca_type",
                             ca->info.public_key.substr(0, ca->info.public_key.find(' '))}},
            .first_seen = now};
        CW_ASSIGN_OR_RETURN(const bool recorded, sightings_->record_ssh_key(*tx, key));
        (void)recorded;  // a nonce makes every certificate new; false would be a replay
      }
      CW_RETURN_IF_ERROR(audit_.append(
          *tx, audit::Event{requester.actor,
                            "ssh.certificate.issue",
                            "ssh_certificate",
                            rec.id,
                            {{"authority", rec.authority},
                             {"serial", std::to_string(rec.serial)},
                             {"type", std::string(cert_type_name(type))},
                             {"key_id", rec.key_id},
                             {"principals", nlohmann::json(rec.principals).dump()},
                             {"key_fingerprint", rec.key_fingerprint},
                             {"valid_before", format_time(rec.valid_before)},
                             {"profile", rec.profile},
                             {"channel", std::string(ca::channel_name(ca::Channel::kSsh))},
                             {"via", std::string(ca::channel_name(channel))}}}));
      return tx->commit();
    }();
    if (stored) return rec;
    if (stored.error().code != ErrorCode::kConflict || attempt >= 2) {
      return std::unexpected(stored.error());
    }
  }
}

Result<std::vector<SshCertificateRecord>> SshService::list(const SshCertificateFilter& f) const {
  if (f.limit < 1 || f.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit is 1 to 1000");
  }
  if (f.search && (f.search->size() > 1024 || !is_display_text(*f.search))) {
    return fail(ErrorCode::kInvalidArgument, "search is up to 1024 bytes of UTF-8 text");
  }
  std::string sql = "SELECT " + std::string(kCertColumns) + " FROM ssh_certificates WHERE 1 = 1";
  std::vector<store::Value> params;
  const std::int64_t now = to_unix(clock_.now());
  if (f.search) {
    // Principals are a JSON array: an exact principal is a quoted element of it.
    sql += " AND (key_id = ? OR key_fingerprint = ? OR id = ? OR principals LIKE ? ESCAPE '\\')";
    params.emplace_back(*f.search);
    params.emplace_back(*f.search);
    params.emplace_back(*f.search);
    std::string quoted = nlohmann::json(*f.search).dump();
    std::string escaped;
    for (char c : quoted) {
      if (c == '%' || c == '_' || c == '\\') escaped += '\\';
      escaped += c;
    }
    params.emplace_back("%" + escaped + "%");
  }
  if (f.authority) {
    sql += " AND authority = ?";
    params.emplace_back(*f.authority);
  }
  if (f.team) {
    sql += " AND team = ?";
    params.emplace_back(*f.team);
  }
  if (!f.include_expired) {
    sql += " AND valid_before > ?";
    params.emplace_back(now);
  }
  if (f.expiring_within) {
    sql += " AND valid_before <= ?";
    params.emplace_back(now + f.expiring_within->count());
  }
  if (!f.include_revoked) sql += " AND revoked_at IS NULL";
  sql += " ORDER BY valid_before, id LIMIT " + std::to_string(f.limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<SshCertificateRecord> out;
  for (const auto& row : rows) out.push_back(to_record(row));
  return out;
}

Result<SshCertificateRecord> SshService::get(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kCertColumns) +
                                                  " FROM ssh_certificates WHERE id = ?",
                                              store::params(id)));
  if (!row) return fail(ErrorCode::kNotFound, "no SSH certificate '" + std::string(id) + "'");
  return to_record(*row);
}

Result<SshCertificateRecord> SshService::revoke(std::string_view id, std::string_view reason,
                                                const ca::Requester& requester) {
  CW_RETURN_IF_ERROR(check_text("reason", reason, 256));
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kCertColumns) +
                                                    " FROM ssh_certificates WHERE id = ? FOR UPDATE",
                                                store::params(id)));
    // Another team's certificate is answered as absent: its existence is not theirs to learn.
    if (!row || (requester.scope && to_record(*row).team != requester.team)) {
      return fail(ErrorCode::kNotFound, "no SSH certificate '" + std::string(id) + "'");
    }
    const SshCertificateRecord rec = to_record(*row);
    if (rec.revoked_at) return fail(ErrorCode::kConflict, "the SSH certificate is already revoked");
    const std::string why = reason.empty() ? "unspecified" : std::string(reason);
    CW_RETURN_IF_ERROR(tx->execute(
        "UPDATE ssh_certificates SET revoked_at = ?, revocation_reason = ? WHERE id = ?",
        store::params(to_unix(clock_.now()), why, id)));
    CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{requester.actor,
                                                       "ssh.certificate.revoke",
                                                       "ssh_certificate",
                                                       std::string(id),
                                                       {{"authority", rec.authority},
                                                        {"serial", std::to_string(rec.serial)},
                                                        {"key_id", rec.key_id},
                                                        {"reason", why}}}));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return get(id);
}

Result<Bytes> SshService::krl(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(SshAuthorityInfo a, authority(name));
  CW_ASSIGN_OR_RETURN(PublicKey ca_key, parse_public_key(a.public_key));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const SysTime now = clock_.now();
  // Listed until an hour after they expire: a host whose clock is behind still sees them.
  CW_ASSIGN_OR_RETURN(auto rows,
                      tx->query("SELECT serial FROM ssh_certificates WHERE authority = ? AND "
                                "revoked_at IS NOT NULL AND valid_before > ?",
                                store::params(name, to_unix(now) - kKrlGrace.count())));
  KrlEntry entry{ca_key, {}};
  for (const auto& row : rows) entry.serials.push_back(static_cast<std::uint64_t>(row.int64(0)));
  // The KRL's version is the number of revocations this CA ever made: it grows with each one
  // (two in one second included) and never goes back when expired entries drop out.
  CW_ASSIGN_OR_RETURN(auto count, tx->query_one("SELECT COUNT(*) FROM ssh_certificates WHERE "
                                                "authority = ? AND revoked_at IS NOT NULL",
                                                store::params(name)));
  const KrlEntry entries[] = {entry};
  return build_krl(static_cast<std::uint64_t>(count ? count->int64(0) : 0), now, entries,
                   "certward SSH CA " + std::string(name));
}

}  // namespace certward::ssh
