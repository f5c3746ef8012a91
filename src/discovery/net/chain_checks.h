#pragma once
// Private to discovery/net. What the scanner concludes from a handshake once it is over, with
// no I/O: kept apart from the connection code so that each rule can be read (and tested) on
// its own, and so that the findings of one endpoint are decided in one place.

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/mutex.h"
#include "crypto/handles.h"
#include "discovery/discovery.h"

namespace certward::discovery::net {

// What does not depend on the endpoint, kept for the whole scan: the same intermediate (or
// the same leaf behind many addresses) is decoded and judged once, since decoding and
// verifying dominate the cost of a handshake's aftermath on OpenSSL 3.0. At most `capacity`
// certificates and as many chains are kept; past that, results are computed and not kept, so
// memory stays bounded whatever the scan. Thread-safe.
class CertificateCache {
 public:
  struct Entry {
    std::string fingerprint;  // SHA-256 of the DER, hex
    crypto::X509Ptr cert;     // shared read-only between probes
    std::vector<Finding> findings;
  };

  // `trust` holds the roots; it is only read, and must outlive the cache.
  CertificateCache(X509_STORE* trust, SysTime now, std::chrono::seconds expiring_window,
                   std::size_t capacity = 4096);

  // nullptr when the DER does not decode at all. `served` is the object the handshake decoded
  // from the same bytes, when there is one: it is kept instead of decoding them again with their
  // public key (the costliest part of a decode on OpenSSL 3.0).
  std::shared_ptr<const Entry> certificate(const Bytes& der, X509* served = nullptr)
      CW_EXCLUDES(mu_);
  // untrusted_chain, incomplete_chain or nothing, for the chain `links` (leaf first).
  std::optional<Finding> trust(const std::vector<const Entry*>& links,
                               bool leaf_reported_self_signed) CW_EXCLUDES(mu_);

 private:
  X509_STORE* const trust_;
  const SysTime now_;
  const std::chrono::seconds expiring_window_;
  const std::size_t capacity_;
  common::Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> certificates_ CW_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::optional<Finding>> trust_results_ CW_GUARDED_BY(mu_);
};

// Every finding about an endpoint and the chain it served (DER, leaf first): those of each
// certificate (certificate_findings), hostname_mismatch, untrusted_chain / incomplete_chain.
// `served`, when given, holds the handshake's objects for `chain`, one for one.
std::vector<Finding> chain_findings(const Endpoint& endpoint, const std::vector<Bytes>& chain,
                                    CertificateCache& cache,
                                    const std::vector<crypto::X509Ptr>& served = {});

// "X25519", "P-256", "ffdhe2048", ... for SSL_get_negotiated_group; empty for none.
std::string group_name(int nid);

// The serial of `leaf` is revoked in `der_crl` (signed by `issuer`, when known). False when
// the CRL does not parse or its signature does not verify.
bool crl_lists(const Bytes& der_crl, X509* leaf, X509* issuer);

}  // namespace certward::discovery::net
