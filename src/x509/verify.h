#pragma once
// Chain building and verification, delegated to OpenSSL's verifier (never our own).

#include <span>
#include <string>
#include <vector>

#include "x509/certificate.h"

namespace certward::x509 {

enum class Purpose : std::uint8_t { kAny, kTlsServer, kTlsClient, kCodeSigning, kSmime };

struct VerifyOptions {
  std::optional<SysTime> at;  // verification time; now if absent
  Purpose purpose = Purpose::kAny;
  bool check_hostname = false;
  std::string hostname;
};

struct VerifiedChain {
  std::vector<Certificate> path;  // leaf first, trust anchor last
};

// Builds a path from `leaf` through `untrusted` to one of `roots` and verifies it (signatures,
// validity at `at`, basic constraints, path length, name constraints, purpose).
// Errors: kBadSignature (no valid path; the message carries OpenSSL's reason).
Result<VerifiedChain> verify_chain(const Certificate& leaf, std::span<const Certificate> untrusted,
                                   std::span<const Certificate> roots,
                                   const VerifyOptions& options = {});

}  // namespace certward::x509
