// The HTTPS listener: TLS versions, client certificates (verified and merely presented), and
// reloading the serving certificate.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/encoding.h"
#include "http/http.h"
#include "unit/http/test_support.h"

namespace certward::http {
namespace {

using testing::CertKind;
using testing::Credential;
using testing::get_request;
using ::testing::HasSubstr;
using testing::RawClient;
using testing::run_command;
using testing::ServerHarness;

class TlsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir());
    server_ca_ = new Credential(testing::make_credential("Test Server CA", CertKind::kCa, nullptr));
    server_ = new Credential(testing::make_credential("localhost", CertKind::kServer, server_ca_));
    client_ca_ = new Credential(testing::make_credential("Test Client CA", CertKind::kCa, nullptr));
    client_ = new Credential(testing::make_credential("client-1", CertKind::kClient, client_ca_));
    Credential other_ca = testing::make_credential("Other CA", CertKind::kCa, nullptr);
    other_client_ =
        new Credential(testing::make_credential("intruder", CertKind::kClient, &other_ca));
    testing::write_file(*dir_, "ca.pem", server_ca_->cert_pem);
    testing::write_file(*dir_, "client.pem", client_->cert_pem);
    testing::write_file(*dir_, "client.key", client_->key_pem);
    testing::write_file(*dir_, "other.pem", other_client_->cert_pem);
    testing::write_file(*dir_, "other.key", other_client_->key_pem);
  }
  static void TearDownTestSuite() {
    run_command("rm -rf " + *dir_);
    delete dir_;
    delete server_ca_;
    delete server_;
    delete client_ca_;
    delete client_;
    delete other_client_;
  }

  std::uint16_t start(bool with_client_ca, bool request_any = false) {
    harness_.router().add("GET", "/whoami", [](Request& req) {
      std::string body = std::string("tls=") + (req.tls ? "1" : "0") + " cert=" +
                         (req.client_certificate ? to_hex(*req.client_certificate) : "none");
      if (!req.presented_chain.empty())
        body += " presented=" + to_hex(req.presented_chain.front()) + "/" +
                std::to_string(req.presented_chain.size());
      return Response::text(200, body);
    });
    ListenerSettings listener;
    listener.tls = TlsSettings{server_->cert_pem + server_ca_->cert_pem, server_->key_pem,
                               with_client_ca ? std::optional(client_ca_->cert_pem) : std::nullopt,
                               request_any, request_any ? client_ca_->cert_pem : std::string()};
    return harness_.start(listener);
  }

  static std::string curl(std::uint16_t port, const std::string& extra) {
    return "curl -sS --max-time 10 --cacert " + *dir_ + "/ca.pem " + extra +
           " https://127.0.0.1:" + std::to_string(port) + "/whoami";
  }

  static std::string* dir_;
  static Credential* server_ca_;
  static Credential* server_;
  static Credential* client_ca_;
  static Credential* client_;
  static Credential* other_client_;
  ServerHarness harness_;
};
std::string* TlsServerTest::dir_;
Credential* TlsServerTest::server_ca_;
Credential* TlsServerTest::server_;
Credential* TlsServerTest::client_ca_;
Credential* TlsServerTest::client_;
Credential* TlsServerTest::other_client_;

TEST_F(TlsServerTest, CurlTrustingTheCaIsServed) {
  auto port = start(false);
  auto result = run_command(curl(port, ""));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "tls=1 cert=none");
  // A client that does not trust the CA refuses the server.
  result = run_command("curl -sS --max-time 10 https://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_NE(result.exit_code, 0);
}

TEST_F(TlsServerTest, Tls13AndTls12AcceptedTls11Refused) {
  auto port = start(false);
  auto result = run_command(curl(port, "--tlsv1.3"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  result = run_command(curl(port, "--tlsv1.2 --tls-max 1.2"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // Let the client offer TLS 1.1 (its own default policy would refuse it first).
  std::string connect = " -connect 127.0.0.1:" + std::to_string(port);
  result = run_command("echo | openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'" + connect);
  EXPECT_NE(result.exit_code, 0) << result.output;
  result = run_command("echo | openssl s_client -tls1_2" + connect);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(TlsServerTest, VerifiedClientCertificateReachesHandler) {
  auto port = start(true);
  auto result =
      run_command(curl(port, "--cert " + *dir_ + "/client.pem --key " + *dir_ + "/client.key"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "tls=1 cert=" + to_hex(client_->cert_der) +
                               " presented=" + to_hex(client_->cert_der) + "/1");
}

TEST_F(TlsServerTest, ClientWithoutCertificateIsServed) {
  auto port = start(true);
  auto result = run_command(curl(port, ""));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "tls=1 cert=none");
}

TEST_F(TlsServerTest, CertificateFromAnotherCaIsNotPassedOn) {
  auto port = start(true);
  auto result =
      run_command(curl(port, "--cert " + *dir_ + "/other.pem --key " + *dir_ + "/other.key"));
  // Either the handshake fails or the request is served as anonymous, never as verified: the
  // certificate is only passed on as presented.
  EXPECT_THAT(result.output, ::testing::Not(HasSubstr("cert=" + to_hex(other_client_->cert_der))));
  if (result.exit_code == 0) {
    EXPECT_EQ(result.output, "tls=1 cert=none presented=" + to_hex(other_client_->cert_der) + "/1");
  }
}

// Asked of every client (EST's devices): whatever is presented reaches the handler as
// presented, unverified, and only a certificate that verifies against the client CAs as
// client_certificate.
TEST_F(TlsServerTest, PresentedCertificatesReachTheHandlerUnverified) {
  auto port = start(false, true);
  auto result =
      run_command(curl(port, "--cert " + *dir_ + "/other.pem --key " + *dir_ + "/other.key"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "tls=1 cert=none presented=" + to_hex(other_client_->cert_der) + "/1");
  result = run_command(curl(port, ""));
  EXPECT_EQ(result.output, "tls=1 cert=none");
  // The CA names asked for are the configured ones.
  result = run_command("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                       " 2>/dev/null | sed -n '/Acceptable client certificate CA names/,+1p'");
  EXPECT_THAT(result.output, HasSubstr("Test Client CA")) << result.output;
}

TEST_F(TlsServerTest, WithClientCasAVerifiedCertificateIsBothVerifiedAndPresented) {
  auto port = start(true, true);
  auto result =
      run_command(curl(port, "--cert " + *dir_ + "/client.pem --key " + *dir_ + "/client.key"));
  EXPECT_EQ(result.output, "tls=1 cert=" + to_hex(client_->cert_der) +
                               " presented=" + to_hex(client_->cert_der) + "/1");
  result = run_command(curl(port, "--cert " + *dir_ + "/other.pem --key " + *dir_ + "/other.key"));
  EXPECT_EQ(result.output, "tls=1 cert=none presented=" + to_hex(other_client_->cert_der) + "/1");
}

TEST_F(TlsServerTest, ReloadSwapsTheCertificateForNewConnections) {
  auto port = start(false);
  const std::string connect = "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                              " -CAfile " + *dir_ + "/ca.pem 2>/dev/null" +
                              " | openssl x509 -noout -serial";
  auto before = run_command(connect);
  ASSERT_EQ(before.exit_code, 0) << before.output;

  Credential renewed = testing::make_credential("localhost", CertKind::kServer, server_ca_);
  const std::string old_serial = before.output;
  ASSERT_TRUE(harness_.server().reload_tls(
      "https",
      TlsSettings{renewed.cert_pem + server_ca_->cert_pem, renewed.key_pem, {}, false, {}}));
  auto after = run_command(connect);
  ASSERT_EQ(after.exit_code, 0) << after.output;
  EXPECT_NE(after.output, old_serial);
  auto served = run_command(curl(port, ""));
  EXPECT_EQ(served.exit_code, 0) << served.output;

  // Bad material is refused and the current certificate stays.
  Credential other = testing::make_credential("localhost", CertKind::kServer, server_ca_);
  auto refused = harness_.server().reload_tls(
      "https", TlsSettings{renewed.cert_pem, other.key_pem, {}, false, {}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  auto still = run_command(connect);
  EXPECT_EQ(still.output, after.output);

  auto unknown = harness_.server().reload_tls("nope", TlsSettings{});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST(Server, ReloadTlsOnAPlainListenerIsRefused) {
  ServerHarness h;
  ListenerSettings plain;
  plain.name = "http";
  h.start(plain);
  Credential c = testing::make_credential("localhost", CertKind::kServer, nullptr);
  auto r = h.server().reload_tls("http", TlsSettings{c.cert_pem, c.key_pem, {}, false, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(TlsServerTest, PlainHttpToTlsListenerIsDropped) {
  auto port = start(false);
  RawClient client(port);
  client.send(get_request("/whoami"));
  EXPECT_FALSE(client.read_reply());
  // The server is still fine afterwards.
  auto result = run_command(curl(port, ""));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace
}  // namespace certward::http
