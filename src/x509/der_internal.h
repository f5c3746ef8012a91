#pragma once
// A minimal DER writer and a strict DER reader, and signing of hand-encoded structures. Private
// to src/x509: the CRL and OCSP code encode and decode their structures with these directly.
//
// Why not OpenSSL's ASN.1 objects: a CRL of a million entries built through X509_CRL_add0_revoked
// costs an X509_REVOKED, an ASN1_INTEGER, an ASN1_TIME and an extension stack per entry (several
// hundred bytes and a dozen allocations each), and an OCSP responder parses hostile requests on
// its hot path. Every length here is known, so writing the bytes is simple; reading them with a
// reader that refuses anything but DER keeps hostile input cheap and bounded.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"
#include "crypto/crypto.h"

namespace certward::x509::der {

// Universal tags (class and constructed bits included).
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kEnumerated = 0x0a;
inline constexpr std::uint8_t kUtcTime = 0x17;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kSequence = 0x30;
// Context-specific tag [n], constructed (explicit tagging, or implicit on a SEQUENCE) or not.
constexpr std::uint8_t context(int n) { return static_cast<std::uint8_t>(0xa0 | n); }
constexpr std::uint8_t context_primitive(int n) { return static_cast<std::uint8_t>(0x80 | n); }

// Object identifiers, as the content octets of their DER encoding.
namespace oid {
inline constexpr std::uint8_t kAuthorityKeyId[] = {0x55, 0x1d, 0x23};            // 2.5.29.35
inline constexpr std::uint8_t kCrlNumber[] = {0x55, 0x1d, 0x14};                 // 2.5.29.20
inline constexpr std::uint8_t kReasonCode[] = {0x55, 0x1d, 0x15};                // 2.5.29.21
inline constexpr std::uint8_t kInvalidityDate[] = {0x55, 0x1d, 0x18};            // 2.5.29.24
inline constexpr std::uint8_t kDeltaCrlIndicator[] = {0x55, 0x1d, 0x1b};         // 2.5.29.27
inline constexpr std::uint8_t kIssuingDistributionPoint[] = {0x55, 0x1d, 0x1c};  // 2.5.29.28
inline constexpr std::uint8_t kCertificateIssuer[] = {0x55, 0x1d, 0x1d};         // 2.5.29.29
inline constexpr std::uint8_t kFreshestCrl[] = {0x55, 0x1d, 0x2e};               // 2.5.29.46
// id-pkix-ocsp (1.3.6.1.5.5.7.48.1) .1 basic, .2 nonce, .4 acceptable responses.
inline constexpr std::uint8_t kOcspBasic[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
inline constexpr std::uint8_t kOcspNonce[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};
inline constexpr std::uint8_t kSha1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};  // 1.3.14.3.2.26
// 2.16.840.1.101.3.4.2.{1,2,3}
inline constexpr std::uint8_t kSha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
inline constexpr std::uint8_t kSha384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
inline constexpr std::uint8_t kSha512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
}  // namespace oid

// Size of a whole element (tag, length, content) whose content is `content_size` octets.
std::size_t tlv_size(std::size_t content_size);
// Size of the INTEGER element for a non-negative `magnitude` (big-endian, leading zeros allowed).
std::size_t integer_size(std::span<const std::uint8_t> magnitude);
// `magnitude` without its leading zero octets (zero is empty).
std::span<const std::uint8_t> strip_leading_zeros(std::span<const std::uint8_t> magnitude);
// Whether `t` has a DER time form at all (years 0000-9999).
bool time_in_range(SysTime t);
// Size of the element time(t) writes: UTCTime 1950-2049, GeneralizedTime otherwise.
std::size_t time_size(SysTime t);
inline constexpr std::size_t kGeneralizedTimeSize = 17;

// Appends DER to a byte string. The caller keeps every element well-formed; nothing here fails.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  void header(std::uint8_t tag, std::size_t content_size);
  void raw(std::span<const std::uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  void tlv(std::uint8_t tag, std::span<const std::uint8_t> content);
  // A non-negative INTEGER from its big-endian magnitude (leading zeros are dropped).
  void integer(std::span<const std::uint8_t> magnitude);
  void small_integer(std::uint8_t value);
  void enumerated(std::uint8_t value);
  void boolean_true();
  void null();
  void oid(std::span<const std::uint8_t> content) { tlv(kOid, content); }
  // RFC 5280 4.1.2.5: UTCTime for 1950 through 2049, GeneralizedTime otherwise, with seconds
  // and 'Z'. REQUIRES time_in_range(t).
  void time(SysTime t);
  // GeneralizedTime "YYYYMMDDHHMMSSZ" (RFC 5280 4.1.2.5.2, RFC 6960, RFC 5019 4).
  void generalized_time(SysTime t);

  // A constructed element whose length is not known yet: begin() writes the tag and a one-octet
  // placeholder and returns a mark; end(mark) writes the length, moving the content up when the
  // length needs more octets (one memmove of the content, which is rare but for big lists).
  std::size_t begin(std::uint8_t tag);
  void end(std::size_t mark);

  std::size_t size() const { return out_.size(); }

 private:
  Bytes& out_;
};

// One element as read: its tag, its content and the whole encoding (tag and length included).
struct Tlv {
  std::uint8_t tag = 0;
  std::span<const std::uint8_t> content;
  std::span<const std::uint8_t> whole;
};

// Reads DER elements one after another from a byte string. Refuses what DER forbids: the
// indefinite length, lengths not in their shortest form, high tag numbers (not used by any
// structure read here) and lengths beyond the input. Errors are all kMalformed, naming `what`.
// Work is linear in the input; nothing is copied.
class Reader {
 public:
  Reader(std::span<const std::uint8_t> in, const char* what) : in_(in), what_(what) {}

  bool empty() const { return in_.empty(); }
  // Whether the next element has tag `tag` (false at the end).
  bool next_is(std::uint8_t tag) const { return !in_.empty() && in_[0] == tag; }
  Result<Tlv> next();
  // The next element, which must have tag `tag`; its content.
  Result<std::span<const std::uint8_t>> read(std::uint8_t tag);
  // The next element if it has tag `tag`, else nullopt and nothing is consumed.
  Result<std::optional<std::span<const std::uint8_t>>> optional(std::uint8_t tag);
  // Refuses anything left over.
  Status finish() const;

  std::unexpected<Error> error(const std::string& why) const;

 private:
  std::span<const std::uint8_t> in_;
  const char* what_;
};

// One Extension (RFC 5280 4.1): extnID, critical (DEFAULT FALSE), extnValue.
struct Extension {
  std::span<const std::uint8_t> oid;        // the OID's content octets
  std::span<const std::uint8_t> oid_whole;  // the OID element
  bool critical = false;
  std::span<const std::uint8_t> value;  // the OCTET STRING's content
};
// Reads the next Extension from a SEQUENCE OF Extension's reader. Errors: kMalformed.
Result<Extension> read_extension(Reader& extensions, const char* what);
// Whether an OID's content octets are `oid`.
inline bool is_oid(std::span<const std::uint8_t> content, std::span<const std::uint8_t> oid) {
  return content.size() == oid.size() && std::equal(content.begin(), content.end(), oid.begin());
}

// A non-negative INTEGER's content as a magnitude without leading zeros (zero is empty).
// Errors: kMalformed (empty, not minimal, or negative).
Result<std::span<const std::uint8_t>> nonnegative_integer(std::span<const std::uint8_t> content,
                                                          const char* what);
// A BOOLEAN's content: DER's 0x00 or 0xff. Errors: kMalformed.
Result<bool> boolean(std::span<const std::uint8_t> content, const char* what);
// The octets of a BIT STRING with no unused bits (signatures, public keys). Errors: kMalformed.
Result<std::span<const std::uint8_t>> bit_string_octets(std::span<const std::uint8_t> content,
                                                        const char* what);
// A UTCTime or GeneralizedTime element in RFC 5280's forms ("YYMMDDHHMMSSZ",
// "YYYYMMDDHHMMSSZ"). Errors: kMalformed.
Result<SysTime> time(const Tlv& tlv, const char* what);

// The three parts of a signed structure SEQUENCE { tbs, signatureAlgorithm, BIT STRING }
// (a certificate, a CRL, a BasicOCSPResponse), with nothing after them.
struct SignedParts {
  Tlv tbs;
  Tlv algorithm;
  std::span<const std::uint8_t> signature;  // the BIT STRING's octets
  Reader rest;                              // what follows the signature inside the SEQUENCE
};
// Errors: kMalformed.
Result<SignedParts> split_signed(std::span<const std::uint8_t> der, const char* what);

// The DER of the AlgorithmIdentifier that signer.sign_data's signatures carry: a fixed value
// for the keys certward makes (ECDSA with SHA-256/384/512, RSA PKCS#1 v1.5 with SHA-256,
// Ed25519), and for any other key (RSA-PSS, Ed448, a future HSM key) whatever OpenSSL writes
// when the signer signs a throwaway structure. Errors: kInternal.
Result<Bytes> signature_algorithm(const crypto::Signer& signer);

// Completes a signed structure SEQUENCE { tbs, algorithm, BIT STRING signature }: `out` holds
// begin(kSequence) at `outer_mark` followed by the complete tbs element at [tbs_begin, end).
// Signs the tbs with `signer` and appends `algorithm` and the signature; `out` is left open
// for elements the caller appends (OCSP's certs) before end(outer_mark). Errors: kInternal.
Status sign_into(Writer& w, Bytes& out, std::size_t tbs_begin,
                 std::span<const std::uint8_t> algorithm, const crypto::Signer& signer);

// Whether `signature` (the BIT STRING's octets) over `tbs` (a whole element) verifies under
// `key` for the AlgorithmIdentifier `algorithm` (a whole element): OpenSSL's own verification,
// parameters (RSA-PSS) included. Errors: kMalformed (unknown or broken algorithm), kBadSignature.
Status verify(std::span<const std::uint8_t> tbs, std::span<const std::uint8_t> algorithm,
              std::span<const std::uint8_t> signature, EVP_PKEY* key);

// OpenSSL's long name of a signature AlgorithmIdentifier (whole element), else its dotted OID.
std::string algorithm_name(std::span<const std::uint8_t> algorithm);

}  // namespace certward::x509::der
