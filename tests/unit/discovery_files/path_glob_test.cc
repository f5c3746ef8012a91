// The include/exclude rule as path_glob.h documents it, case by case.
#include "discovery/files/path_glob.h"

#include <gtest/gtest.h>

namespace certward::discovery::files {
namespace {

TEST(PathGlob, PatternWithoutSlashMatchesTheNameAtAnyDepth) {
  EXPECT_TRUE(path_glob_match("*.pem", "/etc/ssl/a.pem"));
  EXPECT_TRUE(path_glob_match("*.pem", "/a.pem"));
  EXPECT_FALSE(path_glob_match("*.pem", "/etc/ssl/a.pem.bak"));
  EXPECT_TRUE(path_glob_match("*", "/etc/.hidden"));
  EXPECT_TRUE(path_glob_match("ssl", "/etc/ssl"));
}

TEST(PathGlob, StarNeverCrossesASlash) {
  EXPECT_TRUE(path_glob_match("/etc/*/a.pem", "/etc/ssl/a.pem"));
  EXPECT_FALSE(path_glob_match("/etc/*/a.pem", "/etc/ssl/private/a.pem"));
  EXPECT_FALSE(path_glob_match("/etc/*", "/etc/ssl/a.pem"));
}

TEST(PathGlob, DoubleStarMatchesAnyNumberOfComponentsIncludingNone) {
  EXPECT_TRUE(path_glob_match("/etc/**/a.pem", "/etc/a.pem"));
  EXPECT_TRUE(path_glob_match("/etc/**/a.pem", "/etc/ssl/private/a.pem"));
  EXPECT_TRUE(path_glob_match("/etc/**", "/etc/ssl/private/a.pem"));
  EXPECT_TRUE(path_glob_match("/etc/**", "/etc"));
  EXPECT_FALSE(path_glob_match("/etc/**/a.pem", "/usr/etc/a.pem"));
  EXPECT_TRUE(path_glob_match("/**/**/x/**/**", "/a/b/x"));
}

TEST(PathGlob, RelativePatternWithSlashMayStartAtAnyDepth) {
  EXPECT_TRUE(path_glob_match("ssl/*.key", "/etc/ssl/a.key"));
  EXPECT_TRUE(path_glob_match("ssl/*.key", "/opt/x/ssl/b.key"));
  EXPECT_FALSE(path_glob_match("ssl/*.key", "/etc/ssl/private/a.key"));
  EXPECT_FALSE(path_glob_match("/ssl/*.key", "/etc/ssl/a.key"));
}

TEST(PathGlob, ExtraSlashesAreIgnoredAndEmptyPatternsMatchNothing) {
  EXPECT_TRUE(path_glob_match("/etc//ssl/", "/etc/ssl"));
  EXPECT_FALSE(path_glob_match("", "/etc/ssl"));
}

TEST(PathGlob, ManyDoubleStarsStayFast) {
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "/**/a";
  std::string path;
  for (int i = 0; i < 200; ++i) path += "/a";
  EXPECT_TRUE(path_glob_match(pattern, path));
  EXPECT_FALSE(path_glob_match(pattern + "/b", path));
}

}  // namespace
}  // namespace certward::discovery::files
