#pragma once
// Names for the server's long-lived threads, so that `top -H`, `perf`, gdb and
// /proc/PID/task/*/comm tell the API workers from the group-commit writer.

#include <string_view>

namespace certward::common {

// Names the calling thread. Linux keeps at most 15 bytes; longer names are cut there. Best
// effort: a name that cannot be set leaves the thread as it was.
void name_this_thread(std::string_view name);

// Names the calling thread once: for threads a library starts (a thread pool's), named by the
// first task that runs on each. A thread_local check after the first call.
void name_this_thread_once(std::string_view name);

}  // namespace certward::common
