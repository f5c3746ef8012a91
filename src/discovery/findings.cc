#include "discovery/findings.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

namespace certward::discovery {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Only a self-issued certificate has its key decoded for this (Certificate::get).
bool signed_by_own_key(const x509::Certificate& cert) {
  if (!cert.info().self_issued) return false;
  EVP_PKEY* key = cert.public_key();
  const bool verifies = key != nullptr && X509_verify(cert.get(), key) == 1;
  ERR_clear_error();
  return verifies;
}

bool is_root(const x509::CertificateInfo& info) {
  return info.is_ca() && std::ranges::find(info.key_usage, "keyCertSign") != info.key_usage.end();
}

}  // namespace

std::vector<Finding> certificate_findings(const x509::Certificate& cert, SysTime now,
                                          std::chrono::seconds expiring_window) {
  const x509::CertificateInfo& info = cert.info();
  std::vector<Finding> out;
  auto add = [&](std::string code, Severity severity, std::string detail) {
    out.push_back(Finding{.code = std::move(code),
                          .severity = severity,
                          .detail = std::move(detail),
                          .fingerprint = info.sha256_hex});
  };
  if (now > info.not_after) {
    add("expired", Severity::kCritical, "expired " + format_time(info.not_after));
  } else if (now < info.not_before) {
    add("not_yet_valid", Severity::kHigh, "valid from " + format_time(info.not_before));
  } else if (info.not_after - now < expiring_window) {
    add("expiring", Severity::kMedium, "expires " + format_time(info.not_after));
  }

  const bool self_signed = signed_by_own_key(cert);
  if (self_signed && !is_root(info)) add("self_signed", Severity::kMedium, "self-signed");

  const auto& key = info.key;
  const std::string_view alg = crypto::key_algorithm_name(key.algorithm);
  if ((alg == "rsa" || alg == "rsa-pss") && key.bits < 2048) {
    add("weak_key", Severity::kHigh, "RSA key of " + std::to_string(key.bits) + " bits");
  } else if (alg == "ecdsa" && key.bits < 224) {
    add("weak_key", Severity::kHigh, "EC key of " + std::to_string(key.bits) + " bits");
  }

  if (!self_signed) {
    const std::string sig = lower(info.signature_algorithm);
    if (sig.find("md5") != std::string::npos) {
      add("md5_signature", Severity::kCritical, "signed with " + info.signature_algorithm);
    } else if (sig.find("sha1") != std::string::npos) {
      add("sha1_signature", Severity::kHigh, "signed with " + info.signature_algorithm);
    }
  }
  return out;
}

}  // namespace certward::discovery
