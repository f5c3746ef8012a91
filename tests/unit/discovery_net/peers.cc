// Plain POSIX sockets and fork/exec, not the scanner's Asio: the peers must not share a bug
// with the code they test.

#include "unit/discovery_net/peers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace certward::discovery::net::testing {

std::string pki_script() {
  const char* data = std::getenv("CERTWARD_TEST_DATA");
  // tests/data need not exist: its parent, tests/, does.
  const std::filesystem::path tests =
      std::filesystem::path(data ? data : "tests/data").parent_path();
  return (tests / "unit" / "discovery_net" / "make_pki.sh").string();
}
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Waits for `fd` to be readable; false when stopping or after an error.
bool wait_readable(int fd, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 50);
    if (rc > 0) return true;
    if (rc < 0) return false;
  }
  return false;
}

}  // namespace

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds wait, bool ipv6) {
  auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(port);
    sockaddr_in6 addr6{};
    addr6.sin6_family = AF_INET6;
    addr6.sin6_port = htons(port);
    addr6.sin6_addr = in6addr_loopback;
    bool up = ipv6 ? ::connect(fd, reinterpret_cast<sockaddr*>(&addr6), sizeof addr6) == 0
                   : ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

Process::Process(const std::vector<std::string>& argv, const std::string& log_file) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

Process::~Process() { stop(); }

void Process::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

ScriptedPeer::ScriptedPeer(Handler handler) : handler_(std::move(handler)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(0);
  ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listener_, 128);
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptedPeer::~ScriptedPeer() {
  stop_ = true;
  acceptor_.join();
  std::lock_guard lock(mu_);
  for (auto& t : connections_) t.join();
  ::close(listener_);
}

void ScriptedPeer::accept_loop() {
  while (wait_readable(listener_, stop_)) {
    int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    connections_.emplace_back([this, fd] {
      handler_(fd, stop_);
      ::close(fd);
    });
  }
}

bool read_line(int fd, std::string& line, const std::atomic<bool>& stop) {
  line.clear();
  while (line.size() < 8192) {
    if (!wait_readable(fd, stop)) return false;
    char c = 0;
    if (::recv(fd, &c, 1, 0) != 1) return false;
    line += c;
    if (c == '\n') return true;
  }
  return false;
}

bool read_bytes(int fd, std::size_t n, std::string& out, const std::atomic<bool>& stop) {
  out.clear();
  while (out.size() < n) {
    if (!wait_readable(fd, stop)) return false;
    char buf[512];
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) return false;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return true;
}

void write_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

void hold(int fd, const std::atomic<bool>& stop) {
  char buf[512];
  while (wait_readable(fd, stop)) {
    if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
  }
}

void splice_to(int fd, std::uint16_t backend, const std::atomic<bool>& stop) {
  int up = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = loopback(backend);
  if (::connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(up);
    return;
  }
  char buf[4096];
  while (!stop) {
    pollfd p[2] = {{fd, POLLIN, 0}, {up, POLLIN, 0}};
    int rc = ::poll(p, 2, 50);
    if (rc < 0) break;
    if (rc == 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      write_all(i == 0 ? up : fd, std::string(buf, static_cast<std::size_t>(n)));
    }
    if (closed) break;
  }
  ::close(up);
}

}  // namespace certward::discovery::net::testing
