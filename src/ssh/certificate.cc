// OpenSSH certificates (PROTOCOL.certkeys) and KRLs (PROTOCOL.krl).
#include <openssl/ecdsa.h>

#include <algorithm>

#include "ssh/ssh.h"
#include "ssh/wire.h"

namespace certward::ssh {
namespace {

// The certificate type of a key type: "ssh-ed25519" → "ssh-ed25519-cert-v01@openssh.com",
// "sk-ssh-ed25519@openssh.com" → "sk-ssh-ed25519-cert-v01@openssh.com".
Result<std::string> cert_type_of(std::string_view key_type) {
  static constexpr std::string_view kSuffix = "@openssh.com";
  if (key_type.ends_with(kSuffix)) {
    return std::string(key_type.substr(0, key_type.size() - kSuffix.size())) +
           "-cert-v01@openssh.com";
  }
  if (key_type == "ssh-ed25519" || key_type == "ssh-rsa" || key_type.starts_with("ecdsa-sha2-")) {
    return std::string(key_type) + "-cert-v01@openssh.com";
  }
  return fail(ErrorCode::kInvalidArgument, "no certificate type for " + std::string(key_type));
}

// The signature of `data` by the CA in SSH form: string algorithm, string signature.
Result<Bytes> ssh_signature(const crypto::Signer& ca, std::span<const std::uint8_t> data) {
  const crypto::KeyInfo info = crypto::describe_key(ca.public_key());
  CW_ASSIGN_OR_RETURN(Bytes sig, ca.sign_data(data));
  Writer w;
  switch (info.algorithm) {
    case crypto::KeyAlgorithm::kEd25519:
      w.string("ssh-ed25519");
      w.string(sig);
      break;
    case crypto::KeyAlgorithm::kEcdsa: {
      // The signer gives a DER ECDSA-Sig-Value; SSH wants the two integers as mpints.
      const unsigned char* p = sig.data();
      crypto::EcdsaSigPtr s(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
      if (!s) return fail(ErrorCode::kInternal, "the CA's ECDSA signature does not decode");
      const BIGNUM* r = ECDSA_SIG_get0_r(s.get());
      const BIGNUM* sv = ECDSA_SIG_get0_s(s.get());
      Bytes rb(BN_num_bytes(r)), sb(BN_num_bytes(sv));
      BN_bn2bin(r, rb.data());
      BN_bn2bin(sv, sb.data());
      Writer inner;
      inner.mpint(rb);
      inner.mpint(sb);
      const std::string curve = info.bits >= 521 ? "nistp521" : info.bits >= 384 ? "nistp384" : "nistp256";
      w.string("ecdsa-sha2-" + curve);
      w.string(inner.bytes());
      break;
    }
    case crypto::KeyAlgorithm::kRsa:
      // crypto::digest_for gives RSA keys SHA-256: RFC 8332's rsa-sha2-256.
      w.string("rsa-sha2-256");
      w.string(sig);
      break;
    default:
      return fail(ErrorCode::kInvalidArgument, "an SSH CA key is Ed25519, ECDSA or RSA");
  }
  return w.take();
}

std::uint64_t unix_seconds(SysTime t) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return s < 0 ? 0 : static_cast<std::uint64_t>(s);
}

}  // namespace

std::string_view cert_type_name(CertType t) { return t == CertType::kHost ? "host" : "user"; }

std::string Certificate::line() const { return type + " " + to_base64(blob); }

std::string Certificate::fingerprint() const { return fingerprint_of(blob); }

Result<Certificate> sign_certificate(const CertificateTemplate& t, const crypto::Signer& ca) {
  Certificate c;
  CW_ASSIGN_OR_RETURN(c.type, cert_type_of(t.key.type));
  CW_ASSIGN_OR_RETURN(PublicKey ca_key, public_key_of(ca.public_key()));
  // The subject key's fields follow the nonce without the key's own type string.
  const std::size_t type_len = 4 + t.key.type.size();
  if (t.key.blob.size() <= type_len) return fail(ErrorCode::kInvalidArgument, "empty subject key");

  Writer w;
  w.string(c.type);
  w.string(crypto::random_bytes(32));  // nonce: no two certificates sign the same bytes
  w.raw(std::span<const std::uint8_t>(t.key.blob).subspan(type_len));
  w.u64(t.serial);
  w.u32(static_cast<std::uint32_t>(t.type));
  w.string(t.key_id);
  Writer principals;
  for (const auto& p : t.principals) principals.string(p);
  w.string(principals.bytes());
  w.u64(unix_seconds(t.valid_after));
  w.u64(unix_seconds(t.valid_before));
  // std::map and std::set iterate in the lexical order PROTOCOL.certkeys requires.
  Writer options;
  for (const auto& [name, value] : t.critical_options) {
    options.string(name);
    Writer data;
    data.string(value);
    options.string(data.bytes());
  }
  w.string(options.bytes());
  Writer extensions;
  for (const auto& name : t.extensions) {
    extensions.string(name);
    extensions.string(std::string_view());
  }
  w.string(extensions.bytes());
  w.string(std::string_view());  // reserved
  w.string(ca_key.blob);
  CW_ASSIGN_OR_RETURN(Bytes signature, ssh_signature(ca, w.bytes()));
  w.string(signature);
  c.blob = w.take();
  return c;
}

Bytes build_krl(std::uint64_t version, SysTime generated, std::span<const KrlEntry> entries,
                std::string_view comment) {
  constexpr std::uint64_t kMagic = 0x5353484b524c0a00ULL;  // "SSHKRL\n\0"
  constexpr std::uint8_t kSectionCertificates = 1;
  constexpr std::uint8_t kCertSerialList = 0x20;
  Writer w;
  w.u64(kMagic);
  w.u32(1);  // format version
  w.u64(version);
  w.u64(unix_seconds(generated));
  w.u64(0);                      // flags
  w.string(std::string_view());  // reserved
  w.string(comment);
  for (const auto& e : entries) {
    std::vector<std::uint64_t> serials = e.serials;
    std::sort(serials.begin(), serials.end());
    serials.erase(std::unique(serials.begin(), serials.end()), serials.end());
    Writer section;
    section.string(e.ca.blob);
    section.string(std::string_view());  // reserved
    if (!serials.empty()) {
      Writer list;
      for (std::uint64_t s : serials) list.u64(s);
      section.u8(kCertSerialList);
      section.string(list.bytes());
    }
    w.u8(kSectionCertificates);
    w.string(section.bytes());
  }
  return w.take();
}

}  // namespace certward::ssh
