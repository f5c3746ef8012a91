#include "x509/crl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "unit/x509/revocation_fixture.h"

namespace certward::x509 {
namespace {

using revocation_testing::Ca;
using revocation_testing::kT0;
using revocation_testing::openssl_crl;
using revocation_testing::serial_hex_of;
using revocation_testing::unix_of;
using std::chrono::days;
using std::chrono::hours;

CrlTemplate full_template(const Ca& ca) {
  CrlTemplate t;
  t.issuer = ca.cert;
  t.number = crl_number_bytes(7);
  t.this_update = kT0;
  t.next_update = kT0 + days(7);
  return t;
}

Bytes serial_of(std::string_view hex) { return *from_hex(hex); }

ErrorCode build_error(const CrlTemplate& t, const crypto::Signer& signer) {
  auto crl = build_crl(t, signer);
  EXPECT_FALSE(crl.has_value());
  return crl ? ErrorCode::kInternal : crl.error().code;
}

std::string extension_text(const X509_CRL* crl, int nid, bool* critical) {
  const int idx = X509_CRL_get_ext_by_NID(crl, nid, -1);
  if (idx < 0) return {};
  X509_EXTENSION* ext = X509_CRL_get_ext(crl, idx);
  *critical = X509_EXTENSION_get_critical(ext) == 1;
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  X509V3_EXT_print(bio.get(), ext, 0, 0);
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

TEST(CrlReasonNames, RoundTripAndRefuseUnknown) {
  for (int code = 0; code <= 10; ++code) {
    const auto reason = crl_reason_from_code(code);
    if (code == 7) {
      EXPECT_FALSE(reason.has_value());
      continue;
    }
    ASSERT_TRUE(reason.has_value()) << code;
    auto parsed = parse_crl_reason(crl_reason_name(*reason));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, *reason);
  }
  EXPECT_EQ(crl_reason_name(CrlReason::kKeyCompromise), "keyCompromise");
  EXPECT_EQ(crl_reason_name(CrlReason::kCaCompromise), "cACompromise");
  EXPECT_EQ(*parse_crl_reason("KEYCOMPROMISE"), CrlReason::kKeyCompromise);
  EXPECT_EQ(parse_crl_reason("stolen").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_crl_reason("").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(crl_reason_from_code(-1).has_value());
  EXPECT_FALSE(crl_reason_from_code(11).has_value());
}

TEST(CrlNumberBytes, MinimalBigEndian) {
  EXPECT_EQ(crl_number_bytes(0), Bytes{});
  EXPECT_EQ(crl_number_bytes(1), Bytes{0x01});
  EXPECT_EQ(crl_number_bytes(0x80), Bytes{0x80});
  EXPECT_EQ(crl_number_bytes(0x0102030405060708), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
}

// A full CRL as RFC 5280 draws it, read back by OpenSSL (the independent reader) and by
// parse_crl: issuer, times, number, AKI, freshestCRL, and per entry the serial, the time, the
// reason (none for unspecified) and the invalidity date.
TEST(BuildCrl, FullCrlReadsBackInOpenSslAndParseCrl) {
  const Ca ca;
  CrlTemplate t = full_template(ca);
  t.freshest_crl_urls = {"http://pki.example.test/crl/issuing-delta.crl"};
  t.entries = {
      {.serial = serial_of("5a5b5c5d5e5f60616263646566676869"),
       .revocation_time = kT0 - hours(1),
       .reason = CrlReason::kKeyCompromise,
       .invalidity_date = kT0 - days(2)},
      {.serial = serial_of("0102"),
       .revocation_time = kT0 - hours(2),
       .reason = {},
       .invalidity_date = {}},
      {.serial = serial_of("7fffffffffffffffffffffffffffffff"),
       .revocation_time = kT0 - hours(3),
       .reason = CrlReason::kUnspecified,
       .invalidity_date = {}},
      {.serial = serial_of("0080"),  // a leading zero octet is not part of the number
       .revocation_time = kT0 - hours(4),
       .reason = CrlReason::kSuperseded,
       .invalidity_date = {}},
  };
  auto der = build_crl(t, ca.signer);
  ASSERT_TRUE(der.has_value()) << der.error().message;

  // OpenSSL.
  const crypto::X509CrlPtr crl = openssl_crl(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_get_version(crl.get()), X509_CRL_VERSION_2);
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key->get()), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.cert.get())), 0);
  EXPECT_EQ(unix_of(X509_CRL_get0_lastUpdate(crl.get())), to_unix(kT0));
  EXPECT_EQ(unix_of(X509_CRL_get0_nextUpdate(crl.get())), to_unix(kT0 + days(7)));
  EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), NID_ecdsa_with_SHA256);
  crypto::Asn1IntegerPtr number(static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 7);
  crypto::Handle<AUTHORITY_KEYID, AUTHORITY_KEYID_free> aki(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  ASSERT_TRUE(aki && aki->keyid);
  EXPECT_EQ(to_hex(std::span<const std::uint8_t>(ASN1_STRING_get0_data(aki->keyid),
                                                 ASN1_STRING_length(aki->keyid))),
            ca.cert.info().subject_key_id);
  bool critical = true;
  EXPECT_NE(extension_text(crl.get(), NID_freshest_crl, &critical)
                .find("URI:http://pki.example.test/crl/issuing-delta.crl"),
            std::string::npos);
  EXPECT_FALSE(critical);
  EXPECT_LT(X509_CRL_get_ext_by_NID(crl.get(), NID_delta_crl, -1), 0);

  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  ASSERT_EQ(sk_X509_REVOKED_num(revoked), 4);
  // Ascending serial order, whatever order the template gave.
  const std::vector<std::string> serials = {"80", "0102", "5a5b5c5d5e5f60616263646566676869",
                                            "7fffffffffffffffffffffffffffffff"};
  const std::vector<int> reasons = {CRL_REASON_SUPERSEDED, -1, CRL_REASON_KEY_COMPROMISE, -1};
  const std::vector<SysTime> times = {kT0 - hours(4), kT0 - hours(2), kT0 - hours(1),
                                      kT0 - hours(3)};
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    EXPECT_EQ(serial_hex_of(X509_REVOKED_get0_serialNumber(r)), serials[i]);
    EXPECT_EQ(unix_of(X509_REVOKED_get0_revocationDate(r)), to_unix(times[i]));
    crypto::Handle<ASN1_ENUMERATED, ASN1_ENUMERATED_free> reason(static_cast<ASN1_ENUMERATED*>(
        X509_REVOKED_get_ext_d2i(r, NID_crl_reason, nullptr, nullptr)));
    if (reasons[i] < 0) {
      EXPECT_FALSE(reason);  // none given, or unspecified: RFC 5280 5.3.1 leaves it out
    } else {
      ASSERT_TRUE(reason);
      EXPECT_EQ(ASN1_ENUMERATED_get(reason.get()), reasons[i]);
    }
    crypto::Handle<ASN1_GENERALIZEDTIME, ASN1_GENERALIZEDTIME_free> invalidity(
        static_cast<ASN1_GENERALIZEDTIME*>(
            X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, nullptr, nullptr)));
    EXPECT_EQ(invalidity != nullptr, i == 2);
    if (invalidity) {
      EXPECT_EQ(unix_of(invalidity.get()), to_unix(kT0 - days(2)));
    }
  }

  // parse_crl.
  auto info = parse_crl(*der);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->version, 2);
  EXPECT_EQ(info->issuer, ca.cert.info().subject);
  EXPECT_EQ(info->authority_key_id, ca.cert.info().subject_key_id);
  EXPECT_EQ(info->signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(info->this_update, kT0);
  EXPECT_EQ(info->next_update, kT0 + days(7));
  EXPECT_EQ(info->number, Bytes{7});
  EXPECT_FALSE(info->is_delta());
  EXPECT_EQ(info->freshest_crl_urls, t.freshest_crl_urls);
  EXPECT_FALSE(info->issuing_distribution_point.has_value());
  ASSERT_EQ(info->extensions.size(), 3u);
  EXPECT_EQ(info->extensions[0].oid, "2.5.29.35");
  EXPECT_EQ(info->extensions[1].oid, "2.5.29.20");
  EXPECT_EQ(info->extensions[2].oid, "2.5.29.46");
  ASSERT_EQ(info->entries.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(info->entries[i].serial_hex, serials[i]);
    EXPECT_EQ(info->entries[i].revocation_time, times[i]);
  }
  EXPECT_EQ(info->entries[0].reason, CrlReason::kSuperseded);
  EXPECT_FALSE(info->entries[1].reason.has_value());
  EXPECT_EQ(info->entries[2].reason, CrlReason::kKeyCompromise);
  EXPECT_EQ(info->entries[2].invalidity_date, kT0 - days(2));
  EXPECT_FALSE(info->entries[3].reason.has_value());
  EXPECT_FALSE(info->entries[3].invalidity_date.has_value());

  EXPECT_TRUE(verify_crl_signature(*der, ca.cert).has_value());
}

// A delta CRL (RFC 5280 5.2.4): the critical deltaCRLIndicator naming its base, no
// freshestCRL, and removeFromCRL allowed; `openssl crl -text` shows both CRLs as the RFC says.
TEST(BuildCrl, DeltaCrlCarriesCriticalIndicatorAndOpenSslShowsBoth) {
  const Ca ca;
  CrlTemplate full = full_template(ca);
  full.freshest_crl_urls = {"http://pki.example.test/crl/ca-delta.crl"};
  full.entries = {{.serial = serial_of("11"), .revocation_time = kT0 - days(1)}};
  CrlTemplate delta = full_template(ca);
  delta.number = crl_number_bytes(8);
  delta.delta_base = crl_number_bytes(7);
  delta.entries = {
      {.serial = serial_of("22"), .revocation_time = kT0, .reason = CrlReason::kCaCompromise},
      {.serial = serial_of("33"), .revocation_time = kT0, .reason = CrlReason::kRemoveFromCrl},
  };
  auto full_der = build_crl(full, ca.signer);
  auto delta_der = build_crl(delta, ca.signer);
  ASSERT_TRUE(full_der && delta_der);

  const crypto::X509CrlPtr crl = openssl_crl(*delta_der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key->get()), 1);
  bool critical = false;
  extension_text(crl.get(), NID_delta_crl, &critical);
  EXPECT_TRUE(critical);
  crypto::Asn1IntegerPtr base(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_delta_crl, nullptr, nullptr)));
  ASSERT_TRUE(base);
  EXPECT_EQ(ASN1_INTEGER_get(base.get()), 7);
  EXPECT_LT(X509_CRL_get_ext_by_NID(crl.get(), NID_freshest_crl, -1), 0);

  auto info = parse_crl(*delta_der);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_TRUE(info->is_delta());
  EXPECT_EQ(info->delta_base, Bytes{7});
  EXPECT_EQ(info->number, Bytes{8});
  ASSERT_EQ(info->entries.size(), 2u);
  EXPECT_EQ(info->entries[1].reason, CrlReason::kRemoveFromCrl);
  EXPECT_TRUE(info->extensions[2].critical);

  testing::TempDir dir;
  dir.write("full.crl", *full_der);
  dir.write("delta.crl", *delta_der);
  dir.write("ca.pem", ca.cert.pem());
  const std::string full_text = dir.output("openssl crl -inform DER -in full.crl -noout -text");
  EXPECT_NE(full_text.find("X509v3 Freshest CRL"), std::string::npos) << full_text;
  EXPECT_NE(full_text.find("URI:http://pki.example.test/crl/ca-delta.crl"), std::string::npos);
  EXPECT_NE(full_text.find("X509v3 CRL Number"), std::string::npos);
  EXPECT_EQ(full_text.find("Delta CRL Indicator"), std::string::npos);
  const std::string delta_text = dir.output("openssl crl -inform DER -in delta.crl -noout -text");
  EXPECT_NE(delta_text.find("X509v3 Delta CRL Indicator: critical"), std::string::npos)
      << delta_text;
  EXPECT_NE(delta_text.find("CA Compromise"), std::string::npos);
  EXPECT_NE(delta_text.find("Remove From CRL"), std::string::npos);
  const std::string verified =
      dir.output("openssl crl -inform DER -in delta.crl -CAfile ca.pem -noout",
                 testing::TempDir::Stderr::kCapture);
  EXPECT_NE(verified.find("verify OK"), std::string::npos) << verified;
}

// What a relying party does: `openssl verify -crl_check` refuses the revoked leaf and accepts
// another one under the same CA and CRL.
TEST(BuildCrl, OpenSslVerifyCrlCheckRejectsTheRevokedLeafOnly) {
  const Ca ca;
  const crypto::PrivateKey k1 = certward::testing::make_key();
  const crypto::PrivateKey k2 = certward::testing::make_key();
  const Certificate revoked = ca.issue_leaf(k1, "revoked.example.test");
  const Certificate good = ca.issue_leaf(k2, "good.example.test");
  CrlTemplate t = full_template(ca);
  t.entries = {{.serial = *from_hex(revoked.info().serial_hex),
                .revocation_time = kT0 + hours(1),
                .reason = CrlReason::kKeyCompromise}};
  t.this_update = kT0 + hours(2);
  t.next_update = kT0 + days(8);
  auto der = build_crl(t, ca.signer);
  ASSERT_TRUE(der.has_value());

  testing::TempDir dir;
  dir.write("crl.der", *der);
  ASSERT_EQ(dir.run("openssl crl -inform DER -in crl.der -out crl.pem"), 0);
  dir.write("ca.pem", ca.cert.pem());
  dir.write("revoked.pem", revoked.pem());
  dir.write("good.pem", good.pem());
  const std::string at = " -attime " + std::to_string(to_unix(kT0 + days(1)));
  const std::string verify = "openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem" + at;
  EXPECT_EQ(dir.run(verify + " good.pem"), 0);
  const std::string out = dir.output(verify + " revoked.pem", testing::TempDir::Stderr::kCapture);
  EXPECT_NE(out.find("certificate revoked"), std::string::npos) << out;
  EXPECT_NE(dir.run(verify + " revoked.pem"), 0);
}

// Every signer key certward may hold signs CRLs OpenSSL verifies, under the algorithm OpenSSL
// itself would have chosen for that key.
TEST(BuildCrl, EverySignerKeyTypeVerifiesInOpenSsl) {
  const std::vector<std::pair<crypto::KeyType, int>> cases = {
      {crypto::KeyType::kEcP256, NID_ecdsa_with_SHA256},
      {crypto::KeyType::kEcP384, NID_ecdsa_with_SHA384},
      {crypto::KeyType::kRsa2048, NID_sha256WithRSAEncryption},
      {crypto::KeyType::kEd25519, NID_ED25519},
      {crypto::KeyType::kRsaPss2048, NID_rsassaPss},
  };
  for (const auto& [type, nid] : cases) {
    SCOPED_TRACE(crypto::key_type_name(type));
    const Ca ca(type);
    CrlTemplate t = full_template(ca);
    t.entries = {{.serial = random_serial(), .revocation_time = kT0}};
    auto der = build_crl(t, ca.signer);
    ASSERT_TRUE(der.has_value()) << der.error().message;
    const crypto::X509CrlPtr crl = openssl_crl(*der);
    ASSERT_TRUE(crl);
    EXPECT_EQ(X509_CRL_get_signature_nid(crl.get()), nid);
    EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key->get()), 1) << crypto::openssl_error_string();
    // What OpenSSL writes for the same key, to the byte.
    crypto::X509CrlPtr reference(X509_CRL_new());
    ASSERT_TRUE(ca.signer.sign_crl(reference.get()).has_value());
    const X509_ALGOR* ours = nullptr;
    const X509_ALGOR* theirs = nullptr;
    X509_CRL_get0_signature(crl.get(), nullptr, &ours);
    X509_CRL_get0_signature(reference.get(), nullptr, &theirs);
    EXPECT_EQ(X509_ALGOR_cmp(ours, theirs), 0);
    auto info = parse_crl(*der);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->signature_algorithm, OBJ_nid2ln(nid));
    EXPECT_TRUE(verify_crl_signature(*der, ca.cert).has_value());
  }
}

// RFC 5280 5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; invalidityDate is always
// GeneralizedTime (5.3.2).
TEST(BuildCrl, TimesSwitchToGeneralizedTimeIn2050) {
  const Ca ca;
  CrlTemplate t = full_template(ca);
  const SysTime last_utc = *parse_time("2049-12-31T23:59:59Z");
  const SysTime first_generalized = *parse_time("2050-01-01T00:00:00Z");
  t.this_update = last_utc;
  t.next_update = first_generalized;
  t.entries = {{.serial = serial_of("01"),
                .revocation_time = first_generalized,
                .invalidity_date = *parse_time("1999-01-01T00:00:00Z")}};
  auto der = build_crl(t, ca.signer);
  ASSERT_TRUE(der.has_value());
  const crypto::X509CrlPtr crl = openssl_crl(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl.get())), V_ASN1_UTCTIME);
  EXPECT_EQ(ASN1_STRING_type(X509_CRL_get0_nextUpdate(crl.get())), V_ASN1_GENERALIZEDTIME);
  EXPECT_EQ(unix_of(X509_CRL_get0_nextUpdate(crl.get())), to_unix(first_generalized));
  auto info = parse_crl(*der);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->this_update, last_utc);
  EXPECT_EQ(info->next_update, first_generalized);
  EXPECT_EQ(info->entries[0].revocation_time, first_generalized);
  EXPECT_EQ(info->entries[0].invalidity_date, *parse_time("1999-01-01T00:00:00Z"));
}

// RFC 5280 5.1.2.6 wants no list at all, but a present, empty one (as some encoders write
// it) means no entries too.
TEST(ParseCrl, ReadsAnEmptyRevokedCertificatesListAsNoEntries) {
  const Ca ca;
  crypto::X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
  crypto::Asn1TimePtr t(ASN1_TIME_set(nullptr, static_cast<time_t>(to_unix(kT0))));
  X509_CRL_set1_lastUpdate(crl.get(), t.get());
  X509_CRL_set1_nextUpdate(crl.get(), t.get());
  X509_REVOKED* r = X509_REVOKED_new();
  X509_CRL_add0_revoked(crl.get(), r);
  X509_REVOKED_free(sk_X509_REVOKED_pop(X509_CRL_get_REVOKED(crl.get())));
  ASSERT_GT(X509_CRL_sign(crl.get(), ca.key->get(), EVP_sha256()), 0);
  const int len = i2d_X509_CRL(crl.get(), nullptr);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_CRL(crl.get(), &p);
  // issuer name, two UTCTimes, then the empty SEQUENCE.
  const Bytes times_then_empty = {'Z', 0x30, 0x00};
  ASSERT_FALSE(std::ranges::search(der, times_then_empty).empty());
  auto info = parse_crl(der);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_TRUE(info->entries.empty());
  EXPECT_TRUE(verify_crl_signature(der, ca.cert).has_value());
}

TEST(BuildCrl, EmptyCrlHasNoRevokedCertificatesList) {
  const Ca ca;
  auto der = build_crl(full_template(ca), ca.signer);
  ASSERT_TRUE(der.has_value());
  const crypto::X509CrlPtr crl = openssl_crl(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key->get()), 1);
  EXPECT_LE(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 0);  // no list at all
  auto info = parse_crl(*der);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->entries.empty());
}

// The same set of entries, in any order, gives the same CRL (Ed25519 signs deterministically,
// so the whole DER can be compared), with entries ordered by numeric value: shorter serials
// first, and a leading 0x80 octet (a 0x00 pad in DER) sorting by the number, not the encoding.
TEST(BuildCrl, EntriesAreOrderedBySerialWhateverTheInputOrder) {
  const Ca ca(crypto::KeyType::kEd25519);
  std::vector<CrlEntry> entries;
  for (const char* hex :
       {"ff", "80000000000000000000000000000001", "0100", "7f", "80000000000000000000000000000000",
        "7fffffffffffffffffffffffffffffff", "0102030405060708090a0b0c0d0e0f1011121314", "02"}) {
    entries.push_back({.serial = serial_of(hex), .revocation_time = kT0});
  }
  CrlTemplate a = full_template(ca);
  a.entries = entries;
  CrlTemplate b = full_template(ca);
  b.entries.assign(entries.rbegin(), entries.rend());
  auto der_a = build_crl(a, ca.signer);
  auto der_b = build_crl(b, ca.signer);
  ASSERT_TRUE(der_a && der_b);
  EXPECT_EQ(*der_a, *der_b);
  auto info = parse_crl(*der_a);
  ASSERT_TRUE(info.has_value());
  std::vector<std::string> got;
  for (const auto& e : info->entries) got.push_back(e.serial_hex);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "02", "7f", "ff", "0100", "7fffffffffffffffffffffffffffffff",
                     "80000000000000000000000000000000", "80000000000000000000000000000001",
                     "0102030405060708090a0b0c0d0e0f1011121314"}));
}

// Twenty thousand entries: OpenSSL reads and verifies them all, and agrees with parse_crl.
TEST(BuildCrl, ManyEntriesVerifyInOpenSsl) {
  const Ca ca;
  CrlTemplate t = full_template(ca);
  for (int i = 0; i < 20000; ++i) {
    t.entries.push_back({.serial = random_serial(),
                         .revocation_time = kT0 - std::chrono::seconds(i),
                         .reason = crl_reason_from_code(i % 7)});
  }
  auto der = build_crl(t, ca.signer);
  ASSERT_TRUE(der.has_value());
  const crypto::X509CrlPtr crl = openssl_crl(*der);
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca.key->get()), 1);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 20000);
  auto info = parse_crl(*der);
  ASSERT_TRUE(info.has_value());
  ASSERT_EQ(info->entries.size(), 20000u);
  EXPECT_TRUE(std::ranges::is_sorted(info->entries, {}, &CrlEntryInfo::serial_hex));
  EXPECT_TRUE(verify_crl_signature(*der, ca.cert).has_value());
}

TEST(BuildCrl, RefusesBadTemplates) {
  const Ca ca;
  const Ca other;
  const auto with = [&ca](auto change) {
    CrlTemplate t = full_template(ca);
    t.entries = {{.serial = serial_of("01"), .revocation_time = kT0}};
    change(t);
    return t;
  };
  EXPECT_EQ(build_error(with([](CrlTemplate&) {}), other.signer), ErrorCode::kInvalidArgument);
  EXPECT_EQ(build_error(with([](CrlTemplate& t) { t.issuer = Certificate(); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(build_error(with([](CrlTemplate& t) { t.next_update = t.this_update; }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) {
                    t.entries.push_back({.serial = serial_of("0001"), .revocation_time = kT0});
                  }),
                  ca.signer),
      ErrorCode::kInvalidArgument);  // the same serial twice
  EXPECT_EQ(build_error(with([](CrlTemplate& t) {
                          t.entries[0].serial = {0, 0};
                        }),
                        ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) { t.entries[0].serial = Bytes(21, 0x11); }), ca.signer),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(build_error(with([](CrlTemplate& t) { t.number = Bytes(21, 0x01); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) { t.entries[0].reason = CrlReason::kRemoveFromCrl; }),
                  ca.signer),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) { t.entries[0].reason = static_cast<CrlReason>(7); }),
                  ca.signer),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) { t.delta_base = crl_number_bytes(7); }), ca.signer),
      ErrorCode::kInvalidArgument);  // base must be below the number
  EXPECT_EQ(build_error(with([](CrlTemplate& t) {
                          t.delta_base = crl_number_bytes(6);
                          t.freshest_crl_urls = {"http://x.test/d.crl"};
                        }),
                        ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(build_error(with([](CrlTemplate& t) { t.freshest_crl_urls = {"http://x.test/a b"}; }),
                        ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(build_error(with([](CrlTemplate& t) { t.freshest_crl_urls = {"http://ü.test/"}; }),
                        ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      build_error(with([](CrlTemplate& t) {
                    t.next_update = SysTime(
                        std::chrono::sys_days(std::chrono::year(10000) / 1 / 1).time_since_epoch());
                  }),
                  ca.signer),
      ErrorCode::kInvalidArgument);

  // A CA whose keyUsage does not allow CRL signing cannot sign a usable CRL.
  auto key = certward::testing::shared_key();
  CertificateTemplate ct = certward::testing::ca_template(key->get(), "CN=No CRL Sign");
  ct.key_usage = {"keyCertSign"};
  const Certificate no_crl_sign =
      certward::testing::issue(ct, nullptr, *key, certward::testing::ca_rules());
  CrlTemplate t = full_template(ca);
  t.issuer = no_crl_sign;
  EXPECT_EQ(build_error(t, crypto::SoftwareSigner(key)), ErrorCode::kPolicyRejected);
}

// The AKI of a CRL by a CA without a subjectKeyIdentifier is the SHA-1 of its key, as in the
// certificates x509::build_tbs issues under it, so relying parties pair them.
TEST(BuildCrl, IssuerWithoutSubjectKeyIdIsNamedByItsKeyHash) {
  auto key = certward::testing::shared_key(crypto::KeyType::kRsa2048);
  const Certificate legacy = certward::testing::legacy_ca(*key, "CN=Legacy CA");
  CrlTemplate t;
  t.issuer = legacy;
  t.number = crl_number_bytes(1);
  t.this_update = kT0;
  t.next_update = kT0 + days(1);
  auto der = build_crl(t, crypto::SoftwareSigner(key));
  ASSERT_TRUE(der.has_value()) << der.error().message;
  auto info = parse_crl(*der);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->authority_key_id, certward::testing::key_id_of(legacy));
  EXPECT_EQ(info->signature_algorithm, "sha256WithRSAEncryption");
}

// ---- parsing what others wrote, and what nobody should -------------------------------------

// A CRL made by OpenSSL's own encoder, with what certward does not write itself.
struct OpenSslCrlSpec {
  int version = X509_CRL_VERSION_2;
  bool critical_unknown_crl_ext = false;
  bool critical_unknown_entry_ext = false;
  bool certificate_issuer_entry = false;
  bool idp = false;
  bool explicit_unspecified = false;
};

Bytes openssl_made_crl(const Ca& ca, const OpenSslCrlSpec& spec) {
  crypto::X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), spec.version);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
  crypto::Asn1TimePtr t(ASN1_TIME_set(nullptr, static_cast<time_t>(to_unix(kT0))));
  X509_CRL_set1_lastUpdate(crl.get(), t.get());
  crypto::Asn1TimePtr n(ASN1_TIME_set(nullptr, static_cast<time_t>(to_unix(kT0 + days(1)))));
  X509_CRL_set1_nextUpdate(crl.get(), n.get());
  for (int i = 1; i <= 3; ++i) {
    X509_REVOKED* r = X509_REVOKED_new();
    crypto::Asn1IntegerPtr serial(ASN1_INTEGER_new());
    ASN1_INTEGER_set(serial.get(), 1000 * i);
    X509_REVOKED_set_serialNumber(r, serial.get());
    X509_REVOKED_set_revocationDate(r, t.get());
    if (spec.version == X509_CRL_VERSION_2) {
      crypto::Handle<ASN1_ENUMERATED, ASN1_ENUMERATED_free> reason(ASN1_ENUMERATED_new());
      ASN1_ENUMERATED_set(reason.get(), spec.explicit_unspecified ? 0 : i);
      X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason.get(), 0, 0);
      if (spec.critical_unknown_entry_ext && i == 2) {
        crypto::Asn1ObjectPtr obj(OBJ_txt2obj("1.3.6.1.4.1.55555.9", 1));
        crypto::Asn1OctetStringPtr v(ASN1_OCTET_STRING_new());
        ASN1_OCTET_STRING_set(v.get(), reinterpret_cast<const unsigned char*>("\x05\x00"), 2);
        crypto::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 1, v.get()));
        X509_REVOKED_add_ext(r, ext.get(), -1);
      }
      if (spec.certificate_issuer_entry && i == 3) {
        crypto::GeneralNamesPtr names(GENERAL_NAMES_new());
        GENERAL_NAME* gn = GENERAL_NAME_new();
        GENERAL_NAME_set0_value(gn, GEN_DIRNAME,
                                X509_NAME_dup(X509_get_subject_name(ca.cert.get())));
        sk_GENERAL_NAME_push(names.get(), gn);
        X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, names.get(), 1, 0);
      }
    }
    X509_CRL_add0_revoked(crl.get(), r);
  }
  if (spec.version == X509_CRL_VERSION_2) {
    crypto::Asn1IntegerPtr number(ASN1_INTEGER_new());
    ASN1_INTEGER_set(number.get(), 42);
    X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0);
    if (spec.critical_unknown_crl_ext) {
      crypto::Asn1ObjectPtr obj(OBJ_txt2obj("1.3.6.1.4.1.55555.8", 1));
      crypto::Asn1OctetStringPtr v(ASN1_OCTET_STRING_new());
      ASN1_OCTET_STRING_set(v.get(), reinterpret_cast<const unsigned char*>("\x05\x00"), 2);
      crypto::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 1, v.get()));
      X509_CRL_add_ext(crl.get(), ext.get(), -1);
    }
    if (spec.idp) {
      X509V3_CTX ctx;
      X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, crl.get(), 0);
      crypto::Handle<CONF, NCONF_free> conf(NCONF_new(nullptr));
      X509V3_set_nconf(&ctx, conf.get());
      crypto::X509ExtPtr ext(X509V3_EXT_nconf_nid(
          conf.get(), &ctx, NID_issuing_distribution_point,
          "critical,fullname:URI:http://crl.example.test/shard1.crl,onlyuser:TRUE"));
      EXPECT_TRUE(ext) << crypto::openssl_error_string();
      X509_CRL_add_ext(crl.get(), ext.get(), -1);
    }
  }
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), ca.key->get(), EVP_sha256()), 0);
  const int len = i2d_X509_CRL(crl.get(), nullptr);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_CRL(crl.get(), &p);
  return der;
}

TEST(ParseCrl, ReadsCrlsMadeByOpenSsl) {
  const Ca ca;
  const Bytes der = openssl_made_crl(ca, {});
  auto info = parse_crl(der);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->number, Bytes{42});
  EXPECT_TRUE(info->authority_key_id.empty());
  ASSERT_EQ(info->entries.size(), 3u);
  EXPECT_EQ(info->entries[0].serial_hex, "03e8");
  EXPECT_EQ(info->entries[0].reason, CrlReason::kKeyCompromise);
  EXPECT_EQ(info->entries[2].reason, CrlReason::kAffiliationChanged);
  EXPECT_TRUE(verify_crl_signature(der, ca.cert).has_value());

  auto v1 = parse_crl(openssl_made_crl(ca, {.version = X509_CRL_VERSION_1}));
  ASSERT_TRUE(v1.has_value()) << v1.error().message;
  EXPECT_EQ(v1->version, 1);
  EXPECT_FALSE(v1->number.has_value());
  EXPECT_EQ(v1->entries.size(), 3u);

  // An explicit "unspecified" reads as no reason, as certward writes it.
  auto unspecified = parse_crl(openssl_made_crl(ca, {.explicit_unspecified = true}));
  ASSERT_TRUE(unspecified.has_value());
  EXPECT_FALSE(unspecified->entries[0].reason.has_value());

  auto sharded = parse_crl(openssl_made_crl(ca, {.idp = true}));
  ASSERT_TRUE(sharded.has_value()) << sharded.error().message;
  ASSERT_TRUE(sharded->issuing_distribution_point.has_value());
  EXPECT_EQ(sharded->issuing_distribution_point->urls,
            (std::vector<std::string>{"http://crl.example.test/shard1.crl"}));
  EXPECT_TRUE(sharded->issuing_distribution_point->only_user_certs);
  EXPECT_FALSE(sharded->issuing_distribution_point->only_ca_certs);
}

// RFC 5280 5.2 and 5.3: a CRL with a critical extension the reader cannot process must not be
// used; neither can an indirect CRL's entries, which name another issuer.
TEST(ParseCrl, RefusesWhatItCannotProcess) {
  const Ca ca;
  EXPECT_EQ(parse_crl(openssl_made_crl(ca, {.critical_unknown_crl_ext = true})).error().code,
            ErrorCode::kPolicyRejected);
  EXPECT_EQ(parse_crl(openssl_made_crl(ca, {.critical_unknown_entry_ext = true})).error().code,
            ErrorCode::kPolicyRejected);
  EXPECT_EQ(parse_crl(openssl_made_crl(ca, {.certificate_issuer_entry = true})).error().code,
            ErrorCode::kPolicyRejected);
}

TEST(ParseCrl, RefusesMalformedDer) {
  const Ca ca;
  CrlTemplate t = full_template(ca);
  t.entries = {
      {.serial = serial_of("01"), .revocation_time = kT0, .reason = CrlReason::kSuperseded}};
  const Bytes der = *build_crl(t, ca.signer);
  ASSERT_TRUE(parse_crl(der).has_value());

  EXPECT_EQ(parse_crl({}).error().code, ErrorCode::kMalformed);
  for (std::size_t cut : {std::size_t{1}, std::size_t{2}, der.size() / 2, der.size() - 1}) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(parse_crl(std::span(der).first(cut)).error().code, ErrorCode::kMalformed);
    EXPECT_EQ(verify_crl_signature(std::span(der).first(cut), ca.cert).error().code,
              ErrorCode::kMalformed);
  }
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(parse_crl(trailing).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(verify_crl_signature(trailing, ca.cert).error().code, ErrorCode::kMalformed);

  // The same CRL with its outer length in a non-minimal long form (BER, not DER).
  ASSERT_EQ(der[1], 0x82);
  const std::size_t content = der.size() - 4;
  Bytes ber = {0x30,
               0x84,
               0,
               0,
               static_cast<std::uint8_t>(content >> 8),
               static_cast<std::uint8_t>(content)};
  ber.insert(ber.end(), der.begin() + 4, der.end());
  EXPECT_EQ(parse_crl(ber).error().code, ErrorCode::kMalformed);
  // Indefinite length.
  Bytes indefinite = {0x30, 0x80};
  indefinite.insert(indefinite.end(), der.begin() + 4, der.end());
  indefinite.insert(indefinite.end(), {0, 0});
  EXPECT_EQ(parse_crl(indefinite).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(parse_crl(ca.cert.der()).error().code, ErrorCode::kMalformed);
}

TEST(VerifyCrlSignature, RefusesAnotherIssuerAndATamperedCrl) {
  const Ca ca;
  const Ca impostor(crypto::KeyType::kEcP256, "CN=Revocation Test CA,O=Certward Test");
  const Ca other(crypto::KeyType::kEcP256, "CN=Other CA");
  CrlTemplate t = full_template(ca);
  t.entries = {{.serial = serial_of("0a0b"), .revocation_time = kT0}};
  const Bytes der = *build_crl(t, ca.signer);
  EXPECT_TRUE(verify_crl_signature(der, ca.cert).has_value());
  // Same name, other key; other name.
  EXPECT_EQ(verify_crl_signature(der, impostor.cert).error().code, ErrorCode::kBadSignature);
  EXPECT_EQ(verify_crl_signature(der, other.cert).error().code, ErrorCode::kBadSignature);
  // A CA of the same name with a key of another type (RSA against an ECDSA signature, and the
  // other way round).
  const Ca rsa(crypto::KeyType::kRsa2048, "CN=Revocation Test CA,O=Certward Test");
  EXPECT_EQ(verify_crl_signature(der, rsa.cert).error().code, ErrorCode::kBadSignature);
  CrlTemplate by_rsa = t;
  by_rsa.issuer = rsa.cert;
  const Bytes rsa_der = *build_crl(by_rsa, rsa.signer);
  EXPECT_TRUE(verify_crl_signature(rsa_der, rsa.cert).has_value());
  EXPECT_EQ(verify_crl_signature(rsa_der, ca.cert).error().code, ErrorCode::kBadSignature);
  // One bit of an entry's serial changed: still a well-formed CRL, no longer the signed one.
  Bytes tampered = der;
  const auto at = std::ranges::search(tampered, Bytes{0x02, 0x02, 0x0a, 0x0b});
  ASSERT_FALSE(at.empty());
  at[3] ^= 0x01;
  ASSERT_TRUE(parse_crl(tampered).has_value());
  EXPECT_EQ(verify_crl_signature(tampered, ca.cert).error().code, ErrorCode::kBadSignature);
}

}  // namespace
}  // namespace certward::x509
