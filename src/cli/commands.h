#pragma once
// Command registration. Each add_*_commands() adds its subcommands to the app; each command's
// callback stores its exit code in Globals::exit_code.

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "cli/context.h"
#include "cli/output.h"

namespace certward::cli {

struct Globals {
  std::optional<std::string> config;
  std::optional<std::string> data_dir;
  bool json = false;
  int exit_code = kExitOk;
};

// Runs `body` with an opened context; errors become a one-line message and an exit code.
void run(Globals& g, Init mode, const std::function<Status(Context&)>& body);

void add_init_command(CLI::App& app, Globals& g);
void add_ca_commands(CLI::App& app, Globals& g);
void add_profile_commands(CLI::App& app, Globals& g);
void add_issue_command(CLI::App& app, Globals& g);
void add_cert_commands(CLI::App& app, Globals& g);
void add_audit_commands(CLI::App& app, Globals& g);
void add_serve_command(CLI::App& app, Globals& g);

}  // namespace certward::cli
