#pragma once
// certward's configuration: one typed struct, parsed and validated once at startup from
// certward.toml, then overridden by CERTWARD_* environment variables, and passed down as const
// sub-structs. Every field documents its default. docs/configuration.md lists every key.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace certward {

struct DatabaseSettings {
  std::string driver = "sqlite";  // "sqlite" | "postgres"
  std::string path;               // sqlite file; default <data_dir>/certward.db
  std::string url;                // postgres connection URL; REQUIRED when driver = "postgres"
  int pool_size = 4;              // connections (postgres) / readers (sqlite); 1..256
};

struct CaSettings {
  std::string master_key_file;                // default <data_dir>/master.key (created 0600)
  std::string default_authority = "issuing";  // authority `issue` uses when none is named
  // e.g. "http://pki.example.com/crl"; CDP = <base>/<authority>.crl. Default: certward's own
  // plain-HTTP listener (http://<server.http_listen>/crl, the first server.hostnames entry for
  // a wildcard address); "none": certificates carry no CDP.
  std::string crl_base_url;
  // e.g. "http://pki.example.com/ocsp". Default: http://<server.http_listen>/ocsp as above;
  // "none": no AIA OCSP.
  std::string ocsp_url;
  std::string ca_issuers_base_url;  // e.g. "http://pki.example.com/ca"; empty: no caIssuers
  // How long a process signs with an authority before it asks the database again whether
  // the authority is still active: a change made in another process (another replica, the
  // CLI) takes effect within this time; one made in this process at once. 1 s .. 1 h.
  std::chrono::seconds authority_recheck{5};
  // [ca.pkcs11]: authorities whose keys are held in a PKCS#11 token (docs/hsm.md).
  // The library operators allow; an API request can name a token, never a library.
  std::string pkcs11_module;
  // [ca.pkcs11.tokens."<label>"]: where each token's user PIN is ("env:NAME" from pin_env,
  // "file:/path" from pin_file). An authority on a token listed here logs in with it, even
  // when it was created with another source (the PIN's place may move; the key does not).
  std::map<std::string, std::string> pkcs11_pins;
};

// How one authority publishes its CRLs ([revocation] and [revocation.authorities.<name>]).
struct CrlSettings {
  std::chrono::seconds validity{std::chrono::days(7)};  // full CRL: nextUpdate - thisUpdate
  std::chrono::seconds interval{std::chrono::days(1)};  // a new full CRL at least this often
  std::chrono::seconds delta_validity{std::chrono::days(1)};
  // A new delta CRL at least this often; 0 publishes no delta CRLs (and no freshestCRL).
  std::chrono::seconds delta_interval{std::chrono::hours(1)};
  // What a revocation regenerates within seconds: "full" (both CRLs) or "delta" (the delta
  // only; the full one on its interval: large CRLs re-signed less often).
  std::string on_revoke = "full";
};

struct RevocationSettings {
  CrlSettings crl;                                   // every authority's, unless overridden
  std::map<std::string, CrlSettings> authority_crl;  // [revocation.authorities.<name>]
  // OCSP responses: nextUpdate - thisUpdate; a cached response is signed again once half of
  // this has passed, so relying parties never hold one older than that.
  std::chrono::seconds ocsp_validity{std::chrono::days(1)};
  // "delegated": a responder certificate per authority (id-kp-OCSPSigning, ocsp-nocheck),
  // issued to each replica at start with a key that never leaves its memory, and renewed
  // before it expires; "ca": the authority's own key signs.
  std::string ocsp_signer = "delegated";
  std::chrono::seconds ocsp_responder_validity{std::chrono::days(7)};
  // How often each replica looks for revocations, CRLs and authorities made by the others:
  // the bound on how stale another replica's answers are. 1 s .. 1 h.
  std::chrono::seconds refresh_interval{10};
  std::size_t ocsp_cache_entries = 1'000'000;  // pre-signed responses kept in memory
  std::size_t ocsp_max_requests = 50;          // CertIDs in one OCSP request

  // The CRL settings of `authority`.
  const CrlSettings& crl_for(std::string_view authority) const {
    auto it = authority_crl.find(std::string(authority));
    return it == authority_crl.end() ? crl : it->second;
  }
};

// One ACME directory: [acme] is the default one, served at /acme/directory;
// [acme.directories.<name>] adds one at /acme/<name>/directory, inheriting what it does not set
// from [acme].
struct AcmeDirectorySettings {
  std::string name;  // "" for the default directory
  // The certward profiles orders may select (newOrder's "profile"); never CA profiles.
  std::vector<std::string> profiles = {"tls-server"};
  std::string default_profile;  // empty: the first of `profiles`
  std::string authority;        // empty: ca.default_authority
  // Accounts must be bound to an EAB key (certward acme eab create), which names their team.
  bool external_account_required = false;
  std::string terms_of_service;             // URL in the directory's meta; empty: none
  std::string website;                      // URL in the directory's meta; empty: none
  std::vector<std::string> caa_identities;  // domain names in the directory's meta
};

// A name for [acme.directories.<name>] or a directory made through the API: a-z, 0-9, '-' and
// '_', at most 64 characters, and not one of a directory's resource words ("order", "cert",
// ...), which would shadow the default directory's routes.
bool acme_directory_name_ok(std::string_view name);
// What a directory must hold whatever its source: a profile, a default among them, http(s)
// URLs. `table` names it in the error ("acme.directories.partners"). Errors: kMalformed.
Status validate_acme_directory(const AcmeDirectorySettings& d, std::string_view table);

struct AcmeSettings {
  bool enabled = true;
  AcmeDirectorySettings directory;                            // [acme] itself
  std::map<std::string, AcmeDirectorySettings> directories;   // [acme.directories.<name>]
  std::chrono::seconds order_lifetime{std::chrono::days(1)};  // pending orders expire
  // A valid authorization is reused by the account's later orders for this long.
  std::chrono::seconds authorization_lifetime{std::chrono::days(30)};
  std::chrono::seconds pending_authorization_lifetime{std::chrono::days(7)};
  std::chrono::seconds nonce_lifetime{std::chrono::hours(1)};
  std::size_t max_nonces = 1'000'000;  // outstanding nonces kept; the oldest go first
  // Where the validator dials: the ports of http-01 and tls-alpn-01 (80 and 443 on the
  // Internet; tests run unprivileged) and the DNS server it asks for TXT and A/AAAA records
  // ("127.0.0.1:53"; empty: the system's).
  std::uint16_t http01_port = 80;
  std::uint16_t https_port = 443;  // redirects of http-01 to https://
  std::uint16_t tls_alpn01_port = 443;
  std::string resolver;
  std::chrono::seconds validation_timeout{10};
  int validation_retries = 2;  // further attempts after a connection or DNS failure
  int validation_threads = 1;  // the validator's I/O threads (validation is asynchronous)
  // Rate limits (0: no limit), answered with rateLimited and Retry-After.
  int orders_per_account_per_hour = 300;
  int pending_orders_per_account = 300;
  int certificates_per_domain_per_week = 50;  // per registered domain (last two labels)
  int new_accounts_per_address_per_hour = 50;
};

// One EST label ([est.labels.<name>]): served at /.well-known/est/<name>/, it selects the
// profile and authority of what is enrolled there, and may let devices that present a
// manufacturer's certificate (an IDevID) enroll without a credential.
struct EstLabelSettings {
  std::string name;
  std::string profile;    // required
  std::string authority;  // empty: ca.default_authority
  // Devices whose TLS client certificate chains to one of these CAs (PEM file) may enroll here
  // for `team`; empty: only credentials and renewals.
  std::string manufacturer_ca_file;
  std::string team;
};

// [est]: EST (RFC 7030) at /.well-known/est on the HTTPS listener (docs/enrollment.md).
struct EstSettings {
  bool enabled = true;
  bool serverkeygen = true;  // /serverkeygen: the key made here and returned with the certificate
  // Enrollments per credential or device certificate: sustained per second, and burst.
  double requests_per_second = 1;
  double burst = 20;
  std::map<std::string, EstLabelSettings> labels;
};

// [scep]: SCEP (RFC 8894) at /scep on both listeners (docs/enrollment.md). One endpoint per
// server, answering for one authority: what GetCACert returns before a client has said
// anything, and what issues every request it sends.
struct ScepSettings {
  bool enabled = true;
  std::string authority;  // empty: ca.default_authority
  // Requests per challenge or renewed certificate: sustained per second, and burst.
  double requests_per_second = 1;
  double burst = 20;
};

// One CMP label ([cmp.labels.<name>]): served at /.well-known/cmp/p/<name>, it selects the
// profile and authority of what is enrolled there (RFC 9483 3.2's "certificate profile").
struct CmpLabelSettings {
  std::string name;
  std::string profile;    // required
  std::string authority;  // empty: cmp.authority
};

// [cmp]: CMP (RFC 9483, RFC 6712 over HTTP) at /.well-known/cmp on both listeners
// (docs/enrollment.md). The unlabelled endpoint answers for one authority, as [scep]; each
// label for its own.
struct CmpSettings {
  bool enabled = true;
  std::string authority;  // empty: ca.default_authority
  // Requests per credential or signing certificate: sustained per second, and burst.
  double requests_per_second = 1;
  double burst = 20;
  // Whether a client that asks for implicit confirmation gets it (no certConf round trip).
  bool implicit_confirm = true;
  // What a request held for approval is told to wait before it polls again (pollRep's
  // checkAfter), in seconds.
  int check_after_seconds = 30;
  std::map<std::string, CmpLabelSettings> labels;
};

// A name for an EST label (or a SCEP/CMP endpoint): a-z, 0-9, '-' and '_', at most 64
// characters, and not an EST operation's name.
bool est_label_ok(std::string_view name);

// [[discovery.ownership]]: attributes what discovery finds to a team by exactly one of an
// address range, a host glob or a path glob (docs/discovery.md).
struct DiscoveryOwnershipSettings {
  std::string team;
  std::string cidr;
  std::string host;
  std::string path;
};

struct DiscoverySettings {
  // Where scans the server runs (API, recurring scans) may dial: an address outside every
  // range here is reported as refused, never dialled. Loopback and private ranges by default;
  // link-local (cloud metadata services) is outside them on purpose.
  std::vector<std::string> allowed_networks = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                               "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
  std::size_t max_endpoints = 65'536;  // per scan, after expansion; a request over it is refused
  std::size_t concurrency = 256;       // endpoints in flight per scan
  std::chrono::seconds connect_timeout{3};
  std::chrono::seconds handshake_timeout{5};
  double rate_limit = 0;  // new connections per second per scan; 0: unlimited
  bool probe_legacy = true;
  bool check_revocation = false;
  bool use_system_trust = true;  // besides certward's own roots
  std::chrono::seconds expiring_window{std::chrono::days(30)};
  std::uint64_t max_file_size = 1 << 20;
  // Where file scans the server runs (API, recurring scans) may look, on the server's own
  // host; none by default (the CLI's local scans and agents are not limited by it).
  std::vector<std::string> allowed_paths;
  std::vector<DiscoveryOwnershipSettings> ownership;
};

// One [[managed]] declaration: a managed certificate kept as the configuration says. `spec`
// holds its members as JSON, the same as a REST body (docs/automation.md); the lifecycle
// service checks it when the server starts.
struct ManagedDeclaration {
  nlohmann::json spec;
  std::string where;  // "<file>:<line>", for errors
};

// [lifecycle]: managed certificates, their reconciliation and where they may be deployed
// (docs/automation.md).
struct LifecycleSettings {
  // Directories the files of a deployment target may be written under (symbolic links of
  // existing parents resolved); none by default: no files target is allowed.
  std::vector<std::string> allowed_paths;
  // SSH hosts a target may name (exact names or addresses, "*" for any); none by default.
  std::vector<std::string> allowed_ssh_hosts;
  std::string ssh_binary = "/usr/bin/ssh";
  std::string scp_binary = "/usr/bin/scp";
  // What a team-scoped requester may put in a target, beyond allowed_paths and
  // allowed_ssh_hosts (admins, operators and the configuration are not bound by these): the
  // reload commands it may name, each an exact argument vector written as one string split on
  // spaces ("/usr/sbin/nginx -s reload"); none by default, so that a requester cannot have
  // certward run a command of its choosing. And the directory under which its SSH identity
  // and known_hosts files and PKCS#12 password files must lie, in a subdirectory named for its
  // team (<team_secrets_dir>/<team>/...); none by default: no such file is allowed.
  std::vector<std::string> team_reload_commands;
  std::string team_secrets_dir;
  // Where a verification handshake may dial (every address an endpoint resolves to is judged):
  // loopback and private ranges by default, as [discovery] allowed_networks; link-local (cloud
  // metadata services) is outside them on purpose. Whoever may write a target may otherwise
  // make certward probe any address it can reach.
  std::vector<std::string> verify_networks = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                              "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
  // Reconciliation runs on schedulers of its own: `concurrency` threads, each leasing up to
  // `batch` due managed certificates per poll, polling at least every poll_interval_ms.
  int concurrency = 2;
  int batch = 8;
  int poll_interval_ms = 1000;
  // How long one reconciliation (issuance and every deployment) may take before another
  // replica may take it over.
  std::chrono::seconds lease{600};
  // A failed reconciliation is retried retry_base * 2^(n-1) later, at most retry_max; after
  // max_attempts the sweep takes it up again at retry_max.
  std::chrono::seconds retry_base{30};
  std::chrono::seconds retry_max{3600};
  int max_attempts = 8;
  // Renewals start up to this percentage of the renew-before window early, spread by managed
  // certificate, so that certificates issued together are not all renewed in the same second.
  int jitter_percent = 10;
  // How often every managed certificate is checked for a scheduled reconciliation (a safety net).
  std::chrono::seconds sweep_interval{60};
  // How long an agent has to fetch and report a deployment to an agent target before it fails
  // (with an alert) and is offered again after the retry backoff.
  std::chrono::seconds agent_deploy_timeout{3600};
  std::vector<ManagedDeclaration> managed;  // [[managed]]
};

struct RateLimitSettings {
  double requests_per_second = 100;  // per principal, sustained; 0 disables rate limiting
  double burst = 200;                // per principal, bucket size
};

struct ServerSettings {
  std::string listen = "127.0.0.1:8443";       // HTTPS: REST, and later ACME/EST/SCEP/CMP/dashboard
  std::string http_listen = "127.0.0.1:8080";  // plain HTTP: health, CA certificates, CRL, OCSP
  std::vector<std::string> hostnames = {"localhost", "127.0.0.1"};  // names in the serving cert
  std::string tls_cert_file;   // PEM chain; empty: issue one from the default authority
  std::string tls_key_file;    // PEM key for tls_cert_file
  std::string client_ca_file;  // PEM CAs whose client certificates may authenticate; empty: off
  // The running server checks its certificate this often (and on SIGHUP): an issued one is
  // renewed when it is within serving_renew_before of expiry, configured files are reloaded
  // when they change.
  std::chrono::seconds certificate_check_interval{3600};
  std::chrono::seconds serving_renew_before{std::chrono::days(30)};
  int io_threads = 0;       // 0: one per core
  int worker_threads = 64;  // handler pool; requests block on signing and group commit
  std::int64_t max_body_bytes = 1 << 20;
  int read_timeout_seconds = 30;
  int idle_timeout_seconds = 75;
  int shutdown_timeout_seconds = 25;
  RateLimitSettings rate_limit;
};

// One certificate profile as written in the configuration; ca::Profile validates it.
// Fields left unset inherit from the built-in profile of the same name, if any.
struct ProfileSettings {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> key_types;  // "ec-p256", "rsa-2048", ...
  std::optional<std::chrono::seconds> default_validity;
  std::optional<std::chrono::seconds> max_validity;
  std::optional<std::vector<std::string>> key_usage;
  std::optional<std::vector<std::string>> extended_key_usage;
  std::optional<std::vector<std::string>> allowed_domains;  // suffixes; empty = any
  std::optional<std::vector<std::string>>
      allowed_ip_ranges;  // CIDRs; empty = any (if allow_ip_sans)
  std::optional<bool> allow_wildcards;
  std::optional<bool> allow_ip_sans;
  std::optional<bool> allow_email_sans;
  std::optional<bool> allow_uri_sans;
  std::optional<bool> require_san;
  std::optional<std::string> subject_template;  // e.g. "CN={cn},O=Example"; {cn} = first name
  std::optional<bool> requires_approval;
  std::optional<bool> ca;
  std::optional<int> path_length;
  std::optional<std::vector<std::string>> policy_oids;
  // Issuers (authorities or [issuers.<name>]) in the order they are tried: a request that
  // names no authority goes to the first that can issue, and a switch raises an alert.
  std::optional<std::vector<std::string>> issuers;
};

// [policy]: compliance rules declared in the configuration ([[policy.rule]] tables, each held
// as the JSON of a REST body; docs/governance.md). The policy service checks them when the
// server starts; the API shows them read-only.
struct PolicySettings {
  std::vector<ManagedDeclaration> rules;
};

// [alerts]: expiry thresholds, escalation and the channels alerts go out on
// (docs/governance.md "Alerts"). Held as JSON, the same shape the API shows; the lifecycle's
// alerts::parse_alert_settings() checks it when certward starts.
struct AlertsDeclaration {
  nlohmann::json spec = nlohmann::json::object();
  std::string where;  // "<file>:<line>", for errors
};

// [ssh.profiles.<name>]: what an SSH certificate of the profile may say (docs/ssh.md). The
// built-in profiles ssh-user and ssh-host are replaced by a table of the same name.
struct SshProfileSettings {
  std::string name;
  std::string type = "user";  // "user" or "host"
  std::string authority;      // empty: [ssh] default_authority
  std::chrono::seconds max_validity{std::chrono::hours(24)};
  std::chrono::seconds default_validity{std::chrono::hours(8)};
  // Principals (glob patterns: * and ?) requesters without a team may ask for.
  std::vector<std::string> principals = {"*"};
  // team → the principals its requesters may ask for. A team-scoped requester may use the
  // profile only when its team is listed here.
  std::map<std::string, std::vector<std::string>> team_principals;
  std::vector<std::string> extensions;          // granted when the request names none
  std::vector<std::string> allowed_extensions;  // a request may ask for (default: extensions)
  bool allow_force_command = false;             // requests may set force-command
  bool allow_source_address = false;            // requests may set source-address
};

struct SshSettings {
  std::string default_authority = "ssh";     // the SSH CA a request that names none goes to
  std::vector<SshProfileSettings> profiles;  // configured; the built-ins are added when absent
};

// [approvals]: requests for a profile with requires_approval (docs/governance.md "Approvals").
struct ApprovalSettings {
  // How long a request waits for a decision; past it, it can no longer be approved. 1s..90d.
  std::chrono::seconds ttl = std::chrono::hours(24 * 7);
};

// [issuers.<name>]: an upstream CA certward issues through (docs/issuers.md): an ACME CA or a
// CFSSL remote signer. Secrets (EAB and TSIG keys, CFSSL's auth key) come from an environment
// variable or a file, never from this file.
struct IssuerSettings {
  std::string name;
  std::string type;                    // "acme" or "cfssl"
  std::chrono::seconds timeout{30};    // each request to the CA
  std::optional<std::string> ca_file;  // PEM: what the CA's HTTPS certificate chains to
  // PEM: roots every chain the CA returns must verify to (absent: each link is still checked).
  std::optional<std::string> trust_anchors;
  // ACME.
  std::string directory;               // the directory URL (https)
  std::vector<std::string> contact;    // "mailto:pki@example.com"
  std::optional<std::string> eab_kid;  // external account binding, when the CA requires it
  std::optional<std::string> eab_hmac_key_env;
  std::optional<std::string> eab_hmac_key_file;
  std::optional<std::string> profile;          // ACME profile to ask for; CFSSL signing profile
  std::string challenge = "http-01";           // "http-01" or "dns-01"
  std::optional<std::string> preferred_chain;  // the root's (or top issuer's) common name
  std::chrono::seconds order_timeout{300};     // a whole order, validation included
  // dns-01: RFC 2136 updates signed with TSIG to dns_server, or a hook command.
  std::optional<std::string> dns_server;  // "192.0.2.53:53", "[2001:db8::53]:53"
  std::optional<std::string> dns_zone;
  std::optional<std::string> tsig_key_name;
  std::string tsig_algorithm = "hmac-sha256";
  std::optional<std::string> tsig_secret_env;  // base64, as knot and bind write it
  std::optional<std::string> tsig_secret_file;
  // `hook add|delete <record name> <value>`: exit 0 once the record is (or is no longer) served.
  std::optional<std::string> dns_hook;
  std::chrono::seconds dns_propagation{0};  // waited after publishing, before validation
  // CFSSL.
  std::string url;                          // "https://cfssl.example.com:8888"
  std::optional<std::string> auth_key_env;  // hex, as CFSSL's auth_keys write it
  std::optional<std::string> auth_key_file;
  std::optional<std::string> label;  // multirootca signer
};

struct Config {
  std::string data_dir = "certward-data";  // created 0700 on first use
  std::string log_level = "info";          // trace|debug|info|warn|error
  DatabaseSettings database;
  CaSettings ca;
  ServerSettings server;
  std::vector<ProfileSettings> profiles;  // [profiles.<name>] tables
  RevocationSettings revocation;
  AcmeSettings acme;
  EstSettings est;
  ScepSettings scep;
  CmpSettings cmp;
  DiscoverySettings discovery;
  LifecycleSettings lifecycle;
  PolicySettings policy;
  AlertsDeclaration alerts;
  ApprovalSettings approvals;
  SshSettings ssh;
  std::vector<IssuerSettings> issuers;  // [issuers.<name>] tables
};

// Parses TOML text. Unknown keys are errors (a typo must not silently fall back to a
// default). Errors: kMalformed with "<file>:<line>: ..." or the offending key.
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);
// Reads `path` (absent path: defaults only), applies the environment, fills derived defaults.
// `env` is injected for tests; production passes the process environment.
Result<Config> load_config(const std::optional<std::string>& path,
                           const std::map<std::string, std::string>& env);
std::map<std::string, std::string> process_environment();
// Fills paths that default relative to data_dir; applied by load_config.
void finalize_config(Config& config);

// "90d", "12h", "30m", "45s", "1y" (= 365d). Errors: kMalformed.
Result<std::chrono::seconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::seconds d);  // largest exact unit: "90d", "36h"

}  // namespace certward
