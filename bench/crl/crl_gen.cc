// Generates one CRL of N revoked certificates (default 1,000,000) with a P-256 CA key through
// x509::build_crl and reports, on stdout as key=value lines, how long it took and the peak
// resident memory of the process before and after; then parses and verifies it back. Run by
// bench/crl/run.sh, which also has OpenSSL read and verify the result.
//
//   certward_crl_gen [entries] [crl.der ca.pem]

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/crl.h"
#include "x509/names.h"

namespace {

using namespace certward;
using Stopwatch = std::chrono::steady_clock;

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "certward_crl_gen: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return *std::move(r);
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

double seconds_since(Stopwatch::time_point start) {
  return std::chrono::duration<double>(Stopwatch::now() - start).count();
}

SysTime now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const auto key = std::make_shared<const crypto::PrivateKey>(
      must(crypto::generate_key(crypto::KeyType::kEcP256), "key"));
  const crypto::SoftwareSigner signer(key);
  x509::CertificateTemplate ct;
  ct.subject = must(x509::parse_name("CN=Bench Issuing CA,O=Example"), "name");
  ct.public_key = key->get();
  ct.serial = x509::random_serial();
  ct.not_before = now() - std::chrono::hours(1);
  ct.not_after = now() + std::chrono::days(3650);
  ct.key_usage = {"keyCertSign", "cRLSign"};
  ct.is_ca = true;
  x509::LintRules rules;
  rules.max_validity = std::chrono::days(3651);
  rules.require_san = false;
  rules.expect_ca = true;
  const x509::Certificate ca = must(
      x509::sign(
          must(x509::lint(must(x509::build_tbs(ct, nullptr, key->get()), "tbs"), rules), "lint"),
          signer),
      "sign");
  const long rss_start = peak_rss_kib();

  // The entries as the revocation service would hand them over: 16-octet random serials in
  // no particular order, two thirds with a reason, one in ten with an invalidity date.
  x509::CrlTemplate t;
  t.issuer = ca;
  t.number = x509::crl_number_bytes(1);
  t.this_update = now();
  t.next_update = t.this_update + std::chrono::days(7);
  t.freshest_crl_urls = {"http://pki.example.com/crl/issuing-delta.crl"};
  t.entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    x509::CrlEntry e;
    e.serial = x509::random_serial();
    e.revocation_time = t.this_update - std::chrono::seconds(i);
    if (i % 3 == 1) e.reason = x509::CrlReason::kKeyCompromise;
    if (i % 3 == 2) e.reason = x509::CrlReason::kSuperseded;
    if (i % 10 == 0) e.invalidity_date = e.revocation_time - std::chrono::hours(12);
    t.entries.push_back(std::move(e));
  }
  const long rss_entries = peak_rss_kib();

  const auto start = Stopwatch::now();
  const Bytes der = must(x509::build_crl(t, signer), "build_crl");
  const double build_s = seconds_since(start);
  const long rss_built = peak_rss_kib();

  const auto parse_start = Stopwatch::now();
  const x509::CrlInfo info = must(x509::parse_crl(der), "parse_crl");
  const double parse_s = seconds_since(parse_start);
  const long rss_parsed = peak_rss_kib();
  const auto verify_start = Stopwatch::now();
  if (auto v = x509::verify_crl_signature(der, ca); !v) {
    std::fprintf(stderr, "certward_crl_gen: verify: %s\n", v.error().message.c_str());
    return 1;
  }
  const double verify_s = seconds_since(verify_start);
  if (info.entries.size() != n) {
    std::fprintf(stderr, "certward_crl_gen: parsed %zu entries, not %zu\n", info.entries.size(), n);
    return 1;
  }

  std::printf("entries=%zu\n", n);
  std::printf("crl_bytes=%zu\n", der.size());
  std::printf("build_seconds=%.3f\n", build_s);
  std::printf("entries_per_second=%.0f\n", static_cast<double>(n) / build_s);
  std::printf("peak_rss_mib_before_entries=%.1f\n", rss_start / 1024.0);
  std::printf("peak_rss_mib_with_entries=%.1f\n", rss_entries / 1024.0);
  std::printf("peak_rss_mib_after_build=%.1f\n", rss_built / 1024.0);
  std::printf("build_added_mib=%.1f\n", (rss_built - rss_entries) / 1024.0);
  std::printf("parse_seconds=%.3f\n", parse_s);
  std::printf("peak_rss_mib_after_parse=%.1f\n", rss_parsed / 1024.0);
  std::printf("verify_seconds=%.3f\n", verify_s);
  std::printf("peak_rss_mib_after_verify=%.1f\n", peak_rss_kib() / 1024.0);
  if (argc > 3) {
    std::ofstream(argv[2], std::ios::binary)
        .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
    std::ofstream(argv[3]) << ca.pem();
  }
  return 0;
}
