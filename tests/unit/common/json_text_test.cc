#include "common/json_text.h"

#include <gtest/gtest.h>

namespace certward {
namespace {

TEST(ParseJsonStrict, ReadsJsonWhoseObjectsNameEachMemberOnce) {
  auto j = parse_json_strict(R"({"a": 1, "b": {"a": 2, "c": [{"a": 3}, {"a": 4}]}})");
  ASSERT_TRUE(j.has_value()) << j.error().message;
  EXPECT_EQ((*j)["b"]["c"][1]["a"], 4);
  // The same name in sibling and nested objects is not a repetition.
  EXPECT_TRUE(parse_json_strict(R"([{"x": 1}, {"x": 2}])").has_value());
  EXPECT_TRUE(parse_json_strict(R"("text")").has_value());
}

TEST(ParseJsonStrict, RefusesANameRepeatedInAnyObject) {
  for (const char* text : {R"({"a": 1, "a": 2})", R"({"a": {"b": 1, "b": 1}})",
                           R"([{"ok": 1}, {"x": 1, "y": 2, "x": 3}])",
                           R"({"a": 1, "\u0061": 2})", R"({"": 1, "": 2})"}) {
    auto j = parse_json_strict(text);
    ASSERT_FALSE(j.has_value()) << text;
    EXPECT_EQ(j.error().code, ErrorCode::kMalformed);
    EXPECT_NE(j.error().message.find("appears twice"), std::string::npos) << j.error().message;
  }
  // A name with control characters is named escaped.
  auto j = parse_json_strict("{\"\\u0007x\": 1, \"\\u0007x\": 2}");
  ASSERT_FALSE(j.has_value());
  EXPECT_NE(j.error().message.find("\\u0007x"), std::string::npos) << j.error().message;
}

TEST(ParseJsonStrict, RefusesWhatIsNotJson) {
  for (const char* text : {"", "{", R"({"a": 1,})", "{'a': 1}", "\xff", "[1] [2]"}) {
    auto j = parse_json_strict(text);
    ASSERT_FALSE(j.has_value()) << text;
    EXPECT_EQ(j.error().code, ErrorCode::kMalformed);
  }
}

}  // namespace
}  // namespace certward
