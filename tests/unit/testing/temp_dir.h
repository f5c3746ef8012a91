#pragma once
// A fresh directory under the system temporary directory, removed with everything in it when
// the object goes out of scope. Each test gets its own, so tests never share files.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "certward-test-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    CW_CHECK(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace certward::testing
