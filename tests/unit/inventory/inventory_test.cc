#include "inventory/inventory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "unit/inventory/fixture.h"

namespace certward::inventory {
namespace {

using namespace inventory_testing;  // NOLINT: the shared fixture
using certward::testing::exec_sql;
using certward::testing::kT0;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;

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
  meta.channel = "acme";
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
  EXPECT_EQ(r.meta.channel, "acme");
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
  search.search = "%%%";
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

// Latest expiry first walks the same rows backwards, page by page; a cursor of one order is
// refused by the other, which would otherwise skip or repeat rows.
TEST_F(InventoryTest, LatestFirstPagesAreTheReverseOrder) {
  for (int i = 0; i < 23; ++i) {
    LeafSpec s;
    s.cn = "host" + std::to_string(i) + ".example.com";
    s.not_after = kNow + days(30 + i % 5);  // ties, ordered by fingerprint
    ASSERT_TRUE(record(leaf(s)));
  }
  auto walk = [&](bool latest_first) {
    std::vector<std::string> out;
    PageRequest page;
    page.limit = 4;
    page.latest_first = latest_first;
    for (int guard = 0; guard < 20; ++guard) {
      auto r = inventory_.query({}, page);
      EXPECT_TRUE(r.has_value()) << r.error().message;
      if (!r) break;
      for (const auto& c : r->items) out.push_back(c.fingerprint);
      if (!r->next_cursor) break;
      page.cursor = r->next_cursor;
    }
    return out;
  };
  auto soonest = walk(false);
  auto latest = walk(true);
  ASSERT_EQ(soonest.size(), 23u);
  std::reverse(latest.begin(), latest.end());
  EXPECT_EQ(latest, soonest);

  PageRequest up;
  up.limit = 4;
  auto first = inventory_.query({}, up);
  ASSERT_TRUE(first.has_value() && first->next_cursor);
  PageRequest down = up;
  down.latest_first = true;
  down.cursor = first->next_cursor;
  auto mixed = inventory_.query({}, down);
  ASSERT_FALSE(mixed.has_value());
  EXPECT_EQ(mixed.error().code, ErrorCode::kInvalidArgument);
  down.cursor = "d" + *first->next_cursor;
  up.cursor = down.cursor;
  EXPECT_FALSE(inventory_.query({}, up).has_value());
  EXPECT_TRUE(inventory_.query({}, down).has_value());
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
        "12x:0000000000000000000000000000000000000000000000000000000000000000", "12:00000000",
        // Only what the server writes: no spaces, plus signs or upper-case hex.
        " 12:0000000000000000000000000000000000000000000000000000000000000000",
        "+12:0000000000000000000000000000000000000000000000000000000000000000",
        "12:ABCDEF0000000000000000000000000000000000000000000000000000000000",
        "d12:0000000000000000000000000000000000000000000000000000000000000000"}) {
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
  // A malformed cursor is called so, whatever its first letter.
  for (const char* cursor : {"d", "d-", "dgarbage"}) {
    PageRequest page;
    page.cursor = cursor;
    auto r = inventory_.query({}, page);
    ASSERT_FALSE(r.has_value()) << cursor;
    EXPECT_EQ(r.error().message, "bad cursor") << cursor;
  }
  PageRequest max;
  max.limit = 1000;
  EXPECT_TRUE(inventory_.query({}, max).has_value());
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

}  // namespace
}  // namespace certward::inventory
