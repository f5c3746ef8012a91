// Group commit: concurrent units share transactions and are all durable when run() returns; a
// unit that fails fails alone, and nothing it wrote is kept.

#include "store/group_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

namespace certward::store {
namespace {

class GroupWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "certward_group_writer_" + std::to_string(::getpid()) + ".db";
    std::filesystem::remove(path_);
    DatabaseConfig c;
    c.driver = Driver::kSqlite;
    c.sqlite_path = path_;
    auto db = Database::open(c);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(*db);
    auto tx = db_->begin();
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE((*tx)->execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove(path_);
  }
  std::int64_t rows() {
    auto tx = db_->begin(TxMode::kRead);
    auto row = (*tx)->query_one("SELECT COUNT(*) FROM t");
    return (*row)->int64(0);
  }
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(GroupWriterTest, ConcurrentUnitsShareCommitsAndAreDurableWhenRunReturns) {
  GroupWriter writer(*db_);
  constexpr int kThreads = 16, kEach = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int id = t * kEach + i;
        Status s = writer.run([id](Transaction& tx) {
          return tx.execute("INSERT INTO t (id, v) VALUES (?, 'x')", params(id));
        });
        if (!s) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(rows(), kThreads * kEach);
  const auto stats = writer.stats();
  EXPECT_EQ(stats.units, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_LT(stats.commits, stats.units) << "concurrent units shared transactions";
}

TEST_F(GroupWriterTest, AFailingUnitFailsAloneAndKeepsNothingItWrote) {
  GroupWriter writer(*db_);
  ASSERT_TRUE(writer
                  .run([](Transaction& tx) {
                    return tx.execute("INSERT INTO t (id, v) VALUES (1, 'first')");
                  })
                  .has_value());
  // Many units at once, some failing after writing (a refusal) or on their SQL (a duplicate
  // key): the others are stored, the failing ones leave no row.
  std::vector<std::thread> threads;
  std::atomic<int> ok_count{0}, refused{0}, conflicts{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      Status s = writer.run([i](Transaction& tx) -> Status {
        CW_RETURN_IF_ERROR(tx.execute("INSERT INTO t (id, v) VALUES (?, 'w')", params(100 + i)));
        if (i % 5 == 0) return fail(ErrorCode::kPolicyRejected, "refused after writing");
        if (i % 7 == 0) return tx.execute("INSERT INTO t (id, v) VALUES (1, 'dup')");
        return ok();
      });
      if (s) {
        ++ok_count;
      } else if (s.error().code == ErrorCode::kPolicyRejected) {
        ++refused;
      } else if (s.error().code == ErrorCode::kConflict) {
        ++conflicts;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(refused.load(), 8);    // 0, 5, ..., 35
  EXPECT_EQ(conflicts.load(), 4);  // 7, 14, 21, 28
  EXPECT_EQ(ok_count.load(), 28);
  EXPECT_EQ(rows(), 1 + 28) << "nothing a failed unit wrote survives";
  auto tx = db_->begin(TxMode::kRead);
  auto first = (*tx)->query_one("SELECT v FROM t WHERE id = 1");
  EXPECT_EQ((*first)->text(0), "first");
}

}  // namespace
}  // namespace certward::store
