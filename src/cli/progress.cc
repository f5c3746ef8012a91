#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace certward::cli {
namespace {

// Lock-free, so a signal handler may set it.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_interrupt(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);
}

std::string duration_text(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

}  // namespace

std::string format_progress(const std::string& noun, std::int64_t done,
                            std::optional<std::int64_t> total,
                            std::chrono::duration<double> elapsed, const std::string& detail) {
  std::string line = std::to_string(done);
  if (total) line += " of " + std::to_string(*total);
  line += " " + noun;
  const double secs = elapsed.count();
  // Under a fifth of a second the rate is noise.
  if (secs >= 0.2 && done > 0) {
    const double rate = static_cast<double>(done) / secs;
    line += ", " + std::to_string(static_cast<std::int64_t>(rate + 0.5)) + "/s";
    if (total && *total > done) {
      line += ", " + duration_text(static_cast<double>(*total - done) / rate) + " left";
    }
  }
  if (!detail.empty()) line += ", " + detail;
  return line;
}

InterruptScope::InterruptScope() {
  g_interrupted.store(false);
  previous_ = std::signal(SIGINT, on_interrupt);
  // Started with SIGINT ignored (nohup, a shell's background job): a terminal's Ctrl-C is not
  // meant for it, so it stays ignored.
  if (previous_ == SIG_IGN) std::signal(SIGINT, SIG_IGN);
}

InterruptScope::~InterruptScope() {
  std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
}

const std::atomic<bool>& InterruptScope::flag() { return g_interrupted; }

Progress::Progress(std::string noun, std::optional<std::int64_t> total, bool json,
                   ProgressDisplay display)
    : noun_(std::move(noun)),
      total_(total),
      shown_(display == ProgressDisplay::kAuto && !json && isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

void Progress::update(std::int64_t done, const std::string& detail) {
  if (!shown_) return;
  const auto now = Clock::now();
  const bool complete = total_ && done >= *total_;
  if (drawn_ && !complete && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  drawn_ = true;
  // \r and clear-to-end-of-line: a shorter line leaves nothing of the longer one behind.
  std::fprintf(stderr, "\r%s\033[K",
               format_progress(noun_, done, total_, now - start_, detail).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!shown_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace certward::cli
