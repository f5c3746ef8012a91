// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: x509::parse_name and parse_san (subjects and SANs given on the command line,
// in request bodies and in profile templates), check_san on raw values of every type (names
// from a CSR), with format_name/format_san/parse_formatted_san round trips.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "x509/names.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto name = certward::x509::parse_name(in)) (void)certward::x509::format_name(name->get());
  if (auto san = certward::x509::parse_san(in)) (void)certward::x509::format_san(*san);
  using certward::x509::SanType;
  for (SanType type : {SanType::kDns, SanType::kIp, SanType::kEmail, SanType::kUri}) {
    const certward::x509::SubjectAltName raw{type, std::string(in)};
    if (auto checked = certward::x509::check_san(raw)) {
      // What passed the check must pass it again unchanged, and survive storage.
      auto again = certward::x509::check_san(*checked);
      if (!again || *again != *checked) __builtin_trap();
      if (type == SanType::kUri) (void)certward::x509::uri_host(checked->value);
    }
    const auto stored = certward::x509::parse_formatted_san(certward::x509::format_san(raw));
    if (!stored || *stored != raw) __builtin_trap();
  }
  return 0;
}
