#include "ca/protocol_ra.h"

#include "common/log.h"
#include "store/schema.h"

namespace certward::ca {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "protocol_ra_certificates",
     R"sql(
CREATE TABLE protocol_ra_certificates (
  fingerprint TEXT PRIMARY KEY,
  authority TEXT NOT NULL,
  certificate BLOB NOT NULL,
  sealed_key BLOB NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL
);
CREATE INDEX protocol_ra_certificates_authority ON protocol_ra_certificates (authority, not_after);
)sql"},
};

// A sealed key opens only for its own certificate's row.
std::string aad_for(std::string_view fingerprint) {
  return "certward-protocol-ra:" + std::string(fingerprint);
}

SysTime renew_at(const x509::CertificateInfo& info) {
  return info.not_before + (info.not_after - info.not_before) * 2 / 3;
}

}  // namespace

ProtocolRa::ProtocolRa(const Clock& clock, store::Database& db, Enrollment& ra,
                       AuthorityService& authorities, const inventory::Inventory& inventory,
                       const crypto::KeyWrapper& wrapper)
    : clock_(clock),
      db_(db),
      ra_(ra),
      authorities_(authorities),
      inventory_(inventory),
      wrapper_(wrapper) {}

const store::SchemaModule kSchema{"protocol_ra", kMigrations};

Status ProtocolRa::migrate(store::Database& db) { return db.migrate("protocol_ra", kMigrations); }

Result<std::vector<std::shared_ptr<const RaCredential>>> ProtocolRa::load(
    std::string_view authority) const {
  const SysTime now = clock_.now();
  CW_ASSIGN_OR_RETURN(auto issuer, authorities_.load_for_status(authority));
  std::vector<x509::Certificate> chain{issuer->certificate()};
  for (const auto& c : issuer->chain()) {
    if (c.info().sha256_hex != chain.front().info().sha256_hex) chain.push_back(c);
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT fingerprint, certificate, sealed_key FROM "
                                           "protocol_ra_certificates WHERE authority = ? AND "
                                           "not_after > ? ORDER BY not_before DESC, fingerprint",
                                           store::params(authority, to_unix(now))));
  tx.reset();
  std::vector<std::shared_ptr<const RaCredential>> out;
  for (const auto& row : rows) {
    CW_ASSIGN_OR_RETURN(bool revoked, inventory_.is_revoked(row.text(0)));
    if (revoked) continue;
    auto cred = std::make_shared<RaCredential>();
    cred->authority = std::string(authority);
    CW_ASSIGN_OR_RETURN(cred->certificate, x509::Certificate::from_der(row.blob(1)));
    CW_ASSIGN_OR_RETURN(auto der, wrapper_.open(row.blob(2), aad_for(row.text(0))));
    CW_ASSIGN_OR_RETURN(auto key, crypto::parse_private_key(der.span()));
    cred->key = std::make_shared<const crypto::PrivateKey>(std::move(key));
    cred->chain = chain;
    cred->renew_at = renew_at(cred->certificate.info());
    out.push_back(std::move(cred));
  }
  return out;
}

Result<std::shared_ptr<const RaCredential>> ProtocolRa::issue(std::string_view authority) {
  EnrollmentRequest r;
  r.server_key = crypto::KeyType::kRsa2048;
  r.profile = std::string(kProfile);
  r.authority = std::string(authority);
  r.requester.actor = "system:protocol-ra";
  r.channel = Channel::kSystem;
  r.tags = {"protocol-ra"};
  const crypto::KeyWrapper& wrapper = wrapper_;
  const std::string name(authority);
  CW_ASSIGN_OR_RETURN(
      auto issued,
      ra_.enroll_and_record(
          std::move(r),
          [&wrapper, name](store::Transaction& tx, const x509::Certificate& cert,
                           const crypto::PrivateKey* key) -> Status {
            if (key == nullptr) return fail(ErrorCode::kInternal, "no key was generated");
            CW_ASSIGN_OR_RETURN(auto der, key->to_pkcs8_der());
            const auto& info = cert.info();
            CW_ASSIGN_OR_RETURN(Bytes sealed, wrapper.seal(der.span(), aad_for(info.sha256_hex)));
            return tx.execute(
                "INSERT INTO protocol_ra_certificates (fingerprint, authority, certificate, "
                "sealed_key, not_before, not_after) VALUES (?, ?, ?, ?, ?, ?)",
                store::params(info.sha256_hex, name, cert.der(), sealed, to_unix(info.not_before),
                              to_unix(info.not_after)));
          }));
  const auto& info = issued.certificate.info();
  log::info("protocol_ra_issued", {{"authority", name},
                                   {"serial", info.serial_hex},
                                   {"not_after", format_time(info.not_after)}});
  auto cred = std::make_shared<RaCredential>();
  cred->authority = name;
  cred->certificate = issued.certificate;
  cred->chain = issued.chain;
  cred->key = std::make_shared<const crypto::PrivateKey>(std::move(*issued.private_key));
  cred->renew_at = renew_at(info);
  return std::shared_ptr<const RaCredential>(std::move(cred));
}

Result<std::shared_ptr<const RaCredential>> ProtocolRa::current(std::string_view authority) {
  const SysTime now = clock_.now();
  {
    common::MutexLock lock(mu_);
    auto it = cache_.find(authority);
    if (it != cache_.end() && !it->second.empty() && now < it->second.front()->renew_at)
      return it->second.front();
  }
  common::MutexLock issuing(issuing_);
  // Another replica may have renewed it, or this process while we waited.
  CW_ASSIGN_OR_RETURN(auto stored, load(authority));
  if (stored.empty() || now >= stored.front()->renew_at) {
    CW_ASSIGN_OR_RETURN(auto fresh, issue(authority));
    stored.insert(stored.begin(), std::move(fresh));
  }
  common::MutexLock lock(mu_);
  cache_[std::string(authority)] = stored;
  return stored.front();
}

Result<std::vector<std::shared_ptr<const RaCredential>>> ProtocolRa::decryptors(
    std::string_view authority) {
  CW_RETURN_IF_ERROR(current(authority));
  const SysTime now = clock_.now();
  common::MutexLock lock(mu_);
  std::vector<std::shared_ptr<const RaCredential>> out;
  for (const auto& c : cache_[std::string(authority)]) {
    if (c->certificate.info().not_after > now) out.push_back(c);
  }
  return out;
}

}  // namespace certward::ca
