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

}  // namespace
}  // namespace certward::inventory
