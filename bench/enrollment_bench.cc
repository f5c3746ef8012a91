// End-to-end issuance: CSR bytes in, a certificate durably stored out, through the one
// enrollment path (ca::Enrollment::enroll) into a SQLite database on disk with
// synchronous=FULL. Run with several client threads so the RA's group commit shows; the
// average number of certificates per commit is reported as `avg_batch`.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "common/clock.h"
#include "common/config.h"
#include "crypto/crypto.h"
#include "inventory/inventory.h"
#include "store/store.h"
#include "x509/csr.h"

namespace certward::ca {
namespace {

[[noreturn]] void die(const char* what, const Error& e) {
  std::fprintf(stderr, "bench setup: %s: %s\n", what, e.message.c_str());
  std::abort();
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) die(what, r.error());
  return *std::move(r);
}

void must(const Status& s, const char* what) {
  if (!s) die(what, s.error());
}

std::filesystem::path make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "certward-bench-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    std::perror("bench setup: mkdtemp");
    std::abort();
  }
  return pattern;
}

CaSettings bench_settings() {
  CaSettings s;
  s.default_authority = "issuing";
  s.crl_base_url = "http://pki.example.com/crl";
  s.ocsp_url = "http://pki.example.com/ocsp";
  s.ca_issuers_base_url = "http://pki.example.com/ca";
  return s;
}

// The services wired as cli::Context wires them, over a fresh database in a temporary
// directory, with a root and a P-256 issuing CA. Built once per process; the directory is
// removed at exit.
struct Fixture {
  std::filesystem::path dir = make_temp_dir();
  SystemClock clock;
  CaSettings settings = bench_settings();
  ProfileSet profiles = must(ProfileSet::create({}), "profiles");
  std::unique_ptr<store::Database> db;
  std::optional<audit::AuditLog> audit;
  std::optional<inventory::Inventory> inventory;
  std::optional<crypto::KeyWrapper> wrapper;
  std::unique_ptr<AuthorityService> authorities;
  std::unique_ptr<Enrollment> enrollment;
  Requester requester{.actor = "bench", .team = {}, .scope = {}};
  Bytes csr_der;

  Fixture() {
    store::DatabaseConfig config;
    config.driver = store::Driver::kSqlite;
    config.sqlite_path = (dir / "certward.db").string();
    db = must(store::Database::open(config), "open database");
    must(audit::AuditLog::migrate(*db), "audit migrations");
    must(inventory::Inventory::migrate(*db), "inventory migrations");
    must(AuthorityService::migrate(*db), "ca migrations");
    audit.emplace(clock, *db);
    inventory.emplace(clock, *db, *audit);
    wrapper = must(crypto::KeyWrapper::create(crypto::SecretBytes(crypto::random_bytes(32))),
                   "master key");
    authorities =
        std::make_unique<AuthorityService>(clock, *db, *wrapper, *audit, *inventory, settings);
    enrollment =
        std::make_unique<Enrollment>(clock, *db, *authorities, profiles, *inventory, *audit);

    RootOptions root;
    root.name = "root";
    root.subject = "CN=Bench Root CA,O=Example";
    root.key_type = crypto::KeyType::kEcP256;
    must(authorities->create_root(root, requester.actor), "create root");
    SubordinateOptions issuing;
    issuing.name = "issuing";
    issuing.kind = AuthorityKind::kIssuing;
    issuing.parent = "root";
    issuing.subject = "CN=Bench Issuing CA,O=Example";
    issuing.key_type = crypto::KeyType::kEcP256;
    must(create_subordinate(*enrollment, *authorities, issuing, requester), "create issuing");

    const auto subject_key = must(crypto::generate_key(crypto::KeyType::kEcP256), "subject key");
    const std::vector<x509::SubjectAltName> sans = {
        {x509::SanType::kDns, "www.example.com"},
        {x509::SanType::kDns, "example.com"},
        {x509::SanType::kDns, "api.example.com"},
    };
    csr_der = must(x509::make_csr_der(subject_key, "CN=www.example.com", sans), "CSR");
  }

  ~Fixture() {
    enrollment.reset();  // drains the writer before the database goes
    authorities.reset();
    inventory.reset();
    audit.reset();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// One REST-style issuance per iteration: parse and verify the CSR, enroll it with the
// tls-server profile, return when the certificate is committed to disk.
void BM_IssueAndStore(benchmark::State& state) {
  Fixture& f = fixture();
  Enrollment::Stats before{};
  if (state.thread_index() == 0) before = f.enrollment->stats();
  for (auto _ : state) {
    auto csr = x509::parse_csr(f.csr_der);
    if (!csr) {
      state.SkipWithError("parse_csr failed");
      break;
    }
    EnrollmentRequest request;
    request.csr = *std::move(csr);
    request.profile = "tls-server";
    request.requester = f.requester;
    request.channel = Channel::kRest;
    auto issued = f.enrollment->enroll(std::move(request));
    if (!issued) {
      state.SkipWithError(issued.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(issued);
  }
  state.SetItemsProcessed(state.iterations());
  // Every thread has left the loop here (the library waits for all of them), so thread 0
  // sees all of this run's commits. Counters are summed over threads: only thread 0 sets it.
  if (state.thread_index() == 0) {
    const Enrollment::Stats after = f.enrollment->stats();
    const auto commits = after.commits - before.commits;
    const auto certificates = after.certificates - before.certificates;
    state.counters["avg_batch"] =
        commits ? static_cast<double>(certificates) / static_cast<double>(commits) : 0.0;
  }
}
BENCHMARK(BM_IssueAndStore)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace certward::ca
