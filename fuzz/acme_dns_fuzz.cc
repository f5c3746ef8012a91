// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: protocols::acme::parse_dns_response (every datagram and TCP message the ACME
// challenge validator's resolver receives), with the invariants its callers rely on; and
// build_dns_query on the same bytes read as a name, whose query must parse back (QR set) with
// that name as its question.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocols/acme/dns.h"

namespace acme = certward::protocols::acme;

namespace {

void check_record(const acme::DnsRecord& rec) {
  if (!acme::dns_name_equal(rec.name, rec.name)) __builtin_trap();
  if (rec.address.size() != 0 && rec.address.size() != 4 && rec.address.size() != 16) {
    __builtin_trap();
  }
  std::size_t txt = 0;
  for (const auto& s : rec.txt) txt += 1 + s.size();
  if (txt > rec.rdata.size()) __builtin_trap();
  if (rec.type == acme::DnsType::kTxt && txt != rec.rdata.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> wire(data, size);
  if (auto msg = acme::parse_dns_response(wire)) {
    if (!msg->qr) __builtin_trap();
    for (const auto* section : {&msg->answers, &msg->authority, &msg->additional}) {
      for (const auto& rec : *section) check_record(rec);
    }
  }

  std::string_view name(reinterpret_cast<const char*>(data), size);
  if (auto query = acme::build_dns_query(0x1234, name, acme::DnsType::kTxt)) {
    (*query)[2] |= 0x80;  // as if the resolver echoed it back as a response
    auto echoed = acme::parse_dns_response(*query);
    if (!echoed || echoed->questions.size() != 1) __builtin_trap();
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (!acme::dns_name_equal(echoed->questions[0].name, name)) __builtin_trap();
  }
  return 0;
}
