// Micro-benchmarks of the x509 hot paths: parsing a certificate, parsing and verifying a CSR,
// building + linting + signing a leaf, and the raw ECDSA P-256 signature underneath them all.
// What each one measures, and the numbers, are in docs/benchmarks.md.

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/certificate.h"
#include "x509/csr.h"
#include "x509/names.h"

namespace certward::x509 {
namespace {

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "bench setup: %s: %s\n", what, r.error().message.c_str());
    std::abort();
  }
  return *std::move(r);
}

// A typical public TLS leaf: three DNS names, serverAuth, CDP and AIA (OCSP + caIssuers).
const std::vector<SubjectAltName> kLeafSans = {
    {SanType::kDns, "www.example.com"},
    {SanType::kDns, "example.com"},
    {SanType::kDns, "api.example.com"},
};

CertificateTemplate leaf_template(const EVP_PKEY* subject_key) {
  const SysTime now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  CertificateTemplate t;
  t.subject = must(parse_name("CN=www.example.com"), "leaf subject");
  t.sans = kLeafSans;
  t.public_key = subject_key;
  t.serial = random_serial();
  t.not_before = now - std::chrono::minutes(5);
  t.not_after = t.not_before + std::chrono::days(90);
  t.key_usage = {"digitalSignature"};
  t.extended_key_usage = {"serverAuth"};
  t.crl_urls = {"http://pki.example.com/crl/issuing.crl"};
  t.ocsp_urls = {"http://pki.example.com/ocsp"};
  t.ca_issuers_urls = {"http://pki.example.com/ca/issuing.crt"};
  return t;
}

LintRules leaf_rules() {
  LintRules rules;
  rules.max_validity = std::chrono::days(398);
  rules.require_san = true;
  rules.expect_ca = false;
  return rules;
}

// One in-memory P-256 issuing CA (self-signed here: the issuer's own chain does not change
// the cost of issuing under it) and one P-256 subject key. Built once per process.
struct Fixture {
  std::shared_ptr<const crypto::PrivateKey> ca_key;
  std::unique_ptr<crypto::SoftwareSigner> ca_signer;
  Certificate ca_cert;
  crypto::PrivateKey subject_key;
  Bytes leaf_der;
  Bytes csr_der;
  std::optional<Csr> csr;  // csr_der parsed: its SubjectPublicKeyInfo is what the RA passes

  Fixture()
      : ca_key(std::make_shared<const crypto::PrivateKey>(
            must(crypto::generate_key(crypto::KeyType::kEcP256), "CA key"))),
        ca_signer(std::make_unique<crypto::SoftwareSigner>(ca_key)),
        subject_key(must(crypto::generate_key(crypto::KeyType::kEcP256), "subject key")) {
    const SysTime now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    CertificateTemplate ca;
    ca.subject = must(parse_name("CN=Bench Issuing CA,O=Example"), "CA subject");
    ca.public_key = ca_key->get();
    ca.serial = random_serial();
    ca.not_before = now - std::chrono::hours(1);
    ca.not_after = now + std::chrono::days(3650);
    ca.key_usage = {"keyCertSign", "cRLSign"};
    ca.is_ca = true;
    ca.path_length = 0;
    LintRules ca_rules;
    ca_rules.max_validity = std::chrono::days(3651);
    ca_rules.require_san = false;
    ca_rules.expect_ca = true;
    auto tbs = must(build_tbs(ca, nullptr, ca_key->get()), "CA tbs");
    ca_cert = must(sign(must(lint(std::move(tbs), ca_rules), "CA lint"), *ca_signer), "CA sign");

    const CertificateTemplate leaf = leaf_template(subject_key.get());
    auto leaf_tbs = must(build_tbs(leaf, &ca_cert, nullptr), "leaf tbs");
    leaf_der = must(sign(must(lint(std::move(leaf_tbs), leaf_rules()), "leaf lint"), *ca_signer),
                    "leaf sign")
                   .der();
    csr_der = must(make_csr_der(subject_key, "CN=www.example.com", kLeafSans), "CSR");
    csr = must(parse_csr(csr_der), "parse CSR");
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void BM_ParseCertificateDer(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto cert = Certificate::from_der(f.leaf_der);
    if (!cert) state.SkipWithError("from_der failed");
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["der_bytes"] = static_cast<double>(f.leaf_der.size());
}
BENCHMARK(BM_ParseCertificateDer);

void BM_ParseCsr(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto csr = parse_csr(f.csr_der);
    if (!csr) state.SkipWithError("parse_csr failed");
    benchmark::DoNotOptimize(csr);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseCsr);

// The CPU cost of one issuance below the RA: a fresh serial, build_tbs, lint, sign.
// With `from_csr` the template carries the CSR's decoded SubjectPublicKeyInfo, as
// ca::Enrollment passes it for CSR requests (the key is copied, and sign() keeps the signed
// object); without it only the EVP_PKEY, the path of server-generated keys (the key is
// re-encoded by X509_set_pubkey, and sign() re-parses the signed certificate).
void build_sign_leaf(benchmark::State& state, bool from_csr) {
  const Fixture& f = fixture();
  CertificateTemplate t = leaf_template(f.subject_key.get());
  if (from_csr) t.public_key_info = X509_REQ_get_X509_PUBKEY(f.csr->get());
  const LintRules rules = leaf_rules();
  for (auto _ : state) {
    t.serial = random_serial();
    auto tbs = build_tbs(t, &f.ca_cert, nullptr);
    if (!tbs) {
      state.SkipWithError("build_tbs failed");
      break;
    }
    auto linted = lint(*std::move(tbs), rules);
    if (!linted) {
      state.SkipWithError("lint failed");
      break;
    }
    auto cert = sign(*std::move(linted), *f.ca_signer);
    if (!cert) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(cert);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_BuildSignP256Leaf(benchmark::State& state) { build_sign_leaf(state, true); }
BENCHMARK(BM_BuildSignP256Leaf);
void BM_BuildSignP256LeafFromKey(benchmark::State& state) { build_sign_leaf(state, false); }
BENCHMARK(BM_BuildSignP256LeafFromKey);

// One ECDSA P-256 signature (SHA-256 of 32 bytes, then sign) through the Signer interface:
// the floor under every issuance.
void BM_EcdsaP256SignRaw(benchmark::State& state) {
  const Fixture& f = fixture();
  std::array<std::uint8_t, 32> data{};
  crypto::random_bytes(data);
  for (auto _ : state) {
    auto sig = f.ca_signer->sign_data(data);
    if (!sig) state.SkipWithError("sign_data failed");
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaP256SignRaw);

}  // namespace
}  // namespace certward::x509
