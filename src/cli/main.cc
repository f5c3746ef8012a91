// certward: the command-line face of the certificate lifecycle platform.

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "store/schema.h"

namespace certward::cli {

namespace {
// The scheme of a URL, lower-cased ("" if it has none).
std::string url_scheme(std::string_view url) {
  const auto colon = url.find("://");
  if (colon == std::string_view::npos) return "";
  std::string scheme(url.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme;
}

}  // namespace

Result<Remote> make_remote(const Globals& g) {
  RemoteSettings s;
  s.server = *g.server;
  // Checked before anything is read or sent: over plain HTTP the bearer token, and any key
  // the server generates, would cross the network in clear text.
  const std::string scheme = url_scheme(s.server);
  if (scheme == "http" && !g.insecure_http) {
    return fail(ErrorCode::kInvalidArgument,
                "--server " + s.server +
                    " is plain HTTP, which would send the token and receive keys in clear "
                    "text: use https://, or --insecure-http (CERTWARD_INSECURE_HTTP=1) to "
                    "accept that");
  }
  if (scheme != "https" && scheme != "http") {
    return fail(ErrorCode::kInvalidArgument, "--server must be an https:// URL");
  }
  s.allow_plain_http = g.insecure_http;
  if (g.token_file) {
    CW_ASSIGN_OR_RETURN(auto t, read_secret(g.token_file, std::nullopt));
    s.token = t.value_or("");
  } else if (g.token) {
    s.token = *g.token;
  }
  if (s.token.empty()) {
    return fail(ErrorCode::kUnauthorized,
                "client mode needs a token: CERTWARD_TOKEN, --token-file or --token");
  }
  s.ca_file = g.ca_file;
  return Remote(std::move(s));
}

void run_either(Globals& g, const LocalQuery& local, const RemoteQuery& remote,
                const std::function<void(const nlohmann::json&)>& print) {
  Result<nlohmann::json> out = fail(ErrorCode::kInternal, "unreachable");
  if (g.server) {
    auto r = make_remote(g);
    if (!r) {
      g.exit_code = report_error(r.error());
      return;
    }
    out = remote(*r);
  } else {
    auto ctx = Context::open(g.config, g.data_dir, Init::kOpenExisting);
    if (!ctx) {
      g.exit_code = report_error(ctx.error());
      return;
    }
    out = local(**ctx);
  }
  if (!out) {
    g.exit_code = report_error(out.error());
    return;
  }
  if (out->is_null()) return;  // the command prints for itself
  if (g.json)
    print_json(*out);
  else if (print)
    print(*out);
}

void run(Globals& g, Init mode, const std::function<Status(Context&)>& body) {
  if (g.server) {
    g.exit_code = report_error(
        {ErrorCode::kInvalidArgument,
         "this command administers the local data directory; run it without --server"});
    return;
  }
  auto ctx = Context::open(g.config, g.data_dir, mode);
  if (!ctx) {
    g.exit_code = report_error(ctx.error());
    return;
  }
  Status s = body(**ctx);
  if (!s) g.exit_code = report_error(s.error());
}

}  // namespace certward::cli

int main(int argc, char** argv) {
  using namespace certward::cli;
  CLI::App app{"certward: certificate lifecycle management (private CA, inventory, audit)",
               "certward"};
  // The schema number tells an operator, before an upgrade or a restore, whether this binary
  // can open a given database (docs/operations.md).
  app.set_version_flag("--version", std::string("certward ") + CERTWARD_VERSION + " (schema " +
                                        std::to_string(certward::store::schema_version()) + ")");
  app.require_subcommand(1);
  Globals g;
  app.add_option("-c,--config", g.config, "configuration file (certward.toml)")
      ->envname("CERTWARD_CONFIG");
  app.add_option("-d,--data-dir", g.data_dir,
                 "data directory (default: certward-data; env CERTWARD_DATA_DIR)");
  app.add_flag("--json", g.json, "print JSON instead of tables (errors too, on stderr)");
  set_error_format_source(&g.json);
  app.add_option("--server", g.server,
                 "talk to a running certward server, e.g. https://127.0.0.1:8443")
      ->envname("CERTWARD_SERVER");
  app.add_option("--token", g.token,
                 "API token (visible to other local users: prefer CERTWARD_TOKEN)")
      ->envname("CERTWARD_TOKEN");
  app.add_option("--token-file", g.token_file, "file holding the API token");
  app.add_option("--ca-file", g.ca_file, "CA certificates to trust for --server (PEM)")
      ->envname("CERTWARD_CA_FILE");
  app.add_flag("--insecure-http", g.insecure_http,
               "allow an http:// --server: the token and generated keys travel in clear text")
      ->envname("CERTWARD_INSECURE_HTTP");
  app.footer(
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 invalid input, 4 not found, 5 conflict,\n"
      "6 refused by policy, 7 unavailable, 8 audit chain broken, 9 pending approval,\n"
      "130 interrupted. See docs/cli.md.");
  add_init_command(app, g);
  add_ca_commands(app, g);
  add_profile_commands(app, g);
  add_issue_command(app, g);
  add_cert_commands(app, g);
  add_revoke_commands(app, g);
  add_audit_commands(app, g);
  add_serve_command(app, g);
  add_whoami_command(app, g);
  add_auth_commands(app, g);
  add_acme_commands(app, g);
  add_enroll_commands(app, g);
  add_scan_commands(app, g);
  add_agent_command(app, g);
  add_managed_commands(app, g);
  add_alert_commands(app, g);
  add_campaign_commands(app, g);
  add_policy_commands(app, g);
  add_approval_commands(app, g);
  add_report_commands(app, g);
  add_ssh_commands(app, g);
  add_backup_commands(app, g);
  add_issuer_commands(app, g);
  add_docs_commands(app, g);  // hidden: manual, completion (for packaging)
  // Global options (--json, -d, -c) may also follow the subcommand.
  std::function<void(CLI::App*)> allow_global = [&](CLI::App* a) {
    for (CLI::App* sub : a->get_subcommands({})) {
      sub->fallthrough();
      allow_global(sub);
    }
  };
  allow_global(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, as for every other error.
    std::fprintf(stderr, "certward: %s (see --help)\n", e.what());
    return kExitUsage;
  }
  return g.exit_code;
}
