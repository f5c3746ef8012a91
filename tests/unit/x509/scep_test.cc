#include "x509/scep.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/file.h"
#include "unit/x509/test_certs.h"
#include "x509/bundle.h"
#include "x509/csr.h"

namespace certward::x509::scep {
namespace {

using testing::make_cert;
using testing::test_key;

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("CERTWARD_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/scep/" + name;
}

Bytes read_data(const std::string& name) {
  auto s = read_file(data_path(name));
  EXPECT_TRUE(s) << name;
  return s ? Bytes(s->begin(), s->end()) : Bytes{};
}

class ScepCodecTest : public ::testing::Test {
 protected:
  crypto::PrivateKey ra_key_ = test_key(crypto::KeyType::kRsa2048);
  Certificate ra_ =
      make_cert({.subject = "/CN=Enrollment RA"}, ra_key_.get(), nullptr, ra_key_.get());
  crypto::PrivateKey device_key_ = test_key(crypto::KeyType::kRsa2048);
  Certificate device_ = make_cert({.subject = "/CN=device-1", .serial = 7}, device_key_.get(),
                                  nullptr, device_key_.get());

  Request request(Bytes content) {
    Request r;
    r.transaction_id = "tx-1";
    r.sender_nonce = Bytes(16, 0x42);
    r.content = std::move(content);
    return r;
  }
};

TEST_F(ScepCodecTest, ARequestRoundTripsAndOpensOnlyForItsRecipient) {
  auto csr = make_csr_der(device_key_, "CN=device-1", {});
  ASSERT_TRUE(csr);
  auto r = request(*csr);
  r.cipher = Cipher::kAes128;
  r.digest = Digest::kSha512;
  auto der = make_pki_message(r, ra_, device_, device_key_);
  ASSERT_TRUE(der) << der.error().message;

  auto m = parse_pki_message(*der);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->type, MessageType::kPkcsReq);
  EXPECT_EQ(m->transaction_id, "tx-1");
  EXPECT_EQ(m->sender_nonce, Bytes(16, 0x42));
  EXPECT_EQ(m->digest, Digest::kSha512);
  EXPECT_EQ(m->signer.info().sha256_hex, device_.info().sha256_hex);

  const Decryptor ra{&ra_, &ra_key_};
  auto opened = open_envelope(m->envelope, std::span(&ra, 1));
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->content, *csr);
  EXPECT_EQ(opened->cipher, Cipher::kAes128);

  // Another certificate, even one with the same subject, is not a recipient.
  auto other_key = test_key(crypto::KeyType::kRsa2048);
  auto other = make_cert({.subject = "/CN=Enrollment RA", .serial = 2}, other_key.get(), nullptr,
                         other_key.get());
  const Decryptor wrong{&other, &other_key};
  auto refused = open_envelope(m->envelope, std::span(&wrong, 1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
}

TEST_F(ScepCodecTest, ATamperedMessageFailsItsSignature) {
  auto der = make_pki_message(request(Bytes(40, 1)), ra_, device_, device_key_);
  ASSERT_TRUE(der);
  // Flip a byte of the enveloped content, which the signature covers.
  Bytes bad = *der;
  bad[bad.size() / 2] ^= 0x01;
  auto m = parse_pki_message(bad);
  ASSERT_FALSE(m);
  EXPECT_TRUE(m.error().code == ErrorCode::kBadSignature || m.error().code == ErrorCode::kMalformed)
      << m.error().message;
}

TEST_F(ScepCodecTest, GarbageAndNonRequestsAreMalformed) {
  for (const Bytes& junk : {Bytes{}, Bytes{0x30, 0x03, 0x02, 0x01, 0x01}, Bytes(100, 0x30),
                            Bytes(kMaxMessage + 1, 0)}) {
    auto m = parse_pki_message(junk);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, ErrorCode::kMalformed);
  }
  // A CertRep is not a request.
  Reply reply;
  reply.status = PkiStatus::kPending;
  reply.transaction_id = "tx";
  reply.recipient_nonce = Bytes(16, 1);
  auto rep = make_cert_rep(reply, ra_, ra_key_);
  ASSERT_TRUE(rep) << rep.error().message;
  auto m = parse_pki_message(*rep);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ErrorCode::kMalformed);
}

TEST_F(ScepCodecTest, CertRepsCarryStatusNoncesAndTheEnvelopedCertificate) {
  auto p7 = make_pkcs7(std::span(&device_, 1));
  ASSERT_TRUE(p7);
  Reply ok;
  ok.transaction_id = "tx-9";
  ok.recipient_nonce = Bytes(16, 7);
  ok.content = *p7;
  ok.recipient = &device_;
  ok.cipher = Cipher::kDes3;
  auto der = make_cert_rep(ok, ra_, ra_key_);
  ASSERT_TRUE(der) << der.error().message;
  auto rep = read_cert_rep(*der, device_, device_key_);
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->status, PkiStatus::kSuccess);
  EXPECT_EQ(rep->transaction_id, "tx-9");
  EXPECT_EQ(rep->recipient_nonce, Bytes(16, 7));
  EXPECT_EQ(rep->signer.info().sha256_hex, ra_.info().sha256_hex);
  auto certs = parse_pkcs7(rep->content);
  ASSERT_TRUE(certs && certs->size() == 1);

  Reply no;
  no.status = PkiStatus::kFailure;
  no.fail_info = FailInfo::kBadMessageCheck;
  no.transaction_id = "tx-9";
  auto failed = make_cert_rep(no, ra_, ra_key_);
  ASSERT_TRUE(failed);
  auto read = read_cert_rep(*failed, device_, device_key_);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->status, PkiStatus::kFailure);
  EXPECT_EQ(read->fail_info, std::optional(FailInfo::kBadMessageCheck));

  // The signature algorithm is rsaEncryption and the eContent is present even when empty:
  // strongSwan and OpenSSL-based clients refuse anything else.
  const std::string text(failed->begin(), failed->end());
  const std::string rsa_encryption = "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01";
  EXPECT_NE(text.find(rsa_encryption), std::string::npos);
  const std::string empty_econtent = "\xa0\x02\x04\x00";
  EXPECT_NE(text.find(empty_econtent), std::string::npos);
}

TEST_F(ScepCodecTest, ReadsWhatCertmongerAndStrongSwanSend) {
  auto ca = parse_certificates(read_data("test-ca.pem"));
  ASSERT_TRUE(ca && ca->size() == 1);
  auto key = crypto::parse_private_key(read_data("test-ca.key"));
  ASSERT_TRUE(key);
  const Decryptor d{&ca->front(), &*key};

  struct Case {
    const char* file;
    Cipher cipher;
    const char* subject;
  };
  for (const Case& c : {Case{"certmonger-pkcsreq-initial.der", Cipher::kAes256, "CN=d2"},
                        Case{"certmonger-pkcsreq-des3.der", Cipher::kDes3, "CN=d2"},
                        Case{"strongswan-pkcsreq-aes128.der", Cipher::kAes128, "CN=s2"}}) {
    SCOPED_TRACE(c.file);
    auto m = parse_pki_message(read_data(c.file));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->type, MessageType::kPkcsReq);
    EXPECT_EQ(m->digest, Digest::kSha256);
    auto opened = open_envelope(m->envelope, std::span(&d, 1));
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->cipher, c.cipher);
    auto csr = parse_csr(opened->content);
    ASSERT_TRUE(csr) << csr.error().message;
    EXPECT_EQ(csr->info().subject, c.subject);
    EXPECT_TRUE(csr->info().challenge_password.has_value());
  }

  auto poll = parse_pki_message(read_data("strongswan-certpoll.der"));
  ASSERT_TRUE(poll) << poll.error().message;
  EXPECT_EQ(poll->type, MessageType::kCertPoll);
  auto opened = open_envelope(poll->envelope, std::span(&d, 1));
  ASSERT_TRUE(opened);
  auto ias = parse_issuer_and_subject(opened->content);
  ASSERT_TRUE(ias) << ias.error().message;
  EXPECT_TRUE(same_name(ias->issuer, subject_der(ca->front())));
}

TEST_F(ScepCodecTest, IssuerAndSerialNamesACertificate) {
  // IssuerAndSerialNumber of device_: its issuer Name and serial 7.
  Bytes issuer = subject_der(device_);
  Bytes der{0x30, static_cast<std::uint8_t>(issuer.size() + 3)};
  der.insert(der.end(), issuer.begin(), issuer.end());
  der.insert(der.end(), {0x02, 0x01, 0x07});
  auto ias = parse_issuer_and_serial(der);
  ASSERT_TRUE(ias) << ias.error().message;
  EXPECT_EQ(ias->serial_hex, "07");
  EXPECT_TRUE(same_name(ias->issuer, issuer));
  der.push_back(0);
  EXPECT_FALSE(parse_issuer_and_serial(der));
  EXPECT_FALSE(parse_issuer_and_subject(Bytes{0x30, 0x00}));
}

}  // namespace
}  // namespace certward::x509::scep
