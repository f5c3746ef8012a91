// Micro-benchmarks of the revocation wire formats: generating a CRL of 10k, 100k and 1M entries
// with a P-256 CA key (x509::build_crl), parsing one back (x509::parse_crl), and what an OCSP
// responder does per request it cannot answer from its cache: parse the request, then build and
// sign one response. The 1M-entry CRL with its peak memory is measured on its own by
// bench/crl/run.sh. What each one measures, and the numbers, are in docs/benchmarks.md.

#include <benchmark/benchmark.h>
#include <openssl/ocsp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/crl.h"
#include "x509/names.h"
#include "x509/ocsp.h"

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

SysTime now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

struct Ca {
  std::shared_ptr<const crypto::PrivateKey> key = std::make_shared<const crypto::PrivateKey>(
      must(crypto::generate_key(crypto::KeyType::kEcP256), "CA key"));
  crypto::SoftwareSigner signer{key};
  Certificate cert;

  Ca() {
    CertificateTemplate t;
    t.subject = must(parse_name("CN=Bench Issuing CA,O=Example"), "CA subject");
    t.public_key = key->get();
    t.serial = random_serial();
    t.not_before = now() - std::chrono::hours(1);
    t.not_after = now() + std::chrono::days(3650);
    t.key_usage = {"keyCertSign", "cRLSign", "digitalSignature"};
    t.is_ca = true;
    LintRules rules;
    rules.max_validity = std::chrono::days(3651);
    rules.require_san = false;
    rules.expect_ca = true;
    cert = must(
        sign(must(lint(must(build_tbs(t, nullptr, key->get()), "tbs"), rules), "lint"), signer),
        "sign");
  }
};

const Ca& ca() {
  static const Ca c;
  return c;
}

// `n` revoked certificates as an issuing CA accumulates them: 16-octet random serials, a
// reason on two thirds (keyCompromise, superseded, cessationOfOperation), an invalidity date
// on one in ten.
std::vector<CrlEntry> revoked_entries(std::size_t n) {
  std::vector<CrlEntry> out;
  out.reserve(n);
  const SysTime t0 = now();
  for (std::size_t i = 0; i < n; ++i) {
    CrlEntry e;
    e.serial = random_serial();
    e.revocation_time = t0 - std::chrono::seconds(i);
    if (i % 3 == 1) e.reason = CrlReason::kKeyCompromise;
    if (i % 3 == 2) e.reason = i % 2 ? CrlReason::kSuperseded : CrlReason::kCessationOfOperation;
    if (i % 10 == 0) e.invalidity_date = e.revocation_time - std::chrono::hours(12);
    out.push_back(std::move(e));
  }
  return out;
}

CrlTemplate crl_template(std::size_t n) {
  CrlTemplate t;
  t.issuer = ca().cert;
  t.number = crl_number_bytes(42);
  t.this_update = now();
  t.next_update = t.this_update + std::chrono::days(7);
  t.freshest_crl_urls = {"http://pki.example.com/crl/issuing-delta.crl"};
  t.entries = revoked_entries(n);
  return t;
}

// Templates are made once per size: the entries are the caller's (the revocation service's)
// cost, not the encoder's.
const CrlTemplate& template_of(std::size_t n) {
  static std::map<std::size_t, CrlTemplate> made;
  auto it = made.find(n);
  if (it == made.end()) it = made.emplace(n, crl_template(n)).first;
  return it->second;
}

void BM_BuildCrl(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const CrlTemplate& t = template_of(n);
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto der = build_crl(t, ca().signer);
    if (!der) {
      state.SkipWithError("build_crl failed");
      break;
    }
    bytes = der->size();
    benchmark::DoNotOptimize(der);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["crl_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_BuildCrl)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same CRL through OpenSSL's objects (X509_REVOKED, ASN1_INTEGER, ASN1_TIME and an
// extension stack per entry, X509_CRL_sort, X509_CRL_sign, i2d): the path build_crl does not
// take, measured as the reference for that choice.
void BM_BuildCrlWithOpenSslObjects(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const CrlTemplate& t = template_of(n);
  for (auto _ : state) {
    crypto::X509CrlPtr crl(X509_CRL_new());
    X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(t.issuer.get()));
    crypto::Asn1TimePtr this_update(ASN1_TIME_set(nullptr, to_unix(t.this_update)));
    crypto::Asn1TimePtr next_update(ASN1_TIME_set(nullptr, to_unix(t.next_update)));
    X509_CRL_set1_lastUpdate(crl.get(), this_update.get());
    X509_CRL_set1_nextUpdate(crl.get(), next_update.get());
    for (const CrlEntry& e : t.entries) {
      X509_REVOKED* r = X509_REVOKED_new();
      crypto::BignumPtr bn(BN_bin2bn(e.serial.data(), static_cast<int>(e.serial.size()), nullptr));
      crypto::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
      crypto::Asn1TimePtr when(ASN1_TIME_set(nullptr, to_unix(e.revocation_time)));
      X509_REVOKED_set_serialNumber(r, serial.get());
      X509_REVOKED_set_revocationDate(r, when.get());
      if (e.reason) {
        crypto::Handle<ASN1_ENUMERATED, ASN1_ENUMERATED_free> reason(ASN1_ENUMERATED_new());
        ASN1_ENUMERATED_set(reason.get(), static_cast<long>(*e.reason));
        X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason.get(), 0, 0);
      }
      if (e.invalidity_date) {
        crypto::Handle<ASN1_GENERALIZEDTIME, ASN1_GENERALIZEDTIME_free> date(
            ASN1_GENERALIZEDTIME_set(nullptr, to_unix(*e.invalidity_date)));
        X509_REVOKED_add1_ext_i2d(r, NID_invalidity_date, date.get(), 0, 0);
      }
      X509_CRL_add0_revoked(crl.get(), r);
    }
    X509_CRL_sort(crl.get());
    if (!ca().signer.sign_crl(crl.get())) {
      state.SkipWithError("sign_crl failed");
      break;
    }
    const int len = i2d_X509_CRL(crl.get(), nullptr);
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509_CRL(crl.get(), &p);
    benchmark::DoNotOptimize(der);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_BuildCrlWithOpenSslObjects)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ParseCrl(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Bytes der = must(build_crl(template_of(n), ca().signer), "CRL");
  for (auto _ : state) {
    auto info = parse_crl(der);
    if (!info) state.SkipWithError("parse_crl failed");
    benchmark::DoNotOptimize(info);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_ParseCrl)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// An OCSP request as `openssl ocsp` sends it: one SHA-1 CertID of a 16-octet serial and a
// 16-octet nonce.
Bytes ocsp_request_der() {
  const Bytes serial = random_serial();
  crypto::BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  crypto::Asn1IntegerPtr asn1_serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  crypto::Handle<OCSP_REQUEST, OCSP_REQUEST_free> req(OCSP_REQUEST_new());
  OCSP_CERTID* id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca().cert.get()),
                                     X509_get0_pubkey_bitstr(ca().cert.get()), asn1_serial.get());
  if (!id || !OCSP_request_add0_id(req.get(), id) ||
      OCSP_request_add1_nonce(req.get(), nullptr, 16) != 1) {
    std::abort();
  }
  const int n = i2d_OCSP_REQUEST(req.get(), nullptr);
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_OCSP_REQUEST(req.get(), &p);
  return der;
}

void BM_ParseOcspRequest(benchmark::State& state) {
  const Bytes der = ocsp_request_der();
  for (auto _ : state) {
    auto req = parse_ocsp_request(der);
    if (!req) state.SkipWithError("parse_ocsp_request failed");
    benchmark::DoNotOptimize(req);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["request_bytes"] = static_cast<double>(der.size());
}
BENCHMARK(BM_ParseOcspRequest);

// What a responder does for a request it cannot answer from its cache (a nonce): match the
// CertID to the issuer (hashes computed once), build and sign one response with the CA key,
// the CA certificate included.
void BM_ParseAndBuildOcspResponse(benchmark::State& state) {
  const Bytes der = ocsp_request_der();
  const OcspIssuerHashes issuer = ocsp_issuer_hashes(ca().cert, OcspHashAlgorithm::kSha1);
  const SysTime t0 = now();
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto req = parse_ocsp_request(der);
    if (!req || !issuer.matches(req->cert_ids[0])) {
      state.SkipWithError("request");
      break;
    }
    OcspResponseTemplate t;
    t.responder = ca().cert;
    t.produced_at = t0;
    t.nonce = req->nonce;
    t.responses.push_back({.cert_id = req->cert_ids[0],
                           .status = OcspCertStatus::kRevoked,
                           .revocation_time = t0 - std::chrono::hours(1),
                           .revocation_reason = CrlReason::kKeyCompromise,
                           .this_update = t0,
                           .next_update = t0 + std::chrono::days(1)});
    auto resp = build_ocsp_response(t, ca().signer);
    if (!resp) {
      state.SkipWithError("build_ocsp_response failed");
      break;
    }
    bytes = resp->size();
    benchmark::DoNotOptimize(resp);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["response_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ParseAndBuildOcspResponse);

// A request of 1,000 CertIDs, refused after the 50th: what a hostile client costs.
void BM_RefuseOversizedOcspRequest(benchmark::State& state) {
  crypto::Handle<OCSP_REQUEST, OCSP_REQUEST_free> req(OCSP_REQUEST_new());
  for (int i = 0; i < 1000; ++i) {
    crypto::Asn1IntegerPtr serial(ASN1_INTEGER_new());
    ASN1_INTEGER_set(serial.get(), 1000 + i);
    OCSP_request_add0_id(req.get(),
                         OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca().cert.get()),
                                          X509_get0_pubkey_bitstr(ca().cert.get()), serial.get()));
  }
  const int n = i2d_OCSP_REQUEST(req.get(), nullptr);
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_OCSP_REQUEST(req.get(), &p);
  for (auto _ : state) {
    auto parsed = parse_ocsp_request(der);
    if (parsed || parsed.error().code != ErrorCode::kInvalidArgument) {
      state.SkipWithError("not refused");
    }
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["request_bytes"] = static_cast<double>(der.size());
}
BENCHMARK(BM_RefuseOversizedOcspRequest);

}  // namespace
}  // namespace certward::x509
