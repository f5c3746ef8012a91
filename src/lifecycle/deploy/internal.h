#pragma once
// Private to lifecycle/deploy: the pieces Deployer::deploy is made of. Each is usable alone
// (and tested through deploy() and the public functions of target.h).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/process.h"
#include "lifecycle/deploy/target.h"

namespace certward::lifecycle::deploy::detail {

// ---- spec syntax (spec.cc) ----

struct HostPort {
  std::string host;  // a DNS name or an address; IPv6 without brackets
  std::uint16_t port = 0;
};
// "host:port", "[v6]:port". Errors: kInvalidArgument.
Result<HostPort> parse_endpoint(std::string_view text);
// A host name (letters, digits, '-', '.', labels of 1-63) or an IPv4 or IPv6 address.
bool valid_host(std::string_view host);
bool is_ipv6(std::string_view host);
// The output files a spec names, as (role, path), in the order key, certificate, chain,
// fullchain, pkcs12.
std::vector<std::pair<std::string, std::string>> output_paths(const FileOutputs& files);

// ---- policy (policy.cc) ----

// The path with its existing parent directories' symbolic links resolved (realpath of the
// longest existing parent, then the rest as given): the path check_target judges and the
// files target writes. Errors: kUnavailable (a parent cannot be examined).
Result<std::string> resolve_parents(const std::string& path);
// The path as resolve_parents gives it, if that lies under one of the policy's allowed
// directories: what check_target judges, and exactly what the files target then writes.
// `role` names the file in the message. Errors: kPolicyRejected.
Result<std::string> allowed_write_path(const std::string& role, const std::string& path,
                                       const Policy& policy);

// ---- what goes into the files (material.cc) ----

enum class Sensitivity : std::uint8_t { kPublic, kSecret };

struct OutputFile {
  std::string path;  // as in the spec
  std::string role;  // "key", "certificate", "chain", "fullchain", "pkcs12"
  std::string data;  // cleansed by the owner when kSecret
  mode_t mode = 0644;
  Sensitivity sensitivity = Sensitivity::kPublic;
};

// Renders every file the spec names, in the order key, certificate, chain, fullchain, pkcs12.
// Reads the PKCS#12 password from its file (which must be private to this user).
// Errors: kPolicyRejected (a password file that is not private), kNotFound, kInvalidArgument
// (an empty password file), kInternal (encoding).
Result<std::vector<OutputFile>> render(const FileOutputs& files, const Material& material);
// Overwrites the secret ones.
void cleanse(std::vector<OutputFile>& files);

// ---- child processes (common/process.h) ----

using common::one_line;
using common::run_process;
using common::RunOptions;
using common::RunResult;

// ---- verification (handshake.cc) ----

// Connects to the endpoint (each address it resolves to), performs a TLS handshake sending
// `sni` when not empty, and returns the SHA-256 of the leaf certificate served (lower-case
// hex). No chain verification: the question is only which certificate is served.
// Errors: kUnavailable (could not resolve, connect, complete a handshake within `timeout`, or
// no certificate was served).
// Only addresses in `networks` are dialled: kPolicyRejected when the endpoint resolves to none.
Result<std::string> served_leaf_sha256(const HostPort& endpoint, const std::string& sni,
                                       std::chrono::milliseconds timeout,
                                       const std::vector<std::string>& networks);

// The verify step: retries every ~200 ms until the new certificate is served or `verify`'s
// timeout passes. Detail: "served SHA256:<hex>" or what was served or went wrong instead.
// Dials only addresses in `policy`'s verify_networks.
Step verify_served(const Verify& verify, const Material& material, const Policy& policy);

// ---- steps (deployer.cc) ----

// Times a step from its construction.
class StepTimer {
 public:
  StepTimer() : start_(std::chrono::steady_clock::now()) {}
  Step finish(std::string name, bool ok, std::string detail) const;

 private:
  std::chrono::steady_clock::time_point start_;
};

// ---- the two kinds of target (files.cc, ssh.cc) ----

// Both append their steps to `out` and set deployed, rolled_back and error.
void deploy_files(const TargetSpec& spec, const Material& material, const Policy& policy,
                  Outcome& out);
void deploy_ssh(const TargetSpec& spec, const Material& material, const Policy& policy,
                Outcome& out);

// POSIX sh single quoting: 'it'\''s'.
std::string shell_quote(std::string_view s);

}  // namespace certward::lifecycle::deploy::detail
