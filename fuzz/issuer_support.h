#pragma once
// For the CRL and OCSP targets: one self-signed P-256 CA made once per process with the
// product's own builder, whose key signs what the targets rebuild from parsed input.

#include <chrono>
#include <cstdlib>
#include <memory>

#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/names.h"

namespace certward::fuzz {

struct Issuer {
  std::shared_ptr<const crypto::PrivateKey> key;
  std::unique_ptr<crypto::SoftwareSigner> signer;
  x509::Certificate cert;
};

inline const Issuer& issuer() {
  static const Issuer* made = [] {
    auto key = crypto::generate_key(crypto::KeyType::kEcP256);
    if (!key) std::abort();
    auto* out = new Issuer;
    out->key = std::make_shared<const crypto::PrivateKey>(std::move(*key));
    out->signer = std::make_unique<crypto::SoftwareSigner>(out->key);
    x509::CertificateTemplate t;
    auto subject = x509::parse_name("CN=Fuzz CA");
    if (!subject) std::abort();
    t.subject = std::move(*subject);
    t.public_key = out->key->get();
    t.serial = x509::random_serial();
    t.not_before = from_unix(1735787045);
    t.not_after = t.not_before + std::chrono::days(3650);
    t.key_usage = {"keyCertSign", "cRLSign", "digitalSignature"};
    t.is_ca = true;
    x509::LintRules rules;
    rules.max_validity = std::chrono::days(3650);
    rules.require_san = false;
    rules.expect_ca = true;
    auto tbs = x509::build_tbs(t, nullptr, out->key->get());
    if (!tbs) std::abort();
    auto linted = x509::lint(std::move(*tbs), rules);
    if (!linted) std::abort();
    auto cert = x509::sign(std::move(*linted), *out->signer);
    if (!cert) std::abort();
    out->cert = std::move(*cert);
    return out;  // lives for the process: leak checks see it as reachable
  }();
  return *made;
}

}  // namespace certward::fuzz
