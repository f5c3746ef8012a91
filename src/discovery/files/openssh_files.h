#pragma once
// OpenSSH's key files, authorized_keys and known_hosts (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"
// and "SSH_KNOWN_HOSTS FILE FORMAT"): who may log in with which key, and which host keys and
// host CAs a client trusts. Both are inventory of keys the way certificate files are, so the
// file scanner reads them line by line. Pure functions, thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "discovery/discovery.h"

namespace certward::discovery::files {

enum class SshKeyFileKind : std::uint8_t { kAuthorizedKeys, kKnownHosts };
std::string_view ssh_key_file_kind_name(SshKeyFileKind k);  // "authorized_keys", "known_hosts"

// One key line, split but not decoded: the blob's first string is checked to name `type`
// (as sshd does), nothing more.
struct SshKeyLine {
  // authorized_keys: the options as written (quotes kept), empty for none.
  // known_hosts: the host patterns, preceded by the marker and a space when there is one
  // ("@cert-authority *.example.test").
  std::string options;
  std::string type;
  Bytes blob;
  std::string comment;  // the rest of the line, trimmed
};

// One non-comment, non-blank line. Options are checked against sshd's option names, so that
// a known_hosts line is not taken for an authorized_keys line with a host as its "option".
// Errors: kMalformed.
Result<SshKeyLine> parse_authorized_keys_line(std::string_view line);
// Markers other than @cert-authority and @revoked, and host patterns with quotes, are
// kMalformed.
Result<SshKeyLine> parse_known_hosts_line(std::string_view line);

struct SshKeyFile {
  std::vector<SshKey> keys;       // decoded with parse_ssh_key_blob, file order
  std::vector<Finding> findings;  // "malformed_line" (low, detail names the line) and each
                                  // key's ssh_key_findings
};

// Every line of `text` as a file of `kind`; a bad line is a finding and the rest is still read.
SshKeyFile read_ssh_key_file(std::string_view text, SshKeyFileKind kind, SysTime now);

// The kind a file's content says it is, for files not named like one: every non-comment
// line parses as that kind (authorized_keys is tried first) and there is at least one.
std::optional<SshKeyFileKind> detect_ssh_key_file(std::string_view text);

// The kind a file's name says it is: authorized_keys, authorized_keys2, known_hosts,
// known_hosts2, ssh_known_hosts.
std::optional<SshKeyFileKind> ssh_key_file_kind_for_name(std::string_view file_name);

}  // namespace certward::discovery::files
