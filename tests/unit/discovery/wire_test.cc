// What an agent sends for the files of a directory that others write to: names that are any
// bytes, bundles of hundreds of certificates, comments with tabs. Each must reach the server
// as an observation it accepts, or the whole report is refused.
#include "discovery/wire.h"

#include <gtest/gtest.h>

namespace certward::discovery {
namespace {

void put_string(Bytes& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
  out.insert(out.end(), s.begin(), s.end());
}

SshKey ed25519_key(std::string comment) {
  Bytes blob;
  put_string(blob, "ssh-ed25519");
  put_string(blob, std::string(32, '\x07'));
  SshKey k;
  k.blob = std::move(blob);
  k.comment = std::move(comment);
  return k;
}

bool has_finding(const FileObservation& o, std::string_view code) {
  return std::ranges::any_of(o.findings, [&](const Finding& f) { return f.code == code; });
}

TEST(FitForWire, OddNamesAndTextsAreEscapedNotRefused) {
  FileObservation o;
  o.path = "/srv/share/\x1b]0;owned\x07\n\xff-caf\xc3\xa9.pem";
  o.format = "authorized_keys";
  o.ssh_keys = {ed25519_key("deploy\tkey")};
  o.findings = {{.code = "malformed_line",
                 .severity = Severity::kLow,
                 .detail = "line 2:\r\n\x1b[2J",
                 .fingerprint = {}}};
  o.error = Error{ErrorCode::kUnavailable, "read: \x1b[31mbad"};
  // As the scanner found it, the server refuses it, and with it the agent's whole part.
  EXPECT_FALSE(parse_file_observation(file_observation_json(o)));

  auto fitted = fit_for_wire(o, 600 * 1024);
  ASSERT_TRUE(fitted);
  auto back = parse_file_observation(file_observation_json(*fitted));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->path, "/srv/share/\\x1b]0;owned\\x07\\x0a\\xff-caf\xc3\xa9.pem");
  ASSERT_EQ(back->ssh_keys.size(), 1u);
  EXPECT_EQ(back->ssh_keys[0].comment, "deploy\\x09key");
  EXPECT_EQ(back->findings[0].detail, "line 2:\\x0d\\x0a\\x1b[2J");
  EXPECT_EQ(back->error->message, "read: \\x1b[31mbad");
  EXPECT_FALSE(has_finding(*back, "observation_truncated"));
}

TEST(FitForWire, ACaBundleIsSentWhole) {
  FileObservation o;
  o.path = "/etc/ssl/certs/ca-certificates.crt";
  o.format = "pem";
  o.certificates.assign(150, Bytes(900, 0x30));
  auto fitted = fit_for_wire(o, 600 * 1024);
  ASSERT_TRUE(fitted);
  auto back = parse_file_observation(file_observation_json(*fitted));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->certificates.size(), 150u);
  EXPECT_FALSE(has_finding(*back, "observation_truncated"));
}

TEST(FitForWire, WhatDoesNotFitIsLeftOutAndSaidSo) {
  FileObservation o;
  o.path = "/etc/ssl/huge.pem";
  o.format = "pem";
  o.certificates.assign(2000, Bytes(1000, 0x30));
  for (int i = 0; i < 300; ++i) {
    o.findings.push_back({.code = "expired",
                          .severity = Severity::kCritical,
                          .detail = std::string(600, 'd'),
                          .fingerprint = {}});
  }
  const std::size_t limit = 600 * 1024;
  auto fitted = fit_for_wire(o, limit);
  ASSERT_TRUE(fitted);
  const std::string text = file_observation_json(*fitted).dump();
  EXPECT_LE(text.size(), limit);
  auto back = parse_file_observation(nlohmann::json::parse(text));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_GT(back->certificates.size(), 100u);
  EXPECT_LT(back->certificates.size(), 2000u);
  EXPECT_TRUE(has_finding(*back, "observation_truncated"));

  // A path that cannot be sent at all.
  o.path = "/" + std::string(kMaxWirePath, 'a');
  EXPECT_FALSE(fit_for_wire(o, limit));
  o.path = "/" + std::string(kMaxWirePath / 2, '\n');
  EXPECT_FALSE(fit_for_wire(o, limit));
}

}  // namespace
}  // namespace certward::discovery
