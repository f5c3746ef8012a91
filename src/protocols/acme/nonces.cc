#include "protocols/acme/nonces.h"

#include <functional>

#include "common/encoding.h"
#include "crypto/crypto.h"

namespace certward::protocols::acme {

NonceStore::NonceStore(const Clock& clock, std::chrono::seconds lifetime, std::size_t max_nonces)
    : clock_(clock),
      lifetime_(lifetime),
      max_per_shard_(std::max<std::size_t>(1, max_nonces / kShards)) {}

NonceStore::Shard& NonceStore::shard_for(std::string_view nonce) {
  return shards_[std::hash<std::string_view>{}(nonce) % kShards];
}

void NonceStore::expire(Shard& s, SysTime now) {
  while (!s.order.empty() &&
         (s.order.front().first + lifetime_ <= now || s.order.size() > max_per_shard_)) {
    s.live.erase(s.order.front().second);
    s.order.pop_front();
  }
}

std::string NonceStore::issue() {
  std::string nonce = to_base64url(crypto::random_bytes(16));
  Shard& s = shard_for(nonce);
  const SysTime now = clock_.now();
  common::MutexLock lock(s.mu);
  s.live.insert(nonce);
  s.order.emplace_back(now, nonce);
  expire(s, now);
  return nonce;
}

bool NonceStore::redeem(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > 64) return false;
  Shard& s = shard_for(nonce);
  common::MutexLock lock(s.mu);
  expire(s, clock_.now());
  // The entry in `order` stays until it ages out; `live` alone decides.
  return s.live.erase(std::string(nonce)) == 1;
}

std::size_t NonceStore::outstanding() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    common::MutexLock lock(s.mu);
    n += s.live.size();
  }
  return n;
}

}  // namespace certward::protocols::acme
