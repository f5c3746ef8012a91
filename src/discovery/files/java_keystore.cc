// The JKS and JCEKS layouts follow OpenJDK's sun.security.provider.JavaKeyStore and
// com.sun.crypto.provider.JceKeyStore (engineLoad/engineStore); every count and length read
// from the file is checked against what is left before it is used, since the file is outside
// input and the fuzz target jks_fuzz feeds it garbage.

#include "discovery/files/java_keystore.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "crypto/crypto.h"
#include "crypto/handles.h"

namespace certward::discovery::files {

namespace {

constexpr std::uint32_t kJksMagic = 0xFEEDFEED;
constexpr std::uint32_t kJceksMagic = 0xCECECECE;
constexpr std::size_t kDigestSize = 20;  // SHA-1
constexpr std::string_view kDigestPhrase = "Mighty Aphrodite";
constexpr std::string_view kKeyProtectorOid = "1.3.6.1.4.1.42.2.17.1.1";

// A bounds-checked big-endian cursor (Java's DataInputStream).
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> d) : d_(d) {}
  std::size_t left() const { return d_.size() - pos_; }
  bool u16(std::uint32_t& v) { return uint(2, v); }
  bool u32(std::uint32_t& v) { return uint(4, v); }
  bool skip(std::size_t n) {
    if (n > left()) return false;
    pos_ += n;
    return true;
  }
  bool bytes(std::size_t n, Bytes& out) {
    if (n > left()) return false;
    out.assign(d_.begin() + static_cast<std::ptrdiff_t>(pos_),
               d_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  // Java's writeUTF: a 16-bit length and modified UTF-8.
  bool utf(std::string& out) {
    std::uint32_t n = 0;
    Bytes b;
    if (!u16(n) || !bytes(n, b)) return false;
    out.assign(b.begin(), b.end());
    return true;
  }

 private:
  bool uint(std::size_t n, std::uint32_t& v) {
    if (n > left()) return false;
    v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | d_[pos_ + i];
    pos_ += n;
    return true;
  }
  std::span<const std::uint8_t> d_;
  std::size_t pos_ = 0;
};

Error truncated(std::string_view what) {
  return Error{ErrorCode::kMalformed, "keystore truncated or corrupt in " + std::string(what)};
}

// A certificate as the store writes it: in version 2 the type ("X.509") first.
Result<std::optional<Bytes>> read_certificate(Reader& r, std::uint32_t version) {
  std::string type = "X.509";
  if (version == 2 && !r.utf(type)) return std::unexpected(truncated("a certificate type"));
  std::uint32_t len = 0;
  Bytes der;
  if (!r.u32(len) || !r.bytes(len, der)) return std::unexpected(truncated("a certificate"));
  // Other certificate types never shipped with a provider; such an entry is skipped.
  if (type != "X.509") return std::optional<Bytes>{};
  return std::optional<Bytes>{std::move(der)};
}

Status read_private_key_entry(Reader& r, std::uint32_t version, KeystoreEntry& e) {
  std::uint32_t key_len = 0;
  if (!r.u32(key_len) || !r.bytes(key_len, e.protected_key))
    return std::unexpected(truncated("a key"));
  std::uint32_t count = 0;
  if (!r.u32(count)) return std::unexpected(truncated("a chain length"));
  // Each certificate takes at least its 4-byte length: a count beyond that is a lie.
  if (count > r.left() / 4) return std::unexpected(truncated("a chain"));
  for (std::uint32_t i = 0; i < count; ++i) {
    CW_ASSIGN_OR_RETURN(auto cert, read_certificate(r, version));
    if (cert) e.chain.push_back(*std::move(cert));
  }
  return ok();
}

// Java's String.toCharArray() bytes, big-endian: how the password enters both digests. UTF-8
// is decoded to code points and re-encoded as UTF-16; a byte that is not valid UTF-8 stands for
// itself (Latin-1), which is what a caller handing us raw bytes most likely meant.
crypto::SecretBytes utf16be(const crypto::SecretBytes& password) {
  Bytes out;
  out.reserve(password.size() * 2);
  auto put = [&out](std::uint32_t u) {
    out.push_back(static_cast<std::uint8_t>(u >> 8));
    out.push_back(static_cast<std::uint8_t>(u));
  };
  const std::uint8_t* p = password.data();
  const std::size_t n = password.size();
  for (std::size_t i = 0; i < n;) {
    std::uint32_t cp = p[i];
    std::size_t len = 1;
    if (cp >= 0xC2 && cp <= 0xDF) {
      len = 2;
    } else if (cp >= 0xE0 && cp <= 0xEF) {
      len = 3;
    } else if (cp >= 0xF0 && cp <= 0xF4) {
      len = 4;
    }
    bool valid = len == 1 || i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) valid = (p[i + k] & 0xC0) == 0x80;
    if (len > 1 && valid) {
      cp &= 0x7F >> len;
      for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
    } else {
      len = 1;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(0xD800 | (cp >> 10));
      put(0xDC00 | (cp & 0x3FF));
    } else {
      put(cp);
    }
    i += len;
  }
  crypto::SecretBytes secret(std::move(out));
  return secret;
}

Bytes sha1_of(std::initializer_list<std::span<const std::uint8_t>> parts) {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Bytes out(kDigestSize);
  unsigned int len = 0;
  bool ok_digest = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) == 1;
  for (const auto& p : parts) {
    ok_digest = ok_digest && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  }
  ok_digest = ok_digest && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1;
  CW_CHECK(ok_digest && len == kDigestSize);
  return out;
}

bool digest_matches(std::span<const std::uint8_t> data, const crypto::SecretBytes& password) {
  const crypto::SecretBytes pw = utf16be(password);
  const auto body = data.first(data.size() - kDigestSize);
  const Bytes d = sha1_of({{pw.data(), pw.size()}, as_bytes(kDigestPhrase), body});
  return CRYPTO_memcmp(d.data(), data.data() + body.size(), kDigestSize) == 0;
}

}  // namespace

std::string_view keystore_type_name(KeystoreType t) {
  return t == KeystoreType::kJks ? "jks" : "jceks";
}

bool looks_like_java_keystore(std::span<const std::uint8_t> data) {
  if (data.size() < 4) return false;
  const std::uint32_t m = (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) |
                          (std::uint32_t{data[2]} << 8) | std::uint32_t{data[3]};
  return m == kJksMagic || m == kJceksMagic;
}

Result<JavaKeystore> parse_java_keystore(std::span<const std::uint8_t> data,
                                         std::span<const crypto::SecretBytes> passwords) {
  if (!looks_like_java_keystore(data)) return fail(ErrorCode::kMalformed, "not a Java keystore");
  if (data.size() < 12 + kDigestSize) return std::unexpected(truncated("the header"));
  JavaKeystore ks;
  Reader r(data.first(data.size() - kDigestSize));
  std::uint32_t magic = 0;
  std::uint32_t count = 0;
  r.u32(magic);
  r.u32(ks.version);
  r.u32(count);
  ks.type = magic == kJksMagic ? KeystoreType::kJks : KeystoreType::kJceks;
  const bool version_ok =
      ks.type == KeystoreType::kJks ? (ks.version == 1 || ks.version == 2) : ks.version == 2;
  if (!version_ok) return fail(ErrorCode::kMalformed, "unknown keystore version");
  // The smallest entry (a tag, an empty alias, a date, an empty certificate) is 18 bytes.
  if (count > r.left() / 18) return std::unexpected(truncated("the entry count"));
  for (std::uint32_t i = 0; i < count && !ks.stopped_at_secret_key; ++i) {
    KeystoreEntry e;
    std::uint32_t tag = 0;
    if (!r.u32(tag) || !r.utf(e.alias) || !r.skip(8)) return std::unexpected(truncated("an entry"));
    if (tag == 1) {
      e.kind = KeystoreEntry::Kind::kPrivateKey;
      CW_RETURN_IF_ERROR(read_private_key_entry(r, ks.version, e));
    } else if (tag == 2) {
      e.kind = KeystoreEntry::Kind::kTrustedCertificate;
      CW_ASSIGN_OR_RETURN(auto cert, read_certificate(r, ks.version));
      if (cert) e.chain.push_back(*std::move(cert));
    } else if (tag == 3 && ks.type == KeystoreType::kJceks) {
      e.kind = KeystoreEntry::Kind::kSecretKey;
      ks.stopped_at_secret_key = true;
    } else {
      return fail(ErrorCode::kMalformed, "unknown keystore entry tag");
    }
    ks.entries.push_back(std::move(e));
  }
  if (!ks.stopped_at_secret_key && r.left() != 0) {
    return fail(ErrorCode::kMalformed, "data between the last entry and the digest");
  }
  for (std::size_t i = 0; i < passwords.size(); ++i) {
    if (digest_matches(data, passwords[i])) {
      ks.password_index = i;
      break;
    }
  }
  return ks;
}

Result<crypto::SecretBytes> decrypt_jks_private_key(std::span<const std::uint8_t> protected_key,
                                                    const crypto::SecretBytes& password) {
  const unsigned char* p = protected_key.data();
  crypto::X509SigPtr sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(protected_key.size())));
  if (!sig || p != protected_key.data() + protected_key.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "not an EncryptedPrivateKeyInfo");
  }
  const X509_ALGOR* alg = nullptr;
  const ASN1_OCTET_STRING* enc = nullptr;
  X509_SIG_get0(sig.get(), &alg, &enc);
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
  std::array<char, 80> oid_text{};
  OBJ_obj2txt(oid_text.data(), static_cast<int>(oid_text.size()), oid, 1);
  if (std::string_view(oid_text.data()) != kKeyProtectorOid) {
    return fail(ErrorCode::kInvalidArgument, "the key is not protected by JKS's KeyProtector");
  }
  const std::span<const std::uint8_t> blob(ASN1_STRING_get0_data(enc),
                                           static_cast<std::size_t>(ASN1_STRING_length(enc)));
  // salt (20) || key XOR keystream || SHA-1(password || key) (20)
  if (blob.size() < 2 * kDigestSize) return fail(ErrorCode::kMalformed, "protected key too short");
  const auto salt = blob.first(kDigestSize);
  const auto cipher = blob.subspan(kDigestSize, blob.size() - 2 * kDigestSize);
  const auto check = blob.last(kDigestSize);
  const crypto::SecretBytes pw = utf16be(password);
  crypto::SecretBytes plain(cipher.size());
  Bytes block(salt.begin(), salt.end());
  for (std::size_t off = 0; off < cipher.size(); off += kDigestSize) {
    block = sha1_of({{pw.data(), pw.size()}, block});
    const std::size_t n = std::min(kDigestSize, cipher.size() - off);
    for (std::size_t k = 0; k < n; ++k) plain.data()[off + k] = cipher[off + k] ^ block[k];
  }
  OPENSSL_cleanse(block.data(), block.size());
  const Bytes expect = sha1_of({{pw.data(), pw.size()}, {plain.data(), plain.size()}});
  if (CRYPTO_memcmp(expect.data(), check.data(), kDigestSize) != 0) {
    return fail(ErrorCode::kBadPassword, "wrong password for the keystore's private key");
  }
  return plain;
}

}  // namespace certward::discovery::files
