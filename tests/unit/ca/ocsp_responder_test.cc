#include "ca/ocsp_responder.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <utility>

#include "ca/revocation.h"
#include "unit/ca/fixture.h"

namespace certward::ca {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

using OcspRequestPtr = crypto::Handle<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = crypto::Handle<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = crypto::Handle<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = crypto::Handle<OCSP_CERTID, OCSP_CERTID_free>;

OcspCertIdPtr cert_id(const x509::Certificate& issuer, const std::string& serial_hex,
                      const EVP_MD* md = EVP_sha1()) {
  BIGNUM* raw = nullptr;
  CW_CHECK(BN_hex2bn(&raw, serial_hex.c_str()) > 0);
  crypto::BignumPtr bn(raw);
  crypto::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  return OcspCertIdPtr(OCSP_cert_id_new(md, X509_get_subject_name(issuer.get()),
                                        X509_get0_pubkey_bitstr(issuer.get()), serial.get()));
}

// An OCSP request as OpenSSL's client makes it.
Bytes request_der(const x509::Certificate& issuer, const std::vector<std::string>& serials,
                  bool nonce = false, const EVP_MD* md = EVP_sha1()) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  for (const auto& s : serials) {
    CW_CHECK(OCSP_request_add0_id(req.get(), cert_id(issuer, s, md).release()) != nullptr);
  }
  if (nonce) CW_CHECK(OCSP_request_add1_nonce(req.get(), nullptr, 16) == 1);
  const int n = i2d_OCSP_REQUEST(req.get(), nullptr);
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_OCSP_REQUEST(req.get(), &p);
  return out;
}

struct Answer {
  int response_status = -1;
  int status = -1;  // V_OCSP_CERTSTATUS_*
  int reason = -1;
  bool verified = false;
  std::optional<x509::Certificate> signer;  // the responder certificate sent
};

// Reads `reply` as OpenSSL's client does: the status of the first certificate it answers for
// (`issuer`, `serial_hex`), and whether the signature verifies with `root` trusted.
Answer read(const OcspReply& reply, const x509::Certificate& issuer, const std::string& serial_hex,
            const x509::Certificate& root, const x509::Certificate& chain_ca, SysTime at) {
  Answer a;
  const auto* p = reinterpret_cast<const unsigned char*>(reply.body.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(reply.body.size())));
  CW_CHECK(resp);
  a.response_status = OCSP_response_status(resp.get());
  if (a.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) return a;
  OcspBasicPtr basic(OCSP_response_get1_basic(resp.get()));
  CW_CHECK(basic);
  ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
  auto id = cert_id(issuer, serial_hex);
  OCSP_resp_find_status(basic.get(), id.get(), &a.status, &a.reason, &rev, &thisupd, &nextupd);
  crypto::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.get());
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store.get()), static_cast<time_t>(to_unix(at)));
  crypto::X509StackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), crypto::up_ref(chain_ca.get()).release());
  a.verified = OCSP_basic_verify(basic.get(), certs.get(), store.get(), 0) == 1;
  const STACK_OF(X509)* sent = OCSP_resp_get0_certs(basic.get());
  if (sk_X509_num(sent) > 0) {
    auto c = x509::Certificate::from_x509(crypto::up_ref(sk_X509_value(sent, 0)));
    CW_CHECK(c.has_value());
    a.signer = *c;
  }
  return a;
}

class OcspResponderTest : public testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    responder_ = std::make_unique<OcspResponder>(clock_, *authorities_, *ra_, inventory_,
                                                 revocation_settings_);
    ASSERT_TRUE(responder_->refresh().has_value());
  }

  IssuedCertificate issue(const std::string& name) {
    auto out = ra_->enroll(request({name}));
    CW_CHECK(out.has_value());
    return std::move(*out);
  }

  void revoke(const IssuedCertificate& c) {
    RevokeRequest r;
    r.id = c.certificate.info().sha256_hex;
    r.reason = RevocationReason::kKeyCompromise;
    r.requester = admin_;
    ASSERT_TRUE(revocation_->revoke(r).has_value());
  }

  std::shared_ptr<const OcspReply> ask(const std::vector<std::string>& serials, bool nonce = false,
                                       const EVP_MD* md = EVP_sha1()) {
    return responder_->answer(request_der(issuing_, serials, nonce, md));
  }

  Answer read_issuing(const OcspReply& reply, const std::string& serial) {
    return read(reply, issuing_, serial, root_, issuing_, clock_.now());
  }

  std::unique_ptr<OcspResponder> responder_;
};

TEST_F(OcspResponderTest, AnswersGoodFromADelegatedResponderAndCachesTheAnswer) {
  const auto leaf = issue("good.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  const std::int64_t before = inventory_count();
  auto first = ask({serial});
  const Answer a = read_issuing(*first, serial);
  EXPECT_EQ(a.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(a.status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_TRUE(a.verified);
  EXPECT_TRUE(first->cacheable);
  EXPECT_EQ(first->next_update, clock_.now() + revocation_settings_.ocsp_validity);

  // The delegated responder: issued once, through the RA (so in the inventory), for OCSP
  // signing only, with ocsp-nocheck.
  ASSERT_TRUE(a.signer.has_value());
  const auto& info = a.signer->info();
  EXPECT_EQ(info.issuer, issuing_.info().subject);
  EXPECT_EQ(info.extended_key_usage, std::vector<std::string>{"OCSPSigning"});
  EXPECT_GE(X509_get_ext_by_NID(a.signer->get(), NID_id_pkix_OCSP_noCheck, -1), 0);
  EXPECT_TRUE(info.crl_distribution_points.empty());  // never checked: nowhere to check
  EXPECT_TRUE(info.ocsp_urls.empty());
  EXPECT_EQ(inventory_count(), before + 1);

  // Asked again: the same answer, not a new signature.
  EXPECT_EQ(ask({serial}).get(), first.get());
  EXPECT_EQ(responder_->cached(), 1u);
  EXPECT_EQ(inventory_count(), before + 1);
}

TEST_F(OcspResponderTest, ARevocationReplacesTheCachedAnswerAtTheNextRefresh) {
  const auto leaf = issue("revoked.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  EXPECT_EQ(read_issuing(*ask({serial}), serial).status, V_OCSP_CERTSTATUS_GOOD);
  revoke(leaf);
  ASSERT_TRUE(responder_->refresh().has_value());
  const Answer a = read_issuing(*ask({serial}), serial);
  EXPECT_EQ(a.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(a.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  EXPECT_TRUE(a.verified);
}

TEST_F(OcspResponderTest, ARevocationHereIsAnsweredBeforeTheRevokerReturns) {
  const auto leaf = issue("told.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  EXPECT_EQ(read_issuing(*ask({serial}), serial).status, V_OCSP_CERTSTATUS_GOOD);
  revocation_->set_observer([this](const std::string& a) { responder_->revoked(a); });
  revoke(leaf);
  EXPECT_EQ(read_issuing(*ask({serial}), serial).status, V_OCSP_CERTSTATUS_REVOKED);
  revocation_->set_observer(nullptr);
}

TEST_F(OcspResponderTest, ARevocationWhileAnAnswerIsSignedIsNotUndoneByIt) {
  const auto leaf = issue("race.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  // The revocation commits and the responder looks for it after this request read the status
  // and before it cached its answer.
  bool raced = false;
  responder_->TEST_set_before_caching([&] {
    if (std::exchange(raced, true)) return;
    revoke(leaf);
    ASSERT_TRUE(responder_->refresh().has_value());
  });
  ask({serial});  // may say good: it was asked before the revocation
  responder_->TEST_set_before_caching(nullptr);
  ASSERT_TRUE(raced);
  EXPECT_EQ(read_issuing(*ask({serial}), serial).status, V_OCSP_CERTSTATUS_REVOKED);
}

TEST_F(OcspResponderTest, EveryRevocationOfOneSecondIsSeenWhateverThePageSize) {
  // One bulk revocation gives many revocations the same time: more than one look reads.
  responder_->TEST_set_poll_page(2);
  std::vector<std::string> serials;
  for (int i = 0; i < 5; ++i) {
    auto r = request({"bulk" + std::to_string(i) + ".example.com"});
    r.tags = {"batch"};
    auto issued = ra_->enroll(std::move(r));
    ASSERT_TRUE(issued.has_value());
    serials.push_back(issued->certificate.info().serial_hex);
    EXPECT_EQ(read_issuing(*ask({serials.back()}), serials.back()).status, V_OCSP_CERTSTATUS_GOOD);
  }
  BulkRevokeRequest bulk;
  bulk.selection.tag = "batch";
  bulk.reason = RevocationReason::kSuperseded;
  bulk.requester = admin_;
  bulk.expected_count = 5;
  ASSERT_TRUE(revocation_->revoke_bulk(bulk).has_value());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(responder_->refresh().has_value());
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(responder_->refresh().has_value());
  for (const auto& serial : serials) {
    EXPECT_EQ(read_issuing(*ask({serial}), serial).status, V_OCSP_CERTSTATUS_REVOKED) << serial;
  }
  // And a revocation made after them is seen too.
  const auto later = issue("later.example.com");
  const std::string later_serial = later.certificate.info().serial_hex;
  ask({later_serial});
  revoke(later);
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(responder_->refresh().has_value());
  EXPECT_EQ(read_issuing(*ask({later_serial}), later_serial).status, V_OCSP_CERTSTATUS_REVOKED);
}

TEST_F(OcspResponderTest, UnknownSerialsAreSignedButNotCached) {
  auto reply = ask({"0badc0ffee"});
  const Answer a = read_issuing(*reply, "0badc0ffee");
  EXPECT_EQ(a.status, V_OCSP_CERTSTATUS_UNKNOWN);
  EXPECT_TRUE(a.verified);
  EXPECT_EQ(responder_->cached(), 0u);
}

TEST_F(OcspResponderTest, AnswersForExpiredCertificatesLeaveTheCache) {
  auto r = request({"short.example.com"});
  r.validity = days(2);
  auto leaf = ra_->enroll(std::move(r));
  ASSERT_TRUE(leaf.has_value());
  const std::string serial = leaf->certificate.info().serial_hex;
  ask({serial});
  EXPECT_EQ(responder_->cached(), 1u);
  // Expired: its answer is dropped when it would be signed again, and not kept when asked.
  clock_.advance(days(3));
  ASSERT_TRUE(responder_->refresh().has_value());
  EXPECT_EQ(responder_->cached(), 0u);
  const Answer a = read_issuing(*ask({serial}), serial);
  EXPECT_EQ(a.response_status, OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(responder_->cached(), 0u);
}

TEST_F(OcspResponderTest, NonceSeveralCertIdsAndSha256AreSignedForTheRequest) {
  const auto one = issue("one.example.com");
  const auto two = issue("two.example.com");
  revoke(two);
  const std::string s1 = one.certificate.info().serial_hex;
  const std::string s2 = two.certificate.info().serial_hex;
  auto reply = ask({s1, s2}, /*nonce=*/true);
  EXPECT_FALSE(reply->cacheable);
  EXPECT_EQ(read_issuing(*reply, s1).status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(read_issuing(*reply, s2).status, V_OCSP_CERTSTATUS_REVOKED);
  auto sha256 = ask({s1}, false, EVP_sha256());
  EXPECT_EQ(read(*sha256, issuing_, s1, root_, issuing_, clock_.now()).response_status,
            OCSP_RESPONSE_STATUS_SUCCESSFUL);
  EXPECT_EQ(responder_->cached(), 0u);
}

TEST_F(OcspResponderTest, RefusesWhatItCannotAnswer) {
  auto status_of = [](const std::shared_ptr<const OcspReply>& r) {
    return static_cast<int>(r->status);
  };
  // An issuer it does not serve.
  const crypto::PrivateKey stranger_key = certward::testing::make_key();
  const x509::Certificate stranger =
      certward::testing::self_signed_ca(stranger_key, "CN=Stranger CA");
  EXPECT_EQ(status_of(responder_->answer(request_der(stranger, {"01"}))),
            static_cast<int>(x509::OcspResponseStatus::kUnauthorized));
  // CertIDs of two authorities in one request: one response has one signer.
  Bytes mixed;
  {
    OcspRequestPtr req(OCSP_REQUEST_new());
    OCSP_request_add0_id(req.get(), cert_id(issuing_, "01").release());
    OCSP_request_add0_id(req.get(), cert_id(root_, "02").release());
    const int n = i2d_OCSP_REQUEST(req.get(), nullptr);
    mixed.resize(static_cast<std::size_t>(n));
    unsigned char* p = mixed.data();
    i2d_OCSP_REQUEST(req.get(), &p);
  }
  EXPECT_EQ(status_of(responder_->answer(mixed)),
            static_cast<int>(x509::OcspResponseStatus::kUnauthorized));
  // Not DER; too many CertIDs.
  const Bytes good = request_der(issuing_, {"01"});
  EXPECT_EQ(status_of(responder_->answer(std::span(good).first(good.size() / 2))),
            static_cast<int>(x509::OcspResponseStatus::kMalformedRequest));
  std::vector<std::string> many(revocation_settings_.ocsp_max_requests + 1, "01");
  EXPECT_EQ(status_of(responder_->answer(request_der(issuing_, many))),
            static_cast<int>(x509::OcspResponseStatus::kMalformedRequest));
  EXPECT_EQ(responder_->cached(), 0u);
}

TEST_F(OcspResponderTest, RootsAndTheCaSignerModeSignWithTheAuthoritysOwnKey) {
  // The issuing CA's own certificate, answered by the root, which signs only CAs.
  const std::string serial = issuing_.info().serial_hex;
  auto reply = responder_->answer(request_der(root_, {serial}));
  const Answer a = read(*reply, root_, serial, root_, root_, clock_.now());
  EXPECT_EQ(a.status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_TRUE(a.verified);
  ASSERT_TRUE(a.signer.has_value());
  EXPECT_EQ(a.signer->info().sha256_hex, root_.info().sha256_hex);

  revocation_settings_.ocsp_signer = "ca";
  OcspResponder by_ca(clock_, *authorities_, *ra_, inventory_, revocation_settings_);
  ASSERT_TRUE(by_ca.refresh().has_value());
  const auto leaf = issue("ca-signed.example.com");
  const std::int64_t before = inventory_count();
  const std::string leaf_serial = leaf.certificate.info().serial_hex;
  const Answer b = read_issuing(*by_ca.answer(request_der(issuing_, {leaf_serial})), leaf_serial);
  EXPECT_EQ(b.status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_TRUE(b.verified);
  ASSERT_TRUE(b.signer.has_value());
  EXPECT_EQ(b.signer->info().sha256_hex, issuing_.info().sha256_hex);
  EXPECT_EQ(inventory_count(), before);  // no responder certificate issued
}

TEST_F(OcspResponderTest, AnswersAreSignedAgainAfterHalfTheirValidity) {
  const auto leaf = issue("refresh.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  auto first = ask({serial});
  clock_.advance(revocation_settings_.ocsp_validity / 2 - minutes(1));
  ASSERT_TRUE(responder_->refresh().has_value());
  EXPECT_EQ(ask({serial}).get(), first.get());
  clock_.advance(minutes(1));
  ASSERT_TRUE(responder_->refresh().has_value());
  auto second = ask({serial});
  EXPECT_NE(second.get(), first.get());
  EXPECT_EQ(second->this_update, clock_.now());
  EXPECT_TRUE(read_issuing(*second, serial).verified);
}

TEST_F(OcspResponderTest, TheDelegatedResponderIsRenewedBeforeItExpires) {
  const auto leaf = issue("renew.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  const Answer a = read_issuing(*ask({serial}), serial);
  ASSERT_TRUE(a.signer.has_value());
  // Two thirds of its validity, then a refresh: a new responder signs every answer.
  clock_.advance(revocation_settings_.ocsp_responder_validity * 2 / 3 + minutes(5));
  ASSERT_TRUE(responder_->refresh().has_value());
  const Answer b = read_issuing(*ask({serial}), serial);
  ASSERT_TRUE(b.signer.has_value());
  EXPECT_NE(b.signer->info().serial_hex, a.signer->info().serial_hex);
  EXPECT_TRUE(b.verified);
}

TEST_F(OcspResponderTest, AnAuthorityWhoseResponderCannotBeRenewedHoldsUpNoOther) {
  // An issuing CA three days from its end: its responder certificate ends with it, and once
  // it has expired no new one can be issued.
  SubordinateOptions sub;
  sub.name = "ending";
  sub.parent = "root";
  sub.subject = "CN=Ending Issuing CA,O=Certward Tests";
  sub.validity = days(3);
  auto ending = create_subordinate(*ra_, *authorities_, sub, admin_);
  ASSERT_TRUE(ending.has_value()) << ending.error().message;
  ASSERT_TRUE(responder_->refresh().has_value());
  auto r = request({"ending.example.com"});
  r.authority = "ending";
  auto ending_leaf = ra_->enroll(std::move(r));
  ASSERT_TRUE(ending_leaf.has_value()) << ending_leaf.error().message;
  const std::string ending_serial = ending_leaf->certificate.info().serial_hex;
  const auto ending_reply = responder_->answer(request_der(ending->certificate, {ending_serial}));
  EXPECT_EQ(read(*ending_reply, ending->certificate, ending_serial, root_, ending->certificate,
                 clock_.now())
                .status,
            V_OCSP_CERTSTATUS_GOOD);

  // An answer of another authority, asked for 13 hours before "ending" ends: due to be signed
  // again by then (after half of its day), not expired.
  clock_.advance(days(3) - hours(12));
  const auto leaf = issue("lasting.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  ask({serial});
  clock_.advance(hours(13));
  (void)responder_->refresh();  // "ending"'s responder cannot be renewed: an error
  // The other answers are signed again all the same.
  auto fresh = ask({serial});
  EXPECT_EQ(fresh->this_update, clock_.now());
  EXPECT_TRUE(read_issuing(*fresh, serial).verified);
}

TEST_F(OcspResponderTest, ARevokedResponderCertificateSignsNothingMore) {
  const auto leaf = issue("signed.example.com");
  const std::string serial = leaf.certificate.info().serial_hex;
  const Answer before = read_issuing(*ask({serial}), serial);
  ASSERT_TRUE(before.signer.has_value());
  // An operator revokes the responder certificate (it is in the inventory like any other).
  RevokeRequest r;
  r.id = before.signer->info().sha256_hex;
  r.reason = RevocationReason::kKeyCompromise;
  r.requester = admin_;
  ASSERT_TRUE(revocation_->revoke(r).has_value());
  ASSERT_TRUE(responder_->refresh().has_value());
  // The cached answer and every new one come from a new responder.
  const Answer cached = read_issuing(*ask({serial}), serial);
  ASSERT_TRUE(cached.signer.has_value());
  EXPECT_NE(cached.signer->info().serial_hex, before.signer->info().serial_hex);
  EXPECT_TRUE(cached.verified);
  const auto other = issue("other.example.com");
  const std::string other_serial = other.certificate.info().serial_hex;
  const Answer fresh = read_issuing(*ask({other_serial}), other_serial);
  ASSERT_TRUE(fresh.signer.has_value());
  EXPECT_EQ(fresh.signer->info().serial_hex, cached.signer->info().serial_hex);
}

TEST_F(OcspResponderTest, NoRequesterMayUseTheResponderProfile) {
  auto r = request({"sneaky.example.com"}, "ocsp-responder");
  const std::int64_t before = inventory_count();
  const std::int64_t events = audit_count();
  for (Channel channel : {Channel::kCli, Channel::kRest, Channel::kAcme}) {
    r.channel = channel;
    expect_refused(ra_->enroll(r), ErrorCode::kUnauthorized, before, events);
  }
  const std::vector<std::string> profiles = {"ocsp-responder"};
  auto grant = check_grant(profiles_, *authorities_, profiles, {});
  ASSERT_FALSE(grant.has_value());
  EXPECT_EQ(grant.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::ca
