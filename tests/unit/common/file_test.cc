#include "common/file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "unit/testing/temp_dir.h"

namespace certward {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, std::string_view data, mode_t mode = 0644) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// The file's mode bits, or 0 when it is missing.
mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

// Sets the process umask for one test and puts the old one back.
class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t old_;
};

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  // Names in the directory besides `keep`: leftovers of a write.
  std::vector<std::string> others(const std::vector<std::string>& keep) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (std::find(keep.begin(), keep.end(), name) == keep.end()) out.push_back(name);
    }
    return out;
  }

  certward::testing::TempDir dir_;
  std::string path_ = dir_.file("key.pem");
};

TEST_F(WriteFileAtomicTest, ModeIsExactlyWhatWasAskedWhateverTheUmask) {
  for (mode_t umask : {0000, 0022, 0077}) {
    Umask scoped(umask);
    ASSERT_TRUE(write_file_atomic(path_, "secret\n", 0600));
    EXPECT_EQ(mode_of(path_) & 07777, 0600u) << "umask " << umask;
    ASSERT_TRUE(write_file_atomic(path_, "public\n", 0644));
    EXPECT_EQ(mode_of(path_) & 07777, 0644u) << "umask " << umask;
    EXPECT_EQ(slurp(path_), "public\n");
  }
  EXPECT_TRUE(others({"key.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, FilesPlantedUnderGuessableTemporaryNamesAreNeverUsed) {
  // What someone sharing the directory could prepare: a world-writable file under the old
  // "<path>.tmp-<pid>" name and symlinks to a file of theirs under nearby names.
  const std::string victim = dir_.file("victim");
  spit(victim, "victim's data\n", 0666);
  const std::string planted = path_ + ".tmp-" + std::to_string(::getpid());
  spit(planted, "planted\n", 0666);
  for (int d = 1; d <= 3; ++d) {
    fs::create_symlink(victim, path_ + ".tmp-" + std::to_string(::getpid() + d));
  }

  ASSERT_TRUE(write_file_atomic(path_, "-----BEGIN PRIVATE KEY-----\n", 0600));

  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path_)));
  EXPECT_EQ(mode_of(path_) & 07777, 0600u);
  EXPECT_EQ(slurp(path_), "-----BEGIN PRIVATE KEY-----\n");
  EXPECT_EQ(slurp(victim), "victim's data\n");
  EXPECT_EQ(slurp(planted), "planted\n");
  EXPECT_EQ(mode_of(planted) & 07777, 0666u);
  EXPECT_EQ(others({"key.pem", "victim"}).size(), 4u);  // the planted names, nothing new
}

TEST_F(WriteFileAtomicTest, ReplacesAnExistingFileWhole) {
  spit(path_, std::string(10000, 'o'), 0644);
  ASSERT_TRUE(write_file_atomic(path_, "new", 0600));
  EXPECT_EQ(slurp(path_), "new");
  EXPECT_EQ(mode_of(path_) & 07777, 0600u);
  EXPECT_TRUE(others({"key.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, RefusesASymlinkOrSpecialFileAtThePath) {
  const std::string target = dir_.file("target");
  spit(target, "target\n");
  fs::create_symlink(target, path_);
  Status through = write_file_atomic(path_, "new\n", 0600);
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(path_)));
  EXPECT_EQ(slurp(target), "target\n");
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Status onto = write_file_atomic(fifo, "x", 0600);
  ASSERT_FALSE(onto);
  EXPECT_EQ(onto.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  EXPECT_TRUE(others({"key.pem", "target", "fifo"}).empty());
}

TEST_F(WriteFileAtomicTest, ReplaceGivesTheFileItsOwnerAndReplacesAnotherUsersFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing owners needs root";
  spit(path_, "theirs", 0600);
  ASSERT_EQ(::chown(path_.c_str(), 65534, 65534), 0);
  // write_file_atomic leaves another user's file alone; a deployment replaces it.
  EXPECT_FALSE(write_file_atomic(path_, "new", 0600));
  ASSERT_TRUE(replace_file_atomic(path_, "new", 0640, FileOwner{65534, 0}));
  EXPECT_EQ(slurp(path_), "new");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_TRUE(others({"key.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, ReplaceRefusesASymlinkOrSpecialFileToo) {
  const std::string target = dir_.file("target");
  spit(target, "target\n");
  fs::create_symlink(target, path_);
  const FileOwner me{::geteuid(), ::getegid()};
  Status through = replace_file_atomic(path_, "new\n", 0600, me);
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(slurp(target), "target\n");
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(replace_file_atomic(fifo, "x", 0600, me));
  EXPECT_TRUE(others({"key.pem", "target", "fifo"}).empty());
}

TEST_F(WriteFileAtomicTest, WritesLargeDataCompletely) {
  std::string big(8 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  ASSERT_TRUE(write_file_atomic(path_, big, 0644));
  EXPECT_EQ(slurp(path_), big);
}

TEST_F(WriteFileAtomicTest, FailedWriteLeavesTheOldFileAndNoTemporary) {
  spit(path_, "old content\n", 0600);
  // A file size limit makes the write fail part-way (EFBIG), as a full disk would.
  struct rlimit old_limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = write_file_atomic(path_, std::string(5000, 'x'), 0600);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(slurp(path_), "old content\n");
  EXPECT_TRUE(others({"key.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, StreamedWritesAreExclusivePrivateAndWhole) {
  // A symlink planted under a name beside the output, and one at the output itself.
  const std::string victim = dir_.file("victim");
  spit(victim, "victim's data\n", 0666);
  fs::create_symlink(victim, path_ + ".tmp." + std::to_string(::getpid()));
  Umask scoped(0);
  ASSERT_TRUE(write_file_atomic_streamed(path_, 0600, [](std::ostream& out) {
    for (int i = 0; i < 100000; ++i) out << "line " << i << "\n";
    return ok();
  }));
  EXPECT_EQ(mode_of(path_) & 07777, 0600u);
  EXPECT_TRUE(slurp(path_).ends_with("line 99999\n"));
  EXPECT_EQ(slurp(victim), "victim's data\n");
  EXPECT_EQ(others({"key.pem", "victim"}).size(), 1u);  // the planted link, nothing new

  const std::string link = dir_.file("link");
  fs::create_symlink(victim, link);
  Status through = write_file_atomic_streamed(link, 0600, [](std::ostream& out) {
    out << "x";
    return ok();
  });
  ASSERT_FALSE(through);
  EXPECT_EQ(slurp(victim), "victim's data\n");
}

TEST_F(WriteFileAtomicTest, AFailedStreamedWriteLeavesTheOldFileAndNoTemporary) {
  spit(path_, "old content\n", 0600);
  Status s = write_file_atomic_streamed(path_, 0600, [](std::ostream& out) -> Status {
    out << std::string(200000, 'x');
    return fail(ErrorCode::kInternal, "the producer failed");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInternal);
  EXPECT_EQ(slurp(path_), "old content\n");
  EXPECT_TRUE(others({"key.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, UnwritablePlacesAreRefused) {
  Status missing = write_file_atomic(dir_.file("missing/key.pem"), "x", 0600);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kUnavailable);
  Status directory = write_file_atomic(dir_.path().string(), "x", 0600);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(others({"missing"}).empty());
}

TEST_F(WriteFileAtomicTest, CreateExclusiveNeverReplacesAndLeavesNoTemporary) {
  Umask scoped(0077);
  ASSERT_TRUE(create_file_exclusive(path_, "first\n", 0600));
  EXPECT_EQ(slurp(path_), "first\n");
  EXPECT_EQ(mode_of(path_) & 07777, 0600u);
  auto again = create_file_exclusive(path_, "second\n", 0600);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(slurp(path_), "first\n");
  // A symlink at the path is something that exists: it is neither replaced nor followed.
  const std::string link = dir_.file("link.pem");
  const std::string target = dir_.file("target.pem");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto through = create_file_exclusive(link, "x", 0600);
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_TRUE(others({"key.pem", "link.pem"}).empty());
}

TEST_F(WriteFileAtomicTest, PrivateFilesAndDirectoriesAreOwnedAndClosed) {
  ASSERT_TRUE(write_file_atomic(path_, "secret", 0600));
  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(check_private_file(fd, "key"));
  for (mode_t open_mode : {0640, 0604, 0660}) {
    ASSERT_EQ(::fchmod(fd, open_mode), 0);
    auto refused = check_private_file(fd, "key");
    ASSERT_FALSE(refused) << open_mode;
    EXPECT_EQ(refused.error().code, ErrorCode::kPolicyRejected);
  }
  ::close(fd);
  const std::string dir = dir_.file("data");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  EXPECT_TRUE(check_private_directory(dir));
  ASSERT_EQ(::chmod(dir.c_str(), 0770), 0);
  EXPECT_FALSE(check_private_directory(dir));
  ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
  EXPECT_FALSE(check_private_directory(dir));
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  EXPECT_TRUE(check_private_directory(dir));
  EXPECT_FALSE(check_private_directory(path_));  // not a directory
}

TEST_F(WriteFileAtomicTest, ReadFileReturnsTheBytesWrittenAndNotFoundForNoFile) {
  std::string data("binary\0and text\n", 16);
  ASSERT_TRUE(write_file_atomic(path_, data, 0600));
  auto read = read_file(path_);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, data);
  auto missing = read_file(dir_.file("absent.pem"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace certward
