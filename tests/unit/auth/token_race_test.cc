// create_token decides on what it reads (a disabled principal gets no token); a disable that
// commits while it runs must be seen. Runs on SQLite and, under scripts/with-postgres.sh, on
// PostgreSQL, where only a row lock makes it hold.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "auth/auth.h"
#include "unit/testing/test_db.h"

namespace certward::auth {
namespace {

using namespace std::chrono_literals;

// Waits until some session of `db` is blocked on a lock (PostgreSQL), or a while (SQLite,
// where the writer lock leaves nothing to observe).
void wait_for_a_lock_waiter(certward::testing::ScratchDatabase& db) {
  if (!db.is_postgres()) {
    std::this_thread::sleep_for(200ms);
    return;
  }
  for (int i = 0; i < 1000; ++i) {
    auto tx = db->begin(store::TxMode::kRead);
    ASSERT_TRUE(tx) << tx.error().message;
    auto row = (*tx)->query_one(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
        "datname = current_database()");
    ASSERT_TRUE(row && *row);
    if ((**row).int64(0) > 0) return;
    std::this_thread::sleep_for(5ms);
  }
  FAIL() << "create_token never waited for a lock";
}

TEST(CreateTokenRace, DisableCommittedWhileCreatingIsSeen) {
  certward::testing::ScratchDatabase db;
  FakeClock clock{from_unix(1767225600)};
  audit::AuditLog audit{clock, *db};
  ASSERT_TRUE(audit::AuditLog::migrate(*db));
  ASSERT_TRUE(AuthService::migrate(*db));
  AuthService auth(clock, *db, audit);
  Principal ops;
  ops.name = "ops";
  ops.role = Role::kOperator;
  ASSERT_TRUE(auth.create_principal(ops, "test"));

  // Another writer disables "ops" and, holding the audit head, keeps its transaction open.
  // Without a lock on the principal, create_token reads "enabled", inserts its token and
  // then queues behind the audit head, to commit a token for a principal disabled before it.
  auto other = db->begin();
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE((*other)->query_one("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"));
  ASSERT_TRUE((*other)->execute("UPDATE principals SET disabled = 1 WHERE name = 'ops'"));

  std::optional<Result<NewToken>> created;
  std::thread creator([&] {
    TokenRequest r;
    r.principal = "ops";
    r.description = "racing the disable";
    created = auth.create_token(r, "test");
  });
  wait_for_a_lock_waiter(db);
  ASSERT_TRUE((*other)->commit());
  other->reset();  // gives the connection back (SQLite's only writer)
  creator.join();

  ASSERT_TRUE(created.has_value());
  ASSERT_FALSE(created->has_value()) << "a token was created for a disabled principal";
  EXPECT_EQ(created->error().code, ErrorCode::kPolicyRejected);
  EXPECT_EQ(certward::testing::count_rows(*db, "tokens"), 0);
}

}  // namespace
}  // namespace certward::auth
