// OpenSSH keys, certificates and KRLs: encoding, hostile key lines, and signatures checked
// independently of the encoder (the bytes are read back field by field).
#include "ssh/ssh.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "ssh/wire.h"

namespace certward::ssh {
namespace {

PublicKey key_of(crypto::KeyType type, std::string comment = "") {
  auto key = crypto::generate_key(type);
  EXPECT_TRUE(key);
  auto pub = public_key_of(key->get());
  EXPECT_TRUE(pub) << pub.error().message;
  pub->comment = std::move(comment);
  return *pub;
}

std::string line_of(std::string_view type, const Bytes& blob) {
  return std::string(type) + " " + to_base64(blob);
}

TEST(SshWire, MpintIsMinimalAndPositive) {
  Writer w;
  const std::uint8_t high[] = {0x00, 0x00, 0x80, 0x01};
  w.mpint(high);
  const std::uint8_t low[] = {0x00, 0x7f};
  w.mpint(low);
  w.mpint(std::span<const std::uint8_t>());
  const Bytes expected = {0, 0, 0, 3, 0x00, 0x80, 0x01, 0, 0, 0, 1, 0x7f, 0, 0, 0, 0};
  EXPECT_EQ(w.bytes(), expected);
  Reader r(w.bytes());
  EXPECT_TRUE(r.string());
  EXPECT_TRUE(r.string());
  EXPECT_TRUE(r.string());
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.u32());
}

TEST(SshKeys, RoundTripsEveryCaKeyType) {
  for (auto type : {crypto::KeyType::kEd25519, crypto::KeyType::kEcP256, crypto::KeyType::kEcP384,
                    crypto::KeyType::kRsa2048}) {
    const PublicKey k = key_of(type, "user@host with spaces");
    auto back = parse_public_key(k.line() + "\n");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->type, k.type);
    EXPECT_EQ(back->blob, k.blob);
    EXPECT_EQ(back->comment, "user@host with spaces");
    EXPECT_TRUE(back->fingerprint().starts_with("SHA256:"));
    EXPECT_EQ(back->fingerprint().find('='), std::string::npos);
  }
}

TEST(SshKeys, RefusesWhatIsNotAKeyToCertify) {
  const PublicKey ed = key_of(crypto::KeyType::kEd25519);
  const std::string b64 = to_base64(ed.blob);
  auto code = [](std::string_view line) {
    auto k = parse_public_key(line);
    return k ? std::optional<ErrorCode>() : std::optional<ErrorCode>(k.error().code);
  };
  EXPECT_EQ(code(""), ErrorCode::kMalformed);
  EXPECT_EQ(code("ssh-ed25519"), ErrorCode::kMalformed);
  EXPECT_EQ(code("ssh-rsa " + b64), ErrorCode::kMalformed);  // the line's type is not the blob's
  EXPECT_EQ(code("ssh-ed25519 " + b64 + "\nssh-ed25519 " + b64), ErrorCode::kMalformed);
  EXPECT_EQ(code("ssh-ed25519 " + b64.substr(0, b64.size() - 4)), ErrorCode::kMalformed);
  EXPECT_EQ(code("no-pty ssh-ed25519 " + b64), ErrorCode::kMalformed);  // options
  EXPECT_EQ(code(std::string(kMaxPublicKeyLine + 1, 'A')), ErrorCode::kMalformed);
  // Trailing bytes inside the blob.
  Bytes longer = ed.blob;
  longer.push_back(0);
  EXPECT_EQ(code(line_of("ssh-ed25519", longer)), ErrorCode::kMalformed);
  // A certificate type, and DSA.
  Writer cert;
  cert.string("ssh-ed25519-cert-v01@openssh.com");
  EXPECT_EQ(code(line_of("ssh-ed25519-cert-v01@openssh.com", cert.bytes())),
            ErrorCode::kPolicyRejected);
  Writer dsa;
  dsa.string("ssh-dss");
  EXPECT_EQ(code(line_of("ssh-dss", dsa.bytes())), ErrorCode::kPolicyRejected);
  // RSA of 1024 bits.
  Writer rsa;
  rsa.string("ssh-rsa");
  const std::uint8_t e[] = {0x01, 0x00, 0x01};
  rsa.mpint(e);
  Bytes n(128, 0xab);
  n.back() |= 1;
  rsa.mpint(n);
  EXPECT_EQ(code(line_of("ssh-rsa", rsa.bytes())), ErrorCode::kPolicyRejected);
  // An EC point that is not on the curve.
  const PublicKey ec = key_of(crypto::KeyType::kEcP256);
  Bytes off = ec.blob;
  off.back() ^= 1;
  EXPECT_EQ(code(line_of(ec.type, off)), ErrorCode::kMalformed);
  // Non-canonical base64: bits set that the padding says are unused.
  std::string padded = to_base64(ec.blob);
  ASSERT_EQ(padded.back(), '=');
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char& last = padded[padded.size() - 2];
  last = alphabet[alphabet.find(last) | 1];
  EXPECT_EQ(code(ec.type + " " + padded), ErrorCode::kMalformed);
}

TEST(SshText, DisplayTextRefusesControlsBidiAndBadUtf8) {
  EXPECT_TRUE(is_display_text("alice"));
  EXPECT_TRUE(is_display_text("j\xc3\xbcrgen"));             // ü
  EXPECT_TRUE(is_display_text("\xe6\x9d\xb1\xe4\xba\xac"));  // 東京
  EXPECT_FALSE(is_display_text("a\nb"));
  EXPECT_FALSE(is_display_text("a\x7f"));
  EXPECT_FALSE(is_display_text("\xc2\x9b"));              // C1 CSI
  EXPECT_FALSE(is_display_text("web-\xe2\x80\xaeroot"));  // U+202E
  EXPECT_FALSE(is_display_text("\xe2\x81\xa6"));          // U+2066
  EXPECT_FALSE(is_display_text("\xff"));
  EXPECT_FALSE(is_display_text("\xc0\x80"));      // overlong NUL
  EXPECT_FALSE(is_display_text("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(is_display_text("\xc3"));          // cut short
}

TEST(SshKeys, RefusesTheEd25519IdentityPoint) {
  for (std::uint8_t first : {0, 1}) {
    Writer w;
    w.string("ssh-ed25519");
    Bytes pk(32, 0);
    pk[0] = first;
    w.string(pk);
    auto k = parse_public_key(line_of("ssh-ed25519", w.bytes()));
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, ErrorCode::kPolicyRejected);
  }
}

// The certificate read back field by field, and its signature checked with the CA's key.
TEST(SshCertificate, EncodesEveryFieldAndVerifies) {
  auto ca_key = crypto::generate_key(crypto::KeyType::kEd25519);
  ASSERT_TRUE(ca_key);
  const crypto::SoftwareSigner ca(std::make_shared<const crypto::PrivateKey>(
      crypto::up_ref(const_cast<EVP_PKEY*>(ca_key->get()))));
  CertificateTemplate t;
  t.type = CertType::kUser;
  t.key = key_of(crypto::KeyType::kEcP256);
  t.serial = 0x0102030405060708ULL;
  t.key_id = "alice";
  t.principals = {"alice", "ops"};
  t.valid_after = SysTime(std::chrono::seconds(1000));
  t.valid_before = SysTime(std::chrono::seconds(2000));
  t.critical_options = {{"source-address", "10.0.0.0/8"}, {"force-command", "uptime"}};
  t.extensions = {"permit-pty", "permit-agent-forwarding"};
  auto cert = sign_certificate(t, ca);
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(cert->type, "ecdsa-sha2-nistp256-cert-v01@openssh.com");

  Reader r(cert->blob);
  auto text = [&] { return std::string(as_chars(*r.string())); };
  EXPECT_EQ(text(), cert->type);
  EXPECT_EQ(r.string()->size(), 32u);  // nonce
  EXPECT_EQ(text(), "nistp256");
  EXPECT_EQ(r.string()->size(), 65u);  // the subject's point
  EXPECT_EQ(*r.u64(), t.serial);
  EXPECT_EQ(*r.u32(), 1u);
  EXPECT_EQ(text(), "alice");
  {
    Reader p(*r.string());
    EXPECT_EQ(std::string(as_chars(*p.string())), "alice");
    EXPECT_EQ(std::string(as_chars(*p.string())), "ops");
    EXPECT_TRUE(p.done());
  }
  EXPECT_EQ(*r.u64(), 1000u);
  EXPECT_EQ(*r.u64(), 2000u);
  {
    // Critical options in lexical order, each value a string inside the data string.
    Reader o(*r.string());
    EXPECT_EQ(std::string(as_chars(*o.string())), "force-command");
    Reader v(*o.string());
    EXPECT_EQ(std::string(as_chars(*v.string())), "uptime");
    EXPECT_EQ(std::string(as_chars(*o.string())), "source-address");
    Reader v2(*o.string());
    EXPECT_EQ(std::string(as_chars(*v2.string())), "10.0.0.0/8");
    EXPECT_TRUE(o.done());
  }
  {
    Reader e(*r.string());
    EXPECT_EQ(std::string(as_chars(*e.string())), "permit-agent-forwarding");
    EXPECT_TRUE(e.string()->empty());
    EXPECT_EQ(std::string(as_chars(*e.string())), "permit-pty");
    EXPECT_TRUE(e.string()->empty());
    EXPECT_TRUE(e.done());
  }
  EXPECT_TRUE(r.string()->empty());  // reserved
  auto ca_pub = public_key_of(ca_key->get());
  ASSERT_TRUE(ca_pub);
  const auto signed_part = cert->blob.size();
  auto ca_blob = r.string();
  ASSERT_TRUE(ca_blob);
  EXPECT_TRUE(std::equal(ca_blob->begin(), ca_blob->end(), ca_pub->blob.begin(), ca_pub->blob.end()));
  auto signature = r.string();
  ASSERT_TRUE(signature);
  EXPECT_TRUE(r.done());
  const std::size_t body = signed_part - 4 - signature->size();
  Reader s(*signature);
  EXPECT_EQ(std::string(as_chars(*s.string())), "ssh-ed25519");
  auto raw = s.string();
  ASSERT_TRUE(raw);
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                 const_cast<EVP_PKEY*>(ca_key->get())),
            1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), raw->data(), raw->size(), cert->blob.data(), body), 1);
}

TEST(SshCertificate, EcdsaAndRsaCasSignInSshForm) {
  for (auto [type, algorithm] : {std::pair{crypto::KeyType::kEcP384, "ecdsa-sha2-nistp384"},
                                 std::pair{crypto::KeyType::kRsa2048, "rsa-sha2-256"}}) {
    auto ca_key = crypto::generate_key(type);
    ASSERT_TRUE(ca_key);
    const crypto::SoftwareSigner ca(std::make_shared<const crypto::PrivateKey>(std::move(*ca_key)));
    CertificateTemplate t;
    t.key = key_of(crypto::KeyType::kEd25519);
    t.principals = {"x"};
    auto cert = sign_certificate(t, ca);
    ASSERT_TRUE(cert) << cert.error().message;
    // The signature is the last field: string algorithm, string signature.
    const std::string b(as_chars(cert->blob));
    EXPECT_NE(b.rfind(algorithm), std::string::npos) << algorithm;
  }
}

TEST(SshKrl, ListsSortedUniqueSerialsPerCa) {
  const PublicKey ca = key_of(crypto::KeyType::kEd25519);
  const KrlEntry entries[] = {{ca, {9, 3, 9, 7}}};
  const Bytes krl = build_krl(42, SysTime(std::chrono::seconds(5)), entries, "test");
  Reader r(krl);
  EXPECT_EQ(*r.u64(), 0x5353484b524c0a00ULL);
  EXPECT_EQ(*r.u32(), 1u);
  EXPECT_EQ(*r.u64(), 42u);
  EXPECT_EQ(*r.u64(), 5u);
  EXPECT_EQ(*r.u64(), 0u);
  EXPECT_TRUE(r.string()->empty());
  EXPECT_EQ(std::string(as_chars(*r.string())), "test");
  // Then one certificates section (type 1) for the CA: its key, a reserved string, and a
  // serial list (0x20) of 3, 7 and 9.
  const std::size_t header = 8 + 4 + 8 + 8 + 8 + 4 + 4 + 4;
  ASSERT_GT(krl.size(), header + 1);
  EXPECT_EQ(krl[header], 1);
  Reader section_reader(std::span<const std::uint8_t>(krl).subspan(header + 1));
  auto section = section_reader.string();
  ASSERT_TRUE(section);
  EXPECT_TRUE(section_reader.done());
  Reader sec(*section);
  auto ca_blob = sec.string();
  ASSERT_TRUE(ca_blob);
  EXPECT_TRUE(std::equal(ca_blob->begin(), ca_blob->end(), ca.blob.begin(), ca.blob.end()));
  EXPECT_TRUE(sec.string()->empty());
  const std::size_t list_at = 4 + ca.blob.size() + 4;
  ASSERT_GT(section->size(), list_at);
  EXPECT_EQ((*section)[list_at], 0x20);
  Reader list_reader(section->subspan(list_at + 1));
  Reader list(*list_reader.string());
  EXPECT_EQ(*list.u64(), 3u);
  EXPECT_EQ(*list.u64(), 7u);
  EXPECT_EQ(*list.u64(), 9u);
  EXPECT_TRUE(list.done());
}

}  // namespace
}  // namespace certward::ssh
