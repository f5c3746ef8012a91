#include "x509/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <chrono>

#include "unit/x509/revocation_fixture.h"

namespace certward::x509 {
namespace {

using revocation_testing::Ca;
using revocation_testing::kT0;
using revocation_testing::unix_of;
using std::chrono::days;
using std::chrono::hours;

using OcspRequestPtr = crypto::Handle<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = crypto::Handle<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = crypto::Handle<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = crypto::Handle<OCSP_CERTID, OCSP_CERTID_free>;

// A CertID as OpenSSL's client makes it: `serial` (hex) under `issuer`, hashed with `md`.
OcspCertIdPtr openssl_cert_id(const Certificate& issuer, std::string_view serial_hex,
                              const EVP_MD* md = EVP_sha1()) {
  crypto::BignumPtr bn;
  BIGNUM* raw = nullptr;
  CW_CHECK(BN_hex2bn(&raw, std::string(serial_hex).c_str()) > 0);
  bn.reset(raw);
  crypto::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  return OcspCertIdPtr(OCSP_cert_id_new(md, X509_get_subject_name(issuer.get()),
                                        X509_get0_pubkey_bitstr(issuer.get()), serial.get()));
}

Bytes der_of(const OCSP_REQUEST* req) {
  const int n = i2d_OCSP_REQUEST(req, nullptr);
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_OCSP_REQUEST(req, &p);
  return out;
}

// Adds a request extension with an arbitrary DER value.
void add_request_ext(OCSP_REQUEST* req, const char* oid, bool critical, const Bytes& value) {
  crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  crypto::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size()));
  crypto::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical, os.get()));
  CW_CHECK(OCSP_REQUEST_add_ext(req, ext.get(), -1) == 1);
}

constexpr const char* kNonceOid = "1.3.6.1.5.5.7.48.1.2";

// An OpenSSL request for `serials` under `issuer`, with a random nonce of `nonce_size` octets
// (0: none).
OcspRequestPtr openssl_request(const Certificate& issuer, const std::vector<std::string>& serials,
                               int nonce_size = 16, const EVP_MD* md = EVP_sha1()) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  for (const auto& s : serials) {
    CW_CHECK(OCSP_request_add0_id(req.get(), openssl_cert_id(issuer, s, md).release()) != nullptr);
  }
  if (nonce_size > 0) CW_CHECK(OCSP_request_add1_nonce(req.get(), nullptr, nonce_size) == 1);
  return req;
}

Bytes nonce_of(OCSP_REQUEST* req) {
  const int idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
  CW_CHECK(idx >= 0);
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, idx));
  const std::uint8_t* p = ASN1_STRING_get0_data(v);
  CW_CHECK(p[0] == 0x04);  // the inner OCTET STRING, short length
  return Bytes(p + 2, p + ASN1_STRING_length(v));
}

ErrorCode parse_error(std::span<const std::uint8_t> der, const OcspLimits& limits = {}) {
  auto req = parse_ocsp_request(der, limits);
  EXPECT_FALSE(req.has_value());
  return req ? ErrorCode::kInternal : req.error().code;
}

SysTime now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// ---- requests -----------------------------------------------------------------------------

TEST(ParseOcspRequest, ReadsRequestsOpenSslMakesWithEveryAcceptedHash) {
  const Ca ca;
  const std::vector<std::pair<const EVP_MD*, OcspHashAlgorithm>> hashes = {
      {EVP_sha1(), OcspHashAlgorithm::kSha1},
      {EVP_sha256(), OcspHashAlgorithm::kSha256},
      {EVP_sha384(), OcspHashAlgorithm::kSha384},
      {EVP_sha512(), OcspHashAlgorithm::kSha512},
  };
  for (const auto& [md, hash] : hashes) {
    SCOPED_TRACE(ocsp_hash_name(hash));
    const OcspRequestPtr req =
        openssl_request(ca.cert, {"5A5B5C5D5E5F60616263646566676869", "01", "80"}, 16, md);
    auto parsed = parse_ocsp_request(der_of(req.get()));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    ASSERT_EQ(parsed->cert_ids.size(), 3u);
    const OcspIssuerHashes issuer = ocsp_issuer_hashes(ca.cert, hash);
    for (const OcspCertId& id : parsed->cert_ids) {
      EXPECT_EQ(id.hash, hash);
      EXPECT_TRUE(id.hash_parameters_null);
      EXPECT_TRUE(issuer.matches(id));
    }
    EXPECT_EQ(parsed->cert_ids[0].serial_hex(), "5a5b5c5d5e5f60616263646566676869");
    EXPECT_EQ(parsed->cert_ids[1].serial_hex(), "01");
    EXPECT_EQ(parsed->cert_ids[2].serial, Bytes{0x80});
    EXPECT_EQ(parsed->cert_ids[0],
              ocsp_cert_id(issuer, *from_hex(parsed->cert_ids[0].serial_hex())));
    ASSERT_TRUE(parsed->nonce.has_value());
    EXPECT_EQ(*parsed->nonce, nonce_of(req.get()));
    EXPECT_FALSE(parsed->signed_request);
  }
  // Another issuer's hashes do not match.
  const Ca other(crypto::KeyType::kEcP256, "CN=Other CA");
  auto parsed = parse_ocsp_request(der_of(openssl_request(ca.cert, {"01"}).get()));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(
      ocsp_issuer_hashes(other.cert, OcspHashAlgorithm::kSha1).matches(parsed->cert_ids[0]));
  EXPECT_FALSE(
      ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha256).matches(parsed->cert_ids[0]));
}

// ocsp_issuer_hashes computes what OpenSSL's client puts in a CertID for a real certificate.
TEST(OcspIssuerHashes, AgreeWithOpenSslCertToId) {
  const Ca ca(crypto::KeyType::kRsa2048);
  const crypto::PrivateKey leaf_key = certward::testing::make_key();
  const Certificate leaf = ca.issue_leaf(leaf_key, "leaf.example.test");
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha256(), leaf.get(), ca.cert.get()));
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  ASSERT_EQ(OCSP_id_get0_info(&name_hash, nullptr, &key_hash, &serial, id.get()), 1);
  const OcspIssuerHashes h = ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha256);
  EXPECT_EQ(to_hex(h.name_hash),
            to_hex(std::span<const std::uint8_t>(ASN1_STRING_get0_data(name_hash),
                                                 ASN1_STRING_length(name_hash))));
  EXPECT_EQ(to_hex(h.key_hash),
            to_hex(std::span<const std::uint8_t>(ASN1_STRING_get0_data(key_hash),
                                                 ASN1_STRING_length(key_hash))));
  EXPECT_EQ(revocation_testing::serial_hex_of(serial), leaf.info().serial_hex);
}

// What `openssl ocsp` itself sends, with and without a nonce, SHA-1 and SHA-256.
TEST(ParseOcspRequest, ReadsRequestsOfTheOpenSslCommand) {
  const Ca ca;
  const crypto::PrivateKey leaf_key = certward::testing::make_key();
  const Certificate leaf = ca.issue_leaf(leaf_key, "leaf.example.test");
  testing::TempDir dir;
  dir.write("ca.pem", ca.cert.pem());
  dir.write("leaf.pem", leaf.pem());
  ASSERT_EQ(dir.run("openssl ocsp -issuer ca.pem -cert leaf.pem -serial 0x1234 -reqout a.der"), 0);
  ASSERT_EQ(dir.run("openssl ocsp -sha256 -issuer ca.pem -cert leaf.pem -no_nonce -reqout b.der"),
            0);
  auto a = parse_ocsp_request(dir.read("a.der"));
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_EQ(a->cert_ids.size(), 2u);
  EXPECT_EQ(a->cert_ids[0].serial_hex(), leaf.info().serial_hex);
  EXPECT_EQ(a->cert_ids[1].serial_hex(), "1234");
  EXPECT_TRUE(ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha1).matches(a->cert_ids[0]));
  ASSERT_TRUE(a->nonce.has_value());
  EXPECT_EQ(a->nonce->size(), 16u);
  auto b = parse_ocsp_request(dir.read("b.der"));
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_TRUE(ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha256).matches(b->cert_ids[0]));
  EXPECT_FALSE(b->nonce.has_value());
}

// A thousand serials in one request are refused, and cheaply: the CertID after the limit is
// never read, which the garbage placed there proves.
TEST(ParseOcspRequest, RefusesMoreCertIdsThanTheLimitWithoutReadingThem) {
  const Ca ca;
  std::vector<std::string> serials;
  for (int i = 1; i <= 1000; ++i) serials.push_back(std::to_string(1000 + i));
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, serials).get())),
            ErrorCode::kInvalidArgument);

  serials.resize(50);
  EXPECT_TRUE(parse_ocsp_request(der_of(openssl_request(ca.cert, serials).get())).has_value());
  serials.push_back("99");
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, serials).get())),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(parse_ocsp_request(der_of(openssl_request(ca.cert, serials).get()),
                                 {.max_requests = 51, .max_nonce_size = 32})
                  .has_value());

  // One CertID and then a Request that is not one: within a limit of 1 the garbage is never
  // parsed (kInvalidArgument for the count), with a limit of 2 it is (kMalformed).
  Bytes der = der_of(openssl_request(ca.cert, {"01"}, 0).get());
  // OCSPRequest { TBSRequest { requestList SEQUENCE {...} } }: append "30 01 ff" to the list and
  // fix the three lengths (all short here).
  ASSERT_LT(der.size(), 120u);
  ASSERT_EQ(der[0], 0x30);
  ASSERT_EQ(der[2], 0x30);
  ASSERT_EQ(der[4], 0x30);
  der.insert(der.end(), {0x30, 0x01, 0xff});
  der[1] += 3;
  der[3] += 3;
  der[5] += 3;
  EXPECT_EQ(parse_error(der, {.max_requests = 1, .max_nonce_size = 32}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_error(der, {.max_requests = 2, .max_nonce_size = 32}), ErrorCode::kMalformed);
}

// RFC 8954: a nonce of 1 to 32 octets; empty or longer is refused, and so is one that is not
// an OCTET STRING.
TEST(ParseOcspRequest, NonceLimits) {
  const Ca ca;
  for (int size : {1, 16, 32}) {
    SCOPED_TRACE(size);
    const OcspRequestPtr req = openssl_request(ca.cert, {"01"}, size);
    auto parsed = parse_ocsp_request(der_of(req.get()));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->nonce, nonce_of(req.get()));
  }
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, {"01"}, 33).get())),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, {"01"}, 129).get())),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(parse_ocsp_request(der_of(openssl_request(ca.cert, {"01"}, 64).get()),
                                 {.max_requests = 50, .max_nonce_size = 128})
                  .has_value());

  OcspRequestPtr empty = openssl_request(ca.cert, {"01"}, 0);
  add_request_ext(empty.get(), kNonceOid, false, {0x04, 0x00});
  EXPECT_EQ(parse_error(der_of(empty.get())), ErrorCode::kInvalidArgument);

  OcspRequestPtr raw = openssl_request(ca.cert, {"01"}, 0);
  add_request_ext(raw.get(), kNonceOid, false, {0xde, 0xad, 0xbe, 0xef});
  EXPECT_EQ(parse_error(der_of(raw.get())), ErrorCode::kMalformed);

  OcspRequestPtr twice = openssl_request(ca.cert, {"01"}, 8);
  add_request_ext(twice.get(), kNonceOid, false, {0x04, 0x01, 0x01});
  EXPECT_EQ(parse_error(der_of(twice.get())), ErrorCode::kMalformed);
}

TEST(ParseOcspRequest, RefusesTruncatedAndTrailingBytes) {
  const Ca ca;
  const Bytes der = der_of(openssl_request(ca.cert, {"0102030405060708090a0b0c0d0e0f10"}).get());
  ASSERT_TRUE(parse_ocsp_request(der).has_value());
  for (std::size_t cut = 0; cut < der.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(parse_error(Bytes(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(cut))),
              ErrorCode::kMalformed);
  }
  Bytes trailing = der;
  trailing.push_back(0x00);
  EXPECT_EQ(parse_error(trailing), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(as_bytes(std::string_view("MEIwQDA+MDwwOjAJBgUrDgMCGgUABBQ="))),
            ErrorCode::kMalformed);  // base64 where DER belongs
}

// A CertID hashed with an algorithm certward does not take is a well-formed request it cannot
// answer for (kPolicyRejected: unauthorized); a hash of the wrong length for its algorithm is
// malformed.
TEST(ParseOcspRequest, WrongHashAlgorithm) {
  const Ca ca;
  const Bytes md5 = der_of(openssl_request(ca.cert, {"01"}, 16, EVP_md5()).get());
  EXPECT_EQ(parse_error(md5), ErrorCode::kPolicyRejected);
  EXPECT_EQ(ocsp_status_for(ErrorCode::kPolicyRejected), OcspResponseStatus::kUnauthorized);
  // Malformed wins over unsupported: the same request cut short.
  EXPECT_EQ(parse_error(Bytes(md5.begin(), md5.end() - 1)), ErrorCode::kMalformed);

  // SHA-1's OID over SHA-256-sized hashes.
  OcspRequestPtr req(OCSP_REQUEST_new());
  OcspCertIdPtr id = openssl_cert_id(ca.cert, "01", EVP_sha256());
  // OCSP_CERTID is opaque; rebuild it with SHA-1's algorithm and SHA-256 hashes.
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  ASSERT_EQ(OCSP_id_get0_info(&name_hash, nullptr, &key_hash, &serial, id.get()), 1);
  Bytes forged = {0x30, 0x00};  // CertID content follows
  const auto append = [&forged](std::initializer_list<std::uint8_t> b) {
    forged.insert(forged.end(), b);
  };
  append({0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00});
  for (const ASN1_OCTET_STRING* h : {name_hash, key_hash}) {
    append({0x04, 0x20});
    forged.insert(forged.end(), ASN1_STRING_get0_data(h), ASN1_STRING_get0_data(h) + 32);
  }
  append({0x02, 0x01, 0x01});
  forged[1] = static_cast<std::uint8_t>(forged.size() - 2);
  // OCSPRequest { TBSRequest { SEQUENCE OF Request { Request { CertID } } } }
  Bytes wrapped = forged;
  for (int i = 0; i < 4; ++i) {
    Bytes outer = {0x30, static_cast<std::uint8_t>(wrapped.size())};
    outer.insert(outer.end(), wrapped.begin(), wrapped.end());
    wrapped = outer;
  }
  EXPECT_EQ(parse_error(wrapped), ErrorCode::kMalformed);
}

TEST(ParseOcspRequest, SignaturesExtensionsAndSerials) {
  const Ca ca;
  // A signed request is read; its signature is not required, so not checked.
  OcspRequestPtr signed_req = openssl_request(ca.cert, {"01"});
  crypto::PrivateKey requestor = certward::testing::make_key();
  const Certificate requestor_cert = ca.issue_leaf(requestor, "client.example.test");
  ASSERT_EQ(OCSP_request_sign(signed_req.get(), requestor_cert.get(), requestor.get(), EVP_sha256(),
                              nullptr, 0),
            1);
  auto parsed = parse_ocsp_request(der_of(signed_req.get()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->signed_request);
  EXPECT_EQ(parsed->cert_ids.size(), 1u);

  // Unknown extensions: ignored when not critical, refused when critical.
  OcspRequestPtr noncritical = openssl_request(ca.cert, {"01"});
  add_request_ext(noncritical.get(), "1.3.6.1.4.1.55555.1", false, {0x05, 0x00});
  EXPECT_TRUE(parse_ocsp_request(der_of(noncritical.get())).has_value());
  OcspRequestPtr critical = openssl_request(ca.cert, {"01"});
  add_request_ext(critical.get(), "1.3.6.1.4.1.55555.1", true, {0x05, 0x00});
  EXPECT_EQ(parse_error(der_of(critical.get())), ErrorCode::kInvalidArgument);

  // Serials: over 20 octets is refused as out of range, a negative one as malformed.
  EXPECT_TRUE(parse_ocsp_request(der_of(openssl_request(ca.cert, {std::string(40, 'F')}).get()))
                  .has_value());
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, {std::string(42, 'F')}).get())),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_error(der_of(openssl_request(ca.cert, {"-05"}).get())), ErrorCode::kMalformed);

  // No CertID at all.
  OcspRequestPtr none(OCSP_REQUEST_new());
  EXPECT_EQ(parse_error(der_of(none.get())), ErrorCode::kMalformed);
}

TEST(OcspErrorResponse, OpenSslReadsEachStatus) {
  for (const auto status : {OcspResponseStatus::kMalformedRequest,
                            OcspResponseStatus::kInternalError, OcspResponseStatus::kTryLater,
                            OcspResponseStatus::kSigRequired, OcspResponseStatus::kUnauthorized}) {
    const Bytes der = ocsp_error_response(status);
    const unsigned char* p = der.data();
    OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(resp);
    EXPECT_EQ(p, der.data() + der.size());
    EXPECT_EQ(OCSP_response_status(resp.get()), static_cast<int>(status));
    EXPECT_EQ(OcspBasicPtr(OCSP_response_get1_basic(resp.get())), nullptr);
  }
  EXPECT_EQ(ocsp_status_for(ErrorCode::kMalformed), OcspResponseStatus::kMalformedRequest);
  EXPECT_EQ(ocsp_status_for(ErrorCode::kInvalidArgument), OcspResponseStatus::kMalformedRequest);
  EXPECT_EQ(ocsp_status_for(ErrorCode::kInternal), OcspResponseStatus::kInternalError);
}

// ---- responses ----------------------------------------------------------------------------

struct Verified {
  OcspResponsePtr response;
  OcspBasicPtr basic;
};

// Parses a response with OpenSSL and runs OCSP_basic_verify against `trusted` (the CA) at
// `at`: the check relying parties make.
Verified openssl_verify(const Bytes& der, const Certificate& trusted, SysTime at,
                        const Certificate* extra = nullptr, int* verify_result = nullptr) {
  Verified v;
  const unsigned char* p = der.data();
  v.response.reset(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(v.response);
  if (!v.response) return v;
  EXPECT_EQ(p, der.data() + der.size());
  EXPECT_EQ(OCSP_response_status(v.response.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
  v.basic.reset(OCSP_response_get1_basic(v.response.get()));
  EXPECT_TRUE(v.basic);
  if (!v.basic) return v;
  crypto::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), trusted.get());
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), static_cast<time_t>(to_unix(at)));
  crypto::X509StackPtr certs(sk_X509_new_null());
  if (extra) sk_X509_push(certs.get(), crypto::up_ref(extra->get()).release());
  const int rc = OCSP_basic_verify(v.basic.get(), certs.get(), store.get(), 0);
  if (verify_result) {
    *verify_result = rc;
  } else {
    EXPECT_EQ(rc, 1) << crypto::openssl_error_string();
  }
  return v;
}

// The three statuses, the reason, the times and the nonce, for a response the CA signs itself,
// as OpenSSL's client reads and verifies them.
TEST(BuildOcspResponse, OpenSslVerifiesStatusesReasonTimesAndNonce) {
  const Ca ca;
  const std::vector<std::string> serials = {"0A0B0C0D0E0F10111213141516171819", "22", "33"};
  const OcspRequestPtr req = openssl_request(ca.cert, serials);
  auto parsed = parse_ocsp_request(der_of(req.get()));
  ASSERT_TRUE(parsed.has_value());

  OcspResponseTemplate t;
  t.responder = ca.cert;
  t.produced_at = kT0 + hours(1);
  t.nonce = parsed->nonce;
  for (const OcspCertId& id : parsed->cert_ids) {
    t.responses.push_back({.cert_id = id, .this_update = kT0, .next_update = kT0 + days(4)});
  }
  t.responses[1].status = OcspCertStatus::kRevoked;
  t.responses[1].revocation_time = kT0 - hours(5);
  t.responses[1].revocation_reason = CrlReason::kKeyCompromise;
  t.responses[2].status = OcspCertStatus::kUnknown;
  auto der = build_ocsp_response(t, ca.signer);
  ASSERT_TRUE(der.has_value()) << der.error().message;

  const Verified v = openssl_verify(*der, ca.cert, kT0 + hours(2), &ca.cert);
  ASSERT_TRUE(v.basic);
  EXPECT_EQ(OCSP_check_nonce(req.get(), v.basic.get()), 1);
  EXPECT_EQ(OCSP_resp_count(v.basic.get()), 3);
  // byKey: the SHA-1 of the CA's key.
  const ASN1_OCTET_STRING* key_id = nullptr;
  const X509_NAME* by_name = nullptr;
  ASSERT_EQ(OCSP_resp_get0_id(v.basic.get(), &key_id, &by_name), 1);
  ASSERT_NE(key_id, nullptr);
  EXPECT_EQ(by_name, nullptr);
  EXPECT_EQ(to_hex(std::span<const std::uint8_t>(ASN1_STRING_get0_data(key_id),
                                                 ASN1_STRING_length(key_id))),
            certward::testing::key_id_of(ca.cert));
  EXPECT_EQ(unix_of(OCSP_resp_get0_produced_at(v.basic.get())), to_unix(kT0 + hours(1)));

  const std::vector<int> statuses = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
                                     V_OCSP_CERTSTATUS_UNKNOWN};
  for (std::size_t i = 0; i < serials.size(); ++i) {
    SCOPED_TRACE(i);
    OcspCertIdPtr id = openssl_cert_id(ca.cert, serials[i]);
    int status = -1;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    ASSERT_EQ(OCSP_resp_find_status(v.basic.get(), id.get(), &status, &reason, &revoked_at,
                                    &this_update, &next_update),
              1);
    EXPECT_EQ(status, statuses[i]);
    EXPECT_EQ(unix_of(this_update), to_unix(kT0));
    EXPECT_EQ(unix_of(next_update), to_unix(kT0 + days(4)));
    if (i == 1) {
      EXPECT_EQ(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
      ASSERT_NE(revoked_at, nullptr);
      EXPECT_EQ(unix_of(revoked_at), to_unix(kT0 - hours(5)));
    }
  }

  // The CA's certificate is sent by default: a client given only the trust anchor finds the
  // signer in the response.
  ASSERT_EQ(sk_X509_num(OCSP_resp_get0_certs(v.basic.get())), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(v.basic.get()), 0), ca.cert.get()), 0);

  // Without the nonce it still verifies, and the nonce check then says "no nonce in response".
  t.nonce.reset();
  const Verified plain = openssl_verify(*build_ocsp_response(t, ca.signer), ca.cert, kT0);
  ASSERT_TRUE(plain.basic);
  EXPECT_EQ(OCSP_check_nonce(req.get(), plain.basic.get()), -1);

  // Without the CA's certificate, only a client that has it can verify.
  t.include_responder = false;
  const Bytes bare = *build_ocsp_response(t, ca.signer);
  EXPECT_LT(bare.size() + ca.cert.der().size(), der->size() + 8);
  int rc = 1;
  const Verified anchor_only = openssl_verify(bare, ca.cert, kT0, nullptr, &rc);
  EXPECT_NE(rc, 1);
  ASSERT_TRUE(anchor_only.basic);
  EXPECT_LE(sk_X509_num(OCSP_resp_get0_certs(anchor_only.basic.get())), 0);  // no certs at all
  openssl_verify(bare, ca.cert, kT0, &ca.cert);
}

// A delegated responder (id-kp-OCSPSigning, id-pkix-ocsp-nocheck) sends its certificate; the
// client verifies the delegation against the CA alone. Without the EKU OpenSSL refuses it,
// which shows the check is the real one.
TEST(BuildOcspResponse, DelegatedResponderVerifiesAgainstTheCa) {
  const Ca ca;
  const auto responder_key = certward::testing::shared_key();
  const auto make_responder = [&](std::vector<std::string> eku) {
    CertificateTemplate rt = certward::testing::leaf_template(responder_key->get());
    rt.subject = certward::testing::name("CN=Revocation Test OCSP Responder");
    rt.sans.clear();
    rt.extended_key_usage = std::move(eku);
    rt.ocsp_nocheck = true;
    LintRules rules;
    rules.require_san = false;
    return certward::testing::issue(rt, &ca.cert, *ca.key, rules);
  };
  const crypto::SoftwareSigner responder_signer(responder_key);
  OcspResponseTemplate t;
  t.responder = make_responder({"OCSPSigning"});
  t.include_responder = true;
  t.produced_at = kT0 + hours(1);
  t.responses.push_back(
      {.cert_id = ocsp_cert_id(ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha1), Bytes{0x42}),
       .status = OcspCertStatus::kRevoked,
       .revocation_time = kT0,
       .revocation_reason = CrlReason::kUnspecified,
       .this_update = kT0,
       .next_update = kT0 + days(1)});
  auto der = build_ocsp_response(t, responder_signer);
  ASSERT_TRUE(der.has_value()) << der.error().message;
  const Verified v = openssl_verify(*der, ca.cert, kT0 + hours(2));
  ASSERT_TRUE(v.basic);
  const STACK_OF(X509)* sent = OCSP_resp_get0_certs(v.basic.get());
  ASSERT_EQ(sk_X509_num(sent), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(sent, 0), t.responder.get()), 0);
  int status = -1;
  int reason = -2;
  OcspCertIdPtr id = openssl_cert_id(ca.cert, "42");
  ASSERT_EQ(
      OCSP_resp_find_status(v.basic.get(), id.get(), &status, &reason, nullptr, nullptr, nullptr),
      1);
  EXPECT_EQ(status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(reason, -1);  // unspecified is left out, as on CRLs

  t.responder = make_responder({"clientAuth"});
  int rc = 1;
  openssl_verify(*build_ocsp_response(t, responder_signer), ca.cert, kT0 + hours(2), nullptr, &rc);
  EXPECT_NE(rc, 1);
}

TEST(BuildOcspResponse, EverySignerKeyTypeVerifiesInOpenSsl) {
  for (const auto type : {crypto::KeyType::kEcP384, crypto::KeyType::kRsa2048,
                          crypto::KeyType::kEd25519, crypto::KeyType::kRsaPss2048}) {
    SCOPED_TRACE(crypto::key_type_name(type));
    const Ca ca(type);
    OcspResponseTemplate t;
    t.responder = ca.cert;
    t.produced_at = kT0;
    t.responses.push_back(
        {.cert_id = ocsp_cert_id(ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha256), Bytes{1}),
         .this_update = kT0,
         .next_update = kT0 + days(1)});
    auto der = build_ocsp_response(t, ca.signer);
    ASSERT_TRUE(der.has_value()) << der.error().message;
    openssl_verify(*der, ca.cert, kT0 + hours(1), &ca.cert);
  }
}

// The whole exchange with the `openssl ocsp` command: its request, our response, its check of
// the signature, the nonce and the statuses.
TEST(BuildOcspResponse, TheOpenSslCommandAcceptsTheResponse) {
  const Ca ca;
  const crypto::PrivateKey k1 = certward::testing::make_key();
  const crypto::PrivateKey k2 = certward::testing::make_key();
  const Certificate good = ca.issue_leaf(k1, "good.example.test");
  const Certificate revoked = ca.issue_leaf(k2, "revoked.example.test");
  testing::TempDir dir;
  dir.write("ca.pem", ca.cert.pem());
  dir.write("good.pem", good.pem());
  dir.write("revoked.pem", revoked.pem());
  ASSERT_EQ(dir.run("openssl ocsp -issuer ca.pem -cert good.pem -cert revoked.pem -serial 0x7777 "
                    "-reqout req.der"),
            0);
  auto req = parse_ocsp_request(dir.read("req.der"));
  ASSERT_TRUE(req.has_value());
  ASSERT_EQ(req->cert_ids.size(), 3u);
  const OcspIssuerHashes issuer = ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha1);
  const SysTime t0 = now() - std::chrono::minutes(1);
  OcspResponseTemplate t;
  t.responder = ca.cert;
  t.produced_at = t0;
  t.nonce = req->nonce;
  for (const OcspCertId& id : req->cert_ids) {
    ASSERT_TRUE(issuer.matches(id));
    OcspSingleResponse r{.cert_id = id, .this_update = t0, .next_update = t0 + days(1)};
    if (id.serial_hex() == revoked.info().serial_hex) {
      r.status = OcspCertStatus::kRevoked;
      r.revocation_time = *parse_time("2025-03-04T05:06:07Z");
      r.revocation_reason = CrlReason::kSuperseded;
    } else if (id.serial_hex() == "7777") {
      r.status = OcspCertStatus::kUnknown;
    }
    t.responses.push_back(r);
  }
  auto der = build_ocsp_response(t, ca.signer);
  ASSERT_TRUE(der.has_value());
  dir.write("resp.der", *der);
  const std::string out =
      dir.output("openssl ocsp -reqin req.der -respin resp.der -CAfile ca.pem -resp_text",
                 testing::TempDir::Stderr::kCapture);
  EXPECT_NE(out.find("Response verify OK"), std::string::npos) << out;
  EXPECT_EQ(out.find("Nonce Verify error"), std::string::npos) << out;
  EXPECT_EQ(out.find("WARNING"), std::string::npos) << out;
  EXPECT_NE(out.find("Cert Status: good"), std::string::npos) << out;
  EXPECT_NE(out.find("Cert Status: revoked"), std::string::npos) << out;
  EXPECT_NE(out.find("Revocation Time: Mar  4 05:06:07 2025 GMT"), std::string::npos) << out;
  EXPECT_NE(out.find("Revocation Reason: superseded (0x4)"), std::string::npos) << out;
  EXPECT_NE(out.find("Cert Status: unknown"), std::string::npos) << out;
  EXPECT_NE(out.find("Responder Id: "), std::string::npos) << out;
}

TEST(BuildOcspResponse, RefusesBadTemplates) {
  const Ca ca;
  const Ca other;
  const OcspIssuerHashes issuer = ocsp_issuer_hashes(ca.cert, OcspHashAlgorithm::kSha1);
  const auto with = [&](auto change) {
    OcspResponseTemplate t;
    t.responder = ca.cert;
    t.produced_at = kT0;
    t.responses.push_back({.cert_id = ocsp_cert_id(issuer, Bytes{1}), .this_update = kT0});
    change(t);
    return t;
  };
  const auto error = [](const OcspResponseTemplate& t, const crypto::Signer& s) {
    auto r = build_ocsp_response(t, s);
    return r ? ErrorCode::kInternal : r.error().code;
  };
  EXPECT_TRUE(build_ocsp_response(with([](auto&) {}), ca.signer).has_value());
  EXPECT_EQ(error(with([](auto&) {}), other.signer), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) { t.responder = Certificate(); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) { t.responses.clear(); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) { t.nonce = Bytes(); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) { t.responses[0].cert_id.hash = OcspHashAlgorithm::kSha256; }),
                  ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) { t.responses[0].cert_id.serial = Bytes(21, 1); }), ca.signer),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error(with([](auto& t) {
                    t.responses[0].status = OcspCertStatus::kRevoked;
                    t.responses[0].revocation_reason = static_cast<CrlReason>(7);
                  }),
                  ca.signer),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::x509
