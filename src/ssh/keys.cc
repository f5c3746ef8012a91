// Reading subject keys in authorized_keys form and writing the CA's key in SSH form.
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <bit>

#include "ssh/ssh.h"
#include "ssh/wire.h"

namespace certward::ssh {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

int curve_nid(std::string_view name) {
  if (name == "nistp256") return NID_X9_62_prime256v1;
  if (name == "nistp384") return NID_secp384r1;
  if (name == "nistp521") return NID_secp521r1;
  return NID_undef;
}

Status check_point(std::string_view curve, std::span<const std::uint8_t> q) {
  const int nid = curve_nid(curve);
  if (nid == NID_undef) return fail(ErrorCode::kMalformed, "unknown SSH curve");
  crypto::Handle<EC_GROUP, EC_GROUP_free> group(EC_GROUP_new_by_curve_name(nid));
  crypto::Handle<EC_POINT, EC_POINT_free> point(group ? EC_POINT_new(group.get()) : nullptr);
  // Uncompressed only, as RFC 5656 3.1 requires; on the curve and not the point at infinity.
  if (!point || q.empty() || q[0] != 0x04 ||
      EC_POINT_oct2point(group.get(), point.get(), q.data(), q.size(), nullptr) != 1 ||
      EC_POINT_is_at_infinity(group.get(), point.get())) {
    return fail(ErrorCode::kMalformed, "the EC public key is not a point on its curve");
  }
  return ok();
}

// An mpint that must be positive: its bit length.
Result<int> positive_bits(std::span<const std::uint8_t> m) {
  if (m.empty() || (m[0] & 0x80) != 0 || (m.size() > 1 && m[0] == 0 && (m[1] & 0x80) == 0)) {
    return fail(ErrorCode::kMalformed, "malformed RSA integer");
  }
  std::size_t skip = m[0] == 0 ? 1 : 0;
  const int top = 8 - std::countl_zero(m[skip]);
  return static_cast<int>((m.size() - skip - 1) * 8) + top;
}

// Checks a key blob's structure; fills type and bits.
Status check_blob(PublicKey& k) {
  Reader r(k.blob);
  CW_ASSIGN_OR_RETURN(k.type, r.text());
  if (k.type.ends_with("-cert-v01@openssh.com")) {
    return fail(ErrorCode::kPolicyRejected, "that is a certificate, not a public key");
  }
  if (k.type == "ssh-dss") {
    return fail(ErrorCode::kPolicyRejected, "DSA keys are not certified: they are too weak");
  }
  if (k.type == "ssh-ed25519" || k.type == "sk-ssh-ed25519@openssh.com") {
    CW_ASSIGN_OR_RETURN(auto pk, r.string());
    if (pk.size() != 32) return fail(ErrorCode::kMalformed, "an Ed25519 key is 32 bytes");
    // The identity point (and the all-zero encoding): a key anyone can sign for.
    const bool zero = std::all_of(pk.begin() + 1, pk.end(), [](std::uint8_t b) { return b == 0; });
    if (zero && (pk[0] == 0 || pk[0] == 1)) {
      return fail(ErrorCode::kPolicyRejected, "the Ed25519 key is the identity point");
    }
    k.bits = 256;
  } else if (k.type.starts_with("ecdsa-sha2-") || k.type == "sk-ecdsa-sha2-nistp256@openssh.com") {
    CW_ASSIGN_OR_RETURN(std::string curve, r.text());
    const std::string expected = k.type.starts_with("sk-") ? "nistp256" : k.type.substr(11);
    if (curve != expected) return fail(ErrorCode::kMalformed, "the key's curve is not its type's");
    CW_ASSIGN_OR_RETURN(auto q, r.string());
    CW_RETURN_IF_ERROR(check_point(curve, q));
    k.bits = curve == "nistp256" ? 256 : curve == "nistp384" ? 384 : 521;
  } else if (k.type == "ssh-rsa") {
    CW_ASSIGN_OR_RETURN(auto e, r.string());
    CW_ASSIGN_OR_RETURN(auto n, r.string());
    CW_ASSIGN_OR_RETURN(int e_bits, positive_bits(e));
    CW_ASSIGN_OR_RETURN(k.bits, positive_bits(n));
    if (e_bits < 2 || e_bits > 64 || (e.back() & 1) == 0 || (n.back() & 1) == 0) {
      return fail(ErrorCode::kMalformed, "malformed RSA key");
    }
    if (k.bits < kMinRsaBits || k.bits > kMaxRsaBits) {
      return fail(ErrorCode::kPolicyRejected, "RSA keys of " + std::to_string(k.bits) +
                                                  " bits are not certified (2048 to 16384)");
    }
  } else {
    return fail(ErrorCode::kMalformed, "unknown SSH key type '" + k.type + "'");
  }
  if (k.type.starts_with("sk-")) {
    CW_ASSIGN_OR_RETURN(std::string application, r.text());
    if (application.empty()) return fail(ErrorCode::kMalformed, "a security key without application");
  }
  return r.expect_done("the SSH key");
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

bool is_display_text(std::string_view v) {
  std::size_t i = 0;
  while (i < v.size()) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len > v.size()) return false;
    std::uint32_t cp = c & (0xff >> (len + 1));
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(v[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates, beyond U+10FFFF; C1 controls; bidirectional controls.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c ||
        cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069)) {
      return false;
    }
    i += static_cast<std::size_t>(len);
  }
  return true;
}

std::string fingerprint_of(std::span<const std::uint8_t> blob) {
  std::string b64 = to_base64(crypto::sha256(blob));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

std::string PublicKey::fingerprint() const { return fingerprint_of(blob); }

std::string PublicKey::line() const {
  std::string out = type + " " + to_base64(blob);
  if (!comment.empty()) out += " " + comment;
  return out;
}

Result<PublicKey> parse_public_key(std::string_view line) {
  if (line.size() > kMaxPublicKeyLine) {
    return fail(ErrorCode::kMalformed, "the public key is longer than " +
                                           std::to_string(kMaxPublicKeyLine) + " bytes");
  }
  while (!line.empty() && (is_space(line.back()) || line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return fail(ErrorCode::kMalformed, "a public key is one line of text");
    }
  }
  const auto type_end = std::find_if(line.begin(), line.end(), is_space);
  const std::string_view type(line.begin(), type_end);
  std::string_view rest(type_end, line.end());
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  const auto b64_end = std::find_if(rest.begin(), rest.end(), is_space);
  const std::string_view b64(rest.begin(), b64_end);
  std::string_view comment(b64_end, rest.end());
  while (!comment.empty() && is_space(comment.front())) comment.remove_prefix(1);
  if (type.empty() || b64.empty()) {
    return fail(ErrorCode::kMalformed, "expected '<type> <base64 key> [comment]'");
  }
  auto blob = from_base64(b64);
  if (!blob || to_base64(*blob) != b64) {
    return fail(ErrorCode::kMalformed, "the key is not base64");
  }
  PublicKey k;
  k.blob = std::move(*blob);
  CW_RETURN_IF_ERROR(check_blob(k));
  if (k.type != type) {
    return fail(ErrorCode::kMalformed, "the key says it is " + k.type + ", the line " +
                                           std::string(type));
  }
  if (comment.size() > 256) comment = comment.substr(0, 256);
  k.comment = std::string(comment);
  return k;
}

Result<PublicKey> public_key_of(const EVP_PKEY* key) {
  const crypto::KeyInfo info = crypto::describe_key(key);
  Writer w;
  PublicKey k;
  switch (info.algorithm) {
    case crypto::KeyAlgorithm::kEd25519: {
      Bytes pk(32);
      std::size_t len = pk.size();
      if (EVP_PKEY_get_raw_public_key(key, pk.data(), &len) != 1 || len != 32) {
        return fail(ErrorCode::kInvalidArgument, "cannot read the Ed25519 key");
      }
      k.type = "ssh-ed25519";
      w.string(k.type);
      w.string(pk);
      break;
    }
    case crypto::KeyAlgorithm::kEcdsa: {
      const std::string curve = info.curve == "P-256"   ? "nistp256"
                                : info.curve == "P-384" ? "nistp384"
                                : info.curve == "P-521" ? "nistp521"
                                                        : "";
      if (curve.empty()) return fail(ErrorCode::kInvalidArgument, "no SSH form for " + info.name());
      Bytes q(133);
      std::size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, q.data(),
                                          q.size(), &len) != 1 ||
          len == 0 || q[0] != 0x04) {
        return fail(ErrorCode::kInvalidArgument, "cannot read the EC point");
      }
      q.resize(len);
      k.type = "ecdsa-sha2-" + curve;
      w.string(k.type);
      w.string(curve);
      w.string(q);
      break;
    }
    case crypto::KeyAlgorithm::kRsa: {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
          EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        BN_free(n);
        BN_free(e);
        return fail(ErrorCode::kInvalidArgument, "cannot read the RSA key");
      }
      crypto::BignumPtr n_owner(n), e_owner(e);
      Bytes nb(BN_num_bytes(n)), eb(BN_num_bytes(e));
      BN_bn2bin(n, nb.data());
      BN_bn2bin(e, eb.data());
      k.type = "ssh-rsa";
      w.string(k.type);
      w.mpint(eb);
      w.mpint(nb);
      break;
    }
    default:
      return fail(ErrorCode::kInvalidArgument, "no SSH form for " + info.name());
  }
  k.bits = info.bits;
  k.blob = w.take();
  return k;
}

}  // namespace certward::ssh
