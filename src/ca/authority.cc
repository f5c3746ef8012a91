#include "ca/authority.h"

#include <algorithm>

#include "common/log.h"
#include "store/schema.h"
#include "x509/bundle.h"
#include "x509/names.h"
#include "x509/verify.h"

namespace certward::ca {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "authorities",
     R"sql(
CREATE TABLE authorities (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  parent TEXT REFERENCES authorities (name),
  fingerprint TEXT NOT NULL,
  certificate BLOB NOT NULL,
  chain_pem TEXT NOT NULL,
  key_type TEXT NOT NULL,
  key_storage TEXT NOT NULL,
  sealed_key BLOB,
  imported INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
)sql"},
    {2, "cross_certificates",
     // Certificates of an authority's subject and key by other CAs (cross_certificates.cc).
     R"sql(
CREATE TABLE authority_cross_certificates (
  fingerprint TEXT PRIMARY KEY,
  authority TEXT NOT NULL REFERENCES authorities (name),
  certificate BLOB NOT NULL,
  chain_pem TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX authority_cross_certificates_authority
  ON authority_cross_certificates (authority, seq);
)sql"},
    {3, "authority_key_ref",
     // key_storage 'pkcs11': where the key is in its token (crypto::Pkcs11KeyRef as JSON).
     "ALTER TABLE authorities ADD COLUMN key_ref TEXT;"},
    {4, "authority_token_keys",
     // Each token key backs one authority (X.509 or SSH) for good, revoked ones included: the
     // key of a root, or of a revoked CA, must never come back as another authority's.
     R"sql(
CREATE TABLE authority_token_keys (
  token TEXT NOT NULL,
  key_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (token, key_id)
);
)sql"},
};

// Issued certificates start a little in the past so that relying parties whose clock is
// behind do not see them as not yet valid; a short-lived certificate gives up at most a tenth
// of its span to that.
constexpr std::chrono::seconds kBackdate{300};

std::chrono::seconds backdate_for(std::chrono::seconds validity) {
  return std::min(kBackdate, validity / 10);
}

std::string key_aad(std::string_view name) { return "certward:authority:" + std::string(name); }

constexpr std::string_view kColumns =
    "name, kind, parent, certificate, chain_pem, key_type, imported, status, created_at, "
    "key_storage, key_ref";

Result<AuthorityInfo> to_info(const store::Row& r) {
  AuthorityInfo a;
  a.name = r.text(0);
  CW_ASSIGN_OR_RETURN(a.kind, parse_authority_kind(r.text(1)));
  if (!r.is_null(2)) a.parent = r.text(2);
  CW_ASSIGN_OR_RETURN(a.certificate, x509::Certificate::from_der(r.blob(3)));
  const std::string chain = r.text(4);
  if (!chain.empty()) {
    CW_ASSIGN_OR_RETURN(a.chain, x509::parse_certificates(as_bytes(chain)));
  }
  a.key_type = r.text(5);
  a.imported = r.int64(6) != 0;
  a.status = r.text(7);
  a.created_at = from_unix(r.int64(8));
  a.key_storage = r.text(9);
  if (!r.is_null(10)) {
    CW_ASSIGN_OR_RETURN(auto ref, crypto::parse_pkcs11_key_ref(r.text(10)));
    a.key_token = ref.token;
    a.key_label = ref.label;
  }
  return a;
}

}  // namespace

std::string_view authority_kind_name(AuthorityKind k) {
  switch (k) {
    case AuthorityKind::kRoot:
      return "root";
    case AuthorityKind::kIntermediate:
      return "intermediate";
    case AuthorityKind::kIssuing:
      return "issuing";
  }
  return "issuing";
}

Result<AuthorityKind> parse_authority_kind(std::string_view s) {
  for (auto k : {AuthorityKind::kRoot, AuthorityKind::kIntermediate, AuthorityKind::kIssuing})
    if (authority_kind_name(k) == s) return k;
  return fail(ErrorCode::kInvalidArgument,
              "unknown authority kind '" + std::string(s) + "' (root, intermediate, issuing)");
}

Status check_authority_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return fail(ErrorCode::kInvalidArgument, "authority name must be 1 to 64 characters");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) {
      return fail(ErrorCode::kInvalidArgument,
                  "authority name '" + std::string(name) +
                      "' may hold only a-z, 0-9, '-' and '_', starting with a letter or digit");
    }
  }
  return ok();
}

DistributionUrls distribution_urls(const CaSettings& s, std::string_view authority) {
  DistributionUrls u;
  if (!s.crl_base_url.empty())
    u.crl.push_back(s.crl_base_url + "/" + std::string(authority) + ".crl");
  if (!s.ocsp_url.empty()) u.ocsp.push_back(s.ocsp_url);
  if (!s.ca_issuers_base_url.empty()) {
    u.ca_issuers.push_back(s.ca_issuers_base_url + "/" + std::string(authority) + ".crt");
  }
  return u;
}

Result<Bytes> Authority::sign_crl(x509::CrlTemplate tmpl) const {
  tmpl.issuer = info_.certificate;
  return x509::build_crl(tmpl, *signer_);
}

Result<Bytes> Authority::sign_ocsp_response(x509::OcspResponseTemplate tmpl) const {
  tmpl.responder = info_.certificate;
  return x509::build_ocsp_response(tmpl, *signer_);
}

Result<IssuedChain> Authority::issue(const Order& order) const {
  const x509::CertificateInfo& own = info_.certificate.info();
  if (!order.is_ca && info_.kind == AuthorityKind::kRoot) {
    return fail(ErrorCode::kPolicyRejected,
                "root authority '" + name() + "' signs only CA certificates");
  }
  if (own.not_after <= order.now) {
    return fail(ErrorCode::kPolicyRejected, "authority '" + name() + "' has expired");
  }
  x509::CertificateTemplate t;
  t.subject.reset(X509_NAME_dup(order.subject));
  if (!t.subject) return fail(ErrorCode::kInternal, "out of memory");
  t.sans = order.sans;
  t.public_key = order.public_key;
  t.public_key_info = order.public_key_info;
  t.serial = x509::random_serial();
  t.not_before = order.now - backdate_for(order.validity);
  t.not_after = std::min(t.not_before + order.validity, own.not_after);
  t.key_usage = order.key_usage;
  t.extended_key_usage = order.extended_key_usage;
  t.policy_oids = order.policy_oids;
  t.ocsp_nocheck = order.ocsp_nocheck;
  // A responder with ocsp-nocheck is never checked for revocation: pointers to where it could
  // be would only invite relying parties to try.
  if (!order.ocsp_nocheck) {
    t.crl_urls = urls_.crl;
    t.ocsp_urls = urls_.ocsp;
  }
  t.ca_issuers_urls = urls_.ca_issuers;
  if (order.is_ca) {
    t.is_ca = true;
    t.path_length = order.path_length;
    t.name_constraints = order.name_constraints;
    const auto& bc = own.basic_constraints;
    if (bc && bc->path_length) {
      const int room = *bc->path_length - 1;  // CAs allowed below the new one
      if (room < 0) {
        return fail(ErrorCode::kPolicyRejected,
                    "authority '" + name() + "' has path length 0: it cannot sign CAs");
      }
      if (order.requested_path_length && *order.requested_path_length > room) {
        return fail(ErrorCode::kPolicyRejected,
                    "path length " + std::to_string(*order.requested_path_length) +
                        " exceeds what authority '" + name() + "' allows below it (" +
                        std::to_string(room) + ")");
      }
      if (!t.path_length || *t.path_length > room) t.path_length = room;
    }
  }

  CW_ASSIGN_OR_RETURN(auto tbs, x509::build_tbs(t, &info_.certificate, nullptr));
  x509::LintRules rules;
  rules.max_validity = order.max_validity;
  rules.require_san = order.require_san;
  rules.expect_ca = order.is_ca;
  // A name outside a CA's constraints on the path would be refused by every relying party.
  rules.issuers.push_back(info_.certificate);
  rules.issuers.insert(rules.issuers.end(), info_.chain.begin(), info_.chain.end());
  CW_ASSIGN_OR_RETURN(auto linted, x509::lint(std::move(tbs), rules));
  CW_ASSIGN_OR_RETURN(x509::Certificate cert, x509::sign(std::move(linted), *signer_));

  IssuedChain out;
  out.certificate = std::move(cert);
  out.chain.push_back(info_.certificate);
  out.chain.insert(out.chain.end(), info_.chain.begin(), info_.chain.end());
  return out;
}

const store::SchemaModule kSchema{"ca", kMigrations};

Status AuthorityService::migrate(store::Database& db) { return db.migrate("ca", kMigrations); }

Result<bool> AuthorityService::any_sealed_keys(store::Database& db) {
  CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT COUNT(*) FROM authorities"));
  return row && row->int64(0) > 0;
}

Status check_new_authority_name(std::string_view name) {
  CW_RETURN_IF_ERROR(check_authority_name(name));
  if (name.ends_with("-delta")) {
    return fail(ErrorCode::kInvalidArgument,
                "authority name '" + std::string(name) +
                    "' ends in -delta: its CRL's URL would be another authority's delta CRL's");
  }
  return ok();
}

Status AuthorityService::check_new_name(const std::string& name) const {
  CW_RETURN_IF_ERROR(check_new_authority_name(name));
  if (std::find(reserved_.begin(), reserved_.end(), name) != reserved_.end()) {
    return fail(ErrorCode::kConflict,
                "'" + name + "' is an upstream issuer's name ([issuers." + name + "])");
  }
  auto existing = info(name);
  if (existing) return fail(ErrorCode::kConflict, "authority '" + name + "' already exists");
  if (existing.error().code != ErrorCode::kNotFound) return std::unexpected(existing.error());
  return ok();
}

Result<AuthorityService::StoredKey> AuthorityService::seal_key(
    const std::string& name, const crypto::PrivateKey& key) const {
  CW_ASSIGN_OR_RETURN(auto pkcs8, key.to_pkcs8_der());
  CW_ASSIGN_OR_RETURN(Bytes sealed, wrapper_.seal(pkcs8.span(), key_aad(name)));
  return StoredKey{"software", std::move(sealed), std::nullopt, std::nullopt};
}

AuthorityService::StoredKey AuthorityService::token_key_row(const TokenKey& key) {
  return StoredKey{"pkcs11", std::nullopt, crypto::pkcs11_key_ref_json(key.ref), key.ref};
}

Status AuthorityService::claim_token_key(store::Transaction& tx, const crypto::Pkcs11KeyRef& ref,
                                         std::string_view owner) const {
  CW_ASSIGN_OR_RETURN(auto held, tx.query_one("SELECT owner FROM authority_token_keys WHERE "
                                              "token = ? AND key_id = ?",
                                              store::params(ref.token, ref.id_hex)));
  if (held) {
    return fail(ErrorCode::kConflict,
                "the token key with id " + ref.id_hex + " already backs " + held->text(0));
  }
  return tx.execute(
      "INSERT INTO authority_token_keys (token, key_id, owner, created_at) VALUES (?, ?, ?, ?)",
      store::params(ref.token, ref.id_hex, owner, to_unix(clock_.now())));
}

Result<crypto::Pkcs11KeyRef> AuthorityService::configured_token_key(crypto::Pkcs11KeyRef ref,
                                                                    std::string_view owner) const {
  // The library and the PIN are always the configuration's: the row says which token and key,
  // never which code to load or which file to read.
  if (settings_.pkcs11_module.empty()) {
    return fail(ErrorCode::kUnavailable, std::string(owner) +
                                             ": its key is in a PKCS#11 token, and no library "
                                             "is configured ([ca.pkcs11] module)");
  }
  auto pin = settings_.pkcs11_pins.find(ref.token);
  if (pin == settings_.pkcs11_pins.end()) {
    return fail(ErrorCode::kUnavailable, std::string(owner) + ": token '" + ref.token +
                                             "' is not configured ([ca.pkcs11.tokens])");
  }
  ref.module = settings_.pkcs11_module;
  ref.pin_source = pin->second;
  return ref;
}

Status AuthorityService::insert(store::Transaction& tx, const AuthorityInfo& a,
                                const StoredKey& key) const {
  const store::Value params[] = {
      a.name,
      std::string(authority_kind_name(a.kind)),
      a.parent ? store::Value(*a.parent) : store::Value(nullptr),
      a.certificate.info().sha256_hex,
      a.certificate.der(),
      x509::to_pem(a.chain),
      a.key_type,
      key.storage,
      key.sealed ? store::Value(*key.sealed) : store::Value(nullptr),
      static_cast<std::int64_t>(a.imported ? 1 : 0),
      a.status,
      to_unix(a.created_at),
      key.ref_json ? store::Value(*key.ref_json) : store::Value(nullptr)};
  if (key.token_key) {
    CW_RETURN_IF_ERROR(claim_token_key(tx, *key.token_key, "authority " + a.name));
  }
  return tx.execute(
      "INSERT INTO authorities (name, kind, parent, fingerprint, certificate, chain_pem, key_type, "
      "key_storage, sealed_key, imported, status, created_at, key_ref) VALUES (?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?)",
      params);
}

Result<TokenKey> AuthorityService::prepare_token_key(const TokenKeyRequest& r,
                                                     std::string_view name,
                                                     crypto::KeyType type) const {
  crypto::Pkcs11KeyRef ref;
  ref.module = r.module.value_or(settings_.pkcs11_module);
  if (ref.module.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "no PKCS#11 library is configured: set module in [ca.pkcs11]");
  }
  if (r.token.empty() || r.token.size() > 32) {
    return fail(ErrorCode::kInvalidArgument, "a token label is 1 to 32 bytes");
  }
  ref.token = r.token;
  if (r.pin_source) {
    ref.pin_source = *r.pin_source;
  } else if (auto it = settings_.pkcs11_pins.find(r.token); it != settings_.pkcs11_pins.end()) {
    ref.pin_source = it->second;
  } else {
    return fail(ErrorCode::kInvalidArgument, "token '" + r.token +
                                                 "' is not configured: add [ca.pkcs11.tokens.\"" +
                                                 r.token + "\"] with pin_env or pin_file");
  }
  ref.label = r.label;
  ref.id_hex = r.id_hex;
  TokenKey key;
  if (r.existing) {
    CW_ASSIGN_OR_RETURN(key.ref, crypto::pkcs11_find_key(std::move(ref)));
    // Said before anything is signed with it; the claim in the creating transaction decides.
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto held, tx->query_one("SELECT owner FROM authority_token_keys WHERE "
                                                 "token = ? AND key_id = ?",
                                                 store::params(key.ref.token, key.ref.id_hex)));
    if (held) {
      return fail(ErrorCode::kConflict,
                  "the token key with id " + key.ref.id_hex + " already backs " + held->text(0));
    }
  } else {
    if (!r.id_hex.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "a key id names an existing key: add existing to bind it, or leave it out");
    }
    if (ref.label.empty()) ref.label = "certward-" + std::string(name);
    CW_ASSIGN_OR_RETURN(key.ref, crypto::pkcs11_generate_key(std::move(ref), type));
    key.generated = true;
  }
  auto signer = crypto::open_pkcs11_signer(key.ref);
  if (!signer) {
    discard_token_key(key);
    return std::unexpected(signer.error());
  }
  key.signer = std::move(*signer);
  return key;
}

void AuthorityService::discard_token_key(const TokenKey& key) const {
  if (!key.generated) return;
  if (auto s = crypto::pkcs11_destroy_key(key.ref); !s) {
    log::warn("token_key_not_removed",
              {{"token", key.ref.token}, {"label", key.ref.label}, {"error", s.error().message}});
  }
}

Result<AuthorityInfo> AuthorityService::create_root(const RootOptions& o, std::string_view actor) {
  CW_RETURN_IF_ERROR(check_new_name(o.name));
  CW_ASSIGN_OR_RETURN(auto subject, x509::parse_name(o.subject));
  if (X509_NAME_entry_count(subject.get()) == 0) {
    return fail(ErrorCode::kInvalidArgument, "a root CA needs a non-empty subject");
  }
  if (o.token_key) {
    CW_ASSIGN_OR_RETURN(TokenKey key, prepare_token_key(*o.token_key, o.name, o.key_type));
    auto created = create_root_with(o, *key.signer, token_key_row(key), actor);
    if (!created) discard_token_key(key);
    return created;
  }
  CW_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::generate_key(o.key_type));
  CW_ASSIGN_OR_RETURN(StoredKey stored, seal_key(o.name, key));
  const crypto::SoftwareSigner signer(
      std::make_shared<const crypto::PrivateKey>(crypto::up_ref(key.get())));
  return create_root_with(o, signer, stored, actor);
}

Result<AuthorityInfo> AuthorityService::create_root_with(const RootOptions& o,
                                                         const crypto::Signer& signer,
                                                         const StoredKey& stored,
                                                         std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto subject, x509::parse_name(o.subject));
  const crypto::KeyInfo key_info = crypto::describe_key(signer.public_key());
  if (!key_info.key_type()) {
    return fail(ErrorCode::kPolicyRejected, "unsupported CA key: " + key_info.name());
  }
  const SysTime now = clock_.now();
  x509::CertificateTemplate t;
  t.subject = std::move(subject);
  t.public_key = signer.public_key();
  t.serial = x509::random_serial();
  t.not_before = now - kBackdate;
  t.not_after = t.not_before + o.validity;
  t.key_usage = {"digitalSignature", "keyCertSign", "cRLSign"};
  t.is_ca = true;
  t.path_length = o.path_length;
  t.name_constraints = o.name_constraints;
  CW_ASSIGN_OR_RETURN(auto tbs, x509::build_tbs(t, nullptr, signer.public_key()));
  x509::LintRules rules;
  rules.max_validity = o.validity;
  rules.require_san = false;
  rules.expect_ca = true;
  CW_ASSIGN_OR_RETURN(auto linted, x509::lint(std::move(tbs), rules));
  // A root signs itself: the one signature that does not go through the RA.
  CW_ASSIGN_OR_RETURN(x509::Certificate cert, x509::sign(std::move(linted), signer));
  AuthorityInfo info;
  info.name = o.name;
  info.kind = AuthorityKind::kRoot;
  info.certificate = cert;
  info.key_type = std::string(crypto::key_type_name(*key_info.key_type()));
  info.created_at = now;
  info.key_storage = stored.storage;
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(insert(*tx, info, stored));
  inventory::RecordMeta meta{inventory::Origin::kIssued, o.name, "root-ca", {}, {}, {"ca"}};
  CW_RETURN_IF_ERROR(inventory_.record(*tx, cert, meta));
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{std::string(actor),
                                                     "authority.create",
                                                     "authority",
                                                     o.name,
                                                     {{"kind", "root"},
                                                      {"subject", cert.info().subject},
                                                      {"fingerprint", cert.info().sha256_hex},
                                                      {"key_type", info.key_type},
                                                      {"key_storage", stored.storage}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return this->info(o.name);
}

Status AuthorityService::insert_subordinate(store::Transaction& tx, const std::string& name,
                                            AuthorityKind kind, const AuthorityInfo& parent_info,
                                            const x509::Certificate& cert,
                                            const crypto::PrivateKey& key,
                                            std::string_view actor) const {
  CW_ASSIGN_OR_RETURN(StoredKey stored, seal_key(name, key));
  return insert_subordinate_row(tx, name, kind, parent_info, cert, stored, key.info(), actor);
}

Status AuthorityService::insert_subordinate(store::Transaction& tx, const std::string& name,
                                            AuthorityKind kind, const AuthorityInfo& parent_info,
                                            const x509::Certificate& cert, const TokenKey& key,
                                            std::string_view actor) const {
  return insert_subordinate_row(tx, name, kind, parent_info, cert, token_key_row(key),
                                crypto::describe_key(key.signer->public_key()), actor);
}

Status AuthorityService::insert_subordinate_row(
    store::Transaction& tx, const std::string& name, AuthorityKind kind,
    const AuthorityInfo& parent_info, const x509::Certificate& cert, const StoredKey& stored,
    const crypto::KeyInfo& key_info, std::string_view actor) const {
  const std::string& parent = parent_info.name;
  AuthorityInfo a;
  a.name = name;
  a.kind = kind;
  a.parent = parent;
  a.certificate = cert;
  a.chain.push_back(parent_info.certificate);
  a.chain.insert(a.chain.end(), parent_info.chain.begin(), parent_info.chain.end());
  a.key_type =
      std::string(crypto::key_type_name(key_info.key_type().value_or(crypto::KeyType::kEcP256)));
  a.created_at = clock_.now();
  CW_RETURN_IF_ERROR(insert(tx, a, stored));
  return audit_.append(tx, audit::Event{std::string(actor),
                                        "authority.create",
                                        "authority",
                                        name,
                                        {{"kind", authority_kind_name(kind)},
                                         {"parent", parent},
                                         {"subject", cert.info().subject},
                                         {"fingerprint", cert.info().sha256_hex},
                                         {"key_type", a.key_type},
                                         {"key_storage", stored.storage}}});
}

Result<AuthorityInfo> AuthorityService::import(const ImportOptions& o, std::string_view actor) {
  CW_RETURN_IF_ERROR(check_new_name(o.name));
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(o.certificate));
  const x509::Certificate& cert = certs.front();
  if (!cert.info().is_ca()) {
    return fail(ErrorCode::kPolicyRejected,
                "the certificate is not a CA (basicConstraints CA:FALSE)");
  }
  std::optional<std::string_view> passphrase;
  if (o.key_passphrase) passphrase = o.key_passphrase->chars();
  CW_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                      crypto::parse_private_key(o.private_key.span(), passphrase));
  if (!crypto::same_public_key(key.get(), cert.public_key())) {
    return fail(ErrorCode::kPolicyRejected, "the private key does not match the certificate");
  }
  if (!key.info().key_type()) {
    return fail(ErrorCode::kPolicyRejected, "unsupported CA key: " + key.info().name());
  }
  AuthorityInfo a;
  a.name = o.name;
  a.certificate = cert;
  a.imported = true;
  a.created_at = clock_.now();
  a.key_type = std::string(crypto::key_type_name(*key.info().key_type()));
  // Any extra certificates in the certificate file count as chain too.
  a.chain.assign(certs.begin() + 1, certs.end());
  if (!o.chain.empty()) {
    CW_ASSIGN_OR_RETURN(auto chain, x509::parse_certificates(o.chain));
    a.chain.insert(a.chain.end(), chain.begin(), chain.end());
  }
  if (o.parent) {
    CW_ASSIGN_OR_RETURN(AuthorityInfo p, info(*o.parent));
    a.parent = p.name;
    a.chain = {p.certificate};
    a.chain.insert(a.chain.end(), p.chain.begin(), p.chain.end());
  }
  a.kind =
      o.kind.value_or(cert.info().self_issued ? AuthorityKind::kRoot : AuthorityKind::kIssuing);
  if (a.kind != AuthorityKind::kRoot && !a.chain.empty()) {
    // The chain we will hand out must actually verify up to its anchor.
    std::vector<x509::Certificate> roots = {a.chain.back()};
    std::span<const x509::Certificate> mid(a.chain.data(), a.chain.size() - 1);
    x509::VerifyOptions vo;
    vo.at = clock_.now();
    auto verified = x509::verify_chain(cert, mid, roots, vo);
    if (!verified) return fail_with_context(verified.error(), "the chain does not verify");
  }
  CW_ASSIGN_OR_RETURN(StoredKey stored, seal_key(a.name, key));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(insert(*tx, a, stored));
  inventory::RecordMeta meta{
      inventory::Origin::kImported, std::nullopt, std::nullopt, {}, {}, {"ca"}};
  CW_RETURN_IF_ERROR(inventory_.record(*tx, cert, meta));
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{std::string(actor),
                                                     "authority.import",
                                                     "authority",
                                                     a.name,
                                                     {{"kind", authority_kind_name(a.kind)},
                                                      {"subject", cert.info().subject},
                                                      {"fingerprint", cert.info().sha256_hex}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return a;
}

Result<std::vector<AuthorityInfo>> AuthorityService::list() const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT " + std::string(kColumns) +
                                           " FROM authorities ORDER BY created_at, name"));
  std::vector<AuthorityInfo> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto a, to_info(r));
    out.push_back(std::move(a));
  }
  return out;
}

Result<AuthorityInfo> AuthorityService::info(std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const store::Value params[] = {std::string(name)};
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  " FROM authorities WHERE name = ?",
                                              params));
  if (!row) return fail(ErrorCode::kNotFound, "unknown authority '" + std::string(name) + "'");
  return to_info(*row);
}

Result<std::vector<x509::Certificate>> AuthorityService::chain_for(
    const x509::Certificate& cert, const std::optional<std::string>& authority) const {
  std::vector<x509::Certificate> certs = {cert};
  if (!authority) return certs;
  CW_ASSIGN_OR_RETURN(AuthorityInfo a, info(*authority));
  if (a.certificate.info().sha256_hex != cert.info().sha256_hex) certs.push_back(a.certificate);
  certs.insert(certs.end(), a.chain.begin(), a.chain.end());
  return certs;
}

std::shared_ptr<const Authority> AuthorityService::fresh(std::string_view name) {
  common::MutexLock lock(mu_);
  auto it = loaded_.find(name);
  if (it == loaded_.end()) return nullptr;
  if (clock_.now() - it->second.checked_at >= settings_.authority_recheck) return nullptr;
  return it->second.authority;
}

void AuthorityService::forget(std::string_view name) {
  common::MutexLock lock(mu_);
  if (auto it = loaded_.find(name); it != loaded_.end()) loaded_.erase(it);
}

Status AuthorityService::recheck(const Authority& cached) {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT status, fingerprint FROM authorities "
                                              "WHERE name = ?",
                                              store::params(cached.name())));
  if (!row) return fail(ErrorCode::kNotFound, "unknown authority '" + cached.name() + "'");
  if (row->text(0) != "active") {
    return fail(ErrorCode::kPolicyRejected, "authority '" + cached.name() + "' is " + row->text(0));
  }
  if (row->text(1) != cached.certificate().info().sha256_hex) {
    return fail(ErrorCode::kConflict, "authority '" + cached.name() + "' was replaced");
  }
  return ok();
}

Result<std::shared_ptr<const Authority>> AuthorityService::load(std::string_view name) {
  if (auto authority = fresh(name)) return authority;
  std::shared_ptr<const Authority> cached;
  {
    common::MutexLock lock(mu_);
    if (auto it = loaded_.find(name); it != loaded_.end()) cached = it->second.authority;
  }
  if (cached) {
    const SysTime now = clock_.now();
    auto still = recheck(*cached);
    if (still) {
      common::MutexLock lock(mu_);
      if (auto it = loaded_.find(name); it != loaded_.end()) it->second.checked_at = now;
      return cached;
    }
    forget(name);
    // Replaced under the same name: load the new one below; anything else is the answer.
    if (still.error().code != ErrorCode::kConflict) return std::unexpected(still.error());
  }
  const SysTime now = clock_.now();
  CW_ASSIGN_OR_RETURN(AuthorityInfo a, info(name));
  if (a.status != "active") {
    return fail(ErrorCode::kPolicyRejected, "authority '" + a.name + "' is " + a.status);
  }
  CW_ASSIGN_OR_RETURN(auto authority, unseal(std::move(a)));
  common::MutexLock lock(mu_);
  auto [it, inserted] = loaded_.emplace(authority->name(), Loaded{authority, now});
  return it->second.authority;
}

Result<std::shared_ptr<const Authority>> AuthorityService::unseal(AuthorityInfo a) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const store::Value params[] = {a.name};
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT key_storage, sealed_key, key_ref FROM "
                                              "authorities WHERE name = ?",
                                              params));
  if (!row) return fail(ErrorCode::kNotFound, "authority '" + a.name + "' has no key");
  std::shared_ptr<const crypto::Signer> signer;
  if (row->text(0) == "pkcs11" && !row->is_null(2)) {
    CW_ASSIGN_OR_RETURN(crypto::Pkcs11KeyRef stored, crypto::parse_pkcs11_key_ref(row->text(2)));
    CW_ASSIGN_OR_RETURN(crypto::Pkcs11KeyRef ref,
                        configured_token_key(std::move(stored), "authority '" + a.name + "'"));
    auto opened = crypto::open_pkcs11_signer(ref);
    if (!opened) {
      return fail_with_context(opened.error(), "authority '" + a.name + "' cannot sign");
    }
    signer = std::move(*opened);
    // The token must still hold the key the certificate certifies.
    if (!crypto::same_public_key(signer->public_key(), a.certificate.public_key())) {
      return fail(ErrorCode::kUnavailable, "authority '" + a.name + "': the key in token '" +
                                               ref.token + "' is not the certificate's");
    }
  } else if (row->text(0) == "software" && !row->is_null(1)) {
    CW_ASSIGN_OR_RETURN(crypto::SecretBytes pkcs8, wrapper_.open(row->blob(1), key_aad(a.name)));
    CW_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::parse_private_key(pkcs8.span()));
    signer = std::make_shared<crypto::SoftwareSigner>(
        std::make_shared<const crypto::PrivateKey>(std::move(key)));
  } else {
    return fail(ErrorCode::kNotFound, "authority '" + a.name + "' has no key");
  }
  DistributionUrls urls = distribution_urls(settings_, a.name);
  return std::make_shared<const Authority>(std::move(a), std::move(signer), std::move(urls));
}

Result<std::shared_ptr<const Authority>> AuthorityService::load_for_status(
    std::string_view name) const {
  CW_ASSIGN_OR_RETURN(AuthorityInfo a, info(name));
  if (a.status == "revoked") {
    return fail(ErrorCode::kPolicyRejected, "authority '" + a.name + "' is revoked");
  }
  return unseal(std::move(a));
}

Status AuthorityService::mark_revoked(store::Transaction& tx, std::string_view name) const {
  CW_ASSIGN_OR_RETURN(auto n, tx.execute_count("UPDATE authorities SET status = 'revoked' "
                                               "WHERE name = ? AND status <> 'revoked'",
                                               store::params(name)));
  if (n != 1)
    return fail(ErrorCode::kConflict, "authority '" + std::string(name) + "' is already revoked");
  return ok();
}

Status AuthorityService::set_enabled(std::string_view name, bool enabled, std::string_view actor) {
  const std::string to = enabled ? "active" : "disabled";
  {
    CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
    CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT status FROM authorities WHERE name = ? "
                                                "FOR UPDATE",
                                                store::params(name)));
    if (!row) return fail(ErrorCode::kNotFound, "unknown authority '" + std::string(name) + "'");
    const std::string from = row->text(0);
    if (from == "revoked") {
      return fail(ErrorCode::kConflict,
                  "authority '" + std::string(name) + "' is revoked, which is final");
    }
    if (from == to) {
      return fail(ErrorCode::kConflict, "authority '" + std::string(name) + "' is already " + to);
    }
    CW_RETURN_IF_ERROR(
        tx->execute("UPDATE authorities SET status = ? WHERE name = ?", store::params(to, name)));
    CW_RETURN_IF_ERROR(
        audit_.append(*tx, audit::Event{std::string(actor),
                                        enabled ? "authority.enable" : "authority.disable",
                                        "authority",
                                        std::string(name),
                                        {{"from", from}, {"to", to}}}));
    CW_RETURN_IF_ERROR(tx->commit());
  }
  // After the commit: a load racing with this rechecks against the committed row.
  forget(name);
  return ok();
}

Result<std::shared_ptr<const Issuer>> AuthorityService::issuer(std::string_view name) {
  CW_ASSIGN_OR_RETURN(auto authority, load(name));
  return std::shared_ptr<const Issuer>(std::move(authority));
}

}  // namespace certward::ca
