#pragma once
// `certward agent` receiving deployments for its host: what awaits it on the server is fetched,
// held to the host's own allow-list (--deploy-dir, --allow-reload), applied with the same
// Deployer a server uses (files written atomically, reload, TLS verification, rollback) and
// reported. The server's answers are read as hostile input (lifecycle::parse_agent_delivery):
// a server that was taken over can make this agent write only under its deploy directories and
// run only the reload commands it allows, and nothing at all where the agent has none.

#include <string>
#include <vector>

#include "cli/remote.h"
#include "lifecycle/deploy/target.h"

namespace certward::cli {

// The host's allow-list: directories deployments may write under, the exact reload
// commands (argv written as one string split on spaces) they may run, and the users and
// groups they may give their files to. REQUIRES: deploy_dirs not empty.
lifecycle::deploy::Policy agent_host_policy(const std::vector<std::string>& deploy_dirs,
                                            const std::vector<std::string>& allow_reload,
                                            const std::vector<std::string>& allow_owner);

struct AgentDeployRound {
  int deployed = 0;
  int failed = 0;  // applied and reported failed, or refused here and reported so
  std::optional<Error> first_failure;
};

// One round: every deployment awaiting this agent, one after the other. A deployment refused
// or failed is reported failed (the previous files left as they were); only the server's
// refusal of the list itself is an error. Prints one line per deployment (or its JSON with
// `json`).
Result<AgentDeployRound> receive_deployments(const Remote& remote,
                                             const lifecycle::deploy::Policy& policy, bool json);

}  // namespace certward::cli
