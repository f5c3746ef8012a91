// Cross-certificates: an authority's subject and key certified by another CA, and the
// alternate chains they give the certificates the authority (or one below it) issued.

#include <openssl/x509.h>

#include <algorithm>
#include <set>

#include "ca/authority.h"
#include "x509/bundle.h"

namespace certward::ca {
namespace {

constexpr std::size_t kMaxChainLength = 8;

bool same_subject(const x509::Certificate& a, const x509::Certificate& b) {
  return X509_NAME_cmp(X509_get_subject_name(a.get()), X509_get_subject_name(b.get())) == 0;
}

// Whether `issuer`'s subject and key issued `cert`.
bool issued_by(const x509::Certificate& cert, const x509::Certificate& issuer) {
  return X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(issuer.get())) ==
             0 &&
         X509_verify(cert.get(), issuer.public_key()) == 1;
}

bool may_sign_certificates(const x509::CertificateInfo& info) {
  if (!info.is_ca()) return false;
  if (info.key_usage.empty()) return true;
  return std::find(info.key_usage.begin(), info.key_usage.end(), "keyCertSign") !=
         info.key_usage.end();
}

std::string describe(const x509::Certificate& c) {
  return "'" + c.info().subject + "' (SHA-256 " + c.info().sha256_hex.substr(0, 16) + "...)";
}

Result<CrossCertificate> to_cross(const store::Row& r) {
  CrossCertificate c;
  c.authority = r.text(0);
  CW_ASSIGN_OR_RETURN(c.certificate, x509::Certificate::from_der(r.blob(1)));
  const std::string chain = r.text(2);
  if (!chain.empty()) {
    CW_ASSIGN_OR_RETURN(c.chain, x509::parse_certificates(as_bytes(chain)));
  }
  c.created_at = from_unix(r.int64(3));
  return c;
}

constexpr std::string_view kCrossColumns = "authority, certificate, chain_pem, created_at";

// What a client is handed after `cross`: its issuers without a trailing root, which the
// client's trust store holds.
void append_served(std::vector<x509::Certificate>& out, const CrossCertificate& cross) {
  out.push_back(cross.certificate);
  for (std::size_t i = 0; i < cross.chain.size(); ++i) {
    const bool last = i + 1 == cross.chain.size();
    if (last && cross.chain[i].info().self_issued) break;
    out.push_back(cross.chain[i]);
  }
}

}  // namespace

Result<CrossCertificate> AuthorityService::add_cross_certificate(
    std::string_view authority, std::span<const std::uint8_t> bundle, std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto a, info(authority));
  auto certs = x509::parse_certificates(bundle);
  if (!certs) return fail(ErrorCode::kMalformed, "no certificate: " + certs.error().message);
  if (certs->size() > kMaxChainLength + 1) {
    return fail(ErrorCode::kMalformed, "at most " + std::to_string(kMaxChainLength) +
                                           " certificates may follow the cross-certificate");
  }
  CrossCertificate cross;
  cross.authority = a.name;
  cross.certificate = certs->front();
  cross.chain.assign(certs->begin() + 1, certs->end());
  const auto& cert = cross.certificate;
  const auto& ci = cert.info();
  if (!same_subject(cert, a.certificate) ||
      ci.spki_sha256_hex != a.certificate.info().spki_sha256_hex) {
    return fail(ErrorCode::kPolicyRejected,
                describe(cert) + " does not certify the subject and key of authority '" + a.name +
                    "' ('" + a.certificate.info().subject + "')");
  }
  if (ci.sha256_hex == a.certificate.info().sha256_hex ||
      X509_verify(cert.get(), cert.public_key()) == 1) {
    return fail(ErrorCode::kPolicyRejected, "the authority's own key signed " + describe(cert) +
                                                ": a cross-certificate is signed by another CA");
  }
  if (!may_sign_certificates(ci)) {
    return fail(ErrorCode::kPolicyRejected,
                describe(cert) + " is not a CA certificate (basicConstraints CA and keyCertSign)");
  }
  const SysTime now = clock_.now();
  const x509::Certificate* below = &cert;
  for (const auto& c : cross.chain) {
    if (!issued_by(*below, c)) {
      return fail(ErrorCode::kPolicyRejected,
                  describe(*below) + " is not signed by the next certificate, " + describe(c));
    }
    if (!may_sign_certificates(c.info())) {
      return fail(ErrorCode::kPolicyRejected, describe(c) + " is not a CA certificate");
    }
    below = &c;
  }
  if (ci.not_after <= now) return fail(ErrorCode::kPolicyRejected, describe(cert) + " has expired");
  for (const auto& c : cross.chain) {
    if (c.info().not_after <= now) {
      return fail(ErrorCode::kPolicyRejected, describe(c) + " has expired");
    }
  }
  cross.created_at = now;

  std::string chain_pem;
  for (const auto& c : cross.chain) chain_pem += c.pem();
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  // The authority row is locked so that two concurrent adds count each other.
  CW_ASSIGN_OR_RETURN(auto locked, tx->query_one("SELECT name FROM authorities WHERE name = ? "
                                                 "FOR UPDATE",
                                                 store::params(a.name)));
  if (!locked) return fail(ErrorCode::kNotFound, "unknown authority '" + a.name + "'");
  CW_ASSIGN_OR_RETURN(auto same, tx->query_one("SELECT authority FROM authority_cross_certificates "
                                               "WHERE fingerprint = ?",
                                               store::params(ci.sha256_hex)));
  if (same) {
    return fail(ErrorCode::kConflict,
                describe(cert) + " is already a cross-certificate of '" + same->text(0) + "'");
  }
  CW_ASSIGN_OR_RETURN(auto count, tx->query_one("SELECT COUNT(*) FROM authority_cross_certificates "
                                                "WHERE authority = ?",
                                                store::params(a.name)));
  if (count && static_cast<std::size_t>(count->int64(0)) >= kMaxCrossCertificates) {
    return fail(ErrorCode::kConflict, "authority '" + a.name + "' already has " +
                                          std::to_string(kMaxCrossCertificates) +
                                          " cross-certificates; remove one first");
  }
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO authority_cross_certificates (fingerprint, authority, certificate, chain_pem, "
      "created_at) VALUES (?, ?, ?, ?, ?)",
      store::params(ci.sha256_hex, a.name, cert.der(), chain_pem, to_unix(now))));
  CW_RETURN_IF_ERROR(audit_.append(*tx, audit::Event{std::string(actor),
                                                     "authority.cross_certificate.add",
                                                     "authority",
                                                     a.name,
                                                     {{"fingerprint", ci.sha256_hex},
                                                      {"issuer", ci.issuer},
                                                      {"not_after", format_time(ci.not_after)},
                                                      {"chain_length", cross.chain.size()}}}));
  CW_RETURN_IF_ERROR(tx->commit());
  return cross;
}

Result<std::vector<CrossCertificate>> AuthorityService::cross_certificates(
    std::string_view authority) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto known, tx->query_one("SELECT name FROM authorities WHERE name = ?",
                                                store::params(authority)));
  if (!known)
    return fail(ErrorCode::kNotFound, "unknown authority '" + std::string(authority) + "'");
  CW_ASSIGN_OR_RETURN(auto rows,
                      tx->query("SELECT " + std::string(kCrossColumns) +
                                    " FROM authority_cross_certificates WHERE authority = ? "
                                    "ORDER BY created_at, fingerprint",
                                store::params(authority)));
  std::vector<CrossCertificate> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto c, to_cross(r));
    out.push_back(std::move(c));
  }
  return out;
}

Status AuthorityService::remove_cross_certificate(std::string_view authority,
                                                  std::string_view fingerprint,
                                                  std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto known, tx->query_one("SELECT name FROM authorities WHERE name = ?",
                                                store::params(authority)));
  if (!known)
    return fail(ErrorCode::kNotFound, "unknown authority '" + std::string(authority) + "'");
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kCrossColumns) +
                                                  " FROM authority_cross_certificates "
                                                  "WHERE authority = ? AND fingerprint = ?",
                                              store::params(authority, fingerprint)));
  if (!row) {
    return fail(ErrorCode::kNotFound, "authority '" + std::string(authority) +
                                          "' has no cross-certificate with SHA-256 '" +
                                          std::string(fingerprint) + "'");
  }
  CW_ASSIGN_OR_RETURN(auto cross, to_cross(*row));
  CW_RETURN_IF_ERROR(tx->execute("DELETE FROM authority_cross_certificates WHERE fingerprint = ?",
                                 store::params(fingerprint)));
  CW_RETURN_IF_ERROR(
      audit_.append(*tx, audit::Event{std::string(actor),
                                      "authority.cross_certificate.remove",
                                      "authority",
                                      std::string(authority),
                                      {{"fingerprint", std::string(fingerprint)},
                                       {"issuer", cross.certificate.info().issuer}}}));
  return tx->commit();
}

Result<std::vector<std::vector<x509::Certificate>>> AuthorityService::alternate_chains(
    store::Transaction& tx, std::string_view chain_pem) const {
  std::vector<std::vector<x509::Certificate>> out;
  CW_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT " + std::string(kCrossColumns) +
                                          " FROM authority_cross_certificates "
                                          "ORDER BY created_at, fingerprint"));
  if (rows.empty()) return out;
  CW_ASSIGN_OR_RETURN(const auto chain, x509::parse_certificates(as_bytes(chain_pem)));
  std::set<std::vector<std::string>> seen;
  auto fingerprints = [](const std::vector<x509::Certificate>& certs) {
    std::vector<std::string> f;
    for (const auto& c : certs) f.push_back(c.info().sha256_hex);
    return f;
  };
  seen.insert(fingerprints(chain));
  // The chain as served may end below its root (a client has the root already): the top
  // certificate's issuer can then only be matched by name and signature.
  const bool ends_in_root = chain.size() > 1 && chain.back().info().self_issued;
  const std::size_t served = ends_in_root ? chain.size() - 1 : chain.size();
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto cross, to_cross(r));
    const auto& key = cross.certificate.info().spki_sha256_hex;
    std::vector<x509::Certificate> alt;
    for (std::size_t i = 1; i < chain.size(); ++i) {
      if (chain[i].info().spki_sha256_hex == key && same_subject(chain[i], cross.certificate)) {
        alt.assign(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(i));
        append_served(alt, cross);
        break;
      }
    }
    if (alt.empty() && !ends_in_root && issued_by(chain.back(), cross.certificate)) {
      alt.assign(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(served));
      append_served(alt, cross);
    }
    if (alt.empty() || !seen.insert(fingerprints(alt)).second) continue;
    out.push_back(std::move(alt));
  }
  return out;
}

}  // namespace certward::ca
