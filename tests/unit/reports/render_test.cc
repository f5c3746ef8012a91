#include "reports/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "reports/cbom.h"

namespace certward::reports {
namespace {

const std::string kHostile = "CN=<script>alert(1)</script>\"'&";

std::string render(Format f) {
  std::ostringstream out;
  auto w = make_writer(f, out);
  w->begin({.kind = "expiring",
            .title = "T",
            .generated_at = "2027-01-01T00:00:00Z",
            .parameters = {{"team", "w<eb"}}});
  const Column cols[] = {{"subject", "Subject"}, {"days", "Days"}, {"rate", "Rate"}};
  w->begin_section("certificates", "Certificates", cols);
  const Cell row1[] = {kHostile, std::int64_t{12}, 1.5};
  const Cell row2[] = {std::string("=HYPERLINK(\"x\")"), std::int64_t{3}, 0.25};
  w->row(row1);
  w->row(row2);
  w->end_section();
  w->end();
  return out.str();
}

TEST(Csv, QuotesPerRfc4180AndDefusesFormulas) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
  for (std::string_view f : {"=1+1", "+1", "-1", "@SUM(A1)", " =1+1", "  @SUM(A1)", "\t=1+1",
                             "\r-1", "\n+1", " \t=cmd|' /C calc'!A0"}) {
    const std::string field = csv_field(f);
    EXPECT_EQ(field[field[0] == '"' ? 1 : 0], '\'') << f;
  }
  EXPECT_EQ(csv_field(" plain"), " plain");
  EXPECT_EQ(csv_field("a-b"), "a-b");
  const std::string csv = render(Format::kCsv);
  EXPECT_EQ(csv,
            "subject,days,rate\r\n"
            "\"CN=<script>alert(1)</script>\"\"'&\",12,1.50\r\n"
            "\"'=HYPERLINK(\"\"x\"\")\",3,0.25\r\n");
}

TEST(Html, EscapesEveryValueAndLoadsNothing) {
  const std::string html = render(Format::kHtml);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("CN=&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"),
            std::string::npos);
  EXPECT_NE(html.find("w&lt;eb"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_EQ(html_escape("\x1b[31m"), "&#xFFFD;[31m");
}

TEST(Json, KeepsTypesAndSurvivesBadUtf8) {
  std::ostringstream out;
  auto w = make_writer(Format::kJson, out);
  w->begin({.kind = "summary", .title = "S", .generated_at = "now", .parameters = {}});
  const Column cols[] = {{"value", "Value"}, {"count", "Count"}};
  w->begin_section("counts", "Counts", cols);
  const Cell row[] = {std::string("bad \xff utf8"), std::int64_t{7}};
  w->row(row);
  w->end_section();
  w->begin_section("empty", "Empty", cols);
  w->end_section();
  w->end();
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["report"], "summary");
  EXPECT_EQ(j["sections"]["counts"][0]["count"], 7);
  EXPECT_TRUE(j["sections"]["empty"].empty());
}

TEST(Table, AlignsAndNeutralisesControlCharacters) {
  const std::string t = render(Format::kTable);
  EXPECT_NE(t.find("SUBJECT"), std::string::npos);
  EXPECT_EQ(terminal_text("a\x1b[2Jb\n"), "a\\x1b[2Jb\\x0a");
  // "evil\u202Etxt.exe" would show as "evilexe.txt"; \u2066 isolates, \u2028 breaks the line.
  EXPECT_EQ(terminal_text("evil\u202Etxt.exe"), "evil\\u202etxt.exe");
  EXPECT_EQ(terminal_text("a\u2066b\u2069c\u200Fd\u061Ce\u2028f"),
            "a\\u2066b\\u2069c\\u200fd\\u061ce\\u2028f");
  EXPECT_EQ(terminal_text("caf\u00e9 \u2014 \u20ac"), "caf\u00e9 \u2014 \u20ac");
}

TEST(Format, ParsesKnownNamesOnly) {
  EXPECT_EQ(*parse_format("html"), Format::kHtml);
  EXPECT_EQ(parse_format("xlsx").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(content_type(Format::kCbom), "application/vnd.cyclonedx+json; version=1.6");
}

inventory::CertificateRecord record(std::string fp, std::string key_sha256) {
  inventory::CertificateRecord c;
  c.fingerprint = std::move(fp);
  c.subject = kHostile;
  c.common_name = "www.example";
  c.issuer = "CN=CA";
  c.key_algorithm = "rsa";
  c.key_bits = 2048;
  c.signature_algorithm = "sha256WithRSAEncryption";
  c.key_sha256 = std::move(key_sha256);
  c.not_before = from_unix(1'800'000'000);
  c.not_after = c.not_before + std::chrono::days(90);
  return c;
}

TEST(Cbom, LinksCertificateKeyAndAlgorithmWithUniqueRefs) {
  std::ostringstream out;
  auto w = CbomWriter::open(out, {.serial_number = new_bom_serial(),
                                  .timestamp = "2027-01-01T00:00:00Z",
                                  .tool_version = "0.1.0",
                                  .team = std::nullopt});
  ASSERT_TRUE(w.has_value());
  const std::string key(64, 'b');
  (*w)->add_certificate(record(std::string(64, '1'), key), Renewal::kManaged);
  (*w)->add_certificate(record(std::string(64, '2'), key), Renewal::kManual);  // same key
  (*w)->add_ssh_key("SHA256:abc", "ssh-ed25519", 256, from_unix(1'800'000'000), "web");
  ASSERT_TRUE((*w)->finish().has_value());
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["bomFormat"], "CycloneDX");
  EXPECT_EQ(j["specVersion"], "1.6");
  EXPECT_TRUE(j["serialNumber"].get<std::string>().starts_with("urn:uuid:"));
  std::set<std::string> refs;
  std::map<std::string, int> by_type;
  for (const auto& c : j["components"]) {
    EXPECT_TRUE(refs.insert(c["bom-ref"].get<std::string>()).second) << c["bom-ref"];
    EXPECT_EQ(c["type"], "cryptographic-asset");
    ++by_type[c["cryptoProperties"]["assetType"].get<std::string>()];
  }
  EXPECT_EQ(by_type["certificate"], 2);
  EXPECT_EQ(by_type["related-crypto-material"], 2);  // one RSA key (shared), one SSH key
  EXPECT_EQ(by_type["algorithm"], 3);                // RSA-2048, SHA256withRSA, Ed25519
  for (const auto& d : j["dependencies"]) {
    EXPECT_TRUE(refs.contains(d["ref"].get<std::string>()));
    for (const auto& on : d["dependsOn"]) EXPECT_TRUE(refs.contains(on.get<std::string>())) << on;
  }
  const auto& cert = j["components"][1];
  EXPECT_EQ(cert["cryptoProperties"]["certificateProperties"]["subjectPublicKeyRef"],
            "crypto/public-key/" + key);
}

}  // namespace
}  // namespace certward::reports
