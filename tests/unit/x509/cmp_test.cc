#include "x509/cmp.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "unit/x509/test_certs.h"

namespace certward::x509::cmp {
namespace {

using testing::test_key;

// OpenSSL's own CMP client builds the requests: its transfer callback keeps what it would
// send and answers nothing, so the exchange stops there.
OSSL_CMP_MSG* capture(OSSL_CMP_CTX* ctx, const OSSL_CMP_MSG* req) {
  auto* out = static_cast<Bytes*>(OSSL_CMP_CTX_get_transfer_cb_arg(ctx));
  if (auto der = to_der(req)) *out = std::move(*der);
  return nullptr;
}

using ClientPtr = crypto::Handle<OSSL_CMP_CTX, OSSL_CMP_CTX_free>;

ClientPtr client(Bytes& sent) {
  ClientPtr ctx(OSSL_CMP_CTX_new(nullptr, nullptr));
  OSSL_CMP_CTX_set_log_verbosity(ctx.get(), OSSL_CMP_LOG_EMERG);
  OSSL_CMP_CTX_set_transfer_cb(ctx.get(), capture);
  OSSL_CMP_CTX_set_transfer_cb_arg(ctx.get(), &sent);
  return ctx;
}

// An ir MACed with `secret` under PasswordBasedMac, as OpenSSL's client sends it.
constexpr std::string_view kReference = "ec-0123456789abcdef";

Bytes mac_protected_ir(const std::string& secret) {
  Bytes sent;
  auto ctx = client(sent);
  const std::string ref(kReference);
  OSSL_CMP_CTX_set1_referenceValue(ctx.get(), reinterpret_cast<const unsigned char*>(ref.data()),
                                   int(ref.size()));
  OSSL_CMP_CTX_set1_secretValue(ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                int(secret.size()));
  auto key = test_key();
  EVP_PKEY_up_ref(key.get());
  OSSL_CMP_CTX_set0_newPkey(ctx.get(), 1, key.get());
  crypto::X509NamePtr subject(X509_NAME_new());
  X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("dev-1.example.test"), -1, -1,
                             0);
  OSSL_CMP_CTX_set1_subjectName(ctx.get(), subject.get());
  (void)OSSL_CMP_exec_certreq(ctx.get(), static_cast<int>(Body::kIr), nullptr);
  ERR_clear_error();
  return sent;
}

TEST(CmpCodec, ReadsTheHeaderOfAnIrProtectedByASharedSecret) {
  const std::string ref(kReference);
  const Bytes sent = mac_protected_ir("s3cret");
  ASSERT_FALSE(sent.empty());

  auto msg = parse_message(sent);
  ASSERT_TRUE(msg) << msg.error().message;
  EXPECT_EQ(body_type(msg->get()), Body::kIr);
  auto h = read_header(msg->get());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(std::string(h->sender_kid.begin(), h->sender_kid.end()), ref);
  EXPECT_EQ(h->protection, kPasswordBasedMac);
  EXPECT_EQ(h->pbm_iterations, std::optional<long>(500));
  EXPECT_EQ(h->transaction_id.size(), 16u);
  EXPECT_EQ(h->sender_nonce.size(), 16u);
  EXPECT_TRUE(h->recip_nonce.empty());
  EXPECT_TRUE(h->message_time.has_value());
  EXPECT_EQ(revocation_reason(msg->get()), std::nullopt);

  // Anything else is not a PKIMessage.
  Bytes trailing = sent;
  trailing.push_back(0);
  for (const Bytes& bad :
       {Bytes{}, trailing, Bytes(sent.begin(), sent.begin() + 40), Bytes(kMaxMessage + 1, 0x30)}) {
    auto m = parse_message(bad);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, ErrorCode::kMalformed);
  }
}

// Whether OpenSSL itself finds `der`'s MAC good under `secret`.
bool openssl_mac_ok(const Bytes& der, const std::string& secret) {
  auto msg = parse_message(der);
  if (!msg) return false;
  ClientPtr v(OSSL_CMP_CTX_new(nullptr, nullptr));
  OSSL_CMP_CTX_set_log_verbosity(v.get(), OSSL_CMP_LOG_EMERG);
  OSSL_CMP_CTX_set1_secretValue(v.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                int(secret.size()));
  const bool ok = OSSL_CMP_validate_msg(v.get(), msg->get()) == 1;
  ERR_clear_error();
  return ok;
}

std::span<const std::uint8_t> as_span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(CmpCodec, Pbmac1RoundTripsAndConvertsToWhatOpenSslChecks) {
  const std::string secret = "s3cret";
  const Bytes ir = mac_protected_ir(secret);
  ASSERT_FALSE(ir.empty());
  ASSERT_TRUE(openssl_mac_ok(ir, secret));

  Pbmac1 p;
  p.iterations = 1000;
  p.key_length = 32;
  p.prf = EVP_sha256();
  p.mac = EVP_sha512();
  auto under_pbmac1 = protect_pbmac1(ir, p, as_span(secret));
  ASSERT_TRUE(under_pbmac1) << under_pbmac1.error().message;
  auto msg = parse_message(*under_pbmac1);
  ASSERT_TRUE(msg);
  auto h = read_header(msg->get());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->protection, kPbmac1);
  ASSERT_TRUE(h->pbmac1);
  EXPECT_EQ(h->pbmac1->iterations, 1000);
  EXPECT_EQ(h->pbm_iterations, std::optional<long>(1000));
  EXPECT_EQ(h->pbmac1->key_length, 32u);
  EXPECT_EQ(h->pbmac1->prf, EVP_sha256());
  EXPECT_EQ(h->pbmac1->mac, EVP_sha512());
  EXPECT_EQ(h->pbmac1->salt.size(), 16u);
  // Everything but the protection is kept.
  auto before = read_header(parse_message(ir)->get());
  EXPECT_EQ(h->transaction_id, before->transaction_id);
  EXPECT_EQ(h->sender_nonce, before->sender_nonce);
  EXPECT_EQ(h->sender_kid, before->sender_kid);
  EXPECT_EQ(body_type(msg->get()), Body::kIr);

  EXPECT_TRUE(pbmac1_verifies(*under_pbmac1, *h->pbmac1, as_span(secret)));
  EXPECT_FALSE(pbmac1_verifies(*under_pbmac1, *h->pbmac1, as_span(std::string("s3creT"))));
  Bytes flipped = *under_pbmac1;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(pbmac1_verifies(flipped, *h->pbmac1, as_span(secret)));
  EXPECT_FALSE(pbmac1_verifies(ir, *h->pbmac1, as_span(secret)));  // a PBM MAC is not PBMAC1's

  // Back under PasswordBasedMac, as OpenSSL 3.0 checks it.
  auto under_pbm = protect_pbm(*under_pbmac1, as_span(secret), 1000);
  ASSERT_TRUE(under_pbm) << under_pbm.error().message;
  EXPECT_TRUE(openssl_mac_ok(*under_pbm, secret));
  EXPECT_FALSE(openssl_mac_ok(*under_pbm, "s3creT"));
  auto back = read_header(parse_message(*under_pbm)->get());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->protection, kPasswordBasedMac);
  EXPECT_EQ(back->pbm_iterations, std::optional<long>(1000));  // as costly as the client's
  EXPECT_EQ(back->transaction_id, before->transaction_id);
}

TEST(CmpCodec, Pbmac1ParametersNotReadAreLeftUnread) {
  const std::string secret = "s3cret";
  const Bytes ir = mac_protected_ir(secret);
  Pbmac1 p;
  p.iterations = 1000;
  p.key_length = 32;
  p.prf = EVP_sha256();
  p.mac = EVP_sha256();
  auto good = protect_pbmac1(ir, p, as_span(secret));
  ASSERT_TRUE(good);
  // hmacWithSHA256 (…2.9) in the PRF becomes hmacWithSHA1 (…2.7), then an unknown (…2.99).
  const Bytes sha256 = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09};
  for (std::uint8_t last : {std::uint8_t{0x07}, std::uint8_t{0x63}}) {
    Bytes changed = *good;
    auto at = std::search(changed.begin(), changed.end(), sha256.begin(), sha256.end());
    ASSERT_NE(at, changed.end());
    *(at + 7) = last;
    auto msg = parse_message(changed);
    ASSERT_TRUE(msg);
    auto h = read_header(msg->get());
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(h->protection, kPbmac1);
    EXPECT_FALSE(h->pbmac1) << int(last);
  }
  // The PRF's SEQUENCE claims more than there is (OpenSSL keeps the parameters as they came).
  const Bytes prf = {0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09};
  Bytes overlong = *good;
  auto at = std::search(overlong.begin(), overlong.end(), prf.begin(), prf.end());
  ASSERT_NE(at, overlong.end());
  *(at + 1) = 0x7f;
  auto msg = parse_message(overlong);
  ASSERT_TRUE(msg);
  auto h = read_header(msg->get());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->pbmac1);
}

TEST(CmpCodec, ReadsTheReasonAndSignerOfASignedRr) {
  Bytes sent;
  auto ctx = client(sent);
  // A certificate an authority issued (OpenSSL sends no self-signed one in extraCerts).
  testing::Pki pki;
  const Certificate& cert = pki.leaf;
  ASSERT_EQ(OSSL_CMP_CTX_set1_cert(ctx.get(), cert.get()), 1);
  ASSERT_EQ(OSSL_CMP_CTX_set1_pkey(ctx.get(), pki.leaf_key.get()), 1);
  ASSERT_EQ(OSSL_CMP_CTX_set1_oldCert(ctx.get(), cert.get()), 1);
  ASSERT_EQ(OSSL_CMP_CTX_set_option(ctx.get(), OSSL_CMP_OPT_REVOCATION_REASON, 1), 1);
  EXPECT_EQ(OSSL_CMP_exec_RR_ses(ctx.get()), 0);
  ERR_clear_error();
  ASSERT_FALSE(sent.empty());

  auto msg = parse_message(sent);
  ASSERT_TRUE(msg) << msg.error().message;
  EXPECT_EQ(body_type(msg->get()), Body::kRr);
  EXPECT_EQ(revocation_reason(msg->get()), std::optional<int>(1));  // keyCompromise
  auto h = read_header(msg->get());
  ASSERT_TRUE(h);
  EXPECT_NE(h->protection, kPasswordBasedMac);
  EXPECT_FALSE(h->protection.empty());
  EXPECT_FALSE(h->pbm_iterations.has_value());
  auto certs = extra_certs(msg->get());
  ASSERT_FALSE(certs.empty());
  EXPECT_EQ(certs.front().info().sha256_hex, cert.info().sha256_hex);
}

TEST(CmpCodec, CaCertificatesAnswerAndStatus) {
  testing::Pki pki;
  const std::vector<Certificate> certs{pki.intermediate, pki.root};
  crypto::Handle<OSSL_CMP_ITAV, OSSL_CMP_ITAV_free> itav(ca_certs_itav(certs));
  ASSERT_NE(itav, nullptr);
  EXPECT_EQ(OBJ_obj2nid(OSSL_CMP_ITAV_get0_type(itav.get())), NID_id_it_caCerts);
  const ASN1_TYPE* value = OSSL_CMP_ITAV_get0_value(itav.get());
  ASSERT_EQ(value->type, V_ASN1_SEQUENCE);
  const unsigned char* p = ASN1_STRING_get0_data(value->value.sequence);
  // SEQUENCE OF Certificate: the two certificates, in order.
  Bytes expected{0x30, 0x82};
  std::size_t n = pki.intermediate.der().size() + pki.root.der().size();
  expected.push_back(static_cast<std::uint8_t>(n >> 8));
  expected.push_back(static_cast<std::uint8_t>(n));
  expected.insert(expected.end(), pki.intermediate.der().begin(), pki.intermediate.der().end());
  expected.insert(expected.end(), pki.root.der().begin(), pki.root.der().end());
  EXPECT_EQ(Bytes(p, p + ASN1_STRING_length(value->value.sequence)), expected);

  // The certificate request template: no subject when none is known, RSA by its length.
  crypto::Handle<OSSL_CMP_ITAV, OSSL_CMP_ITAV_free> tmpl(
      cert_req_template_itav(std::nullopt, crypto::KeyType::kRsa3072));
  ASSERT_NE(tmpl, nullptr);
  EXPECT_TRUE(asks_cert_req_template(tmpl.get()));
  EXPECT_FALSE(asks_cert_req_template(itav.get()));
  const ASN1_STRING* t = OSSL_CMP_ITAV_get0_value(tmpl.get())->value.sequence;
  const Bytes content(ASN1_STRING_get0_data(t), ASN1_STRING_get0_data(t) + ASN1_STRING_length(t));
  // SEQUENCE { SEQUENCE {} (empty CertTemplate), SEQUENCE { SEQUENCE { id-regCtrl-rsaKeyLen,
  // INTEGER 3072 } } }
  const Bytes expected_rsa{0x30, 0x15, 0x30, 0x00, 0x30, 0x11, 0x30, 0x0f, 0x06, 0x09, 0x2b, 0x06,
                           0x01, 0x05, 0x05, 0x07, 0x05, 0x01, 0x0c, 0x02, 0x02, 0x0c, 0x00};
  EXPECT_EQ(content, expected_rsa);

  crypto::Handle<OSSL_CMP_PKISI, OSSL_CMP_PKISI_free> rejected(
      OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 0, nullptr));
  EXPECT_EQ(status_of(rejected.get()), std::optional<int>(2));
}

}  // namespace
}  // namespace certward::x509::cmp
