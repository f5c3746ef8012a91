// issue: one certificate from a CSR or with a server-side key; or many (--count) for bulk
// runs, each line printed only after its certificate is durable.

#include <atomic>
#include <thread>

#include "cli/commands.h"
#include "cli/progress.h"
#include "common/mutex.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::cli {
namespace {

struct IssueOptions {
  std::string profile;
  std::optional<std::string> csr, key_type, cn, authority, validity, owner, team;
  std::vector<std::string> sans, tags;
  std::optional<std::string> out_cert, out_chain, out_key, out_p12;
  std::optional<std::string> key_pass_file, key_pass_env, p12_pass_file, p12_pass_env;
  int count = 1;
  int concurrency = 2;
};

Result<ca::EnrollmentRequest> make_request(const IssueOptions& o, const Context& c) {
  ca::EnrollmentRequest r;
  if (o.csr.has_value() == o.key_type.has_value()) {
    return fail(ErrorCode::kInvalidArgument, "give exactly one of --csr FILE and --key-type TYPE");
  }
  if (o.csr) {
    CW_ASSIGN_OR_RETURN(auto pem, read_file(*o.csr));
    CW_ASSIGN_OR_RETURN(r.csr, x509::parse_csr(as_bytes(pem)));
  } else {
    CW_ASSIGN_OR_RETURN(r.server_key, crypto::parse_key_type(*o.key_type));
  }
  for (const auto& s : o.sans) {
    CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(s));
    r.sans.push_back(san);
  }
  r.common_name = o.cn;
  r.profile = o.profile;
  r.authority = o.authority;
  if (o.validity) {
    CW_ASSIGN_OR_RETURN(r.validity, parse_duration(*o.validity));
  }
  r.requester = c.requester();
  r.channel = ca::Channel::kCli;
  r.owner = o.owner;
  r.team = o.team;
  r.tags = o.tags;
  return r;
}

// What an issuance hands back, whether it happened here or on a server.
struct IssueResult {
  nlohmann::json doc;  // the JSON shape of the REST API's answer
  std::string cert_pem;
  std::string chain_pem;
  std::optional<crypto::SecretBytes> key_pem;
  std::optional<crypto::SecretBytes> p12;
  bool pending = false;  // held for approval: `doc` is the approval request
};

// Everything that could make the command fail once it holds a certificate is settled first:
// the output paths and the passwords. A bad path or an unset password variable then costs
// nothing, instead of a certificate issued, audited and its generated key thrown away.
Status check_outputs(const IssueOptions& o) {
  for (const auto* path : {&o.out_cert, &o.out_chain, &o.out_key, &o.out_p12}) {
    if (*path) CW_RETURN_IF_ERROR(check_output_path(**path));
  }
  if (o.out_p12 && !o.key_type) {
    return fail(ErrorCode::kInvalidArgument, "--p12 needs a server-side key (--key-type)");
  }
  return ok();
}

Result<IssueResult> issue_local(const IssueOptions& o, Context& c) {
  CW_ASSIGN_OR_RETURN(auto request, make_request(o, c));
  std::optional<crypto::SecretBytes> p12_pass;
  std::optional<crypto::SecretBytes> key_pass;
  if (request.server_key) {
    if (o.out_p12) {
      CW_ASSIGN_OR_RETURN(p12_pass, read_secret_bytes(o.p12_pass_file, o.p12_pass_env));
    }
    CW_ASSIGN_OR_RETURN(key_pass, read_secret_bytes(o.key_pass_file, o.key_pass_env));
  }
  CW_ASSIGN_OR_RETURN(auto outcome, c.approvals().enroll(std::move(request)));
  IssueResult out;
  if (auto* held = std::get_if<ca::ApprovalRequest>(&outcome)) {
    out.doc = ca::approval_json(*held);
    out.pending = true;
    return out;
  }
  auto& issued = std::get<ca::IssuedCertificate>(outcome);
  out.cert_pem = issued.certificate.pem();
  out.chain_pem = x509::to_pem(issued.chain);
  out.doc = {{"fingerprint", issued.certificate.info().sha256_hex},
             {"serial", issued.certificate.info().serial_hex},
             {"authority", issued.authority},
             {"profile", issued.profile},
             {"certificate", certificate_json(issued.certificate.info())},
             {"certificate_pem", out.cert_pem},
             {"chain_pem", out.chain_pem}};
  if (issued.private_key) {
    if (o.out_p12) {
      CW_ASSIGN_OR_RETURN(out.p12,
                          x509::make_pkcs12(*issued.private_key, issued.certificate, issued.chain,
                                            p12_pass ? p12_pass->chars() : "",
                                            issued.certificate.info().subject_cn));
    }
    std::optional<std::string_view> passphrase;
    if (key_pass) passphrase = key_pass->chars();
    CW_ASSIGN_OR_RETURN(out.key_pem, issued.private_key->to_pkcs8_pem(passphrase));
  }
  return out;
}

Result<IssueResult> issue_remote(const IssueOptions& o, const Remote& r) {
  nlohmann::json body = {{"profile", o.profile}};
  if (o.csr) {
    CW_ASSIGN_OR_RETURN(auto data, read_file(*o.csr));
    CW_ASSIGN_OR_RETURN(auto csr, x509::parse_csr(as_bytes(data)));  // fail here, not on the server
    const std::string b64 = to_base64(csr.der());
    std::string pem = "-----BEGIN CERTIFICATE REQUEST-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
    body["csr"] = pem + "-----END CERTIFICATE REQUEST-----\n";
  }
  if (o.key_type) body["key_type"] = *o.key_type;
  if (o.cn) body["common_name"] = *o.cn;
  if (!o.sans.empty()) body["sans"] = o.sans;
  if (o.authority) body["authority"] = *o.authority;
  if (o.validity) body["validity"] = *o.validity;
  if (o.owner) body["owner"] = *o.owner;
  if (o.team) body["team"] = *o.team;
  if (!o.tags.empty()) body["tags"] = o.tags;
  if (o.out_p12) {
    CW_ASSIGN_OR_RETURN(auto pass, read_secret_bytes(o.p12_pass_file, o.p12_pass_env));
    body["format"] = "pkcs12";
    body["pkcs12_password"] = pass ? pass->chars() : "";
  } else {
    CW_ASSIGN_OR_RETURN(auto key_pass, read_secret_bytes(o.key_pass_file, o.key_pass_env));
    if (key_pass) body["key_password"] = key_pass->chars();
  }
  auto answer = r.post("/api/v1/certificates", body);
  // The request carried the passwords: wipe them whatever the answer.
  for (const char* secret : {"pkcs12_password", "key_password"}) {
    if (body.contains(secret)) crypto::cleanse(body[secret].get_ref<std::string&>());
  }
  CW_ASSIGN_OR_RETURN(auto doc, std::move(answer));
  IssueResult out;
  // 202 Accepted: an approval request (an id and a status), no certificate.
  if (!doc.contains("certificate_pem") && doc.contains("status") && doc.contains("id")) {
    out.doc = std::move(doc);
    out.pending = true;
    return out;
  }
  out.cert_pem = doc.value("certificate_pem", "");
  out.chain_pem = doc.value("chain_pem", "");
  if (doc.contains("private_key_pem") && doc["private_key_pem"].is_string()) {
    out.key_pem = crypto::SecretBytes::take(doc["private_key_pem"].get_ref<std::string&>());
  }
  if (doc.contains("pkcs12") && doc["pkcs12"].is_string()) {
    std::string& b64 = doc["pkcs12"].get_ref<std::string&>();
    Result<Bytes> p12 = from_base64(b64);
    crypto::cleanse(b64);
    if (!p12) return std::unexpected(p12.error());
    // Moved into SecretBytes as it is (g++ 12 -O2 warns falsely through CW_ASSIGN_OR_RETURN).
    out.p12.emplace(std::move(*p12));
  }
  doc.erase("private_key_pem");
  doc.erase("pkcs12");
  out.doc = std::move(doc);
  return out;
}

// A request held for approval: its id, where scripts and people both find it.
void print_pending(const IssueResult& held, bool json) {
  if (json) {
    print_json(held.doc);
    return;
  }
  const std::string id = printable(held.doc.value("id", ""));
  std::printf("%s\n", id.c_str());
  std::fprintf(stderr,
               "certificate request %s waits for approval (profile %s, expires %s); nothing was "
               "issued yet: see `certward approvals show %s`\n",
               id.c_str(), printable(held.doc.value("profile", "")).c_str(),
               printable(held.doc.value("expires_at", "")).c_str(), id.c_str());
}

Status write_outputs(const IssueOptions& o, IssueResult& issued, bool json) {
  // The paths were checked before issuing; should a write still fail (the directory changed
  // meanwhile), the generated key, of which certward keeps no copy, goes to standard output
  // rather than nowhere.
  auto write_secret = [&](const std::string& path, std::string_view data) -> Status {
    Status written = write_file_atomic(path, data, 0600);
    if (written || !issued.key_pem) return written;
    std::fwrite(issued.key_pem->data(), 1, issued.key_pem->size(), stdout);
    std::fflush(stdout);
    return fail(written.error().code,
                written.error().message +
                    "; the certificate was issued and its private key printed to standard output");
  };
  if (o.out_p12) {
    if (!issued.p12)
      return fail(ErrorCode::kInvalidArgument, "--p12 needs a server-side key (--key-type)");
    CW_RETURN_IF_ERROR(write_secret(*o.out_p12, issued.p12->chars()));
  }
  if (issued.key_pem && o.out_key)
    CW_RETURN_IF_ERROR(write_secret(*o.out_key, issued.key_pem->chars()));
  if (o.out_cert) CW_RETURN_IF_ERROR(write_file_atomic(*o.out_cert, issued.cert_pem, 0644));
  if (o.out_chain)
    CW_RETURN_IF_ERROR(write_file_atomic(*o.out_chain, issued.cert_pem + issued.chain_pem, 0644));
  // A generated key that went to no file is handed to the caller rather than lost.
  const bool key_unwritten = issued.key_pem && !o.out_key && !o.out_p12;
  if (json) {
    if (key_unwritten) issued.doc["private_key_pem"] = issued.key_pem->chars();
    print_json(issued.doc);
    if (key_unwritten) crypto::cleanse(issued.doc["private_key_pem"].get_ref<std::string&>());
    return ok();
  }
  if (key_unwritten) std::fwrite(issued.key_pem->data(), 1, issued.key_pem->size(), stdout);
  if (!o.out_cert && !o.out_chain) {
    std::fwrite(issued.cert_pem.data(), 1, issued.cert_pem.size(), stdout);
    std::fwrite(issued.chain_pem.data(), 1, issued.chain_pem.size(), stdout);
  } else {
    std::fprintf(stderr, "issued serial %s (%s)\n", issued.doc.value("serial", "").c_str(),
                 issued.doc.value("fingerprint", "").c_str());
  }
  return ok();
}

// Issues o.count certificates from o.concurrency threads. Each line "<serial> <sha256>" is
// printed and flushed after enroll() returned, i.e. after the certificate is durable. Ctrl-C
// stops taking new ones; those in flight finish and are printed, and `interrupted` is set.
Status issue_many(const IssueOptions& o, Context& c, bool json, bool& interrupted) {
  if (!o.csr) {
    // Bulk runs print only serials; a generated key would be lost.
    return fail(ErrorCode::kInvalidArgument,
                "--count needs --csr (generated keys would have nowhere to go)");
  }
  if (o.out_cert || o.out_chain || o.out_key || o.out_p12) {
    return fail(ErrorCode::kInvalidArgument,
                "--count prints '<serial> <sha256>' lines; drop the --out-* and --p12 options");
  }
  if (o.concurrency < 1 || o.concurrency > 64) {
    return fail(ErrorCode::kInvalidArgument, "--concurrency must be between 1 and 64");
  }
  CW_ASSIGN_OR_RETURN(auto base, make_request(o, c));
  std::atomic<int> next{0};
  common::Mutex out_mu;  // guards first_error, issued, progress and the lines on stdout
  std::optional<Error> first_error;
  int issued_count = 0;
  Progress progress("certificates", o.count, json);
  const InterruptScope interrupt;
  auto worker = [&] {
    while (!interrupt.requested() && next.fetch_add(1) < o.count) {
      ca::EnrollmentRequest r = base;
      auto issued = c.enrollment().enroll(std::move(r));
      common::MutexLock lock(out_mu);
      if (!issued) {
        if (!first_error) first_error = issued.error();
        next = o.count;  // stop the others
        return;
      }
      std::printf("%s %s\n", issued->certificate.info().serial_hex.c_str(),
                  issued->certificate.info().sha256_hex.c_str());
      std::fflush(stdout);
      progress.update(++issued_count);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < o.concurrency; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  progress.finish();
  if (first_error) return std::unexpected(*first_error);
  if (interrupt.requested() && issued_count < o.count) {
    interrupted = true;
    std::fprintf(
        stderr,
        "certward: interrupted: issued %d of %d certificates (each printed one is durable)\n",
        issued_count, o.count);
  }
  return ok();
}

}  // namespace

void add_issue_command(CLI::App& app, Globals& g) {
  auto o = std::make_shared<IssueOptions>();
  auto* cmd =
      app.add_subcommand("issue", "issue a certificate from a CSR or with a server-side key");
  cmd->add_option("-p,--profile", o->profile, "profile (see 'certward profile list')")->required();
  cmd->add_option("--csr", o->csr, "PKCS#10 request, PEM or DER ('-' for stdin)");
  cmd->add_option("--key-type", o->key_type,
                  "generate the key here: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519, "
                  "rsa-pss-2048, rsa-pss-3072, rsa-pss-4096");
  cmd->add_option("--cn", o->cn, "common name (default: the CSR's, else the first --san)");
  cmd->add_option("--san", o->sans,
                  "subject alternative name: dns:NAME, ip:ADDR, email:ADDR, uri:URI (repeatable)");
  cmd->add_option("--authority", o->authority, "issuing authority (default: ca.default_authority)");
  cmd->add_option("--validity", o->validity, "validity, e.g. 30d (default: the profile's)");
  cmd->add_option("--owner", o->owner, "owner recorded in the inventory");
  cmd->add_option("--team", o->team, "team recorded in the inventory");
  cmd->add_option("--tag", o->tags, "tag recorded in the inventory (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--out-cert", o->out_cert, "write the certificate (PEM) here");
  cmd->add_option("--out-chain", o->out_chain, "write certificate + issuers (PEM) here");
  cmd->add_option("--out-key", o->out_key,
                  "write the generated private key (PKCS#8 PEM, 0600) here");
  cmd->add_option("--key-password-file", o->key_pass_file,
                  "encrypt the generated key with the passphrase in this file");
  cmd->add_option("--key-password-env", o->key_pass_env,
                  "encrypt the generated key with the passphrase in this variable");
  cmd->add_option("--p12", o->out_p12, "write key + certificate + chain as PKCS#12 (0600) here");
  cmd->add_option("--p12-password-file", o->p12_pass_file, "PKCS#12 password from this file");
  cmd->add_option("--p12-password-env", o->p12_pass_env, "PKCS#12 password from this variable");
  cmd->add_option("--count", o->count,
                  "issue this many certificates (bulk; prints '<serial> <sha256>' per certificate)")
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--concurrency", o->concurrency, "threads for --count")->capture_default_str();
  cmd->callback([&g, o] {
    if (o->out_p12 && !o->p12_pass_file && !o->p12_pass_env) {
      g.exit_code = report_error(
          {ErrorCode::kInvalidArgument, "--p12 needs --p12-password-file or --p12-password-env"});
      return;
    }
    if (o->count > 1) {
      bool interrupted = false;
      run(g, Init::kOpenExisting,
          [&](Context& c) { return issue_many(*o, c, g.json, interrupted); });
      if (g.exit_code == kExitOk && interrupted) g.exit_code = kExitInterrupted;
      return;
    }
    if (auto checked = check_outputs(*o); !checked) {
      g.exit_code = report_error(checked.error());
      return;
    }
    std::optional<IssueResult> result;
    // The queries return null: write_outputs prints, in the requested form.
    run_either(
        g,
        [&](Context& c) -> Result<nlohmann::json> {
          CW_ASSIGN_OR_RETURN(result, issue_local(*o, c));
          return nlohmann::json();
        },
        [&](const Remote& r) -> Result<nlohmann::json> {
          CW_ASSIGN_OR_RETURN(result, issue_remote(*o, r));
          return nlohmann::json();
        },
        [](const nlohmann::json&) {});
    if (g.exit_code != kExitOk || !result) return;
    if (result->pending) {
      print_pending(*result, g.json);
      g.exit_code = kExitPending;
      return;
    }
    if (auto st = write_outputs(*o, *result, g.json); !st) g.exit_code = report_error(st.error());
  });
}

}  // namespace certward::cli
