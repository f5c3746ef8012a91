#include "x509/bundle.h"

#include <gtest/gtest.h>

#include "unit/x509/test_certs.h"

namespace certward::x509 {
namespace {

using testing::Pki;
using testing::TempDir;

std::vector<std::string> fingerprints(const std::vector<Certificate>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.info().sha256_hex);
  return out;
}

std::string key_pem(const crypto::PrivateKey& key) {
  auto pem = key.to_pkcs8_pem();
  return std::string(as_chars(pem->span()));
}

class BundleTest : public ::testing::Test {
 protected:
  Pki pki_;
  std::vector<std::string> expected_ = {pki_.leaf.info().sha256_hex,
                                        pki_.intermediate.info().sha256_hex,
                                        pki_.root.info().sha256_hex};
  std::string chain_pem() const { return pki_.intermediate.pem() + pki_.root.pem(); }
  std::string bundle_pem() const { return pki_.leaf.pem() + chain_pem(); }
};

template <typename T>
void expect_error(const Result<T>& r, ErrorCode code) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

TEST_F(BundleTest, ParsesPemBundleSkippingKeys) {
  const std::string text = "leading text\n" + pki_.leaf.pem() + key_pem(pki_.leaf_key) +
                           pki_.intermediate.pem() + "\n" + pki_.root.pem();
  EXPECT_EQ(detect_format(as_bytes(text)), ContainerFormat::kPem);
  auto certs = parse_certificates(as_bytes(text));
  ASSERT_TRUE(certs) << certs.error().message;
  EXPECT_EQ(fingerprints(*certs), expected_);
}

TEST_F(BundleTest, ParsesDerCertificate) {
  EXPECT_EQ(detect_format(pki_.leaf.der()), ContainerFormat::kDer);
  auto certs = parse_certificates(pki_.leaf.der());
  ASSERT_TRUE(certs);
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ(certs->front().der(), pki_.leaf.der());
}

TEST_F(BundleTest, ParsesTrustedCertificateBlocks) {
  TempDir dir;
  dir.write("root.pem", pki_.root.pem());
  ASSERT_EQ(dir.run("openssl x509 -in root.pem -trustout -addtrust serverAuth -out t.pem"), 0);
  const Bytes trusted = dir.read("t.pem");
  ASSERT_NE(as_chars(trusted).find("TRUSTED CERTIFICATE"), std::string_view::npos);
  auto certs = parse_certificates(trusted);
  ASSERT_TRUE(certs) << certs.error().message;
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ(certs->front().der(), pki_.root.der());
}

TEST_F(BundleTest, ParsesPkcs7FromOpenssl) {
  TempDir dir;
  dir.write("bundle.pem", bundle_pem());
  ASSERT_EQ(dir.run("openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform DER -out b.p7b"), 0);
  ASSERT_EQ(dir.run("openssl crl2pkcs7 -nocrl -certfile bundle.pem -out b.p7c"), 0);
  const Bytes der = dir.read("b.p7b");
  const Bytes pem = dir.read("b.p7c");
  EXPECT_EQ(detect_format(der), ContainerFormat::kPkcs7);
  EXPECT_EQ(detect_format(pem), ContainerFormat::kPem);
  for (const Bytes* data : {&der, &pem}) {
    auto via_any = parse_certificates(*data);
    ASSERT_TRUE(via_any) << via_any.error().message;
    EXPECT_EQ(fingerprints(*via_any), expected_);
    auto via_p7 = parse_pkcs7(*data);
    ASSERT_TRUE(via_p7) << via_p7.error().message;
    EXPECT_EQ(fingerprints(*via_p7), expected_);
    auto lenient = parse_pkcs7(*data, Parsing::kLenient);
    ASSERT_TRUE(lenient) << lenient.error().message;
    EXPECT_EQ(fingerprints(*lenient), expected_);
  }
}

// A DER TLV with the shortest length form; `long_form` writes the length on four octets, as
// some encoders do, which DER does not allow.
Bytes tlv(std::uint8_t tag, const Bytes& content, bool long_form = false) {
  Bytes out{tag};
  const std::size_t n = content.size();
  if (long_form) {
    out.insert(out.end(),
               {0x84, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
  } else if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n < 0x100) {
    out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
  } else {
    out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A certs-only SignedData holding `certs` as given.
Bytes signed_data(const Bytes& certs, const Bytes& trailer = tlv(0x31, {})) {
  const Bytes oid_signed = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
  const Bytes oid_data = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
  const Bytes body =
      concat({tlv(0x02, {0x01}), tlv(0x31, {}), tlv(0x30, oid_data), tlv(0xa0, certs), trailer});
  return tlv(0x30, concat({oid_signed, tlv(0xa0, tlv(0x30, body))}));
}

Bytes content_of(const Bytes& der) {
  // The leaf's outer SEQUENCE has a two-octet length: 30 82 hh ll.
  return Bytes(der.begin() + 4, der.end());
}

// Found in the wild, a certificate is kept in DER, whether it came alone or inside a PKCS#7
// (read by the walk), and even when its file had a BER length around the signed part: one
// certificate, one fingerprint, the one other tools show.
TEST_F(BundleTest, LenientParsingKeepsCertificatesInDer) {
  ASSERT_EQ(pki_.leaf.der()[1], 0x82);
  const Bytes odd_leaf = tlv(0x30, content_of(pki_.leaf.der()), /*long_form=*/true);
  auto alone = Certificate::from_der_lenient(odd_leaf);
  ASSERT_TRUE(alone) << alone.error().message;
  EXPECT_EQ(alone->info().sha256_hex, pki_.leaf.info().sha256_hex);
  EXPECT_EQ(alone->der(), pki_.leaf.der());
  // Strict parsing takes the bytes as given, as before.
  auto strict = Certificate::from_der(odd_leaf);
  ASSERT_TRUE(strict) << strict.error().message;
  EXPECT_EQ(strict->der(), odd_leaf);

  const Bytes p7 = signed_data(concat({odd_leaf, pki_.root.der()}));
  auto lenient = parse_pkcs7(p7, Parsing::kLenient);
  ASSERT_TRUE(lenient) << lenient.error().message;
  EXPECT_EQ(fingerprints(*lenient),
            (std::vector<std::string>{pki_.leaf.info().sha256_hex, pki_.root.info().sha256_hex}));
  auto via_any = parse_certificates(p7, Parsing::kLenient);
  ASSERT_TRUE(via_any) << via_any.error().message;
  EXPECT_EQ(fingerprints(*via_any), fingerprints(*lenient));

  // With the CRLs field present, OpenSSL's decoder reads it: the same answer.
  const Bytes with_crls = signed_data(pki_.root.der(), concat({tlv(0xa1, {}), tlv(0x31, {})}));
  auto crls = parse_pkcs7(with_crls, Parsing::kLenient);
  ASSERT_TRUE(crls) << crls.error().message;
  EXPECT_EQ(fingerprints(*crls), (std::vector<std::string>{pki_.root.info().sha256_hex}));
}

// What the walk does not know is left to OpenSSL's decoder, which decides as before: BER
// with indefinite lengths is read; a broken certificate, a truncated or padded structure and
// one without certificates are refused.
TEST_F(BundleTest, LenientPkcs7OutsideTheWalkDecidesAsBefore) {
  const Bytes der = signed_data(concat({pki_.leaf.der(), pki_.root.der()}));
  // The outer SEQUENCE again with an indefinite length and its end-of-contents octets.
  const std::size_t header = der[1] < 0x80 ? 2 : 2 + (der[1] & 0x7f);
  Bytes ber = {0x30, 0x80};
  ber.insert(ber.end(), der.begin() + static_cast<std::ptrdiff_t>(header), der.end());
  ber.insert(ber.end(), {0x00, 0x00});
  for (auto parsing : {Parsing::kStrict, Parsing::kLenient}) {
    auto read = parse_pkcs7(ber, parsing);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(fingerprints(*read),
              (std::vector<std::string>{pki_.leaf.info().sha256_hex, pki_.root.info().sha256_hex}));
  }

  Bytes broken_cert = pki_.leaf.der();
  broken_cert[10] ^= 0xff;
  Bytes truncated = der;
  truncated.pop_back();
  Bytes padded = der;
  padded.push_back(0x00);
  const Bytes not_a_cert = signed_data(tlv(0x02, {0x05}));
  const Bytes no_certs = signed_data({});
  const Bytes bad_crls =
      signed_data(pki_.root.der(), concat({tlv(0xa1, tlv(0x30, {})), tlv(0x31, {})}));
  const Bytes bad_signers = signed_data(pki_.root.der(), tlv(0x31, tlv(0x30, {})));
  for (const Bytes& bad :
       {signed_data(broken_cert), truncated, padded, not_a_cert, no_certs, bad_crls, bad_signers}) {
    expect_error(parse_pkcs7(bad, Parsing::kLenient), ErrorCode::kMalformed);
    expect_error(parse_pkcs7(bad, Parsing::kStrict), ErrorCode::kMalformed);
  }
}

TEST_F(BundleTest, MakesPkcs7LikeCrl2pkcs7) {
  const std::vector<Certificate> certs = {pki_.leaf, pki_.intermediate, pki_.root};
  auto p7 = make_pkcs7(certs);
  ASSERT_TRUE(p7) << p7.error().message;
  auto back = parse_pkcs7(*p7);
  ASSERT_TRUE(back);
  EXPECT_EQ(fingerprints(*back), expected_);
  // Read without decoding the keys, yet each certificate's key is whole when asked for: the
  // leaf verifies under the intermediate's.
  EXPECT_EQ((*back)[0].info().key.bits, pki_.leaf.info().key.bits);
  EXPECT_EQ(X509_verify((*back)[0].get(), X509_get0_pubkey((*back)[1].get())), 1);
  for (auto parsing : {Parsing::kStrict, Parsing::kLenient}) {
    auto again = parse_pkcs7(*p7, parsing);
    ASSERT_TRUE(again);
    EXPECT_EQ(fingerprints(*again), expected_);
  }

  TempDir dir;
  dir.write("ours.p7b", *p7);
  dir.write("bundle.pem", bundle_pem());
  ASSERT_EQ(dir.run("openssl crl2pkcs7 -nocrl -certfile bundle.pem -outform DER -out theirs.p7b"),
            0);
  EXPECT_EQ(*p7, dir.read("theirs.p7b"));
  const std::string printed = dir.output("openssl pkcs7 -inform DER -in ours.p7b -print_certs");
  EXPECT_NE(printed.find("leaf.example"), std::string::npos);
}

TEST_F(BundleTest, RejectsPkcs7WithoutCertificates) {
  auto empty = make_pkcs7({});
  ASSERT_TRUE(empty);
  expect_error(parse_pkcs7(*empty), ErrorCode::kMalformed);
  expect_error(parse_certificates(*empty), ErrorCode::kMalformed);
  expect_error(parse_pkcs7(pki_.leaf.der()), ErrorCode::kMalformed);
  expect_error(parse_pkcs7(*empty, Parsing::kLenient), ErrorCode::kMalformed);
  expect_error(parse_pkcs7(pki_.leaf.der(), Parsing::kLenient), ErrorCode::kMalformed);
}

TEST_F(BundleTest, ReadsPkcs12FromOpenssl) {
  TempDir dir;
  dir.write("leaf.pem", pki_.leaf.pem());
  dir.write("key.pem", key_pem(pki_.leaf_key));
  dir.write("chain.pem", chain_pem());
  ASSERT_EQ(dir.run("openssl pkcs12 -export -inkey key.pem -in leaf.pem -certfile chain.pem "
                    "-passout pass:s3cret -out a.p12"),
            0);
  const Bytes p12 = dir.read("a.p12");
  EXPECT_EQ(detect_format(p12), ContainerFormat::kPkcs12);
  expect_error(parse_certificates(p12), ErrorCode::kMalformed);

  auto contents = parse_pkcs12(p12, "s3cret");
  ASSERT_TRUE(contents) << contents.error().message;
  ASSERT_TRUE(contents->key.has_value());
  ASSERT_TRUE(contents->leaf.has_value());
  EXPECT_EQ(contents->leaf->der(), pki_.leaf.der());
  EXPECT_TRUE(crypto::same_public_key(contents->key->get(), pki_.leaf.public_key()));
  std::vector<std::string> chain = fingerprints(contents->chain);
  std::sort(chain.begin(), chain.end());
  std::vector<std::string> want = {expected_[1], expected_[2]};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(chain, want);

  expect_error(parse_pkcs12(p12, "wrong"), ErrorCode::kBadPassword);
  expect_error(parse_pkcs12(p12, ""), ErrorCode::kBadPassword);
}

TEST_F(BundleTest, ReadsPkcs12WithEmptyPassword) {
  TempDir dir;
  dir.write("leaf.pem", pki_.leaf.pem());
  dir.write("key.pem", key_pem(pki_.leaf_key));
  ASSERT_EQ(dir.run("openssl pkcs12 -export -inkey key.pem -in leaf.pem -passout pass: -out e.p12"),
            0);
  const Bytes p12 = dir.read("e.p12");
  auto contents = parse_pkcs12(p12, "");
  ASSERT_TRUE(contents) << contents.error().message;
  EXPECT_TRUE(contents->key.has_value());
  ASSERT_TRUE(contents->leaf.has_value());
  EXPECT_EQ(contents->leaf->der(), pki_.leaf.der());
  EXPECT_TRUE(contents->chain.empty());
  expect_error(parse_pkcs12(p12, "x"), ErrorCode::kBadPassword);
}

TEST_F(BundleTest, MakesPkcs12ReadableByOpenssl) {
  const std::vector<Certificate> chain = {pki_.intermediate, pki_.root};
  auto p12 = make_pkcs12(pki_.leaf_key, pki_.leaf, chain, "pw", "my-leaf");
  ASSERT_TRUE(p12) << p12.error().message;
  auto back = parse_pkcs12(*p12, "pw");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->leaf && back->key);
  EXPECT_EQ(back->leaf->der(), pki_.leaf.der());
  EXPECT_EQ(back->chain.size(), 2u);
  expect_error(parse_pkcs12(*p12, "nope"), ErrorCode::kBadPassword);

  TempDir dir;
  dir.write("ours.p12", *p12);
  const std::string info = dir.output("openssl pkcs12 -in ours.p12 -passin pass:pw -info -noout",
                                      TempDir::Stderr::kCapture);
  EXPECT_NE(info.find("MAC: sha256"), std::string::npos) << info;
  EXPECT_NE(info.find("AES-256-CBC"), std::string::npos) << info;
  EXPECT_EQ(info.find("RC2"), std::string::npos) << info;
  const std::string certs = dir.output("openssl pkcs12 -in ours.p12 -passin pass:pw -nokeys");
  EXPECT_NE(certs.find("friendlyName: my-leaf"), std::string::npos) << certs;
}

TEST_F(BundleTest, RejectsGarbagePem) {
  const std::string bad_base64 =
      "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n";
  const std::string not_a_cert =
      "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
  const std::string no_end = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n";
  const std::string only_key = key_pem(pki_.leaf_key);
  const std::string corrupt_middle = pki_.leaf.pem() + not_a_cert + pki_.root.pem();
  for (const std::string& text : {bad_base64, not_a_cert, no_end, only_key, corrupt_middle}) {
    expect_error(parse_certificates(as_bytes(text)), ErrorCode::kMalformed);
  }
}

TEST_F(BundleTest, RejectsUnknownContainers) {
  for (std::string_view text : {"", "hello", "\x02\x01\x03", "\x30\x03\x02\x01\x00"}) {
    expect_error(detect_format(as_bytes(text)), ErrorCode::kMalformed);
    expect_error(parse_certificates(as_bytes(text)), ErrorCode::kMalformed);
  }
  expect_error(parse_pkcs12(as_bytes("hello"), "x"), ErrorCode::kMalformed);
  expect_error(parse_pkcs12(pki_.leaf.der(), "x"), ErrorCode::kMalformed);
}

TEST(ContainerFormatName, NamesEveryFormat) {
  EXPECT_EQ(container_format_name(ContainerFormat::kPem), "pem");
  EXPECT_EQ(container_format_name(ContainerFormat::kDer), "der");
  EXPECT_EQ(container_format_name(ContainerFormat::kPkcs7), "pkcs7");
  EXPECT_EQ(container_format_name(ContainerFormat::kPkcs12), "pkcs12");
}

}  // namespace
}  // namespace certward::x509
