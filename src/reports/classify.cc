// Algorithm classification for crypto posture and the CBOM. Names follow the CycloneDX
// cryptography registry's spelling where it has one (RSA-2048, ECDSA-P-256, Ed25519, ML-DSA-65).

#include "reports/classify.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace certward::reports {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// SP 800-57 part 1 rev. 5, table 2: the classical strength of an RSA or DSA modulus.
int integer_factoring_bits(int bits) {
  if (bits >= 15360) return 256;
  if (bits >= 7680) return 192;
  if (bits >= 3072) return 128;
  if (bits >= 2048) return 112;
  if (bits >= 1024) return 80;
  return 0;
}

AlgorithmClass rsa(int bits) {
  return {.family = "RSA",
          .name = bits > 0 ? "RSA-" + std::to_string(bits) : "RSA",
          .primitive = "signature",
          .parameter_set = bits > 0 ? std::to_string(bits) : "",
          .curve = "",
          .oid = "1.2.840.113549.1.1.1",
          .quantum_vulnerable = true,
          .nist_quantum_level = 0,
          .classical_bits = integer_factoring_bits(bits)};
}

AlgorithmClass ecdsa(std::string curve) {
  int strength = 0;
  if (curve == "P-256") strength = 128;
  if (curve == "P-384") strength = 192;
  if (curve == "P-521") strength = 256;
  return {.family = "ECDSA",
          .name = curve.empty() ? "ECDSA" : "ECDSA-" + curve,
          .primitive = "signature",
          .parameter_set = "",
          .curve = curve,
          .oid = "1.2.840.10045.2.1",
          .quantum_vulnerable = true,
          .nist_quantum_level = 0,
          .classical_bits = strength};
}

AlgorithmClass eddsa(std::string_view which) {
  const bool ed448 = which == "Ed448";
  return {.family = "EdDSA",
          .name = std::string(which),
          .primitive = "signature",
          .parameter_set = "",
          .curve = std::string(which),
          .oid = ed448 ? "1.3.101.113" : "1.3.101.112",
          .quantum_vulnerable = true,
          .nist_quantum_level = 0,
          .classical_bits = ed448 ? 224 : 128};
}

AlgorithmClass dsa(int bits) {
  return {.family = "DSA",
          .name = bits > 0 ? "DSA-" + std::to_string(bits) : "DSA",
          .primitive = "signature",
          .parameter_set = bits > 0 ? std::to_string(bits) : "",
          .curve = "",
          .oid = "1.2.840.10040.4.1",
          .quantum_vulnerable = true,
          .nist_quantum_level = 0,
          .classical_bits = integer_factoring_bits(bits)};
}

AlgorithmClass unknown(std::string_view what) {
  return {.family = "unknown",
          .name = what.empty() ? "unknown" : "unknown (" + std::string(what) + ")",
          .primitive = "unknown",
          .parameter_set = "",
          .curve = "",
          .oid = "",
          .quantum_vulnerable = true,
          .nist_quantum_level = 0,
          .classical_bits = 0};
}

// The NIST post-quantum schemes, by a lower-case name that contains one of theirs.
std::optional<AlgorithmClass> post_quantum(std::string_view l) {
  struct Pq {
    std::string_view key, family, set, primitive, oid;
    int level;
  };
  static constexpr Pq kKnown[] = {
      {"ml-dsa-44", "ML-DSA", "44", "signature", "2.16.840.1.101.3.4.3.17", 2},
      {"ml-dsa-65", "ML-DSA", "65", "signature", "2.16.840.1.101.3.4.3.18", 3},
      {"ml-dsa-87", "ML-DSA", "87", "signature", "2.16.840.1.101.3.4.3.19", 5},
      {"ml-kem-512", "ML-KEM", "512", "kem", "2.16.840.1.101.3.4.4.1", 1},
      {"ml-kem-768", "ML-KEM", "768", "kem", "2.16.840.1.101.3.4.4.2", 3},
      {"ml-kem-1024", "ML-KEM", "1024", "kem", "2.16.840.1.101.3.4.4.3", 5},
      {"slh-dsa-sha2-128", "SLH-DSA", "SHA2-128", "signature", "", 1},
      {"slh-dsa-shake-128", "SLH-DSA", "SHAKE-128", "signature", "", 1},
      {"slh-dsa-sha2-192", "SLH-DSA", "SHA2-192", "signature", "", 3},
      {"slh-dsa-shake-192", "SLH-DSA", "SHAKE-192", "signature", "", 3},
      {"slh-dsa-sha2-256", "SLH-DSA", "SHA2-256", "signature", "", 5},
      {"slh-dsa-shake-256", "SLH-DSA", "SHAKE-256", "signature", "", 5},
  };
  std::string dashed(l);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  for (const Pq& pq : kKnown) {
    if (!contains(dashed, pq.key)) continue;
    return AlgorithmClass{.family = std::string(pq.family),
                          .name = std::string(pq.family) + "-" + std::string(pq.set),
                          .primitive = std::string(pq.primitive),
                          .parameter_set = std::string(pq.set),
                          .curve = "",
                          .oid = std::string(pq.oid),
                          .quantum_vulnerable = false,
                          .nist_quantum_level = pq.level,
                          .classical_bits = pq.level == 1   ? 128
                                            : pq.level <= 3 ? 192
                                                            : 256};
  }
  return std::nullopt;
}

// "ecdsa-sha2-nistp384" and "nistp384" name the curve the same way.
std::string ssh_curve(std::string_view l) {
  if (contains(l, "nistp256")) return "P-256";
  if (contains(l, "nistp384")) return "P-384";
  if (contains(l, "nistp521")) return "P-521";
  return "";
}

std::string digest_of(std::string_view l) {
  for (std::string_view d : {"sha512", "sha384", "sha256", "sha224", "sha1", "md5"}) {
    if (contains(l, d)) {
      std::string up = lower(d);
      std::transform(up.begin(), up.end(), up.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      return up;
    }
  }
  return "";
}

}  // namespace

AlgorithmClass classify_certificate_key(const inventory::CertificateRecord& r) {
  const std::string l = lower(r.key_algorithm);
  if (auto pq = post_quantum(l)) return *pq;
  if (l == "rsa" || l == "rsa-pss") {
    AlgorithmClass c = rsa(r.key_bits);
    if (l == "rsa-pss") {
      c.name = "RSA-PSS-" + std::to_string(r.key_bits);
      c.oid = "1.2.840.113549.1.1.10";
    }
    return c;
  }
  if (l == "ecdsa" || l == "ec") return ecdsa(r.key_curve);
  if (l == "ed25519") return eddsa("Ed25519");
  if (l == "ed448") return eddsa("Ed448");
  if (l == "dsa") return dsa(r.key_bits);
  return unknown(r.key_algorithm);
}

AlgorithmClass classify_ssh_key(std::string_view type, int bits) {
  const std::string l = lower(type);
  if (auto pq = post_quantum(l)) return *pq;
  if (l.starts_with("ssh-rsa") || l.starts_with("rsa-sha2")) return rsa(bits);
  if (contains(l, "ecdsa-sha2")) return ecdsa(ssh_curve(l));
  if (contains(l, "ed25519")) return eddsa("Ed25519");
  if (contains(l, "ed448")) return eddsa("Ed448");
  if (l.starts_with("ssh-dss")) return dsa(bits);
  return unknown(type);
}

AlgorithmClass classify_signature(std::string_view name) {
  const std::string l = lower(name);
  if (auto pq = post_quantum(l)) return *pq;
  const std::string digest = digest_of(l);
  const std::string with = digest.empty() ? "" : digest + "with";
  AlgorithmClass c;
  if (contains(l, "pss")) {
    c = rsa(0);
    c.name = "RSASSA-PSS";
    c.oid = "1.2.840.113549.1.1.10";
  } else if (contains(l, "ecdsa")) {
    c = ecdsa("");
    c.name = with + "ECDSA";
    static const std::pair<std::string_view, std::string_view> kOids[] = {
        {"SHA1", "1.2.840.10045.4.1"},
        {"SHA224", "1.2.840.10045.4.3.1"},
        {"SHA256", "1.2.840.10045.4.3.2"},
        {"SHA384", "1.2.840.10045.4.3.3"},
        {"SHA512", "1.2.840.10045.4.3.4"}};
    c.oid.clear();
    for (const auto& [d, oid] : kOids) {
      if (d == digest) c.oid = std::string(oid);
    }
  } else if (contains(l, "ed25519")) {
    c = eddsa("Ed25519");
  } else if (contains(l, "ed448")) {
    c = eddsa("Ed448");
  } else if (contains(l, "dsa")) {
    c = dsa(0);
    c.name = with + "DSA";
    c.oid.clear();
  } else if (contains(l, "rsa")) {
    c = rsa(0);
    c.name = with + "RSA";
    static const std::pair<std::string_view, std::string_view> kOids[] = {
        {"MD5", "1.2.840.113549.1.1.4"},     {"SHA1", "1.2.840.113549.1.1.5"},
        {"SHA224", "1.2.840.113549.1.1.14"}, {"SHA256", "1.2.840.113549.1.1.11"},
        {"SHA384", "1.2.840.113549.1.1.12"}, {"SHA512", "1.2.840.113549.1.1.13"}};
    c.oid.clear();
    for (const auto& [d, oid] : kOids) {
      if (d == digest) c.oid = std::string(oid);
    }
  } else {
    return unknown(name);
  }
  // The strength of a signature algorithm is its key's, which the certificate's key says.
  c.classical_bits = 0;
  c.parameter_set.clear();
  return c;
}

}  // namespace certward::reports
