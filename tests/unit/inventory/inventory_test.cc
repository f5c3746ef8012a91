#include "inventory/inventory.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "unit/testing/pki.h"
#include "unit/testing/test_db.h"

namespace certward::inventory {
namespace {

using certward::testing::exec_sql;
using certward::testing::kT0;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;

const SysTime kNow = kT0 + days(100);

struct LeafSpec {
  std::string cn = "host.example.com";
  std::vector<x509::SubjectAltName> sans;  // empty: dns:<cn>
  SysTime not_before = kNow - days(10);
  SysTime not_after = kNow + days(200);
  Bytes serial;  // empty: random
};

// One CA that signs test leaves.
class TestCa {
 public:
  explicit TestCa(std::string_view subject)
      : key_(make_key()), cert_(certward::testing::self_signed_ca(key_, subject)) {}
  const x509::Certificate& cert() const { return cert_; }

  x509::Certificate leaf(const LeafSpec& s, const EVP_PKEY* subject_key) const {
    x509::CertificateTemplate t = certward::testing::leaf_template(subject_key);
    t.subject = certward::testing::name("CN=" + s.cn + ",O=Test");
    t.sans =
        s.sans.empty() ? std::vector<x509::SubjectAltName>{{x509::SanType::kDns, s.cn}} : s.sans;
    t.not_before = s.not_before;
    t.not_after = s.not_after;
    if (!s.serial.empty()) t.serial = s.serial;
    x509::LintRules rules;
    rules.max_validity = days(3650);
    return certward::testing::issue(t, &cert_, key_, rules);
  }

 private:
  crypto::PrivateKey key_;
  x509::Certificate cert_;
};

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(audit::AuditLog::migrate(*db_).has_value());
    ASSERT_TRUE(Inventory::migrate(*db_).has_value());
  }

  x509::Certificate leaf(const LeafSpec& s = {}) const { return ca_.leaf(s, key_.get()); }

  bool record(const x509::Certificate& c, const RecordMeta& meta = {}) {
    auto tx = db_->begin();
    CW_CHECK(tx.has_value());
    auto inserted = inventory_.record(**tx, c, meta);
    EXPECT_TRUE(inserted.has_value()) << (inserted ? "" : inserted.error().message);
    CW_CHECK((*tx)->commit().has_value());
    return inserted.value_or(false);
  }

  std::int64_t count() {
    auto n = inventory_.count();
    CW_CHECK(n.has_value());
    return *n;
  }
  std::int64_t audit_events() { return certward::testing::count_rows(*db_, "audit_events"); }

  ErrorCode resolve_error(std::string_view id) {
    auto r = inventory_.resolve(id);
    EXPECT_FALSE(r.has_value()) << id;
    return r ? ErrorCode::kInternal : r.error().code;
  }

  std::set<std::string> query_fps(const Filter& f) {
    PageRequest page;
    page.limit = 1000;
    auto r = inventory_.query(f, page);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    std::set<std::string> out;
    if (r) {
      for (const auto& c : r->items) out.insert(c.fingerprint);
      EXPECT_FALSE(r->next_cursor.has_value());
    }
    return out;
  }

  // SQLite, or PostgreSQL under scripts/with-postgres.sh (ctest's inventory_postgres).
  certward::testing::ScratchDatabase db_;
  FakeClock clock_{kNow};
  audit::AuditLog audit_{clock_, *db_};
  Inventory inventory_{clock_, *db_, audit_};
  TestCa ca_{"CN=Test CA One,O=Test"};
  crypto::PrivateKey key_ = make_key();
};

TEST_F(InventoryTest, RecordInsertsOnceByFingerprint) {
  const x509::Certificate c = leaf();
  EXPECT_TRUE(record(c));
  EXPECT_FALSE(record(c));
  EXPECT_FALSE(record(c, RecordMeta{.origin = Origin::kDiscovered,
                                    .authority = {},
                                    .profile = {},
                                    .owner = "someone-else",
                                    .team = {},
                                    .tags = {}}));
  EXPECT_EQ(count(), 1);
  // The first recording wins; a duplicate changes nothing.
  auto got = inventory_.get(c.info().sha256_hex);
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_FALSE((*got)->meta.owner.has_value());
  EXPECT_EQ((*got)->meta.origin, Origin::kImported);
  // Recording does not audit.
  EXPECT_EQ(audit_events(), 0);
}

TEST_F(InventoryTest, RecordStoresParsedFieldsAndMeta) {
  LeafSpec spec;
  spec.cn = "web.example.com";
  spec.sans = {{x509::SanType::kDns, "web.example.com"}, {x509::SanType::kIp, "192.0.2.1"}};
  const x509::Certificate c = leaf(spec);
  RecordMeta meta;
  meta.origin = Origin::kIssued;
  meta.authority = "issuing";
  meta.profile = "tls-server";
  meta.owner = "alice";
  meta.team = "web";
  meta.tags = {"prod", "eu"};
  ASSERT_TRUE(record(c, meta));

  auto got = inventory_.get(c.info().sha256_hex);
  ASSERT_TRUE(got.has_value() && got->has_value());
  const CertificateRecord& r = **got;
  EXPECT_EQ(r.fingerprint, c.info().sha256_hex);
  EXPECT_EQ(r.serial, c.info().serial_hex);
  EXPECT_EQ(r.subject, c.info().subject);
  EXPECT_EQ(r.common_name, "web.example.com");
  EXPECT_EQ(r.issuer, ca_.cert().info().subject);
  EXPECT_EQ(r.sans, spec.sans);
  EXPECT_EQ(r.not_before, spec.not_before);
  EXPECT_EQ(r.not_after, spec.not_after);
  EXPECT_EQ(r.key_algorithm, "ecdsa");
  EXPECT_EQ(r.key_bits, 256);
  EXPECT_EQ(r.key_curve, "P-256");
  EXPECT_EQ(r.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_FALSE(r.is_ca);
  EXPECT_EQ(r.meta.origin, Origin::kIssued);
  EXPECT_EQ(r.meta.authority, "issuing");
  EXPECT_EQ(r.meta.profile, "tls-server");
  EXPECT_EQ(r.meta.owner, "alice");
  EXPECT_EQ(r.meta.team, "web");
  EXPECT_EQ(r.meta.tags, (std::vector<std::string>{"prod", "eu"}));
  EXPECT_FALSE(r.revoked_at.has_value());
  EXPECT_EQ(r.created_at, kNow);
  EXPECT_EQ(r.status(kNow), CertStatus::kValid);

  auto der = inventory_.certificate(r.fingerprint);
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ(der->der(), c.der());
  auto missing = inventory_.certificate(std::string(64, '0'));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto none = inventory_.get(std::string(64, '0'));
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST_F(InventoryTest, RecordRefusesSameSerialFromSameAuthority) {
  const Bytes serial = x509::random_serial();
  LeafSpec a;
  a.serial = serial;
  LeafSpec b = a;
  b.cn = "other.example.com";
  RecordMeta meta;
  meta.authority = "issuing";
  ASSERT_TRUE(record(leaf(a), meta));
  auto tx = db_->begin();
  ASSERT_TRUE(tx.has_value());
  auto r = inventory_.record(**tx, leaf(b), meta);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

// Two teams hold certificates with one serial (imported ones carry any serial): resolving it
// for one team sees only that team's, so the other's neither answers nor makes it ambiguous.
TEST_F(InventoryTest, ResolveForATeamSeesOnlyThatTeamsCertificates) {
  const Bytes serial = x509::random_serial();
  LeafSpec a;
  a.serial = serial;
  LeafSpec b = a;
  b.cn = "other.example.com";
  const x509::Certificate mine = leaf(a);
  RecordMeta meta_a;
  meta_a.team = "a";
  RecordMeta meta_b;
  meta_b.team = "b";
  ASSERT_TRUE(record(mine, meta_a));
  ASSERT_TRUE(record(leaf(b), meta_b));
  const std::string hex = mine.info().serial_hex;
  auto everyone = inventory_.resolve(hex);
  ASSERT_FALSE(everyone.has_value());
  EXPECT_EQ(everyone.error().code, ErrorCode::kConflict);
  auto team_a = inventory_.resolve(hex, "a");
  ASSERT_TRUE(team_a.has_value()) << team_a.error().message;
  EXPECT_EQ(team_a->fingerprint, mine.info().sha256_hex);
  auto team_c = inventory_.resolve(hex, "c");
  ASSERT_FALSE(team_c.has_value());
  EXPECT_EQ(team_c.error().code, ErrorCode::kNotFound);
  auto by_prefix = inventory_.resolve(mine.info().sha256_hex.substr(0, 12), "b");
  ASSERT_FALSE(by_prefix.has_value());
  EXPECT_EQ(by_prefix.error().code, ErrorCode::kNotFound);
}

TEST_F(InventoryTest, ResolveByFingerprintPrefixAndSerial) {
  const x509::Certificate c = leaf();
  ASSERT_TRUE(record(c));
  ASSERT_TRUE(record(leaf()));
  const std::string fp = c.info().sha256_hex;
  auto expect_found = [&](std::string_view id) {
    auto r = inventory_.resolve(id);
    ASSERT_TRUE(r.has_value()) << id << ": " << r.error().message;
    EXPECT_EQ(r->fingerprint, fp) << id;
  };
  expect_found(fp);
  std::string upper = fp;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  expect_found(upper);
  expect_found(to_hex_colon(*from_hex(fp)));
  expect_found(fp.substr(0, 8));
  expect_found(fp.substr(0, 20));
  expect_found(c.info().serial_hex);
  expect_found(to_hex_colon(*from_hex(c.info().serial_hex)));
}

TEST_F(InventoryTest, ResolveAmbiguousPrefixIsConflict) {
  ASSERT_TRUE(record(leaf()));
  ASSERT_TRUE(record(leaf()));
  exec_sql(*db_, "UPDATE certificates SET fingerprint = 'abcdef01' || substr(fingerprint, 9)");
  EXPECT_EQ(resolve_error("abcdef01"), ErrorCode::kConflict);
  EXPECT_EQ(resolve_error("ABCDEF01"), ErrorCode::kConflict);
}

TEST_F(InventoryTest, ResolveAmbiguousSerialIsConflict) {
  const Bytes serial = x509::random_serial();
  TestCa other("CN=Test CA Two,O=Test");
  LeafSpec s;
  s.serial = serial;
  ASSERT_TRUE(record(leaf(s)));
  ASSERT_TRUE(record(other.leaf(s, key_.get())));
  EXPECT_EQ(resolve_error(to_hex(serial)), ErrorCode::kConflict);
}

TEST_F(InventoryTest, ResolveUnknownAndMalformed) {
  ASSERT_TRUE(record(leaf()));
  EXPECT_EQ(resolve_error(std::string(64, 'f')), ErrorCode::kNotFound);
  EXPECT_EQ(resolve_error("0000000000"), ErrorCode::kNotFound);
  EXPECT_EQ(resolve_error("abc"), ErrorCode::kNotFound);
  EXPECT_EQ(resolve_error(""), ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_error("xyz"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_error("ab cd"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_error("www.example.com"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_error("'; DROP TABLE certificates; --"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(count(), 1);
}

class InventoryQueryTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    auto add = [&](const std::string& label, const x509::Certificate& c, RecordMeta meta = {}) {
      ASSERT_TRUE(record(c, meta));
      fp_[label] = c.info().sha256_hex;
    };
    LeafSpec valid;
    valid.cn = "api.example.com";
    valid.sans = {{x509::SanType::kDns, "api.example.com"},
                  {x509::SanType::kDns, "Mixed-Case.Example.ORG"}};
    RecordMeta m;
    m.origin = Origin::kIssued;
    m.authority = "issuing";
    m.owner = "alice";
    m.team = "payments";
    m.tags = {"prod", "web-frontend"};
    add("valid", leaf(valid), m);

    LeafSpec expiring;
    expiring.cn = "soon.example.com";
    expiring.not_after = kNow + days(10);
    add("expiring", leaf(expiring));

    LeafSpec expired;
    expired.cn = "old.example.com";
    expired.not_before = kNow - days(90);
    expired.not_after = kNow - days(1);
    add("expired", leaf(expired));

    LeafSpec revoked;
    revoked.cn = "revoked.example.com";
    add("revoked", leaf(revoked));
    const store::Value params[] = {to_unix(kNow - days(1)), fp_["revoked"]};
    exec_sql(*db_,
             "UPDATE certificates SET revoked_at = ?, revocation_reason = 1 WHERE fingerprint = ?",
             params);

    LeafSpec future;
    future.cn = "future.example.com";
    future.not_before = kNow + days(5);
    future.not_after = kNow + days(100);
    add("future", leaf(future));

    TestCa other("CN=Other Issuer CA,O=Elsewhere");
    const crypto::PrivateKey rsa = make_key(crypto::KeyType::kRsa2048);
    LeafSpec rsa_spec;
    rsa_spec.cn = "legacy.internal";
    rsa_spec.not_after = kNow + days(300);
    RecordMeta m2;
    m2.origin = Origin::kDiscovered;
    m2.owner = "bob";
    m2.team = "infra";
    m2.tags = {"production", "prod-eu"};
    add("rsa", other.leaf(rsa_spec, rsa.get()), m2);
  }

  std::set<std::string> fps(std::initializer_list<const char*> labels) {
    std::set<std::string> out;
    for (const char* l : labels) out.insert(fp_.at(l));
    return out;
  }
  std::set<std::string> by_status(CertStatus s) {
    Filter f;
    f.status = s;
    return query_fps(f);
  }

  std::map<std::string, std::string> fp_;
};

TEST_F(InventoryQueryTest, NoFilterReturnsEverything) { EXPECT_EQ(query_fps({}).size(), 6u); }

TEST_F(InventoryQueryTest, StatusFilters) {
  EXPECT_EQ(by_status(CertStatus::kValid), fps({"valid", "rsa"}));
  EXPECT_EQ(by_status(CertStatus::kExpiring), fps({"expiring"}));
  EXPECT_EQ(by_status(CertStatus::kExpired), fps({"expired"}));
  EXPECT_EQ(by_status(CertStatus::kRevoked), fps({"revoked"}));
  EXPECT_EQ(by_status(CertStatus::kNotYetValid), fps({"future"}));
  EXPECT_EQ(by_status(CertStatus::kSuperseded), std::set<std::string>{});
}

TEST_F(InventoryQueryTest, StatusFilterAgreesWithRecordStatus) {
  PageRequest page;
  page.limit = 100;
  auto all = inventory_.query({}, page);
  ASSERT_TRUE(all.has_value());
  for (CertStatus s : {CertStatus::kValid, CertStatus::kExpiring, CertStatus::kExpired,
                       CertStatus::kRevoked, CertStatus::kNotYetValid}) {
    std::set<std::string> expected;
    for (const auto& r : all->items)
      if (r.status(kNow) == s) expected.insert(r.fingerprint);
    EXPECT_EQ(by_status(s), expected) << status_name(s);
  }
}

TEST_F(InventoryQueryTest, StatusFollowsTheClock) {
  clock_.advance(days(195));  // "valid" (not_after now+200d) is now expiring; "expiring" expired
  EXPECT_EQ(by_status(CertStatus::kExpiring), fps({"valid"}));
  EXPECT_EQ(by_status(CertStatus::kExpired), fps({"expiring", "expired", "future"}));
}

TEST_F(InventoryQueryTest, ExpiryWindow) {
  Filter f;
  f.expires_after = kNow;
  f.expires_before = kNow + days(150);
  EXPECT_EQ(query_fps(f), fps({"expiring", "future"}));
  Filter exact;
  exact.expires_after = kNow + days(10);    // inclusive
  exact.expires_before = kNow + days(100);  // exclusive
  EXPECT_EQ(query_fps(exact), fps({"expiring"}));
}

TEST_F(InventoryQueryTest, IssuerSubstring) {
  Filter f;
  f.issuer = "Other Issuer";
  EXPECT_EQ(query_fps(f), fps({"rsa"}));
  f.issuer = "Test CA One";
  EXPECT_EQ(query_fps(f).size(), 5u);
  f.issuer = "Nobody";
  EXPECT_TRUE(query_fps(f).empty());
}

TEST_F(InventoryQueryTest, AuthorityOwnerTeamOrigin) {
  Filter a;
  a.authority = "issuing";
  EXPECT_EQ(query_fps(a), fps({"valid"}));
  Filter o;
  o.owner = "bob";
  EXPECT_EQ(query_fps(o), fps({"rsa"}));
  Filter t;
  t.team = "payments";
  EXPECT_EQ(query_fps(t), fps({"valid"}));
  Filter g;
  g.origin = Origin::kDiscovered;
  EXPECT_EQ(query_fps(g), fps({"rsa"}));
  g.origin = Origin::kImported;
  EXPECT_EQ(query_fps(g), fps({"expiring", "expired", "revoked", "future"}));
  g.origin = Origin::kUpstream;
  EXPECT_TRUE(query_fps(g).empty());
}

TEST_F(InventoryQueryTest, KeyAlgorithmAndBits) {
  Filter f;
  f.key_algorithm = "rsa";
  EXPECT_EQ(query_fps(f), fps({"rsa"}));
  f.key_algorithm = "ECDSA";
  EXPECT_EQ(query_fps(f).size(), 5u);
  Filter b;
  b.key_bits = 2048;
  EXPECT_EQ(query_fps(b), fps({"rsa"}));
  b.key_bits = 256;
  EXPECT_EQ(query_fps(b).size(), 5u);
  Filter both;
  both.key_algorithm = "rsa";
  both.key_bits = 256;
  EXPECT_TRUE(query_fps(both).empty());
}

TEST_F(InventoryQueryTest, SearchIsCaseInsensitiveOverSubjectAndSans) {
  Filter f;
  f.search = "MIXED-case.example";
  EXPECT_EQ(query_fps(f), fps({"valid"}));
  f.search = "API.EXAMPLE.COM";
  EXPECT_EQ(query_fps(f), fps({"valid"}));
  f.search = "legacy";
  EXPECT_EQ(query_fps(f), fps({"rsa"}));
  f.search = "o=test";  // subject text
  EXPECT_EQ(query_fps(f).size(), 6u);
  f.search = "nowhere";
  EXPECT_TRUE(query_fps(f).empty());
}

TEST_F(InventoryQueryTest, TagMatchesWholeTagsOnly) {
  Filter f;
  f.tag = "prod";
  EXPECT_EQ(query_fps(f), fps({"valid"}));
  f.tag = "prod-eu";
  EXPECT_EQ(query_fps(f), fps({"rsa"}));
  f.tag = "web-frontend";
  EXPECT_EQ(query_fps(f), fps({"valid"}));
  f.tag = "web";
  EXPECT_TRUE(query_fps(f).empty());
  f.tag = "pro";
  EXPECT_TRUE(query_fps(f).empty());
  f.tag = "production";
  EXPECT_EQ(query_fps(f), fps({"rsa"}));
}

TEST_F(InventoryQueryTest, LikeWildcardCharactersAreLiteral) {
  Filter f;
  f.tag = "pr_d";
  EXPECT_TRUE(query_fps(f).empty());
  f.tag = "%";
  EXPECT_TRUE(query_fps(f).empty());
  f.tag = "prod%";
  EXPECT_TRUE(query_fps(f).empty());
  Filter search;
  search.search = "a_i.example";
  EXPECT_TRUE(query_fps(search).empty());
  search.search = "%";
  EXPECT_TRUE(query_fps(search).empty());
  Filter issuer;
  issuer.issuer = "Test%One";
  EXPECT_TRUE(query_fps(issuer).empty());
}

TEST_F(InventoryQueryTest, FiltersCombine) {
  Filter f;
  f.status = CertStatus::kValid;
  f.key_algorithm = "ecdsa";
  EXPECT_EQ(query_fps(f), fps({"valid"}));
  f.team = "infra";
  EXPECT_TRUE(query_fps(f).empty());
}

TEST_F(InventoryQueryTest, ResultsAreOrderedByNotAfter) {
  PageRequest page;
  page.limit = 100;
  auto r = inventory_.query({}, page);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->items.size(), 6u);
  EXPECT_TRUE(std::is_sorted(r->items.begin(), r->items.end(), [](const auto& a, const auto& b) {
    return a.not_after < b.not_after;
  }));
  EXPECT_EQ(r->items.front().fingerprint, fp_["expired"]);
  EXPECT_EQ(r->items.back().fingerprint, fp_["rsa"]);
}

TEST_F(InventoryTest, KeysetPaginationVisitsEveryRowOnce) {
  // 120 certificates, many sharing a not_after so that the fingerprint tie-break matters.
  std::set<std::string> all;
  for (int i = 0; i < 120; ++i) {
    LeafSpec s;
    s.cn = "host" + std::to_string(i) + ".example.com";
    s.not_after = kNow + days(30 + i % 7);
    const x509::Certificate c = leaf(s);
    ASSERT_TRUE(record(c));
    all.insert(c.info().sha256_hex);
  }
  std::vector<std::string> seen;
  PageRequest page;
  page.limit = 7;
  int pages = 0;
  for (;;) {
    auto r = inventory_.query({}, page);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    ASSERT_LE(r->items.size(), 7u);
    ++pages;
    for (const auto& c : r->items) seen.push_back(c.fingerprint);
    if (!r->next_cursor) break;
    EXPECT_EQ(r->items.size(), 7u);
    page.cursor = r->next_cursor;
    ASSERT_LT(pages, 100);
  }
  EXPECT_EQ(pages, 18);  // 17 full pages and one of 1
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all);
}

TEST_F(InventoryTest, ExactlyFullLastPageHasNoCursor) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(record(leaf()));
  PageRequest page;
  page.limit = 2;
  auto first = inventory_.query({}, page);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->next_cursor.has_value());
  page.cursor = first->next_cursor;
  auto second = inventory_.query({}, page);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->items.size(), 2u);
  EXPECT_FALSE(second->next_cursor.has_value());
}

TEST_F(InventoryTest, BadCursorAndLimit) {
  ASSERT_TRUE(record(leaf()));
  for (const char* cursor :
       {"", "garbage", ":abc", "12:", "12:xyz", "abc:",
        "12x:0000000000000000000000000000000000000000000000000000000000000000", "12:00000000"}) {
    PageRequest page;
    page.cursor = cursor;
    auto r = inventory_.query({}, page);
    ASSERT_FALSE(r.has_value()) << cursor;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << cursor;
  }
  for (int limit : {0, -5, 1001}) {
    PageRequest page;
    page.limit = limit;
    auto r = inventory_.query({}, page);
    ASSERT_FALSE(r.has_value()) << limit;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  PageRequest max;
  max.limit = 1000;
  EXPECT_TRUE(inventory_.query({}, max).has_value());
}

TEST_F(InventoryTest, ImportCertificatesAuditsEachNewCertificateOnly) {
  const std::vector<x509::Certificate> certs = {leaf(), leaf(), leaf()};
  RecordMeta meta;
  meta.owner = "carol";
  auto r = inventory_.import_certificates(certs, meta, "user:carol", "bundle.pem");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->inserted, 3);
  EXPECT_EQ(r->duplicates, 0);
  EXPECT_EQ(r->failed, 0);
  ASSERT_EQ(r->items.size(), 3u);
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(audit_events(), 3);

  auto events = audit_.list({});
  ASSERT_TRUE(events.has_value());
  std::set<std::string> audited;
  for (const auto& e : *events) {
    EXPECT_EQ(e.event.actor, "user:carol");
    EXPECT_EQ(e.event.action, "certificate.import");
    EXPECT_EQ(e.event.target_type, "certificate");
    EXPECT_EQ(e.event.details["source"], "bundle.pem");
    audited.insert(e.event.target_id);
  }
  std::set<std::string> expected;
  for (const auto& c : certs) expected.insert(c.info().sha256_hex);
  EXPECT_EQ(audited, expected);

  // Again, plus one new: only the new one is recorded and audited.
  std::vector<x509::Certificate> again = certs;
  again.push_back(leaf());
  auto r2 = inventory_.import_certificates(again, meta, "user:carol", "bundle.pem");
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->inserted, 1);
  EXPECT_EQ(r2->duplicates, 3);
  EXPECT_EQ(count(), 4);
  EXPECT_EQ(audit_events(), 4);
  int inserted_items = 0;
  for (const auto& item : r2->items) inserted_items += item.inserted ? 1 : 0;
  EXPECT_EQ(inserted_items, 1);

  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok);
  EXPECT_EQ(verified->events_checked, 4);
}

TEST_F(InventoryTest, ImportCertificatesIsAllOrNothing) {
  const Bytes serial = x509::random_serial();
  LeafSpec a;
  a.serial = serial;
  LeafSpec b = a;
  b.cn = "clash.example.com";
  RecordMeta meta;
  meta.authority = "issuing";  // same authority and serial: the second insert conflicts
  const std::vector<x509::Certificate> certs = {leaf(), leaf(a), leaf(b)};
  auto r = inventory_.import_certificates(certs, meta, "user:x", "x.pem");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(audit_events(), 0);
}

class ImportPathsTest : public InventoryTest {
 protected:
  void write(const std::string& name, std::span<const std::uint8_t> data) {
    std::filesystem::create_directories(std::filesystem::path(files_.file(name)).parent_path());
    std::ofstream out(files_.file(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  }
  void write(const std::string& name, std::string_view text) { write(name, as_bytes(text)); }

  certward::testing::TempDir files_;
};

TEST_F(ImportPathsTest, ImportsEveryFormatAndReportsFailures) {
  const x509::Certificate pem1 = leaf(), pem2 = leaf(), der = leaf(), p7a = leaf(), p7b = leaf(),
                          p12_leaf = leaf(), p12_chain = leaf(), p12_other = leaf();
  const std::vector<x509::Certificate> pem_bundle = {pem1, pem2};
  write("a/bundle.pem", x509::to_pem(pem_bundle));
  write("b.der", der.der());
  const std::vector<x509::Certificate> p7_certs = {p7a, p7b};
  auto p7 = x509::make_pkcs7(p7_certs);
  ASSERT_TRUE(p7.has_value());
  write("c.p7b", *p7);
  const std::vector<x509::Certificate> chain = {p12_chain};
  auto p12 = x509::make_pkcs12(key_, p12_leaf, chain, "right", "leaf");
  ASSERT_TRUE(p12.has_value()) << p12.error().message;
  write("d/e/good.p12", *p12);
  auto p12_bad = x509::make_pkcs12(key_, p12_other, {}, "other-password", "other");
  ASSERT_TRUE(p12_bad.has_value());
  write("wrong-password.p12", *p12_bad);
  write("garbage.pem", std::string_view("this is not a certificate\n"));

  const std::vector<std::string> paths = {files_.path().string()};
  auto r = inventory_.import_paths(paths, std::string("right"), {}, "user:importer");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->inserted, 7);
  EXPECT_EQ(r->duplicates, 0);
  EXPECT_EQ(r->failed, 2);

  std::map<std::string, ErrorCode> failures;
  std::set<std::string> imported;
  for (const auto& item : r->items) {
    if (item.error) {
      failures[std::filesystem::path(item.source).filename().string()] = item.error->code;
    } else {
      imported.insert(item.fingerprint);
    }
  }
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures["wrong-password.p12"], ErrorCode::kBadPassword);
  EXPECT_EQ(failures["garbage.pem"], ErrorCode::kMalformed);
  std::set<std::string> expected;
  for (const auto* c : {&pem1, &pem2, &der, &p7a, &p7b, &p12_leaf, &p12_chain}) {
    expected.insert(c->info().sha256_hex);
  }
  EXPECT_EQ(imported, expected);
  EXPECT_EQ(count(), 7);
  EXPECT_EQ(audit_events(), 7);

  // Everything again: all duplicates, nothing new audited.
  auto again = inventory_.import_paths(paths, std::string("right"), {}, "user:importer");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->duplicates, 7);
  EXPECT_EQ(again->failed, 2);
  EXPECT_EQ(count(), 7);
  EXPECT_EQ(audit_events(), 7);

  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->events_checked, 7);
}

TEST_F(ImportPathsTest, Pkcs12WithoutPasswordFails) {
  auto p12 = x509::make_pkcs12(key_, leaf(), {}, "pw", "x");
  ASSERT_TRUE(p12.has_value());
  write("x.p12", *p12);
  const std::vector<std::string> paths = {files_.file("x.p12")};
  auto r = inventory_.import_paths(paths, std::nullopt, {}, "user:x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->failed, 1);
  ASSERT_EQ(r->items.size(), 1u);
  ASSERT_TRUE(r->items[0].error.has_value());
  EXPECT_EQ(r->items[0].error->code, ErrorCode::kBadPassword);
  EXPECT_EQ(count(), 0);
}

TEST_F(ImportPathsTest, MissingFileIsReportedNotFatal) {
  write("one.pem", leaf().pem());
  const std::vector<std::string> paths = {files_.file("absent.pem"), files_.file("one.pem")};
  auto r = inventory_.import_paths(paths, std::nullopt, {}, "user:x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->inserted, 1);
  EXPECT_EQ(count(), 1);
}

TEST_F(ImportPathsTest, MetaIsAppliedToImportedCertificates) {
  const x509::Certificate c = leaf();
  write("one.pem", c.pem());
  RecordMeta meta;
  meta.owner = "dave";
  meta.team = "ops";
  meta.tags = {"legacy"};
  const std::vector<std::string> paths = {files_.file("one.pem")};
  auto r = inventory_.import_paths(paths, std::nullopt, meta, "user:dave");
  ASSERT_TRUE(r.has_value());
  auto got = inventory_.get(c.info().sha256_hex);
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->meta.owner, "dave");
  EXPECT_EQ((*got)->meta.team, "ops");
  EXPECT_EQ((*got)->meta.tags, std::vector<std::string>{"legacy"});
  EXPECT_EQ((*got)->meta.origin, Origin::kImported);
}

TEST(CertStatusTest, PrecedenceAndBoundaries) {
  CertificateRecord r;
  r.not_before = kNow - days(1);
  r.not_after = kNow + days(31);
  EXPECT_EQ(r.status(kNow), CertStatus::kValid);
  r.not_after = kNow + days(30);
  EXPECT_EQ(r.status(kNow), CertStatus::kExpiring);
  r.not_after = kNow;
  EXPECT_EQ(r.status(kNow), CertStatus::kExpired);
  r.not_after = kNow + days(60);
  r.not_before = kNow + seconds(1);
  EXPECT_EQ(r.status(kNow), CertStatus::kNotYetValid);
  r.superseded_by = "x";
  EXPECT_EQ(r.status(kNow), CertStatus::kSuperseded);
  r.revoked_at = kNow;
  EXPECT_EQ(r.status(kNow), CertStatus::kRevoked);
}

TEST(NamesTest, OriginAndStatusNamesRoundTrip) {
  for (Origin o : {Origin::kIssued, Origin::kImported, Origin::kDiscovered, Origin::kUpstream}) {
    EXPECT_EQ(parse_origin(origin_name(o)), o);
  }
  for (CertStatus s : {CertStatus::kValid, CertStatus::kExpiring, CertStatus::kExpired,
                       CertStatus::kRevoked, CertStatus::kSuperseded, CertStatus::kNotYetValid}) {
    EXPECT_EQ(parse_status(status_name(s)), s);
  }
  EXPECT_EQ(parse_origin("nope").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_status("nope").error().code, ErrorCode::kInvalidArgument);
}

TEST(NormalizeTags, LowerCasesDeduplicatesAndRefusesBadTags) {
  auto tags =
      normalize_tags(std::vector<std::string>{"Prod", "pci:scope", "prod", "a/b=c+d_e.f-g"});
  ASSERT_TRUE(tags) << tags.error().message;
  EXPECT_EQ(*tags, (std::vector<std::string>{"prod", "pci:scope", "a/b=c+d_e.f-g"}));
  for (const std::string& bad :
       {std::string(""), std::string("two words"), std::string("new\nline"), std::string(65, 'a'),
        std::string("comma,separated"), std::string("caf\xc3\xa9")}) {
    auto r = normalize_tags(std::vector<std::string>{bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxTags; ++i) many.push_back("t" + std::to_string(i));
  EXPECT_FALSE(normalize_tags(many));
}

class InventoryUpdateTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    RecordMeta meta;
    meta.owner = "alice";
    meta.team = "web";
    meta.tags = {"prod", "edge"};
    ASSERT_TRUE(record(cert_, meta));
  }
  Result<CertificateRecord> update(const MetadataUpdate& u) {
    return inventory_.update_metadata(cert_.info().sha256_hex, u, "user:bob");
  }
  x509::Certificate cert_ = leaf();
};

TEST_F(InventoryUpdateTest, ChangesOnlyWhatIsGivenAndAuditsTheDifference) {
  MetadataUpdate u;
  u.owner = "carol";
  u.add_tags = {"PCI", "prod"};
  u.remove_tags = {"edge"};
  auto r = update(u);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->meta.owner, "carol");
  EXPECT_EQ(r->meta.team, "web");
  EXPECT_EQ(r->meta.tags, (std::vector<std::string>{"prod", "pci"}));
  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->meta.owner, "carol");
  EXPECT_EQ((*stored)->meta.tags, r->meta.tags);

  ASSERT_EQ(audit_events(), 1);
  auto events = audit_.list({});
  ASSERT_TRUE(events && events->size() == 1);
  const auto& e = events->front();
  EXPECT_EQ(e.event.action, "certificate.update");
  EXPECT_EQ(e.event.actor, "user:bob");
  EXPECT_EQ(e.event.target_id, cert_.info().sha256_hex);
  EXPECT_EQ(e.event.details["changes"]["owner"]["from"], "alice");
  EXPECT_EQ(e.event.details["changes"]["owner"]["to"], "carol");
  EXPECT_TRUE(e.event.details["changes"].contains("tags"));
  EXPECT_FALSE(e.event.details["changes"].contains("team"));
  EXPECT_TRUE(audit_.verify()->ok);

  // Tags, owner and team can be replaced and cleared; the tag filter sees the new set.
  MetadataUpdate clear;
  clear.owner = "";
  clear.team = "";
  clear.tags = std::vector<std::string>{"Blue"};
  r = update(clear);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->meta.owner);
  EXPECT_FALSE(r->meta.team);
  EXPECT_EQ(r->meta.tags, (std::vector<std::string>{"blue"}));
  Filter f;
  f.tag = "blue";
  EXPECT_EQ(query_fps(f).size(), 1u);
  f.tag = "prod";
  EXPECT_TRUE(query_fps(f).empty());
  EXPECT_EQ(audit_events(), 2);
}

// The editor's team is checked on the row as read under its lock: a certificate that is not
// (or no longer) the team's is absent to it, and it cannot be moved out of the team.
TEST_F(InventoryUpdateTest, TeamScopedEditorsStayInsideTheirTeam) {
  const auto events = certward::testing::count_rows(*db_, "audit_events");
  MetadataUpdate other;
  other.editor_team = "payments";
  other.add_tags = {"mine"};
  auto absent = update(other);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  // Claiming it for the editor's own team is no way in either.
  other.team = "payments";
  absent = update(other);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);

  for (std::string out : {"payments", ""}) {
    MetadataUpdate move;
    move.editor_team = "web";
    move.team = out;
    auto refused = update(move);
    ASSERT_FALSE(refused) << out;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthorized) << out;
  }
  EXPECT_EQ(certward::testing::count_rows(*db_, "audit_events"), events);

  MetadataUpdate own;
  own.editor_team = "web";
  own.team = "web";
  own.add_tags = {"labelled"};
  auto ok = update(own);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->meta.team, "web");
}

TEST_F(InventoryUpdateTest, NoChangeWritesNothing) {
  MetadataUpdate same;
  same.owner = "alice";
  same.add_tags = {"PROD"};
  auto r = update(same);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(audit_events(), 0);
}

TEST_F(InventoryUpdateTest, BadInputChangesNothing) {
  MetadataUpdate bad_tag;
  bad_tag.add_tags = {"has space"};
  MetadataUpdate bad_owner;
  bad_owner.owner = std::string("line\nbreak");
  MetadataUpdate long_team;
  long_team.team = std::string(300, 't');
  for (const MetadataUpdate* u : {&bad_tag, &bad_owner, &long_team}) {
    auto r = update(*u);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  auto missing = inventory_.update_metadata(std::string(64, 'f'), MetadataUpdate{}, "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(audit_events(), 0);
  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->meta.owner, "alice");
  EXPECT_EQ((*stored)->meta.tags, (std::vector<std::string>{"prod", "edge"}));
}

TEST_F(InventoryUpdateTest, ConcurrentTagEditsLoseNothingAndAuditEachStep) {
  // Each edit reads the tags, adds one and writes them back: without a row lock two editors
  // read the same tags and the second write drops the first one's tag (PostgreSQL).
  constexpr int kEditors = 24;
  std::vector<std::thread> editors;
  std::vector<std::optional<Error>> errors(kEditors);
  for (int i = 0; i < kEditors; ++i) {
    editors.emplace_back([&, i] {
      MetadataUpdate u;
      u.add_tags = {"t" + std::to_string(i)};
      auto r = inventory_.update_metadata(cert_.info().sha256_hex, u, "user:" + std::to_string(i));
      if (!r) errors[static_cast<std::size_t>(i)] = r.error();
    });
  }
  for (auto& t : editors) t.join();
  for (const auto& e : errors) EXPECT_FALSE(e.has_value()) << e->message;

  auto stored = inventory_.get(cert_.info().sha256_hex);
  ASSERT_TRUE(stored && *stored);
  const std::vector<std::string>& tags = (*stored)->meta.tags;
  const std::set<std::string> kept(tags.begin(), tags.end());
  EXPECT_EQ(tags.size(), static_cast<std::size_t>(kEditors) + 2);
  EXPECT_TRUE(kept.contains("prod") && kept.contains("edge"));
  for (int i = 0; i < kEditors; ++i) EXPECT_TRUE(kept.contains("t" + std::to_string(i))) << i;

  // One event per edit, in commit order: each one's "from" is the previous one's "to".
  audit::EventFilter f;
  f.newest_first = false;
  f.limit = 1000;
  auto events = audit_.list(f);
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), static_cast<std::size_t>(kEditors));
  nlohmann::json state = std::vector<std::string>{"prod", "edge"};
  for (const auto& e : *events) {
    const nlohmann::json& change = e.event.details["changes"]["tags"];
    EXPECT_EQ(change["from"], state) << "event " << e.seq;
    EXPECT_EQ(change["to"].size(), change["from"].size() + 1) << "event " << e.seq;
    state = change["to"];
  }
  EXPECT_EQ(state, nlohmann::json(tags));
  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

}  // namespace
}  // namespace certward::inventory
