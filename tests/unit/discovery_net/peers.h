#pragma once
// Peers for the network scanner's tests, all on 127.0.0.1 on free ports: real servers run as
// child processes (openssl s_server, sshd) stopped by PID, and scripted peers in threads for
// what no real server does on demand — STARTTLS greeters that hand the connection over to an
// s_server, a listener that never answers, one that sends garbage, an HTTP server on a TLS
// port, a plain HTTP file server for CRLs.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace certward::discovery::net::testing {

std::uint16_t free_port();
// Whether something accepts connections on 127.0.0.1:port (or [::1]:port) within `wait`.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds wait, bool ipv6 = false);
// Runs `command` with /bin/sh; true on exit status 0.
bool run(const std::string& command);

// make_pki.sh beside these tests, found through CERTWARD_TEST_DATA (tests/data, set by ctest).
std::string pki_script();

// A child process, sent SIGTERM and reaped when stopped or destroyed.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  void stop();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Accepts on a free port and runs `handler` for each connection on its own thread. Handlers
// must return soon after `stop` turns true (read_line and friends poll it).
class ScriptedPeer {
 public:
  using Handler = std::function<void(int fd, const std::atomic<bool>& stop)>;
  explicit ScriptedPeer(Handler handler);
  ~ScriptedPeer();
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  void accept_loop();

  Handler handler_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> connections_;
};

// Helpers for handlers; each gives up (false) when the peer closes or `stop` is set.
bool read_line(int fd, std::string& line, const std::atomic<bool>& stop);
bool read_bytes(int fd, std::size_t n, std::string& out, const std::atomic<bool>& stop);
void write_all(int fd, const std::string& data);
// Waits until the client closes or the test stops.
void hold(int fd, const std::atomic<bool>& stop);
// Relays bytes between `fd` and a new connection to 127.0.0.1:backend until either side closes.
void splice_to(int fd, std::uint16_t backend, const std::atomic<bool>& stop);

}  // namespace certward::discovery::net::testing
