// The reports' gate: builds bounded, unsent bytes bounded, one report per principal, and every
// place given back when its ticket ends (the answer written or its client gone).

#include "api/report_gate.h"

#include <gtest/gtest.h>

namespace certward::api {
namespace {

using Refusal = ReportGate::Refusal;

TEST(ReportGate, OneReportPerPrincipalUntilItsAnswerIsWritten) {
  ReportGate gate;
  auto first = gate.enter("alice");
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE((*first)->built(1000));
  // Built, not yet read by a slow client: alice still waits, bob does not.
  auto again = gate.enter("alice");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Refusal::kPrincipalBusy);
  EXPECT_TRUE(gate.enter("bob").has_value());
  first->reset();  // written
  EXPECT_TRUE(gate.enter("alice").has_value());
}

TEST(ReportGate, BuildsAreBoundedButABuiltReportFreesItsSlot) {
  ReportGate gate(ReportGate::Limits{.builds = 2, .unsent_bytes = 1 << 20});
  auto a = gate.enter("a");
  auto b = gate.enter("b");
  ASSERT_TRUE(a && b);
  auto c = gate.enter("c");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error(), Refusal::kServerBusy);
  // a's answer waits for its reader: the build slot is free for c all the same.
  ASSERT_TRUE((*a)->built(100));
  EXPECT_TRUE(gate.enter("c").has_value());
}

TEST(ReportGate, UnsentBytesAreBounded) {
  ReportGate gate(ReportGate::Limits{.builds = 4, .unsent_bytes = 1000});
  auto a = gate.enter("a");
  auto b = gate.enter("b");
  auto c = gate.enter("c");
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE((*a)->built(600));
  EXPECT_FALSE((*b)->built(401));  // over what is left: not kept
  EXPECT_TRUE((*c)->built(400));   // exactly what is left
  a->reset();
  b->reset();
  auto d = gate.enter("d");
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE((*d)->built(600));  // a's bytes came back
  EXPECT_FALSE((*d)->built(601));
}

TEST(ReportGate, ATicketDroppedWhileBuildingGivesEverythingBack) {
  ReportGate gate(ReportGate::Limits{.builds = 1, .unsent_bytes = 10});
  {
    auto a = gate.enter("a");
    ASSERT_TRUE(a.has_value());
    EXPECT_FALSE(gate.enter("b").has_value());
  }  // the build failed: no answer
  auto a = gate.enter("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE((*a)->built(10));
}

}  // namespace
}  // namespace certward::api
