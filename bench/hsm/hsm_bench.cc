// P-256 signatures per second through the PKCS#11 signer (a key generated in the token named
// on the command line) and through the software signer, one after the other in the same
// process, on 1..N threads: bench/hsm/run.sh.
//
//   certward_hsm_bench MODULE TOKEN PIN_SOURCE SECONDS MAX_THREADS
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "crypto/pkcs11.h"

namespace {

using certward::Bytes;
using certward::crypto::Signer;

// Signatures per second by `threads` threads over `seconds`, each signing a fresh 512-byte
// message (the size of a small TBSCertificate) and every signature checked for success.
double rate(const Signer& signer, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<long> done{0}, failed{0};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      const Bytes message = certward::crypto::random_bytes(512);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (signer.sign_data(message)) {
          ++n;
        } else {
          failed.fetch_add(1);
        }
      }
      done.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed.load() != 0) {
    std::fprintf(stderr, "%ld signatures failed\n", failed.load());
    std::exit(1);
  }
  return static_cast<double>(done.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s MODULE TOKEN PIN_SOURCE SECONDS MAX_THREADS\n", argv[0]);
    return 2;
  }
  certward::crypto::Pkcs11KeyRef where{argv[1], argv[2], "bench-p256", "", argv[3]};
  const double seconds = std::atof(argv[4]);
  const int max_threads = std::atoi(argv[5]);
  auto ref = certward::crypto::pkcs11_generate_key(where, certward::crypto::KeyType::kEcP256);
  if (!ref) {
    std::fprintf(stderr, "token key: %s\n", ref.error().message.c_str());
    return 1;
  }
  auto token = certward::crypto::open_pkcs11_signer(*ref);
  auto key = certward::crypto::generate_key(certward::crypto::KeyType::kEcP256);
  if (!token || !key) {
    std::fprintf(stderr, "signer: %s\n", (!token ? token.error() : key.error()).message.c_str());
    return 1;
  }
  const certward::crypto::SoftwareSigner software(
      std::make_shared<const certward::crypto::PrivateKey>(std::move(*key)));
  std::printf("%-8s %14s %14s %8s\n", "threads", "pkcs11/s", "software/s", "ratio");
  for (int threads = 1; threads <= max_threads; ++threads) {
    const double hsm = rate(**token, threads, seconds);
    const double soft = rate(software, threads, seconds);
    std::printf("%-8d %14.0f %14.0f %8.2f\n", threads, hsm, soft, hsm / soft);
  }
  (void)certward::crypto::pkcs11_destroy_key(*ref);
  return 0;
}
