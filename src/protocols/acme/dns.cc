#include "protocols/acme/dns.h"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <utility>

#include "common/dns_name.h"
#include "common/file.h"
#include "crypto/crypto.h"

namespace certward::protocols::acme {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

using certward::dns::kHeaderSize;
using certward::dns::kMaxNameOctets;
constexpr std::size_t kMaxLabelOctets = 63;

std::uint16_t get16(std::span<const std::uint8_t> m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> m, std::size_t at) {
  return (std::uint32_t{get16(m, at)} << 16) | get16(m, at + 2);
}
void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

bool plain_label_octet(std::uint8_t c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '*';
}

void append_label(std::string& out, std::span<const std::uint8_t> label) {
  for (std::uint8_t c : label) {
    if (plain_label_octet(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + c / 10 % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    }
  }
}

// The name at `pos` as text, its unusual octets escaped (\DDD); moves `pos` past it.
Result<std::string> read_name(std::span<const std::uint8_t> m, std::size_t& pos) {
  CW_ASSIGN_OR_RETURN(auto labels, certward::dns::read_name_labels(m, pos));
  std::string out;
  for (const auto& label : labels) {
    if (!out.empty()) out.push_back('.');
    append_label(out, std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  }
  return out;
}

// Decodes the RDATA of the types the client reads; others stay raw.
Status decode_rdata(std::span<const std::uint8_t> m, std::size_t start, std::size_t end,
                    DnsRecord& rec) {
  std::size_t size = end - start;
  switch (rec.type) {
    case DnsType::kA:
    case DnsType::kAaaa: {
      if (rec.klass != kDnsClassIn) return ok();
      std::size_t want = rec.type == DnsType::kA ? 4 : 16;
      if (size != want) return fail(ErrorCode::kMalformed, "address of the wrong size");
      rec.address.assign(m.begin() + static_cast<std::ptrdiff_t>(start),
                         m.begin() + static_cast<std::ptrdiff_t>(end));
      return ok();
    }
    case DnsType::kCname:
    case DnsType::kNs: {
      std::size_t p = start;
      CW_ASSIGN_OR_RETURN(rec.target, read_name(m, p));
      if (p != end) return fail(ErrorCode::kMalformed, "name does not fill its RDATA");
      return ok();
    }
    case DnsType::kTxt: {
      if (size == 0) return fail(ErrorCode::kMalformed, "TXT without a string");
      for (std::size_t p = start; p < end;) {
        std::size_t len = m[p];
        if (p + 1 + len > end) return fail(ErrorCode::kMalformed, "TXT string runs past RDATA");
        rec.txt.emplace_back(reinterpret_cast<const char*>(m.data() + p + 1), len);
        p += 1 + len;
      }
      return ok();
    }
    default:
      return ok();
  }
}

Result<DnsRecord> read_record(std::span<const std::uint8_t> m, std::size_t& pos) {
  DnsRecord rec;
  CW_ASSIGN_OR_RETURN(rec.name, read_name(m, pos));
  if (m.size() - pos < 10) return fail(ErrorCode::kMalformed, "record header runs past the end");
  rec.type = static_cast<DnsType>(get16(m, pos));
  rec.klass = get16(m, pos + 2);
  rec.ttl = get32(m, pos + 4);
  std::size_t rdlength = get16(m, pos + 8);
  pos += 10;
  if (m.size() - pos < rdlength) return fail(ErrorCode::kMalformed, "RDATA runs past the end");
  std::size_t end = pos + rdlength;
  rec.rdata.assign(m.begin() + static_cast<std::ptrdiff_t>(pos),
                   m.begin() + static_cast<std::ptrdiff_t>(end));
  CW_RETURN_IF_ERROR(decode_rdata(m, pos, end, rec));
  pos = end;
  return rec;
}

enum class Section { kAnswer, kAuthority, kAdditional };

Status read_section(std::span<const std::uint8_t> m, std::size_t& pos, std::uint16_t count,
                    Section section, DnsMessage& msg) {
  for (std::uint16_t i = 0; i < count; ++i) {
    CW_ASSIGN_OR_RETURN(DnsRecord rec, read_record(m, pos));
    if (rec.type != DnsType::kOpt) {
      auto& out = section == Section::kAnswer      ? msg.answers
                  : section == Section::kAuthority ? msg.authority
                                                   : msg.additional;
      out.push_back(std::move(rec));
      continue;
    }
    // RFC 6891 6.1.1: one OPT at most, owned by the root, in the additional section.
    if (section != Section::kAdditional || msg.has_edns || !rec.name.empty()) {
      return fail(ErrorCode::kMalformed, "misplaced or repeated OPT record");
    }
    msg.has_edns = true;
    msg.edns_udp_size = rec.klass;
    auto extended = static_cast<std::uint16_t>(((rec.ttl >> 24) & 0xff) << 4);
    msg.rcode = static_cast<DnsRcode>(extended | static_cast<std::uint16_t>(msg.rcode));
  }
  return ok();
}

bool is_host_label_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

}  // namespace

bool dns_name_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Result<DnsMessage> parse_dns_response(std::span<const std::uint8_t> wire) {
  if (wire.size() < kHeaderSize) return fail(ErrorCode::kMalformed, "shorter than a header");
  DnsMessage msg;
  msg.id = get16(wire, 0);
  std::uint16_t flags = get16(wire, 2);
  msg.qr = (flags & 0x8000) != 0;
  if (!msg.qr) return fail(ErrorCode::kMalformed, "not a response");
  msg.opcode = static_cast<std::uint8_t>((flags >> 11) & 0xf);
  msg.aa = (flags & 0x0400) != 0;
  msg.tc = (flags & 0x0200) != 0;
  msg.rd = (flags & 0x0100) != 0;
  msg.ra = (flags & 0x0080) != 0;
  msg.rcode = static_cast<DnsRcode>(flags & 0xf);
  std::uint16_t qdcount = get16(wire, 4);
  std::uint16_t ancount = get16(wire, 6);
  std::uint16_t nscount = get16(wire, 8);
  std::uint16_t arcount = get16(wire, 10);

  std::size_t pos = kHeaderSize;
  for (std::uint16_t i = 0; i < qdcount; ++i) {
    DnsQuestion q;
    CW_ASSIGN_OR_RETURN(q.name, read_name(wire, pos));
    if (wire.size() - pos < 4) return fail(ErrorCode::kMalformed, "question runs past the end");
    q.type = static_cast<DnsType>(get16(wire, pos));
    q.klass = get16(wire, pos + 2);
    pos += 4;
    msg.questions.push_back(std::move(q));
  }
  CW_RETURN_IF_ERROR(read_section(wire, pos, ancount, Section::kAnswer, msg));
  CW_RETURN_IF_ERROR(read_section(wire, pos, nscount, Section::kAuthority, msg));
  CW_RETURN_IF_ERROR(read_section(wire, pos, arcount, Section::kAdditional, msg));
  if (pos != wire.size()) return fail(ErrorCode::kMalformed, "bytes after the last record");
  return msg;
}

Result<Bytes> build_dns_query(std::uint16_t id, std::string_view name, DnsType type,
                              std::uint16_t edns_udp_size) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) {
    return fail(ErrorCode::kInvalidArgument, "query name is empty or too long");
  }
  Bytes out;
  out.reserve(kHeaderSize + name.size() + 2 + 4 + 11);
  put16(out, id);
  put16(out, 0x0100);  // a standard query, recursion desired
  put16(out, 1);
  put16(out, 0);
  put16(out, 0);
  put16(out, edns_udp_size != 0 ? 1 : 0);
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > kMaxLabelOctets) {
      return fail(ErrorCode::kInvalidArgument, "query name has an empty or over-long label");
    }
    for (char c : label) {
      if (!is_host_label_char(c)) {
        return fail(ErrorCode::kInvalidArgument, "query name has a character outside LDH and _");
      }
    }
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    start = dot + 1;
  }
  out.push_back(0);
  put16(out, static_cast<std::uint16_t>(type));
  put16(out, kDnsClassIn);
  if (edns_udp_size != 0) {
    out.push_back(0);  // the root owns OPT
    put16(out, static_cast<std::uint16_t>(DnsType::kOpt));
    put16(out, edns_udp_size);
    put16(out, 0);  // extended rcode, version 0
    put16(out, 0);  // no DO bit: the validator does not validate DNSSEC itself
    put16(out, 0);  // no options
  }
  return out;
}

Result<asio::ip::udp::endpoint> parse_resolver_address(std::string_view text) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "resolver address: unclosed '['");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(ErrorCode::kInvalidArgument, "resolver address: junk");
      port_text = rest.substr(1);
      if (port_text.empty()) return fail(ErrorCode::kInvalidArgument, "resolver address: no port");
    }
  } else if (std::size_t colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == text.npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (port_text.empty()) return fail(ErrorCode::kInvalidArgument, "resolver address: no port");
  }
  if (host.find('%') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "resolver address: zone indexes are not supported");
  }
  error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "resolver address is not an IP address");
  unsigned port = 53;
  if (!port_text.empty()) {
    auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (err != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return fail(ErrorCode::kInvalidArgument, "resolver address: bad port");
    }
  }
  return asio::ip::udp::endpoint(address, static_cast<std::uint16_t>(port));
}

asio::ip::udp::endpoint nameserver_from_resolv_conf(std::string_view text) {
  while (!text.empty()) {
    std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (std::size_t comment = line.find_first_of("#;"); comment != line.npos) {
      line = line.substr(0, comment);
    }
    constexpr std::string_view kSpace = " \t\r";
    std::size_t b = line.find_first_not_of(kSpace);
    if (b == line.npos) continue;
    line = line.substr(b);
    std::size_t e = line.find_first_of(kSpace);
    if (line.substr(0, e) != "nameserver" || e == line.npos) continue;
    line = line.substr(e);
    b = line.find_first_not_of(kSpace);
    if (b == line.npos) continue;
    line = line.substr(b);
    std::string_view address = line.substr(0, line.find_first_of(kSpace));
    // resolv.conf names an address only; a ':' would read as a port to parse_resolver_address.
    std::string bracketed =
        address.find(':') != address.npos ? "[" + std::string(address) + "]" : std::string(address);
    if (auto endpoint = parse_resolver_address(bracketed)) return *endpoint;
  }
  return {asio::ip::make_address_v4("127.0.0.1"), 53};
}

asio::ip::udp::endpoint system_nameserver(const std::string& path) {
  auto text = read_file(path);
  return nameserver_from_resolv_conf(text ? std::string_view(*text) : std::string_view());
}

namespace {

using asio::ip::tcp;
using asio::ip::udp;

// One lookup: a query per name of the CNAME chain, each over UDP (retried) and, when
// truncated, TCP. Every handler runs on the executor given to resolve(); `generation_` tells a
// handler whether the exchange it belongs to is still the current one.
class Lookup final : public DnsLookup, public std::enable_shared_from_this<Lookup> {
 public:
  Lookup(const asio::any_io_executor& executor, const DnsClientOptions& options, std::string name,
         DnsType type, DnsClient::Callback done)
      : options_(options),
        type_(type),
        done_(std::move(done)),
        udp_(executor),
        tcp_(executor),
        timer_(executor) {
    chain_.push_back(std::move(name));
  }

  void start() {
    asio::post(udp_.get_executor(), [self = shared_from_this()] {
      if (!self->finished_) self->query(self->chain_.front());
    });
  }

  void cancel() override {
    done_ = nullptr;
    finish(fail(ErrorCode::kUnavailable, "cancelled"));
  }

 private:
  bool stale(unsigned generation) const { return finished_ || generation != generation_; }

  void query(const std::string& name) {
    qname_ = name;
    attempt_ = 0;
    send_udp();
  }

  void send_udp() {
    unsigned generation = ++generation_;
    close_sockets();
    std::array<std::uint8_t, 2> id{};
    crypto::random_bytes(id);
    id_ = get16(id, 0);
    auto query = build_dns_query(id_, qname_, type_);
    if (!query) {
      // The first name was the caller's; later ones are CNAME targets from the resolver.
      return finish(chain_.size() == 1
                        ? std::unexpected(query.error())
                        : fail(ErrorCode::kMalformed, "CNAME target is not a host name"));
    }
    query_ = *std::move(query);
    error_code ec;
    udp_.open(options_.server.protocol(), ec);
    if (!ec) udp_.connect(options_.server, ec);
    if (ec) return attempt_failed(fail(ErrorCode::kUnavailable, "resolver: " + ec.message()));
    arm_timer(generation);
    udp_.async_send(
        asio::buffer(query_), [self = shared_from_this(), generation](error_code e, std::size_t) {
          if (self->stale(generation) || !e) return;
          self->attempt_failed(fail(ErrorCode::kUnavailable, "resolver: " + e.message()));
        });
    receive_udp(generation);
  }

  void arm_timer(unsigned generation) {
    timer_.expires_after(options_.attempt_timeout);
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || self->stale(generation)) return;
      ++self->generation_;
      self->close_sockets();
      auto error = fail(ErrorCode::kUnavailable, "no answer from the resolver in time");
      if (self->tcp_phase_) return self->finish(error);
      self->attempt_failed(error);
    });
  }

  void receive_udp(unsigned generation) {
    udp_.async_receive(asio::buffer(buffer_),
                       [self = shared_from_this(), generation](error_code ec, std::size_t n) {
                         if (self->stale(generation)) return;
                         self->on_datagram(generation, ec, n);
                       });
  }

  void on_datagram(unsigned generation, error_code ec, std::size_t n) {
    if (ec) {
      // ECONNREFUSED from an ICMP port unreachable, among others.
      return attempt_failed(fail(ErrorCode::kUnavailable, "resolver: " + ec.message()));
    }
    std::span<const std::uint8_t> wire(buffer_.data(), n);
    if (n < 2 || get16(wire, 0) != id_) return receive_udp(generation);  // not ours
    auto msg = parse_dns_response(wire);
    if (!msg) return finish(fail_with_context(msg.error(), "resolver answer"));
    if (!answers_query(*msg)) return receive_udp(generation);
    if (msg->tc) return send_tcp();
    on_answer(*std::move(msg));
  }

  bool answers_query(const DnsMessage& msg) const {
    return msg.id == id_ && msg.opcode == 0 && msg.questions.size() == 1 &&
           msg.questions[0].type == type_ && msg.questions[0].klass == kDnsClassIn &&
           dns_name_equal(msg.questions[0].name, qname_);
  }

  void attempt_failed(std::unexpected<Error> error) {
    if (++attempt_ < options_.attempts) return send_udp();
    finish(std::move(error));
  }

  // TCP gets one try within one attempt_timeout: the resolver has just answered over UDP.
  void send_tcp() {
    unsigned generation = ++generation_;
    tcp_phase_ = true;
    close_sockets();
    tcp_length_ = {static_cast<std::uint8_t>(query_.size() >> 8),
                   static_cast<std::uint8_t>(query_.size() & 0xff)};
    arm_timer(generation);
    tcp::endpoint server(options_.server.address(), options_.server.port());
    tcp_.async_connect(server, [self = shared_from_this(), generation](error_code ec) {
      if (self->stale(generation)) return;
      if (ec) return self->tcp_failed(ec);
      std::array<asio::const_buffer, 2> out = {asio::buffer(self->tcp_length_),
                                               asio::buffer(self->query_)};
      asio::async_write(self->tcp_, out, [self, generation](error_code e, std::size_t) {
        if (self->stale(generation)) return;
        if (e) return self->tcp_failed(e);
        self->read_tcp_length(generation);
      });
    });
  }

  void read_tcp_length(unsigned generation) {
    asio::async_read(tcp_, asio::buffer(tcp_length_),
                     [self = shared_from_this(), generation](error_code ec, std::size_t) {
                       if (self->stale(generation)) return;
                       if (ec) return self->tcp_failed(ec);
                       std::size_t n =
                           (std::size_t{self->tcp_length_[0]} << 8) | self->tcp_length_[1];
                       asio::async_read(self->tcp_, asio::buffer(self->buffer_.data(), n),
                                        [self, generation](error_code e, std::size_t got) {
                                          if (self->stale(generation)) return;
                                          if (e) return self->tcp_failed(e);
                                          self->on_tcp_message(got);
                                        });
                     });
  }

  void on_tcp_message(std::size_t n) {
    auto msg = parse_dns_response(std::span<const std::uint8_t>(buffer_.data(), n));
    if (!msg) return finish(fail_with_context(msg.error(), "resolver answer over TCP"));
    if (!answers_query(*msg) || msg->tc) {
      return finish(fail(ErrorCode::kMalformed, "resolver answered another question over TCP"));
    }
    on_answer(*std::move(msg));
  }

  void tcp_failed(error_code ec) {
    finish(fail(ErrorCode::kUnavailable, "resolver over TCP: " + ec.message()));
  }

  static const char* rcode_name(DnsRcode rcode) {
    switch (rcode) {
      case DnsRcode::kFormErr:
        return "FORMERR";
      case DnsRcode::kServFail:
        return "SERVFAIL";
      case DnsRcode::kNotImp:
        return "NOTIMP";
      case DnsRcode::kRefused:
        return "REFUSED";
      default:
        return "an error";
    }
  }

  void on_answer(DnsMessage msg) {
    ++generation_;
    tcp_phase_ = false;
    close_sockets();
    timer_.cancel();
    if (msg.rcode != DnsRcode::kNoError && msg.rcode != DnsRcode::kNxDomain) {
      return finish(
          fail(ErrorCode::kUnavailable, std::string("resolver answered ") + rcode_name(msg.rcode)));
    }
    std::string name = qname_;
    for (;;) {
      DnsAnswer answer{msg.rcode, name, {}};
      const DnsRecord* cname = nullptr;
      for (const auto& rec : msg.answers) {
        if (rec.klass != kDnsClassIn || !dns_name_equal(rec.name, name)) continue;
        if (rec.type == type_) answer.records.push_back(rec);
        if (rec.type == DnsType::kCname) cname = &rec;
      }
      if (!answer.records.empty() || cname == nullptr) {
        // A chain that stops at a target without data, with NOERROR, may come from a server
        // that does not chase CNAMEs itself: ask for the target.
        if (answer.records.empty() && !dns_name_equal(name, qname_) &&
            msg.rcode == DnsRcode::kNoError) {
          return query(name);
        }
        return finish(std::move(answer));
      }
      if (++hops_ > options_.max_cname_hops) {
        return finish(fail(ErrorCode::kMalformed, "CNAME chain too long"));
      }
      for (const auto& seen : chain_) {
        if (dns_name_equal(seen, cname->target)) {
          return finish(fail(ErrorCode::kMalformed, "CNAME loop"));
        }
      }
      name = cname->target;
      chain_.push_back(name);
    }
  }

  void close_sockets() {
    error_code ignored;
    udp_.close(ignored);
    tcp_.close(ignored);
  }

  void finish(Result<DnsAnswer> result) {
    if (finished_) return;
    finished_ = true;
    ++generation_;
    close_sockets();
    timer_.cancel();
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result));
  }

  const DnsClientOptions options_;
  const DnsType type_;
  DnsClient::Callback done_;
  udp::socket udp_;
  tcp::socket tcp_;
  asio::steady_timer timer_;
  std::vector<std::string> chain_;  // the asked name, then each CNAME target
  std::string qname_;               // the name asked now
  int hops_ = 0;
  int attempt_ = 0;
  unsigned generation_ = 0;
  bool finished_ = false;
  bool tcp_phase_ = false;
  std::uint16_t id_ = 0;
  Bytes query_;
  std::array<std::uint8_t, 2> tcp_length_{};
  std::array<std::uint8_t, 65535> buffer_{};
};

}  // namespace

DnsClient::DnsClient(DnsClientOptions options) : options_(std::move(options)) {
  if (options_.attempts < 1) options_.attempts = 1;
  if (options_.max_cname_hops < 0) options_.max_cname_hops = 0;
}

std::shared_ptr<DnsLookup> DnsClient::resolve(const asio::any_io_executor& executor,
                                              std::string name, DnsType type, Callback done) const {
  auto lookup =
      std::make_shared<Lookup>(executor, options_, std::move(name), type, std::move(done));
  lookup->start();
  return lookup;
}

}  // namespace certward::protocols::acme
