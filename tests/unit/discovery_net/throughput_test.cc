// How many endpoints a second the scanner gets through against one nginx on loopback. Not a
// correctness test and too slow for every run: run it on purpose with
//   discovery_net_test --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
// (a release build gives the numbers worth quoting).

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "discovery/net/scanner.h"
#include "unit/discovery_net/peers.h"
#include "unit/testing/temp_dir.h"

namespace certward::discovery::net {
namespace {

TEST(ScanThroughput, DISABLED_AgainstNginx) {
  certward::testing::TempDir dir;
  // From the tests' data directory, not __FILE__: a compiler cache may compile with paths
  // relative to the build directory, where the test does not run.
  std::string script = testing::pki_script();
  ASSERT_TRUE(testing::run("bash " + script + " " + dir.path().string() + " http://127.0.0.1:1/"));
  std::uint16_t port = testing::free_port();
  std::string d = dir.path().string();
  {
    std::ofstream conf(dir.file("nginx.conf"));
    conf << "daemon off;\nworker_processes 1;\npid " << d << "/nginx.pid;\nerror_log " << d
         << "/error.log;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n"
         << " client_body_temp_path " << d << ";\n proxy_temp_path " << d << ";\n"
         << " fastcgi_temp_path " << d << ";\n uwsgi_temp_path " << d << ";\n scgi_temp_path " << d
         << ";\n server {\n  listen 127.0.0.1:" << port << " ssl;\n  ssl_certificate " << d
         << "/valid-chain.pem;\n  ssl_certificate_key " << d
         << "/valid.key;\n  location / { return 204; }\n }\n}\n";
  }
  testing::Process nginx({"/usr/sbin/nginx", "-c", dir.file("nginx.conf"), "-e", dir.file("e.log")},
                         dir.file("nginx.out"));
  ASSERT_TRUE(testing::wait_for_port(port, std::chrono::seconds(10)));

  for (bool legacy : {false, true}) {
    ScanOptions o;
    o.probe_legacy = legacy;
    std::vector<Endpoint> endpoints(2000,
                                    Endpoint{"127.0.0.1", "127.0.0.1", port, "valid.test", ""});
    NetworkScanner scanner(o);
    std::size_t ok = 0;
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(scanner.scan(endpoints, [&](Observation obs) {
      if (!std::get<TlsObservation>(obs).error) ++ok;
    }));
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    std::cout << "probe_legacy=" << legacy << ": " << endpoints.size() << " endpoints in "
              << took.count() << " s = " << static_cast<double>(endpoints.size()) / took.count()
              << " endpoints/s (" << ok << " completed)\n";
    EXPECT_EQ(ok, endpoints.size());
  }
}

}  // namespace
}  // namespace certward::discovery::net
