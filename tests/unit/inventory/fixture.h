#pragma once
// The inventory tests' shared fixture: a test CA that signs leaves, and an Inventory over a
// scratch database (SQLite, or PostgreSQL under scripts/with-postgres.sh).

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "unit/testing/pki.h"
#include "unit/testing/test_db.h"

namespace certward::inventory {
namespace inventory_testing {

using certward::testing::exec_sql;
using certward::testing::kT0;
using certward::testing::make_key;
using std::chrono::days;
using std::chrono::seconds;

inline const SysTime kNow = kT0 + days(100);

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
  // How many of the files (name: fingerprints) are wholly in the inventory; a file partly in
  // fails the test.
  int whole_files(const std::map<std::string, std::set<std::string>>& by_file) {
    int whole = 0;
    for (const auto& [file, fps] : by_file) {
      std::size_t present = 0;
      for (const auto& fp : fps) {
        auto got = inventory_.get(fp);
        EXPECT_TRUE(got.has_value());
        present += got && got->has_value() ? 1 : 0;
      }
      EXPECT_TRUE(present == 0 || present == fps.size()) << file << " is half imported";
      whole += present == fps.size() ? 1 : 0;
    }
    return whole;
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

}  // namespace inventory_testing
}  // namespace certward::inventory
