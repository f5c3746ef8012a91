// Certificates found in the wild are recorded even when they are odd: from_der_lenient accepts
// what from_der refuses, says why in oddities, and agrees with the strict parse (and with the
// bytes) on identity, serial and validity. Bytes that are not a certificate stay refused.
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/x509/test_certs.h"
#include "x509/certificate.h"

namespace certward::x509 {
namespace {

using testing::CertSpec;
using testing::der_of;
using testing::kT0;
using testing::kT1;

std::vector<std::string> codes(const CertificateInfo& info) {
  std::vector<std::string> out;
  for (const auto& o : info.oddities) out.push_back(o.code);
  std::ranges::sort(out);
  return out;
}

class Lenient : public ::testing::Test {
 protected:
  Bytes make(std::vector<std::pair<int, std::string>> exts,
             std::vector<std::pair<std::string, Bytes>> raw = {}) {
    return der_of(testing::make_x509({.subject = "/CN=odd.example",
                                      .serial = 0x1234,
                                      .extensions = std::move(exts),
                                      .raw_extensions = std::move(raw)},
                                     key_.get(), nullptr, key_.get())
                      .get());
  }

  // The strict parse refuses it; the lenient one keeps it, with exactly `expected` oddities.
  void expect_odd(const Bytes& der, std::vector<std::string> expected) {
    auto strict = Certificate::from_der(der);
    ASSERT_FALSE(strict);
    EXPECT_EQ(strict.error().code, ErrorCode::kMalformed);
    auto cert = Certificate::from_der_lenient(der);
    ASSERT_TRUE(cert) << cert.error().message;
    std::ranges::sort(expected);
    EXPECT_EQ(codes(cert->info()), expected);
    EXPECT_EQ(cert->info().sha256_hex, to_hex(crypto::sha256(der)));
    EXPECT_EQ(cert->der(), der);
    EXPECT_EQ(cert->info().serial_hex, "1234");
    EXPECT_EQ(cert->info().not_before, testing::sys_time(kT0));
    EXPECT_EQ(cert->info().not_after, testing::sys_time(kT1));
    EXPECT_EQ(cert->info().subject_cn, "odd.example");
  }

  crypto::PrivateKey key_ = testing::test_key();
};

TEST_F(Lenient, RegularCertificatesHaveNoOddities) {
  const Bytes der = make(testing::leaf_extensions("DNS:odd.example"));
  auto strict = Certificate::from_der(der);
  auto lenient = Certificate::from_der_lenient(der);
  ASSERT_TRUE(strict && lenient);
  EXPECT_TRUE(lenient->info().oddities.empty());
  EXPECT_EQ(lenient->info().sans, strict->info().sans);
  EXPECT_EQ(lenient->info().key_usage, strict->info().key_usage);
}

TEST_F(Lenient, DuplicatedExtension) {
  expect_odd(
      make({{NID_subject_alt_name, "DNS:a.example"}, {NID_subject_alt_name, "DNS:b.example"}}),
      {"duplicate_extension"});
}

TEST_F(Lenient, UnparseablePolicies) {
  // certificatePolicies whose value is an INTEGER, not a SEQUENCE OF PolicyInformation.
  expect_odd(make(testing::leaf_extensions("DNS:odd.example"), {{"2.5.29.32", {0x02, 0x01, 0x05}}}),
             {"malformed_extension"});
  auto cert = Certificate::from_der_lenient(
      make(testing::leaf_extensions("DNS:odd.example"), {{"2.5.29.32", {0x02, 0x01, 0x05}}}));
  ASSERT_TRUE(cert);
  // What could be read still is.
  EXPECT_EQ(cert->info().sans.size(), 1u);
  EXPECT_TRUE(cert->info().policies.empty());
}

TEST_F(Lenient, UnknownCriticalExtension) {
  Bytes der = make(testing::leaf_extensions("DNS:odd.example"));
  // Critical and unknown: strict parsing itself accepts it (it is carried opaquely), the lenient
  // parse says so.
  crypto::X509Ptr x = testing::make_x509({.subject = "/CN=odd.example", .serial = 0x1234},
                                         key_.get(), nullptr, key_.get());
  crypto::Handle<ASN1_OBJECT, ASN1_OBJECT_free> obj(OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1));
  crypto::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
  const std::uint8_t null_der[] = {0x05, 0x00};
  ASN1_OCTET_STRING_set(os.get(), null_der, 2);
  crypto::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 1, os.get()));
  X509_add_ext(x.get(), ext.get(), -1);
  X509_sign(x.get(), key_.get(), EVP_sha256());
  auto cert = Certificate::from_der_lenient(der_of(x.get()));
  ASSERT_TRUE(cert);
  EXPECT_EQ(codes(cert->info()), std::vector<std::string>{"unknown_critical_extension"});
}

TEST_F(Lenient, UnusualSanTypeIsNotedNotRefused) {
  const Bytes der =
      make({{NID_subject_alt_name, "DNS:odd.example,otherName:1.2.3.4;UTF8:hello,RID:1.2.3"}});
  ASSERT_TRUE(Certificate::from_der(der));
  auto cert = Certificate::from_der_lenient(der);
  ASSERT_TRUE(cert);
  EXPECT_EQ(codes(cert->info()), (std::vector<std::string>{"unusual_san", "unusual_san"}));
}

TEST_F(Lenient, TrailingBytesAreRefusedAsByTheStrictParse) {
  // Its fingerprint would be of neither the certificate nor anything a tool would show.
  Bytes der = make(testing::leaf_extensions("DNS:odd.example"));
  der.push_back(0x00);
  auto cert = Certificate::from_der_lenient(der);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, ErrorCode::kMalformed);
}

TEST_F(Lenient, NotACertificateIsRefused) {
  const Bytes der = make(testing::leaf_extensions("DNS:odd.example"));
  for (const Bytes& bad : {Bytes{}, Bytes{0x30, 0x03, 0x02, 0x01, 0x01},
                           Bytes(der.begin(), der.begin() + static_cast<long>(der.size() / 2))}) {
    auto cert = Certificate::from_der_lenient(bad);
    ASSERT_FALSE(cert);
    EXPECT_EQ(cert.error().code, ErrorCode::kMalformed);
  }
}

}  // namespace
}  // namespace certward::x509
