#pragma once
// Command registration. Each add_*_commands() adds its subcommands to the app; each command's
// callback stores its exit code in Globals::exit_code.

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "cli/context.h"
#include "cli/output.h"
#include "cli/remote.h"

namespace certward::cli {

struct Globals {
  std::optional<std::string> config;
  std::optional<std::string> data_dir;
  bool json = false;
  // Client mode: talk to a running server instead of the local data directory.
  std::optional<std::string> server;      // --server / CERTWARD_SERVER
  std::optional<std::string> token;       // --token / CERTWARD_TOKEN (secret)
  std::optional<std::string> token_file;  // --token-file
  std::optional<std::string> ca_file;     // --ca-file / CERTWARD_CA_FILE
  bool insecure_http = false;             // --insecure-http / CERTWARD_INSECURE_HTTP
  int exit_code = kExitOk;
};

// Runs `body` with an opened context; errors become a one-line message and an exit code.
// Refuses client mode: `what` is local administration.
void run(Globals& g, Init mode, const std::function<Status(Context&)>& body);

// A command that works locally and against a server: one of the two produces the JSON
// document, which is printed as is with --json or through `print` for people. A null
// document prints nothing: the command prints its result itself.
using LocalQuery = std::function<Result<nlohmann::json>(Context&)>;
using RemoteQuery = std::function<Result<nlohmann::json>(const Remote&)>;
void run_either(Globals& g, const LocalQuery& local, const RemoteQuery& remote,
                const std::function<void(const nlohmann::json&)>& print);

// The server the global options name (--server, a token, --ca-file). Errors: kInvalidArgument
// (not https:// unless --insecure-http), kUnauthorized (no token).
Result<Remote> make_remote(const Globals& g);

void add_init_command(CLI::App& app, Globals& g);
void add_ca_commands(CLI::App& app, Globals& g);
void add_profile_commands(CLI::App& app, Globals& g);
void add_issue_command(CLI::App& app, Globals& g);
void add_cert_commands(CLI::App& app, Globals& g);
// cert revoke and ca revoke; after add_cert_commands and add_ca_commands.
void add_revoke_commands(CLI::App& app, Globals& g);
void add_audit_commands(CLI::App& app, Globals& g);
void add_serve_command(CLI::App& app, Globals& g);
void add_whoami_command(CLI::App& app, Globals& g);
void add_auth_commands(CLI::App& app, Globals& g);
void add_acme_commands(CLI::App& app, Globals& g);
// enroll credentials create|batch|list|show|revoke
void add_enroll_commands(CLI::App& app, Globals& g);
void add_scan_commands(CLI::App& app, Globals& g);  // scan net|files|list|show|schedule
void add_agent_command(CLI::App& app, Globals& g);  // agent: file scans sent to a server
// managed create|list|show|timeline|renew|delete|alerts
void add_managed_commands(CLI::App& app, Globals& g);
void add_campaign_commands(CLI::App& app, Globals& g);
void add_policy_commands(CLI::App& app, Globals& g);  // policy rules|add|delete|violations
void add_alert_commands(CLI::App& app, Globals& g);   // alerts list|silence|silences|unsilence
// approvals list|show|approve|reject|cancel
void add_approval_commands(CLI::App& app, Globals& g);
void add_report_commands(CLI::App& app, Globals& g);  // report expiring|...|lifetimes|cbom
// ssh ca create|list|show, ssh sign|list|revoke|krl
void add_ssh_commands(CLI::App& app, Globals& g);
void add_issuer_commands(CLI::App& app, Globals& g);  // issuers list|show|check
// manual (man pages) and completion bash, generated from the whole command tree; hidden from
// --help.
void add_docs_commands(CLI::App& app, Globals& g);
void add_backup_commands(CLI::App& app, Globals& g);  // backup FILE, restore FILE

}  // namespace certward::cli
