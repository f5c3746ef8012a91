#pragma once
// Child processes for commands an operator configures (reload commands, ssh/scp, DNS hooks): no
// shell, bounded time, bounded output, nothing of the server's environment passed on.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace certward::common {

struct RunResult {
  bool timed_out = false;
  int exit_status = -1;  // when it exited; -1 when killed by a signal or the timeout
  int signal = 0;        // when killed by a signal
  std::string output;    // stdout and stderr interleaved, the first `max_output` bytes

  bool succeeded() const { return !timed_out && exit_status == 0; }
  // "exit status 1: <output>", "killed by signal 9", "timed out after 30s"; single line.
  std::string describe() const;
};

struct RunOptions {
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_output = 4096;
  // Given to the child on stdin (REQUIRES: at most 32 KiB); empty means /dev/null.
  std::string_view input;
};

// Runs argv (argv[0] an absolute path; no shell) in a process group of its own, with a
// minimal environment (PATH, LANG=C: nothing of the server's environment leaks into it),
// stdin from `input` or /dev/null, stdout and stderr captured up to the bound (the rest is
// read and dropped). When the timeout passes, the whole group is killed with SIGKILL.
// Errors: kUnavailable (it could not be started: no such program, not executable).
Result<RunResult> run_process(const std::vector<std::string>& argv, const RunOptions& options);

// One line for a step's detail: control characters become spaces, at most `max` bytes.
std::string one_line(std::string_view text, std::size_t max = 1024);

}  // namespace certward::common
