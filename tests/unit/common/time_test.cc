#include <gtest/gtest.h>

#include "common/clock.h"

namespace certward {
namespace {

using std::chrono::days;
using std::chrono::seconds;

TEST(FormatTime, Rfc3339Utc) {
  EXPECT_EQ(format_time(from_unix(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(from_unix(1735787045)), "2025-01-02T03:04:05Z");
  EXPECT_EQ(format_time(from_unix(951782400)), "2000-02-29T00:00:00Z");
  EXPECT_EQ(format_time(from_unix(4102444799)), "2099-12-31T23:59:59Z");
}

TEST(ParseTime, AcceptsZuluOffsetAndPlainDate) {
  EXPECT_EQ(parse_time("2025-01-02T03:04:05Z"), from_unix(1735787045));
  EXPECT_EQ(parse_time("2025-01-02T03:04:05+00:00"), from_unix(1735787045));
  EXPECT_EQ(parse_time("2025-01-02"), from_unix(1735776000));
  EXPECT_EQ(parse_time("2000-02-29"), from_unix(951782400));
}

TEST(ParseTime, RoundTripsFormatTime) {
  for (std::int64_t t :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{951782400}, std::int64_t{1735787045},
        std::int64_t{2524607999}, std::int64_t{4102444799}}) {
    const std::string text = format_time(from_unix(t));
    auto back = parse_time(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(to_unix(*back), t) << text;
  }
}

TEST(ParseTime, RejectsMalformedAndNonUtc) {
  for (const char* t : {
           "",
           "yesterday",
           "2025-13-01",
           "2025-02-30",
           "2025-00-10",
           "2025-01-00",
           "2025-01-02T24:00:00Z",
           "2025-01-02T10:60:00Z",
           "2025-01-02T10:00:00",
           "2025-01-02T10:00:00+01:00",
           "2025-01-02T10:00:00-00:30",
           "2025-01-02T10:00Z",
           "2025-01-02 10:00:00Z",
           "2025-01-02T10:00:00ZZ",
           "2025-01-02x",
           "2025-01-02T-1:00:00Z",
           "2025-01-02T10:-5:00Z",
           "2025-01-02T10:00:-9Z",
           "2025-1-2",
           " 2025-01-02",
       }) {
    auto r = parse_time(t);
    EXPECT_FALSE(r.has_value()) << "'" << t << "' parsed as " << (r ? format_time(*r) : "");
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << t;
    }
  }
}

TEST(UnixTime, ConversionsRoundTrip) {
  EXPECT_EQ(to_unix(from_unix(1735787045)), 1735787045);
  EXPECT_EQ(from_unix(86400) - from_unix(0), seconds(days(1)));
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(from_unix(1000));
  EXPECT_EQ(clock.now(), from_unix(1000));
  EXPECT_EQ(clock.now(), from_unix(1000));
  clock.advance(seconds(60));
  EXPECT_EQ(clock.now(), from_unix(1060));
  clock.set(from_unix(5));
  EXPECT_EQ(clock.now(), from_unix(5));
}

}  // namespace
}  // namespace certward
