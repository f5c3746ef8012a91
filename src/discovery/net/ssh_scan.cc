// One SSH endpoint: its banner and every host key and host certificate it offers. The server
// sends its host key in SSH_MSG_KEX_ECDH_REPLY (RFC 5656 4, RFC 8731), so the probe runs the
// key exchange that far — banner, KEXINIT, curve25519-sha256 ECDH_INIT — and hangs up; it never
// verifies the exchange signature nor derives keys, since nothing is sent after. A server
// sends one host key per exchange, the one for the algorithm negotiated, so the probe repeats
// the exchange once per kind of key the server lists in its KEXINIT, certificates included
// (rsa-sha2-256, rsa-sha2-512 and ssh-rsa share one key and count as one).

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <set>

#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "discovery/net/probe.h"
#include "discovery/ssh_key.h"

namespace certward::discovery::net::detail {
namespace {

constexpr std::size_t kMaxBannerLine = 1024;
constexpr std::size_t kMaxBannerLines = 32;  // RFC 4253 4.2: lines before the version line
constexpr std::size_t kMaxPacket = 256 * 1024;
constexpr std::size_t kMaxPackets = 16;  // before the reply; IGNORE/DEBUG can be sent freely

constexpr std::uint8_t kMsgDisconnect = 1;
constexpr std::uint8_t kMsgKexinit = 20;
constexpr std::uint8_t kMsgKexEcdhInit = 30;
constexpr std::uint8_t kMsgKexEcdhReply = 31;

constexpr std::string_view kClientBanner = "SSH-2.0-certward_scanner";
// RFC 8731 first; the NIST curves (RFC 5656) for servers built or configured without it. The
// reply has the same shape for all of them, so each only changes the key we send.
constexpr std::string_view kKex =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521";
// Our preference for the first exchange; every other kind the server lists is asked for after.
constexpr std::string_view kHostKeyAlgorithms =
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
    "rsa-sha2-256,ssh-rsa,ssh-rsa-cert-v01@openssh.com,ssh-dss,ssh-dss-cert-v01@openssh.com";
// Only so that the server accepts our KEXINIT; nothing is ever encrypted.
constexpr std::string_view kCiphers =
    "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
    "chacha20-poly1305@openssh.com,aes128-cbc,aes256-cbc,3des-cbc";
constexpr std::string_view kMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,"
    "hmac-sha1,umac-64@openssh.com,umac-128@openssh.com";
constexpr std::string_view kCompression = "none,zlib@openssh.com,zlib";

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

void put_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

// A bounds-checked reader over one packet's payload.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::optional<std::uint32_t> u32() {
    if (data_.size() < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(4);
    return v;
  }
  std::optional<std::string_view> string() {
    auto len = u32();
    if (!len || *len > data_.size()) return std::nullopt;
    auto s = data_.substr(0, *len);
    data_.remove_prefix(*len);
    return s;
  }
  bool skip(std::size_t n) {
    if (data_.size() < n) return false;
    data_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view data_;
};

std::vector<std::string> split(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    if (comma != 0) out.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// Algorithms that name the same key: one exchange learns it.
std::string key_kind(const std::string& algorithm) {
  static const std::set<std::string, std::less<>> kRsa{"ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"};
  static const std::set<std::string, std::less<>> kRsaCert{"ssh-rsa-cert-v01@openssh.com",
                                                           "rsa-sha2-256-cert-v01@openssh.com",
                                                           "rsa-sha2-512-cert-v01@openssh.com"};
  if (kRsa.contains(algorithm)) return "rsa";
  if (kRsaCert.contains(algorithm)) return "rsa-cert";
  return algorithm;
}

// The first of ours the server lists (RFC 4253 7.1).
std::string negotiated(std::string_view ours, const std::vector<std::string>& theirs) {
  for (const auto& a : split(ours)) {
    if (std::find(theirs.begin(), theirs.end(), a) != theirs.end()) return a;
  }
  return "";
}

std::string packet(std::string_view payload) {
  // Padding of at least 4 bytes that makes the whole packet a multiple of 8 (RFC 4253 6).
  std::size_t padding = 8 - (payload.size() + 5) % 8;
  if (padding < 4) padding += 8;
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(payload.size() + padding + 1));
  out += static_cast<char>(padding);
  out += payload;
  Bytes random = crypto::random_bytes(padding);
  out.append(random.begin(), random.end());
  return out;
}

std::string kexinit(std::string_view host_key_algorithms) {
  std::string p(1, static_cast<char>(kMsgKexinit));
  Bytes cookie = crypto::random_bytes(16);
  p.append(cookie.begin(), cookie.end());
  for (std::string_view list :
       {kKex, host_key_algorithms, kCiphers, kCiphers, kMacs, kMacs, kCompression, kCompression,
        std::string_view(), std::string_view()}) {
    put_string(p, list);
  }
  p += '\0';  // first_kex_packet_follows
  put_u32(p, 0);
  return p;
}

// Our ephemeral public key for `kex` in its wire form (RFC 8731 3.1, RFC 5656 4): raw X25519,
// or an uncompressed EC point. Nothing is derived from it, so the private half is dropped.
std::optional<std::string> ephemeral_public_key(const std::string& kex) {
  crypto::EvpPkeyPtr key;
  if (kex.starts_with("curve25519-sha256")) {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
    std::array<unsigned char, 32> raw{};
    std::size_t len = raw.size();
    if (!key || EVP_PKEY_get_raw_public_key(key.get(), raw.data(), &len) != 1) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(raw.data()), len);
  }
  const char* curve = kex == "ecdh-sha2-nistp256"   ? "P-256"
                      : kex == "ecdh-sha2-nistp384" ? "P-384"
                      : kex == "ecdh-sha2-nistp521" ? "P-521"
                                                    : nullptr;
  if (curve == nullptr) return std::nullopt;
  key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  unsigned char* point = nullptr;
  std::size_t len = key ? EVP_PKEY_get1_encoded_public_key(key.get(), &point) : 0;
  if (len == 0) return std::nullopt;
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(point));
  return std::string(owned.get(), len);
}

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return out;
}

class SshProbe final : public Probe {
 public:
  using Probe::Probe;

 private:
  void run() override {
    obs_.endpoint = endpoint_;
    exchange(std::string(kHostKeyAlgorithms), [this](std::optional<std::string> error) {
      if (error) return finish_with_error(std::move(*error));
      done_kinds_.insert(key_kind(negotiated(kHostKeyAlgorithms, server_host_keys_)));
      next_kind();
    });
  }

  void finish_with_error(std::string message) override {
    obs_.error = Error{ErrorCode::kUnavailable, std::move(message)};
    report(std::move(obs_));
  }

  // One exchange per kind of key not yet seen, in the server's order; a failure of one of
  // them loses only that key.
  void next_kind() {
    for (const auto& algorithm : server_host_keys_) {
      if (!done_kinds_.insert(key_kind(algorithm)).second) continue;
      return exchange(algorithm, [this](std::optional<std::string>) { next_kind(); });
    }
    for (const auto& key : obs_.keys) {
      auto found = ssh_key_findings(key, shared_.now);
      obs_.findings.insert(obs_.findings.end(), found.begin(), found.end());
    }
    report(std::move(obs_));
  }

  // Connects and runs one key exchange as far as the server's reply, offering
  // `host_key_algorithms`; the host key it carries joins obs_.keys.
  void exchange(std::string host_key_algorithms,
                std::function<void(std::optional<std::string>)> done) {
    done_ = std::move(done);
    host_key_algorithms_ = std::move(host_key_algorithms);
    connect(guarded([this](std::optional<std::string> error) {
      if (error) return end(std::move(error));
      arm(shared_.options.handshake_timeout);
      buffer_.clear();
      lines_ = 0;
      read_banner();
    }));
  }

  void end(std::optional<std::string> error) {
    disarm();
    close();
    if (error && timed_out()) error = "handshake timed out";
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(error));
  }

  std::string io_error(error_code ec) const {
    if (timed_out()) return "handshake timed out";
    if (ec == asio::error::eof) return "SSH failed: connection closed by the server";
    return "SSH failed: " + ec.message();
  }

  void read_banner() {
    asio::async_read_until(socket(), asio::dynamic_buffer(buffer_, kMaxBannerLine), '\n',
                           guarded([this](error_code ec, std::size_t n) {
                             if (ec == asio::error::not_found) return end("not SSH");
                             if (ec) return end(lines_ == 0 ? io_error(ec) : "not SSH");
                             std::string line = buffer_.substr(0, n);
                             buffer_.erase(0, n);
                             while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
                               line.pop_back();
                             }
                             on_banner_line(line);
                           }));
  }

  void on_banner_line(const std::string& line) {
    if (!line.starts_with("SSH-")) {
      if (++lines_ > kMaxBannerLines) return end("not SSH");
      return read_banner();
    }
    if (!line.starts_with("SSH-2.0-") && !line.starts_with("SSH-1.99-")) {
      return end("SSH failed: unsupported protocol version " + printable(line));
    }
    obs_.banner = printable(line);
    out_ = std::string(kClientBanner) + "\r\n" + packet(kexinit(host_key_algorithms_));
    asio::async_write(socket(), asio::buffer(out_), guarded([this](error_code ec, std::size_t) {
                        if (ec) return end(io_error(ec));
                        packets_ = 0;
                        read_packet();
                      }));
  }

  // Calls `then` once the buffer holds at least `n` bytes.
  void need(std::size_t n, std::function<void()> then) {
    if (buffer_.size() >= n) return then();
    asio::async_read(socket(), asio::dynamic_buffer(buffer_, kMaxPacket + 4),
                     asio::transfer_at_least(n - buffer_.size()),
                     guarded([this, then = std::move(then)](error_code ec, std::size_t) {
                       if (ec) return end(io_error(ec));
                       then();
                     }));
  }

  void read_packet() {
    if (++packets_ > kMaxPackets) return end("SSH failed: no key exchange reply");
    need(4, [this] {
      auto length = Reader(buffer_).u32();
      if (!length || *length < 5 || *length > kMaxPacket) {
        return end("SSH failed: bad packet length");
      }
      need(4 + *length, [this, length = *length] {
        auto padding = static_cast<unsigned char>(buffer_[4]);
        if (padding + 1u > length) return end("SSH failed: bad padding");
        std::string payload = buffer_.substr(5, length - padding - 1);
        buffer_.erase(0, 4 + length);
        on_packet(payload);
      });
    });
  }

  void on_packet(const std::string& payload) {
    if (payload.empty()) return end("SSH failed: empty packet");
    auto type = static_cast<std::uint8_t>(payload[0]);
    Reader r(std::string_view(payload).substr(1));
    if (type == kMsgDisconnect) {
      r.u32();
      auto reason = r.string();
      return end("SSH failed: the server disconnected: " + printable(reason.value_or("")));
    }
    if (type == kMsgKexinit) return on_kexinit(r);
    if (type == kMsgKexEcdhReply) return on_reply(r);
    read_packet();  // IGNORE, DEBUG, EXT_INFO ...
  }

  void on_kexinit(Reader r) {
    auto kex = r.skip(16) ? r.string() : std::nullopt;
    auto host_keys = r.string();
    if (!kex || !host_keys) return end("SSH failed: malformed KEXINIT");
    std::string method = negotiated(kKex, split(*kex));
    if (method.empty()) {
      return end("SSH failed: no common key exchange (the server offers " + printable(*kex) + ")");
    }
    if (server_host_keys_.empty()) server_host_keys_ = split(*host_keys);
    if (negotiated(host_key_algorithms_, split(*host_keys)).empty()) {
      return end("SSH failed: no common host key algorithm");
    }
    auto pub = ephemeral_public_key(method);
    ERR_clear_error();
    if (!pub) return end("SSH failed: " + method + " key generation failed");
    std::string init(1, static_cast<char>(kMsgKexEcdhInit));
    put_string(init, *pub);
    out_ = packet(init);
    asio::async_write(socket(), asio::buffer(out_), guarded([this](error_code ec, std::size_t) {
                        if (ec) return end(io_error(ec));
                        read_packet();
                      }));
  }

  void on_reply(Reader r) {
    auto blob = r.string();
    if (!blob) return end("SSH failed: malformed key exchange reply");
    auto key = parse_ssh_key_blob(as_bytes(*blob));
    if (!key) return end("SSH failed: host key: " + key.error().message);
    bool seen = std::any_of(obs_.keys.begin(), obs_.keys.end(),
                            [&](const SshKey& k) { return k.fingerprint == key->fingerprint; });
    if (!seen) obs_.keys.push_back(std::move(*key));
    end(std::nullopt);
  }

  SshObservation obs_;
  std::vector<std::string> server_host_keys_;  // from the first KEXINIT, in the server's order
  std::set<std::string> done_kinds_;
  std::string host_key_algorithms_;
  std::function<void(std::optional<std::string>)> done_;
  std::string buffer_;
  std::string out_;
  std::size_t lines_ = 0;
  std::size_t packets_ = 0;
};

}  // namespace

std::shared_ptr<Probe> make_ssh_probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint,
                                      Report report) {
  return std::make_shared<SshProbe>(shared, io, std::move(endpoint), std::move(report));
}

}  // namespace certward::discovery::net::detail
