#include "discovery/wire.h"

#include <algorithm>

#include "discovery/ssh_key.h"

namespace certward::discovery {

namespace {

std::unexpected<Error> bad(std::string what) {
  return fail(ErrorCode::kInvalidArgument, "observation: " + std::move(what));
}

// Printable text of at most `max` bytes: what ends up in reports and on screens.
Result<std::string> text(const nlohmann::json& j, std::string_view key, std::size_t max,
                         bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return bad("'" + std::string(key) + "' is required");
    return std::string();
  }
  if (!it->is_string()) return bad("'" + std::string(key) + "' must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return bad("'" + std::string(key) + "' is too long");
  if (std::ranges::any_of(s, [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return bad("'" + std::string(key) + "' holds control characters");
  }
  return s;
}

Result<const nlohmann::json*> array(const nlohmann::json& j, std::string_view key,
                                    std::size_t max) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  if (!it->is_array()) return bad("'" + std::string(key) + "' must be a list");
  if (it->size() > max) return bad("too many " + std::string(key));
  return &*it;
}

bool known_code(std::string_view code) {
  return !code.empty() && code.size() <= 64 &&
         std::ranges::all_of(code, [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

const std::vector<std::string_view> kFormats = {"",
                                                "pem",
                                                "der",
                                                "pkcs7",
                                                "pkcs12",
                                                "jks",
                                                "jceks",
                                                "private_key",
                                                "openssh_private_key",
                                                "authorized_keys",
                                                "known_hosts"};

Result<ErrorCode> error_code(std::string_view name) {
  for (ErrorCode c :
       {ErrorCode::kMalformed, ErrorCode::kBadSignature, ErrorCode::kNotFound, ErrorCode::kConflict,
        ErrorCode::kPolicyRejected, ErrorCode::kUnauthorized, ErrorCode::kUnavailable,
        ErrorCode::kInternal, ErrorCode::kBadPassword, ErrorCode::kInvalidArgument}) {
    if (error_code_name(c) == name) return c;
  }
  return bad("unknown error code");
}

// Length of the valid UTF-8 sequence at `at` (shortest form, no surrogates), 0 if none.
std::size_t utf8_sequence(std::string_view s, std::size_t at) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[at + i]); };
  const unsigned char lead = b(0);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead == 0xe0) lo = 0xa0;
    if (lead == 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead == 0xf0) lo = 0x90;
    if (lead == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (at + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  }
  return n;
}

// Printable UTF-8 of at most `max` bytes (cut between characters).
std::string wire_text(std::string_view s, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::string piece;
    if (c >= 0x20 && c < 0x7f) {
      piece = std::string(1, static_cast<char>(c));
      ++i;
    } else if (const std::size_t n = c >= 0x80 ? utf8_sequence(s, i) : 0; n != 0) {
      piece = std::string(s.substr(i, n));
      i += n;
    } else {
      piece = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
      ++i;
    }
    if (out.size() + piece.size() > max) break;
    out += piece;
  }
  return out;
}

}  // namespace

std::optional<FileObservation> fit_for_wire(FileObservation o, std::size_t max_bytes) {
  o.path = wire_text(o.path, kMaxWirePath + 1);
  if (o.path.empty() || o.path.size() > kMaxWirePath) return std::nullopt;
  std::vector<std::string> left_out;
  const std::size_t certificates = o.certificates.size();
  std::erase_if(o.certificates, [](const Bytes& der) {
    return der.empty() || der.size() > kMaxWireCertificateBytes;
  });
  if (o.certificates.size() > kMaxWireCertificates) o.certificates.resize(kMaxWireCertificates);
  const std::size_t keys = o.ssh_keys.size();
  std::erase_if(o.ssh_keys, [](const SshKey& k) { return k.blob.size() > 48 * 1024; });
  if (o.ssh_keys.size() > kMaxWireSshKeys) o.ssh_keys.resize(kMaxWireSshKeys);
  for (auto& k : o.ssh_keys) {
    k.comment = wire_text(k.comment, 1024);
    k.options = wire_text(k.options, 4096);
  }
  const std::size_t findings = o.findings.size();
  // One place is kept for the finding that says what was left out.
  if (o.findings.size() > kMaxWireFindings - 1) o.findings.resize(kMaxWireFindings - 1);
  for (auto& f : o.findings) {
    f.detail = wire_text(f.detail, 512);
    f.fingerprint = wire_text(f.fingerprint, 128);
  }
  if (o.error) o.error->message = wire_text(o.error->message, 512);
  // The size last: what is dropped for it goes from the end. Counted piece by piece (a
  // certificate adds its base64 and quotes and a comma), room kept for the finding below.
  {
    FileObservation bare = o;
    bare.certificates.clear();
    bare.ssh_keys.clear();
    std::size_t total = file_observation_json(bare)
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            .size() +
                        256;
    std::size_t fit = 0;
    for (; fit < o.certificates.size(); ++fit) {
      const std::size_t add = 4 * ((o.certificates[fit].size() + 2) / 3) + 3;
      if (total + add > max_bytes) break;
      total += add;
    }
    o.certificates.resize(fit);
    for (fit = 0; fit < o.ssh_keys.size(); ++fit) {
      FileObservation one;
      one.ssh_keys = {o.ssh_keys[fit]};
      const std::size_t add = file_observation_json(one)["ssh_keys"][0]
                                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                  .size() +
                              1;
      if (total + add > max_bytes) break;
      total += add;
    }
    o.ssh_keys.resize(fit);
  }
  if (o.certificates.size() < certificates) {
    left_out.push_back(std::to_string(certificates - o.certificates.size()) + " of " +
                       std::to_string(certificates) + " certificates");
  }
  if (o.ssh_keys.size() < keys) {
    left_out.push_back(std::to_string(keys - o.ssh_keys.size()) + " of " + std::to_string(keys) +
                       " SSH keys");
  }
  if (o.findings.size() < findings) {
    left_out.push_back(std::to_string(findings - o.findings.size()) + " of " +
                       std::to_string(findings) + " findings");
  }
  if (!left_out.empty()) {
    std::string detail = "left out of the report: ";
    for (std::size_t i = 0; i < left_out.size(); ++i) detail += (i ? ", " : "") + left_out[i];
    o.findings.push_back({.code = "observation_truncated",
                          .severity = Severity::kInfo,
                          .detail = detail,
                          .fingerprint = {}});
  }
  return o;
}

nlohmann::json file_observation_json(const FileObservation& o) {
  nlohmann::json j = {{"path", o.path}, {"format", o.format}, {"key_present", o.key_present}};
  nlohmann::json certs = nlohmann::json::array();
  for (const auto& der : o.certificates) certs.push_back(to_base64(der));
  j["certificates"] = std::move(certs);
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : o.ssh_keys) {
    nlohmann::json key = {{"blob", to_base64(k.blob)}};
    if (!k.comment.empty()) key["comment"] = k.comment;
    if (!k.options.empty()) key["options"] = k.options;
    keys.push_back(std::move(key));
  }
  j["ssh_keys"] = std::move(keys);
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : o.findings) {
    findings.push_back({{"code", f.code},
                        {"severity", severity_name(f.severity)},
                        {"detail", f.detail},
                        {"fingerprint", f.fingerprint}});
  }
  j["findings"] = std::move(findings);
  if (o.error) {
    j["error"] = {{"code", error_code_name(o.error->code)}, {"message", o.error->message}};
  }
  return j;
}

Result<FileObservation> parse_file_observation(const nlohmann::json& j) {
  if (!j.is_object()) return bad("must be an object");
  for (const auto& [k, v] : j.items()) {
    static const std::vector<std::string_view> kKnown = {
        "path", "format", "key_present", "certificates", "ssh_keys", "findings", "error"};
    if (std::ranges::find(kKnown, k) == kKnown.end()) return bad("unknown member '" + k + "'");
  }
  FileObservation o;
  CW_ASSIGN_OR_RETURN(o.path, text(j, "path", kMaxWirePath, true));
  CW_ASSIGN_OR_RETURN(o.format, text(j, "format", 32));
  if (std::ranges::find(kFormats, o.format) == kFormats.end()) return bad("unknown format");
  if (auto it = j.find("key_present"); it != j.end()) {
    if (!it->is_boolean()) return bad("'key_present' must be true or false");
    o.key_present = it->get<bool>();
  }
  CW_ASSIGN_OR_RETURN(const nlohmann::json* certs, array(j, "certificates", kMaxWireCertificates));
  if (certs) {
    for (const auto& c : *certs) {
      if (!c.is_string() || c.get_ref<const std::string&>().size() > kMaxWireCertificateBytes * 2) {
        return bad("a certificate must be base64 DER of at most 64 KiB");
      }
      auto der = from_base64(c.get_ref<const std::string&>());
      if (!der || der->empty() || der->size() > kMaxWireCertificateBytes) {
        return bad("a certificate must be base64 DER of at most 64 KiB");
      }
      o.certificates.push_back(std::move(*der));
    }
  }
  CW_ASSIGN_OR_RETURN(const nlohmann::json* keys, array(j, "ssh_keys", kMaxWireSshKeys));
  if (keys) {
    for (const auto& k : *keys) {
      if (!k.is_object()) return bad("an SSH key must be an object");
      CW_ASSIGN_OR_RETURN(const std::string b64, text(k, "blob", 64 * 1024, true));
      auto blob = from_base64(b64);
      if (!blob) return bad("an SSH key blob must be base64");
      // The server's own reading, never the agent's: type, size and fingerprint.
      auto key = parse_ssh_key_blob(*blob);
      if (!key) return bad("not an SSH key: " + key.error().message);
      CW_ASSIGN_OR_RETURN(key->comment, text(k, "comment", 1024));
      CW_ASSIGN_OR_RETURN(key->options, text(k, "options", 4096));
      o.ssh_keys.push_back(std::move(*key));
    }
  }
  CW_ASSIGN_OR_RETURN(const nlohmann::json* findings, array(j, "findings", kMaxWireFindings));
  if (findings) {
    for (const auto& f : *findings) {
      if (!f.is_object()) return bad("a finding must be an object");
      Finding out;
      CW_ASSIGN_OR_RETURN(out.code, text(f, "code", 64, true));
      if (!known_code(out.code)) return bad("a finding code is lower-case letters and '_'");
      CW_ASSIGN_OR_RETURN(const std::string sev, text(f, "severity", 16, true));
      auto severity = parse_severity(sev);
      if (!severity) return bad("unknown severity");
      out.severity = *severity;
      CW_ASSIGN_OR_RETURN(out.detail, text(f, "detail", 512));
      CW_ASSIGN_OR_RETURN(out.fingerprint, text(f, "fingerprint", 128));
      o.findings.push_back(std::move(out));
    }
  }
  if (auto it = j.find("error"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return bad("'error' must be an object");
    CW_ASSIGN_OR_RETURN(const std::string code, text(*it, "code", 32, true));
    CW_ASSIGN_OR_RETURN(const ErrorCode ec, error_code(code));
    CW_ASSIGN_OR_RETURN(std::string message, text(*it, "message", 512));
    o.error = Error{ec, std::move(message)};
  }
  return o;
}

}  // namespace certward::discovery
