// Plain POSIX sockets with poll() deadlines: one blocking exchange per call needs no event loop,
// and the whole call is bounded by DnsUpdateServer::timeout.

#include "issuers/dns_update.h"

#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <utility>

#include "common/dns_name.h"
#include "crypto/crypto.h"

namespace certward::issuers {
namespace dns_wire {
namespace {

using certward::dns::kHeaderSize;
using certward::dns::kMaxNameOctets;
constexpr std::size_t kMaxLabelOctets = 63;
constexpr std::size_t kMaxString = 255;  // one TXT character-string
constexpr std::uint16_t kOpcodeUpdate = 5;
enum : std::uint16_t { kTypeSoa = 6, kTypeTxt = 16, kTypeTsig = 250 };
enum : std::uint16_t { kClassIn = 1, kClassNone = 254, kClassAny = 255 };
constexpr std::uint16_t kFudge = 300;  // seconds, as RFC 8945 10 recommends
constexpr std::uint16_t kRcodeNotAuth = 9;

std::uint16_t get16(std::span<const std::uint8_t> m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}
std::uint64_t get48(std::span<const std::uint8_t> m, std::size_t at) {
  return (std::uint64_t{get16(m, at)} << 32) | (std::uint64_t{get16(m, at + 2)} << 16) |
         get16(m, at + 4);
}
void put16(Bytes& out, std::uint64_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& out, std::uint64_t v) {
  put16(out, v >> 16);
  put16(out, v);
}
void put48(Bytes& out, std::uint64_t v) {
  put16(out, v >> 32);
  put32(out, v);
}
void append(Bytes& out, std::span<const std::uint8_t> data) {
  out.insert(out.end(), data.begin(), data.end());
}

// Length octets never exceed 63, below 'A', so folding a whole wire-form name is safe.
Bytes lowered(Bytes wire) {
  for (auto& c : wire) {
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c - 'A' + 'a');
  }
  return wire;
}

// The uncompressed wire form of a name written as text ("a.b", "a.b.", "" or "." for the root).
Result<Bytes> name_to_wire(std::string_view name) {
  const std::string shown(name);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  Bytes out;
  for (std::size_t start = 0; !name.empty();) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == name.npos ? name.npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelOctets) {
      return fail(ErrorCode::kInvalidArgument,
                  "name '" + terminal_text(shown) + "' has an empty label or one over 63 octets");
    }
    out.push_back(static_cast<std::uint8_t>(label.size()));
    append(out, as_bytes(label));
    if (dot == name.npos) break;
    start = dot + 1;
  }
  out.push_back(0);
  if (out.size() > kMaxNameOctets) {
    return fail(ErrorCode::kInvalidArgument, "name '" + terminal_text(shown) + "' is too long");
  }
  return out;
}

// Whether `name` is `zone` or below it; both lower-cased wire forms.
bool within(const Bytes& name, const Bytes& zone) {
  for (std::size_t pos = 0; pos < name.size(); pos += 1 + std::size_t{name[pos]}) {
    if (name.size() - pos == zone.size() &&
        std::equal(zone.begin(), zone.end(), name.begin() + pos)) {
      return true;
    }
  }
  return false;
}

Result<Bytes> txt_rdata(std::string_view value) {
  // An empty value is one empty character-string: RDATA may not be empty.
  Bytes out;
  do {
    std::string_view chunk = value.substr(0, kMaxString);
    out.push_back(static_cast<std::uint8_t>(chunk.size()));
    append(out, as_bytes(chunk));
    value.remove_prefix(chunk.size());
  } while (!value.empty() && out.size() <= 0xffff);
  if (out.size() > 0xffff) return fail(ErrorCode::kInvalidArgument, "TXT value too long");
  return out;
}

// A TsigKey in the forms TSIG puts on the wire.
struct PreparedKey {
  Bytes name;  // canonical: lower-cased (RFC 8945 4.3.3)
  const EVP_MD* md = nullptr;
  Bytes algorithm;  // canonical: "hmac-sha256."
};

Result<PreparedKey> prepare(const TsigKey& key) {
  static constexpr std::array<std::pair<std::string_view, const EVP_MD* (*)()>, 3> kAlgorithms = {
      {{"hmac-sha256", EVP_sha256}, {"hmac-sha384", EVP_sha384}, {"hmac-sha512", EVP_sha512}}};
  PreparedKey out;
  auto algorithm = name_to_wire(key.algorithm);
  for (const auto& [name, md] : kAlgorithms) {
    if (algorithm && lowered(*algorithm) == *name_to_wire(name)) {
      out.md = md();
      out.algorithm = lowered(*algorithm);
    }
  }
  if (out.md == nullptr) {
    return fail(ErrorCode::kInvalidArgument,
                "TSIG algorithm '" + terminal_text(key.algorithm) +
                    "' is not one of hmac-sha256, hmac-sha384, hmac-sha512");
  }
  auto name = name_to_wire(key.name);
  if (!name || name->size() == 1) {
    return fail(ErrorCode::kInvalidArgument,
                "TSIG key name '" + terminal_text(key.name) + "' is not a domain name");
  }
  out.name = lowered(*std::move(name));
  if (key.secret.empty()) return fail(ErrorCode::kInvalidArgument, "TSIG key has no secret");
  return out;
}

// The TSIG variables (RFC 8945 4.3.3) after the message they sign.
struct Variables {
  std::uint64_t time = 0;
  std::uint16_t fudge = kFudge;
  std::uint16_t error = 0;
  std::span<const std::uint8_t> other;
};

Result<Bytes> mac_of(const PreparedKey& key, const crypto::SecretBytes& secret, Bytes data,
                     const Variables& v) {
  append(data, key.name);
  put16(data, kClassAny);
  put32(data, 0);  // TTL
  append(data, key.algorithm);
  put48(data, v.time);
  put16(data, v.fudge);
  put16(data, v.error);
  put16(data, v.other.size());
  append(data, v.other);
  Bytes mac(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  if (HMAC(key.md, secret.data(), static_cast<int>(secret.size()), data.data(), data.size(),
           mac.data(), &len) == nullptr) {
    return fail(ErrorCode::kInternal, "HMAC failed");
  }
  mac.resize(len);
  return mac;
}

// The name at `pos` in its uncompressed lower-cased wire form (as TSIG compares key and
// algorithm names); moves `pos` past it as it is written there.
Result<Bytes> read_name(std::span<const std::uint8_t> m, std::size_t& pos) {
  CW_ASSIGN_OR_RETURN(auto labels, certward::dns::read_name_labels(m, pos));
  Bytes out;
  for (const auto& label : labels) {
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
  }
  out.push_back(0);
  return lowered(std::move(out));
}

struct Tsig {
  std::size_t start = 0;  // where the record begins: the signed part of the answer ends there
  Bytes key_name;
  Bytes algorithm;
  Variables variables;
  std::span<const std::uint8_t> mac;
  std::uint16_t original_id = 0;
};

Result<Tsig> read_tsig_rdata(std::span<const std::uint8_t> m, std::size_t pos, std::size_t end) {
  Tsig t;
  CW_ASSIGN_OR_RETURN(t.algorithm, read_name(m, pos));
  if (pos > end || end - pos < 10) return fail(ErrorCode::kMalformed, "TSIG record too short");
  t.variables.time = get48(m, pos);
  t.variables.fudge = get16(m, pos + 6);
  std::size_t mac_size = get16(m, pos + 8);
  pos += 10;
  if (end - pos < mac_size + 6) return fail(ErrorCode::kMalformed, "TSIG record too short");
  t.mac = m.subspan(pos, mac_size);
  pos += mac_size;
  t.original_id = get16(m, pos);
  t.variables.error = get16(m, pos + 2);
  std::size_t other_len = get16(m, pos + 4);
  pos += 6;
  if (end - pos != other_len) return fail(ErrorCode::kMalformed, "TSIG other data does not fit");
  t.variables.other = m.subspan(pos, other_len);
  return t;
}

// Walks every section; returns the TSIG record, which may only be the last additional record.
Result<std::optional<Tsig>> find_tsig(std::span<const std::uint8_t> m) {
  std::size_t pos = kHeaderSize;
  for (std::uint16_t i = 0, zones = get16(m, 4); i < zones; ++i) {
    CW_RETURN_IF_ERROR(read_name(m, pos));
    if (m.size() - pos < 4) return fail(ErrorCode::kMalformed, "zone section runs past the end");
    pos += 4;
  }
  const std::size_t additional = get16(m, 10);
  const std::size_t records = std::size_t{get16(m, 6)} + get16(m, 8) + additional;
  std::optional<Tsig> tsig;
  for (std::size_t i = 0; i < records; ++i) {
    const std::size_t start = pos;
    CW_ASSIGN_OR_RETURN(Bytes owner, read_name(m, pos));
    if (m.size() - pos < 10) return fail(ErrorCode::kMalformed, "record runs past the end");
    std::uint16_t type = get16(m, pos);
    std::uint16_t klass = get16(m, pos + 2);
    std::size_t rdlength = get16(m, pos + 8);
    pos += 10;
    if (m.size() - pos < rdlength) return fail(ErrorCode::kMalformed, "RDATA runs past the end");
    if (type == kTypeTsig) {
      if (i + 1 != records || additional == 0 || klass != kClassAny) {
        return fail(ErrorCode::kMalformed, "TSIG record out of place");
      }
      CW_ASSIGN_OR_RETURN(tsig, read_tsig_rdata(m, pos, pos + rdlength));
      tsig->start = start;
      tsig->key_name = std::move(owner);
    }
    pos += rdlength;
  }
  if (pos != m.size()) return fail(ErrorCode::kMalformed, "bytes after the last record");
  return tsig;
}

std::string rcode_name(std::uint16_t rcode) {
  static constexpr std::array<const char*, 11> kNames = {
      "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  return rcode < kNames.size() ? kNames[rcode] : "RCODE " + std::to_string(rcode);
}

// The server did not take our TSIG (RFC 8945 5.2): BADSIG and BADKEY answers carry no MAC.
Status tsig_error(std::uint16_t rcode, std::uint16_t error, const TsigKey& key) {
  static constexpr std::array<const char*, 3> kWhy = {
      "BADSIG: the server holds the key with another secret",
      "BADKEY: the server does not know the key or does not let it update the zone",
      "BADTIME: the server's clock and ours differ by more than the fudge (300 s)"};
  const std::size_t at = error >= 16 ? error - 16u : kWhy.size();
  std::string why = at < kWhy.size() ? kWhy[at] : "TSIG error " + std::to_string(error);
  return fail(ErrorCode::kUnauthorized, rcode_name(rcode) + " with " + why + " (key '" +
                                            terminal_text(key.name) + "', " +
                                            terminal_text(key.algorithm) + ")");
}

// An error answer; `how` says whether it was authenticated, which the operator wants to know.
Status rcode_error(std::uint16_t rcode, const TsigKey& key, std::string_view how) {
  if (rcode == kRcodeNotAuth) {
    return fail(ErrorCode::kUnauthorized,
                "NOTAUTH (" + std::string(how) + "): the server does not accept key '" +
                    terminal_text(key.name) + "' or is not authoritative for the zone");
  }
  return fail(ErrorCode::kPolicyRejected, "the server refused the update: " + rcode_name(rcode) +
                                              " (" + std::string(how) + ")");
}

}  // namespace

Result<Bytes> encode_update(std::uint16_t id, const std::string& zone,
                            const std::vector<UpdateRecord>& records) {
  if (records.size() > 0xffff) return fail(ErrorCode::kInvalidArgument, "too many records");
  CW_ASSIGN_OR_RETURN(const Bytes zone_wire, name_to_wire(zone));
  const Bytes zone_lower = lowered(zone_wire);
  Bytes out;
  put16(out, id);
  put16(out, kOpcodeUpdate << 11);
  put16(out, 1);  // ZOCOUNT
  put16(out, 0);  // PRCOUNT: no prerequisites, adding or deleting one RR is idempotent
  put16(out, records.size());
  put16(out, 0);
  append(out, zone_wire);
  put16(out, kTypeSoa);
  put16(out, kClassIn);
  for (const auto& rec : records) {
    CW_ASSIGN_OR_RETURN(const Bytes name, name_to_wire(rec.name));
    if (!within(lowered(name), zone_lower)) {
      return fail(ErrorCode::kInvalidArgument, "name '" + terminal_text(rec.name) +
                                                   "' is not within zone '" + terminal_text(zone) +
                                                   "'");
    }
    if (rec.ttl > 0x7fffffff) return fail(ErrorCode::kInvalidArgument, "TTL over 2^31-1");
    CW_ASSIGN_OR_RETURN(const Bytes rdata, txt_rdata(rec.txt));
    append(out, name);
    put16(out, kTypeTxt);
    put16(out, rec.add ? kClassIn : kClassNone);  // RFC 2136 2.5.1, 2.5.4
    put32(out, rec.add ? rec.ttl : 0);
    put16(out, rdata.size());
    append(out, rdata);
  }
  return out;
}

Result<Bytes> sign_message(Bytes& message, const TsigKey& key, std::uint64_t now) {
  if (message.size() < kHeaderSize || get16(message, 10) == 0xffff || now >> 48 != 0) {
    return fail(ErrorCode::kInvalidArgument, "cannot sign this message");
  }
  CW_ASSIGN_OR_RETURN(const PreparedKey k, prepare(key));
  CW_ASSIGN_OR_RETURN(Bytes mac,
                      mac_of(k, key.secret, message, Variables{.time = now, .other = {}}));
  Bytes rdata = k.algorithm;
  put48(rdata, now);
  put16(rdata, kFudge);
  put16(rdata, mac.size());
  append(rdata, mac);
  put16(rdata, get16(message, 0));  // original ID
  put16(rdata, 0);                  // error
  put16(rdata, 0);                  // other len
  append(message, k.name);
  put16(message, kTypeTsig);
  put16(message, kClassAny);
  put32(message, 0);
  put16(message, rdata.size());
  append(message, rdata);
  std::uint16_t arcount = get16(message, 10) + 1;
  message[10] = static_cast<std::uint8_t>(arcount >> 8);
  message[11] = static_cast<std::uint8_t>(arcount);
  return mac;
}

Status check_answer(std::span<const std::uint8_t> answer, std::uint16_t id,
                    std::span<const std::uint8_t> request_mac, const TsigKey& key,
                    std::uint64_t now) {
  if (answer.size() < kHeaderSize) {
    return fail(ErrorCode::kMalformed, "answer shorter than a header");
  }
  const std::uint16_t flags = get16(answer, 2);
  if (get16(answer, 0) != id || (flags & 0x8000) == 0 || ((flags >> 11) & 0xf) != kOpcodeUpdate) {
    return fail(ErrorCode::kMalformed, "not an answer to our UPDATE");
  }
  const std::uint16_t rcode = flags & 0xf;
  CW_ASSIGN_OR_RETURN(const std::optional<Tsig> tsig, find_tsig(answer));
  CW_ASSIGN_OR_RETURN(const PreparedKey k, prepare(key));
  // An error answer that is not signed can only make the update fail, which anyone on the path
  // can do anyway; it is reported for what it says. A success must be signed.
  if (!tsig) {
    if (rcode == 0) return fail(ErrorCode::kBadSignature, "the answer is not signed");
    return rcode_error(rcode, key, "unsigned answer");
  }
  if (tsig->variables.error != 0) return tsig_error(rcode, tsig->variables.error, key);
  if (tsig->mac.empty() && rcode != 0) return rcode_error(rcode, key, "unsigned answer");
  if (tsig->key_name != k.name || tsig->algorithm != k.algorithm) {
    return fail(ErrorCode::kBadSignature, "the answer is signed with another key or algorithm");
  }
  if (tsig->original_id != id) return fail(ErrorCode::kMalformed, "TSIG of another message");
  // RFC 8945 4.3.3: the request's MAC, then the answer without its TSIG, ARCOUNT one less.
  Bytes signed_data;
  put16(signed_data, request_mac.size());
  append(signed_data, request_mac);
  const std::size_t header_at = signed_data.size();
  append(signed_data, answer.first(tsig->start));
  const std::uint16_t arcount = get16(answer, 10) - 1;
  signed_data[header_at + 10] = static_cast<std::uint8_t>(arcount >> 8);
  signed_data[header_at + 11] = static_cast<std::uint8_t>(arcount);
  CW_ASSIGN_OR_RETURN(const Bytes mac,
                      mac_of(k, key.secret, std::move(signed_data), tsig->variables));
  if (tsig->mac.size() != mac.size() ||
      CRYPTO_memcmp(tsig->mac.data(), mac.data(), mac.size()) != 0) {
    return fail(ErrorCode::kBadSignature, "the answer's TSIG MAC does not verify");
  }
  // Our fudge, not the answer's: the server has no say in how stale an answer we take.
  const std::uint64_t signed_at = tsig->variables.time;
  const std::uint64_t skew = now > signed_at ? now - signed_at : signed_at - now;
  if (skew > kFudge) {
    return fail(ErrorCode::kBadSignature, "the answer was signed " + std::to_string(skew) +
                                              " s away from our clock (fudge 300 s)");
  }
  if (rcode != 0) return rcode_error(rcode, key, "signed answer");
  return ok();
}

}  // namespace dns_wire

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxUdpMessage = 512;  // RFC 1035 4.2.1: we send no EDNS

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Exchange {
  sockaddr_storage address{};
  socklen_t address_size = 0;
  std::span<const std::uint8_t> message;
  std::uint16_t id = 0;
  std::span<const std::uint8_t> mac;
  const TsigKey* key = nullptr;
  Clock::time_point deadline;
  std::chrono::milliseconds timeout{};
};

std::unexpected<Error> os_error(std::string_view what) {
  return fail(ErrorCode::kUnavailable, std::string(what) + ": " + std::strerror(errno));
}

std::unexpected<Error> timed_out(const Exchange& ex, std::string_view how) {
  return fail(ErrorCode::kUnavailable, "no answer " + std::string(how) + " within " +
                                           std::to_string(ex.timeout.count()) + " ms");
}

int millis_until(Clock::time_point t) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, 60 * 60 * 1000));
}

Status check(const Exchange& ex, std::span<const std::uint8_t> answer) {
  return dns_wire::check_answer(
      answer, ex.id, ex.mac, *ex.key,
      static_cast<std::uint64_t>(std::max<std::time_t>(0, std::time(nullptr))));
}

// Two sends at most, the second when half the time has passed in silence. Datagrams that are
// not the answer (another id, not a response, garbage, a TSIG that does not verify) may come
// from anyone and are skipped: the real answer may still follow. nullopt: the answer was
// truncated, ask over TCP.
std::optional<Status> over_udp(const Exchange& ex) {
  Socket s(::socket(ex.address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return Status(os_error("socket"));
  // A connected socket is only given datagrams from the server's address and port.
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&ex.address), ex.address_size) != 0) {
    return Status(os_error("connect"));
  }
  const Clock::time_point resend_at = Clock::now() + (ex.deadline - Clock::now()) / 2;
  Status last = timed_out(ex, "over UDP");
  Bytes buffer(65535);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::send(s.fd(), ex.message.data(), ex.message.size(), 0) < 0) last = os_error("send");
    const Clock::time_point until = attempt == 0 ? resend_at : ex.deadline;
    while (int wait = millis_until(until)) {
      pollfd p{s.fd(), POLLIN, 0};
      int ready = ::poll(&p, 1, wait);
      if (ready < 0 && errno != EINTR) return Status(os_error("poll"));
      if (ready <= 0) continue;
      ssize_t n = ::recv(s.fd(), buffer.data(), buffer.size(), 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        // ECONNREFUSED after an ICMP port unreachable: the resend may find the server up.
        last = os_error("receive");
        break;
      }
      std::span<const std::uint8_t> answer(buffer.data(), static_cast<std::size_t>(n));
      if (answer.size() < 4 || dns_wire::get16(answer, 0) != ex.id || (answer[2] & 0x80) == 0) {
        continue;
      }
      if ((answer[2] & 0x02) != 0) return std::nullopt;  // TC
      Status checked = check(ex, answer);
      if (checked || (checked.error().code != ErrorCode::kMalformed &&
                      checked.error().code != ErrorCode::kBadSignature)) {
        return checked;
      }
      last = std::move(checked);
    }
  }
  return last;
}

Status wait_for(const Exchange& ex, int fd, short events) {
  for (;;) {
    int wait = millis_until(ex.deadline);
    if (wait == 0) return timed_out(ex, "over TCP");
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, wait);
    if (ready > 0) return ok();
    if (ready < 0 && errno != EINTR) return os_error("poll");
  }
}

enum class Direction { kSend, kReceive };

// Moves all of `data` over the TCP connection by the deadline.
Status transfer(const Exchange& ex, int fd, std::span<std::uint8_t> data, Direction direction) {
  const bool send = direction == Direction::kSend;
  for (std::size_t done = 0; done < data.size();) {
    CW_RETURN_IF_ERROR(wait_for(ex, fd, send ? POLLOUT : POLLIN));
    ssize_t n = send ? ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL)
                     : ::recv(fd, data.data() + done, data.size() - done, 0);
    if (n == 0 && !send) {
      return fail(ErrorCode::kUnavailable, "the server closed the TCP connection");
    }
    if (n < 0 && errno != EINTR && errno != EAGAIN) return os_error("TCP");
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  return ok();
}

// One try: the server has just answered over UDP, or the message never fit in a datagram.
Status over_tcp(const Exchange& ex) {
  Socket s(::socket(ex.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return os_error("socket");
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&ex.address), ex.address_size) != 0 &&
      errno != EINPROGRESS) {
    return os_error("connect over TCP");
  }
  CW_RETURN_IF_ERROR(wait_for(ex, s.fd(), POLLOUT));
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
    errno = error;
    return os_error("connect over TCP");
  }
  Bytes framed;
  dns_wire::put16(framed, ex.message.size());
  dns_wire::append(framed, ex.message);
  CW_RETURN_IF_ERROR(transfer(ex, s.fd(), framed, Direction::kSend));
  std::array<std::uint8_t, 2> length{};
  CW_RETURN_IF_ERROR(transfer(ex, s.fd(), length, Direction::kReceive));
  Bytes answer(dns_wire::get16(length, 0));
  CW_RETURN_IF_ERROR(transfer(ex, s.fd(), answer, Direction::kReceive));
  return check(ex, answer);
}

Status fill_address(const DnsUpdateServer& server, Exchange& ex) {
  std::string host = server.address;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;  // never a name lookup
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(server.port).c_str(), &hints, &found) != 0) {
    return fail(ErrorCode::kInvalidArgument, "the server address is not an IP address");
  }
  std::memcpy(&ex.address, found->ai_addr, found->ai_addrlen);
  ex.address_size = found->ai_addrlen;
  ::freeaddrinfo(found);
  return ok();
}

Status send_update(const DnsUpdateServer& server, const dns_wire::UpdateRecord& record) {
  if (server.timeout <= std::chrono::milliseconds::zero()) {
    return fail(ErrorCode::kInvalidArgument, "the timeout must be positive");
  }
  Exchange ex;
  CW_RETURN_IF_ERROR(fill_address(server, ex));
  std::array<std::uint8_t, 2> id{};
  crypto::random_bytes(id);
  ex.id = dns_wire::get16(id, 0);
  CW_ASSIGN_OR_RETURN(Bytes message, dns_wire::encode_update(ex.id, server.zone, {record}));
  auto now = static_cast<std::uint64_t>(std::max<std::time_t>(0, std::time(nullptr)));
  CW_ASSIGN_OR_RETURN(const Bytes mac, dns_wire::sign_message(message, server.key, now));
  if (message.size() > 0xffff) {
    return fail(ErrorCode::kInvalidArgument, "the update does not fit in a DNS message");
  }
  ex.message = message;
  ex.mac = mac;
  ex.key = &server.key;
  ex.timeout = server.timeout;
  ex.deadline = Clock::now() + server.timeout;
  if (message.size() <= kMaxUdpMessage) {
    if (std::optional<Status> answered = over_udp(ex)) return *answered;
  }
  return over_tcp(ex);
}

Status update(const DnsUpdateServer& server, const dns_wire::UpdateRecord& record) {
  Status done = send_update(server, record);
  if (done) return done;
  const bool v6 = server.address.find(':') != std::string::npos && server.address.front() != '[';
  return fail_with_context(done.error(), "DNS update to " + std::string(v6 ? "[" : "") +
                                             terminal_text(server.address) + (v6 ? "]" : "") + ":" +
                                             std::to_string(server.port));
}

}  // namespace

Status dns_add_txt(const DnsUpdateServer& server, const std::string& name, const std::string& value,
                   std::uint32_t ttl) {
  return update(server, {.name = name, .add = true, .txt = value, .ttl = ttl});
}

Status dns_delete_txt(const DnsUpdateServer& server, const std::string& name,
                      const std::string& value) {
  return update(server, {.name = name, .add = false, .txt = value, .ttl = 0});
}

}  // namespace certward::issuers
