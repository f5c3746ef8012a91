// RFC 2136 updates signed with TSIG (src/issuers/dns_update.h): the wire form byte for byte,
// TSIG checked against an independent signer written here from RFC 8945, hostile and mutilated
// answers, and a scripted server for what no real one does on demand (stray datagrams,
// truncation, silence). Knot DNS, the real thing, is dns_update_knot_test.cc.

#include "issuers/dns_update.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <thread>

#include "common/encoding.h"
#include "unit/testing/temp_dir.h"

namespace certward::issuers {
namespace {

using namespace std::chrono_literals;
using dns_wire::check_answer;
using dns_wire::encode_update;
using dns_wire::sign_message;
using dns_wire::UpdateRecord;
using ::testing::HasSubstr;

// ---- an independent encoder and signer, from the RFCs ----

void put16(Bytes& b, std::uint64_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint64_t v) {
  put16(b, v >> 16);
  put16(b, v);
}
void put48(Bytes& b, std::uint64_t v) {
  put16(b, v >> 32);
  put32(b, v);
}
void append(Bytes& b, std::span<const std::uint8_t> more) {
  b.insert(b.end(), more.begin(), more.end());
}

Bytes wire(const std::string& name) {  // "a.b" -> 1 a 1 b 0, as written
  Bytes out;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<std::uint8_t>(dot - start));
    append(out, as_bytes(std::string_view(name).substr(start, dot - start)));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

Bytes hex(std::string_view h) {
  auto b = from_hex(h);
  EXPECT_TRUE(b.has_value()) << h;
  return b ? *b : Bytes{};
}

std::uint64_t now() { return static_cast<std::uint64_t>(std::time(nullptr)); }

TsigKey make_key(const std::string& name = "certward-test.", const std::string& alg = "hmac-sha256",
                 std::string secret = "0123456789abcdef0123456789abcdef") {
  return TsigKey{name, alg, crypto::SecretBytes::take(secret)};
}

const EVP_MD* digest_of(const std::string& alg) {
  if (alg == "hmac-sha384") return EVP_sha384();
  if (alg == "hmac-sha512") return EVP_sha512();
  return EVP_sha256();
}

Bytes hmac(const std::string& alg, std::span<const std::uint8_t> key, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  HMAC(digest_of(alg), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &len);
  out.resize(len);
  return out;
}

// How the test server signs (or does not sign) an answer.
struct Signing {
  std::string key_name = "certward-test";
  std::string alg = "hmac-sha256";
  std::string secret = "0123456789abcdef0123456789abcdef";
  std::uint64_t time = 0;  // 0: now
  std::uint16_t error = 0;
  bool with_mac = true;
};

// Appends a TSIG to `answer` as RFC 8945 4.3.3 has a server do, over `request_mac`.
Bytes sign_answer(Bytes answer, std::span<const std::uint8_t> request_mac, const Signing& s) {
  const std::uint64_t time = s.time != 0 ? s.time : now();
  Bytes vars = wire(s.key_name);
  put16(vars, 255);
  put32(vars, 0);
  append(vars, wire(s.alg));
  put48(vars, time);
  put16(vars, 300);
  put16(vars, s.error);
  put16(vars, 0);
  Bytes data;
  put16(data, request_mac.size());
  append(data, request_mac);
  append(data, answer);
  append(data, vars);
  Bytes mac = s.with_mac ? hmac(s.alg, as_bytes(s.secret), data) : Bytes{};
  Bytes rdata = wire(s.alg);
  put48(rdata, time);
  put16(rdata, 300);
  put16(rdata, mac.size());
  append(rdata, mac);
  append(rdata, std::span(answer).first(2));  // original ID
  put16(rdata, s.error);
  put16(rdata, 0);
  append(answer, wire(s.key_name));
  put16(answer, 250);
  put16(answer, 255);
  put32(answer, 0);
  put16(answer, rdata.size());
  append(answer, rdata);
  answer[11] = static_cast<std::uint8_t>(answer[11] + 1);
  return answer;
}

// The answer's header and echoed zone section for an UPDATE of `zone` with this id.
Bytes bare_answer(std::uint16_t id, std::uint16_t rcode, const std::string& zone = "example.test") {
  Bytes b;
  put16(b, id);
  put16(b, 0x8000 | (5 << 11) | rcode);
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  put16(b, 0);
  append(b, wire(zone));
  put16(b, 6);
  put16(b, 1);
  return b;
}

// ---- encoding ----

TEST(EncodeUpdate, AddsOneTxtRecordByteForByte) {
  auto msg = encode_update(
      0x1234, "example.test",
      {{.name = "_acme-challenge.example.test", .add = true, .txt = "abc", .ttl = 60}});
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  EXPECT_EQ(to_hex(*msg),
            "123428000001000000010000"              // id, UPDATE; 1 zone, 1 update
            "076578616d706c6504746573740000060001"  // example.test SOA IN
            "0f5f61636d652d6368616c6c656e6765"      // _acme-challenge
            "076578616d706c65047465737400"          // .example.test
            "001000010000003c000403616263");        // TXT IN, TTL 60, "abc"
}

TEST(EncodeUpdate, DeletesOneRecordWithClassNoneAndTtlZero) {
  auto msg = encode_update(7, "example.test.",
                           {{.name = "x.Example.Test.", .add = false, .txt = "v", .ttl = 3600}});
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  Bytes expected = hex("0007:2800:0001:0000:0001:0000");
  append(expected, wire("example.test"));
  append(expected, hex("00060001"));
  append(expected, wire("x.Example.Test"));  // the name as given: no case folding
  append(expected, hex("0010:00fe:00000000:0002:0176"));
  EXPECT_EQ(to_hex(*msg), to_hex(expected));
}

TEST(EncodeUpdate, SplitsLongValuesIntoCharacterStrings) {
  const std::string value(300, 'a');
  auto msg = encode_update(1, "example.test", {{.name = "example.test", .txt = value, .ttl = 60}});
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  Bytes tail = hex("0010:0001:0000003c:012e:ff");  // RDLENGTH 302 = 1+255+1+45
  append(tail, as_bytes(value.substr(0, 255)));
  tail.push_back(45);
  append(tail, as_bytes(value.substr(255)));
  ASSERT_GE(msg->size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), msg->end() - static_cast<long>(tail.size())));

  auto empty = encode_update(1, "example.test", {{.name = "example.test", .txt = "", .ttl = 60}});
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(to_hex(std::span(*empty).last(3)), "000100");  // RDLENGTH 1, one empty string
}

TEST(EncodeUpdate, RejectsBadNamesAndValues) {
  const std::string zone = "example.test";
  auto code = [&](const std::string& z, const std::string& name, std::string txt = "v") {
    auto msg = encode_update(1, z, {{.name = name, .txt = std::move(txt), .ttl = 60}});
    return msg ? std::optional<ErrorCode>() : msg.error().code;
  };
  const std::string label63(63, 'a');
  EXPECT_EQ(code(zone, label63 + ".example.test"), std::nullopt);
  EXPECT_EQ(code(zone, label63 + "a.example.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(zone, "a..example.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(zone, ".example.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(zone, "a.example.test.."), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("exa..mple", "a.exa..mple"), ErrorCode::kInvalidArgument);
  // 255 octets on the wire at most: 4 labels of 63 (256 octets) are one too many.
  std::string long_name = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'a');
  EXPECT_EQ(code(long_name, long_name), std::nullopt);  // 255 octets
  EXPECT_EQ(code(long_name, "b." + long_name), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(zone, "a.example.test", std::string(70000, 'x')), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(zone, "a.example.test", std::string(65000, 'x')), std::nullopt);
}

TEST(EncodeUpdate, RejectsNamesOutsideTheZone) {
  auto code = [](const std::string& zone, const std::string& name) {
    auto msg = encode_update(1, zone, {{.name = name, .txt = "v", .ttl = 60}});
    return msg ? std::optional<ErrorCode>() : msg.error().code;
  };
  EXPECT_EQ(code("example.test", "www.other.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("example.test", "notexample.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("example.test", "test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("www.example.test", "example.test"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code("example.test", "_acme-challenge.WWW.EXAMPLE.test."), std::nullopt);
  EXPECT_EQ(code("Example.Test.", "example.test"), std::nullopt);
  EXPECT_EQ(code(".", "anything.example.test"), std::nullopt);  // the root holds every name
}

TEST(DnsUpdate, RefusesANameOutsideTheZoneBeforeSending) {
  DnsUpdateServer server{
      .address = "127.0.0.1", .port = 9, .zone = "example.test", .key = make_key(), .timeout = 5s};
  auto start = std::chrono::steady_clock::now();
  auto added = dns_add_txt(server, "_acme-challenge.www.example.org", "v");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(added.error().message, HasSubstr("DNS update to 127.0.0.1:9: "));
  auto deleted = dns_delete_txt(server, "example.test.org", "v");
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().code, ErrorCode::kInvalidArgument);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

  server.address = "localhost";
  auto named = dns_add_txt(server, "a.example.test", "v");
  ASSERT_FALSE(named.has_value());
  EXPECT_EQ(named.error().code, ErrorCode::kInvalidArgument);
}

// ---- TSIG ----

TEST(SignMessage, AppendsTheTsigRecordOfRfc8945) {
  auto msg =
      encode_update(0xbeef, "example.test", {{.name = "a.example.test", .txt = "v", .ttl = 60}});
  ASSERT_TRUE(msg.has_value());
  const Bytes unsigned_msg = *msg;
  const TsigKey key = make_key("Certward-Test.");
  auto mac = sign_message(*msg, key, 0x0102030405);
  ASSERT_TRUE(mac.has_value()) << mac.error().message;

  Bytes vars = wire("certward-test");  // canonical: lower case
  append(vars, hex("00ff:00000000"));
  append(vars, wire("hmac-sha256"));
  append(vars, hex("000102030405:012c:0000:0000"));
  Bytes data = unsigned_msg;
  append(data, vars);
  EXPECT_EQ(to_hex(*mac), to_hex(hmac("hmac-sha256", key.secret.span(), data)));

  Bytes expected = unsigned_msg;
  expected[11] = 1;  // ARCOUNT
  append(expected, wire("certward-test"));
  append(expected, hex("00fa:00ff:00000000:003d"));  // RDLENGTH 13+6+2+2+32+6
  append(expected, wire("hmac-sha256"));
  append(expected, hex("000102030405:012c:0020"));
  append(expected, *mac);
  append(expected, hex("beef:0000:0000"));
  EXPECT_EQ(to_hex(*msg), to_hex(expected));
}

TEST(SignMessage, RefusesUnknownAlgorithmsAndEmptyKeys) {
  auto msg = encode_update(1, "example.test", {});
  ASSERT_TRUE(msg.has_value());
  Bytes m = *msg;
  auto md5 = sign_message(m, make_key("k.", "hmac-md5"), now());
  ASSERT_FALSE(md5.has_value());
  EXPECT_EQ(md5.error().code, ErrorCode::kInvalidArgument);
  auto empty = sign_message(m, TsigKey{"k.", "hmac-sha256", {}}, now());
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  auto root = sign_message(m, make_key("."), now());
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(m, *msg);  // untouched when refused
}

// A signed request and what is needed to answer it.
struct Signed {
  Bytes message;
  Bytes mac;
  std::uint16_t id = 0x4d2a;
};

Signed signed_request(const TsigKey& key) {
  Signed s;
  auto msg = encode_update(s.id, "example.test",
                           {{.name = "_acme-challenge.example.test", .txt = "token", .ttl = 60}});
  EXPECT_TRUE(msg.has_value());
  s.message = *msg;
  auto mac = sign_message(s.message, key, now());
  EXPECT_TRUE(mac.has_value());
  s.mac = mac ? *mac : Bytes{};
  return s;
}

std::optional<ErrorCode> check(const Bytes& answer, const Signed& req,
                               const TsigKey& key = make_key(), std::uint64_t at = now()) {
  auto checked = check_answer(answer, req.id, req.mac, key, at);
  return checked ? std::optional<ErrorCode>() : checked.error().code;
}

TEST(CheckAnswer, AcceptsASignedAnswerInEveryAlgorithm) {
  for (std::string alg : {"hmac-sha256", "hmac-sha384", "hmac-sha512"}) {
    const TsigKey key = make_key("certward-test", alg);
    const Signed req = signed_request(key);
    Signing s;
    s.alg = alg;
    EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, s), req, key), std::nullopt)
        << alg;
  }
  // Names compare as DNS names do: case and the trailing dot do not matter.
  const TsigKey upper = make_key("CERTWARD-Test.", "HMAC-SHA256.");
  const Signed req = signed_request(upper);
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, {}), req, upper), std::nullopt);
}

TEST(CheckAnswer, RejectsAnswersThatDoNotVerify) {
  const Signed req = signed_request(make_key());
  const Bytes good = sign_answer(bare_answer(req.id, 0), req.mac, {});
  ASSERT_EQ(check(good, req), std::nullopt);

  Bytes mac_flipped = good;
  mac_flipped[mac_flipped.size() - 8] ^= 1;  // in the MAC (then orig id, error, other len)
  EXPECT_EQ(check(mac_flipped, req), ErrorCode::kBadSignature);
  Bytes body_flipped = good;
  body_flipped[14] ^= 0x20;  // a letter of the zone name: the MAC is over the exact bytes
  EXPECT_EQ(check(body_flipped, req), ErrorCode::kBadSignature);

  EXPECT_EQ(check(bare_answer(req.id, 0), req), ErrorCode::kBadSignature);  // unsigned
  Signing no_mac;
  no_mac.with_mac = false;
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, no_mac), req),
            ErrorCode::kBadSignature);
  Signing other_secret;
  other_secret.secret = "another secret";
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, other_secret), req),
            ErrorCode::kBadSignature);
  Signing other_key;
  other_key.key_name = "someone-else";
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, other_key), req),
            ErrorCode::kBadSignature);
  Signing other_alg;
  other_alg.alg = "hmac-sha512";
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, other_alg), req),
            ErrorCode::kBadSignature);
  // Over another request's MAC: an answer to some other message.
  const Bytes other_mac(32, 7);
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), other_mac, {}), req),
            ErrorCode::kBadSignature);
}

TEST(CheckAnswer, ChecksTheTimeWithinTheFudge) {
  const Signed req = signed_request(make_key());
  const std::uint64_t t = now();
  Signing s;
  s.time = t - 300;
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, s), req, make_key(), t),
            std::nullopt);
  s.time = t - 301;
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, s), req, make_key(), t),
            ErrorCode::kBadSignature);
  s.time = t + 301;
  EXPECT_EQ(check(sign_answer(bare_answer(req.id, 0), req.mac, s), req, make_key(), t),
            ErrorCode::kBadSignature);
}

TEST(CheckAnswer, RejectsWhatIsNotAnAnswerToTheRequest) {
  const Signed req = signed_request(make_key());
  EXPECT_EQ(check(sign_answer(bare_answer(req.id + 1, 0), req.mac, {}), req),
            ErrorCode::kMalformed);
  Bytes query = sign_answer(bare_answer(req.id, 0), req.mac, {});
  query[2] &= 0x7f;  // QR clear: a request
  EXPECT_EQ(check(query, req), ErrorCode::kMalformed);
  Bytes opcode = bare_answer(req.id, 0);
  opcode[2] = 0x80;  // a QUERY answer
  EXPECT_EQ(check(sign_answer(opcode, req.mac, {}), req), ErrorCode::kMalformed);
}

TEST(CheckAnswer, MapsRcodes) {
  const Signed req = signed_request(make_key());
  auto result = [&](std::uint16_t rcode, const Signing& s, bool sign = true) {
    Bytes a = bare_answer(req.id, rcode);
    return check_answer(sign ? sign_answer(a, req.mac, s) : a, req.id, req.mac, make_key(), now());
  };
  struct Case {
    std::uint16_t rcode;
    ErrorCode code;
    const char* name;
  };
  for (const Case& c : {Case{5, ErrorCode::kPolicyRejected, "REFUSED"},
                        Case{10, ErrorCode::kPolicyRejected, "NOTZONE"},
                        Case{2, ErrorCode::kPolicyRejected, "SERVFAIL"},
                        Case{1, ErrorCode::kPolicyRejected, "FORMERR"},
                        Case{8, ErrorCode::kPolicyRejected, "NXRRSET"},
                        Case{15, ErrorCode::kPolicyRejected, "RCODE 15"},
                        Case{9, ErrorCode::kUnauthorized, "NOTAUTH"}}) {
    for (bool sign : {true, false}) {
      auto r = result(c.rcode, {}, sign);
      ASSERT_FALSE(r.has_value()) << c.name;
      EXPECT_EQ(r.error().code, c.code) << c.name << (sign ? " signed" : " unsigned");
      EXPECT_THAT(r.error().message, HasSubstr(c.name));
    }
  }
  // The server did not take the key: no MAC (BADSIG, BADKEY), or signed (BADTIME).
  for (std::uint16_t error : {16, 17, 18}) {
    Signing s;
    s.error = error;
    s.with_mac = error == 18;
    auto r = result(9, s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized) << error;
    EXPECT_THAT(r.error().message, HasSubstr(error == 16   ? "BADSIG"
                                             : error == 17 ? "BADKEY"
                                                           : "BADTIME"));
  }
  // A server that does not know the key may sign with it: the error still reads as such.
  Signing stranger;
  stranger.key_name = "unknown";
  stranger.with_mac = false;
  stranger.error = 17;
  auto r = result(9, stranger);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
}

TEST(CheckAnswer, SurvivesTruncatedAndMutilatedAnswers) {
  const Signed req = signed_request(make_key());
  const Bytes good = sign_answer(bare_answer(req.id, 0), req.mac, {});
  for (std::size_t n = 0; n < good.size(); ++n) {
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_NE(check(prefix, req), std::nullopt) << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(check(longer, req), ErrorCode::kMalformed);
  // Every octet set to a few values: nothing may crash, only the untouched answer passes.
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t v : {0x00, 0x01, 0x3f, 0xc0, 0xff}) {
      Bytes m = good;
      if (m[i] == v) continue;
      m[i] = v;
      (void)check(m, req);
    }
  }
  std::mt19937 rng(2136);
  for (int i = 0; i < 2000; ++i) {
    Bytes m = bare_answer(req.id, 0);
    m.resize(12);
    m[4] = 0;
    m[5] = static_cast<std::uint8_t>(rng() % 3);
    for (int k = 6; k < 12; k += 2) m[k + 1] = static_cast<std::uint8_t>(rng() % 4);
    const std::size_t size = rng() % 200;
    for (std::size_t k = 0; k < size; ++k) m.push_back(static_cast<std::uint8_t>(rng()));
    EXPECT_NE(check(m, req), std::nullopt);
  }
}

TEST(CheckAnswer, RejectsCompressionLoopsAndMisplacedTsig) {
  const Signed req = signed_request(make_key());
  Bytes self = bare_answer(req.id, 0);
  self.resize(12);
  append(self, hex("c00c:0006:0001"));  // the zone name points at itself
  EXPECT_EQ(check(self, req), ErrorCode::kMalformed);
  Bytes forward = bare_answer(req.id, 0);
  forward.resize(12);
  append(forward, hex("c012:0006:0001:00"));  // points ahead
  EXPECT_EQ(check(forward, req), ErrorCode::kMalformed);
  Bytes long_label = bare_answer(req.id, 0);
  long_label.resize(12);
  append(long_label, hex("40"));  // label type 01: reserved
  EXPECT_EQ(check(long_label, req), ErrorCode::kMalformed);

  // A TSIG in the update section, not last among the additional records.
  Bytes misplaced = sign_answer(bare_answer(req.id, 0), req.mac, {});
  misplaced[9] = 1;   // UPCOUNT 1
  misplaced[11] = 0;  // ARCOUNT 0
  EXPECT_EQ(check(misplaced, req), ErrorCode::kMalformed);

  // A compressed TSIG owner name is read through its pointer: "certward-test" and a pointer
  // to the zone name at offset 12 in place of "certward-test.example.test" (the MAC covers
  // the name, not how it is written).
  const Bytes bare = bare_answer(req.id, 0);
  const std::string key_name = "certward-test.example.test";
  const Bytes plain = sign_answer(bare, req.mac, {.key_name = key_name});
  ASSERT_EQ(check(plain, req, make_key(key_name)), std::nullopt);
  Bytes compressed = bare;
  append(compressed, wire("certward-test"));
  compressed.back() = 0xc0;
  compressed.push_back(0x0c);
  compressed.insert(compressed.end(),
                    plain.begin() + static_cast<long>(bare.size() + wire(key_name).size()),
                    plain.end());
  compressed[11] = 1;  // ARCOUNT
  EXPECT_EQ(check(compressed, req, make_key(key_name)), std::nullopt);
}

// ---- transport, against a scripted server ----

// UDP and TCP on one port of 127.0.0.1, answering each request with what `script` returns
// (several datagrams over UDP, the first message over TCP).
class ScriptedDns {
 public:
  using Script = std::function<std::vector<Bytes>(const Bytes& request, bool tcp)>;
  explicit ScriptedDns(Script script) : script_(std::move(script)) {
    for (int tries = 0; tries < 20 && udp_ < 0; ++tries) {
      tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof addr;
      ::bind(tcp_, reinterpret_cast<sockaddr*>(&addr), len);
      ::listen(tcp_, 8);
      ::getsockname(tcp_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
      udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (::bind(udp_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        ::close(udp_);
        ::close(tcp_);
        udp_ = -1;
      }
    }
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedDns() {
    stop_ = true;
    thread_.join();
    ::close(udp_);
    ::close(tcp_);
  }
  std::uint16_t port() const { return port_; }
  int udp_requests() const { return udp_requests_; }
  int tcp_requests() const { return tcp_requests_; }

 private:
  void run() {
    Bytes buf(65535);
    while (!stop_) {
      std::array<pollfd, 2> p{pollfd{udp_, POLLIN, 0}, pollfd{tcp_, POLLIN, 0}};
      if (::poll(p.data(), p.size(), 20) <= 0) continue;
      if ((p[0].revents & POLLIN) != 0) {
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        ssize_t n = ::recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                               &from_len);
        if (n <= 0) continue;
        ++udp_requests_;
        for (const Bytes& d : script_(Bytes(buf.begin(), buf.begin() + n), false)) {
          ::sendto(udp_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
        }
      }
      if ((p[1].revents & POLLIN) != 0) serve_tcp(::accept(tcp_, nullptr, nullptr));
    }
  }

  void serve_tcp(int fd) {
    if (fd < 0) return;
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::array<std::uint8_t, 2> len{};
    Bytes request;
    if (::recv(fd, len.data(), 2, MSG_WAITALL) == 2) {
      request.resize(static_cast<std::size_t>(len[0] << 8 | len[1]));
      if (::recv(fd, request.data(), request.size(), MSG_WAITALL) ==
          static_cast<ssize_t>(request.size())) {
        ++tcp_requests_;
        auto answers = script_(request, true);
        if (!answers.empty()) {
          Bytes framed;
          put16(framed, answers[0].size());
          append(framed, answers[0]);
          ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
        }
      }
    }
    ::close(fd);
  }

  Script script_;
  int udp_ = -1;
  int tcp_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> udp_requests_{0};
  std::atomic<int> tcp_requests_{0};
  std::thread thread_;
};

// What a server that knows make_key() would answer to `request` (hmac-sha256: a 32-octet MAC
// before the original ID, error and other length).
Bytes signed_answer_to(const Bytes& request, std::uint16_t rcode = 0) {
  const std::uint16_t id = static_cast<std::uint16_t>(request[0] << 8 | request[1]);
  std::span<const std::uint8_t> mac(request.data() + request.size() - 6 - 32, 32);
  return sign_answer(bare_answer(id, rcode), mac, {});
}

DnsUpdateServer scripted_server(std::uint16_t port, std::chrono::milliseconds timeout = 3s) {
  return {.address = "127.0.0.1",
          .port = port,
          .zone = "example.test",
          .key = make_key(),
          .timeout = timeout};
}

TEST(DnsUpdateTransport, SkipsStrayDatagramsUntilTheSignedAnswer) {
  ScriptedDns dns([](const Bytes& request, bool) {
    Bytes other_id = signed_answer_to(request);
    other_id[1] ^= 1;
    Bytes garbage = bare_answer(static_cast<std::uint16_t>(request[0] << 8 | request[1]), 0);
    garbage.push_back(0xc0);
    Bytes forged = signed_answer_to(request);
    forged[forged.size() - 10] ^= 1;
    return std::vector<Bytes>{Bytes{1, 2, 3}, other_id, garbage, forged, signed_answer_to(request)};
  });
  auto added = dns_add_txt(scripted_server(dns.port()), "_acme-challenge.example.test", "v");
  EXPECT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(dns.udp_requests(), 1);
}

TEST(DnsUpdateTransport, AsksOverTcpWhenTheAnswerIsTruncated) {
  ScriptedDns dns([](const Bytes& request, bool tcp) {
    Bytes answer = signed_answer_to(request);
    if (!tcp) answer = bare_answer(static_cast<std::uint16_t>(request[0] << 8 | request[1]), 0);
    if (!tcp) answer[2] |= 0x02;  // TC
    return std::vector<Bytes>{answer};
  });
  auto added = dns_add_txt(scripted_server(dns.port()), "_acme-challenge.example.test", "v");
  EXPECT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(dns.udp_requests(), 1);
  EXPECT_EQ(dns.tcp_requests(), 1);
}

TEST(DnsUpdateTransport, SendsLargeUpdatesOverTcpOnly) {
  ScriptedDns dns(
      [](const Bytes& request, bool) { return std::vector<Bytes>{signed_answer_to(request)}; });
  auto added = dns_add_txt(scripted_server(dns.port()), "_acme-challenge.example.test",
                           std::string(600, 'x'));
  EXPECT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(dns.udp_requests(), 0);
  EXPECT_EQ(dns.tcp_requests(), 1);
}

TEST(DnsUpdateTransport, SilenceIsUnavailableAfterTwoTriesWithinTheTimeout) {
  ScriptedDns dns([](const Bytes&, bool) { return std::vector<Bytes>{}; });
  auto start = std::chrono::steady_clock::now();
  auto added = dns_add_txt(scripted_server(dns.port(), 600ms), "_acme-challenge.example.test", "v");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(added.error().message,
              HasSubstr("DNS update to 127.0.0.1:" + std::to_string(dns.port())));
  EXPECT_EQ(dns.udp_requests(), 2);
  EXPECT_GE(took, 550ms);
  EXPECT_LT(took, 1500ms);
}

TEST(DnsUpdateTransport, ForgedAnswersAloneEndAsTheirError) {
  ScriptedDns dns([](const Bytes& request, bool) {
    Bytes forged = signed_answer_to(request);
    forged[forged.size() - 10] ^= 1;
    return std::vector<Bytes>{forged};
  });
  auto added = dns_add_txt(scripted_server(dns.port(), 400ms), "_acme-challenge.example.test", "v");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kBadSignature);
}

TEST(DnsUpdateTransport, NoServerIsUnavailable) {
  ScriptedDns dns([](const Bytes&, bool) { return std::vector<Bytes>{}; });
  DnsUpdateServer server = scripted_server(dns.port(), 500ms);
  server.address = "::1";  // the scripted server listens on 127.0.0.1 only
  auto added = dns_add_txt(server, "_acme-challenge.example.test", "v");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(added.error().message, HasSubstr("DNS update to [::1]:"));
}

}  // namespace
}  // namespace certward::issuers
