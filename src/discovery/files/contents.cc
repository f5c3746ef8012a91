// Format recognition for the file scanner. Certificates are extracted with OpenSSL's d2i
// functions and kept as the DER found, never re-parsed with x509::Certificate::from_der: a
// certificate deployed somewhere is reported even when certward's strict parser would refuse
// one of its extensions. Only bytes that clearly claim a format (armour, magic, a DER outer
// structure with a long-form length) are called malformed when they fail; anything else is
// an unrecognised file, since most files on a disk are not certificates.

#include "discovery/files/contents.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <algorithm>

#include "crypto/crypto.h"
#include "discovery/files/java_keystore.h"
#include "discovery/files/openssh_files.h"
#include "discovery/ssh_key.h"

namespace certward::discovery::files {

namespace {

using crypto::EvpPkeyPtr;
using crypto::X509Ptr;

Error malformed(std::string message) { return Error{ErrorCode::kMalformed, std::move(message)}; }

// Keeps the first error met: later ones are usually consequences of it.
void note_error(FileContents& out, Error e) {
  if (!out.error) out.error = std::move(e);
}

// ---- DER helpers ---------------------------------------------------------------------------

// One certificate's DER, checked to be exactly one X.509 structure.
bool is_certificate_der(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  return x && p == der.data() + der.size();
}

std::optional<Bytes> to_der(X509* x) {
  unsigned char* buf = nullptr;
  const int n = i2d_X509(x, &buf);
  if (n <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

void append_stack(STACK_OF(X509) * certs, std::vector<Bytes>& out) {
  for (int i = 0; i < sk_X509_num(certs); ++i) {
    if (auto der = to_der(sk_X509_value(certs, i))) out.push_back(*std::move(der));
  }
}

// PKCS#7 SignedData (DER or BER, as some Windows tools write it): its certificates.
Result<std::vector<Bytes>> pkcs7_certificates(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  crypto::Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!p7 || p != der.data() + der.size()) return std::unexpected(malformed("corrupt PKCS#7"));
  if (!PKCS7_type_is_signed(p7.get()) || p7->d.sign == nullptr) {
    return std::unexpected(malformed("PKCS#7 that is not SignedData"));
  }
  std::vector<Bytes> out;
  append_stack(p7->d.sign->cert, out);
  return out;
}

// The outer header of a DER file: a SEQUENCE with a long-form (or indefinite) length whose
// first element is a SEQUENCE, INTEGER or OID, as in every certificate, PKCS#7 and PKCS#12
// (and every key). A text file starting with '0' has an ASCII second byte and is not taken
// for one.
bool looks_like_der_container(std::span<const std::uint8_t> d) {
  if (d.size() < 4 || d[0] != 0x30) return false;
  std::size_t len_bytes = 0;
  if (d[1] == 0x80) {
    len_bytes = 0;
  } else if (d[1] >= 0x81 && d[1] <= 0x84) {
    len_bytes = d[1] & 0x7F;
  } else {
    return false;
  }
  const std::size_t inner = 2 + len_bytes;
  return inner < d.size() && (d[inner] == 0x30 || d[inner] == 0x02 || d[inner] == 0x06);
}

// ---- private keys --------------------------------------------------------------------------

// A key in PEM or DER: plain first, then each password. Returns the key or nullopt, and
// whether the input was a key at all.
struct KeyAttempt {
  std::optional<crypto::PrivateKey> key;
  bool is_key = false;
};

KeyAttempt read_private_key(std::span<const std::uint8_t> data,
                            std::span<const crypto::SecretBytes> passwords) {
  auto plain = crypto::parse_private_key(data);
  if (plain) return {.key = *std::move(plain), .is_key = true};
  if (plain.error().code != ErrorCode::kBadPassword) return {};
  for (const auto& pw : passwords) {
    auto k = crypto::parse_private_key(data, as_chars({pw.data(), pw.size()}));
    if (k) return {.key = *std::move(k), .is_key = true};
  }
  return {.key = std::nullopt, .is_key = true};
}

void keep_key(FileContents& out, const crypto::PrivateKey& k) {
  out.keys.push_back(crypto::up_ref(k.get()));
}

// ---- OpenSSH private keys (PROTOCOL.key) ---------------------------------------------------

// The public keys of an "openssh-key-v1" blob, which sit in clear before the (possibly
// encrypted) private part.
Result<std::vector<Bytes>> openssh_private_key_publics(std::span<const std::uint8_t> blob) {
  constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
  if (blob.size() < kMagic.size() || as_chars(blob.first(kMagic.size())) != kMagic) {
    return std::unexpected(malformed("not an openssh-key-v1 key"));
  }
  std::size_t pos = kMagic.size();
  auto u32 = [&](std::uint32_t& v) {
    if (blob.size() - pos < 4) return false;
    v = (std::uint32_t{blob[pos]} << 24) | (std::uint32_t{blob[pos + 1]} << 16) |
        (std::uint32_t{blob[pos + 2]} << 8) | std::uint32_t{blob[pos + 3]};
    pos += 4;
    return true;
  };
  auto string = [&](std::span<const std::uint8_t>& s) {
    std::uint32_t n = 0;
    if (!u32(n) || blob.size() - pos < n) return false;
    s = blob.subspan(pos, n);
    pos += n;
    return true;
  };
  std::span<const std::uint8_t> cipher, kdf, kdf_options;
  std::uint32_t count = 0;
  if (!string(cipher) || !string(kdf) || !string(kdf_options) || !u32(count) || count > 1024) {
    return std::unexpected(malformed("truncated openssh-key-v1 header"));
  }
  std::vector<Bytes> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::span<const std::uint8_t> pub;
    if (!string(pub)) return std::unexpected(malformed("truncated openssh-key-v1 public key"));
    out.emplace_back(pub.begin(), pub.end());
  }
  return out;
}

// ---- PEM -----------------------------------------------------------------------------------

struct PemBlock {
  std::string label;
  std::string_view text;  // the whole block, armour included
  Bytes der;
};

struct PemScan {
  std::vector<PemBlock> blocks;
  std::optional<Error> error;  // the first block that was cut short or is not base64
};

std::string_view line_at(std::string_view text, std::size_t pos) {
  const std::size_t end = text.find('\n', pos);
  std::string_view line = text.substr(pos, end == std::string_view::npos ? text.npos : end - pos);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

// Armour counts only at the start of a line, so that a PEM string inside source code or a
// binary ("-----BEGIN CERTIFICATE-----\n" in quotes) is not taken for a block.
std::optional<std::size_t> find_armour(std::string_view text, std::string_view marker,
                                       std::size_t from) {
  for (std::size_t p = text.find(marker, from); p != std::string_view::npos;
       p = text.find(marker, p + 1)) {
    if (p == 0 || text[p - 1] == '\n') return p;
  }
  return std::nullopt;
}

PemScan scan_pem(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  PemScan scan;
  std::size_t from = 0;
  while (auto begin = find_armour(text, kBegin, from)) {
    const std::string_view first = line_at(text, *begin);
    from = *begin + first.size();
    if (!first.ends_with("-----") || first.size() < kBegin.size() + 5) continue;
    std::string label(first.substr(kBegin.size(), first.size() - kBegin.size() - 5));
    const std::string end_marker = "-----END " + label + "-----";
    auto end = find_armour(text, end_marker, from);
    if (!end) {
      if (!scan.error) scan.error = malformed("PEM block '" + label + "' has no END line");
      break;
    }
    std::string_view body = text.substr(from, *end - from);
    // RFC 1421 headers (Proc-Type, DEK-Info on encrypted traditional keys) end at a blank line.
    if (body.find(':') != std::string_view::npos) {
      const std::size_t blank =
          body.find("\n\n") != std::string_view::npos ? body.find("\n\n") : body.find("\n\r\n");
      if (blank != std::string_view::npos) body.remove_prefix(blank + 1);
    }
    PemBlock block{.label = std::move(label),
                   .text = text.substr(*begin, *end + end_marker.size() - *begin),
                   .der = {}};
    from = *end + end_marker.size();
    auto der = from_base64(body);
    if (!der || der->empty()) {
      if (!scan.error) scan.error = malformed("PEM block '" + block.label + "' is not base64");
      continue;
    }
    block.der = *std::move(der);
    scan.blocks.push_back(std::move(block));
  }
  return scan;
}

bool is_certificate_label(std::string_view l) {
  return l == "CERTIFICATE" || l == "X509 CERTIFICATE" || l == "TRUSTED CERTIFICATE";
}
bool is_private_key_label(std::string_view l) {
  return l == "PRIVATE KEY" || l == "ENCRYPTED PRIVATE KEY" || l == "RSA PRIVATE KEY" ||
         l == "EC PRIVATE KEY" || l == "DSA PRIVATE KEY";
}

void read_pem_certificate(const PemBlock& b, FileContents& out) {
  if (b.label != "TRUSTED CERTIFICATE") {
    if (is_certificate_der(b.der)) return out.certificates.push_back(b.der);
    return note_error(out, malformed("corrupt " + b.label + " block"));
  }
  // OpenSSL's trust settings follow the certificate: keep the certificate alone.
  const unsigned char* p = b.der.data();
  X509Ptr x(d2i_X509_AUX(nullptr, &p, static_cast<long>(b.der.size())));
  ERR_clear_error();
  auto der = x ? to_der(x.get()) : std::nullopt;
  if (!der) return note_error(out, malformed("corrupt TRUSTED CERTIFICATE block"));
  out.certificates.push_back(*std::move(der));
}

void read_openssh_private_key(const PemBlock& b, const InspectOptions& opt, FileContents& out) {
  out.holds_key_material = true;
  auto publics = openssh_private_key_publics(b.der);
  if (!publics) return note_error(out, publics.error());
  for (const Bytes& pub : *publics) {
    auto key = parse_ssh_key_blob(pub);
    if (!key) {
      note_error(out, key.error());
      continue;
    }
    for (auto& f : ssh_key_findings(*key, opt.now)) out.findings.push_back(std::move(f));
    out.ssh_keys.push_back(*std::move(key));
  }
}

void read_pem(const PemScan& scan, const InspectOptions& opt, FileContents& out) {
  bool cert_blocks = false;
  bool pkcs7_blocks = false;
  bool key_blocks = false;
  for (const PemBlock& b : scan.blocks) {
    if (is_certificate_label(b.label)) {
      cert_blocks = true;
      read_pem_certificate(b, out);
    } else if (b.label == "PKCS7") {
      pkcs7_blocks = true;
      auto certs = pkcs7_certificates(b.der);
      if (!certs) note_error(out, certs.error());
      for (auto& c : certs.value_or(std::vector<Bytes>{})) out.certificates.push_back(std::move(c));
    } else if (is_private_key_label(b.label)) {
      key_blocks = true;
      out.holds_key_material = true;
      KeyAttempt k = read_private_key(as_bytes(b.text), opt.passwords);
      if (!k.is_key) note_error(out, malformed("corrupt " + b.label + " block"));
      if (k.key) keep_key(out, *k.key);
    } else if (b.label == "OPENSSH PRIVATE KEY") {
      key_blocks = true;
      read_openssh_private_key(b, opt, out);
    }
    // CSRs, CRLs, public keys and parameters are neither certificates nor private keys.
  }
  if (cert_blocks) {
    out.format = "pem";
  } else if (pkcs7_blocks) {
    out.format = "pkcs7";
  } else if (key_blocks) {
    out.format = "private_key";
  } else if (scan.error) {
    out.format = "pem";  // armour that could not be read: a cut-short or corrupt PEM file
  }
  if (scan.error && !out.format.empty()) note_error(out, *scan.error);
}

// ---- PKCS#12 -------------------------------------------------------------------------------

void free_pkcs7_stack(STACK_OF(PKCS7) * s) { sk_PKCS7_pop_free(s, PKCS7_free); }
void free_bag_stack(STACK_OF(PKCS12_SAFEBAG) * s) {
  sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
}
using Pkcs7StackPtr = crypto::Handle<STACK_OF(PKCS7), free_pkcs7_stack>;
using SafeBagStackPtr = crypto::Handle<STACK_OF(PKCS12_SAFEBAG), free_bag_stack>;

// Key bags normally sit in an unencrypted safe (the key is shrouded on its own), so whether a
// PKCS#12 holds a key is visible without its password.
bool pkcs12_has_key_bag(PKCS12* p12) {
  Pkcs7StackPtr safes(PKCS12_unpack_authsafes(p12));
  bool found = false;
  for (int i = 0; safes && i < sk_PKCS7_num(safes.get()) && !found; ++i) {
    PKCS7* p7 = sk_PKCS7_value(safes.get(), i);
    if (OBJ_obj2nid(p7->type) != NID_pkcs7_data) continue;
    SafeBagStackPtr bags(PKCS12_unpack_p7data(p7));
    for (int j = 0; bags && j < sk_PKCS12_SAFEBAG_num(bags.get()); ++j) {
      const int nid = PKCS12_SAFEBAG_get_nid(sk_PKCS12_SAFEBAG_value(bags.get(), j));
      found = found || nid == NID_keyBag || nid == NID_pkcs8ShroudedKeyBag;
    }
  }
  ERR_clear_error();
  return found;
}

// RC2-40, which Windows and older Java still use for a PKCS#12's certificates, is only in
// OpenSSL 3's legacy provider. It is loaded into a library context of its own, made the
// default on this thread only while a PKCS#12 is retried (OSSL_LIB_CTX_set0_default), so the
// rest of the process never gains the legacy algorithms. Lives as long as the process: keys
// read under it are kept after the call. Null when the provider cannot be loaded.
OSSL_LIB_CTX* legacy_libctx() {
  static OSSL_LIB_CTX* const ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    if (c != nullptr && OSSL_PROVIDER_load(c, "default") != nullptr &&
        OSSL_PROVIDER_load(c, "legacy") != nullptr) {
      return c;
    }
    ERR_clear_error();
    OSSL_LIB_CTX_free(c);
    return static_cast<OSSL_LIB_CTX*>(nullptr);
  }();
  return ctx;
}

class ScopedThreadLibctx {
 public:
  explicit ScopedThreadLibctx(OSSL_LIB_CTX* ctx) : previous_(OSSL_LIB_CTX_set0_default(ctx)) {}
  ~ScopedThreadLibctx() { OSSL_LIB_CTX_set0_default(previous_); }
  ScopedThreadLibctx(const ScopedThreadLibctx&) = delete;
  ScopedThreadLibctx& operator=(const ScopedThreadLibctx&) = delete;

 private:
  OSSL_LIB_CTX* previous_;
};

// One password, under the thread's current library context. False when it does not open the
// file (wrong password, or an algorithm that context lacks).
bool try_pkcs12_password(PKCS12* p12, const crypto::SecretBytes& pw, FileContents& out) {
  // PKCS12_parse wants a C string; the copy is cleansed with it.
  crypto::SecretBytes c_pw(pw.size() + 1);
  std::copy_n(pw.data(), pw.size(), c_pw.data());
  c_pw.data()[pw.size()] = 0;
  EVP_PKEY* key = nullptr;
  X509* leaf = nullptr;
  STACK_OF(X509)* ca = nullptr;
  const bool parsed =
      PKCS12_parse(p12, reinterpret_cast<const char*>(c_pw.data()), &key, &leaf, &ca) == 1;
  EvpPkeyPtr key_owner(key);
  X509Ptr leaf_owner(leaf);
  crypto::X509StackPtr ca_owner(ca);
  ERR_clear_error();
  if (!parsed) return false;
  if (leaf_owner) {
    if (auto der = to_der(leaf_owner.get())) out.certificates.push_back(*std::move(der));
  }
  append_stack(ca_owner.get(), out.certificates);
  if (key_owner) {
    out.holds_key_material = true;
    out.keys.push_back(std::move(key_owner));
  }
  return true;
}

void read_pkcs12(PKCS12* p12, const InspectOptions& opt, FileContents& out) {
  out.format = "pkcs12";
  out.holds_key_material = pkcs12_has_key_bag(p12);
  for (const auto& pw : opt.passwords) {
    if (try_pkcs12_password(p12, pw, out)) return;
  }
  if (OSSL_LIB_CTX* legacy = legacy_libctx()) {
    ScopedThreadLibctx scope(legacy);
    for (const auto& pw : opt.passwords) {
      if (try_pkcs12_password(p12, pw, out)) return;
    }
  }
  out.findings.push_back({.code = "pkcs12_password_unknown",
                          .severity = Severity::kMedium,
                          .detail = "none of the configured passwords opens this PKCS#12",
                          .fingerprint = {}});
  note_error(out, Error{ErrorCode::kBadPassword, "no configured password opens the PKCS#12"});
}

// ---- DER -----------------------------------------------------------------------------------

void read_der(std::span<const std::uint8_t> data, const InspectOptions& opt, FileContents& out) {
  if (is_certificate_der(data)) {
    out.format = "der";
    out.certificates.emplace_back(data.begin(), data.end());
    return;
  }
  if (auto certs = pkcs7_certificates(data)) {
    out.format = "pkcs7";
    out.certificates = *std::move(certs);
    return;
  }
  const unsigned char* p = data.data();
  crypto::Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
  ERR_clear_error();
  if (p12 && p == data.data() + data.size()) return read_pkcs12(p12.get(), opt, out);
  KeyAttempt k = read_private_key(data, opt.passwords);
  if (k.is_key) {
    out.format = "private_key";
    out.holds_key_material = true;
    if (k.key) keep_key(out, *k.key);
    return;
  }
  // Any other well-formed DER (a CRL, a CSR, a public key) is simply not ours; one whose
  // outer length disagrees with the file's size was cut short or has junk appended.
  long len = 0;
  int tag = 0;
  int xclass = 0;
  p = data.data();
  const int r = ASN1_get_object(&p, &len, &tag, &xclass, static_cast<long>(data.size()));
  ERR_clear_error();
  const bool whole =
      (r & 0x80) == 0 && r != (V_ASN1_CONSTRUCTED | 1) && p + len == data.data() + data.size();
  if (!whole) note_error(out, malformed("truncated or corrupt DER"));
}

void read_ssh_file(std::string_view text, SshKeyFileKind kind, const InspectOptions& opt,
                   FileContents& out) {
  SshKeyFile f = read_ssh_key_file(text, kind, opt.now);
  out.format = std::string(ssh_key_file_kind_name(kind));
  out.ssh_keys = std::move(f.keys);
  for (auto& finding : f.findings) out.findings.push_back(std::move(finding));
}

// Private-key entries' chains come first, so that "the first certificate" of a keystore is a
// key's certificate when there is one: the entries' own order is a hash table's.
void read_keystore(std::span<const std::uint8_t> data, const InspectOptions& opt,
                   FileContents& out) {
  out.format = data[0] == 0xFE ? "jks" : "jceks";
  auto ks = parse_java_keystore(data, opt.passwords);
  if (!ks) return note_error(out, ks.error());
  const KeystoreEntry* first_key = nullptr;
  for (const auto& e : ks->entries) {
    if (e.kind == KeystoreEntry::Kind::kTrustedCertificate) continue;
    out.holds_key_material = true;
    if (e.kind != KeystoreEntry::Kind::kPrivateKey) continue;
    if (!first_key && !e.chain.empty()) first_key = &e;
    for (const auto& c : e.chain) out.certificates.push_back(c);
  }
  for (const auto& e : ks->entries) {
    if (e.kind != KeystoreEntry::Kind::kTrustedCertificate) continue;
    for (const auto& c : e.chain) out.certificates.push_back(c);
  }
  if (!ks->password_index) {
    out.findings.push_back({.code = "keystore_password_unknown",
                            .severity = Severity::kLow,
                            .detail = "none of the configured passwords verifies the keystore's "
                                      "integrity; its certificates are read without it",
                            .fingerprint = {}});
  }
  if (ks->stopped_at_secret_key) {
    out.findings.push_back({.code = "keystore_partially_read",
                            .severity = Severity::kInfo,
                            .detail = "a secret-key entry ends what can be read of this JCEKS",
                            .fingerprint = {}});
  }
  if (!first_key) return;
  // The store password usually protects the keys too: try it first.
  std::vector<std::size_t> order;
  if (ks->password_index) order.push_back(*ks->password_index);
  for (std::size_t i = 0; i < opt.passwords.size(); ++i) {
    if (i != ks->password_index) order.push_back(i);
  }
  for (std::size_t i : order) {
    auto pkcs8 = decrypt_jks_private_key(first_key->protected_key, opt.passwords[i]);
    if (!pkcs8) {
      if (pkcs8.error().code != ErrorCode::kBadPassword) break;
      continue;
    }
    if (auto k = crypto::parse_private_key({pkcs8->data(), pkcs8->size()})) keep_key(out, *k);
    return;
  }
  out.key_bound_to_first = true;
}

bool looks_like_text(std::span<const std::uint8_t> data) {
  return std::ranges::none_of(data, [](std::uint8_t c) { return c == 0; });
}

}  // namespace

FileContents inspect_contents(std::span<const std::uint8_t> data, std::string_view file_name,
                              const InspectOptions& options) {
  FileContents out;
  if (data.empty()) return out;
  if (looks_like_java_keystore(data)) {
    read_keystore(data, options, out);
    return out;
  }
  const std::string_view text = as_chars(data);
  if (auto kind = ssh_key_file_kind_for_name(file_name)) {
    read_ssh_file(text, *kind, options, out);
    return out;
  }
  PemScan pem = scan_pem(text);
  if (!pem.blocks.empty() || pem.error) {
    read_pem(pem, options, out);
    if (!out.format.empty()) return out;
  }
  if (looks_like_der_container(data)) {
    read_der(data, options, out);
    return out;
  }
  if (looks_like_text(data)) {
    if (auto kind = detect_ssh_key_file(text)) read_ssh_file(text, *kind, options, out);
  }
  return out;
}

std::vector<crypto::EvpPkeyPtr> unencrypted_pem_keys(std::span<const std::uint8_t> data) {
  std::vector<EvpPkeyPtr> out;
  for (const PemBlock& b : scan_pem(as_chars(data)).blocks) {
    if (!is_private_key_label(b.label)) continue;
    if (auto k = crypto::parse_private_key(as_bytes(b.text)))
      out.push_back(crypto::up_ref(k->get()));
  }
  return out;
}

bool key_matches_certificate(const EVP_PKEY* key, std::span<const std::uint8_t> cert_der) {
  const unsigned char* p = cert_der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
  EVP_PKEY* pub = x ? X509_get0_pubkey(x.get()) : nullptr;
  const bool eq = pub != nullptr && EVP_PKEY_eq(key, pub) == 1;
  ERR_clear_error();
  return eq;
}

}  // namespace certward::discovery::files
