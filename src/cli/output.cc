#include "cli/output.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/encoding.h"
#include "x509/names.h"

namespace certward::cli {

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
    case ErrorCode::kBadSignature:
    case ErrorCode::kBadPassword:
    case ErrorCode::kInvalidArgument:
      return kExitInvalidInput;
    case ErrorCode::kNotFound:
      return kExitNotFound;
    case ErrorCode::kConflict:
      return kExitConflict;
    case ErrorCode::kPolicyRejected:
    case ErrorCode::kUnauthorized:
      return kExitRefused;
    case ErrorCode::kUnavailable:
      return kExitUnavailable;
    case ErrorCode::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

namespace {
const bool* g_json_errors = nullptr;
}  // namespace

void set_error_format_source(const bool* json_flag) { g_json_errors = json_flag; }

int report_error(const Error& e) {
  if (g_json_errors != nullptr && *g_json_errors) {
    nlohmann::json doc = {
        {"error", {{"code", std::string(error_code_name(e.code))}, {"message", e.message}}}};
    // Replace, not throw, on invalid UTF-8: the message may quote a file name or input.
    std::string line = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fprintf(stderr, "%s\n", line.c_str());
    return exit_code_for(e.code);
  }
  std::string msg = e.message;
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  std::fprintf(stderr, "certward: %s\n", printable(msg).c_str());
  return exit_code_for(e.code);
}

std::string printable(std::string_view text) { return terminal_text(text); }

void Table::print(std::FILE* out) const {
  // Cells carry what the scanned world chose (file names, subjects, error texts): never raw
  // control sequences to the terminal, and never a second line.
  std::vector<std::string> headers;
  for (const auto& h : headers_) headers.push_back(printable(h));
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rows_) {
    auto& row = rows.emplace_back();
    for (const auto& c : r) row.push_back(printable(c));
  }
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string& c = i < cells.size() ? cells[i] : std::string();
      s += c;
      if (i + 1 < width.size()) s += std::string(width[i] - c.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::fprintf(out, "%s\n", s.c_str());
  };
  line(headers);
  for (const auto& r : rows) line(r);
}

std::string json_text(const nlohmann::json& j, const char* key, std::string_view missing) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(missing);
}

void print_json(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

void print_certificate(const x509::CertificateInfo& i) {
  auto row = [](const char* k, const std::string& v) {
    if (!v.empty()) std::printf("%-22s %s\n", k, printable(v).c_str());
  };
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::vector<std::string> sans;
  for (const auto& s : i.sans) sans.push_back(x509::format_san(s));
  row("Subject:", i.subject);
  row("Issuer:", i.issuer);
  row("Serial:", i.serial_hex);
  row("Not before:", format_time(i.not_before));
  row("Not after:", format_time(i.not_after));
  row("Names:", join(sans));
  row("Key:", i.key.name());
  row("Signature:", i.signature_algorithm);
  row("Key usage:", join(i.key_usage));
  row("Extended key usage:", join(i.extended_key_usage));
  if (i.basic_constraints) {
    std::string bc = i.basic_constraints->ca ? "CA" : "end entity";
    if (i.basic_constraints->path_length)
      bc += ", path length " + std::to_string(*i.basic_constraints->path_length);
    row("Basic constraints:", bc);
  }
  row("CRL:", join(i.crl_distribution_points));
  row("OCSP:", join(i.ocsp_urls));
  row("SHA-256:", i.sha256_hex);
}

Result<std::string> read_file(const std::string& path) {
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  return certward::read_file(path);
}

Result<std::optional<std::string>> read_secret(const std::optional<std::string>& file,
                                               const std::optional<std::string>& env_var) {
  CW_ASSIGN_OR_RETURN(auto secret, read_secret_bytes(file, env_var));
  if (!secret) return std::optional<std::string>();
  return std::optional<std::string>(secret->chars());
}

Result<std::optional<crypto::SecretBytes>> read_secret_bytes(
    const std::optional<std::string>& file, const std::optional<std::string>& env_var) {
  if (file) {
    CW_ASSIGN_OR_RETURN(crypto::SecretBytes s, read_secret_file(*file));
    std::size_t n = s.size();
    while (n > 0 && (s.data()[n - 1] == '\n' || s.data()[n - 1] == '\r')) --n;
    s.truncate(n);
    return std::optional<crypto::SecretBytes>(std::move(s));
  }
  if (env_var) {
    const char* v = std::getenv(env_var->c_str());
    if (!v)
      return fail(ErrorCode::kInvalidArgument, "environment variable " + *env_var + " is not set");
    return std::optional<crypto::SecretBytes>(crypto::SecretBytes::copy_of(v));
  }
  return std::optional<crypto::SecretBytes>();
}

Result<crypto::SecretBytes> read_secret_file(const std::string& path) {
  const bool stdin_ = path == "-";
  const int fd = stdin_ ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorCode::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  // Read into SecretBytes that grow by replacement, so every buffer that held the secret is
  // one that cleanses itself.
  crypto::SecretBytes buf(4096);
  std::size_t used = 0;
  int err = 0;
  for (;;) {
    if (used == buf.size()) {
      crypto::SecretBytes bigger(buf.size() * 2);
      std::copy_n(buf.data(), used, bigger.data());
      buf = std::move(bigger);
    }
    const ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (!stdin_) ::close(fd);
  if (err != 0)
    return fail(ErrorCode::kNotFound, "cannot read " + path + ": " + std::strerror(err));
  buf.truncate(used);
  return buf;
}

Status write_document(const std::optional<std::string>& out, std::string_view data) {
  if (out) return write_file_atomic(*out, data, 0644);
  std::fwrite(data.data(), 1, data.size(), stdout);
  return ok();
}

}  // namespace certward::cli
