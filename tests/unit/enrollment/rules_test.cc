#include "protocols/enrollment/rules.h"

#include <gtest/gtest.h>

namespace certward::protocols::enrollment {
namespace {

using x509::SanType;
using x509::SubjectAltName;

TEST(DeviceRules, ACredentialForOneDeviceAllowsItsNameOnly) {
  auth::CredentialInfo c;
  const std::vector<SubjectAltName> none;
  EXPECT_TRUE(names_expected_device(c, "anything.example.test", none));  // no expected subject

  c.expected_subject = "dev-1.example.test";
  EXPECT_TRUE(names_expected_device(c, "dev-1.example.test", none));
  const std::vector<SubjectAltName> own{{SanType::kDns, "dev-1.example.test"}};
  EXPECT_TRUE(names_expected_device(c, "dev-1.example.test", own));
  EXPECT_FALSE(names_expected_device(c, "dev-2.example.test", none));
  EXPECT_FALSE(names_expected_device(c, "DEV-1.example.test", none));
  EXPECT_FALSE(names_expected_device(c, "", own));
  const std::vector<SubjectAltName> beside{{SanType::kDns, "dev-1.example.test"},
                                           {SanType::kDns, "dev-2.example.test"}};
  EXPECT_FALSE(names_expected_device(c, "dev-1.example.test", beside));
  const std::vector<SubjectAltName> ip{{SanType::kIp, "192.0.2.1"}};
  EXPECT_FALSE(names_expected_device(c, "dev-1.example.test", ip));
}

TEST(DeviceRules, ARenewalKeepsTheSubjectAndTheNames) {
  inventory::CertificateRecord old;
  old.subject = "CN=dev-1.example.test";
  old.sans = {{SanType::kDns, "dev-1.example.test"}, {SanType::kIp, "192.0.2.1"}};
  const std::vector<SubjectAltName> none;
  EXPECT_TRUE(keeps_names("CN=dev-1.example.test", none, old));  // the old names are kept
  const std::vector<SubjectAltName> reordered{{SanType::kIp, "192.0.2.1"},
                                              {SanType::kDns, "dev-1.example.test"}};
  EXPECT_TRUE(keeps_names("CN=dev-1.example.test", reordered, old));
  EXPECT_FALSE(keeps_names("CN=dev-2.example.test", none, old));
  const std::vector<SubjectAltName> more{{SanType::kIp, "192.0.2.1"},
                                         {SanType::kDns, "dev-1.example.test"},
                                         {SanType::kDns, "dev-2.example.test"}};
  EXPECT_FALSE(keeps_names("CN=dev-1.example.test", more, old));
  const std::vector<SubjectAltName> fewer{{SanType::kDns, "dev-1.example.test"}};
  EXPECT_FALSE(keeps_names("CN=dev-1.example.test", fewer, old));
}

TEST(DeviceRules, ARefusalIsUncachedTextWithItsRetryAfter) {
  auto r = text_refusal(429, "too many requests", std::chrono::seconds(7));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "too many requests\n");
  bool retry = false;
  bool no_store = false;
  for (const auto& [name, value] : r.headers) {
    retry |= name == "Retry-After" && value == "7";
    no_store |= name == "Cache-Control" && value == "no-store";
  }
  EXPECT_TRUE(retry);
  EXPECT_TRUE(no_store);
}

}  // namespace
}  // namespace certward::protocols::enrollment
