#pragma once
// SCEP (RFC 8894) message encoding: the pkiMessage a client sends to PKIOperation (a CMS
// SignedData whose signed attributes carry the SCEP fields, around an EnvelopedData holding
// the request) and the CertRep certward answers with. The protocol itself is in
// src/protocols/scep/.
//
// What the clients in the field send and accept decides the details: the request's signer is
// usually self-signed with the key being certified, so the outer signature is checked with the
// certificate the message carries, and trust comes from what the request proves (a challenge,
// or a certificate issued here); answers are signed with rsaEncryption as the SignerInfo
// signature algorithm, which strongSwan requires, and always carry eContent, empty when there
// is nothing to envelope, which OpenSSL-based clients require. Single DES is never used.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"
#include "x509/csr.h"

namespace certward::x509::scep {

// The largest pkiMessage accepted: a request with an RSA-16384 key and its signer fits.
inline constexpr std::size_t kMaxMessage = 64 * 1024;

enum class MessageType : std::uint8_t {
  kCertRep = 3,
  kRenewalReq = 17,
  kPkcsReq = 19,
  kCertPoll = 20,
  kGetCert = 21,
  kGetCrl = 22,
};
std::string_view message_type_name(MessageType t);  // "PKCSReq", "CertPoll", ...

enum class PkiStatus : std::uint8_t { kSuccess = 0, kFailure = 2, kPending = 3 };
enum class FailInfo : std::uint8_t {
  kBadAlg = 0,
  kBadMessageCheck = 1,
  kBadRequest = 2,
  kBadTime = 3,
  kBadCertId = 4,
};

// The algorithms a reply mirrors from its request.
enum class Digest : std::uint8_t { kSha1, kSha256, kSha384, kSha512 };
enum class Cipher : std::uint8_t { kAes128, kAes192, kAes256, kDes3 };

struct PkiMessage {
  MessageType type = MessageType::kPkcsReq;
  std::string transaction_id;  // printable, 1..128 characters
  Bytes sender_nonce;          // 8..64 bytes
  Certificate signer;          // whose key signed the message (checked)
  Digest digest = Digest::kSha256;
  Bytes envelope;  // the pkcsPKIEnvelope: a CMS EnvelopedData ContentInfo, DER
};

// Reads a pkiMessage and checks its signature with the signer certificate it carries (that
// certificate's own validity is the caller's business). Errors: kMalformed (not a SignedData
// with exactly one signer and its certificate, a missing or repeated SCEP attribute, an
// unknown message type or digest), kBadSignature.
Result<PkiMessage> parse_pki_message(std::span<const std::uint8_t> der);

struct Decryptor {
  const Certificate* certificate;
  const crypto::PrivateKey* key;
};

struct Opened {
  Bytes content;
  Cipher cipher = Cipher::kAes256;
};

// Opens the envelope with the first decryptor it is addressed to. Errors: kMalformed (not an
// EnvelopedData), kNotFound (addressed to none of them), kPolicyRejected (a content cipher
// other than AES-CBC or 3DES-CBC), kBadPassword (it does not decrypt with the recipient's key).
Result<Opened> open_envelope(std::span<const std::uint8_t> envelope,
                             std::span<const Decryptor> decryptors);

// GetCert and GetCRL name a certificate by issuer and serial number; CertPoll names the
// request by the issuer it was sent to and the subject asked for.
struct IssuerAndSerial {
  Bytes issuer;            // Name, DER
  std::string serial_hex;  // as CertificateInfo::serial_hex
};
struct IssuerAndSubject {
  Bytes issuer;   // Name, DER
  Bytes subject;  // Name, DER
};
Result<IssuerAndSerial> parse_issuer_and_serial(std::span<const std::uint8_t> der);
Result<IssuerAndSubject> parse_issuer_and_subject(std::span<const std::uint8_t> der);
// Whether two DER Names are the same name (RFC 5280 7.1 comparison, as OpenSSL does it).
bool same_name(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
Bytes subject_der(const Certificate& c);
// SHA-256 of the request's SubjectPublicKeyInfo, hex, as CertificateInfo::spki_sha256_hex.
std::string spki_sha256_hex(const Csr& csr);

// What a reply to a message needs from it, read without checking its signature: a message
// whose signature fails is still answered with a CertRep (FAILURE, badMessageCheck).
struct ReplyTo {
  std::string transaction_id;
  Bytes sender_nonce;
  Certificate signer;
  Digest digest = Digest::kSha256;
};
std::optional<ReplyTo> reply_to(std::span<const std::uint8_t> der);

struct Reply {
  PkiStatus status = PkiStatus::kSuccess;
  std::optional<FailInfo> fail_info;  // with kFailure
  std::string transaction_id;
  Bytes recipient_nonce;  // the request's senderNonce
  // With kSuccess: a degenerate SignedData (certificates or a CRL), enveloped to `recipient`.
  Bytes content;
  const Certificate* recipient = nullptr;
  Digest digest = Digest::kSha256;
  Cipher cipher = Cipher::kAes256;
};

// A CertRep signed by `signer` (the RA certificate) with `key`. Errors: kInvalidArgument (a
// success with no recipient, or a recipient whose key is not RSA), kInternal.
Result<Bytes> make_cert_rep(const Reply& reply, const Certificate& signer,
                            const crypto::PrivateKey& key);

// A degenerate SignedData holding one CRL (GetCRL's answer), DER.
Result<Bytes> make_crls_only(std::span<const std::uint8_t> crl_der);

// What a client sends, for tests and the fuzzing corpus: `content` enveloped to `recipient`
// and signed by `signer` with `key`.
struct Request {
  MessageType type = MessageType::kPkcsReq;
  std::string transaction_id;
  Bytes sender_nonce;
  Bytes content;
  Digest digest = Digest::kSha256;
  Cipher cipher = Cipher::kAes256;
};
Result<Bytes> make_pki_message(const Request& request, const Certificate& recipient,
                               const Certificate& signer, const crypto::PrivateKey& key);

// What a client reads from a CertRep, for tests: its status and the decrypted content.
struct CertRep {
  PkiStatus status = PkiStatus::kFailure;
  std::optional<FailInfo> fail_info;
  std::string transaction_id;
  Bytes recipient_nonce;
  Certificate signer;
  Bytes content;  // decrypted with `key` (kSuccess only)
};
Result<CertRep> read_cert_rep(std::span<const std::uint8_t> der, const Certificate& recipient,
                              const crypto::PrivateKey& key);

}  // namespace certward::x509::scep
