// Search and the list filters over the same certificates on two databases at once: the suite's
// scratch database (PostgreSQL under scripts/with-postgres.sh, else SQLite) and a SQLite file.
// Each filter must give the expected answer, and the same answer, in the same order, on both.

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "unit/inventory/fixture.h"

namespace certward::inventory {
namespace {

using namespace inventory_testing;  // NOLINT: the shared fixture

// A subject with one CN taken byte for byte (no DN-string escaping), so that names with
// quotes, backslashes and non-ASCII letters reach the inventory as written.
crypto::X509NamePtr cn_name(const std::string& cn) {
  crypto::X509NamePtr n(X509_NAME_new());
  CW_CHECK(X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(cn.data()),
                                      static_cast<int>(cn.size()), -1, 0) == 1);
  CW_CHECK(X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>("Search"), -1, -1,
                                      0) == 1);
  return n;
}

class SearchParityTest : public InventoryTest {
 protected:
  void SetUp() override {
    InventoryTest::SetUp();
    ASSERT_TRUE(audit::AuditLog::migrate(*sqlite_).has_value());
    ASSERT_TRUE(Inventory::migrate(*sqlite_).has_value());
    RecordMeta infra;
    infra.origin = Origin::kDiscovered;
    infra.owner = "bob";
    infra.team = "infra";
    infra.tags = {"prod", "eu_west"};
    add("bucher", "Bücher Verlag", {"xn--bcher-kva.example"}, 10, infra);
    add("tokyo", "東京オフィス", {"tokyo.example.jp"}, 20);
    RecordMeta pay;
    pay.origin = Origin::kIssued;
    pay.authority = "issuing";
    pay.owner = "o'brien";
    pay.team = "pay%ments";
    pay.tags = {"prod"};
    add("quotes", "100%_o'brien \"quoted\" back\\slash", {"quoted.example.com"}, 30, pay);
    add("plain", "www.example.com", {"www.example.com", "API.Example.COM"}, 40, {},
        Bytes{0x7a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78});
    add("percent", "50% off", {"sale.example.com"}, 50);
  }

  void add(const std::string& label, const std::string& cn, const std::vector<std::string>& dns,
           int days_left, const RecordMeta& meta = {}, Bytes serial = {}) {
    x509::CertificateTemplate t = certward::testing::leaf_template(key_.get());
    t.subject = cn_name(cn);
    t.sans.clear();
    for (const auto& d : dns) t.sans.push_back({x509::SanType::kDns, d});
    t.not_before = kNow - days(1);
    t.not_after = kNow + days(days_left);
    if (!serial.empty()) t.serial = serial;
    x509::LintRules rules;
    rules.max_validity = days(3650);
    const x509::Certificate cert = certward::testing::issue(t, &parity_ca_, ca_key_, rules);
    ASSERT_TRUE(record(cert, meta));
    auto tx = sqlite_->begin();
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE(sqlite_inventory_.record(**tx, cert, meta).value_or(false));
    ASSERT_TRUE((*tx)->commit().has_value());
    label_[cert.info().sha256_hex] = label;
    fp_[label] = cert.info().sha256_hex;
  }

  // The labels `f` lists on the scratch database, in list order, after checking the SQLite
  // inventory lists the same, page by page (two a page, following the cursor).
  std::vector<std::string> both(const Filter& f) {
    auto walk = [&](const Inventory& inv) {
      std::vector<std::string> out;
      PageRequest page;
      page.limit = 2;
      for (int guard = 0; guard < 10; ++guard) {
        auto r = inv.query(f, page);
        EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
        if (!r) break;
        for (const auto& c : r->items) out.push_back(label_.at(c.fingerprint));
        if (!r->next_cursor) break;
        page.cursor = r->next_cursor;
      }
      return out;
    };
    auto here = walk(inventory_);
    EXPECT_EQ(here, walk(sqlite_inventory_));
    return here;
  }
  std::vector<std::string> search(const std::string& text) {
    Filter f;
    f.search = text;
    return both(f);
  }
  ErrorCode search_error(const std::string& text) {
    Filter f;
    f.search = text;
    auto r = inventory_.query(f, PageRequest{});
    auto s = sqlite_inventory_.query(f, PageRequest{});
    EXPECT_FALSE(r.has_value()) << text;
    EXPECT_FALSE(s.has_value()) << text;
    if (r || s) return ErrorCode::kInternal;
    EXPECT_EQ(r.error().code, s.error().code);
    return r.error().code;
  }

  using Labels = std::vector<std::string>;
  certward::testing::TempDir dir_;
  std::unique_ptr<store::Database> sqlite_ = certward::testing::open_test_db(dir_);
  audit::AuditLog sqlite_audit_{clock_, *sqlite_};
  Inventory sqlite_inventory_{clock_, *sqlite_, sqlite_audit_};
  crypto::PrivateKey ca_key_ = make_key();
  x509::Certificate parity_ca_ =
      certward::testing::self_signed_ca(ca_key_, "CN=Parity Issuing CA,O=Test");
  std::map<std::string, std::string> label_;
  std::map<std::string, std::string> fp_;
};

TEST_F(SearchParityTest, SubstringFoldsAsciiCaseOnly) {
  EXPECT_EQ(search("api.example"), Labels{"plain"});
  EXPECT_EQ(search("API.EXAMPLE.com"), Labels{"plain"});
  EXPECT_EQ(search("bücher"), Labels{"bucher"});
  EXPECT_EQ(search("BüCHER"), Labels{"bucher"});
  // Non-ASCII letters match exactly as written: Ü is not folded to ü.
  EXPECT_TRUE(search("BÜCHER").empty());
  EXPECT_EQ(search("東京オ"), Labels{"tokyo"});
  EXPECT_EQ(search("xn--bcher"), Labels{"bucher"});
  EXPECT_EQ(search("example"), (Labels{"bucher", "tokyo", "quotes", "plain", "percent"}));
  EXPECT_TRUE(search("nowhere-at-all").empty());
}

TEST_F(SearchParityTest, WildcardsQuotesAndBackslashesAreLiteral) {
  EXPECT_EQ(search("100%_o"), Labels{"quotes"});
  EXPECT_EQ(search("0%_"), Labels{"quotes"});
  EXPECT_EQ(search("0% "), Labels{"percent"});
  EXPECT_TRUE(search("100%o").empty());
  EXPECT_TRUE(search("1_0").empty());
  EXPECT_TRUE(search("%%%").empty());
  EXPECT_TRUE(search("___").empty());
  EXPECT_EQ(search("o'brien"), Labels{"quotes"});
  // The subject is searched as it is shown: an RFC 4514 string, whose quotes and backslashes
  // are escaped with a backslash.
  EXPECT_EQ(search("\\\"quoted\\\""), Labels{"quotes"});
  EXPECT_EQ(search("back\\\\slash"), Labels{"quotes"});
  EXPECT_TRUE(search("back\\slash").empty());
  EXPECT_TRUE(search("' OR 1=1 --").empty());
}

TEST_F(SearchParityTest, HexFindsFingerprintAndSerialPrefixes) {
  const std::string fp = fp_.at("tokyo");
  EXPECT_EQ(search(fp.substr(0, 10)), Labels{"tokyo"});
  EXPECT_EQ(search(fp), Labels{"tokyo"});
  EXPECT_EQ(search("7abcdef0"), Labels{"plain"});
  EXPECT_EQ(search("7A:BC:DE"), Labels{"plain"});
}

TEST_F(SearchParityTest, ShortOrMalformedSearchIsRefused) {
  EXPECT_EQ(search_error("ab"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(search_error("%"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(search_error("東京"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(search_error("ab\xff"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(search_error("\xc3\xa9\xc3"), ErrorCode::kInvalidArgument);
  Filter f;
  f.issuer = "CA";
  EXPECT_FALSE(inventory_.query(f, PageRequest{}).has_value());
  EXPECT_EQ(search(""), (Labels{"bucher", "tokyo", "quotes", "plain", "percent"}));
}

TEST_F(SearchParityTest, FiltersAgree) {
  Filter issuer;
  issuer.issuer = "parity ISSUING";
  EXPECT_EQ(both(issuer).size(), 5u);
  issuer.issuer = "Nobody";
  EXPECT_TRUE(both(issuer).empty());
  Filter tag;
  tag.tag = "PROD";
  EXPECT_EQ(both(tag), (Labels{"bucher", "quotes"}));
  tag.tag = "eu_west";
  EXPECT_EQ(both(tag), Labels{"bucher"});
  tag.tag = "eu%west";
  EXPECT_TRUE(both(tag).empty());
  Filter owner;
  owner.owner = "o'brien";
  EXPECT_EQ(both(owner), Labels{"quotes"});
  Filter team;
  team.team = "pay%ments";
  EXPECT_EQ(both(team), Labels{"quotes"});
  team.team = "pay_ments";
  EXPECT_TRUE(both(team).empty());
  Filter origin;
  origin.origin = Origin::kImported;
  EXPECT_EQ(both(origin), (Labels{"tokyo", "plain", "percent"}));
  Filter authority;
  authority.authority = "issuing";
  EXPECT_EQ(both(authority), Labels{"quotes"});
  Filter key;
  key.key_algorithm = "ECDSA";
  key.key_bits = 256;
  EXPECT_EQ(both(key).size(), 5u);
  key.key_bits = 4096;
  EXPECT_TRUE(both(key).empty());
  Filter combined;
  combined.search = "example";
  combined.tag = "prod";
  combined.expires_before = kNow + days(35);
  EXPECT_EQ(both(combined), (Labels{"bucher", "quotes"}));
}

TEST_F(SearchParityTest, EveryWritePathIsSearchable) {
  // Import: through record(), in the import's transaction.
  x509::CertificateTemplate t = certward::testing::leaf_template(key_.get());
  t.subject = cn_name("imported-ünique.example");
  t.sans = {{x509::SanType::kDns, "imported-unique.example"}};
  t.not_before = kNow - days(1);
  t.not_after = kNow + days(60);
  x509::LintRules rules;
  rules.max_validity = days(3650);
  const std::vector<x509::Certificate> certs = {
      certward::testing::issue(t, &parity_ca_, ca_key_, rules)};
  RecordMeta meta;
  meta.tags = {"imported-tag"};
  for (const Inventory* inv : {&inventory_, &sqlite_inventory_}) {
    auto r = inv->import_certificates(certs, meta, "user:test", "bundle.pem");
    ASSERT_TRUE(r.has_value()) << r.error().message;
  }
  label_[certs[0].info().sha256_hex] = "imported";
  EXPECT_EQ(search("IMPORTED-ü"), Labels{"imported"});
  Filter tag;
  tag.tag = "imported-tag";
  EXPECT_EQ(both(tag), Labels{"imported"});

  // A metadata update moves the certificate between tags at once.
  MetadataUpdate u;
  u.add_tags = {"moved"};
  u.remove_tags = {"imported-tag"};
  for (const Inventory* inv : {&inventory_, &sqlite_inventory_}) {
    ASSERT_TRUE(inv->update_metadata(certs[0].info().sha256_hex, u, "user:test").has_value());
  }
  EXPECT_TRUE(both(tag).empty());
  tag.tag = "moved";
  EXPECT_EQ(both(tag), Labels{"imported"});
  MetadataUpdate clear;
  clear.tags = std::vector<std::string>{};
  ASSERT_TRUE(
      inventory_.update_metadata(certs[0].info().sha256_hex, clear, "user:test").has_value());
  ASSERT_TRUE(sqlite_inventory_.update_metadata(certs[0].info().sha256_hex, clear, "user:test")
                  .has_value());
  EXPECT_TRUE(both(tag).empty());
}

}  // namespace
}  // namespace certward::inventory
