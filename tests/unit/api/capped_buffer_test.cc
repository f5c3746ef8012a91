// The buffer report responses are built in: what fits is kept, the first write past the
// limit fails the stream and nothing after it is kept.

#include "api/capped_buffer.h"

#include <gtest/gtest.h>

#include <ostream>

namespace certward::api {
namespace {

TEST(CappedBuffer, KeepsWhatFitsAndFailsTheStreamPastTheLimit) {
  CappedBuffer buffer(10);
  std::ostream out(&buffer);
  out << "12345" << '6';
  EXPECT_TRUE(out.good());
  EXPECT_FALSE(buffer.over());
  out << "7890";  // exactly at the limit
  EXPECT_TRUE(out.good());
  EXPECT_FALSE(buffer.over());
  out << 'x';
  EXPECT_FALSE(out.good());
  EXPECT_TRUE(buffer.over());
  out.clear();
  out << "y";  // a writer that ignores the failure adds nothing
  EXPECT_TRUE(buffer.over());
  EXPECT_EQ(std::move(buffer).take(), "1234567890");
}

TEST(CappedBuffer, ALargeWriteThatDoesNotFitIsRefusedWhole) {
  CappedBuffer buffer(4);
  std::ostream out(&buffer);
  out << "abcdef";
  EXPECT_TRUE(buffer.over());
  EXPECT_EQ(buffer.size(), 0u);
}

}  // namespace
}  // namespace certward::api
