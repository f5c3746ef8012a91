// Cross-certificates: an authority's subject and key certified by another CA, and the
// alternate chains they give the certificates the authority (or one below it) issued.

#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "ca/authority.h"
#include "x509/bundle.h"

namespace certward::ca {
namespace {

constexpr std::size_t kMaxChainLength = 8;

// The DER of a name. Names are compared byte for byte, not as X509_NAME_cmp's canonical form
// (case and spaces folded): verifiers such as Go's and Python's match issuer to subject by
// their bytes, and a chain that only OpenSSL accepts is no alternate.
std::string name_der(const X509_NAME* name) {
  const unsigned char* der = nullptr;
  std::size_t len = 0;
  if (X509_NAME_get0_der(name, &der, &len) != 1) return {};
  return std::string(reinterpret_cast<const char*>(der), len);
}

bool same_subject(const x509::Certificate& a, const x509::Certificate& b) {
  const std::string der = name_der(X509_get_subject_name(a.get()));
  return !der.empty() && der == name_der(X509_get_subject_name(b.get()));
}

// Whether `issuer`'s subject and key issued `cert`.
bool issued_by(const x509::Certificate& cert, const x509::Certificate& issuer) {
  const std::string der = name_der(X509_get_issuer_name(cert.get()));
  return !der.empty() && der == name_der(X509_get_subject_name(issuer.get())) &&
         X509_verify(cert.get(), issuer.public_key()) == 1;
}

bool valid_at(const x509::Certificate& c, SysTime at) {
  return c.info().not_before <= at && at < c.info().not_after;
}

// RFC 5280 4.2.1.9: how many CA certificates may follow `c` in a path; nullopt: any number.
std::optional<int> allowance(const x509::Certificate& c) {
  const auto& bc = c.info().basic_constraints;
  return bc ? bc->path_length : std::nullopt;
}

// Whether a CA certificate allowing `have` below it can stand where `need` CAs follow (nullopt:
// an unbounded number may, as under a CA without a limit).
bool allows(std::optional<int> have, std::optional<int> need) {
  if (!have) return true;
  return need && *have >= *need;
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
  std::set<std::string> seen = {ci.sha256_hex};
  const x509::Certificate* below = &cert;
  for (const auto& c : cross.chain) {
    if (!seen.insert(c.info().sha256_hex).second) {
      return fail(ErrorCode::kPolicyRejected, describe(c) + " appears twice in the chain");
    }
    if (!issued_by(*below, c)) {
      return fail(ErrorCode::kPolicyRejected,
                  describe(*below) + " is not signed by the next certificate, " + describe(c));
    }
    if (!may_sign_certificates(c.info())) {
      return fail(ErrorCode::kPolicyRejected, describe(c) + " is not a CA certificate");
    }
    below = &c;
  }
  if (!valid_at(cert, now)) {
    return fail(ErrorCode::kPolicyRejected, describe(cert) + " is not valid now");
  }
  for (const auto& c : cross.chain) {
    if (!valid_at(c, now))
      return fail(ErrorCode::kPolicyRejected, describe(c) + " is not valid now");
  }
  // A path through the cross-certificate must allow as many CAs below the authority as its
  // own certificate does (what certward issues below it keeps within that), and each
  // certificate above it one more.
  std::optional<int> need = allowance(a.certificate);
  if (!allows(allowance(cert), need)) {
    return fail(ErrorCode::kPolicyRejected,
                describe(cert) +
                    " limits the path length below the authority more than its "
                    "own certificate does");
  }
  for (const auto& c : cross.chain) {
    if (need) ++*need;
    if (!allows(allowance(c), need)) {
      return fail(ErrorCode::kPolicyRejected,
                  describe(c) + "'s path length limit leaves no room for the CAs below it");
    }
  }
  // It must lead away from the authority: not through its own key or one below it (a loop
  // back into this hierarchy reaches no new trust anchor).
  CW_ASSIGN_OR_RETURN(auto all, list());
  std::set<std::string> below_names = {a.name};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& x : all) {
      if (x.parent && below_names.count(*x.parent) && below_names.insert(x.name).second) {
        grew = true;
      }
    }
  }
  for (const auto& x : all) {
    if (!below_names.count(x.name)) continue;
    const auto& key = x.certificate.info().spki_sha256_hex;
    for (const auto& c : cross.chain) {
      if (c.info().spki_sha256_hex == key) {
        return fail(ErrorCode::kPolicyRejected,
                    describe(c) + " is authority '" + x.name + "' or below it, not another CA");
      }
    }
    if (x.name != a.name && issued_by(cert, x.certificate)) {
      return fail(ErrorCode::kPolicyRejected,
                  describe(cert) + " is signed by authority '" + x.name + "', which is below it");
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
  // The order they were added in, to the commit: created_at is in whole seconds.
  CW_ASSIGN_OR_RETURN(auto last, tx->query_one("SELECT COALESCE(MAX(seq), 0) FROM "
                                               "authority_cross_certificates"));
  const std::int64_t seq = (last ? last->int64(0) : 0) + 1;
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO authority_cross_certificates (fingerprint, authority, certificate, chain_pem, "
      "created_at, seq) VALUES (?, ?, ?, ?, ?, ?)",
      store::params(ci.sha256_hex, a.name, cert.der(), chain_pem, to_unix(now), seq)));
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
                                    "ORDER BY seq, fingerprint",
                                store::params(authority)));
  std::vector<CrossCertificate> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto c, to_cross(r));
    out.push_back(std::move(c));
  }
  return out;
}

Status AuthorityService::remove_cross_certificate(std::string_view authority,
                                                  std::string_view given, std::string_view actor) {
  // As shown anywhere: lower or upper case, with or without colons.
  std::string fingerprint;
  for (char c : given) {
    if (c != ':') fingerprint += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
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
                                          "ORDER BY seq, fingerprint"));
  if (rows.empty()) return out;
  CW_ASSIGN_OR_RETURN(const auto chain, x509::parse_certificates(as_bytes(chain_pem)));
  const SysTime now = clock_.now();
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
    if (out.size() == kMaxAlternateChains) break;
    CW_ASSIGN_OR_RETURN(auto cross, to_cross(r));
    // One that has expired since it was added (or a certificate above it) offers a chain no
    // client can use.
    if (!valid_at(cross.certificate, now) ||
        !std::all_of(cross.chain.begin(), cross.chain.end(),
                     [&](const x509::Certificate& c) { return valid_at(c, now); })) {
      continue;
    }
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
