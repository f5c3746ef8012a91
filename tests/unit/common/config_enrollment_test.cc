#include <gtest/gtest.h>

#include <fstream>

#include "common/config.h"
#include "unit/testing/temp_dir.h"

namespace certward {
namespace {

TEST(ScepConfig, DefaultsAndSettings) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->scep.enabled);
  EXPECT_TRUE(c->scep.authority.empty());  // the default authority
  EXPECT_DOUBLE_EQ(c->scep.requests_per_second, 1);
  EXPECT_DOUBLE_EQ(c->scep.burst, 20);

  c = parse_config(
      "[scep]\nenabled = false\nauthority = \"devices\"\nrequests_per_second = 0.5\nburst = 3\n",
      "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->scep.enabled);
  EXPECT_EQ(c->scep.authority, "devices");
  EXPECT_DOUBLE_EQ(c->scep.requests_per_second, 0.5);
  EXPECT_DOUBLE_EQ(c->scep.burst, 3);
}

TEST(ScepConfig, RefusesWhatCannotWork) {
  testing::TempDir dir;
  const std::string path = dir.file("certward.toml");
  for (const char* toml : {"[scep]\nchallenge = \"secret\"\n", "[scep]\nenabled = \"yes\"\n",
                           "[scep]\nauthority = 7\n", "[scep]\nburst = 0\n",
                           "[scep]\nrequests_per_second = -1\n", "[scep]\nburst = \"many\"\n"}) {
    std::ofstream(path) << toml;
    auto c = load_config(path, {});
    ASSERT_FALSE(c) << toml;
    EXPECT_EQ(c.error().code, ErrorCode::kMalformed) << toml;
    // Where: the key's line, or the setting's name.
    EXPECT_TRUE(c.error().message.find("scep") != std::string::npos ||
                c.error().message.find("certward.toml:2") != std::string::npos)
        << c.error().message;
  }
}

TEST(CmpConfig, DefaultsSettingsAndRefusals) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->cmp.enabled);
  EXPECT_TRUE(c->cmp.implicit_confirm);
  EXPECT_TRUE(c->cmp.authority.empty());
  c = parse_config("[cmp]\nimplicit_confirm = false\nauthority = \"plant\"\nburst = 2\n",
                   "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->cmp.implicit_confirm);
  EXPECT_EQ(c->cmp.authority, "plant");
  EXPECT_DOUBLE_EQ(c->cmp.burst, 2);

  testing::TempDir dir;
  const std::string path = dir.file("certward.toml");
  for (const char* toml : {"[cmp]\nsecret = \"x\"\n", "[cmp]\nimplicit_confirm = \"yes\"\n",
                           "[cmp]\nburst = 0\n", "[cmp]\nrequests_per_second = 2e6\n"}) {
    std::ofstream(path) << toml;
    auto bad = load_config(path, {});
    ASSERT_FALSE(bad) << toml;
    EXPECT_EQ(bad.error().code, ErrorCode::kMalformed) << toml;
  }
}

TEST(CmpConfig, LabelsAndPolling) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cmp.check_after_seconds, 30);
  EXPECT_TRUE(c->cmp.labels.empty());
  c = parse_config(
      "[cmp]\ncheck_after_seconds = 5\n[cmp.labels.plant-a]\nprofile = \"device\"\n"
      "authority = \"plant\"\n[cmp.labels.b]\nprofile = \"tls-client\"\n",
      "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cmp.check_after_seconds, 5);
  ASSERT_EQ(c->cmp.labels.size(), 2u);
  EXPECT_EQ(c->cmp.labels.at("plant-a").name, "plant-a");
  EXPECT_EQ(c->cmp.labels.at("plant-a").profile, "device");
  EXPECT_EQ(c->cmp.labels.at("plant-a").authority, "plant");
  EXPECT_TRUE(c->cmp.labels.at("b").authority.empty());

  testing::TempDir dir;
  const std::string path = dir.file("certward.toml");
  for (const char* toml : {
           "[cmp]\ncheck_after_seconds = 0\n",
           "[cmp]\ncheck_after_seconds = 86401\n",
           "[cmp]\ncheck_after_seconds = 1.5\n",
           "[cmp]\ncheck_after_seconds = -9223372036854775808\n",
           "[cmp]\nlabels = 3\n",
           "[cmp.labels.a]\nauthority = \"plant\"\n",               // no profile
           "[cmp.labels.a]\nprofile = \"device\"\nteam = \"x\"\n",  // not a CMP label's key
           "[cmp.labels.\"Bad Label\"]\nprofile = \"device\"\n",
           "[cmp.labels.\"../x\"]\nprofile = \"device\"\n",
       }) {
    std::ofstream(path) << toml;
    auto bad = load_config(path, {});
    ASSERT_FALSE(bad) << toml;
    EXPECT_EQ(bad.error().code, ErrorCode::kMalformed) << toml;
  }
}

}  // namespace
}  // namespace certward
