#pragma once
// A SoftHSM2 token for tests: its own configuration and token directory in a temporary
// directory, one initialised token, and the user PIN in an environment variable. SoftHSM2
// reads its configuration when the module is first initialised, and certward initialises a
// module once per process, so a test binary uses one SoftHsm (SoftHsm::shared()).

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "unit/testing/temp_dir.h"

namespace certward::testing {

class SoftHsm {
 public:
  static constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
  static constexpr const char* kToken = "certward-test";
  static constexpr const char* kPinEnv = "CERTWARD_TEST_HSM_PIN";
  static constexpr const char* kPin = "4711-test";
  // A second token, for tests that give it a wrong PIN.
  static constexpr const char* kOtherToken = "certward-test-2";

  static SoftHsm& shared() {
    static SoftHsm* hsm = new SoftHsm();  // never destroyed: the module outlives the tests
    return *hsm;
  }

  std::string pin_source() const { return std::string("env:") + kPinEnv; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path tokens() const { return dir_.path() / "tokens"; }
  std::filesystem::path conf() const { return dir_.path() / "softhsm2.conf"; }

  // Takes the token away (its directory and the configuration), as a removed HSM would be,
  // and puts it back.
  void remove_token() {
    std::filesystem::rename(tokens(), dir_.path() / "tokens.away");
    std::filesystem::rename(conf(), dir_.path() / "softhsm2.conf.away");
  }
  void restore_token() {
    std::filesystem::rename(dir_.path() / "tokens.away", tokens());
    std::filesystem::rename(dir_.path() / "softhsm2.conf.away", conf());
  }

 private:
  SoftHsm() {
    std::filesystem::create_directory(tokens());
    std::ofstream(conf()) << "directories.tokendir = " << tokens().string()
                          << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    ::setenv("SOFTHSM2_CONF", conf().c_str(), 1);
    ::setenv(kPinEnv, kPin, 1);
    const std::string cmd = std::string("softhsm2-util --init-token --free --label ") + kToken +
                            " --so-pin 0000-test --pin " + kPin + " >/dev/null";
    CW_CHECK(std::system(cmd.c_str()) == 0);
    const std::string other = std::string("softhsm2-util --init-token --free --label ") +
                              kOtherToken + " --so-pin 0000-test --pin " + kPin + " >/dev/null";
    CW_CHECK(std::system(other.c_str()) == 0);
  }

  TempDir dir_;
};

}  // namespace certward::testing
