// Search and the list filters over the same certificates on two databases at once: the suite's
// scratch database (PostgreSQL under scripts/with-postgres.sh, else SQLite) and a SQLite file.
// Each filter must give the expected answer, and the same answer, in the same order, on both.

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <span>
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
  bool latest_first = false;
  std::vector<std::string> both(const Filter& f) {
    auto walk = [&](const Inventory& inv) {
      std::vector<std::string> out;
      PageRequest page;
      page.limit = 2;
      page.latest_first = latest_first;
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
    // Latest expiry first: the same rows backwards, through the same index walked the other way.
    latest_first = true;
    auto back = walk(inventory_);
    EXPECT_EQ(back, walk(sqlite_inventory_));
    latest_first = false;
    std::reverse(back.begin(), back.end());
    EXPECT_EQ(back, here);
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

  // SQLite's plan for `sql`, its details one per line ("" when it cannot be had: a failure).
  std::string sqlite_plan(std::string_view sql, std::span<const store::Value> params) {
    auto tx = sqlite_->begin(store::TxMode::kRead);
    EXPECT_TRUE(tx.has_value());
    if (!tx) return {};
    auto plan = (*tx)->query("EXPLAIN QUERY PLAN " + std::string(sql), params);
    EXPECT_TRUE(plan.has_value()) << (plan ? "" : plan.error().message);
    std::string text;
    if (plan) {
      for (const auto& row : *plan) text += row.text(3) + "\n";
    }
    return text;
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

// GLOB's wildcards, which the trigram table's filter is written in, match only themselves.
TEST_F(SearchParityTest, GlobWildcardsAreLiteral) {
  add("glob", "glob*star?[x] and [a-z]", {"glob.test"}, 60);
  EXPECT_EQ(search("b*s"), Labels{"glob"});
  EXPECT_EQ(search("r?[x]"), Labels{"glob"});
  EXPECT_EQ(search("[a-z]"), Labels{"glob"});
  EXPECT_TRUE(search("g*r").empty());
  EXPECT_TRUE(search("gl?b").empty());
  EXPECT_TRUE(search("[g]lob").empty());
  EXPECT_TRUE(search("***").empty());
  EXPECT_TRUE(search("??????").empty());
  Filter f;
  f.issuer = "parity*";
  EXPECT_TRUE(both(f).empty());
  f.issuer = "parity issuing";
  EXPECT_EQ(both(f).size(), 6u);
}

// The sparse indexes (inventory migration 12) hold only rows with a value; the queries that
// read them must still be planned through them, which SQLite does only when it can tell
// that the query's condition implies the index's.
TEST_F(SearchParityTest, SparseIndexesServeTheirQueries) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"SELECT fingerprint FROM certificates WHERE team = ? ORDER BY not_after, fingerprint "
       "LIMIT 3",
       "certificates_team_expiry"},
      {"SELECT fingerprint FROM certificates WHERE owner = ? ORDER BY not_after, fingerprint "
       "LIMIT 3",
       "certificates_owner_expiry"},
      {"SELECT fingerprint FROM certificates WHERE authority = ? ORDER BY not_after, "
       "fingerprint LIMIT 3",
       "certificates_authority_expiry"},
      {"SELECT serial FROM certificates WHERE authority = ? AND revoked_at IS NOT NULL",
       "certificates_authority_revoked"},
      {"SELECT fingerprint FROM certificates WHERE revoke_at <= ? AND revoked_at IS NULL "
       "ORDER BY revoke_at",
       "certificates_revoke_at"},
      {"SELECT fingerprint FROM certificates WHERE revoked_at >= ? AND authority IS NOT NULL "
       "ORDER BY revoked_at, fingerprint",
       "certificates_revoked_at"},
  };
  for (const auto& [sql, index] : cases) {
    const store::Value param[] = {std::string("x")};
    const std::string text = sqlite_plan(sql, param);
    EXPECT_NE(text.find(std::string(index)), std::string::npos) << sql << "\n" << text;
  }
}

// A listing with several column filters walks the index of the one matching the fewest rows
// (SQLite), and answers nothing at once when one matches none: the same rows either way.
TEST_F(SearchParityTest, SeveralColumnFiltersAgreeWhicheverIndexIsWalked) {
  Filter f;
  f.team = "infra";
  f.key_bits = 8192;
  EXPECT_TRUE(both(f).empty());
  f.key_bits = 256;
  EXPECT_EQ(both(f), Labels{"bucher"});
  f.tag = "prod";
  EXPECT_EQ(both(f), Labels{"bucher"});
  Filter g;
  g.team = "pay%ments";
  g.owner = "o'brien";
  g.origin = Origin::kIssued;
  g.authority = "issuing";
  EXPECT_EQ(both(g), Labels{"quotes"});
  g.owner = "bob";  // bob exists, in another team
  EXPECT_TRUE(both(g).empty());
  Filter h;
  h.key_bits = 256;
  h.origin = Origin::kDiscovered;
  EXPECT_EQ(both(h), Labels{"bucher"});
  h.key_algorithm = "NOPE";
  EXPECT_TRUE(both(h).empty());
}

// What the choice relies on: SQLite's unary plus keeps a column's index out of the plan.
TEST_F(SearchParityTest, AUnaryPlusKeepsAColumnIndexOutOfThePlan) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"team = ? AND +key_bits = ?", "certificates_team_expiry"},
      {"+team = ? AND key_bits = ?", "certificates_key_bits_expiry"},
  };
  for (const auto& [where, index] : cases) {
    const store::Value params[] = {std::string("infra"), std::int64_t{8192}};
    const std::string text = sqlite_plan("SELECT fingerprint FROM certificates WHERE " +
                                             std::string(where) +
                                             " ORDER BY not_after, fingerprint LIMIT 3",
                                         params);
    EXPECT_NE(text.find(std::string(index)), std::string::npos) << where << "\n" << text;
  }
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
  // A NUL would end the FTS5 query (SQLite) or the parameter (PostgreSQL) early; a control
  // character in a search is nobody's typing.
  EXPECT_EQ(search_error(std::string("h\0st", 4)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(search_error("com\nwww"), ErrorCode::kInvalidArgument);
  // Every trigram of a long text is an index walk: bounded.
  EXPECT_EQ(search_error(std::string(257, 'a')), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(search(std::string(256, 'a')).empty());
  Filter f;
  f.issuer = "CA";
  EXPECT_FALSE(inventory_.query(f, PageRequest{}).has_value());
  for (auto label : {&Filter::owner, &Filter::team, &Filter::tag, &Filter::authority}) {
    Filter g;
    g.*label = std::string("web\0zz", 6);
    auto r = inventory_.query(g, PageRequest{});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(search(""), (Labels{"bucher", "tokyo", "quotes", "plain", "percent"}));
}

TEST_F(SearchParityTest, WithinATeamTheSearchWalksTheTeamAndFindsTheSame) {
  // The team's rows are walked, not the index over every team's names: the same answers.
  Filter f;
  f.search = "example";
  f.team = "infra";
  EXPECT_EQ(both(f), Labels{"bucher"});
  f.team = "pay%ments";
  EXPECT_EQ(both(f), Labels{"quotes"});
  f.search = "bücher";
  EXPECT_TRUE(both(f).empty());
  f.search = std::nullopt;
  f.issuer = "parity issuing";
  EXPECT_EQ(both(f), Labels{"quotes"});
  f.issuer = std::nullopt;
  f.tag = "PROD";
  EXPECT_EQ(both(f), Labels{"quotes"});
  f.team = "nobody-has-this-team";
  EXPECT_TRUE(both(f).empty());
}

TEST_F(SearchParityTest, AnEmptyTagSelectsTheCertificatesWithoutTags) {
  Filter f;
  f.tag = "";
  EXPECT_EQ(both(f), (Labels{"tokyo", "plain", "percent"}));
  f.team = "infra";
  EXPECT_TRUE(both(f).empty());
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

// Certificates recorded before migration 9 are found once it runs: it is undone here on a
// filled inventory (its objects dropped, its version and the later ones forgotten) and run
// again.
TEST_F(InventoryTest, SearchMigrationBackfillsExistingRows) {
  LeafSpec spec;
  spec.cn = "Backfilled.Example.NET";
  RecordMeta meta;
  meta.tags = {"old-tag", "second"};
  const x509::Certificate cert = leaf(spec);
  ASSERT_TRUE(record(cert, meta));
  std::string undo =
      "DROP INDEX certificates_owner_expiry; DROP INDEX certificates_team_expiry; "
      "DROP INDEX certificates_origin_expiry; DROP INDEX certificates_authority_expiry; "
      "DROP INDEX certificates_key_algorithm_expiry; DROP INDEX certificates_key_bits_expiry; "
      "CREATE INDEX certificates_owner ON certificates (owner); "
      "CREATE INDEX certificates_team ON certificates (team); DROP TABLE certificate_tags; "
      "DROP INDEX certificates_ekus_missing; ";
  undo += db_.is_postgres()
              ? "DROP INDEX certificates_search_trgm; DROP INDEX certificates_issuer_trgm; "
              : "DROP TRIGGER certificates_search_insert; DROP TRIGGER certificates_search_update; "
                "DROP TRIGGER certificates_search_delete; DROP TABLE certificate_search; "
                "DROP TABLE certificate_search_backlog; ";
  undo +=
      "ALTER TABLE certificates DROP COLUMN issuer_folded; "
      "DELETE FROM schema_migrations WHERE module = 'inventory' AND version >= 9";
  {
    auto tx = db_->begin();
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE((*tx)->execute_script(undo).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  ASSERT_TRUE(Inventory::migrate(*db_).has_value());

  const std::set<std::string> want = {cert.info().sha256_hex};
  Filter search;
  search.search = "backfilled.EXAMPLE";
  EXPECT_EQ(query_fps(search), want);
  Filter issuer;
  issuer.issuer = "test ca one";
  EXPECT_EQ(query_fps(issuer), want);
  for (const char* tag : {"old-tag", "second"}) {
    Filter f;
    f.tag = tag;
    EXPECT_EQ(query_fps(f), want) << tag;
  }
}

// On SQLite new rows reach the trigram table through a backlog, 256 at a time (inventory
// migration 13): a search finds a row whether it is still in the backlog or already moved, a
// row changed while in the backlog is found by its new text only, and one deleted there is
// gone from both.
TEST_F(InventoryTest, SearchFindsRowsInTheBacklogAndAfterItMoves) {
  auto name_of = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "backlog-%03d.example", i);
    return std::string(buf);
  };
  auto search = [&](const std::string& text) {
    Filter f;
    f.search = text;
    return query_fps(f);
  };
  auto sql_count = [&](const std::string& sql, const std::string& fingerprint) {
    auto tx = db_->begin();
    CW_CHECK(tx.has_value());
    const store::Value params[] = {fingerprint};
    auto row = (*tx)->query_one(sql, params);
    CW_CHECK(row.has_value() && row->has_value());
    return (*row)->int64(0);
  };
  auto execute = [&](const std::string& sql, const std::string& fingerprint) {
    auto tx = db_->begin();
    CW_CHECK(tx.has_value());
    const store::Value params[] = {fingerprint};
    ASSERT_TRUE((*tx)->execute(sql, params).has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  };
  const bool sqlite = !db_.is_postgres();
  std::vector<std::string> fingerprints;
  auto add_rows = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      LeafSpec spec;
      spec.cn = name_of(i);
      const x509::Certificate cert = leaf(spec);
      ASSERT_TRUE(record(cert));
      fingerprints.push_back(cert.info().sha256_hex);
    }
  };
  add_rows(0, 10);
  ASSERT_EQ(fingerprints.size(), 10u);
  EXPECT_EQ(search("backlog-00").size(), 10u);
  EXPECT_EQ(search("BACKLOG-007").size(), 1u);
  if (sqlite) {
    EXPECT_EQ(sql_count("SELECT count(*) FROM certificate_search_backlog WHERE fingerprint = ?",
                        fingerprints[7]),
              1);
  }

  // Changed and deleted while in the backlog.
  execute(
      "UPDATE certificates SET search_text = 'renamed-in-backlog.example' WHERE "
      "fingerprint = ?",
      fingerprints[3]);
  execute("DELETE FROM certificates WHERE fingerprint = ?", fingerprints[4]);
  EXPECT_EQ(search("renamed-in-backlog"), (std::set<std::string>{fingerprints[3]}));
  EXPECT_EQ(search("backlog-003").size(), 0u);
  EXPECT_EQ(search("backlog-004").size(), 0u);

  add_rows(10, 300);
  ASSERT_EQ(fingerprints.size(), 300u);
  EXPECT_EQ(search("backlog-").size(), 298u);  // 300, one renamed, one deleted
  EXPECT_EQ(search("backlog-299").size(), 1u);
  EXPECT_EQ(search("renamed-in-backlog"), (std::set<std::string>{fingerprints[3]}));
  if (sqlite) {
    // The 257 rows recorded first, less the deleted one, moved together, each once; the other
    // 43 wait in the backlog.
    EXPECT_EQ(
        sql_count("SELECT count(*) FROM certificate_search WHERE fingerprint = ?", fingerprints[3]),
        1);
    EXPECT_EQ(
        sql_count("SELECT count(*) FROM certificate_search WHERE fingerprint = ?", fingerprints[4]),
        0);
    EXPECT_EQ(
        sql_count("SELECT count(*) FROM certificate_search WHERE fingerprint = ?", fingerprints[0]),
        1);
    EXPECT_EQ(
        sql_count("SELECT count(*) FROM certificate_search_backlog WHERE fingerprint <> ?", ""),
        300 - 257);
  }
}

// A filter matching thousands of rows is answered by walking the expiry order and checking each
// row, one matching few through its index: both give the same rows, in order, page by page.
TEST_F(InventoryTest, BroadAndNarrowFiltersListAlike) {
  constexpr int kRows = 2100;
  const std::string fingerprint =
      db_.is_postgres() ? "lpad(i::text, 64, '0')" : "printf('%064d', i)";
  const std::string rows =
      "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
      std::to_string(kRows) + ") ";
  exec_sql(*db_,
           rows +
               "INSERT INTO certificates (fingerprint, der, serial, subject, common_name, issuer, "
               "issuer_folded, sans, search_text, not_before, not_after, key_algorithm, "
               "key_bits, key_curve, signature_algorithm, is_ca, origin, tags, created_at, "
               "updated_at) SELECT " +
               fingerprint +
               ", ?, 'ab', 'CN=Bulk' || i, 'Bulk' || i, 'CN=Bulk CA', 'cn=bulk ca', '', "
               "'cn=bulk' || i, 0, 2000000000 + i % 97, 'ecdsa', 256, 'P-256', 'x', 0, "
               "'imported', 'bulk', 0, 0 FROM n",
           store::params(Bytes{0x30, 0x00}));
  exec_sql(*db_, rows +
                     "INSERT INTO certificate_tags (tag, not_after, fingerprint) SELECT "
                     "'bulk', 2000000000 + i % 97, " +
                     fingerprint + " FROM n");

  auto walk = [&](const Filter& f) {
    std::vector<std::string> out;
    PageRequest page;
    page.limit = 400;
    for (;;) {
      auto r = inventory_.query(f, page);
      EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
      if (!r) return out;
      for (const auto& c : r->items) out.push_back(c.common_name);
      if (!r->next_cursor) return out;
      page.cursor = r->next_cursor;
    }
  };
  auto expected = [&](auto keep) {
    std::vector<std::pair<int, std::string>> v;
    for (int i = 1; i <= kRows; ++i) {
      char fp[65];
      std::snprintf(fp, sizeof fp, "%064d", i);
      if (keep(i)) v.emplace_back(i % 97, fp);
    }
    std::sort(v.begin(), v.end());
    std::vector<std::string> names;
    for (const auto& [_, fp] : v) names.push_back("Bulk" + std::to_string(std::stoi(fp)));
    return names;
  };
  auto all = [](int) { return true; };
  Filter search;
  search.search = "BULK";
  EXPECT_EQ(walk(search), expected(all));
  Filter tag;
  tag.tag = "bulk";
  EXPECT_EQ(walk(tag), expected(all));
  Filter issuer;
  issuer.issuer = "bulk ca";
  EXPECT_EQ(walk(issuer), expected(all));
  Filter narrow;
  narrow.search = "bulk17";
  narrow.tag = "bulk";
  EXPECT_EQ(walk(narrow), expected([](int i) { return std::to_string(i).starts_with("17"); }));
  Filter none;
  none.search = "bulk";
  none.tag = "nothing";
  EXPECT_TRUE(walk(none).empty());
}

}  // namespace
}  // namespace certward::inventory
