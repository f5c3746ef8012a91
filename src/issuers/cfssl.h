#pragma once
// A CFSSL remote signer (`cfssl serve` / multirootca) as an upstream issuer: certificates are
// signed through its authenticated endpoint (POST /api/v1/cfssl/authsign: the request, and an
// HMAC-SHA256 of it under the shared auth key), and its chain is its CA certificate
// (POST /api/v1/cfssl/info), fetched once and kept.
//
// CFSSL takes a CSR: the requester's, or one signed here with the key the RA generated for a
// server-side key request. A request with only a public key (CMP without a CSR) is refused.
// CFSSL's sign endpoint cannot revoke: revoke() refuses.

#include <memory>
#include <string>
#include <vector>

#include "crypto/secret_bytes.h"
#include "issuers/http_client.h"
#include "issuers/upstream.h"

namespace certward::issuers {

struct CfsslOptions {
  std::string name;  // the issuer's name in certward
  std::string url;   // "http://127.0.0.1:8888" (no trailing path)
  // The auth key CFSSL's signing profile names (its config's auth_keys, decoded from hex):
  // empty uses the unauthenticated /sign endpoint (refused unless allow_unauthenticated).
  crypto::SecretBytes auth_key;
  bool allow_unauthenticated = false;
  std::string profile;  // CFSSL signing profile ("" : its default)
  std::string label;    // multirootca's signer label ("" : its default)
  HttpOptions http;
  std::vector<x509::Certificate> trust_anchors;  // the chain must verify to one (empty: any)
};

std::shared_ptr<UpstreamIssuer> make_cfssl_issuer(CfsslOptions options);

}  // namespace certward::issuers
