#include <array>
#include <chrono>

#include "x509/der_internal.h"

namespace certward::x509::der {
namespace {

std::size_t length_size(std::size_t n) {
  std::size_t octets = 1;
  if (n >= 0x80) {
    for (std::size_t v = n; v != 0; v >>= 8) ++octets;
  }
  return octets;
}

struct Civil {
  int year;
  unsigned month, day, hour, minute, second;
};

Civil civil(SysTime t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<unsigned>(hms.hours().count()),
          static_cast<unsigned>(hms.minutes().count()),
          static_cast<unsigned>(hms.seconds().count())};
}

char* put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// Writes "[YY]YYMMDDHHMMSSZ"; returns the number of characters.
std::size_t format_time(SysTime t, bool generalized, char* out) {
  const Civil c = civil(t);
  char* p = out;
  const auto year = static_cast<unsigned>(c.year);
  if (generalized) p = put2(p, year / 100);
  p = put2(p, year % 100);
  p = put2(p, c.month);
  p = put2(p, c.day);
  p = put2(p, c.hour);
  p = put2(p, c.minute);
  p = put2(p, c.second);
  *p++ = 'Z';
  return static_cast<std::size_t>(p - out);
}

bool utc_time_years(SysTime t) {
  const int year = civil(t).year;
  return year >= 1950 && year <= 2049;
}

}  // namespace

std::size_t tlv_size(std::size_t content_size) {
  return 1 + length_size(content_size) + content_size;
}

std::span<const std::uint8_t> strip_leading_zeros(std::span<const std::uint8_t> magnitude) {
  while (!magnitude.empty() && magnitude.front() == 0) magnitude = magnitude.subspan(1);
  return magnitude;
}

std::size_t integer_size(std::span<const std::uint8_t> magnitude) {
  const auto m = strip_leading_zeros(magnitude);
  if (m.empty()) return 3;
  return tlv_size(m.size() + ((m.front() & 0x80) ? 1 : 0));
}

bool time_in_range(SysTime t) {
  const int year = civil(t).year;
  return year >= 0 && year <= 9999;
}

std::size_t time_size(SysTime t) { return utc_time_years(t) ? 15 : kGeneralizedTimeSize; }

void Writer::header(std::uint8_t tag, std::size_t content_size) {
  out_.push_back(tag);
  if (content_size < 0x80) {
    out_.push_back(static_cast<std::uint8_t>(content_size));
    return;
  }
  const std::size_t octets = length_size(content_size) - 1;
  out_.push_back(static_cast<std::uint8_t>(0x80 | octets));
  for (std::size_t i = octets; i-- > 0;) {
    out_.push_back(static_cast<std::uint8_t>(content_size >> (8 * i)));
  }
}

void Writer::tlv(std::uint8_t tag, std::span<const std::uint8_t> content) {
  header(tag, content.size());
  raw(content);
}

void Writer::integer(std::span<const std::uint8_t> magnitude) {
  const auto m = strip_leading_zeros(magnitude);
  if (m.empty()) {
    small_integer(0);
    return;
  }
  const bool pad = (m.front() & 0x80) != 0;
  header(kInteger, m.size() + (pad ? 1 : 0));
  if (pad) out_.push_back(0);
  raw(m);
}

void Writer::small_integer(std::uint8_t value) {
  if (value & 0x80) {
    const std::uint8_t content[] = {0, value};
    tlv(kInteger, content);
  } else {
    const std::uint8_t content[] = {value};
    tlv(kInteger, content);
  }
}

void Writer::enumerated(std::uint8_t value) {
  CW_CHECK(value < 0x80);
  const std::uint8_t content[] = {value};
  tlv(kEnumerated, content);
}

void Writer::boolean_true() {
  const std::uint8_t content[] = {0xff};
  tlv(kBoolean, content);
}

void Writer::null() { header(kNull, 0); }

void Writer::time(SysTime t) {
  if (!utc_time_years(t)) {
    generalized_time(t);
    return;
  }
  char text[16];
  const std::size_t n = format_time(t, false, text);
  tlv(kUtcTime, as_bytes(std::string_view(text, n)));
}

void Writer::generalized_time(SysTime t) {
  char text[16];
  const std::size_t n = format_time(t, true, text);
  tlv(kGeneralizedTime, as_bytes(std::string_view(text, n)));
}

std::size_t Writer::begin(std::uint8_t tag) {
  const std::size_t mark = out_.size();
  out_.push_back(tag);
  out_.push_back(0);
  return mark;
}

void Writer::end(std::size_t mark) {
  const std::size_t content_size = out_.size() - mark - 2;
  if (content_size < 0x80) {
    out_[mark + 1] = static_cast<std::uint8_t>(content_size);
    return;
  }
  const std::size_t octets = length_size(content_size) - 1;
  out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(mark + 2), octets, 0);
  out_[mark + 1] = static_cast<std::uint8_t>(0x80 | octets);
  for (std::size_t i = 0; i < octets; ++i) {
    out_[mark + 2 + i] = static_cast<std::uint8_t>(content_size >> (8 * (octets - 1 - i)));
  }
}

std::unexpected<Error> Reader::error(const std::string& why) const {
  return fail(ErrorCode::kMalformed, std::string(what_) + ": " + why);
}

Result<Tlv> Reader::next() {
  if (in_.size() < 2) return error("truncated");
  const std::uint8_t tag = in_[0];
  if ((tag & 0x1f) == 0x1f) return error("unexpected high tag number");
  std::size_t pos = 2;
  std::size_t len = in_[1];
  if (len == 0x80) return error("indefinite length (not DER)");
  if (len > 0x80) {
    const std::size_t octets = len & 0x7f;
    // Four length octets describe 4 GiB, more than any input here can hold.
    if (octets > 4) return error("length too large");
    if (in_.size() < 2 + octets) return error("truncated");
    if (in_[2] == 0) return error("length not in its shortest form (not DER)");
    len = 0;
    for (std::size_t i = 0; i < octets; ++i) len = (len << 8) | in_[2 + i];
    if (len < 0x80) return error("length not in its shortest form (not DER)");
    pos += octets;
  }
  if (in_.size() - pos < len) return error("truncated");
  Tlv tlv{tag, in_.subspan(pos, len), in_.first(pos + len)};
  in_ = in_.subspan(pos + len);
  return tlv;
}

Result<std::span<const std::uint8_t>> Reader::read(std::uint8_t tag) {
  if (in_.empty()) return error("truncated");
  if (in_[0] != tag) return error("unexpected element");
  CW_ASSIGN_OR_RETURN(const Tlv tlv, next());
  return tlv.content;
}

Result<std::optional<std::span<const std::uint8_t>>> Reader::optional(std::uint8_t tag) {
  if (!next_is(tag)) return std::optional<std::span<const std::uint8_t>>();
  CW_ASSIGN_OR_RETURN(const Tlv tlv, next());
  return std::optional(tlv.content);
}

Status Reader::finish() const {
  if (!in_.empty()) return error("unexpected trailing data");
  return ok();
}

Result<Extension> read_extension(Reader& extensions, const char* what) {
  CW_ASSIGN_OR_RETURN(const auto seq, extensions.read(kSequence));
  Reader r(seq, what);
  Extension e;
  CW_ASSIGN_OR_RETURN(const Tlv oid, r.next());
  if (oid.tag != kOid || oid.content.empty()) return r.error("bad extension OID");
  e.oid = oid.content;
  e.oid_whole = oid.whole;
  if (r.next_is(kBoolean)) {
    CW_ASSIGN_OR_RETURN(const auto b, r.read(kBoolean));
    CW_ASSIGN_OR_RETURN(e.critical, boolean(b, what));
  }
  CW_ASSIGN_OR_RETURN(e.value, r.read(kOctetString));
  CW_RETURN_IF_ERROR(r.finish());
  return e;
}

Result<std::span<const std::uint8_t>> nonnegative_integer(std::span<const std::uint8_t> c,
                                                          const char* what) {
  const auto bad = [what](const char* why) {
    return fail(ErrorCode::kMalformed, std::string(what) + ": " + why);
  };
  if (c.empty()) return bad("empty INTEGER");
  if (c.size() > 1 && ((c[0] == 0 && !(c[1] & 0x80)) || (c[0] == 0xff && (c[1] & 0x80)))) {
    return bad("INTEGER not in its shortest form (not DER)");
  }
  if (c[0] & 0x80) return bad("negative INTEGER");
  return c[0] == 0 ? c.subspan(1) : c;
}

Result<bool> boolean(std::span<const std::uint8_t> c, const char* what) {
  if (c.size() != 1 || (c[0] != 0 && c[0] != 0xff)) {
    return fail(ErrorCode::kMalformed, std::string(what) + ": bad BOOLEAN");
  }
  return c[0] == 0xff;
}

Result<std::span<const std::uint8_t>> bit_string_octets(std::span<const std::uint8_t> c,
                                                        const char* what) {
  if (c.empty() || c[0] != 0) {
    return fail(ErrorCode::kMalformed, std::string(what) + ": BIT STRING with unused bits");
  }
  return c.subspan(1);
}

Result<SysTime> time(const Tlv& tlv, const char* what) {
  const auto bad = [what]() {
    return fail(ErrorCode::kMalformed, std::string(what) + ": bad time (RFC 5280 4.1.2.5)");
  };
  const bool generalized = tlv.tag == kGeneralizedTime;
  if (!generalized && tlv.tag != kUtcTime) return bad();
  const std::size_t digits = generalized ? 14 : 12;
  const auto& c = tlv.content;
  if (c.size() != digits + 1 || c[digits] != 'Z') return bad();
  std::array<unsigned, 7> pairs{};
  for (std::size_t i = 0; i < digits / 2; ++i) {
    const std::uint8_t hi = c[2 * i];
    const std::uint8_t lo = c[2 * i + 1];
    if (hi < '0' || hi > '9' || lo < '0' || lo > '9') return bad();
    pairs[i] = static_cast<unsigned>((hi - '0') * 10 + (lo - '0'));
  }
  // UTCTime's two-digit years are 1950-2049 (RFC 5280 4.1.2.5.1).
  const unsigned year = generalized ? pairs[0] * 100 + pairs[1]
                                    : (pairs[0] >= 50 ? 1900 + pairs[0] : 2000 + pairs[0]);
  const unsigned* rest = pairs.data() + (generalized ? 2 : 1);  // month day hour minute second
  const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(year)),
                                        std::chrono::month(rest[0]), std::chrono::day(rest[1])};
  if (!ymd.ok() || rest[2] > 23 || rest[3] > 59 || rest[4] > 59) return bad();
  return SysTime(std::chrono::sys_days(ymd).time_since_epoch()) + std::chrono::hours(rest[2]) +
         std::chrono::minutes(rest[3]) + std::chrono::seconds(rest[4]);
}

}  // namespace certward::x509::der
