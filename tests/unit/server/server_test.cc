// The server's assembly: components registered in a Registry mount their routes and run their
// background work in order; the built-in ones serve exactly the REST API and the public CA
// certificates; and a third front-end, registered through the same seam, gets the RA's rules
// without writing any of them.

#include "server/server.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/api.h"
#include "http/problem.h"
#include "protocols/acme/service.h"
#include "server/serving_certificate_impl.h"
#include "unit/ca/fixture.h"
#include "unit/http/test_support.h"
#include "x509/csr.h"

namespace certward::server {
namespace {

class ServerTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    // Real time: a client verifies the serving certificate against the clock of the machine.
    clock_.set(SystemClock().now());
    CaFixture::SetUp();
    ASSERT_TRUE(auth::AuthService::migrate(*db_).has_value());
    ASSERT_TRUE(lifecycle::JobQueue::migrate(*db_).has_value());
    ASSERT_TRUE(auth::EabKeys::migrate(*db_).has_value());
    ASSERT_TRUE(auth::EnrollmentCredentials::migrate(*db_).has_value());
    ASSERT_TRUE(protocols::acme::Service::migrate(*db_).has_value());
    ASSERT_TRUE(discovery::Discovery::migrate(*db_).has_value());
    ASSERT_TRUE(lifecycle::ManagedService::migrate(*db_).has_value());
    config_.data_dir = dir_.path().string();
    config_.server.listen = "127.0.0.1:0";
    config_.server.http_listen = "127.0.0.1:0";
    config_.server.io_threads = 1;
    config_.server.worker_threads = 2;
    config_.server.shutdown_timeout_seconds = 5;
    const lifecycle::LifecycleDeps lifecycle{
        clock_, *db_,  *ra_,  *authorities_, inventory_,
        audit_, auth_, jobs_, wrapper_,      config_.lifecycle};
    managed_.emplace(lifecycle);
    reconciler_.emplace(lifecycle, deployer_);
    ASSERT_TRUE(lifecycle::CampaignService::migrate(*db_).has_value());
    campaigns_.emplace(lifecycle::CampaignDeps{lifecycle, *managed_, profiles_, *revocation_});
    domain_.emplace(Domain{config_, clock_, [this] { return db_->ping(); }, audit_, inventory_,
                           profiles_, *authorities_, *ra_, *revocation_, *crls_, auth_, eab_, *db_,
                           jobs_, sightings_, discovery_, *managed_, *reconciler_,
                           *campaigns_, nullptr});
    domain_->credentials = &credentials_;
  }

  // A requester token of team "web", which may issue tls-server certificates in example.com.
  std::string requester_token() {
    auth::Team team;
    team.name = "web";
    team.allowed_profiles = {"tls-server"};
    team.allowed_domains = {"example.com"};
    EXPECT_TRUE(auth_.create_team(team, "local:test").has_value());
    auth::Principal bot;
    bot.name = "web-bot";
    bot.role = auth::Role::kRequester;
    bot.team = "web";
    EXPECT_TRUE(auth_.create_principal(bot, "local:test").has_value());
    auto token = auth_.create_token(token_request("web-bot"), "local:test");
    EXPECT_TRUE(token.has_value());
    return token ? token->secret : "";
  }

  static auth::TokenRequest token_request(std::string principal) {
    auth::TokenRequest r;
    r.principal = std::move(principal);
    return r;
  }

  std::string write(const std::string& name, std::string_view text) {
    const std::string path = dir_.file(name);
    std::ofstream(path) << text;
    return path;
  }

  Config config_;
  auth::AuthService auth_{clock_, *db_, audit_};
  lifecycle::JobQueue jobs_{clock_, *db_};
  auth::EabKeys eab_{clock_, *db_, audit_, wrapper_};
  auth::EnrollmentCredentials credentials_{clock_, *db_, audit_, wrapper_};
  inventory::Sightings sightings_{clock_, *db_};
  discovery::Discovery discovery_{discovery::DiscoveryDeps{
      clock_, *db_, inventory_, sightings_, audit_, jobs_, config_.discovery, {}}};
  lifecycle::deploy::Deployer deployer_{clock_, lifecycle::deploy_policy(config_.lifecycle)};
  std::optional<lifecycle::ManagedService> managed_;
  std::optional<lifecycle::Reconciler> reconciler_;
  std::optional<lifecycle::CampaignService> campaigns_;
  std::optional<Domain> domain_;
};

// A third front-end written as a protocol would be in src/protocols/<name>/: its routes on a
// Router of its own, relative to where they are served. It authenticates the caller with a
// bearer token (as REST does), translates it into a Requester, calls the RA on its own
// Channel, and encodes. It holds no rule: a requester's scope is not looked at here.
http::Router test_protocol_routes(auth::AuthService& auth, ca::Enrollment& ra) {
  http::Router routes;
  routes.add("POST", "/enroll", [&auth, &ra](http::Request& req) {
    constexpr std::string_view kBearer = "Bearer ";
    auto header = req.header("authorization");
    if (!header || !header->starts_with(kBearer)) {
      return http::problem(401, "Unauthorized", "unauthorized", "a bearer token is required");
    }
    auto id = auth.authenticate_token(header->substr(kBearer.size()));
    if (!id) return http::problem_for(id.error());
    auto csr = x509::parse_csr(as_bytes(req.body));
    if (!csr) return http::problem_for(csr.error());
    ca::EnrollmentRequest request;
    request.csr = std::move(*csr);
    request.profile = "tls-server";
    request.requester = id->requester();
    request.channel = ca::Channel::kEst;
    auto issued = ra.enroll(std::move(request));
    if (!issued) return http::problem_for(issued.error());
    return http::Response::text(200, issued->certificate.pem(), "application/x-pem-file");
  });
  return routes;
}

class TestProtocol final : public Component {
 public:
  explicit TestProtocol(Services& s) : s_(s) {}
  void mount(Routers& routers) override {
    routers.https.mount("/test-proto", test_protocol_routes(s_.domain.auth, s_.domain.ra));
  }

 private:
  Services& s_;
};

TEST_F(ServerTest, ThirdFrontEndThroughTheSeamGetsTheRaScopeRule) {
  const std::string token = requester_token();
  Registry registry = builtin_components();
  registry.add([](Services& s) { return std::make_unique<TestProtocol>(s); });
  Server server(*domain_, registry);
  auto listening = server.start();
  ASSERT_TRUE(listening.has_value()) << listening.error().message;
  const std::string root = write("root.pem", root_.pem());
  auto post_csr = [&](const std::string& name, const std::vector<std::string>& names,
                      const std::string& auth_header) {
    const std::string csr_path = write(name, as_chars(csr(names).der()));
    return http::testing::run_command(
        "curl -s -w '\\n%{http_code}' --cacert " + root + " -H 'Authorization: " + auth_header +
        "' --data-binary @" + csr_path + " " + listening->https_base + "/test-proto/enroll");
  };
  auto status_of = [](const http::testing::CommandResult& r) {
    return r.output.substr(r.output.rfind('\n') + 1);
  };
  auto body_of = [](const http::testing::CommandResult& r) {
    return r.output.substr(0, r.output.rfind('\n'));
  };
  const std::int64_t inventory_before = inventory_count();
  const std::int64_t audit_before = audit_count();

  // Outside the team's domains: refused by the RA, as for REST and the CLI; nothing written.
  auto refused = post_csr("out.csr", {"www.example.org"}, "Bearer " + token);
  ASSERT_EQ(refused.exit_code, 0) << refused.output;
  EXPECT_EQ(status_of(refused), "403") << refused.output;
  const auto problem = nlohmann::json::parse(body_of(refused), nullptr, false);
  EXPECT_EQ(problem.value("code", ""), error_code_name(ErrorCode::kUnauthorized));
  EXPECT_EQ(inventory_count(), inventory_before);
  EXPECT_EQ(audit_count(), audit_before);

  // No token: the front-end's own refusal, before the RA.
  auto anonymous = post_csr("anon.csr", {"www.example.com"}, "Bearer");
  EXPECT_EQ(status_of(anonymous), "401") << anonymous.output;

  // Inside them: issued, recorded for the team, audited with the front-end's channel.
  auto issued = post_csr("in.csr", {"www.example.com"}, "Bearer " + token);
  ASSERT_EQ(status_of(issued), "200") << issued.output;
  auto certs = x509::parse_certificates(as_bytes(body_of(issued)));
  ASSERT_TRUE(certs.has_value()) << issued.output;
  EXPECT_EQ(inventory_count(), inventory_before + 1);
  auto record = inventory_.resolve(certs->front().info().sha256_hex);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->meta.team, std::optional<std::string>("web"));
  audit::EventFilter filter;
  filter.action = "certificate.issue";
  filter.limit = 1;
  auto events = audit_.list(filter);
  ASSERT_TRUE(events.has_value() && !events->empty());
  EXPECT_EQ(events->front().event.details["channel"], "est");
  server.stop();
}

TEST_F(ServerTest, BuiltinComponentsServeTheRestApiAcmeEstCaCertificatesCrlsAndOcsp) {
  Server server(*domain_, builtin_components());
  api::Metrics metrics(clock_);
  api::RateLimiter limiter(0, 0);
  api::Services s{clock_,     [] { return ok(); },
                  audit_,     inventory_,
                  profiles_,  *authorities_,
                  *ra_,       *revocation_,
                  auth_,      eab_,
                  sightings_, discovery_,
                  *managed_,  *campaigns_, metrics,
                  limiter,    nullptr};
  auto expected = api::make_api_router(s);
  auto routes = [](const http::Router& r) {
    std::vector<std::string> out;
    for (const auto& route : r.routes()) out.push_back(route.method + " " + route.pattern);
    return out;
  };
  auto https = routes(*expected);
  // The REST API; the OCSP responder's status, from the revocation component that holds the
  // responder; then the default ACME directory's resources under /acme, every other
  // directory's under /acme/{directory}, and the directories' own REST resource.
  https.push_back("GET /api/v1/authorities/{name}/ocsp");
  for (const char* prefix : {"/acme", "/acme/{directory}"}) {
    for (const char* r :
         {"GET /directory", "HEAD /new-nonce", "GET /new-nonce", "GET /renewal-info/{id}",
          "POST /new-account", "POST /account/{id}", "POST /account/{id}/orders",
          "POST /key-change", "POST /new-order", "POST /order/{id}", "POST /order/{id}/finalize",
          "POST /authz/{id}", "POST /chall/{id}", "POST /cert/{id}", "POST /cert/{id}/{n}",
          "POST /revoke-cert"}) {
      const std::string route = r;
      const std::size_t space = route.find(' ');
      https.push_back(route.substr(0, space + 1) + prefix + route.substr(space + 1));
    }
  }
  for (const char* r : {"GET /api/v1/acme/directories", "GET /api/v1/acme/directories/{name}",
                        "PUT /api/v1/acme/directories/{name}",
                        "DELETE /api/v1/acme/directories/{name}"}) {
    https.push_back(r);
  }
  // Device enrollment: the enrollment credentials' REST resource, then EST at its default
  // endpoint and at every label.
  for (const char* r :
       {"GET /api/v1/enrollment/credentials", "POST /api/v1/enrollment/credentials",
        "POST /api/v1/enrollment/credentials/batch", "GET /api/v1/enrollment/credentials/{id}",
        "DELETE /api/v1/enrollment/credentials/{id}"}) {
    https.push_back(r);
  }
  for (const char* prefix : {"/.well-known/est", "/.well-known/est/{label}"}) {
    for (const char* r : {"GET /cacerts", "GET /csrattrs", "POST /simpleenroll",
                          "POST /simplereenroll", "POST /serverkeygen"}) {
      const std::string route = r;
      const std::size_t space = route.find(' ');
      https.push_back(route.substr(0, space + 1) + prefix + route.substr(space + 1));
    }
  }
  // The dashboard's page and files.
  https.push_back("GET /");
  https.push_back("GET /assets/{file}");
  https.push_back("HEAD /");
  https.push_back("HEAD /assets/{file}");
  EXPECT_EQ(routes(server.https_routes()), https);
  EXPECT_EQ(routes(server.http_routes()),
            (std::vector<std::string>{"GET /healthz", "GET /ca/{file}", "GET /crl/{file}",
                                      "GET /ocsp/{der...}", "GET /ocsp", "POST /ocsp"}));
}

// Records what the server asks of it.
class Recorder final : public Component {
 public:
  Recorder(std::string name, std::vector<std::string>& log, bool fail_start = false)
      : name_(std::move(name)), log_(log), fail_start_(fail_start) {}
  void mount(Routers& routers) override {
    log_.push_back(name_ + ".mount");
    http::Router routes;
    routes.add("GET", "/", [](http::Request&) { return http::Response::text(200, "ok"); });
    routers.http.mount("/" + name_, routes);
  }
  Status start() override {
    log_.push_back(name_ + ".start");
    if (fail_start_) return fail(ErrorCode::kUnavailable, name_ + " cannot start");
    return ok();
  }
  void stop() override { log_.push_back(name_ + ".stop"); }

 private:
  std::string name_;
  std::vector<std::string>& log_;
  bool fail_start_;
};

TEST_F(ServerTest, ComponentsMountAndStartInOrderAndStopInReverse) {
  std::vector<std::string> log;
  Registry registry;
  registry.add([&log](Services&) { return std::make_unique<Recorder>("a", log); });
  registry.add([&log](Services&) { return std::make_unique<Recorder>("b", log); });
  Server server(*domain_, registry);
  EXPECT_EQ(log, (std::vector<std::string>{"a.mount", "b.mount"}));
  ASSERT_NE(server.http_routes().match("GET", "/b").handler, nullptr);
  auto listening = server.start();
  ASSERT_TRUE(listening.has_value()) << listening.error().message;
  auto reply = http::testing::fetch(listening->http_port, http::testing::get_request("/a"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  server.stop();
  server.stop();
  EXPECT_EQ(log, (std::vector<std::string>{"a.mount", "b.mount", "a.start", "b.start", "b.stop",
                                           "a.stop"}));
}

TEST_F(ServerTest, AComponentThatCannotStartStopsTheOnesStartedBefore) {
  std::vector<std::string> log;
  Registry registry;
  registry.add([&log](Services&) { return std::make_unique<Recorder>("a", log); });
  registry.add([&log](Services&) { return std::make_unique<Recorder>("b", log, true); });
  registry.add([&log](Services&) { return std::make_unique<Recorder>("c", log); });
  Server server(*domain_, registry);
  auto listening = server.start();
  ASSERT_FALSE(listening.has_value());
  EXPECT_EQ(listening.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(log, (std::vector<std::string>{"a.mount", "b.mount", "c.mount", "a.start", "b.start",
                                           "a.stop"}));
}

// Replicas share the database, each with its own serving certificate: the check is a job of
// a kind that names this server's host and data directory, so no other replica runs it.
TEST_F(ServerTest, ServingCertificateCheckIsARecurringJobOfThisServerOnly) {
  const std::string kind = serving_check_kind(config_);
  EXPECT_TRUE(kind.starts_with("serving-certificate:")) << kind;
  EXPECT_EQ(serving_check_kind(config_), kind) << "the same at every start";
  Config other = config_;
  other.data_dir = dir_.file("replica-b");
  EXPECT_NE(serving_check_kind(other), kind);

  auto jobs_of_kind = [&](std::string_view state) {
    auto tx = (*db_).begin(store::TxMode::kRead);
    EXPECT_TRUE(tx.has_value());
    auto rows = (*tx)->query("SELECT run_at FROM jobs WHERE kind = ? AND state = ?",
                             store::params(kind, std::string(state)));
    EXPECT_TRUE(rows.has_value());
    std::vector<std::int64_t> out;
    for (const auto& r : *rows) out.push_back(r.int64(0));
    return out;
  };
  Server server(*domain_, builtin_components());
  auto listening = server.start();
  ASSERT_TRUE(listening.has_value()) << listening.error().message;
  const std::int64_t next = to_unix(clock_.now() + config_.server.certificate_check_interval);
  EXPECT_EQ(jobs_of_kind("pending"), std::vector<std::int64_t>{next}) << "one interval on";

  server.check_serving_certificate();  // SIGHUP
  bool ran = false;
  for (int i = 0; i < 1000 && !ran; ++i) {
    ran = jobs_of_kind("done").size() == 1 && jobs_of_kind("pending").size() == 1;
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ran) << "the check ran at once, and the next is scheduled";
  server.stop();
}

}  // namespace
}  // namespace certward::server
