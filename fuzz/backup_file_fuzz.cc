// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: store::sqlite_copy_foreign, sqlite_rebuild_and_check, sqlite_read_pairs and
// sqlite_visit_content, which `certward restore` runs over a backup file, in that order,
// before it trusts anything in it: the bytes are written to a file, copied, re-indexed and
// checked the way restore does, the backup's own table is read and every row is visited.
// Aborts if a visit yields a table that the schema did not name.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "store/snapshot.h"

namespace store = certward::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp ? tmp : "/tmp") + "/certward-backup-fuzz-" + std::to_string(::getpid());
  }();
  static const bool made = [] {
    std::remove(dir.c_str());
    return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
  }();
  if (!made) return 0;
  const std::string input = dir + "/input.cwb";
  const std::string copy = dir + "/copy.db";
  std::remove(copy.c_str());
  if (FILE* f = std::fopen(input.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  if (store::sqlite_copy_foreign(input, copy) && store::sqlite_rebuild_and_check(copy)) {
    auto pairs = store::sqlite_read_pairs(
        copy, "certward_backup",
        "CREATE TABLE certward_backup (name TEXT PRIMARY KEY, value TEXT NOT NULL)", 64, 4096);
    if (pairs && pairs->size() > 64) __builtin_trap();
    std::set<std::string, std::less<>> named;
    store::ContentVisitor visit;
    visit.schema = [&](std::string_view, std::string_view name, std::string_view) {
      named.emplace(name);
    };
    visit.row = [&](std::string_view table, std::string_view) {
      if (!named.contains(table)) __builtin_trap();
    };
    visit.table_done = [&](std::string_view table) {
      if (!named.contains(table)) __builtin_trap();
    };
    (void)store::sqlite_visit_content(copy, "certward_backup", visit);
  }
  std::remove(copy.c_str());
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::remove((copy + suffix).c_str());
  return 0;
}
