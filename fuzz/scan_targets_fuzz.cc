// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: discovery::net::parse_ports and expand (scan requests typed by operators and
// sent in API bodies). The input is split on newlines: the first line is the port list, the
// second the SNI names (comma-separated), the rest targets. Names resolve through a fake, so
// no DNS is touched; the cap is small so that a huge CIDR is refused, not allocated.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/net/targets.h"

namespace net = certward::discovery::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  while (!in.empty() && lines.size() < 64) {
    auto nl = in.find('\n');
    lines.emplace_back(in.substr(0, nl));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  if (lines.empty()) return 0;
  if (auto ports = net::parse_ports(lines[0])) {
    for (const auto& p : *ports) {
      if (p.port == 0) __builtin_trap();
    }
  }
  net::ScanRequest req;
  req.ports = lines[0];
  if (lines.size() > 1) {
    std::string_view names = lines[1];
    while (!names.empty()) {
      auto comma = names.find(',');
      req.sni.emplace_back(names.substr(0, comma));
      if (comma == std::string_view::npos) break;
      names.remove_prefix(comma + 1);
    }
  }
  for (std::size_t i = 2; i < lines.size(); ++i) req.targets.push_back(lines[i]);
  req.max_endpoints = 4096;
  auto resolve = [](const std::string& host) -> certward::Result<std::vector<std::string>> {
    if (host.size() % 3 == 0) return certward::fail(certward::ErrorCode::kNotFound, "no");
    return std::vector<std::string>{"192.0.2.1", "2001:db8::1"};
  };
  if (auto endpoints = net::expand(req, resolve)) {
    // The cap holds whatever the input.
    if (endpoints->size() > req.max_endpoints) __builtin_trap();
    for (const auto& e : *endpoints) {
      if (e.port == 0 || (e.address.empty() && e.host.empty())) __builtin_trap();
    }
  }
  return 0;
}
