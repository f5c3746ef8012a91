#include "store/snapshot.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "store/store.h"

namespace certward::store {
namespace {

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "certward_snapshot_" + std::to_string(std::random_device{}());
    ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::unique_ptr<Database> open(const std::string& path) {
    DatabaseConfig c;
    c.sqlite_path = path;
    auto db = Database::open(c);
    EXPECT_TRUE(db) << db.error().message;
    return db ? *std::move(db) : nullptr;
  }

  std::int64_t count(const std::string& path) {
    auto db = open(path);
    auto tx = db->begin(TxMode::kRead);
    auto row = (*tx)->query_one("SELECT COUNT(*) FROM t");
    EXPECT_TRUE(row && *row);
    return (**row).int64(0);
  }

  std::string dir_;
};

// The copy is one read transaction: what a writer has not committed yet is not in it, and
// the writer is not blocked by it.
TEST_F(SnapshotTest, CopiesWhatIsCommittedWhileAWriterIsMidTransaction) {
  const std::string source = dir_ + "/live.db";
  auto db = open(source);
  {
    auto tx = db->begin();
    ASSERT_TRUE((*tx)->execute("CREATE TABLE t (x INTEGER)"));
    ASSERT_TRUE((*tx)->execute("INSERT INTO t VALUES (1), (2), (3)"));
    ASSERT_TRUE((*tx)->commit());
  }
  auto pending = db->begin();
  ASSERT_TRUE(pending);
  ASSERT_TRUE((*pending)->execute("INSERT INTO t VALUES (4)"));

  const std::string copy = dir_ + "/copy.db";
  Status s = sqlite_snapshot(source, copy);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE((*pending)->commit());

  struct stat st{};
  ASSERT_EQ(::stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(::access((copy + "-wal").c_str(), F_OK), 0) << "the copy is one file";
  EXPECT_EQ(count(copy), 3);
  EXPECT_EQ(count(source), 4);
}

TEST_F(SnapshotTest, NeverOverwrites) {
  const std::string source = dir_ + "/live.db";
  open(source).reset();
  const std::string dest = dir_ + "/taken";
  std::ofstream(dest) << "precious";
  Status s = sqlite_snapshot(source, dest);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  std::ifstream in(dest);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious");
}

TEST_F(SnapshotTest, RefusesWhatIsNotADatabaseAndLeavesNoFile) {
  const std::string source = dir_ + "/garbage";
  std::ofstream(source) << std::string(8192, 'x');
  const std::string dest = dir_ + "/copy.db";
  Status s = sqlite_snapshot(source, dest);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kMalformed) << s.error().message;
  EXPECT_NE(::access(dest.c_str(), F_OK), 0);
}

TEST_F(SnapshotTest, SealLeavesOneSelfContainedFile) {
  const std::string path = dir_ + "/db";
  auto db = open(path);
  {
    auto tx = db->begin();
    ASSERT_TRUE((*tx)->execute("CREATE TABLE t (x INTEGER)"));
    ASSERT_TRUE((*tx)->execute("INSERT INTO t VALUES (1)"));
    ASSERT_TRUE((*tx)->commit());
  }
  db.reset();
  Status s = sqlite_seal_file(path);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_NE(::access((path + "-wal").c_str(), F_OK), 0);
  // WAL mode is recorded in the file header (bytes 18-19 are 2); a sealed file has 1.
  std::ifstream in(path, std::ios::binary);
  char header[20];
  in.read(header, sizeof header);
  EXPECT_EQ(header[18], 1);
  EXPECT_EQ(count(path), 1);
}

}  // namespace
}  // namespace certward::store
