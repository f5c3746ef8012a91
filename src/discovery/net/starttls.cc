// The plain-text dialogues that come before TLS on mail, directory, file-transfer and database
// ports. Each is the shortest exchange the protocol allows (RFC 3207 SMTP, RFC 3501 IMAP,
// RFC 2595 POP3, RFC 4511 4.14 LDAP, RFC 4217 FTP, PostgreSQL's SSLRequest). Every read is
// bounded in size and count: a peer that streams endless lines hits a limit, not our memory.

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <vector>

#include "discovery/net/probe.h"

namespace certward::discovery::net::detail {
namespace {

constexpr std::size_t kMaxLine = 4096;
constexpr std::size_t kMaxLines = 64;
constexpr std::size_t kMaxLdapResponse = 16 * 1024;

enum class Read {
  kReply,   // SMTP/FTP: "NNN-..." lines until "NNN ..."; the code must match
  kLine,    // one line that must start with `expect`
  kTagged,  // IMAP: lines until the one tagged "a1 "; it must be "a1 OK"
  kLdap,    // one LDAPMessage: an ExtendedResponse with resultCode success
  kByte,    // one byte, which must be `expect`
};

struct Step {
  std::string send;
  Read read;
  std::string expect;
};

std::string ldap_start_tls_request() {
  static constexpr std::string_view kOid = "1.3.6.1.4.1.1466.20037";
  std::string name = "\x80" + std::string(1, static_cast<char>(kOid.size())) + std::string(kOid);
  std::string op = "\x77" + std::string(1, static_cast<char>(name.size())) + name;
  std::string message = std::string("\x02\x01\x01", 3) + op;  // messageID 1
  return "\x30" + std::string(1, static_cast<char>(message.size())) + message;
}

std::vector<Step> dialogue(const std::string& protocol) {
  if (protocol == "smtp") {
    return {{"", Read::kReply, "220"},
            {"EHLO certward-scanner.invalid\r\n", Read::kReply, "250"},
            {"STARTTLS\r\n", Read::kReply, "220"}};
  }
  if (protocol == "ftp") return {{"", Read::kReply, "220"}, {"AUTH TLS\r\n", Read::kReply, "234"}};
  if (protocol == "imap") {
    return {{"", Read::kLine, "* OK"}, {"a1 STARTTLS\r\n", Read::kTagged, "a1 OK"}};
  }
  if (protocol == "pop3") return {{"", Read::kLine, "+OK"}, {"STLS\r\n", Read::kLine, "+OK"}};
  if (protocol == "ldap") return {{ldap_start_tls_request(), Read::kLdap, ""}};
  if (protocol == "postgres") {
    // SSLRequest: length 8, code 80877103.
    return {{std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8), Read::kByte, "S"}};
  }
  return {};
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// Reads a BER length at `pos` (short form, or long form up to 4 bytes). nullopt if more bytes
// are needed or the encoding is unusable (then `bad` is set).
std::optional<std::size_t> ber_length(std::string_view b, std::size_t& pos, bool& bad) {
  if (pos >= b.size()) return std::nullopt;
  auto first = static_cast<unsigned char>(b[pos++]);
  if (first < 0x80) return first;
  std::size_t n = first & 0x7f;
  if (n == 0 || n > 4) {
    bad = true;
    return std::nullopt;
  }
  if (pos + n > b.size()) return std::nullopt;
  std::size_t len = 0;
  for (std::size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(b[pos++]);
  return len;
}

class Dialogue : public std::enable_shared_from_this<Dialogue> {
 public:
  Dialogue(tcp::socket& socket, std::vector<Step> steps, std::shared_ptr<void> keep_alive,
           std::function<void(std::optional<std::string>)> done)
      : socket_(socket),
        steps_(std::move(steps)),
        keep_alive_(std::move(keep_alive)),
        done_(std::move(done)) {}

  void next() {
    if (step_ == steps_.size()) {
      // Bytes after the go-ahead would be read as the start of TLS by us, or were injected
      // into the plain-text part by someone on the path.
      if (!buffer_.empty()) return end("unexpected data after the STARTTLS response");
      return end(std::nullopt);
    }
    const Step& step = steps_[step_];
    lines_ = 0;
    if (step.send.empty()) return receive();
    asio::async_write(socket_, asio::buffer(step.send),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec) return self->end(self->io_error(ec));
                        self->receive();
                      });
  }

 private:
  void receive() {
    switch (steps_[step_].read) {
      case Read::kReply:
      case Read::kLine:
      case Read::kTagged:
        return read_line();
      case Read::kLdap:
        return read_ldap();
      case Read::kByte:
        return need(1, [this] { on_byte(); });
    }
  }

  void read_line() {
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, kMaxLine), '\n',
                           [self = shared_from_this()](error_code ec, std::size_t n) {
                             if (ec == asio::error::not_found) return self->end("line too long");
                             if (ec) return self->end(self->io_error(ec));
                             std::string line = self->buffer_.substr(0, n);
                             self->buffer_.erase(0, n);
                             while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
                               line.pop_back();
                             }
                             self->on_line(line);
                           });
  }

  void on_line(const std::string& line) {
    const Step& step = steps_[step_];
    if (++lines_ > kMaxLines) return end("too many lines in one response");
    switch (step.read) {
      case Read::kReply: {
        bool more = line.size() > 3 && line[3] == '-';
        if (more) return read_line();
        if (line.size() < 3 || !line.starts_with(step.expect)) return refused(line);
        break;
      }
      case Read::kLine:
        if (!starts_with_nocase(line, step.expect)) return refused(line);
        break;
      case Read::kTagged:
        if (!line.starts_with("a1 ")) return read_line();
        if (!starts_with_nocase(line, step.expect)) return refused(line);
        break;
      default:
        break;
    }
    ++step_;
    next();
  }

  void read_ldap() {
    // SEQUENCE header first, then the whole message.
    need(2, [this] {
      std::size_t pos = 1;
      bool bad = false;
      if (static_cast<unsigned char>(buffer_[0]) != 0x30) return end("not LDAP");
      auto len = ber_length(buffer_, pos, bad);
      if (bad) return end("not LDAP");
      if (!len) return need(pos + 4, [this] { read_ldap(); });
      if (*len > kMaxLdapResponse) return end("LDAP response too large");
      need(pos + *len, [this, end_at = pos + *len, pos]() mutable { on_ldap(pos, end_at); });
    });
  }

  // LDAPMessage { messageID INTEGER, extendedResp [APPLICATION 24] { resultCode ENUMERATED,
  // ... } }: only the result code matters.
  void on_ldap(std::size_t pos, std::size_t end_at) {
    std::string_view b(buffer_.data(), end_at);
    bool bad = false;
    if (pos >= b.size() || static_cast<unsigned char>(b[pos++]) != 0x02) return end("not LDAP");
    auto id_len = ber_length(b, pos, bad);
    if (!id_len || pos + *id_len > b.size()) return end("not LDAP");
    pos += *id_len;
    if (pos >= b.size() || static_cast<unsigned char>(b[pos++]) != 0x78) {
      return end("no ExtendedResponse to StartTLS");
    }
    if (!ber_length(b, pos, bad) || pos + 3 > b.size() || b[pos] != 0x0a || b[pos + 1] != 0x01) {
      return end("not LDAP");
    }
    int rc = static_cast<unsigned char>(b[pos + 2]);
    buffer_.erase(0, end_at);
    if (rc != 0) return end("the server refused StartTLS (resultCode " + std::to_string(rc) + ")");
    ++step_;
    next();
  }

  void on_byte() {
    char c = buffer_[0];
    buffer_.erase(0, 1);
    if (c == 'N') return end("the server does not offer TLS");
    if (c != steps_[step_].expect[0]) return end("not PostgreSQL");
    ++step_;
    next();
  }

  // Calls `then` once the buffer holds at least `n` bytes.
  void need(std::size_t n, std::function<void()> then) {
    if (buffer_.size() >= n) return then();
    asio::async_read(
        socket_, asio::dynamic_buffer(buffer_, kMaxLdapResponse + 16),
        asio::transfer_at_least(n - buffer_.size()),
        [self = shared_from_this(), then = std::move(then)](error_code ec, std::size_t) {
          if (ec) return self->end(self->io_error(ec));
          then();
        });
  }

  void refused(const std::string& line) {
    std::string shown = line.substr(0, 120);
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    end("unexpected response: " + shown);
  }

  std::string io_error(error_code ec) const {
    if (ec == asio::error::eof) return "connection closed by the server";
    return ec.message();
  }

  void end(std::optional<std::string> error) {
    auto done = std::move(done_);
    auto keep = std::move(keep_alive_);
    done(std::move(error));
  }

  tcp::socket& socket_;
  std::vector<Step> steps_;
  std::shared_ptr<void> keep_alive_;
  std::function<void(std::optional<std::string>)> done_;
  std::size_t step_ = 0;
  std::size_t lines_ = 0;
  std::string buffer_;
};

}  // namespace

void run_starttls(const std::string& protocol, tcp::socket& socket,
                  std::shared_ptr<void> keep_alive,
                  std::function<void(std::optional<std::string>)> done) {
  auto steps = dialogue(protocol);
  if (steps.empty()) return done("unknown STARTTLS protocol '" + protocol + "'");
  std::make_shared<Dialogue>(socket, std::move(steps), std::move(keep_alive), std::move(done))
      ->next();
}

}  // namespace certward::discovery::net::detail
