// The queue between a scan's threads and its writer: items come out in order, try_pop never
// waits, a full queue holds its producer back, and close() lets the consumer drain what is left.

#include "common/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace certward::common {
namespace {

TEST(BoundedQueue, TryPopTakesWhatIsWaitingAndNeverWaits) {
  BoundedQueue<int> q(4);
  EXPECT_EQ(q.try_pop(), std::nullopt);
  ASSERT_TRUE(q.push(1));
  ASSERT_TRUE(q.push(2));
  EXPECT_EQ(q.try_pop(), 1);
  EXPECT_EQ(q.pop(), 2);
  EXPECT_EQ(q.try_pop(), std::nullopt);
}

TEST(BoundedQueue, AFullQueueHoldsItsProducerUntilAnItemIsTaken) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.push(1));
  std::atomic<bool> pushed{false};
  std::thread producer([&] { pushed = q.push(2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());
  EXPECT_EQ(q.try_pop(), 1);  // makes room: the producer goes on
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(q.pop(), 2);
}

TEST(BoundedQueue, CloseLetsTheConsumerDrainThenEnds) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.push(1));
  q.close();
  EXPECT_FALSE(q.push(2));
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.pop(), std::nullopt);
  EXPECT_EQ(q.try_pop(), std::nullopt);
}

}  // namespace
}  // namespace certward::common
