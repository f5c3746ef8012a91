#include "discovery/ssh_key.h"

#include <openssl/bn.h>

#include <algorithm>
#include <array>
#include <limits>

#include "crypto/crypto.h"
#include "crypto/handles.h"

namespace certward::discovery {

namespace {

// A cursor over SSH wire data (RFC 4251 5): every read checks the remaining length, so a
// hostile blob can only end the parse, never read past it.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}

  bool done() const { return pos_ == data_.size(); }

  Result<std::uint32_t> u32() {
    if (data_.size() - pos_ < 4) return truncated();
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | data_[pos_++];
    return v;
  }

  Result<std::uint64_t> u64() {
    CW_ASSIGN_OR_RETURN(const std::uint64_t hi, u32());
    CW_ASSIGN_OR_RETURN(const std::uint64_t lo, u32());
    return (hi << 32) | lo;
  }

  Result<std::span<const std::uint8_t>> bytes() {
    CW_ASSIGN_OR_RETURN(const std::uint32_t n, u32());
    if (data_.size() - pos_ < n) return truncated();
    const auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  Result<std::string> text() {
    CW_ASSIGN_OR_RETURN(const auto b, bytes());
    return std::string(b.begin(), b.end());
  }

 private:
  static std::unexpected<Error> truncated() {
    return fail(ErrorCode::kMalformed, "truncated SSH key");
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

// Bit length of an mpint (RFC 4251 5: two's complement, big-endian). A key's modulus or prime
// is positive; a zero one (an empty mpint or only zero octets) is no key, and its size of 0 bits
// would read as "the smallest key" in every finding and report.
Result<int> mpint_bits(std::span<const std::uint8_t> v) {
  if (!v.empty() && (v[0] & 0x80)) return fail(ErrorCode::kMalformed, "negative SSH mpint");
  crypto::Handle<BIGNUM, BN_free> bn(BN_bin2bn(v.data(), static_cast<int>(v.size()), nullptr));
  if (!bn) return fail(ErrorCode::kInternal, "BN_bin2bn failed");
  const int bits = BN_num_bits(bn.get());
  if (bits == 0) return fail(ErrorCode::kMalformed, "zero SSH mpint where a key needs a number");
  return bits;
}

Result<int> ec_bits(std::string_view curve) {
  if (curve == "nistp256") return 256;
  if (curve == "nistp384") return 384;
  if (curve == "nistp521") return 521;
  return fail(ErrorCode::kMalformed, "unknown SSH curve '" + std::string(curve) + "'");
}

// Reads the public key fields of `type` (without the certificate suffix) and returns its size.
Result<int> read_key_fields(std::string_view type, Reader& r) {
  if (type == "ssh-rsa") {
    CW_ASSIGN_OR_RETURN(const auto e, r.bytes());
    CW_ASSIGN_OR_RETURN(const auto n, r.bytes());
    if (e.empty() || n.empty()) return fail(ErrorCode::kMalformed, "empty RSA field");
    return mpint_bits(n);
  }
  if (type == "ssh-dss") {
    CW_ASSIGN_OR_RETURN(const auto p, r.bytes());
    for (int i = 0; i < 3; ++i) CW_RETURN_IF_ERROR(r.bytes());  // q, g, y
    return mpint_bits(p);
  }
  if (type == "ssh-ed25519" || type == "sk-ssh-ed25519@openssh.com") {
    CW_ASSIGN_OR_RETURN(const auto pk, r.bytes());
    if (pk.size() != 32) return fail(ErrorCode::kMalformed, "Ed25519 key is not 32 bytes");
    if (type.starts_with("sk-")) CW_RETURN_IF_ERROR(r.bytes());  // application
    return 256;
  }
  const bool sk = type == "sk-ecdsa-sha2-nistp256@openssh.com";
  if (type.starts_with("ecdsa-sha2-") || sk) {
    CW_ASSIGN_OR_RETURN(const std::string curve, r.text());
    CW_ASSIGN_OR_RETURN(const int bits, ec_bits(curve));
    if (!sk && type.substr(std::string_view("ecdsa-sha2-").size()) != curve) {
      return fail(ErrorCode::kMalformed, "ECDSA key type and curve disagree");
    }
    CW_ASSIGN_OR_RETURN(const auto q, r.bytes());
    if (q.empty()) return fail(ErrorCode::kMalformed, "empty ECDSA point");
    if (sk) CW_RETURN_IF_ERROR(r.bytes());  // application
    return bits;
  }
  return fail(ErrorCode::kMalformed, "unknown SSH key type '" + std::string(type) + "'");
}

constexpr std::string_view kCertSuffix = "-cert-v01@openssh.com";

// OpenSSH writes 0xffffffffffffffff for "forever"; sys_time cannot hold every uint64 second.
SysTime ssh_time(std::uint64_t seconds) {
  constexpr std::uint64_t kYear9999 = 253402300799;
  return SysTime(std::chrono::seconds(static_cast<std::int64_t>(std::min(seconds, kYear9999))));
}

Result<std::vector<std::string>> packed_strings(std::span<const std::uint8_t> data) {
  std::vector<std::string> out;
  Reader r(data);
  while (!r.done()) {
    CW_ASSIGN_OR_RETURN(std::string s, r.text());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::string ssh_fingerprint(std::span<const std::uint8_t> blob) {
  std::string b64 = to_base64(crypto::sha256(blob));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

Result<SshKey> parse_ssh_key_blob(std::span<const std::uint8_t> blob) {
  Reader r(blob);
  SshKey key;
  CW_ASSIGN_OR_RETURN(key.type, r.text());
  std::string_view base = key.type;
  const bool is_cert = base.ends_with(kCertSuffix);
  if (is_cert) base.remove_suffix(kCertSuffix.size());
  if (is_cert) CW_RETURN_IF_ERROR(r.bytes());  // nonce
  CW_ASSIGN_OR_RETURN(key.bits, read_key_fields(base, r));
  if (is_cert) {
    SshKey::Cert cert;
    CW_ASSIGN_OR_RETURN(cert.serial, r.u64());
    CW_ASSIGN_OR_RETURN(const std::uint32_t kind, r.u32());
    if (kind != 1 && kind != 2) return fail(ErrorCode::kMalformed, "unknown SSH certificate type");
    cert.host = kind == 2;
    CW_ASSIGN_OR_RETURN(cert.key_id, r.text());
    CW_ASSIGN_OR_RETURN(const auto principals, r.bytes());
    CW_ASSIGN_OR_RETURN(cert.principals, packed_strings(principals));
    CW_ASSIGN_OR_RETURN(const std::uint64_t after, r.u64());
    CW_ASSIGN_OR_RETURN(const std::uint64_t before, r.u64());
    cert.valid_after = ssh_time(after);
    cert.valid_before = ssh_time(before);
    for (int i = 0; i < 3; ++i) CW_RETURN_IF_ERROR(r.bytes());  // options, extensions, reserved
    CW_ASSIGN_OR_RETURN(const auto ca, r.bytes());
    Reader ca_reader(ca);
    CW_ASSIGN_OR_RETURN(cert.ca_type, ca_reader.text());
    cert.ca_fingerprint = ssh_fingerprint(ca);
    CW_RETURN_IF_ERROR(r.bytes());  // signature
    key.cert = std::move(cert);
  }
  if (!r.done()) return fail(ErrorCode::kMalformed, "trailing data after the SSH key");
  key.fingerprint = ssh_fingerprint(blob);
  key.blob.assign(blob.begin(), blob.end());
  return key;
}

std::vector<Finding> ssh_key_findings(const SshKey& key, SysTime now) {
  std::vector<Finding> out;
  auto add = [&](std::string code, Severity severity, std::string detail) {
    out.push_back(Finding{.code = std::move(code),
                          .severity = severity,
                          .detail = std::move(detail),
                          .fingerprint = key.fingerprint});
  };
  const std::string_view type = key.type;
  if (type.starts_with("ssh-dss")) {
    add("weak_ssh_key", Severity::kHigh, "DSA key (disabled by OpenSSH since 7.0)");
  } else if (type.starts_with("ssh-rsa") && key.bits < 2048) {
    add("weak_ssh_key", Severity::kHigh, "RSA key of " + std::to_string(key.bits) + " bits");
  }
  if (key.cert) {
    if (now >= key.cert->valid_before) {
      add("expired", Severity::kCritical, "SSH certificate expired");
    } else if (now < key.cert->valid_after) {
      add("not_yet_valid", Severity::kHigh, "SSH certificate not valid yet");
    }
  }
  return out;
}

}  // namespace certward::discovery
