// Importing certificates: from memory (all or nothing, audited) and from files of every format.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "inventory/inventory.h"
#include "unit/inventory/fixture.h"

namespace certward::inventory {
namespace {

using namespace inventory_testing;  // NOLINT: the shared fixture
using certward::testing::kT0;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;

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
  // One event for the batch, naming the certificates it added.
  ASSERT_EQ(audit_events(), 1);
  auto events = audit_.list({});
  ASSERT_TRUE(events.has_value());
  const auto& e = events->front().event;
  EXPECT_EQ(e.action, "certificate.import");
  EXPECT_EQ(e.target_type, "import");
  EXPECT_EQ(e.details["inserted"], 7);
  std::set<std::string> audited;
  for (const auto& f : e.details["fingerprints"]) audited.insert(f.get<std::string>());
  EXPECT_EQ(audited, expected);

  // Everything again: all duplicates, nothing new audited.
  auto again = inventory_.import_paths(paths, std::string("right"), {}, "user:importer");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->duplicates, 7);
  EXPECT_EQ(again->failed, 2);
  EXPECT_EQ(count(), 7);
  EXPECT_EQ(audit_events(), 1);

  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->events_checked, 1);
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

TEST_F(ImportPathsTest, BatchesFilesWholeWithOneEventEachAndSkipsMalformedOnes) {
  std::map<std::string, std::set<std::string>> by_file;
  for (int f = 0; f < 12; ++f) {
    std::vector<x509::Certificate> certs;
    for (int i = 0; i < 3; ++i) certs.push_back(leaf());
    const std::string name = "t/" + std::to_string(100 + f) + ".pem";
    write(name, x509::to_pem(certs));
    for (const auto& c : certs) by_file[files_.file(name)].insert(c.info().sha256_hex);
    if (f == 5) write("t/105-broken.pem", std::string_view("-----BEGIN CERTIFICATE-----\nAAAA\n"));
  }
  ImportOptions options;
  options.actor = "user:bulk";
  options.batch_certificates = 7;  // three files (9 certificates) per batch: never split
  options.threads = 3;
  options.items = ImportItems::kFailuresOnly;
  std::vector<ImportProgress> seen;
  options.on_progress = [&](const ImportProgress& p) { seen.push_back(p); };
  const std::vector<std::string> paths = {files_.path().string()};
  auto r = inventory_.import_paths(paths, options);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->inserted, 36);
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->files, 13);
  EXPECT_FALSE(r->interrupted);
  ASSERT_EQ(r->items.size(), 1u);  // only the failure
  EXPECT_EQ(r->items[0].error->code, ErrorCode::kMalformed);
  EXPECT_EQ(count(), 36);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().files_total, 13);
  EXPECT_EQ(seen.back().files_done, 13);
  EXPECT_EQ(seen.back().inserted, 36);
  // Fewer events than certificates, and every file's certificates in a single one.
  audit::EventFilter all;
  all.limit = 1000;
  auto events = audit_.list(all);
  ASSERT_TRUE(events.has_value());
  EXPECT_GE(events->size(), 4u);
  EXPECT_LE(events->size(), 5u);
  std::map<std::string, int> event_of;
  int n = 0;
  for (const auto& e : *events) {
    for (const auto& f : e.event.details["fingerprints"]) event_of[f.get<std::string>()] = n;
    ++n;
  }
  for (const auto& [file, fps] : by_file) {
    std::set<int> in;
    for (const auto& fp : fps) in.insert(event_of.at(fp));
    EXPECT_EQ(in.size(), 1u) << file << " was split across batches";
  }
  auto verified = audit_.verify();
  ASSERT_TRUE(verified.has_value());
  EXPECT_TRUE(verified->ok) << verified->problem;
}

// Batched and, on SQLite, bulk (one transaction that the stop commits whole).
TEST_F(ImportPathsTest, StopLeavesEveryFileWholeAndSaysInterrupted) {
  std::vector<ImportMode> modes = {ImportMode::kBatched};
  if (!db_.is_postgres()) modes.push_back(ImportMode::kBulk);
  for (const ImportMode mode : modes) {
    SCOPED_TRACE(mode == ImportMode::kBulk ? "bulk" : "batched");
    const std::string dir = mode == ImportMode::kBulk ? "bulk" : "batched";
    std::map<std::string, std::set<std::string>> by_file;
    for (int f = 0; f < 40; ++f) {
      std::vector<x509::Certificate> certs = {leaf(), leaf()};
      const std::string name = dir + "/" + std::to_string(1000 + f) + ".pem";
      write(name, x509::to_pem(certs));
      for (const auto& c : certs) by_file[name].insert(c.info().sha256_hex);
    }
    const std::int64_t before = count();
    std::atomic<bool> stop{false};
    ImportOptions options;
    options.actor = "user:bulk";
    options.mode = mode;
    options.batch_certificates = 4;
    options.threads = 1;
    options.stop = &stop;
    options.on_progress = [&](const ImportProgress& p) {
      if (p.files_done >= 4) stop = true;  // as a Ctrl-C after the second batch
    };
    const std::vector<std::string> paths = {files_.file(dir)};
    auto r = inventory_.import_paths(paths, options);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_TRUE(r->interrupted);
    EXPECT_EQ(r->bulk, mode == ImportMode::kBulk);
    EXPECT_LT(r->files, 40);
    EXPECT_EQ(r->inserted, 2 * r->files);
    EXPECT_EQ(count() - before, r->inserted);
    EXPECT_EQ(whole_files(by_file), r->files);
    // What was imported is found through the search rows (rebuilt at a bulk stop).
    Filter f;
    f.search = "host.example.com";
    PageRequest page;
    page.limit = 1000;
    auto listed = inventory_.query(f, page);
    ASSERT_TRUE(listed.has_value());
    EXPECT_EQ(static_cast<std::int64_t>(listed->items.size()), count());
    auto verified = audit_.verify();
    ASSERT_TRUE(verified.has_value());
    EXPECT_TRUE(verified->ok) << verified->problem;
  }
}

TEST_F(ImportPathsTest, RefusesHugeFilesAndDevices) {
  write("ok.pem", leaf().pem());
  {
    std::ofstream big(files_.file("big.pem"), std::ios::binary);
    big.seekp((64 << 20) + 1);
    big.put('x');
  }
  const std::vector<std::string> paths = {files_.file("big.pem"), "/dev/zero",
                                          files_.file("ok.pem")};
  auto r = inventory_.import_paths(paths, std::nullopt, {}, "user:x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->failed, 2);
  EXPECT_EQ(r->inserted, 1);
  for (const auto& item : r->items) {
    if (item.error) {
      EXPECT_EQ(item.error->code, ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace certward::inventory
