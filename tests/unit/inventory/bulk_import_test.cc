// Bulk import (ImportMode::kBulk, SQLite): the same rows, search rows and audit events as a
// batched import, the indexes and the search trigger back exactly as they were, and nothing at
// all after an error. A stop: import_test.cc.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "inventory/inventory.h"
#include "unit/inventory/fixture.h"

namespace certward::inventory {
namespace {

using namespace inventory_testing;  // NOLINT: the shared fixture

LeafSpec named(std::string cn, Bytes serial = {}) {
  LeafSpec spec;
  spec.cn = std::move(cn);
  spec.serial = std::move(serial);
  return spec;
}

class BulkImportTest : public InventoryTest {
 protected:
  void write(const std::string& name, std::string_view text) {
    std::filesystem::create_directories(std::filesystem::path(files_.file(name)).parent_path());
    std::ofstream(files_.file(name), std::ios::binary) << text;
  }

  // Files f000.pem ... with `per_file` certificates each, named <prefix>-<file>-<i>.bulk.test;
  // returns each file's fingerprints.
  std::map<std::string, std::set<std::string>> write_tree(int files, int per_file,
                                                          const std::string& prefix) {
    std::map<std::string, std::set<std::string>> by_file;
    for (int f = 0; f < files; ++f) {
      std::vector<x509::Certificate> certs;
      for (int i = 0; i < per_file; ++i) {
        LeafSpec spec;
        spec.cn = prefix + "-" + std::to_string(f) + "-" + std::to_string(i) + ".bulk.test";
        spec.not_after = kNow + days(30 + f);
        certs.push_back(leaf(spec));
      }
      const std::string name = "tree/f" + std::to_string(100 + f) + ".pem";
      write(name, x509::to_pem(certs));
      for (const auto& c : certs) {
        by_file[name].insert(c.info().sha256_hex);
        fingerprint_of_[c.info().subject_cn] = c.info().sha256_hex;
      }
    }
    return by_file;
  }

  // Every index, trigger and table of the database with its SQL: what a bulk import must
  // leave as it found it.
  std::vector<std::string> schema() {
    auto tx = db_->begin(store::TxMode::kRead);
    CW_CHECK(tx.has_value());
    auto rows = (*tx)->query(
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY "
        "type, name");
    CW_CHECK(rows.has_value());
    std::vector<std::string> out;
    for (std::size_t i = 0; i < rows->size(); ++i) out.push_back((*rows)[i].text(0));
    return out;
  }

  std::string integrity() {
    auto tx = db_->begin(store::TxMode::kRead);
    CW_CHECK(tx.has_value());
    auto row = (*tx)->query_one("PRAGMA integrity_check");
    CW_CHECK(row.has_value() && row->has_value());
    return (**row).text(0);
  }

  std::set<std::string> search(const std::string& text) {
    Filter f;
    f.search = text;
    return query_fps(f);
  }

  ImportOptions bulk_options() {
    ImportOptions options;
    options.actor = "user:bulk";
    options.mode = ImportMode::kBulk;
    options.batch_certificates = 5;
    options.threads = 2;
    options.items = ImportItems::kFailuresOnly;
    return options;
  }

  certward::testing::TempDir files_;
  std::map<std::string, std::string> fingerprint_of_;  // by common name
};

TEST_F(BulkImportTest, WritesWhatABatchedImportWritesAndRestoresTheSchema) {
  if (db_.is_postgres()) {
    const std::vector<std::string> paths = {files_.path().string()};
    auto r = inventory_.import_paths(paths, bulk_options());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    return;
  }
  // Certificates already present: one of them is in the tree again.
  const x509::Certificate before = leaf(named("present.bulk.test"));
  ASSERT_TRUE(record(before));
  const auto schema_before = schema();
  auto by_file = write_tree(8, 3, "alpha");
  write("tree/again.pem", before.pem());
  write("tree/broken.pem", std::string_view("-----BEGIN CERTIFICATE-----\nAAAA\n"));

  std::vector<ImportProgress> seen;
  ImportOptions options = bulk_options();
  options.meta.team = "blue";
  options.on_progress = [&](const ImportProgress& p) { seen.push_back(p); };
  const std::vector<std::string> paths = {files_.path().string()};
  auto r = inventory_.import_paths(paths, options);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->bulk);
  EXPECT_EQ(r->inserted, 24);
  EXPECT_EQ(r->duplicates, 1);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->files, 10);
  EXPECT_FALSE(r->interrupted);
  EXPECT_EQ(count(), 25);
  // The last report announces the index build, after every file.
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().indexing);
  EXPECT_EQ(seen.back().files_done, 10);

  EXPECT_EQ(schema(), schema_before);
  EXPECT_EQ(integrity(), "ok");
  // Every imported certificate is found by its name through the rebuilt search rows, and the
  // filters answer through the rebuilt indexes.
  std::set<std::string> all;
  for (const auto& [file, fps] : by_file) all.insert(fps.begin(), fps.end());
  EXPECT_EQ(search("ALPHA-"), all);
  EXPECT_EQ(search("alpha-3-1.bulk"), std::set<std::string>{fingerprint_of_["alpha-3-1.bulk.test"]});
  Filter team;
  team.team = "blue";
  EXPECT_EQ(query_fps(team), all);
  // Several events, one per batch, and the chain verifies.
  EXPECT_GE(audit_events(), 4);
  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;

  // The search trigger is back: a certificate recorded afterwards is found.
  const x509::Certificate later = leaf(named("later.bulk.test"));
  ASSERT_TRUE(record(later));
  EXPECT_EQ(search("later.bulk"), std::set<std::string>{later.info().sha256_hex});
}

TEST_F(BulkImportTest, AnErrorLeavesNothingOfTheImport) {
  if (db_.is_postgres()) GTEST_SKIP() << "bulk import is SQLite's";
  // Recorded for one authority, two certificates with one serial break its unique index: the
  // store refuses the second, in the last file.
  const Bytes serial = x509::random_serial();
  write_tree(6, 2, "fail");
  write("tree/z1.pem", leaf(named("a.clash.test", serial)).pem());
  write("tree/z2.pem", leaf(named("b.clash.test", serial)).pem());
  const x509::Certificate present = leaf(named("present.bulk.test"));
  ASSERT_TRUE(record(present));
  const auto schema_before = schema();
  const std::int64_t events_before = audit_events();

  ImportOptions options = bulk_options();
  options.meta.authority = "issuing";
  options.threads = 1;  // files in order: the clash comes after every other batch
  const std::vector<std::string> paths = {files_.path().string()};
  auto r = inventory_.import_paths(paths, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(count(), 1);
  EXPECT_EQ(audit_events(), events_before);
  EXPECT_EQ(schema(), schema_before);
  EXPECT_EQ(search("fail-"), std::set<std::string>{});
  EXPECT_EQ(search("present.bulk"), std::set<std::string>{present.info().sha256_hex});

  // The same import in batches keeps the batches before the clash.
  options.mode = ImportMode::kBatched;
  auto batched = inventory_.import_paths(paths, options);
  ASSERT_FALSE(batched.has_value());
  EXPECT_GT(count(), 1);
}

TEST_F(BulkImportTest, AutoKeepsSmallTreesBatched) {
  write_tree(3, 1, "small");
  ImportOptions options;
  options.actor = "user:bulk";
  const std::vector<std::string> paths = {files_.path().string()};
  auto r = inventory_.import_paths(paths, options);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->bulk);
  EXPECT_EQ(r->inserted, 3);
}

}  // namespace
}  // namespace certward::inventory
