#include "x509/cmp.h"

#include <gtest/gtest.h>

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

TEST(CmpCodec, ReadsTheHeaderOfAnIrProtectedByASharedSecret) {
  Bytes sent;
  auto ctx = client(sent);
  const std::string ref = "ec-0123456789abcdef";
  const std::string secret = "s3cret";
  ASSERT_EQ(OSSL_CMP_CTX_set1_referenceValue(
                ctx.get(), reinterpret_cast<const unsigned char*>(ref.data()), int(ref.size())),
            1);
  ASSERT_EQ(
      OSSL_CMP_CTX_set1_secretValue(
          ctx.get(), reinterpret_cast<const unsigned char*>(secret.data()), int(secret.size())),
      1);
  auto key = test_key();
  EVP_PKEY_up_ref(key.get());
  ASSERT_EQ(OSSL_CMP_CTX_set0_newPkey(ctx.get(), 1, key.get()), 1);
  crypto::X509NamePtr subject(X509_NAME_new());
  X509_NAME_add_entry_by_txt(subject.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("dev-1.example.test"), -1, -1,
                             0);
  ASSERT_EQ(OSSL_CMP_CTX_set1_subjectName(ctx.get(), subject.get()), 1);
  EXPECT_EQ(OSSL_CMP_exec_certreq(ctx.get(), static_cast<int>(Body::kIr), nullptr), nullptr);
  ERR_clear_error();
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
