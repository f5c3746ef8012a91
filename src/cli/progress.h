#pragma once
// A progress line for long CLI work (import, bulk issuance, scans): on standard error, only
// when a person is watching (stderr is a terminal and the output is not --json), redrawn in
// place at most a few times a second, with the count, the rate and, when the total is known,
// the time left. Nothing at all is written otherwise, so scripts and logs see only the result.
//
// Thread-safety: not thread-safe; callers serialise update() and finish() (bulk issuance
// calls them under its output lock).

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>

namespace certward::cli {

enum class ProgressDisplay : std::uint8_t { kAuto, kOff };

class Progress {
 public:
  // `noun` names what is counted ("files", "certificates"). With kAuto the line is shown when
  // stderr is a terminal; `json` (the --json flag) turns it off.
  Progress(std::string noun, std::optional<std::int64_t> total, bool json,
           ProgressDisplay display = ProgressDisplay::kAuto);
  ~Progress();  // finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool shown() const { return shown_; }
  void set_total(std::int64_t total) { total_ = total; }
  // `done` so far; `detail` (e.g. "1203 imported") follows the count. Redraws at most every
  // 200 ms, and always when done reaches the total.
  void update(std::int64_t done, const std::string& detail = {});
  // Clears the line, so that the summary that follows starts on a clean line.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;

  const std::string noun_;
  std::optional<std::int64_t> total_;
  const bool shown_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

// While it lives, the first SIGINT (Ctrl-C) only sets a flag that long work checks between
// units (files, batches, certificates), so it stops cleanly and says what was done; the
// handler then steps aside, so a second Ctrl-C ends the process at once. Restores the previous
// handler on destruction. A process started with SIGINT ignored (nohup, a non-interactive
// shell's background job) keeps ignoring it. One at a time per process (the flag is
// process-wide).
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

  bool requested() const { return flag().load(); }
  // The flag itself, for work that takes a `const std::atomic<bool>*` stop request.
  static const std::atomic<bool>& flag();

 private:
  void (*previous_)(int);
};

// The line Progress draws, without the carriage return: "1200 of 5000 files, 300/s, 13s
// left, <detail>" (no "of", no time left without a total). Exposed for tests.
std::string format_progress(const std::string& noun, std::int64_t done,
                            std::optional<std::int64_t> total,
                            std::chrono::duration<double> elapsed, const std::string& detail);

}  // namespace certward::cli
