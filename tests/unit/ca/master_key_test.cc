#include "ca/master_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "unit/testing/temp_dir.h"

namespace certward::ca {
namespace {

class MasterKeyTest : public ::testing::Test {
 protected:
  MasterKeyTest() { settings_.master_key_file = dir_.file("master.key"); }

  std::string read_file() {
    std::ifstream in(settings_.master_key_file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write_file(std::string_view text, mode_t mode) {
    std::ofstream(settings_.master_key_file) << text;
    ASSERT_EQ(::chmod(settings_.master_key_file.c_str(), mode), 0);
  }
  ErrorCode load_error(const std::map<std::string, std::string>& env, MasterKeyMode mode) {
    auto r = load_master_key(settings_, env, mode);
    EXPECT_FALSE(r.has_value());
    return r ? ErrorCode::kInternal : r.error().code;
  }

  // True if `a` opens what `b` sealed: the two wrappers hold the same key.
  static bool same_key(const crypto::KeyWrapper& a, const crypto::KeyWrapper& b) {
    const Bytes secret = {1, 2, 3, 4, 5};
    auto sealed = b.seal(secret, "test");
    CW_CHECK(sealed.has_value());
    auto opened = a.open(*sealed, "test");
    return opened && Bytes(opened->span().begin(), opened->span().end()) == secret;
  }

  testing::TempDir dir_;
  CaSettings settings_;
};

TEST_F(MasterKeyTest, CreatesAPrivateFileHoldingBase64Of32Bytes) {
  auto key = load_master_key(settings_, {}, MasterKeyMode::kCreateIfMissing);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(settings_.master_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto raw = from_base64(read_file());
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  auto from_file = crypto::KeyWrapper::create(crypto::SecretBytes(*raw));
  ASSERT_TRUE(from_file.has_value());
  EXPECT_TRUE(same_key(*key, *from_file));
}

TEST_F(MasterKeyTest, ReloadsTheSameKey) {
  auto first = load_master_key(settings_, {}, MasterKeyMode::kCreateIfMissing);
  ASSERT_TRUE(first.has_value());
  const std::string text = read_file();
  auto again = load_master_key(settings_, {}, MasterKeyMode::kCreateIfMissing);
  ASSERT_TRUE(again.has_value());
  auto must = load_master_key(settings_, {}, MasterKeyMode::kMustExist);
  ASSERT_TRUE(must.has_value());
  EXPECT_EQ(read_file(), text);
  EXPECT_TRUE(same_key(*first, *again));
  EXPECT_TRUE(same_key(*first, *must));
  auto other = crypto::KeyWrapper::create(crypto::SecretBytes(crypto::random_bytes(32)));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(same_key(*first, *other));
}

TEST_F(MasterKeyTest, RefusesFileReadableByOthers) {
  write_file(to_base64(crypto::random_bytes(32)), 0644);
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kPolicyRejected);
  EXPECT_EQ(load_error({}, MasterKeyMode::kCreateIfMissing), ErrorCode::kPolicyRejected);
  ASSERT_EQ(::chmod(settings_.master_key_file.c_str(), 0640), 0);
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kPolicyRejected);
  ASSERT_EQ(::chmod(settings_.master_key_file.c_str(), 0400), 0);
  EXPECT_TRUE(load_master_key(settings_, {}, MasterKeyMode::kMustExist).has_value());
}

TEST_F(MasterKeyTest, MustExistWithoutFileIsNotFoundAndCreatesNothing) {
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(settings_.master_key_file));
}

TEST_F(MasterKeyTest, BadFileContentIsMalformed) {
  write_file("not base64 at all!", 0600);
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kMalformed);
  write_file(to_base64(crypto::random_bytes(16)), 0600);
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kMalformed);
  write_file(to_base64(crypto::random_bytes(33)), 0600);
  EXPECT_EQ(load_error({}, MasterKeyMode::kMustExist), ErrorCode::kMalformed);
}

TEST_F(MasterKeyTest, EnvironmentWinsOverTheFile) {
  auto file_key = load_master_key(settings_, {}, MasterKeyMode::kCreateIfMissing);
  ASSERT_TRUE(file_key.has_value());
  const Bytes raw = crypto::random_bytes(32);
  const std::map<std::string, std::string> env = {{"CERTWARD_MASTER_KEY", to_base64(raw)}};
  auto env_key = load_master_key(settings_, env, MasterKeyMode::kMustExist);
  ASSERT_TRUE(env_key.has_value());
  auto expected = crypto::KeyWrapper::create(crypto::SecretBytes(raw));
  ASSERT_TRUE(expected.has_value());
  EXPECT_TRUE(same_key(*env_key, *expected));
  EXPECT_FALSE(same_key(*env_key, *file_key));
}

TEST_F(MasterKeyTest, EnvironmentNeedsNoFile) {
  const std::map<std::string, std::string> env = {
      {"CERTWARD_MASTER_KEY", to_base64(crypto::random_bytes(32))}};
  EXPECT_TRUE(load_master_key(settings_, env, MasterKeyMode::kMustExist).has_value());
  EXPECT_FALSE(std::filesystem::exists(settings_.master_key_file));
}

TEST_F(MasterKeyTest, BadEnvironmentValueIsMalformed) {
  for (const std::string& bad : {std::string("%%%"), to_base64(crypto::random_bytes(16)),
                                 to_base64(crypto::random_bytes(64))}) {
    EXPECT_EQ(load_error({{"CERTWARD_MASTER_KEY", bad}}, MasterKeyMode::kCreateIfMissing),
              ErrorCode::kMalformed)
        << bad;
  }
  // A bad environment value does not fall back to (or create) a file.
  EXPECT_FALSE(std::filesystem::exists(settings_.master_key_file));
}

TEST_F(MasterKeyTest, EmptyEnvironmentValueFallsBackToTheFile) {
  auto r =
      load_master_key(settings_, {{"CERTWARD_MASTER_KEY", ""}}, MasterKeyMode::kCreateIfMissing);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(std::filesystem::exists(settings_.master_key_file));
}

TEST_F(MasterKeyTest, UncreatableFileIsUnavailable) {
  settings_.master_key_file = dir_.file("no/such/dir/master.key");
  EXPECT_EQ(load_error({}, MasterKeyMode::kCreateIfMissing), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace certward::ca
