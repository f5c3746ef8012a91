#include "x509/names.h"

#include <gtest/gtest.h>

#include "crypto/handles.h"

namespace certward::x509 {
namespace {

std::string round_trip(std::string_view text) {
  auto name = parse_name(text);
  if (!name) return "error: " + name.error().message;
  return format_name(name->get());
}

std::string entry_text(const X509_NAME* name, int i) {
  const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, X509_NAME_ENTRY_get_data(e));
  const crypto::OpensslStringPtr owned(reinterpret_cast<char*>(out));
  std::string s(owned.get(), static_cast<std::size_t>(n));
  return std::string(OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)))) + "=" + s;
}

TEST(ParseName, ReadsRfc4514InReverseDerOrder) {
  auto name = parse_name("CN=a,O=b\\, Inc,C=US");
  ASSERT_TRUE(name);
  ASSERT_EQ(X509_NAME_entry_count(name->get()), 3);
  EXPECT_EQ(entry_text(name->get(), 0), "C=US");
  EXPECT_EQ(entry_text(name->get(), 1), "O=b, Inc");
  EXPECT_EQ(entry_text(name->get(), 2), "CN=a");
  EXPECT_EQ(format_name(name->get()), "CN=a,O=b\\, Inc,C=US");
}

TEST(ParseName, ReadsSlashFormInDerOrder) {
  auto name = parse_name("/C=US/O=b, Inc/CN=a");
  ASSERT_TRUE(name);
  EXPECT_EQ(entry_text(name->get(), 0), "C=US");
  EXPECT_EQ(format_name(name->get()), "CN=a,O=b\\, Inc,C=US");
}

TEST(ParseName, KnowsCommonAttributes) {
  const std::string all =
      "CN=x,OU=y,O=z,L=Paris,ST=IDF,C=FR,emailAddress=a@b.example,serialNumber=123,"
      "DC=example,UID=jdoe,street=1 Main St,title=Boss,GN=John,SN=Doe";
  EXPECT_EQ(round_trip(all), all);
  EXPECT_EQ(round_trip("2.5.4.3=by-oid"), "CN=by-oid");
  EXPECT_EQ(round_trip("commonName=long"), "CN=long");
}

TEST(ParseName, HandlesEscapesSpacesAndUtf8) {
  EXPECT_EQ(round_trip("CN=a\\2Cb"), "CN=a\\,b");
  EXPECT_EQ(round_trip(" CN = a , O = b "), "CN=a,O=b");
  EXPECT_EQ(round_trip("CN=Zo\xc3\xab"), "CN=Zo\xc3\xab");
  EXPECT_EQ(round_trip("CN=a\\+b"), "CN=a\\+b");
  EXPECT_EQ(round_trip("/CN=a+b,c"), "CN=a\\+b\\,c");
  auto multi = parse_name("CN=a+UID=x,O=b");
  ASSERT_TRUE(multi);
  EXPECT_EQ(X509_NAME_entry_count(multi->get()), 3);
}

TEST(ParseName, EmptyTextIsTheEmptyName) {
  auto name = parse_name("");
  ASSERT_TRUE(name);
  EXPECT_EQ(X509_NAME_entry_count(name->get()), 0);
  EXPECT_EQ(format_name(name->get()), "");
}

TEST(ParseName, RejectsBadInput) {
  for (std::string_view bad : {"XX=a", "CN=", "CN", "CN=a,,O=b", "CN=a\\", "CN=a\\q", "C=USA",
                               "sha256=x", "=x", "/CN=a/", "CN=  "}) {
    auto name = parse_name(bad);
    ASSERT_FALSE(name) << bad;
    EXPECT_EQ(name.error().code, ErrorCode::kMalformed) << bad;
  }
}

TEST(ParseSan, ReadsPrefixedAndBareValues) {
  struct Case {
    std::string_view text;
    SubjectAltName want;
  };
  for (const Case& c : {
           Case{"dns:Example.COM", {SanType::kDns, "example.com"}},
           Case{"DNS:a-b.example", {SanType::kDns, "a-b.example"}},
           Case{"*.example.com", {SanType::kDns, "*.example.com"}},
           Case{"localhost", {SanType::kDns, "localhost"}},
           Case{"ip:192.0.2.1", {SanType::kIp, "192.0.2.1"}},
           Case{"2001:DB8:0::1", {SanType::kIp, "2001:db8::1"}},
           Case{"email:ops@example.com", {SanType::kEmail, "ops@example.com"}},
           Case{"ops@Example.com", {SanType::kEmail, "ops@example.com"}},
           Case{"uri:https://x.example/p?q=1", {SanType::kUri, "https://x.example/p?q=1"}},
           Case{"URI:spiffe://trust/ns/a", {SanType::kUri, "spiffe://trust/ns/a"}},
       }) {
    auto san = parse_san(c.text);
    ASSERT_TRUE(san) << c.text << ": " << san.error().message;
    EXPECT_EQ(*san, c.want) << c.text;
  }
}

TEST(ParseSan, RejectsInvalidValues) {
  const std::string long_label = "dns:" + std::string(64, 'a') + ".example";
  std::string long_name = "dns:";
  for (int i = 0; i < 26; ++i) long_name += "abcdefghi.";
  long_name += "example";  // 267 characters
  for (std::string_view bad : {std::string_view(""),
                               std::string_view("dns:"),
                               std::string_view("dns:-bad.example"),
                               std::string_view("dns:bad-.example"),
                               std::string_view("dns:a..b"),
                               std::string_view("dns:foo_bar.example"),
                               std::string_view("dns:a.*.example"),
                               std::string_view("dns:*."),
                               std::string_view("dns:example.com."),
                               std::string_view(long_label),
                               std::string_view(long_name),
                               std::string_view("ip:999.1.1.1"),
                               std::string_view("ip:example.com"),
                               std::string_view("email:@x.example"),
                               std::string_view("email:a@"),
                               std::string_view("email:a b@x.example"),
                               std::string_view("uri:no-scheme"),
                               std::string_view("uri:http://a b"),
                               std::string_view("uri:1http://x"),
                               std::string_view("other:x")}) {
    auto san = parse_san(bad);
    ASSERT_FALSE(san) << bad;
    EXPECT_EQ(san.error().code, ErrorCode::kMalformed) << bad;
  }
}

TEST(FormatSan, RoundTripsThroughParseSan) {
  for (const SubjectAltName& san :
       std::vector<SubjectAltName>{{SanType::kDns, "a.example"},
                                   {SanType::kIp, "2001:db8::1"},
                                   {SanType::kEmail, "a@b.example"},
                                   {SanType::kUri, "https://x.example/"}}) {
    const std::string text = format_san(san);
    EXPECT_EQ(parse_san(text), san) << text;
  }
  EXPECT_EQ(format_san({SanType::kDns, "a.example"}), "dns:a.example");
}

TEST(CheckSan, HostNames) {
  const struct {
    std::string_view in;
    std::string_view want;  // "" = refused
  } cases[] = {
      {"WWW.Example.COM", "www.example.com"},
      {"*.a.example", "*.a.example"},
      {"*.example", ""},                                   // a wildcard needs two labels after it
      {"*", ""},                                           // and a base at all
      {"w*.a.example", ""},                                // only a whole leftmost label
      {"*.*.a.example", ""},                               // only one
      {"a.*.example", ""},                                 // only leftmost
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},  // bücher
      {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
      {"xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},  // münchen
      {"xn--abc.example", ""},                     // not Punycode of anything non-ASCII
      {"xn--.example", ""},                        // empty payload
      {"xn--a-.example", ""},                      // trailing '-'
      {"xn--bcher-kva9.example", ""},  // decodes past the last code point or is not canonical
      {"ab--cd.example", ""},          // reserved "??--" label that is no A-label
      {"caf\xc3\xa9.example", ""},     // raw UTF-8: request the A-label instead
      {"a.example.", ""},              // trailing dot
      {"1.2.3.4", ""},                 // all-digit top label: an address, not a host
      {"a.123", ""},
      {"123.example", "123.example"},  // digits elsewhere are fine
      {"localhost", "localhost"},
  };
  for (const auto& c : cases) {
    auto got = check_san({SanType::kDns, std::string(c.in)});
    if (c.want.empty()) {
      ASSERT_FALSE(got) << c.in;
      EXPECT_EQ(got.error().code, ErrorCode::kMalformed) << c.in;
    } else {
      ASSERT_TRUE(got) << c.in << ": " << got.error().message;
      EXPECT_EQ(got->value, c.want);
    }
  }
  EXPECT_FALSE(check_san({SanType::kDns, std::string("a\0b.example", 11)}));
  EXPECT_FALSE(check_san({SanType::kDns, "a.example\nb.example"}));
}

TEST(CheckSan, MailboxesUrisAndAddresses) {
  for (std::string_view good : {"alice@example.com", "a.b+c@example.com", "o'brien@example.com"}) {
    EXPECT_TRUE(check_san({SanType::kEmail, std::string(good)})) << good;
  }
  for (std::string_view bad :
       {".a@example.com", "a..b@example.com", "a.@example.com", "\"q\"@example.com",
        "a@[192.0.2.1]", "a@b@example.com", "a@example.com.", "a\n@example.com"}) {
    EXPECT_FALSE(check_san({SanType::kEmail, std::string(bad)})) << bad;
  }
  EXPECT_EQ(check_san({SanType::kEmail, "Alice@EXAMPLE.com"})->value, "Alice@example.com");

  const struct {
    std::string_view in, want;
  } uris[] = {
      {"HTTPS://WWW.Example.com/Path", "https://www.example.com/Path"},
      {"spiffe://trust.example/ns/a", "spiffe://trust.example/ns/a"},
      {"https://[2001:DB8::1]:8443/", "https://[2001:db8::1]:8443/"},
      {"https://192.0.2.1/x?y=%41", "https://192.0.2.1/x?y=%41"},
      {"urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
       "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"},
      {"https://good.example@evil.example/", ""},
      {"https://bad_host.example/", ""},
      {"https://a.example:99999/", ""},
      {"https://a.example/%zz", ""},
      {"https://a.example/a b", ""},
      {"https:", ""},
      {"https://[::1/", ""},
  };
  for (const auto& c : uris) {
    auto got = check_san({SanType::kUri, std::string(c.in)});
    if (c.want.empty()) {
      EXPECT_FALSE(got) << c.in;
    } else {
      ASSERT_TRUE(got) << c.in << ": " << got.error().message;
      EXPECT_EQ(got->value, c.want);
    }
  }
  EXPECT_EQ(uri_host("https://[2001:db8::1]:8443/"), "2001:db8::1");
  EXPECT_EQ(uri_host("https://a.example:1/x"), "a.example");
  EXPECT_EQ(uri_host("urn:x"), "");

  EXPECT_TRUE(check_san({SanType::kIp, "192.0.2.1"}));
  EXPECT_FALSE(check_san({SanType::kIp, "c00002"}));       // a CSR address of the wrong length
  EXPECT_FALSE(check_san({SanType::kIp, "2001:DB8::1"}));  // not canonical
  EXPECT_FALSE(check_san({SanType::kOther, "RID:1.2.3"}));
}

TEST(FormatSan, EscapesControlCharactersAndReadsThemBack) {
  const SubjectAltName hostile{SanType::kDns, std::string("a\nb\\c\0d", 7)};
  const std::string text = format_san(hostile);
  EXPECT_EQ(text, "dns:a\\x0ab\\x5cc\\x00d");
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(parse_formatted_san(text), hostile);
  EXPECT_EQ(parse_formatted_san("other:DirName:CN=x"),
            (SubjectAltName{SanType::kOther, "DirName:CN=x"}));
  EXPECT_FALSE(parse_formatted_san("nope:x"));
}

TEST(DecodeGeneralNames, DecodesEveryType) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, X509V3_CTX_TEST);
  crypto::X509ExtPtr ext(
      X509V3_EXT_nconf_nid(nullptr, &ctx, NID_subject_alt_name,
                           "DNS:a.example,IP:10.1.2.3,IP:::1,email:x@y.example,URI:urn:x,RID:1.2.3,"
                           "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn@example"));
  ASSERT_TRUE(ext);
  crypto::GeneralNamesPtr decoded(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext.get())));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decode_general_names(decoded.get()),
            (std::vector<SubjectAltName>{
                {SanType::kDns, "a.example"},
                {SanType::kIp, "10.1.2.3"},
                {SanType::kIp, "::1"},
                {SanType::kEmail, "x@y.example"},
                {SanType::kUri, "urn:x"},
                {SanType::kOther, "RID:1.2.3"},
                {SanType::kOther, "othername:1.3.6.1.4.1.311.20.2.3:upn@example"},
            }));
  EXPECT_TRUE(decode_general_names(nullptr).empty());
}

}  // namespace
}  // namespace certward::x509
