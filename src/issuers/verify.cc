#include "issuers/verify.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "common/config.h"
#include "x509/verify.h"

namespace certward::issuers {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// DNS names compare without case (an upstream CA may lower-case them); the rest as written.
std::vector<std::string> comparable(const std::vector<x509::SubjectAltName>& sans) {
  std::vector<std::string> out;
  out.reserve(sans.size());
  for (const auto& s : sans) {
    out.push_back(std::string(x509::san_type_name(s.type)) + ":" +
                  (s.type == x509::SanType::kDns ? lower(s.value) : s.value));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// An extended key usage by short name ("serverAuth") or OID, as its dotted OID: profiles and
// parsed certificates may spell one usage either way.
std::string dotted(const std::string& eku) {
  ASN1_OBJECT* obj = OBJ_txt2obj(eku.c_str(), 0);
  if (obj == nullptr) return eku;
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  ASN1_OBJECT_free(obj);
  return n > 0 && static_cast<std::size_t>(n) < sizeof buf ? std::string(buf, n) : eku;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

}  // namespace

Status check_upstream_result(const ca::Order& order, const x509::Certificate& leaf,
                             std::span<const x509::Certificate> chain,
                             std::span<const x509::Certificate> trust_anchors,
                             std::string_view issuer) {
  auto refuse = [&](const std::string& why) {
    return fail(ErrorCode::kPolicyRejected,
                "issuer '" + std::string(issuer) + "' returned " + why + "; nothing was recorded");
  };
  const auto& info = leaf.info();
  if (order.public_key && !crypto::same_public_key(leaf.public_key(), order.public_key)) {
    return refuse("a certificate for another key than the request's");
  }
  const auto want = comparable(order.sans);
  const auto got = comparable(info.sans);
  if (want != got) {
    return refuse("a certificate whose names (" + joined(got) + ") differ from the request's (" +
                  joined(want) + ")");
  }
  if (info.is_ca() && !order.is_ca) return refuse("a CA certificate for a leaf request");
  // What the certificate may be used for stays within the profile: no extended key usage the
  // profile lacks (anyExtendedKeyUsage least of all), no certificate or CRL signing on a leaf.
  for (const auto& eku : info.extended_key_usage) {
    const std::string oid = dotted(eku);
    const auto in_profile = [&](const std::string& usage) {
      return std::any_of(order.extended_key_usage.begin(), order.extended_key_usage.end(),
                         [&](const std::string& mine) { return dotted(mine) == usage; });
    };
    // Public CAs have long issued TLS server certificates for client authentication too: a
    // server profile tolerates that pairing, and nothing else it does not name.
    constexpr std::string_view kServerAuth = "1.3.6.1.5.5.7.3.1";
    constexpr std::string_view kClientAuth = "1.3.6.1.5.5.7.3.2";
    const bool allowed =
        in_profile(oid) || (oid == kClientAuth && in_profile(std::string(kServerAuth)));
    if (!allowed || eku == "anyExtendedKeyUsage" || eku == "2.5.29.37.0") {
      return refuse("a certificate for " + eku + ", which profile '" + order.profile +
                    "' does not give");
    }
  }
  if (!order.is_ca) {
    for (const auto& ku : info.key_usage) {
      if (ku == "keyCertSign" || ku == "cRLSign") {
        return refuse("a leaf certificate with key usage " + ku);
      }
    }
  }
  constexpr auto kSkew = std::chrono::minutes(5);
  if (info.not_before > order.now + kSkew) {
    return refuse("a certificate that is not valid before " + format_time(info.not_before));
  }
  if (info.not_after <= order.now) return refuse("a certificate that has already expired");
  // The CA chooses the lifetime; the profile still bounds it, as it bounds certward's own.
  if (order.max_validity.count() > 0 && info.not_after > order.now + order.max_validity + kSkew) {
    return refuse("a certificate valid until " + format_time(info.not_after) +
                  ", beyond profile '" + order.profile + "' maximum of " +
                  format_duration(order.max_validity));
  }
  if (chain.empty()) return refuse("no chain: the certificate's issuer is unknown");

  // Each link signed by the next: a chain that does not hold together is refused even when no
  // trust anchor is configured.
  const x509::Certificate* child = &leaf;
  for (const auto& parent : chain) {
    EVP_PKEY* key = parent.public_key();
    if (key == nullptr || X509_verify(child->get(), key) != 1) {
      return refuse("a chain that does not verify: '" + child->info().subject +
                    "' is not signed by '" + parent.info().subject + "'");
    }
    if (X509_NAME_cmp(X509_get_issuer_name(child->get()), X509_get_subject_name(parent.get())) !=
        0) {
      return refuse("a chain out of order at '" + parent.info().subject + "'");
    }
    child = &parent;
  }
  if (!trust_anchors.empty()) {
    x509::VerifyOptions options;
    options.at = order.now + kSkew;  // a certificate dated a little ahead of our clock is fine
    auto verified = x509::verify_chain(leaf, chain, trust_anchors, options);
    if (!verified) {
      return refuse("a chain that does not verify to its configured trust anchors (" +
                    verified.error().message + ")");
    }
  }
  return ok();
}

}  // namespace certward::issuers
