// The DNS messages and client of the challenge validator (src/protocols/acme/dns.h): the
// parser on hand-built and mutilated messages, and the client against a real UDP/TCP server
// on 127.0.0.1.

#include "protocols/acme/dns.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>

#include "unit/acme_validate/validate_servers.h"

namespace certward::protocols::acme {
namespace {

using namespace std::chrono_literals;
using testing::DnsQuery;
using testing::DnsReply;
using testing::TestDnsServer;

DnsQuery question(const std::string& name, DnsType type, std::uint16_t id = 0x4242) {
  DnsQuery q;
  q.id = id;
  q.name = name;
  q.type = type;
  return q;
}

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v & 0xff));
}

// A header announcing `an` answers (and `ar` additional records), then one question for
// "example.test" A at offset 12.
Bytes header_and_question(std::uint16_t an, std::uint16_t ar = 0) {
  Bytes b;
  put16(b, 0x4242);
  put16(b, 0x8180);
  put16(b, 1);
  put16(b, an);
  put16(b, 0);
  put16(b, ar);
  Bytes name = testing::encode_name("example.test");
  b.insert(b.end(), name.begin(), name.end());
  put16(b, 1);
  put16(b, 1);
  return b;
}

// type, class IN, TTL 300, RDLENGTH and RDATA after an owner name already in `b`.
void record_tail(Bytes& b, DnsType type, const Bytes& rdata) {
  put16(b, static_cast<std::uint16_t>(type));
  put16(b, kDnsClassIn);
  put16(b, 0);
  put16(b, 300);
  put16(b, static_cast<std::uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

ErrorCode parse_error(const Bytes& wire) {
  auto msg = parse_dns_response(wire);
  return msg ? ErrorCode{} : msg.error().code;
}

TEST(BuildDnsQuery, EncodesTheQuestionWithRdAndEdns) {
  auto q = build_dns_query(0x1234, "_acme-challenge.Example.test.", DnsType::kTxt);
  ASSERT_TRUE(q.has_value());
  Bytes want = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  Bytes name = testing::encode_name("_acme-challenge.Example.test");
  want.insert(want.end(), name.begin(), name.end());
  Bytes tail = {0, 16, 0, 1, /* OPT */ 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(*q, want);

  auto plain = build_dns_query(1, "a.b", DnsType::kA, 0);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->size(), 12u + 5u + 4u);
  EXPECT_EQ((*plain)[11], 0);  // ARCOUNT 0: no OPT
}

TEST(BuildDnsQuery, RefusesNamesThatAreNotHostNames) {
  std::string label63(63, 'a');
  for (std::string bad :
       {std::string(), std::string("."), std::string("a..b"), std::string(".a"), label63 + "a.test",
        std::string("a b.test"), std::string("a\\.b"), std::string("caf\xc3\xa9.test"),
        label63 + "." + label63 + "." + label63 + "." + label63}) {
    auto q = build_dns_query(1, bad, DnsType::kA);
    ASSERT_FALSE(q.has_value()) << bad;
    EXPECT_EQ(q.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(build_dns_query(1, label63 + ".test", DnsType::kA).has_value());
}

TEST(ParseDnsResponse, ReadsAddressesCnamesAndTxtStrings) {
  Bytes wire = DnsReply(question("x.test", DnsType::kTxt), DnsRcode::kNoError)
                   .cname("x.test", "y.test")
                   .a("y.test", "192.0.2.7")
                   .aaaa("y.test", "2001:db8::7")
                   .txt("y.test", {"first", "", "second"})
                   .bytes();
  auto msg = parse_dns_response(wire);
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  EXPECT_EQ(msg->id, 0x4242);
  EXPECT_TRUE(msg->qr);
  EXPECT_EQ(msg->rcode, DnsRcode::kNoError);
  ASSERT_EQ(msg->questions.size(), 1u);
  EXPECT_EQ(msg->questions[0].name, "x.test");
  EXPECT_EQ(msg->questions[0].type, DnsType::kTxt);
  ASSERT_EQ(msg->answers.size(), 4u);
  EXPECT_EQ(msg->answers[0].target, "y.test");
  EXPECT_EQ(msg->answers[1].address, (Bytes{192, 0, 2, 7}));
  EXPECT_EQ(msg->answers[2].address.size(), 16u);
  EXPECT_EQ(msg->answers[3].txt, (std::vector<std::string>{"first", "", "second"}));
}

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  CW_CHECK(bytes.has_value());
  return *bytes;
}

// Two of the fuzz seeds (fuzz/make_corpus.sh), shaped as resolvers send them: names
// compressed in owners, in CNAME and SOA data, and pointing into another record's data.
TEST(ParseDnsResponse, ReadsResolverShapedAnswers) {
  auto chain = parse_dns_response(hex(
      "abcd818000010002000000010f5f61636d652d6368616c6c656e6765076578616d706c650474657374000010"
      "0001c00c000500010000012c00100461636d650864656c6567617465c024c03a001000010000012c002d154c"
      "6e4d3233493636682d39484c66566f7731534371165f4a585863506c36734446786975502d757243795451000"
      "02904d0000000000000"));
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  ASSERT_EQ(chain->answers.size(), 2u);
  EXPECT_EQ(chain->answers[0].name, "_acme-challenge.example.test");
  EXPECT_EQ(chain->answers[0].target, "acme.delegate.test");
  EXPECT_EQ(chain->answers[1].name, "acme.delegate.test");
  EXPECT_EQ(chain->answers[1].txt,
            (std::vector<std::string>{"LnM23I66h-9HLfVow1SCq", "_JXXcPl6sDFxiuP-urCyTQ"}));
  EXPECT_TRUE(chain->has_edns);

  auto nx = parse_dns_response(
      hex("123481830001000000010000026e78076578616d706c6504746573740000010001c00f000600010000012c00"
          "26026e73c00f0a686f73746d6173746572c00f78a3f17500001c2000000e10001275000000012c"));
  ASSERT_TRUE(nx.has_value()) << nx.error().message;
  EXPECT_EQ(nx->rcode, DnsRcode::kNxDomain);
  ASSERT_EQ(nx->authority.size(), 1u);
  EXPECT_EQ(nx->authority[0].name, "example.test");
  EXPECT_EQ(nx->authority[0].type, DnsType::kSoa);
}

TEST(ParseDnsResponse, FollowsPointersBackAndEscapesOddOctets) {
  Bytes b = header_and_question(1);
  b.insert(b.end(), {0xC0, 12});  // owner: example.test
  // A CNAME target "w.w" (one label with a dot in it) + pointer to example.test.
  record_tail(b, DnsType::kCname, {3, 'w', '.', 'w', 0xC0, 12});
  auto msg = parse_dns_response(b);
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  EXPECT_EQ(msg->answers[0].name, "example.test");
  EXPECT_EQ(msg->answers[0].target, "w\\046w.example.test");
}

TEST(ParseDnsResponse, RefusesPointersThatDoNotPointBack) {
  // To itself.
  Bytes self = header_and_question(1);
  auto at = static_cast<std::uint8_t>(self.size());
  self.insert(self.end(), {0xC0, at});
  record_tail(self, DnsType::kA, {1, 2, 3, 4});
  EXPECT_EQ(parse_error(self), ErrorCode::kMalformed);
  // Forward, to the record's RDATA.
  Bytes forward = header_and_question(1);
  at = static_cast<std::uint8_t>(forward.size() + 2 + 10);
  forward.insert(forward.end(), {0xC0, at});
  record_tail(forward, DnsType::kCname, {0});
  EXPECT_EQ(parse_error(forward), ErrorCode::kMalformed);
  // Into the header.
  Bytes header = header_and_question(1);
  header.insert(header.end(), {0xC0, 2});
  record_tail(header, DnsType::kA, {1, 2, 3, 4});
  EXPECT_EQ(parse_error(header), ErrorCode::kMalformed);
  // A pointer inside a CNAME target back to where that target's own labels began: a loop
  // that the "strictly before" rule stops.
  Bytes loop = header_and_question(1);
  loop.insert(loop.end(), {0xC0, 12});
  auto rdata_at = static_cast<std::uint8_t>(loop.size() + 10);
  record_tail(loop, DnsType::kCname, {1, 'a', 0xC0, rdata_at});
  EXPECT_EQ(parse_error(loop), ErrorCode::kMalformed);
}

TEST(ParseDnsResponse, RefusesEveryTruncationAndATrailingByte) {
  Bytes wire = DnsReply(question("x.test", DnsType::kTxt))
                   .cname("x.test", "y.test")
                   .txt("y.test", {"abc"})
                   .bytes();
  ASSERT_TRUE(parse_dns_response(wire).has_value());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_EQ(parse_error(Bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n))),
              ErrorCode::kMalformed)
        << n;
  }
  wire.push_back(0);
  EXPECT_EQ(parse_error(wire), ErrorCode::kMalformed);
}

TEST(ParseDnsResponse, RefusesQueriesReservedLabelsAndLongNames) {
  Bytes query = header_and_question(0);
  query[2] &= 0x7f;  // QR clear
  EXPECT_EQ(parse_error(query), ErrorCode::kMalformed);

  Bytes reserved = header_and_question(1);
  reserved.insert(reserved.end(), {0x40, 0});
  record_tail(reserved, DnsType::kA, {1, 2, 3, 4});
  EXPECT_EQ(parse_error(reserved), ErrorCode::kMalformed);

  std::string l63(63, 'a');
  // 3 x 63 + 61 octets of labels: 255 octets on the wire, the most allowed.
  std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  EXPECT_TRUE(parse_dns_response(DnsReply(question(longest, DnsType::kA)).bytes()).has_value());
  EXPECT_EQ(parse_error(DnsReply(question(longest + "b", DnsType::kA)).bytes()),
            ErrorCode::kMalformed);
  // Over 255 through a pointer: 200 octets of labels, then the 14-octet example.test twice.
  Bytes chained = header_and_question(1);
  for (int i = 0; i < 4; ++i) {
    chained.push_back(49);
    chained.insert(chained.end(), 49, 'c');
  }
  chained.insert(chained.end(), {0xC0, 12});
  record_tail(chained, DnsType::kA, {1, 2, 3, 4});
  EXPECT_TRUE(parse_dns_response(chained).has_value());
  Bytes longer = header_and_question(1);
  for (int i = 0; i < 4; ++i) {
    longer.push_back(60);
    longer.insert(longer.end(), 60, 'c');
  }
  longer.insert(longer.end(), {0xC0, 12});
  record_tail(longer, DnsType::kA, {1, 2, 3, 4});
  EXPECT_EQ(parse_error(longer), ErrorCode::kMalformed);
}

TEST(ParseDnsResponse, RefusesRdataOfTheWrongShape) {
  auto with = [](DnsType type, const Bytes& rdata) {
    Bytes b = header_and_question(1);
    b.insert(b.end(), {0xC0, 12});
    record_tail(b, type, rdata);
    return b;
  };
  EXPECT_EQ(parse_error(with(DnsType::kA, {1, 2, 3})), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kA, {1, 2, 3, 4, 5})), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kAaaa, Bytes(4, 1))), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kTxt, {})), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kTxt, {5, 'a', 'b'})), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kCname, {1, 'a', 0, 0})), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error(with(DnsType::kCname, {1, 'a'})), ErrorCode::kMalformed);
  // RDLENGTH past the end of the message.
  Bytes over = with(DnsType::kA, {1, 2, 3, 4});
  over[over.size() - 5] = 5;
  EXPECT_EQ(parse_error(over), ErrorCode::kMalformed);
  // Unknown types are kept raw.
  auto other = parse_dns_response(with(static_cast<DnsType>(99), {1, 2, 3}));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->answers[0].rdata, (Bytes{1, 2, 3}));
}

TEST(ParseDnsResponse, ReadsTheExtendedRcodeAndRefusesMisplacedOpt) {
  auto opt = [](Bytes& b, std::uint8_t extended_rcode) {
    b.push_back(0);
    put16(b, static_cast<std::uint16_t>(DnsType::kOpt));
    put16(b, 1232);
    b.insert(b.end(), {extended_rcode, 0, 0, 0, 0, 0});
  };
  Bytes one = header_and_question(0, 1);
  opt(one, 1);
  auto msg = parse_dns_response(one);
  ASSERT_TRUE(msg.has_value()) << msg.error().message;
  EXPECT_TRUE(msg->has_edns);
  EXPECT_EQ(msg->edns_udp_size, 1232);
  EXPECT_EQ(static_cast<int>(msg->rcode), 16);  // BADVERS: 1 << 4 | 0
  EXPECT_TRUE(msg->additional.empty());

  Bytes two = header_and_question(0, 2);
  opt(two, 0);
  opt(two, 0);
  EXPECT_EQ(parse_error(two), ErrorCode::kMalformed);
  Bytes in_answer = header_and_question(1, 0);
  opt(in_answer, 0);
  EXPECT_EQ(parse_error(in_answer), ErrorCode::kMalformed);
}

TEST(ParseDnsResponse, ReadsNxDomain) {
  auto msg =
      parse_dns_response(DnsReply(question("x.test", DnsType::kA), DnsRcode::kNxDomain).bytes());
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->rcode, DnsRcode::kNxDomain);
}

TEST(DnsNames, CompareWithoutCase) {
  EXPECT_TRUE(dns_name_equal("Example.TEST", "example.test"));
  EXPECT_FALSE(dns_name_equal("example.test", "example.tes"));
  EXPECT_FALSE(dns_name_equal("a\\046b", "a.b"));
}

TEST(ResolverAddress, ParsesAddressesWithAndWithoutPort) {
  auto v4 = parse_resolver_address("127.0.0.1:5353");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->address().to_string(), "127.0.0.1");
  EXPECT_EQ(v4->port(), 5353);
  EXPECT_EQ(parse_resolver_address("192.0.2.1")->port(), 53);
  auto v6 = parse_resolver_address("[::1]:54");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->address().is_v6());
  EXPECT_EQ(v6->port(), 54);
  EXPECT_EQ(parse_resolver_address("2001:db8::53")->port(), 53);
  for (const char* bad : {"", "localhost:53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:5x", "[::1", "[::1]x", "[fe80::1%eth0]:53", "127.1"}) {
    auto r = parse_resolver_address(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ResolverAddress, TakesTheFirstUsableNameserverOfResolvConf) {
  auto first = nameserver_from_resolv_conf(
      "# comment\nsearch example.test\nnameserver fe80::1%eth0\n  nameserver\t2001:db8::1 ; x\n"
      "nameserver 192.0.2.1\n");
  EXPECT_EQ(first.address().to_string(), "2001:db8::1");
  EXPECT_EQ(first.port(), 53);
  auto fallback = nameserver_from_resolv_conf("options ndots:1\nnameserver bogus\n");
  EXPECT_EQ(fallback.address().to_string(), "127.0.0.1");
  EXPECT_EQ(system_nameserver("/nonexistent/resolv.conf").address().to_string(), "127.0.0.1");
}

// --- The client against a real server ---

DnsClientOptions client_options(std::uint16_t port) {
  DnsClientOptions o;
  o.server = {boost::asio::ip::make_address_v4("127.0.0.1"), port};
  o.attempt_timeout = 300ms;
  return o;
}

Result<DnsAnswer> lookup(const DnsClient& client, const std::string& name, DnsType type) {
  boost::asio::io_context io;
  std::optional<Result<DnsAnswer>> out;
  auto op = client.resolve(io.get_executor(), name, type,
                           [&out](Result<DnsAnswer> r) { out = std::move(r); });
  io.run_for(10s);
  if (!out) return fail(ErrorCode::kInternal, "no callback");
  return *std::move(out);
}

TEST(DnsClient, IgnoresDatagramsForAnotherIdOrQuestion) {
  TestDnsServer server([](const DnsQuery& q) {
    return std::vector<Bytes>{
        DnsReply(q).id(static_cast<std::uint16_t>(q.id + 1)).a(q.name, "192.0.2.66").bytes(),
        DnsReply(q).question_name("other.test").a("other.test", "192.0.2.66").bytes(),
        DnsReply(q).a(q.name, "192.0.2.1").bytes(),
    };
  });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "Host.Test", DnsType::kA);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  ASSERT_EQ(answer->records.size(), 1u);
  EXPECT_EQ(answer->records[0].address, (Bytes{192, 0, 2, 1}));
  EXPECT_EQ(server.udp_queries(), 1);
}

TEST(DnsClient, AsksAgainWithANewIdWhenAnAnswerIsLost) {
  int seen = 0;
  TestDnsServer server([&seen](const DnsQuery& q) {
    if (seen++ == 0) return std::vector<Bytes>{};
    return std::vector<Bytes>{DnsReply(q).a(q.name, "192.0.2.1").bytes()};
  });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "host.test", DnsType::kA);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  auto queries = server.queries();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_NE(queries[0].id, queries[1].id);
}

TEST(DnsClient, GivesUpAfterTheLastAttempt) {
  TestDnsServer server([](const DnsQuery&) { return std::vector<Bytes>{}; });
  auto options = client_options(server.port());
  options.attempts = 3;
  DnsClient client(options);
  auto start = std::chrono::steady_clock::now();
  auto answer = lookup(client, "host.test", DnsType::kA);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(server.udp_queries(), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(DnsClient, UnreachableResolverIsUnavailable) {
  DnsClient client(client_options(testing::unused_tcp_port()));
  auto answer = lookup(client, "host.test", DnsType::kA);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
}

TEST(DnsClient, AsksOverTcpWhenTheAnswerIsTruncated) {
  TestDnsServer server([](const DnsQuery& q) {
    if (!q.tcp) return std::vector<Bytes>{DnsReply(q).truncated().bytes()};
    return std::vector<Bytes>{DnsReply(q).txt(q.name, {"over tcp"}).bytes()};
  });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "t.test", DnsType::kTxt);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  ASSERT_EQ(answer->records.size(), 1u);
  EXPECT_EQ(answer->records[0].txt, std::vector<std::string>{"over tcp"});
  EXPECT_EQ(server.udp_queries(), 1);
  EXPECT_EQ(server.tcp_queries(), 1);
}

TEST(DnsClient, TellsNxDomainFromFailures) {
  TestDnsServer server([](const DnsQuery& q) {
    DnsRcode rcode = q.name == "gone.test"   ? DnsRcode::kNxDomain
                     : q.name == "fail.test" ? DnsRcode::kServFail
                     : q.name == "no.test"   ? DnsRcode::kRefused
                                             : DnsRcode::kNoError;
    return std::vector<Bytes>{DnsReply(q, rcode).bytes()};
  });
  DnsClient client(client_options(server.port()));
  auto gone = lookup(client, "gone.test", DnsType::kA);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->rcode, DnsRcode::kNxDomain);
  EXPECT_TRUE(gone->records.empty());
  auto empty = lookup(client, "empty.test", DnsType::kA);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->rcode, DnsRcode::kNoError);
  EXPECT_TRUE(empty->records.empty());
  for (const char* name : {"fail.test", "no.test"}) {
    auto failed = lookup(client, name, DnsType::kA);
    ASSERT_FALSE(failed.has_value()) << name;
    EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable) << name;
  }
}

TEST(DnsClient, MalformedAnswerWithOurIdIsMalformed) {
  TestDnsServer server([](const DnsQuery& q) {
    Bytes broken = DnsReply(q).a(q.name, "192.0.2.1").bytes();
    broken.pop_back();
    return std::vector<Bytes>{broken};
  });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "host.test", DnsType::kA);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kMalformed);
  EXPECT_EQ(server.udp_queries(), 1);
}

TEST(DnsClient, FollowsCnamesInTheAnswerAndByAskingAgain) {
  TestDnsServer server([](const DnsQuery& q) {
    if (q.name == "a.test") {
      return std::vector<Bytes>{
          DnsReply(q).cname("a.test", "b.test").cname("b.test", "c.test").bytes()};
    }
    if (q.name == "c.test") {
      return std::vector<Bytes>{DnsReply(q).txt("c.test", {"end"}).bytes()};
    }
    return std::vector<Bytes>{DnsReply(q, DnsRcode::kNxDomain).bytes()};
  });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "a.test", DnsType::kTxt);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(answer->name, "c.test");
  ASSERT_EQ(answer->records.size(), 1u);
  EXPECT_EQ(answer->records[0].txt[0], "end");
  EXPECT_EQ(server.udp_queries(), 2);
}

TEST(DnsClient, RefusesCnameLoopsAndLongChains) {
  TestDnsServer server([](const DnsQuery& q) {
    DnsReply reply(q);
    if (q.name == "loop.test") {
      reply.cname("loop.test", "other.test").cname("other.test", "LOOP.test");
    } else {
      for (int i = 0; i < 10; ++i) {
        reply.cname(i == 0 ? q.name : "n" + std::to_string(i) + ".test",
                    "n" + std::to_string(i + 1) + ".test");
      }
    }
    return std::vector<Bytes>{reply.bytes()};
  });
  DnsClient client(client_options(server.port()));
  for (const char* name : {"loop.test", "long.test"}) {
    auto answer = lookup(client, name, DnsType::kTxt);
    ASSERT_FALSE(answer.has_value()) << name;
    EXPECT_EQ(answer.error().code, ErrorCode::kMalformed) << name;
  }
}

TEST(DnsClient, CancelledLookupNeverCallsBack) {
  TestDnsServer server([](const DnsQuery&) { return std::vector<Bytes>{}; });
  DnsClient client(client_options(server.port()));
  boost::asio::io_context io;
  bool called = false;
  auto op = client.resolve(io.get_executor(), "host.test", DnsType::kA,
                           [&called](Result<DnsAnswer>) { called = true; });
  io.run_for(50ms);
  op->cancel();
  auto start = std::chrono::steady_clock::now();
  io.restart();
  io.run_for(2s);
  EXPECT_FALSE(called);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // nothing left pending
}

TEST(DnsClient, RefusesANameThatIsNotAHostName) {
  TestDnsServer server([](const DnsQuery&) { return std::vector<Bytes>{}; });
  DnsClient client(client_options(server.port()));
  auto answer = lookup(client, "bad name.test", DnsType::kA);
  ASSERT_FALSE(answer.has_value());
  EXPECT_EQ(answer.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(server.udp_queries(), 0);
}

}  // namespace
}  // namespace certward::protocols::acme
