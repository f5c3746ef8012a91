#include "store/sql_text.h"

#include <gtest/gtest.h>

namespace certward::store::internal {
namespace {

TEST(NumberPlaceholders, SkipsLiteralsIdentifiersAndComments) {
  int n = 0;
  EXPECT_EQ(number_placeholders("SELECT ?, '?', 'it''s ?', \"a?\" -- ?\n, ? /* ? */", &n),
            "SELECT $1, '?', 'it''s ?', \"a?\" -- ?\n, $2 /* ? */");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(count_placeholders("INSERT INTO t VALUES (?, ?, ?)"), 3);
  EXPECT_EQ(count_placeholders("SELECT 'unterminated ?"), 0);
}

TEST(PostgresDdl, TranslatesBlobTypeAndLiteralsOnly) {
  EXPECT_EQ(postgres_ddl("CREATE TABLE t (a BLOB, b blob NOT NULL, blobby TEXT DEFAULT 'BLOB')"),
            "CREATE TABLE t (a BYTEA, b BYTEA NOT NULL, blobby TEXT DEFAULT 'BLOB')");
  // A column named blob keeps its name; its type is still translated.
  EXPECT_EQ(postgres_ddl("CREATE TABLE k (blob BLOB NOT NULL, c blob);\nALTER TABLE k ADD COLUMN d BLOB;"),
            "CREATE TABLE k (blob BYTEA NOT NULL, c BYTEA);\nALTER TABLE k ADD COLUMN d BYTEA;");
  EXPECT_EQ(postgres_ddl("INSERT INTO t VALUES (X'00ff', x'', 'X''1''', max)"),
            "INSERT INTO t VALUES ('\\x00ff'::bytea, '\\x'::bytea, 'X''1''', max)");
}

TEST(StripForUpdate, DropsTrailingLockingClause) {
  EXPECT_EQ(strip_for_update("SELECT a FROM t WHERE id = ? FOR UPDATE"),
            "SELECT a FROM t WHERE id = ?");
  EXPECT_EQ(strip_for_update("SELECT a FROM t for update skip locked ;\n"), "SELECT a FROM t");
  EXPECT_EQ(strip_for_update("SELECT a FROM t FOR UPDATE NOWAIT"), "SELECT a FROM t");
  EXPECT_EQ(strip_for_update("SELECT 'FOR UPDATE'"), "SELECT 'FOR UPDATE'");
  EXPECT_EQ(strip_for_update("UPDATE t SET a = 1"), "UPDATE t SET a = 1");
}

TEST(IsBlank, IgnoresCommentsAndSemicolons) {
  EXPECT_TRUE(is_blank(" ; -- done\n /* x */ "));
  EXPECT_FALSE(is_blank("; SELECT 1"));
}

}  // namespace
}  // namespace certward::store::internal
