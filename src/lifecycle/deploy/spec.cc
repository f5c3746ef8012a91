// Target specifications: the JSON shape and its strict reading. Every string here may end up
// as a path written as root, an argument of a command run as root (locally or over SSH), or
// a host dialled: what is not plainly well-formed is refused, never repaired.

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <set>

#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPath = 4096;
constexpr std::size_t kMaxArgs = 64;
constexpr std::size_t kMaxArg = 4096;
constexpr std::size_t kMaxAccountName = 32;
constexpr std::chrono::seconds kMaxTimeout{3600};

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidArgument, "target spec: " + std::move(message));
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// A member name as it may appear in a message: printable, bounded.
std::string shown(std::string_view s) { return detail::one_line(s, 64); }

Status only_members(const json& j, std::string_view where,
                    std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) return invalid(std::string(where) + " must be an object");
  for (const auto& item : j.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      return invalid("unknown member \"" + shown(item.key()) + "\" in " + std::string(where));
    }
  }
  return ok();
}

Result<std::string> get_string(const json& j, std::string_view what) {
  if (!j.is_string()) return invalid(std::string(what) + " must be a string");
  return j.get<std::string>();
}

// Absolute and normal: no empty, "." or ".." component, no trailing slash, no control
// characters. What is checked is exactly what will be opened.
Result<std::string> get_path(const json& j, std::string_view what) {
  CW_ASSIGN_OR_RETURN(std::string p, get_string(j, what));
  const std::string w(what);
  if (p.empty() || p.size() > kMaxPath) return invalid(w + " must be a path of 1-4096 bytes");
  if (has_control(p)) return invalid(w + " contains a control character");
  if (p.front() != '/') return invalid(w + " must be an absolute path");
  if (p.size() == 1 || p.back() == '/') return invalid(w + " must name a file");
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    const std::string_view part(p.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return invalid(w + " must be a normal path (no \"//\", \".\" or \"..\")");
    }
    start = end + 1;
  }
  return p;
}

// A user or group name as useradd accepts it.
Result<std::string> get_account(const json& j, std::string_view what) {
  CW_ASSIGN_OR_RETURN(std::string s, get_string(j, what));
  const bool good = !s.empty() && s.size() <= kMaxAccountName &&
                    (std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                    std::all_of(s.begin(), s.end(), [](char c) {
                      return std::islower(static_cast<unsigned char>(c)) ||
                             std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                             c == '.';
                    });
  if (!good)
    return invalid(std::string(what) + " must be a user or group name ([a-z_][a-z0-9_.-]*)");
  return s;
}

// "0640" or "640": an octal string, since a JSON number would be read as decimal by some
// writers and octal by others. Permission bits only: no set-id or sticky bit on a key file.
Result<mode_t> get_mode(const json& j, std::string_view what) {
  const std::string w(what);
  if (!j.is_string()) return invalid(w + " must be an octal string such as \"0640\"");
  std::string s = j.get<std::string>();
  if (s.size() == 4 && s[0] == '0') s.erase(0, 1);
  if (s.size() != 3 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return invalid(w + " must be an octal string such as \"0640\"");
  }
  return static_cast<mode_t>(std::stoul(s, nullptr, 8));
}

std::optional<std::int64_t> get_count(const json& j);

// "30s", "2m", "1h", or a number of seconds; 1 second to 1 hour.
Result<std::chrono::seconds> get_timeout(const json& j, std::string_view what) {
  const std::string w(what);
  std::int64_t seconds = 0;
  if (auto count = get_count(j)) {
    seconds = *count;
  } else if (j.is_string()) {
    const std::string s = j.get<std::string>();
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    const std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
    if (ec != std::errc() || s.empty() || s[0] == '-' || s[0] == '+' || n > (1 << 20)) {
      return invalid(w + " must be a duration such as \"30s\"");
    }
    if (unit == "s")
      seconds = n;
    else if (unit == "m")
      seconds = n * 60;
    else if (unit == "h")
      seconds = n * 3600;
    else
      return invalid(w + " must be a duration such as \"30s\" (units s, m, h)");
  } else {
    return invalid(w + " must be a duration such as \"30s\"");
  }
  if (seconds < 1 || seconds > kMaxTimeout.count()) {
    return invalid(w + " must be between 1s and 1h");
  }
  return std::chrono::seconds(seconds);
}

// A whole number from 0 to 2^30 (larger ones as 2^30), signed or unsigned in the JSON.
std::optional<std::int64_t> get_count(const json& j) {
  constexpr std::int64_t kCap = std::int64_t{1} << 30;
  if (j.is_number_unsigned()) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(j.get<std::uint64_t>(), kCap));
  }
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    return std::min(j.get<std::int64_t>(), kCap);
  }
  return std::nullopt;
}

std::string timeout_text(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

std::string mode_text(mode_t m) {
  std::string out = "0000";
  for (int i = 3; i >= 1; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>('0' + (m & 7));
    m >>= 3;
  }
  return out;
}

// A target's name (at most 63), or, at most 64, a principal's as auth names them.
bool valid_name(std::string_view s, std::size_t max = 63) {
  auto low_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !s.empty() && s.size() <= max && low_alnum(s[0]) &&
         std::all_of(s.begin(), s.end(),
                     [&](char c) { return low_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    start = end + 1;
  }
  return true;
}

Result<FileOutputs> parse_files(const json& j) {
  CW_RETURN_IF_ERROR(
      only_members(j, "files",
                   {"key", "certificate", "chain", "fullchain", "pkcs12", "pkcs12_password_file",
                    "owner", "group", "key_mode", "cert_mode"}));
  FileOutputs f;
  auto path = [&](const char* name, std::optional<std::string>& out) -> Status {
    if (!j.contains(name)) return ok();
    CW_ASSIGN_OR_RETURN(out, get_path(j.at(name), std::string("files.") + name));
    return ok();
  };
  CW_RETURN_IF_ERROR(path("key", f.key));
  CW_RETURN_IF_ERROR(path("certificate", f.certificate));
  CW_RETURN_IF_ERROR(path("chain", f.chain));
  CW_RETURN_IF_ERROR(path("fullchain", f.fullchain));
  CW_RETURN_IF_ERROR(path("pkcs12", f.pkcs12));
  CW_RETURN_IF_ERROR(path("pkcs12_password_file", f.pkcs12_password_file));
  if (j.contains("owner")) {
    CW_ASSIGN_OR_RETURN(f.owner, get_account(j.at("owner"), "files.owner"));
  }
  if (j.contains("group")) {
    CW_ASSIGN_OR_RETURN(f.group, get_account(j.at("group"), "files.group"));
  }
  if (j.contains("key_mode")) {
    CW_ASSIGN_OR_RETURN(f.key_mode, get_mode(j.at("key_mode"), "files.key_mode"));
    // A key that every local user may read is a leaked key; one its group may write, a
    // replaced one.
    if ((*f.key_mode & 07) != 0) return invalid("files.key_mode must give others no access");
    if ((*f.key_mode & 020) != 0) return invalid("files.key_mode must not let the group write");
  }
  if (j.contains("cert_mode")) {
    CW_ASSIGN_OR_RETURN(f.cert_mode, get_mode(j.at("cert_mode"), "files.cert_mode"));
    // Whoever may write the served certificate chooses what the service presents.
    if ((*f.cert_mode & 02) != 0) return invalid("files.cert_mode must not let others write");
  }
  const auto outputs = detail::output_paths(f);
  if (outputs.empty()) return invalid("files names no file to write");
  std::set<std::string> seen;
  for (const auto& [role, p] : outputs) {
    if (!seen.insert(p).second) return invalid("files names " + p + " twice");
  }
  if (f.pkcs12.has_value() != f.pkcs12_password_file.has_value()) {
    return invalid("files.pkcs12 and files.pkcs12_password_file go together");
  }
  if (f.pkcs12_password_file && seen.contains(*f.pkcs12_password_file)) {
    return invalid("files.pkcs12_password_file is also an output");
  }
  return f;
}

Result<std::vector<std::string>> parse_argv(const json& j) {
  if (!j.is_array() || j.empty() || j.size() > kMaxArgs) {
    return invalid("reload.argv must be an array of 1-64 strings");
  }
  std::vector<std::string> argv;
  for (const auto& a : j) {
    CW_ASSIGN_OR_RETURN(std::string s, get_string(a, "reload.argv[]"));
    if (s.size() > kMaxArg || has_control(s)) {
      return invalid("reload.argv has an argument with a control character or over 4096 bytes");
    }
    argv.push_back(std::move(s));
  }
  CW_RETURN_IF_ERROR(get_path(j[0], "reload.argv[0]"));
  return argv;
}

Result<Reload> parse_reload(const json& j) {
  CW_RETURN_IF_ERROR(only_members(j, "reload", {"argv", "timeout"}));
  if (!j.contains("argv")) return invalid("reload needs argv");
  Reload r;
  CW_ASSIGN_OR_RETURN(r.argv, parse_argv(j.at("argv")));
  if (j.contains("timeout")) {
    CW_ASSIGN_OR_RETURN(r.timeout, get_timeout(j.at("timeout"), "reload.timeout"));
  }
  return r;
}

Result<Verify> parse_verify(const json& j) {
  CW_RETURN_IF_ERROR(only_members(j, "verify", {"endpoint", "server_name", "timeout"}));
  if (!j.contains("endpoint")) return invalid("verify needs an endpoint");
  Verify v;
  CW_ASSIGN_OR_RETURN(v.endpoint, get_string(j.at("endpoint"), "verify.endpoint"));
  CW_RETURN_IF_ERROR(detail::parse_endpoint(v.endpoint));
  if (j.contains("server_name")) {
    CW_ASSIGN_OR_RETURN(std::string sni, get_string(j.at("server_name"), "verify.server_name"));
    if (!valid_dns_name(sni)) return invalid("verify.server_name must be a DNS name");
    v.server_name = std::move(sni);
  }
  if (j.contains("timeout")) {
    CW_ASSIGN_OR_RETURN(v.timeout, get_timeout(j.at("timeout"), "verify.timeout"));
  }
  return v;
}

Result<SshHost> parse_ssh(const json& j) {
  CW_RETURN_IF_ERROR(
      only_members(j, "ssh", {"host", "port", "user", "identity_file", "known_hosts", "timeout"}));
  for (const char* required : {"host", "user", "identity_file", "known_hosts"}) {
    if (!j.contains(required)) return invalid(std::string("ssh needs ") + required);
  }
  SshHost h;
  CW_ASSIGN_OR_RETURN(h.host, get_string(j.at("host"), "ssh.host"));
  if (!detail::valid_host(h.host)) return invalid("ssh.host must be a host name or an address");
  if (j.contains("port")) {
    const auto port = get_count(j.at("port"));
    if (!port || *port < 1 || *port > 65535) {
      return invalid("ssh.port must be a number from 1 to 65535");
    }
    h.port = static_cast<std::uint16_t>(*port);
  }
  CW_ASSIGN_OR_RETURN(h.user, get_account(j.at("user"), "ssh.user"));
  CW_ASSIGN_OR_RETURN(h.identity_file, get_path(j.at("identity_file"), "ssh.identity_file"));
  CW_ASSIGN_OR_RETURN(h.known_hosts, get_path(j.at("known_hosts"), "ssh.known_hosts"));
  // ssh splits UserKnownHostsFile on spaces and expands '%' tokens in both: such a path
  // would not name the file it seems to.
  for (const auto* p : {&h.identity_file, &h.known_hosts}) {
    if (p->find_first_of(" \t\"'\\%") != std::string::npos) {
      return invalid(
          "ssh.identity_file and ssh.known_hosts must not contain spaces, quotes, "
          "backslashes or '%'");
    }
  }
  if (j.contains("timeout")) {
    CW_ASSIGN_OR_RETURN(h.timeout, get_timeout(j.at("timeout"), "ssh.timeout"));
  }
  return h;
}

}  // namespace

namespace detail {

bool is_ipv6(std::string_view host) {
  if (host.size() >= INET6_ADDRSTRLEN) return false;
  const std::string h(host);
  in6_addr a{};
  return ::inet_pton(AF_INET6, h.c_str(), &a) == 1;
}

bool valid_host(std::string_view host) {
  if (is_ipv6(host)) return true;
  // Names and dotted IPv4 alike; never a leading '-', which ssh would read as an option.
  return valid_dns_name(host);
}

Result<HostPort> parse_endpoint(std::string_view text) {
  const auto bad = [&] {
    return invalid("verify.endpoint must be \"host:port\" or \"[v6]:port\"");
  };
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad();
    }
    out.host = std::string(text.substr(1, close - 1));
    if (!is_ipv6(out.host)) return bad();
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad();
    out.host = std::string(text.substr(0, colon));
    if (!valid_dns_name(out.host)) return bad();
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535 || port[0] == '0') {
    return bad();
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::vector<std::pair<std::string, std::string>> output_paths(const FileOutputs& f) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const char* role, const std::optional<std::string>& p) {
    if (p) out.emplace_back(role, *p);
  };
  add("key", f.key);
  add("certificate", f.certificate);
  add("chain", f.chain);
  add("fullchain", f.fullchain);
  add("pkcs12", f.pkcs12);
  return out;
}

}  // namespace detail

std::string_view target_kind_name(TargetKind k) {
  switch (k) {
    case TargetKind::kFiles:
      return "files";
    case TargetKind::kSsh:
      return "ssh";
    case TargetKind::kAgent:
      return "agent";
  }
  return "files";
}

Result<TargetSpec> parse_target_spec(const nlohmann::json& j) {
  CW_RETURN_IF_ERROR(
      only_members(j, "the target", {"name", "kind", "files", "ssh", "agent", "reload", "verify"}));
  TargetSpec spec;
  if (!j.contains("name")) return invalid("a target needs a name");
  CW_ASSIGN_OR_RETURN(spec.name, get_string(j.at("name"), "name"));
  if (!valid_name(spec.name)) return invalid("name must match [a-z0-9][a-z0-9._-]{0,62}");
  if (j.contains("kind")) {
    CW_ASSIGN_OR_RETURN(std::string kind, get_string(j.at("kind"), "kind"));
    if (kind == "files") {
      spec.kind = TargetKind::kFiles;
    } else if (kind == "ssh") {
      spec.kind = TargetKind::kSsh;
    } else if (kind == "agent") {
      spec.kind = TargetKind::kAgent;
    } else {
      return invalid("kind must be \"files\", \"ssh\" or \"agent\"");
    }
  }
  if (!j.contains("files")) return invalid("a target needs files");
  CW_ASSIGN_OR_RETURN(spec.files, parse_files(j.at("files")));
  if (spec.kind == TargetKind::kSsh) {
    if (!j.contains("ssh")) return invalid("an ssh target needs ssh");
    CW_ASSIGN_OR_RETURN(spec.ssh, parse_ssh(j.at("ssh")));
    // Remote paths are given to scp, which may expand patterns in them.
    for (const auto& [role, path] : detail::output_paths(spec.files)) {
      if (path.find_first_of("*?[]\\") != std::string::npos) {
        return invalid("files." + role + " of an ssh target must not contain * ? [ ] or \\");
      }
    }
  } else if (j.contains("ssh")) {
    return invalid("ssh is for kind \"ssh\" only");
  }
  if (spec.kind == TargetKind::kAgent) {
    if (!j.contains("agent")) return invalid("an agent target needs agent (the agent's name)");
    CW_ASSIGN_OR_RETURN(std::string agent, get_string(j.at("agent"), "agent"));
    if (!valid_name(agent, 64)) {
      return invalid("agent must be a principal name ([a-z0-9][a-z0-9._-]{0,63})");
    }
    spec.agent = std::move(agent);
  } else if (j.contains("agent")) {
    return invalid("agent is for kind \"agent\" only");
  }
  if (j.contains("reload")) {
    CW_ASSIGN_OR_RETURN(spec.reload, parse_reload(j.at("reload")));
  }
  if (j.contains("verify")) {
    CW_ASSIGN_OR_RETURN(spec.verify, parse_verify(j.at("verify")));
  }
  return spec;
}

nlohmann::json target_spec_json(const TargetSpec& spec) {
  json j = {{"name", spec.name}, {"kind", std::string(target_kind_name(spec.kind))}};
  json files = json::object();
  for (const auto& [role, p] : detail::output_paths(spec.files)) files[role] = p;
  const FileOutputs& f = spec.files;
  if (f.pkcs12_password_file) files["pkcs12_password_file"] = *f.pkcs12_password_file;
  if (f.owner) files["owner"] = *f.owner;
  if (f.group) files["group"] = *f.group;
  if (f.key_mode) files["key_mode"] = mode_text(*f.key_mode);
  if (f.cert_mode) files["cert_mode"] = mode_text(*f.cert_mode);
  j["files"] = std::move(files);
  if (spec.agent) j["agent"] = *spec.agent;
  if (spec.ssh) {
    j["ssh"] = {{"host", spec.ssh->host},
                {"port", spec.ssh->port},
                {"user", spec.ssh->user},
                {"identity_file", spec.ssh->identity_file},
                {"known_hosts", spec.ssh->known_hosts},
                {"timeout", timeout_text(spec.ssh->timeout)}};
  }
  if (spec.reload) {
    j["reload"] = {{"argv", spec.reload->argv}, {"timeout", timeout_text(spec.reload->timeout)}};
  }
  if (spec.verify) {
    json v = {{"endpoint", spec.verify->endpoint}, {"timeout", timeout_text(spec.verify->timeout)}};
    if (spec.verify->server_name) v["server_name"] = *spec.verify->server_name;
    j["verify"] = std::move(v);
  }
  return j;
}

}  // namespace certward::lifecycle::deploy
