#pragma once
// Reading and writing certificate containers: PEM bundles, DER, PKCS#7 (.p7b/.p7c) and
// PKCS#12 (.p12/.pfx). All functions are thread-safe.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "x509/certificate.h"

namespace certward::x509 {

enum class ContainerFormat : std::uint8_t { kPem, kDer, kPkcs7, kPkcs12 };
std::string_view container_format_name(ContainerFormat f);  // "pem", "der", "pkcs7", "pkcs12"

// How certificates inside a container are read: strictly (what certward trusts or signs), or
// leniently (what was found in the wild: Certificate::from_der_lenient).
enum class Parsing : std::uint8_t { kStrict, kLenient };

// Detects the container from its bytes. PEM is recognised by its armour; DER certificate,
// PKCS#7 and PKCS#12 by their ASN.1 outer structure. Errors: kMalformed.
Result<ContainerFormat> detect_format(std::span<const std::uint8_t> data);

// Every certificate in a PEM bundle (certificate and PKCS#7 blocks; other blocks such as keys
// are skipped), a DER certificate, or a PKCS#7 (DER or PEM). Order is preserved.
// Errors: kMalformed (nothing parseable, or any certificate block is corrupt).
Result<std::vector<Certificate>> parse_certificates(std::span<const std::uint8_t> data,
                                                    Parsing parsing = Parsing::kStrict);

// PKCS#7 SignedData "certs-only", DER or PEM. Errors: kMalformed.
Result<std::vector<Certificate>> parse_pkcs7(std::span<const std::uint8_t> data,
                                             Parsing parsing = Parsing::kStrict);
Result<Bytes> make_pkcs7(std::span<const Certificate> certs);  // DER, certs-only

struct Pkcs12Contents {
  std::optional<crypto::PrivateKey> key;
  std::optional<Certificate> leaf;  // the certificate matching the key, if any
  std::vector<Certificate> chain;   // every other certificate
};

// Errors: kMalformed (not PKCS#12), kBadPassword (MAC or decryption fails with `password`).
Result<Pkcs12Contents> parse_pkcs12(std::span<const std::uint8_t> data, std::string_view password,
                                    Parsing parsing = Parsing::kStrict);
// AES-256-CBC with PBKDF2 and a SHA-256 MAC (OpenSSL 3 defaults), readable by OpenSSL and
// modern browsers and Java.
Result<Bytes> make_pkcs12(const crypto::PrivateKey& key, const Certificate& leaf,
                          std::span<const Certificate> chain, std::string_view password,
                          std::string_view friendly_name);

// A certificates-only PKCS#12 (a trust store, e.g. for Java), same algorithms as above.
Result<Bytes> make_pkcs12_certificates(std::span<const Certificate> certs,
                                       std::string_view password);

}  // namespace certward::x509
