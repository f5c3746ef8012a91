#include "common/dns_name.h"

namespace certward::dns {
namespace {

// Each pointer must go further back than the last, so a chain ends on its own; the cap only
// bounds the work on a message built to be slow.
constexpr int kMaxPointers = 64;

}  // namespace

Result<std::vector<std::string>> read_name_labels(std::span<const std::uint8_t> m,
                                                  std::size_t& pos) {
  std::vector<std::string> labels;
  std::size_t p = pos;
  std::size_t segment_start = pos;  // where the labels being read now begin
  std::size_t octets = 0;
  bool jumped = false;
  int pointers = 0;
  for (;;) {
    if (p >= m.size()) return fail(ErrorCode::kMalformed, "name runs past the message");
    const std::uint8_t len = m[p];
    if ((len & 0xC0) == 0xC0) {
      if (p + 1 >= m.size()) return fail(ErrorCode::kMalformed, "pointer runs past the message");
      const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | m[p + 1];
      if (target < kHeaderSize || target >= segment_start || ++pointers > kMaxPointers) {
        return fail(ErrorCode::kMalformed, "compression pointer does not point back to a name");
      }
      if (!jumped) pos = p + 2;
      jumped = true;
      p = segment_start = target;
      continue;
    }
    if ((len & 0xC0) != 0) return fail(ErrorCode::kMalformed, "reserved label type");
    octets += std::size_t{len} + 1;
    if (octets > kMaxNameOctets) return fail(ErrorCode::kMalformed, "name over 255 octets");
    if (len == 0) {
      if (!jumped) pos = p + 1;
      return labels;
    }
    if (m.size() - p - 1 < len) return fail(ErrorCode::kMalformed, "label runs past the message");
    labels.emplace_back(reinterpret_cast<const char*>(m.data() + p + 1), len);
    p += 1 + std::size_t{len};
  }
}

}  // namespace certward::dns
