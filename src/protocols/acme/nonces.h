#pragma once
// Replay nonces (RFC 8555 6.5): each one handed out is accepted once, within its lifetime.
//
// Nonces live in this replica's memory, not in the database: redeeming one must cost no
// write, since every ACME request redeems one. A nonce another replica issued (or one issued
// before a restart) is answered badNonce with a fresh nonce, which every ACME client retries
// at once (RFC 8555 6.5 requires it); a load balancer that keeps a client on one replica
// avoids even that. The store is sharded so concurrent requests rarely share a lock, and
// bounded: past max_nonces the oldest are forgotten (their clients get badNonce and retry).

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

#include "common/clock.h"
#include "common/mutex.h"

namespace certward::protocols::acme {

class NonceStore {
 public:
  NonceStore(const Clock& clock, std::chrono::seconds lifetime, std::size_t max_nonces);

  // A fresh nonce: 128 random bits, base64url.
  std::string issue();
  // Whether `nonce` was issued here, is unexpired and unused; it is used up either way.
  bool redeem(std::string_view nonce);

  std::size_t outstanding() const;

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable common::Mutex mu;
    std::unordered_set<std::string> live CW_GUARDED_BY(mu);
    std::deque<std::pair<SysTime, std::string>> order CW_GUARDED_BY(mu);  // oldest first
  };
  Shard& shard_for(std::string_view nonce);
  void expire(Shard& s, SysTime now) CW_REQUIRES(s.mu);

  const Clock& clock_;
  const std::chrono::seconds lifetime_;
  const std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace certward::protocols::acme
