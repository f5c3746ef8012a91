#pragma once
// A synthetic inventory for the benchmarks that read one at scale (bench/policy, bench/reports):
// record i mixes key types, issuers, names, teams and tags, and fill() writes N of them into
// the inventory's table of a migrated database in large transactions, as an import would.
// With the two measures every such benchmark prints: wall time and peak RSS.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "store/store.h"

namespace certward::bench {

using Stopwatch = std::chrono::steady_clock;

inline double seconds_since(Stopwatch::time_point t0) {
  return std::chrono::duration<double>(Stopwatch::now() - t0).count();
}

inline long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Record i of the synthetic inventory: a mix of key types, issuers, names, teams and tags, with
// a few percent breaking each rule. `shift` moves its validity (0: fixed dates from 2025-10).
inline inventory::CertificateRecord synthetic(std::size_t i, std::int64_t shift = 0) {
  inventory::CertificateRecord c;
  char fp[65];
  std::snprintf(fp, sizeof fp, "%064zx", i * 2654435761u + 1);
  c.fingerprint = fp;
  c.serial = c.fingerprint.substr(0, 16);
  const std::string host =
      "host" + std::to_string(i) + (i % 50 == 0 ? ".example.org" : ".example.com");
  c.common_name = i % 97 == 0 ? "*.example.com" : host;
  c.subject = "CN=" + c.common_name;
  c.issuer = i % 41 == 0 ? "CN=Old SHA-1 CA,O=Bench"
                         : "CN=Issuing CA " + std::to_string(i % 3) + ",O=Bench";
  c.sans = {{x509::SanType::kDns, c.common_name}, {x509::SanType::kDns, "www." + host}};
  c.not_before = from_unix(1'760'000'000 + shift + static_cast<std::int64_t>(i % 100000));
  c.not_after = c.not_before + std::chrono::days(i % 23 == 0 ? 825 : 90);
  switch (i % 10) {
    case 0:
      c.key_algorithm = "rsa";
      c.key_bits = i % 20 == 0 ? 1024 : 2048;
      break;
    case 1:
    case 2:
      c.key_algorithm = "rsa";
      c.key_bits = 3072;
      break;
    case 3:
      c.key_algorithm = "ed25519";
      c.key_bits = 256;
      break;
    default:
      c.key_algorithm = "ecdsa";
      c.key_bits = i % 31 == 0 ? 521 : 256;
      c.key_curve = i % 31 == 0 ? "P-521" : "P-256";
  }
  c.signature_algorithm = i % 53 == 0 ? "sha1WithRSAEncryption" : "ecdsa-with-SHA256";
  c.extended_key_usage = {"serverAuth"};
  if (i % 7 == 0) c.extended_key_usage.push_back("clientAuth");
  c.meta.origin = i % 2 ? inventory::Origin::kDiscovered : inventory::Origin::kIssued;
  if (i % 11 != 0) c.meta.owner = "owner" + std::to_string(i % 100);
  c.meta.team = "team-" + std::to_string(i % 5);
  c.meta.tags = {i % 3 == 0 ? "prod" : "dev"};
  if (i % 4 == 0) c.meta.tags.push_back("public");
  return c;
}

inline std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}

// ASCII lower case, as the inventory folds search texts (the synthetic names are ASCII).
inline std::string folded(std::string s) {
  for (char& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

// Writes records [0, n) with their search text and tag rows, as Inventory::record would.
inline Status fill(store::Database& db, std::size_t n, std::int64_t shift = 0) {
  constexpr std::size_t kBatch = 20000;
  for (std::size_t from = 0; from < n; from += kBatch) {
    CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kWrite));
    for (std::size_t i = from; i < std::min(n, from + kBatch); ++i) {
      const auto c = synthetic(i, shift);
      std::vector<std::string> sans;
      std::string search = folded(c.subject);
      for (const auto& s : c.sans) {
        sans.push_back("dns:" + s.value);
        search += "\n" + folded(s.value);
      }
      for (const auto& tag : c.meta.tags) {
        CW_RETURN_IF_ERROR(tx->execute(
            "INSERT INTO certificate_tags (tag, not_after, fingerprint) VALUES (?, ?, ?)",
            store::params(tag, to_unix(c.not_after), c.fingerprint)));
      }
      CW_RETURN_IF_ERROR(tx->execute(
          "INSERT INTO certificates (fingerprint, der, serial, subject, common_name, issuer, "
          "issuer_folded, sans, search_text, not_before, not_after, key_algorithm, key_bits, "
          "key_curve, signature_algorithm, is_ca, origin, owner, team, tags, key_sha256, ekus, "
          "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, "
          "?, ?, '', ?, 0, 0)",
          store::params(c.fingerprint, Bytes{0x30, 0x00}, c.serial, c.subject, c.common_name,
                        c.issuer, folded(c.issuer), join_lines(sans), search, to_unix(c.not_before),
                        to_unix(c.not_after), c.key_algorithm,
                        static_cast<std::int64_t>(c.key_bits), c.key_curve, c.signature_algorithm,
                        std::string(inventory::origin_name(c.meta.origin)),
                        c.meta.owner ? store::Value(*c.meta.owner) : store::Value(nullptr),
                        *c.meta.team, join_lines(c.meta.tags), join_lines(c.extended_key_usage))));
    }
    CW_RETURN_IF_ERROR(tx->commit());
  }
  return ok();
}

}  // namespace certward::bench
