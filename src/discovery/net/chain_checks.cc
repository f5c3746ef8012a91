// The findings that need the whole chain or the endpoint's name, decided after the handshake
// (the handshake itself verifies nothing, so that broken servers are still seen).

#include "discovery/net/chain_checks.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "discovery/findings.h"
#include "x509/certificate.h"

namespace certward::discovery::net {
namespace {

bool is_ip(const std::string& text) {
  std::array<unsigned char, 16> buf{};
  return ::inet_pton(AF_INET, text.c_str(), buf.data()) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buf.data()) == 1;
}

bool has_ip_san(X509* cert) {
  crypto::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    if (sk_GENERAL_NAME_value(names.get(), i)->type == GEN_IPADD) return true;
  }
  return false;
}

// Which name the leaf must carry. A name target or an SNI is what clients ask for, so the leaf
// must match it. An address dialled without a name is different: most such servers present a
// certificate for names only, and the scan cannot know which name clients use, so a mismatch
// there would be noise on every host. Only a leaf that lists IP addresses says it is meant to be
// reached by address; then the dialled address must be one of them.
std::optional<Finding> hostname_finding(const Endpoint& endpoint, X509* leaf,
                                        const std::string& leaf_fingerprint) {
  const std::string& name = endpoint.sni.empty() ? endpoint.host : endpoint.sni;
  if (!name.empty() && !is_ip(name)) {
    unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    if (X509_check_host(leaf, name.data(), name.size(), flags, nullptr) == 1) return std::nullopt;
    return Finding{"hostname_mismatch", Severity::kHigh, "the certificate is not valid for " + name,
                   leaf_fingerprint};
  }
  const std::string& address = endpoint.address.empty() ? endpoint.host : endpoint.address;
  if (address.empty() || !has_ip_san(leaf)) return std::nullopt;
  if (X509_check_ip_asc(leaf, address.c_str(), 0) == 1) return std::nullopt;
  return Finding{"hostname_mismatch", Severity::kHigh,
                 "the certificate lists IP addresses but not " + address, leaf_fingerprint};
}

bool self_signed(X509* cert) {
  if (X509_check_issued(cert, cert) != X509_V_OK) return false;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  bool verifies = key != nullptr && X509_verify(cert, key) == 1;
  ERR_clear_error();
  return verifies;
}

// untrusted_chain or incomplete_chain, or nothing when the chain verifies. Validity is not
// this check's business (certificate_findings reports it per certificate), so time is ignored.
// "Incomplete" is the case where only the server is at fault: the path ends at the leaf
// itself, which is not self-signed and whose issuer is nowhere in what was sent — the server
// left out its intermediate. A path that reaches a CA the store does not know is untrusted:
// servers are not expected to send roots.
std::optional<Finding> trust_finding(const std::vector<X509*>& certs, X509_STORE* trust,
                                     bool leaf_reported_self_signed) {
  X509* leaf = certs.front();
  crypto::X509StackPtr untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < certs.size(); ++i) {
    X509_up_ref(certs[i]);
    sk_X509_push(untrusted.get(), certs[i]);
  }
  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust, leaf, untrusted.get()) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_NO_CHECK_TIME);
  int verified = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
  X509* top =
      path != nullptr && sk_X509_num(path) > 0 ? sk_X509_value(path, sk_X509_num(path) - 1) : leaf;
  ERR_clear_error();
  if (verified == 1) return std::nullopt;
  std::string why = X509_verify_cert_error_string(err);
  bool leaf_is_self_signed = self_signed(leaf);
  if (leaf_is_self_signed && leaf_reported_self_signed) return std::nullopt;
  bool issuer_missing = err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                        err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
  if (issuer_missing && top == leaf && !leaf_is_self_signed) {
    return Finding{"incomplete_chain", Severity::kMedium,
                   "the server sent no certificate of the leaf's issuer: " + why, ""};
  }
  return Finding{"untrusted_chain", Severity::kHigh,
                 "the chain does not verify to a trusted root: " + why, ""};
}

}  // namespace

CertificateCache::CertificateCache(X509_STORE* trust, SysTime now,
                                   std::chrono::seconds expiring_window, std::size_t capacity)
    : trust_(trust), now_(now), expiring_window_(expiring_window), capacity_(capacity) {}

std::shared_ptr<const CertificateCache::Entry> CertificateCache::certificate(const Bytes& der,
                                                                             X509* served) {
  std::string key = to_hex(crypto::sha256(der));
  {
    common::MutexLock lock(mu_);
    if (auto it = certificates_.find(key); it != certificates_.end()) return it->second;
  }
  auto entry = std::make_shared<Entry>();
  entry->fingerprint = key;
  // Findings about each certificate on its own: the one call site of certificate_findings
  // for the network scanner. A certificate certward's parser refuses is still recorded by its
  // DER and checked as a link of the chain; it only goes without these findings.
  auto parsed = x509::Certificate::from_der(der);
  if (parsed) entry->findings = certificate_findings(*parsed, now_, expiring_window_);
  if (served != nullptr) {
    X509_up_ref(served);
    entry->cert.reset(served);
  } else if (parsed) {
    X509_up_ref(parsed->get());
    entry->cert.reset(parsed->get());
  } else {
    const unsigned char* p = der.data();
    entry->cert.reset(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    ERR_clear_error();
  }
  if (!entry->cert) return nullptr;
  common::MutexLock lock(mu_);
  if (certificates_.size() < capacity_) certificates_.emplace(key, entry);
  return entry;
}

std::optional<Finding> CertificateCache::trust(const std::vector<const Entry*>& chain,
                                               bool leaf_reported_self_signed) {
  std::string key = leaf_reported_self_signed ? "s" : "-";
  for (const Entry* e : chain) key += e->fingerprint;
  {
    common::MutexLock lock(mu_);
    if (auto it = trust_results_.find(key); it != trust_results_.end()) return it->second;
  }
  std::vector<X509*> certs;
  for (const Entry* e : chain) certs.push_back(e->cert.get());
  auto result = trust_finding(certs, trust_, leaf_reported_self_signed);
  common::MutexLock lock(mu_);
  if (trust_results_.size() < capacity_) trust_results_.emplace(std::move(key), result);
  return result;
}

std::vector<Finding> chain_findings(const Endpoint& endpoint, const std::vector<Bytes>& chain,
                                    CertificateCache& cache,
                                    const std::vector<crypto::X509Ptr>& served) {
  std::vector<Finding> out;
  std::vector<std::shared_ptr<const CertificateCache::Entry>> entries;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    auto entry = cache.certificate(chain[i], i < served.size() ? served[i].get() : nullptr);
    // Without its leaf, a chain says nothing about the endpoint.
    if (!entry && entries.empty()) return out;
    if (!entry) continue;
    out.insert(out.end(), entry->findings.begin(), entry->findings.end());
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) return out;
  const auto& leaf = *entries.front();
  if (auto f = hostname_finding(endpoint, leaf.cert.get(), leaf.fingerprint)) {
    out.push_back(std::move(*f));
  }
  bool reported = std::any_of(leaf.findings.begin(), leaf.findings.end(),
                              [](const Finding& f) { return f.code == "self_signed"; });
  std::vector<const CertificateCache::Entry*> links;
  for (const auto& e : entries) links.push_back(e.get());
  if (auto f = cache.trust(links, reported)) out.push_back(std::move(*f));
  return out;
}

std::string group_name(int nid) {
  static constexpr std::array<std::pair<int, const char*>, 12> kNames{{
      {NID_X25519, "X25519"},
      {NID_X448, "X448"},
      {NID_X9_62_prime256v1, "P-256"},
      {NID_secp384r1, "P-384"},
      {NID_secp521r1, "P-521"},
      {NID_secp224r1, "P-224"},
      {NID_secp256k1, "secp256k1"},
      {NID_ffdhe2048, "ffdhe2048"},
      {NID_ffdhe3072, "ffdhe3072"},
      {NID_ffdhe4096, "ffdhe4096"},
      {NID_ffdhe6144, "ffdhe6144"},
      {NID_ffdhe8192, "ffdhe8192"},
  }};
  if (nid <= 0) return "";
  for (const auto& [n, name] : kNames) {
    if (n == nid) return name;
  }
  // A group OpenSSL negotiated but has no NID for (TLSEXT_nid_unknown | the wire id).
  if ((nid & TLSEXT_nid_unknown) != 0) {
    char wire[16];
    std::snprintf(wire, sizeof wire, "0x%04x", static_cast<unsigned>(nid & 0xffff));
    return wire;
  }
  const char* sn = OBJ_nid2sn(nid);
  return sn != nullptr ? sn : "";
}

bool crl_lists(const Bytes& der_crl, X509* leaf, X509* issuer) {
  const unsigned char* p = der_crl.data();
  crypto::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der_crl.size())));
  bool listed = false;
  if (crl && (issuer == nullptr ||
              (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) == 0 &&
               X509_CRL_verify(crl.get(), X509_get0_pubkey(issuer)) == 1))) {
    X509_REVOKED* entry = nullptr;
    listed = X509_CRL_get0_by_serial(crl.get(), &entry,
                                     const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(leaf))) == 1;
  }
  ERR_clear_error();
  return listed;
}

}  // namespace certward::discovery::net
