#include "auth/enrollment_credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "auth/auth.h"
#include "unit/testing/test_db.h"

namespace certward::auth {
namespace {

using namespace std::chrono_literals;

const SysTime kStart = from_unix(1767225600);  // 2026-01-01T00:00:00Z

crypto::KeyWrapper wrapper() {
  auto w = crypto::KeyWrapper::create(crypto::SecretBytes(crypto::random_bytes(32)));
  CW_CHECK(w.has_value());
  return std::move(*w);
}

class EnrollmentCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(audit::AuditLog::migrate(*db_));
    ASSERT_TRUE(AuthService::migrate(*db_));
    ASSERT_TRUE(EnrollmentCredentials::migrate(*db_));
    Team team;
    team.name = "factory";
    team.allowed_profiles = {"device"};
    ASSERT_TRUE(auth_.create_team(team, "test"));
  }

  CredentialRequest request(CredentialKind kind = CredentialKind::kEst) {
    CredentialRequest r;
    r.kind = kind;
    r.team = "factory";
    r.profile = "device";
    return r;
  }

  // Consumes one use in a transaction of its own, as the RA's commit would.
  Status use(const std::string& id, const std::string& fingerprint) {
    auto tx = (*db_).begin();
    if (!tx) return std::unexpected(tx.error());
    CW_RETURN_IF_ERROR(creds_.consume(**tx, id, fingerprint, "est"));
    return (*tx)->commit();
  }

  FakeClock clock_{kStart};
  testing::ScratchDatabase db_;
  audit::AuditLog audit_{clock_, *db_};
  AuthService auth_{clock_, *db_, audit_};
  crypto::KeyWrapper wrapper_ = wrapper();
  EnrollmentCredentials creds_{clock_, *db_, audit_, wrapper_};
};

TEST_F(EnrollmentCredentialsTest, ASecretAuthenticatesOnlyItsOwnCredentialOfItsOwnKind) {
  auto est = creds_.create(request(), "test");
  ASSERT_TRUE(est) << est.error().message;
  EXPECT_EQ(est->secret.size(), 22u);  // 128 bits, base64url
  auto found = creds_.authenticate(CredentialKind::kEst, est->info.id, est->secret);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->team, "factory");
  EXPECT_FALSE(*creds_.authenticate(CredentialKind::kEst, est->info.id, est->secret + "x"));
  EXPECT_FALSE(*creds_.authenticate(CredentialKind::kEst, "ec-0000000000000000", est->secret));
  EXPECT_FALSE(*creds_.authenticate(CredentialKind::kScep, est->info.id, est->secret));
  auto scep = creds_.create(request(CredentialKind::kScep), "test");
  ASSERT_TRUE(scep);
  EXPECT_TRUE(*creds_.find_by_secret(CredentialKind::kScep, scep->secret));
  EXPECT_FALSE(*creds_.find_by_secret(CredentialKind::kScep, est->secret));
  EXPECT_FALSE(*creds_.find_by_secret(CredentialKind::kEst, scep->secret));
}

TEST_F(EnrollmentCredentialsTest, OnlyCmpSecretsAreKeptAndThenSealed) {
  auto est = creds_.create(request(), "test");
  auto cmp = creds_.create(request(CredentialKind::kCmp), "test");
  ASSERT_TRUE(est && cmp);
  EXPECT_FALSE(*creds_.secret(est->info.id));
  auto secret = creds_.secret(cmp->info.id);
  ASSERT_TRUE(secret && *secret);
  EXPECT_EQ(std::string((*secret)->span().begin(), (*secret)->span().end()), cmp->secret);
  // Nothing in the table holds a secret as given.
  auto tx = (*db_).begin(store::TxMode::kRead);
  ASSERT_TRUE(tx);
  auto rows = (*tx)->query("SELECT * FROM enrollment_credentials");
  ASSERT_TRUE(rows);
  for (const auto& row : *rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (std::holds_alternative<std::string>(row.value(i))) {
        EXPECT_EQ(row.text(i).find(est->secret), std::string::npos);
        EXPECT_EQ(row.text(i).find(cmp->secret), std::string::npos);
      }
    }
  }
}

TEST_F(EnrollmentCredentialsTest, AOneTimeCredentialIsUsedOnceEvenWhenRacedFor) {
  auto c = creds_.create(request(), "test");
  ASSERT_TRUE(c);
  std::atomic<int> won = 0;
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i) {
    racers.emplace_back([&, i] {
      if (use(c->info.id, "fp" + std::to_string(i))) ++won;
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(won.load(), 1);
  auto info = creds_.get(c->info.id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->uses, 1);
  EXPECT_EQ(info->state(clock_.now()), "used");
  EXPECT_FALSE(info->usable(clock_.now()));
  auto uses = creds_.uses(c->info.id);
  ASSERT_TRUE(uses);
  EXPECT_EQ(uses->size(), 1u);
}

TEST_F(EnrollmentCredentialsTest, UsesLimitsExpiryAndRevocationAreEnforcedWhereUsed) {
  CredentialRequest r = request();
  r.max_uses = 3;
  r.lifetime = 1h;
  auto c = creds_.create(r, "test");
  ASSERT_TRUE(c);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(use(c->info.id, "f" + std::to_string(i)));
  EXPECT_EQ(use(c->info.id, "f3").error().code, ErrorCode::kUnauthorized);

  r.max_uses = 0;  // any number of times, until it expires
  auto unlimited = creds_.create(r, "test");
  ASSERT_TRUE(unlimited);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(use(unlimited->info.id, "u" + std::to_string(i)));
  clock_.advance(1h);
  EXPECT_EQ(use(unlimited->info.id, "late").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(creds_.get(unlimited->info.id)->state(clock_.now()), "expired");

  auto revoked = creds_.create(r, "test");
  ASSERT_TRUE(revoked);
  ASSERT_TRUE(creds_.revoke(revoked->info.id, "test"));
  EXPECT_EQ(creds_.revoke(revoked->info.id, "test").error().code, ErrorCode::kConflict);
  EXPECT_EQ(use(revoked->info.id, "r").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(creds_.get(revoked->info.id)->state(clock_.now()), "revoked");
}

TEST_F(EnrollmentCredentialsTest, BadRequestsAreRefusedAndWriteNothing) {
  const auto before = testing::count_rows(*db_, "audit_events");
  auto bad = [&](auto change) {
    CredentialRequest r = request();
    change(r);
    auto c = creds_.create(r, "test");
    return c ? ErrorCode::kInternal : c.error().code;
  };
  EXPECT_EQ(bad([](auto& r) { r.team = "nobody"; }), ErrorCode::kNotFound);
  EXPECT_EQ(bad([](auto& r) { r.team = "Bad Team"; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& r) { r.max_uses = -1; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& r) { r.lifetime = 0s; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& r) { r.label = "../x"; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& r) { r.expected_subject = "a\nb"; }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& r) { r.description = std::string(257, 'd'); }),
            ErrorCode::kInvalidArgument);
  BatchRequest batch;
  batch.each = request();
  batch.count = kMaxBatch + 1;
  EXPECT_EQ(creds_.create_batch(batch, "test").error().code, ErrorCode::kInvalidArgument);
  batch.count = 0;
  batch.expected_subjects = {"ok-1", "bad\x01"};
  EXPECT_EQ(creds_.create_batch(batch, "test").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(testing::count_rows(*db_, "enrollment_credentials"), 0);
  EXPECT_EQ(testing::count_rows(*db_, "audit_events"), before);
}

TEST_F(EnrollmentCredentialsTest, ABatchIsMadeWholeWithOneAuditEventAndListedByPages) {
  BatchRequest batch;
  batch.each = request();
  batch.expected_subjects = {"dev-1", "dev-2", "dev-3"};
  const auto before = testing::count_rows(*db_, "audit_events");
  auto made = creds_.create_batch(batch, "test");
  ASSERT_TRUE(made) << made.error().message;
  ASSERT_EQ(made->credentials.size(), 3u);
  EXPECT_EQ(made->credentials[1].info.expected_subject, std::optional<std::string>("dev-2"));
  EXPECT_EQ(testing::count_rows(*db_, "audit_events"), before + 1);
  CredentialFilter f;
  f.batch = made->batch;
  f.limit = 2;
  auto first = creds_.list(f);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  f.after = first->back().id;
  auto second = creds_.list(f);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_GT(second->front().id, first->back().id);
  f = CredentialFilter{};
  f.team = "someone-else";
  EXPECT_TRUE(creds_.list(f)->empty());
}

}  // namespace
}  // namespace certward::auth
