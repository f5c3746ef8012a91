// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: the authorized_keys and known_hosts readers of discovery::files (every such
// file the file scanner meets): content detection, whole-file reading as either kind, and the
// single-line parsers. Invariant: a line accepted carries a blob that names its own type.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "discovery/files/openssh_files.h"

namespace files = certward::discovery::files;

namespace {
void check(const certward::Result<files::SshKeyLine>& line) {
  if (!line) return;
  if (line->type.empty() || line->blob.size() < 4 + line->type.size()) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)files::detect_ssh_key_file(text);
  for (auto kind : {files::SshKeyFileKind::kAuthorizedKeys, files::SshKeyFileKind::kKnownHosts}) {
    auto file = files::read_ssh_key_file(text, kind, certward::SysTime{});
    for (const auto& key : file.keys) {
      if (key.blob.empty()) __builtin_trap();
    }
  }
  check(files::parse_authorized_keys_line(text));
  check(files::parse_known_hosts_line(text));
  return 0;
}
