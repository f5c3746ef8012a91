#pragma once
// The DNS stub resolver of the ACME challenge validator: the messages (RFC 1035, EDNS0 from
// RFC 6891) and an asynchronous client that asks one recursive resolver.
//
// The parser is strict and pure, so a fuzzer can drive it: every length is checked against
// the message, a compression pointer must point strictly before the label sequence it
// interrupts (so no pointer chain can loop or run forward), a name may not exceed 255 octets,
// and the message may not carry a byte past its last record. It promises structure only; the
// client decides whether an answer belongs to its question.
//
// The client sends each query over UDP from a fresh socket connected to the resolver (so the
// kernel drops datagrams from anyone else), with a random 16-bit id, RD set and an EDNS0 OPT
// record offering 1232 octets. A datagram whose id, QR bit or question differs from the query
// is ignored, not trusted; a datagram whose id matches but which does not parse ends the
// lookup with kMalformed. A truncated answer (TC) is asked again over TCP. A query that gets
// no answer within `attempt_timeout` is sent again with a new id, `attempts` times in all.
// CNAMEs are followed, first within the answer, then by asking for the target, at most
// `max_cname_hops` in all.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"

namespace certward::protocols::acme {

// Resource record types the validator asks for or meets; any other value may appear in a
// parsed message (the enum holds every 16-bit value).
enum class DnsType : std::uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kTxt = 16,
  kAaaa = 28,
  kOpt = 41,
};

// Response codes; with EDNS0 the 12-bit extended code.
enum class DnsRcode : std::uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

inline constexpr std::uint16_t kDnsClassIn = 1;

// Names are in presentation form without the final dot ("" is the root). Letters, digits,
// '-', '_' and '*' appear as they are; any other octet of a label (a '.', a '\\', a space, a
// control or non-ASCII octet) as "\DDD" in decimal, so that no two different names read the
// same. Compare them with dns_name_equal (ASCII case-insensitive, RFC 4343).
bool dns_name_equal(std::string_view a, std::string_view b);

struct DnsQuestion {
  std::string name;
  DnsType type = DnsType::kA;
  std::uint16_t klass = kDnsClassIn;
};

struct DnsRecord {
  std::string name;
  DnsType type = DnsType::kA;
  std::uint16_t klass = kDnsClassIn;
  std::uint32_t ttl = 0;
  Bytes rdata;                   // as received (names inside may be compressed)
  Bytes address;                 // A: 4 octets, AAAA: 16
  std::string target;            // CNAME, NS: the name, decompressed
  std::vector<std::string> txt;  // TXT: its character-strings, in order (at least one)
};

struct DnsMessage {
  std::uint16_t id = 0;
  bool qr = false;  // always true for a parsed response
  std::uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  DnsRcode rcode = DnsRcode::kNoError;  // extended by the OPT record when there is one
  bool has_edns = false;
  std::uint16_t edns_udp_size = 0;
  std::vector<DnsQuestion> questions;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> authority;
  std::vector<DnsRecord> additional;  // without the OPT record
};

// Parses one DNS response (QR set) as it came off the wire (for TCP, without the two-octet
// length). Errors: kMalformed (anything out of bounds, a query, a bad pointer or label type,
// a name over 255 octets, an A/AAAA of the wrong size, a TXT or CNAME whose data does not fill
// its RDLENGTH exactly, a second or misplaced OPT, trailing bytes).
Result<DnsMessage> parse_dns_response(std::span<const std::uint8_t> wire);

// One standard query (opcode 0, RD set, class IN) for `name`, with an EDNS0 OPT record
// offering `edns_udp_size` octets when that is not 0. `name` is a host name in plain dotted
// form (letters, digits, '-', '_', a final dot allowed); a label is 1 to 63 octets and the
// name at most 253 characters. Errors: kInvalidArgument (any other name).
Result<Bytes> build_dns_query(std::uint16_t id, std::string_view name, DnsType type,
                              std::uint16_t edns_udp_size = 1232);

// "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:53"; the port defaults to 53.
// Errors: kInvalidArgument (not an IP literal, a zone index, a bad or zero port).
Result<boost::asio::ip::udp::endpoint> parse_resolver_address(std::string_view text);

// The first usable "nameserver" line of resolv.conf text (resolv.conf(5)); glibc's default,
// 127.0.0.1:53, when there is none.
boost::asio::ip::udp::endpoint nameserver_from_resolv_conf(std::string_view text);
// The same, read from `path`; the default when the file cannot be read.
boost::asio::ip::udp::endpoint system_nameserver(const std::string& path = "/etc/resolv.conf");

struct DnsClientOptions {
  boost::asio::ip::udp::endpoint server;  // the recursive resolver; TCP goes to the same port
  // How long one query waits for its answer (UDP, or the whole TCP exchange).
  std::chrono::milliseconds attempt_timeout{3000};
  int attempts = 2;        // UDP sends per query, each with a new id; at least 1
  int max_cname_hops = 8;  // CNAMEs followed per lookup
};

// What a lookup found. rcode is kNoError or kNxDomain (other codes are errors); `name` is
// where the CNAME chain ended, `records` the records of the asked type owned by that name
// (empty for NXDOMAIN and for a name without data of that type).
struct DnsAnswer {
  DnsRcode rcode = DnsRcode::kNoError;
  std::string name;
  std::vector<DnsRecord> records;
};

// A lookup in flight. After cancel() the callback is never called and nothing of the lookup
// stays pending; cancel() must run on the lookup's executor. Dropping the pointer does not
// cancel: the lookup runs to its end and calls back.
class DnsLookup {
 public:
  virtual ~DnsLookup() = default;
  virtual void cancel() = 0;
};

// Immutable after construction; thread-safe.
class DnsClient {
 public:
  explicit DnsClient(DnsClientOptions options);

  // Errors given to `done`: kUnavailable (no answer in time, the resolver unreachable, or an
  // rcode other than NOERROR/NXDOMAIN), kMalformed (an answer that does not parse, a TCP
  // answer to another question, a CNAME chain too long or looping), kInvalidArgument (`name`
  // is not a host name, see build_dns_query).
  using Callback = std::function<void(Result<DnsAnswer>)>;

  // Starts a lookup whose sockets and timers run on `executor` (a strand when the executor's
  // context has several threads); `done` runs there exactly once unless the lookup is
  // cancelled first. Returns at once.
  std::shared_ptr<DnsLookup> resolve(const boost::asio::any_io_executor& executor, std::string name,
                                     DnsType type, Callback done) const;

  const DnsClientOptions& options() const { return options_; }

 private:
  DnsClientOptions options_;
};

}  // namespace certward::protocols::acme
