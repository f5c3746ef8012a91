// Writes a directory tree of N distinct certificates (default 1,000,000) for `certward cert
// import` to read, the way real trees mix containers: of every 20 certificates, 8 are single
// PEM files, 2 single DER files, 5 share a PEM bundle and 5 a PKCS#7 (.p7b); one group in
// 1,000 also writes a PKCS#12 (password "bench") holding a leaf and its issuer. Files go 1,000
// to a directory. One P-256 CA key signs everything through x509::build_tbs, lint and sign,
// on every core. Prints key=value lines: certificates, files, seconds.
//
//   certward_import_tree DIR [certificates]

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"
#include "x509/builder.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace {

using namespace certward;

constexpr std::size_t kGroup = 20;          // certificates per group of files
constexpr std::size_t kFilesPerGroup = 12;  // 8 PEM + 2 DER + bundle + p7b
constexpr std::size_t kFilesPerDir = 1000;

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "certward_import_tree: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return *std::move(r);
}

struct Pki {
  crypto::PrivateKey ca_key = must(crypto::generate_key(crypto::KeyType::kEcP256), "CA key");
  crypto::PrivateKey leaf_key = must(crypto::generate_key(crypto::KeyType::kEcP256), "leaf key");
  std::unique_ptr<crypto::SoftwareSigner> signer;
  std::optional<x509::Certificate> ca;
  const SysTime now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  Pki() {
    signer = std::make_unique<crypto::SoftwareSigner>(
        std::make_shared<const crypto::PrivateKey>(crypto::up_ref(ca_key.get())));
    x509::CertificateTemplate t;
    t.subject = must(x509::parse_name("CN=Import Bench CA,O=certward bench"), "CA name");
    t.public_key = ca_key.get();
    t.serial = x509::random_serial();
    t.not_before = now - std::chrono::days(1);
    t.not_after = now + std::chrono::days(3650);
    t.key_usage = {"digitalSignature", "keyCertSign", "cRLSign"};
    t.is_ca = true;
    x509::LintRules rules;
    rules.max_validity = std::chrono::days(3651);
    rules.require_san = false;
    rules.expect_ca = true;
    auto tbs = must(x509::build_tbs(t, nullptr, ca_key.get()), "CA template");
    ca = must(x509::sign(must(x509::lint(std::move(tbs), rules), "CA lint"), *signer), "CA sign");
  }

  // Certificate i: its own name and serial, validity spread over a year so that expiry pages
  // have something to order.
  x509::Certificate leaf(std::size_t i) const {
    const std::string host = "host" + std::to_string(i) + ".bench.example";
    x509::CertificateTemplate t;
    t.subject =
        must(x509::parse_name("CN=" + host + ",O=Bench " + std::to_string(i % 97)), "leaf name");
    t.sans = {{x509::SanType::kDns, host}};
    t.public_key = leaf_key.get();
    t.serial = x509::random_serial();
    t.not_before = now - std::chrono::days(1);
    t.not_after = now + std::chrono::days(1 + static_cast<int>(i % 365));
    t.key_usage = {"digitalSignature"};
    t.extended_key_usage = {"serverAuth"};
    auto tbs = must(x509::build_tbs(t, &*ca, ca_key.get()), "leaf template");
    return must(
        x509::sign(must(x509::lint(std::move(tbs), x509::LintRules{}), "leaf lint"), *signer),
        "leaf sign");
  }
};

void write(const std::string& path, std::span<const std::uint8_t> data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) {
    std::fprintf(stderr, "certward_import_tree: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

// Writes group g (certificates g*20 .. g*20+19, fewer for the last) as its files.
std::size_t write_group(const Pki& pki, const std::string& root, std::size_t g, std::size_t n) {
  std::vector<x509::Certificate> certs;
  for (std::size_t i = g * kGroup; i < std::min(n, (g + 1) * kGroup); ++i) {
    certs.push_back(pki.leaf(i));
  }
  const std::size_t file0 = g * kFilesPerGroup;
  const std::string dir = root + "/d" + std::to_string(file0 / kFilesPerDir);
  ::mkdir(dir.c_str(), 0755);
  const std::string base = dir + "/g" + std::to_string(g);
  std::size_t files = 0;
  const std::span<const x509::Certificate> all(certs);
  for (std::size_t k = 0; k < certs.size(); ++k) {
    if (k < 8) {
      write(base + "-" + std::to_string(k) + ".pem", as_bytes(certs[k].pem()));
    } else if (k < 10) {
      write(base + "-" + std::to_string(k) + ".der", certs[k].der());
    } else {
      continue;
    }
    ++files;
  }
  if (certs.size() > 10) {
    write(base + "-bundle.pem",
          as_bytes(x509::to_pem(all.subspan(10, std::min<std::size_t>(5, certs.size() - 10)))));
    ++files;
  }
  if (certs.size() > 15) {
    write(base + ".p7b", must(x509::make_pkcs7(all.subspan(15)), "p7b"));
    ++files;
  }
  if (g % 1000 == 0) {
    const std::vector<x509::Certificate> chain = {*pki.ca};
    write(base + ".p12",
          must(x509::make_pkcs12(pki.leaf_key, certs[0], chain, "bench", "leaf"), "p12"));
    ++files;
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: certward_import_tree DIR [certificates]\n");
    return 2;
  }
  const std::string root = argv[1];
  const std::size_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
  ::mkdir(root.c_str(), 0755);
  const Pki pki;
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t groups = (n + kGroup - 1) / kGroup;
  std::atomic<std::size_t> next{0}, files{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) {
    threads.emplace_back([&] {
      for (std::size_t g; (g = next.fetch_add(1)) < groups;) {
        files += write_group(pki, root, g, n);
      }
    });
  }
  for (auto& t : threads) t.join();
  // The CA, for whoever wants to verify what was imported.
  write(root + "/../import-bench-ca.pem", as_bytes(pki.ca->pem()));
  std::printf("certificates=%zu\nfiles=%zu\ngenerate_seconds=%.1f\n", n, files.load(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
