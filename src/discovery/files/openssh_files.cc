// authorized_keys and known_hosts lines are split the way sshd splits them (options with
// quoted, comma- and space-holding values; markers; hashed host names) so that a line sshd
// would accept is never reported as malformed, and the other way round.

#include "discovery/files/openssh_files.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "discovery/ssh_key.h"

namespace certward::discovery::files {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The next whitespace-delimited token; `s` is left after it, leading blanks removed.
std::string_view next_token(std::string_view& s) {
  s = trim(s);
  std::size_t n = 0;
  while (n < s.size() && !is_space(s[n])) ++n;
  std::string_view tok = s.substr(0, n);
  s.remove_prefix(n);
  s = trim(s);
  return tok;
}

// sshd's authorized_keys options (OpenSSH 9); case-insensitive there too.
constexpr std::array<std::string_view, 22> kOptionNames{"agent-forwarding",
                                                        "cert-authority",
                                                        "command",
                                                        "environment",
                                                        "expiry-time",
                                                        "from",
                                                        "no-agent-forwarding",
                                                        "no-port-forwarding",
                                                        "no-pty",
                                                        "no-user-rc",
                                                        "no-x11-forwarding",
                                                        "permitlisten",
                                                        "permitopen",
                                                        "port-forwarding",
                                                        "principals",
                                                        "pty",
                                                        "no-touch-required",
                                                        "verify-required",
                                                        "restrict",
                                                        "tunnel",
                                                        "user-rc",
                                                        "x11-forwarding"};

bool known_option(std::string_view name) {
  std::string lower(name);
  std::ranges::transform(lower, lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::ranges::find(kOptionNames, lower) != kOptionNames.end();
}

// Splits the leading options off `s`: up to the first blank outside double quotes, where a
// backslash escapes a quote. Each comma-separated option must be a known name, alone or with
// ="value".
Result<std::string_view> take_options(std::string_view& s) {
  bool quoted = false;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\' && i + 1 < s.size() && s[i + 1] == '"') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && is_space(c)) {
      break;
    }
  }
  if (quoted) return fail(ErrorCode::kMalformed, "unterminated quote in the options");
  const std::string_view options = s.substr(0, i);
  // Each option: name [= "value"], separated by commas outside quotes.
  std::size_t p = 0;
  while (p < options.size()) {
    std::size_t name_end = p;
    while (name_end < options.size() && options[name_end] != '=' && options[name_end] != ',') {
      ++name_end;
    }
    if (!known_option(options.substr(p, name_end - p))) {
      return fail(ErrorCode::kMalformed, "unknown option");
    }
    p = name_end;
    if (p < options.size() && options[p] == '=') {
      ++p;
      if (p >= options.size() || options[p] != '"') {
        return fail(ErrorCode::kMalformed, "option value is not quoted");
      }
      ++p;
      while (p < options.size() && options[p] != '"') p += options[p] == '\\' ? 2 : 1;
      if (p >= options.size()) return fail(ErrorCode::kMalformed, "unterminated option value");
      ++p;
    }
    if (p < options.size()) {
      if (options[p] != ',') return fail(ErrorCode::kMalformed, "junk after an option value");
      ++p;
      if (p == options.size()) return fail(ErrorCode::kMalformed, "trailing comma");
    }
  }
  s.remove_prefix(i);
  return options;
}

// The wire format begins with the key type as an SSH string: a line whose type word and blob
// disagree is one sshd refuses.
bool blob_names_type(std::span<const std::uint8_t> blob, std::string_view type) {
  if (blob.size() < 4) return false;
  const std::size_t n = (std::size_t{blob[0]} << 24) | (std::size_t{blob[1]} << 16) |
                        (std::size_t{blob[2]} << 8) | std::size_t{blob[3]};
  return n == type.size() && blob.size() - 4 >= n && as_chars(blob.subspan(4, n)) == type;
}

// "type base64 [comment]".
Result<SshKeyLine> parse_key_part(std::string_view rest) {
  SshKeyLine out;
  const std::string_view type = next_token(rest);
  const std::string_view b64 = next_token(rest);
  if (type.empty() || b64.empty()) return fail(ErrorCode::kMalformed, "no key type and key");
  auto blob = from_base64(b64);
  if (!blob || !blob_names_type(*blob, type)) {
    return fail(ErrorCode::kMalformed, "the key is not base64 of a key of its type");
  }
  out.type = std::string(type);
  out.blob = *std::move(blob);
  out.comment = std::string(trim(rest));
  return out;
}

bool valid_host_patterns(std::string_view hosts) {
  if (hosts.empty() || hosts.find('"') != std::string_view::npos) return false;
  if (hosts.starts_with("|1|")) {
    // |1|base64(salt)|base64(HMAC-SHA1): one hashed name, as ssh-keygen -H writes it.
    const std::string_view rest = hosts.substr(3);
    const std::size_t bar = rest.find('|');
    if (bar == std::string_view::npos) return false;
    auto salt = from_base64(rest.substr(0, bar));
    auto mac = from_base64(rest.substr(bar + 1));
    return salt && mac && salt->size() == 20 && mac->size() == 20;
  }
  return true;
}

}  // namespace

std::string_view ssh_key_file_kind_name(SshKeyFileKind k) {
  return k == SshKeyFileKind::kAuthorizedKeys ? "authorized_keys" : "known_hosts";
}

Result<SshKeyLine> parse_authorized_keys_line(std::string_view line) {
  std::string_view s = trim(line);
  // sshd first reads the line as a bare key and only then as options followed by a key.
  if (auto bare = parse_key_part(s)) return bare;
  CW_ASSIGN_OR_RETURN(const std::string_view options, take_options(s));
  CW_ASSIGN_OR_RETURN(SshKeyLine out, parse_key_part(s));
  out.options = std::string(options);
  return out;
}

Result<SshKeyLine> parse_known_hosts_line(std::string_view line) {
  std::string_view s = trim(line);
  std::string_view marker;
  if (s.starts_with('@')) {
    marker = next_token(s);
    if (marker != "@cert-authority" && marker != "@revoked") {
      return fail(ErrorCode::kMalformed, "unknown marker");
    }
  }
  const std::string_view hosts = next_token(s);
  if (!valid_host_patterns(hosts)) return fail(ErrorCode::kMalformed, "bad host patterns");
  CW_ASSIGN_OR_RETURN(SshKeyLine out, parse_key_part(s));
  out.options =
      marker.empty() ? std::string(hosts) : std::string(marker) + " " + std::string(hosts);
  return out;
}

namespace {

template <typename Fn>
void for_each_key_line(std::string_view text, Fn&& fn) {
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    fn(number, line);
  }
}

Result<SshKeyLine> parse_line(SshKeyFileKind kind, std::string_view line) {
  return kind == SshKeyFileKind::kAuthorizedKeys ? parse_authorized_keys_line(line)
                                                 : parse_known_hosts_line(line);
}

}  // namespace

SshKeyFile read_ssh_key_file(std::string_view text, SshKeyFileKind kind, SysTime now) {
  SshKeyFile out;
  for_each_key_line(text, [&](std::size_t number, std::string_view line) {
    auto malformed = [&](const Error& e) {
      out.findings.push_back({.code = "malformed_line",
                              .severity = Severity::kLow,
                              .detail = "line " + std::to_string(number) + ": " + e.message,
                              .fingerprint = {}});
    };
    auto parsed = parse_line(kind, line);
    if (!parsed) return malformed(parsed.error());
    auto key = parse_ssh_key_blob(parsed->blob);
    if (!key) return malformed(key.error());
    key->options = std::move(parsed->options);
    key->comment = std::move(parsed->comment);
    for (auto& f : ssh_key_findings(*key, now)) out.findings.push_back(std::move(f));
    out.keys.push_back(*std::move(key));
  });
  return out;
}

std::optional<SshKeyFileKind> detect_ssh_key_file(std::string_view text) {
  for (SshKeyFileKind kind : {SshKeyFileKind::kAuthorizedKeys, SshKeyFileKind::kKnownHosts}) {
    bool all = true;
    std::size_t lines = 0;
    for_each_key_line(text, [&](std::size_t, std::string_view line) {
      if (!all) return;
      all = parse_line(kind, line).has_value();
      ++lines;
    });
    if (all && lines > 0) return kind;
  }
  return std::nullopt;
}

std::optional<SshKeyFileKind> ssh_key_file_kind_for_name(std::string_view file_name) {
  if (file_name == "authorized_keys" || file_name == "authorized_keys2") {
    return SshKeyFileKind::kAuthorizedKeys;
  }
  if (file_name == "known_hosts" || file_name == "known_hosts2" || file_name == "ssh_known_hosts") {
    return SshKeyFileKind::kKnownHosts;
  }
  return std::nullopt;
}

}  // namespace certward::discovery::files
