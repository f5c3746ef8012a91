#pragma once
// Private to discovery/net. What the scanner concludes from a handshake once it is over, with
// no I/O: kept apart from the connection code so that each rule can be read (and tested) on
// its own, and so that the findings of one endpoint are decided in one place.

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "discovery/discovery.h"

namespace certward::discovery::net {

// Every finding about an endpoint and the chain it served (DER, leaf first): those of each
// certificate (certificate_findings), hostname_mismatch, untrusted_chain / incomplete_chain.
// `trust` holds the roots; it is only read.
std::vector<Finding> chain_findings(const Endpoint& endpoint, const std::vector<Bytes>& chain,
                                    X509_STORE* trust, SysTime now,
                                    std::chrono::seconds expiring_window);

// "X25519", "P-256", "ffdhe2048", ... for SSL_get_negotiated_group; empty for none.
std::string group_name(int nid);

// The serial of `leaf` is revoked in `der_crl` (signed by `issuer`, when known). False when
// the CRL does not parse or its signature does not verify.
bool crl_lists(const Bytes& der_crl, X509* leaf, X509* issuer);

}  // namespace certward::discovery::net
