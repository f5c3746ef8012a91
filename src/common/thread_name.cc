#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace certward::common {

void name_this_thread(std::string_view name) {
  constexpr std::size_t kMax = 15;  // the kernel's TASK_COMM_LEN, less the terminator
  std::string cut(name.substr(0, kMax));
  pthread_setname_np(pthread_self(), cut.c_str());
}

void name_this_thread_once(std::string_view name) {
  thread_local bool named = false;
  if (named) return;
  named = true;
  name_this_thread(name);
}

}  // namespace certward::common
