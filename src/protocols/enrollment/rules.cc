#include "protocols/enrollment/rules.h"

#include <algorithm>
#include <vector>

namespace certward::protocols::enrollment {

bool names_expected_device(const auth::CredentialInfo& credential, std::string_view common_name,
                           std::span<const x509::SubjectAltName> sans) {
  if (!credential.expected_subject) return true;
  const std::string& expected = *credential.expected_subject;
  const bool other_san = std::any_of(sans.begin(), sans.end(), [&](const x509::SubjectAltName& n) {
    return n.type != x509::SanType::kDns || n.value != expected;
  });
  return common_name == expected && !other_san;
}

bool keeps_names(std::string_view subject, std::span<const x509::SubjectAltName> sans,
                 const inventory::CertificateRecord& old) {
  if (subject != old.subject) return false;
  if (sans.empty()) return true;
  std::vector<x509::SubjectAltName> a(sans.begin(), sans.end());
  std::vector<x509::SubjectAltName> b = old.sans;
  auto key = [](const x509::SubjectAltName& s) { return std::pair(s.type, s.value); };
  auto by_key = [&](const auto& x, const auto& y) { return key(x) < key(y); };
  std::sort(a.begin(), a.end(), by_key);
  std::sort(b.begin(), b.end(), by_key);
  return a == b;
}

http::Response text_refusal(int status, std::string_view message,
                            std::chrono::seconds retry_after) {
  auto r = http::Response::text(status, std::string(message) + "\n");
  if (retry_after.count() > 0) r.set_header("Retry-After", std::to_string(retry_after.count()));
  r.set_header("Cache-Control", "no-store");
  return r;
}

}  // namespace certward::protocols::enrollment
