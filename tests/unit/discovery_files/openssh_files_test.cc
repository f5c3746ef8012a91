// authorized_keys and known_hosts lines split as sshd splits them: options with quoted commas
// and spaces, markers, hashed hosts; lines sshd would refuse are refused, and one bad line in a
// file is a finding while the rest is still read.
#include "discovery/files/openssh_files.h"

#include <gtest/gtest.h>

namespace certward::discovery::files {
namespace {

constexpr std::string_view kEd =
    "AAAAC3NzaC1lZDI1NTE5AAAAINI7N5SIuy+rqqI8QNqgJjPBQNZstIc4N44D1CErBoU5";
constexpr std::string_view kEc =
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBSSSsYDkfeE5nsLL3oKA9/FKRvE7btCkfFRTCzv"
    "Qu8no+OvH0vvdEmOJ1cNuYQWfbIeXr0FHLDhK+LzVObZ0Ck=";

std::string ed(std::string_view before, std::string_view after = "") {
  return std::string(before) + "ssh-ed25519 " + std::string(kEd) + std::string(after);
}

TEST(AuthorizedKeysLine, BareKeyWithACommentOfSeveralWords) {
  auto line = parse_authorized_keys_line(ed("", "  alice at laptop  "));
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->type, "ssh-ed25519");
  EXPECT_EQ(line->options, "");
  EXPECT_EQ(line->comment, "alice at laptop");
  EXPECT_EQ(line->blob.size(), 51U);
}

TEST(AuthorizedKeysLine, QuotedOptionsMayHoldCommasSpacesAndEscapedQuotes) {
  const std::string options =
      R"(restrict,command="echo \"a, b\" c",from="10.0.0.0/8,!10.1.0.0/16",environment="A=b c")";
  auto line = parse_authorized_keys_line(options + " " + ed("", " bob"));
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->options, options);
  EXPECT_EQ(line->comment, "bob");
}

TEST(AuthorizedKeysLine, RefusesWhatSshdRefuses) {
  for (const std::string& bad : {
           ed("nosuchoption "),                    // unknown option
           ed(R"(command="unterminated )"),        // quote never closed
           ed("command=unquoted "),                // value without quotes
           ed("no-pty, "),                         // trailing comma
           ed("host.example "),                    // a known_hosts line
           "ssh-rsa " + std::string(kEd) + " x",   // type word and blob disagree
           std::string("ssh-ed25519 not*base64"),  // not base64
           std::string("ssh-ed25519"),             // no key
       }) {
    auto line = parse_authorized_keys_line(bad);
    ASSERT_FALSE(line) << bad;
    EXPECT_EQ(line.error().code, ErrorCode::kMalformed);
  }
}

TEST(KnownHostsLine, PatternsMarkersAndHashedHosts) {
  auto plain = parse_known_hosts_line("a.test,[b.test]:2222,192.0.2.1 ecdsa-sha2-nistp256 " +
                                      std::string(kEc));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->options, "a.test,[b.test]:2222,192.0.2.1");
  EXPECT_EQ(plain->type, "ecdsa-sha2-nistp256");

  const std::string hashed = "|1|zP4a5G2sDfyqKXWUr2RDbc9ZbsM=|b7gS+HZ7v2c5wqXCcDz7y0XGWhQ=";
  auto h = parse_known_hosts_line(ed(hashed + " "));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->options, hashed);

  auto ca = parse_known_hosts_line(ed("@cert-authority *.example.test ", " the CA"));
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_EQ(ca->options, "@cert-authority *.example.test");
  EXPECT_EQ(ca->comment, "the CA");

  auto revoked = parse_known_hosts_line(ed("@revoked * "));
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->options, "@revoked *");
}

TEST(KnownHostsLine, RefusesUnknownMarkersQuotesAndBrokenHashes) {
  for (const std::string& bad : {ed("@trusted host "), ed(R"(from="x" )"), ed("|1|notbase64|x "),
                                 ed(""), std::string("host")}) {
    auto line = parse_known_hosts_line(bad);
    ASSERT_FALSE(line) << bad;
    EXPECT_EQ(line.error().code, ErrorCode::kMalformed);
  }
}

TEST(SshKeyFile, DetectsTheKindFromEveryLine) {
  const std::string authorized = "# comment\n\n" + ed("no-pty ", " a\n") + ed("", " b\r\n");
  const std::string known = "\n" + ed("h1.test ", "\n") + ed("@revoked * ", "\n");
  EXPECT_EQ(detect_ssh_key_file(authorized), SshKeyFileKind::kAuthorizedKeys);
  EXPECT_EQ(detect_ssh_key_file(known), SshKeyFileKind::kKnownHosts);
  EXPECT_EQ(detect_ssh_key_file(authorized + "and some prose\n"), std::nullopt);
  EXPECT_EQ(detect_ssh_key_file("# only a comment\n\n"), std::nullopt);
  EXPECT_EQ(detect_ssh_key_file(""), std::nullopt);
}

TEST(SshKeyFile, ABadLineIsAFindingAndTheRestIsRead) {
  const std::string text = ed("", " first\n") + "garbage here\n# fine\n" + ed("pty ", " third\n");
  SshKeyFile f = read_ssh_key_file(text, SshKeyFileKind::kAuthorizedKeys, SysTime{});
  ASSERT_EQ(f.keys.size(), 2U);
  EXPECT_EQ(f.keys[0].comment, "first");
  EXPECT_EQ(f.keys[1].options, "pty");
  EXPECT_EQ(f.keys[1].comment, "third");
  EXPECT_EQ(f.keys[0].fingerprint, f.keys[1].fingerprint);
  ASSERT_EQ(f.findings.size(), 1U);
  EXPECT_EQ(f.findings[0].code, "malformed_line");
  EXPECT_EQ(f.findings[0].severity, Severity::kLow);
  EXPECT_TRUE(f.findings[0].detail.starts_with("line 2:")) << f.findings[0].detail;
}

TEST(SshKeyFile, NamesThatMakeAFileOneOfThese) {
  EXPECT_EQ(ssh_key_file_kind_for_name("authorized_keys2"), SshKeyFileKind::kAuthorizedKeys);
  EXPECT_EQ(ssh_key_file_kind_for_name("ssh_known_hosts"), SshKeyFileKind::kKnownHosts);
  EXPECT_EQ(ssh_key_file_kind_for_name("authorized_keys.bak"), std::nullopt);
}

}  // namespace
}  // namespace certward::discovery::files
