#pragma once
// Deployment targets: where a managed certificate goes once it is issued, and the proof that it
// arrived. A target is files (key, certificate, chain, full chain, PKCS#12) written atomically on
// this host or copied to an SSH host, then a reload command, then a TLS handshake to a configured
// endpoint that must serve the new certificate. When any step fails, the files that were there
// before are put back, the reload is run again, and the outcome says what failed and that it was
// rolled back: a failed deployment leaves the service as it was, never half-changed.
//
// Target specifications come from outside (REST bodies, the CLI, the TOML configuration):
// parse_target_spec() refuses unknown members and bad shapes, and check_target() holds them to
// the operator's policy ([lifecycle] allowed_paths, allowed_ssh_hosts) before anything is
// stored or run. Deployer::deploy() checks again, so a spec stored under a looser policy cannot
// write where the current one forbids.
//
// Thread-safe; deploy() blocks (files, child processes, a handshake) and belongs on the job
// scheduler's thread, never on an I/O thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

namespace certward::lifecycle::deploy {

// What is written. The key is the managed certificate's (unsealed only for the deployment).
struct Material {
  const x509::Certificate& certificate;
  const std::vector<x509::Certificate>& chain;  // issuers, nearest first, root last
  const crypto::PrivateKey& key;
};

// The files of a target; at least one path. Paths are absolute. "chain" holds the issuers
// without the root; "fullchain" the leaf and those issuers (what nginx's ssl_certificate
// wants); "pkcs12" the key, leaf and issuers, encrypted with the password read from
// pkcs12_password_file (never stored in the spec itself).
struct FileOutputs {
  std::optional<std::string> key;
  std::optional<std::string> certificate;
  std::optional<std::string> chain;
  std::optional<std::string> fullchain;
  std::optional<std::string> pkcs12;
  std::optional<std::string> pkcs12_password_file;
  std::optional<std::string> owner;  // user name; default: the process's own
  std::optional<std::string> group;  // group name; default: the owner's
  std::optional<mode_t> key_mode;    // default 0600
  std::optional<mode_t> cert_mode;   // certificate, chain, fullchain; default 0644
};

// Run after the files are in place (and again after a rollback, if it had run). argv, no
// shell: argv[0] is an absolute path. Locally it runs in a process group of its own with only
// PATH and LANG=C in its environment, stdin /dev/null, its output (first 4 KiB) in the step's
// detail, the whole group killed at the timeout. On an SSH target it runs on the remote host
// (as the SSH user, under timeout(1) when the host has it).
struct Reload {
  std::vector<std::string> argv;
  std::chrono::seconds timeout{30};
};

// The proof: a TLS handshake to `endpoint` ("host:port", "[v6]:port") with SNI `server_name`
// (default: the managed certificate's first DNS name) must present the deployed certificate.
// Retried until `timeout` (a reload may take a moment to take effect).
struct Verify {
  std::string endpoint;
  std::optional<std::string> server_name;
  std::chrono::seconds timeout{15};
};

// An SSH host the files are copied to with the system's ssh/scp (key authentication only,
// StrictHostKeyChecking=yes against `known_hosts`, BatchMode, no ssh_config): the paths in
// FileOutputs are paths on that host (the pkcs12_password_file excepted: it is read here).
// The host needs the SFTP subsystem (scp -s). identity_file and known_hosts may not contain
// spaces, quotes, backslashes or '%'; remote paths may not contain * ? [ ] or backslash.
struct SshHost {
  std::string host;
  std::uint16_t port = 22;
  std::string user;
  std::string identity_file;  // the private key on this host
  std::string known_hosts;    // the known_hosts file on this host
  std::chrono::seconds timeout{20};
};

// kAgent: the files are on the host of a discovery agent (`certward agent`, a principal of
// role agent), which fetches the deployment from the server and applies it there itself, under
// its own local allow-list (lifecycle/agent_deploy.h). The server writes nothing and runs
// nothing for it.
enum class TargetKind : std::uint8_t { kFiles, kSsh, kAgent };
std::string_view target_kind_name(TargetKind k);  // "files", "ssh", "agent"

struct TargetSpec {
  std::string name;  // unique within a managed certificate; [a-z0-9][a-z0-9._-]{0,62}
  TargetKind kind = TargetKind::kFiles;
  FileOutputs files;
  std::optional<SshHost> ssh;  // set exactly for kSsh
  // The agent principal's name, set exactly for kAgent: paths, reload and verify are the
  // agent host's.
  std::optional<std::string> agent;
  std::optional<Reload> reload;
  std::optional<Verify> verify;
};

// As JSON (REST, stored specs, TOML via the same members):
//   {"name": "web", "kind": "files",
//    "files": {"key": "/etc/nginx/tls/web.key", "fullchain": "/etc/nginx/tls/web.crt",
//              "owner": "root", "group": "www-data", "key_mode": "0640"},
//    "reload": {"argv": ["/usr/sbin/nginx", "-s", "reload"], "timeout": "30s"},
//    "verify": {"endpoint": "127.0.0.1:443", "server_name": "www.example.com"}}
//   {"name": "edge", "kind": "ssh",
//    "ssh": {"host": "edge1.example.com", "port": 22, "user": "deploy",
//            "identity_file": "/var/lib/certward/ssh/id_ed25519",
//            "known_hosts": "/var/lib/certward/ssh/known_hosts"},
//    "files": {...paths on the host...}, "reload": {...}, "verify": {...}}
//   {"name": "web1", "kind": "agent", "agent": "web1-agent",
//    "files": {...paths on the agent's host...}, "reload": {...}, "verify": {...}}
// Modes are octal strings ("0640"); timeouts "30s", "2m", "1h" or a number of seconds (1 s to
// 1 h). target_spec_json writes every timeout and the port, and what parses writes back to
// JSON that parses to the same spec.
// Errors: kInvalidArgument (shape, unknown member, relative or non-normal path, a path with
// "..", no file at all, the same path twice, pkcs12 without pkcs12_password_file or the other
// way round, bad mode or a key_mode open to others, empty argv or a relative argv[0], bad
// endpoint, host, user or timeout).
Result<TargetSpec> parse_target_spec(const nlohmann::json& j);
nlohmann::json target_spec_json(const TargetSpec& spec);

// The operator's limits ([lifecycle] in the configuration).
struct Policy {
  // Every local file of a files target lies under one of these directories (after resolving
  // symbolic links of its existing parent directories). Empty: no files target is allowed.
  std::vector<std::string> allowed_paths;
  // SSH targets may name these hosts only (exact names or addresses; "*" allows any).
  // Empty: no SSH target is allowed.
  std::vector<std::string> allowed_ssh_hosts;
  std::string ssh_binary = "/usr/bin/ssh";
  std::string scp_binary = "/usr/bin/scp";
  // What a team-scoped requester may name besides (check_team_target): the reload commands,
  // each an exact argument vector; and the directory whose <team>/ subdirectory holds the
  // SSH identity, known_hosts and PKCS#12 password files it may use (empty: none).
  std::vector<std::vector<std::string>> team_reload_commands;
  std::string team_secrets_dir;
  // On an agent only (its --allow-owner): the user and group names a deployment may give its
  // files. Empty: none, the files belong to the agent's own user. A server's target names
  // whom it likes (the operator's or a requester's choice, on the server's host).
  std::vector<std::string> agent_accounts;
  // Where verification may dial: an endpoint given as an address outside them is refused
  // when stored, and at deployment a name is dialled only at the addresses it resolves to
  // inside them (nothing dialled otherwise).
  std::vector<std::string> verify_networks = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                              "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
};
// Errors: kPolicyRejected, naming the path or host the policy does not allow. An agent target
// is not held to allowed_paths nor verify_networks (its paths and endpoint are the agent
// host's, judged there by the agent's own allow-list: check_agent_host).
Status check_target(const TargetSpec& spec, const Policy& policy);
// What an agent holds a deployment it received to before it changes anything on its host:
// every file it writes or reads (the PKCS#12 password file too) lies under one of
// `policy.allowed_paths` (the agent's --deploy-dir) once the symbolic links of existing parents
// are resolved, exactly as check_target() judges a files target; the reload command, if any,
// is one of `policy.team_reload_commands` (the agent's --allow-reload) exactly; the owner and
// group, if named, are in `policy.agent_accounts` (--allow-owner); the verify
// endpoint's address, if it is one, is in policy.verify_networks. Returns the spec as a files
// target of this host, for Deployer::deploy(). Errors: kPolicyRejected, kInvalidArgument (not
// an agent target).
Result<TargetSpec> check_agent_host(const TargetSpec& spec, const Policy& policy);
// How long deploy() may take on this target at the most, by its timeouts: the reload twice
// (and its rollback), the verification, and for SSH each copy and both remote scripts. Zero
// for an agent target, which the server hands over without waiting.
std::chrono::seconds longest_deployment(const TargetSpec& spec);
// What a target made by a requester of `team` must also respect, since it is not trusted to
// run commands or read files as certward: its reload command is one of the policy's
// team_reload_commands exactly, and every file certward reads for it (ssh.identity_file,
// ssh.known_hosts, files.pkcs12_password_file) lies under <team_secrets_dir>/<team>/ once
// symbolic links are resolved. Errors: kPolicyRejected.
Status check_team_target(const TargetSpec& spec, const Policy& policy, std::string_view team);

// One step of a deployment, for the managed certificate's timeline.
struct Step {
  std::string name;  // "write", "copy", "reload", "verify", "restore", "reload-after-restore"
  bool ok = false;
  std::string detail;  // what failed, or what was found ("served SHA256:..."); never a secret
  std::chrono::milliseconds took{0};
};

struct Outcome {
  SysTime started{};         // when deploy() began (the Deployer's clock)
  bool deployed = false;     // every step succeeded: the new certificate is in place (and served)
  bool rolled_back = false;  // a step failed and the previous files were restored
  std::vector<Step> steps;
  std::optional<Error> error;  // set when !deployed: the first failure
};
nlohmann::json outcome_json(const Outcome& o);

class Deployer {
 public:
  Deployer(const Clock& clock, Policy policy);

  // Writes the material as the spec says (each file to a temporary file in its directory,
  // fsync'd, renamed over the old one; owner, group and mode set before the rename), runs the
  // reload, then verifies. On a failure after the first file changed: restores every previous
  // file (or removes one that did not exist before), reruns the reload if it had run, and
  // reports it. A spec that check_target() refuses gets an outcome with kPolicyRejected and no
  // step run; one that parse_target_spec would refuse (built in code), kInvalidArgument and no
  // step; an agent target, kInvalidArgument and no step (its agent deploys it). What can fail
  // without changing anything (an unknown owner, a symlink where a file goes, a password file that
  // is not private) fails the first step with nothing changed.
  Outcome deploy(const TargetSpec& spec, const Material& material) const;

 private:
  const Clock& clock_;
  Policy policy_;
};

}  // namespace certward::lifecycle::deploy
