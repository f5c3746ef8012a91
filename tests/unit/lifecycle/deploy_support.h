#pragma once
// What the deployment tests share: a small PKI (root, intermediate, leaves by name), the
// material of a leaf, and file helpers.

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "lifecycle/deploy/target.h"
#include "unit/testing/pki.h"
#include "unit/testing/temp_dir.h"

namespace certward::lifecycle::deploy::testing {

using certward::testing::TempDir;

// A leaf, its key and its issuers (intermediate, root); material() points into it.
struct Issued {
  crypto::PrivateKey key;
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;
  Material material() const { return Material{certificate, chain, key}; }
  std::string sha256() const { return certificate.info().sha256_hex; }
};

class TestPki {
 public:
  TestPki()
      : root_key_(certward::testing::make_key()),
        root_(certward::testing::self_signed_ca(root_key_)),
        intermediate_key_(certward::testing::make_key()),
        intermediate_(certward::testing::issue(
            certward::testing::ca_template(intermediate_key_.get(), "CN=Test Issuing CA,O=Test"),
            &root_, root_key_, certward::testing::ca_rules())) {}

  // A new key and a new certificate for `dns` each time.
  std::unique_ptr<Issued> leaf(const std::string& dns) const {
    auto key = certward::testing::make_key();
    auto t = certward::testing::leaf_template(key.get());
    t.subject = certward::testing::name("CN=" + dns);
    t.sans = {{x509::SanType::kDns, dns}};
    x509::LintRules rules;
    auto cert = certward::testing::issue(t, &intermediate_, intermediate_key_, rules);
    return std::unique_ptr<Issued>(
        new Issued{std::move(key), std::move(cert), {intermediate_, root_}});
  }

  const x509::Certificate& root() const { return root_; }
  const x509::Certificate& intermediate() const { return intermediate_; }

 private:
  crypto::PrivateKey root_key_;
  x509::Certificate root_;
  crypto::PrivateKey intermediate_key_;
  x509::Certificate intermediate_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void spit(const std::string& path, const std::string& data, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  ::chmod(path.c_str(), mode);
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline struct stat stat_of(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st;
}

inline std::vector<std::string> step_names(const Outcome& o) {
  std::vector<std::string> names;
  for (const auto& s : o.steps) names.push_back(s.name);
  return names;
}

// Every step with its detail, for failure messages.
inline std::string describe(const Outcome& o) { return outcome_json(o).dump(); }

}  // namespace certward::lifecycle::deploy::testing
